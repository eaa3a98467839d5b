"""Many tabular Q-learners (or SARSA learners) in one array, one per seed.

`BatchedQLearning(spec, num_learners=N, seeds=...)` holds N independent
Q-tables as one (N, S, A) array and trains them on a `BatchedGridWorld` of
N copies, learner i on copy i: a whole seed sweep of a tabular experiment
as a few numpy operations per step instead of N Python loops.

Bit-identity. Learner i is the single-learner `agents.tabular.QLearning`
(or `SARSA`) built with `seeds[i]` and the same hyperparameters: after the
same number of transitions its Q-table is the same, bit for bit, provided
the copies play the same game as the single environment (no slip, no
per-episode random goals; the environment's own random stream is shared by
the copies, so slips cannot follow a single env's seed). What makes this
hold is the random stream: each learner owns the `np.random.Generator` the
single agent's explorer would own (`default_rng(seed)`), and this module
reads its raw 64-bit words in blocks and turns them into the same draws the
single agent makes, in the same order:

  * `random()` (the epsilon test) is one word: (w >> 11) * 2**-53;
  * `integers(4)` (a random action) and `choice(best)` (a tie between greedy
    actions) take 32-bit halves, the generator keeping the spare half for
    the next such draw, mapped by Lemire's multiply-shift with its rejection
    step (numpy's algorithm for small ranges).

tests/test_batched_agents.py checks the result against the single agents.
The per-step arithmetic is the single agent's too (float64 tables, the same
order of operations), so the tables agree exactly, not approximately.

Training. `gridlab.loops.BatchedEnvironmentLoop(env, learners).run(num_steps)`
trains them (`TrainsOnBatches`), `num_steps` counting the steps of all
copies; each run of the same loop carries on where the last one stopped.

Two paths, one result. With numba installed (`pip install gridlab[fast]`)
training is compiled (agents/batched_tabular_kernels.py, which steps each
learner's PCG64 itself): when the environment's steps are plain look-ups
(`BatchedGridWorld.lockstep`: no slip, one goal) the loop's fast path
(`advance`) runs many batch steps in one compiled call that steps the copies
too; otherwise it is one compiled call per batch step (`observe_batch`).
Without numba, the numpy path below reads the generators' raw words in
blocks. All give the single agents' tables bit for bit; `backend` picks one.

Auto-reset. A copy that ended an episode restarts on the next batch step
whatever its action; that step is not a transition, so its learner neither
draws nor learns on it (as the single agent, which is not called between
episodes). Learners therefore count their own transitions (`steps`).
"""

from typing import Optional, Sequence, Union

import dm_env
import numpy as np

import gridlab
from agents.common.observations import discrete_specs
from agents.common.tabular_settings import TabularSettings
from gridlab.core import validation
from gridlab.loops.batched import Advanced

_FIRST, _MID, _LAST = (int(t) for t in (dm_env.StepType.FIRST, dm_env.StepType.MID,
                                        dm_env.StepType.LAST))
_LOW32 = np.uint64(0xFFFFFFFF)
_TWO53 = float(2 ** 53)
# A block of learners whose tables take this much is trained step after step
# before the next block (a quarter of the 1 MiB of L2 of a core here).
_CACHE_BYTES = 1 << 18
# Learner-steps in one compiled call (about 0.1 s), between which Python runs.
_LEARNER_STEPS_PER_CALL = 1 << 21


