"""Building blocks the agents share: exploration, networks, torch helpers,
the batched trainers' clock."""
