"""gridlab's agents; each is a `gridlab.Actor`."""