class _Streams:
    """N numpy Generators read as blocks of raw words, drawn from as vectors.

    Learner i's draws are exactly those `default_rng(seeds[i])` would give
    for the same sequence of `random()`, `integers(4)` and `choice(k items)`
    calls (see the module docstring for how each maps to raw words).
    """

    def __init__(self, seeds, block: int):
        self._generators = [np.random.default_rng(seed) for seed in seeds]
        n = len(self._generators)
        self._block = block
        self._words = np.empty((n, block), np.uint64)
        for i, generator in enumerate(self._generators):
            self._words[i] = generator.bit_generator.random_raw(block)
        self._flat = self._words.reshape(-1)
        self._row = np.arange(n, dtype=np.int64) * block
        self._position = np.zeros(n, np.int64)  # Next unread word of each row.
        self._has_half = np.zeros(n, bool)  # A spare 32-bit half is kept.
        self._half = np.zeros(n, np.uint64)

    def refill(self, needed: int) -> None:
        """Makes sure every learner has `needed` unread words (a block refill)."""
        if self._position.max() <= self._block - needed:
            return
        for i, generator in enumerate(self._generators):
            used = int(self._position[i])
            if used:
                row = self._words[i]
                row[:self._block - used] = row[used:]
                row[self._block - used:] = generator.bit_generator.random_raw(used)
        self._position[:] = 0

    def words(self, learners: Optional[np.ndarray], mask: Optional[np.ndarray] = None):
        """The next raw word of `learners` (all if None), advancing those in `mask`."""
        if learners is None:
            word = self._flat[self._row + self._position]
            self._position += 1 if mask is None else mask
            return word
        word = self._flat[self._row[learners] + self._position[learners]]
        self._position[learners] += 1
        return word

    def halves(self, learners: np.ndarray) -> np.ndarray:
        """The next 32-bit draw of each of `learners` (numpy's next_uint32)."""
        has = self._has_half[learners]
        fresh = learners[~has]
        out = np.empty(learners.size, np.uint64)
        out[has] = self._half[learners[has]]
        word = self.words(fresh)
        out[~has] = word & _LOW32
        self._half[fresh] = word >> np.uint64(32)
        self._has_half[learners] = ~has
        return out

    def below(self, learners: np.ndarray, bound: np.ndarray) -> np.ndarray:
        """integers(0, bound) for each of `learners` (Lemire, with rejection)."""
        bound = bound.astype(np.uint64)
        result = np.empty(learners.size, np.uint64)
        todo = np.arange(learners.size)
        # Lemire rejects a draw whose low product word falls below 2**32 % bound.
        threshold = (np.uint64(2 ** 32) - bound) % bound
        while todo.size:
            product = self.halves(learners[todo]) * bound[todo]
            accept = (product & _LOW32) >= threshold[todo]
            result[todo[accept]] = product[accept] >> np.uint64(32)
            todo = todo[~accept]
        return result


def _load_kernels(required: bool):
    """agents.batched_tabular_kernels, or None without numba (unless required)."""
    try:
        from agents import batched_tabular_kernels
    except ImportError as error:
        if required:
            raise ImportError("backend='numba' needs numba: pip install "
                              "'gridlab[fast]'") from error
        return None
    return batched_tabular_kernels


