"""The Actor interface: how every agent talks to the run loop.

Same method names and arguments as `acme.core.Actor`, so a gridlab agent also
runs in Acme's own `EnvironmentLoop`, and the seed tutorial's agents run here.
What an agent may offer beyond acting and learning (Q-values, action
probabilities, checkpoints, its last loss, its discount) is declared below as
runtime-checkable Protocols.
"""

import abc
import contextlib
import typing
from typing import Iterator

import dm_env
import numpy as np


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


class PassiveActor(Actor):
    """An Actor that learns nothing: `observe_first`, `observe` and `update` do nothing.

    Subclass it for agents that only act (a fixed policy, a scripted expert,
    a test double) and write `select_action` alone.
    """

    def observe_first(self, timestep: dm_env.TimeStep) -> None:
        pass

    def observe(self, action, next_timestep: dm_env.TimeStep) -> None:
        pass

    def update(self, wait: bool = False) -> None:
        pass


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


# What an agent may offer beyond `Actor`. Code that wants a capability asks
# `isinstance(agent, HasQValues)` and so on, never `hasattr`.

@typing.runtime_checkable
class HasQValues(typing.Protocol):
    """Value-based agents: Q(observation, a) for every action a."""

    def q_values(self, observation) -> np.ndarray: ...


@typing.runtime_checkable
class HasActionProbabilities(typing.Protocol):
    """Stochastic policies: pi(a | observation) for every action a."""

    def action_probabilities(self, observation) -> np.ndarray: ...


@typing.runtime_checkable
class Checkpointable(typing.Protocol):
    """Agents that save themselves to one file and restore from it.

    `restore` is all or nothing: a checkpoint that does not fit raises and
    leaves the agent as it was.
    """

    def save(self, path) -> typing.Any: ...

    def restore(self, path) -> None: ...


@typing.runtime_checkable
class ReportsLoss(typing.Protocol):
    """Learning agents: the loss of their most recent update."""

    last_loss: float


@typing.runtime_checkable
class HasDiscount(typing.Protocol):
    """Learning agents: their own discount, multiplied onto each TimeStep's.

    The bootstrap factor of every gridlab agent is `discount *
    timestep.discount` (Acme's rule), so judging an agent uses the model's
    discounts times this.
    """

    discount: float


def agent_discount(agent) -> float:
    """The discount `agent` multiplies onto the TimeSteps' (1 if it has none)."""
    return float(agent.discount) if isinstance(agent, HasDiscount) else 1.


@typing.runtime_checkable
class TrainsOnBatches(typing.Protocol):
    """Agents that learn from many copies of an environment at once.

    `train(environment, num_steps, stop=None)` steps a batched environment
    (`BatchedGridWorld`, a Gymnasium vector environment through
    `GymnasiumVectorWrapper`) for `num_steps` steps over all copies and
    returns a summary with `steps`, `seconds` and the finished episodes'
    `episode_returns`; `stop(agent, steps)` is asked between updates.
    """

    def train(self, environment, num_steps: int, stop=None) -> typing.Any: ...
