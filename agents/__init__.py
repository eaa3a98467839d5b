"""gridlab's agents; each is a `gridlab.Actor` built from an environment spec."""

from agents.random_agent import RandomAgent