class _BatchedTabular:
    """What batched Q-learning and SARSA share: tables, streams, the loop."""

    def __init__(self,
                 environment_spec: gridlab.EnvironmentSpec,
                 num_learners: int,
                 seeds: Union[None, int, Sequence[int]] = None,
                 step_size: float = 0.5,
                 epsilon: float = 0.1,
                 final_epsilon: Optional[float] = None,
                 decay_steps: int = 0,
                 initial_value: float = 10.,
                 discount: float = 1.,
                 block: int = 256,
                 backend: str = 'auto'):
        """Builds N learners.

        Args:
          environment_spec: one copy's spec (`BatchedGridWorld.single_environment_spec()`),
            DiscreteArray observations and actions.
          num_learners: N, the number of learners (and of environment copies).
          seeds: one seed per learner (a sequence of N), or an int s for the
            seeds s, s + 1, ..., s + N - 1; None draws fresh entropy for each.
          step_size, epsilon, final_epsilon, decay_steps, initial_value,
            discount: as for the single-learner agent (`agents.tabular`).
          block: the numpy path's raw random words fetched per learner at a
            time (memory N * block * 8 bytes; a refill is a Python call per
            learner).
          backend: 'numba' (compiled, about ten times faster; needs numba),
            'numpy', or 'auto' (numba when it is installed).
        """
        observations, actions = discrete_specs(
            environment_spec, type(self).__name__,
            'a state index, e.g. ObservationType.STATE_INDEX')
        n = validation.check_positive_int('num_learners', num_learners)
        if seeds is None:
            seeds = [None] * n
        elif isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
            seeds = [int(seeds) + i for i in range(n)]
        else:
            seeds = list(seeds)
            if len(seeds) != n:
                raise ValueError(f'seeds must hold one seed per learner ({n}), got '
                                 f'{len(seeds)}')
        seeds = [validation.check_optional_seed(f'seeds[{i}]', seed)
                 for i, seed in enumerate(seeds)]
        settings = TabularSettings(step_size, epsilon, final_epsilon, decay_steps,
                                   initial_value, discount)
        self._step_size, self.discount = settings.step_size, settings.discount
        self._epsilon = settings.epsilon_schedule
        initial_value = settings.initial_value
        block = validation.check_positive_int('block', block)
        if block < 8:
            raise ValueError(f'block must be at least 8 words, got {block}')
        if backend not in ('auto', 'numba', 'numpy'):
            raise ValueError(f"backend must be 'auto', 'numba' or 'numpy', got {backend!r}")
        self._num_learners = n
        self._num_states = s = observations.num_values
        self._num_actions = a = actions.num_values
        # One row per (learner, state). Rows are gathered as opaque records
        # (one 1-D take, one cache line per learner) and then read as
        # columns: reductions along a 4-long axis are slow per-row loops.
        self._q = np.full((n * s, a), float(initial_value))
        self._flat = self._q.reshape(-1)
        self._records = self._q.view(np.dtype((np.void, 8 * a))).reshape(-1)
        self._kernels = None if backend == 'numpy' else _load_kernels(backend == 'numba')
        self.backend = 'numpy' if self._kernels is None else 'numba'
        if self._kernels is None:
            self._streams = _Streams(seeds, block)
        else:
            self._lanes = self._kernels.lanes(
                [np.random.default_rng(seed) for seed in seeds])
            self._sizes = np.array([s, a, self._epsilon[2]], np.int64)
        self.steps = np.zeros(n, np.int64)  # Transitions each learner learned from.
        self._learner_row = np.arange(n, dtype=np.int64) * s
        self._started = False  # Whether observe_first_batch has been called.
        self._tally = None  # The compiled path's buffers for the episodes that end.
        self._state = np.zeros(n, np.int64)  # Each copy's current state.
        self._action = np.zeros(n, np.int64)  # The action each copy just took.

    @property
    def num_learners(self) -> int:
        return self._num_learners

    @property
    def q_tables(self) -> np.ndarray:
        """Every learner's table, shape (N, S, A) (a copy)."""
        return self._q.reshape(self._num_learners, self._num_states,
                               self._num_actions).copy()

    def q_table(self, learner: int) -> np.ndarray:
        """Learner `learner`'s table, shape (S, A) (a copy)."""
        learner, s = self._check_learner(learner), self._num_states
        return self._q[learner * s:(learner + 1) * s].copy()

    def _check_learner(self, learner) -> int:
        learner = validation.check_nonnegative_int('learner', learner)
        if learner >= self._num_learners:
            raise ValueError(f'learner must be in [0, {self._num_learners}), got {learner}')
        return learner

    def _epsilons(self) -> np.ndarray:
        """Each learner's epsilon, computed as `linear_schedule` computes it."""
        initial, final, decay = self._epsilon
        if initial == final:
            return np.full(self._num_learners, initial)
        ramp = initial + (final - initial) * self.steps / max(decay, 1)
        return np.where(self.steps >= decay, final, ramp)

    def _columns(self, states: np.ndarray) -> list:
        """Q(s_i, a) of each learner i in state states[i], one array per action."""
        rows = self._records.take(self._learner_row + states)
        rows = rows.view(np.float64).reshape(-1, self._num_actions)
        return [rows[:, action] for action in range(self._num_actions)]

    def _select(self, acting: np.ndarray, columns: list) -> np.ndarray:
        """Epsilon-greedy actions on `columns` for the learners marked `acting`.

        Draws exactly as `EpsilonGreedyExplorer.select`: one `random()` each;
        below epsilon `integers(A)`, else the greedy action, ties broken by
        `choice` among the tied actions. Non-acting learners draw nothing.
        """
        streams, num_actions = self._streams, self._num_actions
        word = streams.words(None, acting)
        explore = (word >> np.uint64(11)) < self._epsilons() * _TWO53
        explore &= acting
        best = columns[0]
        for column in columns[1:]:
            best = np.maximum(best, column)
        tied = [column == best for column in columns]
        # The first greedy action, and how many actions tie for greedy.
        actions = np.full(self._num_learners, num_actions - 1, np.int64)
        count = np.zeros(self._num_learners, np.int64)
        for action in range(num_actions - 1, -1, -1):
            actions[tied[action]] = action
            count += tied[action]
        ties = np.flatnonzero(acting & ~explore & (count > 1))
        explorers = np.flatnonzero(explore)
        # Draws in learner order do not interleave: each learner makes one.
        if explorers.size:
            actions[explorers] = streams.below(
                explorers, np.full(explorers.size, num_actions))
        if ties.size:
            choice = streams.below(ties, count[ties]).astype(np.int64)
            # The choice-th tied action: rank the tied actions of each row.
            tied = np.stack([t[ties] for t in tied], axis=1)
            rank = np.cumsum(tied, axis=1) - 1
            actions[ties] = np.argmax(tied & (rank == choice[:, None]), axis=1)
        return actions

    def _settings(self) -> np.ndarray:
        """The compiled path's float settings, read at each call of train."""
        return np.array([self.discount, self._step_size, *self._epsilon[:2]])

    # --------------------------------------- TrainsOnBatches (copy i: learner i)

    batch_steps_per_update = 1  # Each learner learns as its transitions arrive.
    greedy = False  # True: select_actions gives greedy actions (as gridlab.Actor's).

    def observe_first_batch(self, timestep) -> None:
        """A reset of the N copies: each learner picks its first action."""
        states = np.asarray(timestep.observation)
        if states.shape != (self._num_learners,):
            copies = states.shape[0] if states.ndim else 1
            raise ValueError(f'the environment has {copies} copies; this agent has '
                             f'{self._num_learners} learners (one per copy)')
        self._state[:] = states
        if self._kernels is None:
            self._action[:] = self._act_first()
        else:
            self._kernels.first_actions(self._flat, self._sizes, self._settings(),
                                        self._state, self._action, self.steps,
                                        self._lanes)
        self._started = True

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """Each learner's action in its copy's state, shape (N,).

        While training, the actions each learner already chose (as the
        single agent does, a learner picks its next action as it learns;
        one whose copy ended draws none); `observations` must be the
        copies' current states. Under `evaluation_mode`, each learner's
        greedy action in `observations` (the first of tied ones: no draws,
        so the learners' random streams stay as they were).
        """
        states = np.asarray(observations)
        if states.shape != (self._num_learners,):
            raise ValueError(f'observations must be one state per learner, shape '
                             f'({self._num_learners},), got {states.shape}')
        if self.greedy:
            return np.argmax(self._q[self._learner_row + states.astype(np.int64)], axis=1)
        if not self._started:
            raise ValueError('select_actions() before observe_first_batch(): the '
                             'learners choose their first actions on seeing the reset')
        if not np.array_equal(states, self._state):
            raise ValueError("observations are not the copies' current states: the "
                             'learners chose their actions for the states they saw last')
        return self._action.copy()

    def observe_batch(self, actions, next_timestep) -> None:
        """Every learner learns from its copy's step and chooses its next action."""
        if not self._started:
            raise ValueError('observe_batch() before observe_first_batch()')
        # Q stays finite as long as rewards are: initial values are checked,
        # and step sizes and discounts are at most 1.
        if not np.isfinite(next_timestep.reward).all():
            validation.check_all_finite('rewards', next_timestep.reward,
                                        f'{type(self).__name__}.observe_batch')
        if self._kernels is None:
            self._streams.refill(8)
            self._learn(next_timestep)
            return
        unused = np.zeros(1, np.intp)
        data = (unused, next_timestep.observation, next_timestep.reward,
                next_timestep.discount, next_timestep.step_type)
        self._kernels.train(*self._kernel_learners(), data, (-1, 0, 0), unused, unused,
                            data[1:], self._unused_tally(), 1, self._num_learners)

    def update_batch(self) -> None:
        """Nothing left to do: every learner learned in `observe_batch`."""

    def advance(self, environment, max_batch_steps: int, returns: np.ndarray,
                lengths: np.ndarray) -> Optional[Advanced]:
        """The loop's fast path: up to `max_batch_steps` batch steps in one
        compiled call that steps the copies too, or None (numpy path, or an
        environment without `lockstep`: slips, random goals, pictures)."""
        if self._kernels is None:
            return None
        lockstep = getattr(environment, 'lockstep', lambda: None)()
        if lockstep is None:
            return None
        # Calls of a fraction of a second keep Ctrl-C working.
        steps = min(max_batch_steps, max(1, _LEARNER_STEPS_PER_CALL // self._num_learners))
        block = max(1, _CACHE_BYTES // (8 * self._num_states * self._num_actions))
        tally = self._episode_tally(returns, lengths, steps)
        running, ends, count = tally
        before = int(self.steps.sum())
        try:
            self._kernels.train(*self._kernel_learners(), lockstep.tables,
                                (lockstep.ended, lockstep.max_episode_length,
                                 lockstep.time),
                                lockstep.state, lockstep.deadline, lockstep.last, tally,
                                steps, block)
        finally:  # A Ctrl-C lands after the call: the steps were taken.
            timestep = environment.advanced(steps)
            returns[:] = running[:, 0]
            lengths[:] = self.steps - running[:, 1].astype(np.int64)
        if not np.isfinite(self._q).all():
            validation.check_all_finite('Q-values', self._q,
                                        f'{type(self).__name__}.advance')
        ends = ends[:int(count[0])]
        # The kernel runs a block of learners at a time; the loop lists
        # episodes by step, then copy. Each block's rows are in that order
        # already, so a stable sort (timsort: it merges sorted runs) of one
        # integer key is cheap.
        order = np.argsort(ends[:, 0], kind='stable')
        return Advanced(steps, int(self.steps.sum()) - before, ends[order, 1],
                        ends[order, 2].astype(np.int64), timestep)

    def _kernel_learners(self) -> tuple:
        return (self._SARSA, self._flat, self._sizes, self._settings(), self._state,
                self._action, self.steps, self._lanes)

    def _unused_tally(self) -> tuple:
        return (np.zeros((0, 2)), np.zeros((0, 3)), np.zeros(1, np.int64))

    def _episode_tally(self, returns, lengths, steps) -> tuple:
        """The kernel's `tally`, with room for every episode `steps` can end.

        An episode that ends is followed by a restart step, so a copy ends
        at most one in two steps.
        """
        returns, lengths = np.asarray(returns), np.asarray(lengths)
        if (returns.dtype, lengths.dtype) != (np.float64, np.int64) or returns.shape != (
                self._num_learners,) or lengths.shape != returns.shape:
            raise ValueError(f'returns and lengths must be float64 and int64 arrays '
                             f'of shape ({self._num_learners},), got {returns.dtype} '
                             f'{returns.shape} and {lengths.dtype} {lengths.shape}')
        capacity = self._num_learners * (steps // 2 + 1)
        if self._tally is None or len(self._tally) < capacity:
            self._tally = np.empty((capacity, 3))
        running = np.stack([returns, (self.steps - lengths).astype(np.float64)], axis=1)
        return running, self._tally, np.zeros(1, np.int64)

    def _transition(self, timestep):
        """(valid, rewards, bootstrap factors, next states) of this step."""
        step_types = timestep.step_type
        valid = step_types != _FIRST
        rewards = timestep.reward.astype(np.float64)
        discounts = self.discount * timestep.discount.astype(np.float64)
        next_states = timestep.observation.astype(np.int64)
        return step_types, valid, rewards, discounts, next_states

    def _write(self, valid, rewards, discounts, bootstrap) -> None:
        """Q(s, a) += step_size * (r + d * bootstrap - Q(s, a)) where `valid`."""
        index = (self._learner_row + self._state) * self._num_actions + self._action
        old = self._flat[index]
        target = rewards + discounts * bootstrap
        new = old + self._step_size * (target - old)
        self._flat[index] = np.where(valid, new, old)
        self.steps += valid


class BatchedQLearning(_BatchedTabular):
    """N Q-learners; learner i is `agents.tabular.QLearning(seed=seeds[i])`."""

    _SARSA = False  # Which learning rule the compiled kernel runs.

    def _act_first(self):
        return self._select(np.ones(self._num_learners, bool), self._columns(self._state))

    def _learn(self, timestep) -> None:
        step_types, valid, rewards, discounts, next_states = self._transition(timestep)
        columns = self._columns(next_states)
        best = columns[0]
        for column in columns[1:]:
            best = np.maximum(best, column)
        self._write(valid, rewards, discounts, best)
        # The single agent selects after its update: read the values again
        # (a wall bump updates the very row it then acts on).
        self._state = next_states
        self._action = self._select(step_types != _LAST, self._columns(next_states))


class BatchedSARSA(_BatchedTabular):
    """N SARSA learners; learner i is `agents.tabular.SARSA(seed=seeds[i])`.

    Defaults are SARSA's: epsilon decays from 0.1 to 0 over 1,000 steps.
    """

    _SARSA = True

    def __init__(self, environment_spec, num_learners: int, seeds=None,
                 step_size: float = 0.5, epsilon: float = 0.1,
                 final_epsilon: Optional[float] = 0., decay_steps: int = 1_000,
                 **kwargs):
        super().__init__(environment_spec, num_learners, seeds, step_size=step_size,
                         epsilon=epsilon, final_epsilon=final_epsilon,
                         decay_steps=decay_steps, **kwargs)

    def _act_first(self):
        return BatchedQLearning._act_first(self)

    def _learn(self, timestep) -> None:
        step_types, valid, rewards, discounts, next_states = self._transition(timestep)
        # Every learner draws once per step: a transition chooses its next
        # action while bootstrapping (after counting the step, before the
        # update), an episode's first step chooses in select_action.
        self.steps += valid
        columns = self._columns(next_states)
        actions = self._select(np.ones(self._num_learners, bool), columns)
        self.steps -= valid  # _write counts it.
        bootstrap = np.choose(actions, columns)
        self._write(valid, rewards, discounts, bootstrap)
        self._state = next_states
        self._action = actions
