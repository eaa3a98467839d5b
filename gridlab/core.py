"""The Actor interface: how every agent talks to the run loop.

Same method names and arguments as `acme.core.Actor`, so a gridlab agent also
runs in Acme's own `EnvironmentLoop`, and the seed tutorial's agents run here.
"""

import abc
import contextlib
from typing import Iterator

import dm_env


class Actor(abc.ABC):
    """An agent that acts in an environment and learns from what it sees.

    The run loop calls, per episode:
      observe_first(timestep)                      # the FIRST step
      loop: action = select_action(observation)
            observe(action, next_timestep)
            update()

    `greedy` is True while the agent is being evaluated (see `evaluation_mode`):
    an agent that explores should then act on its best guess instead.
    """

    greedy: bool = False

    @abc.abstractmethod
    def select_action(self, observation):
        """Returns an action for `observation`, conforming to the action spec."""

    @abc.abstractmethod
    def observe_first(self, timestep: dm_env.TimeStep) -> None:
        """Sees the first timestep of an episode."""

    @abc.abstractmethod
    def observe(self, action, next_timestep: dm_env.TimeStep) -> None:
        """Sees the action taken and the timestep it led to."""

    @abc.abstractmethod
    def update(self, wait: bool = False) -> None:
        """Learns from what has been observed (if it is time to)."""


@contextlib.contextmanager
def evaluation_mode(actor) -> Iterator[None]:
    """Within the block a gridlab `Actor` acts greedily; others are untouched."""
    if not isinstance(actor, Actor):
        yield
        return
    previous = actor.greedy
    actor.greedy = True
    try:
        yield
    finally:
        actor.greedy = previous
