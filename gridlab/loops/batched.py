"""BatchedEnvironmentLoop: the one loop that trains an agent on N copies at once.

Every batched agent (NFQ/DQN, PPO, the batched tabular learners) trains
through here; none steps copies itself. The loop owns what they all need:

  * the reset (first `run` only: later runs of the same loop carry on where
    the last one stopped), each batch step and dm_env's per-copy auto-reset
    (a copy whose step was LAST restarts on the next batch step whatever it
    does, so it is not asked to act, and that restart is not a transition);
  * each copy's running episode return and length, and the finished ones;
  * the step budget, counted over all copies and rounded up to whole rounds
    of `agent.batch_steps_per_update` batch steps (1 for most agents; PPO's
    rollout), so that a run never ends with steps the agent did not learn
    from;
  * `stop(agent, steps)`, asked after each round, its time kept out of
    `seconds`;
  * one `TrainingSummary`.

The agent's side is `gridlab.core.TrainsOnBatches`. Agents that can advance
many batch steps in one call (the compiled tabular learners, which step
look-up-table copies inside numba) offer `AdvancesManySteps` as well; the
loop still decides how many steps are left, asks `stop` after each call,
keeps time and writes the summary.
"""

import dataclasses
import time
import typing
from typing import Callable, List, NamedTuple, Optional

import dm_env
import numpy as np

from gridlab.core import validation
from gridlab.core.actor import TrainsOnBatches

_FIRST, _LAST = int(dm_env.StepType.FIRST), int(dm_env.StepType.LAST)


@dataclasses.dataclass(frozen=True)
class TrainingSummary:
    """What one `BatchedEnvironmentLoop.run` did."""
    steps: int  # Environment steps, all copies together: batch_steps * N.
    batch_steps: int  # Steps of the batched environment.
    transitions: int  # Copy-steps that were transitions (restarts are not).
    updates: int  # Rounds of `batch_steps_per_update` batch steps (PPO: rollouts).
    seconds: float  # Wall-clock time of the run, `stop`'s excluded.
    # The episodes that ended, in step order then copy order: undiscounted
    # returns (float64) and lengths in transitions (int64). Arrays, not
    # tuples: many learners end millions of episodes a minute, and a Python
    # float apiece cost more than the compiled training itself (measured).
    episode_returns: np.ndarray
    episode_lengths: np.ndarray


class Advanced(NamedTuple):
    """What one call of `AdvancesManySteps.advance` did."""
    batch_steps: int  # Batch steps taken, at least 1 and at most those asked for.
    transitions: int  # Copy-steps among them that were transitions.
    episode_returns: np.ndarray  # Episodes that ended, in step order then copy order.
    episode_lengths: np.ndarray
    timestep: dm_env.TimeStep  # The batched TimeStep of the last step taken.


@typing.runtime_checkable
class AdvancesManySteps(typing.Protocol):
    """The optional fast path of a `TrainsOnBatches` agent.

    `advance(environment, max_batch_steps, returns, lengths)` takes between 1
    and `max_batch_steps` batch steps in one call, acting, stepping the
    copies and learning exactly as the loop's step-by-step path would
    (`select_actions`, `environment.step`, `observe_batch`, `update_batch`
    per batch step), and returns `Advanced`; or returns None, having done
    nothing, when it cannot advance this environment (then the loop steps
    it). `returns` and `lengths` are the loop's running per-copy episode
    return (float64) and length (int64), which it updates in place. A whole
    number of rounds (`batch_steps_per_update`) per call.
    """

    def advance(self, environment, max_batch_steps: int, returns: np.ndarray,
                lengths: np.ndarray) -> Optional[Advanced]: ...


def _joined(chunks: List[np.ndarray], dtype) -> np.ndarray:
    joined = np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros(0, dtype)
    joined.flags.writeable = False  # The summary is frozen; so are its arrays.
    return joined


def _check_count(what: str, value, low: int, high: int) -> int:
    if not (isinstance(value, (int, np.integer)) and low <= value <= high):
        raise ValueError(f'{what} must be an integer in [{low}, {high}], got {value!r}')
    return int(value)


