"""The Actor interface: how every agent talks to the run loop.

Same method names and arguments as `acme.core.Actor`, so a gridlab agent also
runs in Acme's own `EnvironmentLoop`, and the classic tutorial's agents run here.
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
    """Agents that learn from N copies of an environment at once.

    The batched half of Acme's actor split; `gridlab.loops.BatchedEnvironmentLoop`
    drives it (the only place that steps batched copies) over a batched
    environment (`BatchedGridWorld`, a Gymnasium vector environment through
    `GymnasiumVectorWrapper`), whose TimeSteps are arrays over the copies
    and whose copies restart on the step after a LAST one. Per run:

      observe_first_batch(timestep)             # reset: every copy FIRST
      loop: actions = select_actions(timestep.observation, acting)
            timestep = environment.step(actions)
            observe_batch(actions, timestep)    # per-copy FIRST / MID / LAST
            update_batch()

    `acting[i]` is False for a copy whose last step was LAST: it restarts
    whatever it does, so the agent need not act for it (its action is
    ignored), and its next step, a FIRST one, is not a transition.
    `batch_steps_per_update` is how many batch steps the agent collects
    between learning updates (1, or PPO's rollout length): the loop's budget
    and its `stop` checks come in whole rounds of it.

    An agent that trains on batches only under some settings (actor-critic
    needs `n_steps`) also offers `check_batched()`, which raises a
    ValueError naming the setting; runs call it before training.

    Optional fast path (`gridlab.loops.batched.AdvancesManySteps`): an agent
    that can take many batch steps in one call (the compiled tabular
    learners, stepping look-up-table copies in numba) also offers
    `advance(environment, max_batch_steps, returns, lengths)`; the loop
    still owns the budget, `stop`, the timing and the summary.
    """

    batch_steps_per_update: int

    def select_actions(self, observations: np.ndarray,
                       acting: typing.Optional[np.ndarray] = None) -> np.ndarray:
        """One action per copy, shape (N,); `acting` (bool, (N,)) marks the
        copies that act (None: all)."""

    def observe_first_batch(self, timestep: dm_env.TimeStep) -> None:
        """Sees the batched TimeStep of a reset (every copy FIRST)."""

    def observe_batch(self, actions: np.ndarray, next_timestep: dm_env.TimeStep) -> None:
        """Sees the actions taken and the batched TimeStep they led to."""

    def update_batch(self) -> None:
        """Learns from what the batches showed, if it is time to."""