class BatchedEnvironmentLoop:
    """Trains a `TrainsOnBatches` agent on a batched environment.

    `environment` has `reset()`, `step(actions)` returning TimeSteps whose
    fields are arrays over its `num_envs` auto-resetting copies
    (`BatchedGridWorld`, `GymnasiumVectorWrapper`). `stop(agent, steps)`, if
    given, is asked after each round with the steps of the current run so
    far (all copies) and ends the run when it returns True.
    """

    def __init__(self, environment, agent: TrainsOnBatches,
                 stop: Optional[Callable[[object, int], bool]] = None):
        if not isinstance(agent, TrainsOnBatches):
            raise TypeError(f'{type(agent).__name__} does not train on batches (it lacks '
                            f'the methods of gridlab.core.TrainsOnBatches)')
        if stop is not None and not callable(stop):
            raise TypeError(f'stop must be a callable stop(agent, steps) or None, '
                            f'got {stop!r}')
        self.environment = environment
        self.agent = agent
        self._stop = stop
        self._timestep = None  # The last batched TimeStep; None before the first run.
        self._returns = self._lengths = None  # Each copy's running episode.
        self._fast = isinstance(agent, AdvancesManySteps)

    @property
    def num_envs(self) -> int:
        return int(self.environment.num_envs)

    @property
    def round_steps(self) -> int:
        """Environment steps (all copies) in one round of
        `agent.batch_steps_per_update` batch steps: `run`'s budgets are whole rounds."""
        return self.num_envs * self._round_length()

    def _round_length(self) -> int:
        return validation.check_positive_int(
            f'{type(self.agent).__name__}.batch_steps_per_update',
            self.agent.batch_steps_per_update)

    def run(self, num_steps: int) -> TrainingSummary:
        """Trains for `num_steps` environment steps, all copies together.

        The budget is rounded up to whole rounds of
        `agent.batch_steps_per_update` batch steps. The first run resets the
        environment; later runs carry on from the last step.
        """
        num_steps = validation.check_positive_int('num_steps', num_steps)
        round_length = self._round_length()
        started, paused = time.perf_counter(), 0.
        if self._timestep is None:
            self._start()
        n = len(self._returns)
        rounds = -(-num_steps // (n * round_length))  # Rounded up.
        budget = rounds * round_length
        batch_steps = transitions = updates = 0
        returns: List[np.ndarray] = []  # Chunks, joined once at the end.
        lengths: List[np.ndarray] = []
        while batch_steps < budget:
            advanced = self._advance(budget - batch_steps) if self._fast else None
            if advanced is None:
                for _ in range(round_length):
                    transitions += self._step(returns, lengths)
                taken = round_length
            else:
                taken = advanced.batch_steps
                transitions += int(advanced.transitions)
                returns.append(np.asarray(advanced.episode_returns, np.float64))
                lengths.append(np.asarray(advanced.episode_lengths, np.int64))
            batch_steps += taken
            updates += taken // round_length
            if self._stop is not None:
                asked = time.perf_counter()
                try:
                    if self._stop(self.agent, batch_steps * n):
                        break
                finally:
                    paused += time.perf_counter() - asked
        return TrainingSummary(batch_steps * n, batch_steps, transitions, updates,
                               time.perf_counter() - started - paused,
                               _joined(returns, np.float64), _joined(lengths, np.int64))

    def _start(self) -> None:
        timestep = self.environment.reset()
        n = len(np.asarray(timestep.step_type).reshape(-1))
        if n != self.num_envs:
            raise ValueError(f'the environment says it has {self.num_envs} copies but '
                             f'its reset() returned {n} step types')
        self._returns = np.zeros(n)
        self._lengths = np.zeros(n, np.int64)
        self.agent.observe_first_batch(timestep)
        self._timestep = timestep

    def _step(self, returns: List[np.ndarray], lengths: List[np.ndarray]) -> int:
        """One batch step; returns how many copies made a transition."""
        agent, n = self.agent, len(self._returns)
        acting = np.asarray(self._timestep.step_type) != _LAST
        actions = np.asarray(agent.select_actions(self._timestep.observation, acting))
        if actions.shape != (n,):
            raise ValueError(f'{type(agent).__name__}.select_actions returned shape '
                             f'{actions.shape}; expected one action per copy, ({n},)')
        timestep = self.environment.step(actions)
        agent.observe_batch(actions, timestep)
        agent.update_batch()
        step_types = np.asarray(timestep.step_type)
        moved = step_types != _FIRST
        self._returns += np.where(moved, timestep.reward, 0.)
        self._lengths += moved
        ended = np.flatnonzero(step_types == _LAST)
        if ended.size:
            returns.append(self._returns[ended])
            lengths.append(self._lengths[ended])
            self._returns[ended] = 0.
            self._lengths[ended] = 0
        self._timestep = timestep
        return int(moved.sum())

    def _advance(self, max_batch_steps: int) -> Optional[Advanced]:
        advanced = self.agent.advance(self.environment, max_batch_steps, self._returns,
                                      self._lengths)
        if advanced is None:
            self._fast = False  # This environment is stepped, from now on.
            return None
        _check_count(f'{type(self.agent).__name__}.advance batch_steps',
                     advanced.batch_steps, 1, max_batch_steps)
        self._timestep = advanced.timestep
        return advanced
