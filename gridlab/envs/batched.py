"""BatchedGridWorld: N copies of a GridWorld stepped in lockstep as arrays.

One GridWorld step is a Python call (about a microsecond); stepping thousands
of copies at once as numpy arrays costs a few nanoseconds per copy, as
envpool and gymnax do. The dynamics are not rewritten here: they are read
from the GridWorld's own `transition_model()` (one model per possible goal),
so the copies play exactly the game a single GridWorld plays.

How a step works. Every (state, action) pair has a precomputed next state
and a 16-byte record: the observed cell, the reward, the discount and the
step type. A step is two `np.take`s indexed by state + action, so rewards,
discounts, step types and STATE_INDEX observations all come out of one
record look-up, and the states stay one contiguous array (reading a field
out of records is a strided, several times slower pass). States encode the
goal (one block of rows per possible goal) and an "ended" flag: the rows of
an ended episode, all placed after the live ones, lead back to the start
with a FIRST step whatever the action, which is dm_env's auto-reset rule per
copy, and a copy restarts exactly when its look-up lands past the live rows.
Truncation (`max_episode_length`) is the only per-copy counter.

Arrays, not copies. The arrays of a returned TimeStep are this environment's
own buffers: the record fields stay valid until the step after next (two
buffers alternate), and the GRID, AGENT_ONEHOT, AGENT_GOAL_POS and RGB
observations are updated in place by the next step (only the agent's old and
new cells change, which is what makes them cheap). Copy what you keep.

FIRST steps carry reward 0 and discount 0 as placeholders (dm_env's None
cannot live in an array); learners must not learn from a LAST -> FIRST
"transition", as with any auto-resetting vector environment.
"""

import copy
import operator
from typing import NamedTuple, Optional

import dm_env
import numpy as np
from dm_env import specs

from gridlab.envs import base, rendering
from gridlab.core import validation
from gridlab.envs.actions import NUM_ACTIONS
from gridlab.envs.gridworld import GridWorld, ObservationType
from gridlab.core.specs import EnvironmentSpec

_FIRST, _MID, _LAST = (int(t) for t in (dm_env.StepType.FIRST, dm_env.StepType.MID,
                                        dm_env.StepType.LAST))

# One record per (state, action); 16 bytes, because numpy's take copies
# power-of-two item sizes much faster than odd ones.
RECORD = np.dtype({
    'names': ['observation', 'reward', 'discount', 'step_type'],
    'formats': [np.int32, np.float32, np.float32, np.uint8],
    'offsets': [0, 4, 8, 12],
    'itemsize': 16})
_RAW = np.dtype('V16')


def _batched_spec(spec: specs.Array, num_envs: int, name: str) -> specs.Array:
    """`spec` with a leading dimension of `num_envs`."""
    shape = (num_envs,) + tuple(spec.shape)
    if isinstance(spec, specs.DiscreteArray):
        return specs.BoundedArray(shape, spec.dtype, 0, spec.num_values - 1, name=name)
    if isinstance(spec, specs.BoundedArray):
        return specs.BoundedArray(shape, spec.dtype,
                                  np.broadcast_to(spec.minimum, spec.shape),
                                  np.broadcast_to(spec.maximum, spec.shape), name=name)
    return specs.Array(shape, spec.dtype, name=name)


class Lockstep(NamedTuple):
    """The arrays that step the copies, for code that steps them itself.

    `tables` = (next_state, observation, reward, discount, step_type), flat
    arrays indexed by a copy's row plus its action. A copy in row `state[i]`
    (a row's index times NUM_ACTIONS) taking action a looks up index =
    state[i] + a: its next row is next_state[index], and the step's fields
    are the other tables' entries there. An index at or past `ended` is a
    restart (the copy's episode starts now: its truncation deadline becomes
    this step plus `max_episode_length`, when that is not 0). A MID step
    taken at the copy's `deadline` is a truncation: LAST, and the copy moves
    to its row plus `ended`. Steps are counted: `time` is the last one taken,
    so the next is time + 1. Write the last step's (observation, reward,
    discount, step_type) into the arrays of `last`, then call
    `BatchedGridWorld.advanced(num_steps)`.
    """
    tables: tuple
    ended: int
    max_episode_length: int  # 0: no truncation.
    time: int
    state: np.ndarray  # (N,) the environment's own: step it in place.
    deadline: np.ndarray  # (N,) likewise.
    last: tuple


class BatchedGridWorld:
    """`num_envs` copies of a GridWorld task, stepped together.

    `reset()` and `step(actions)` return one `dm_env.TimeStep` whose fields
    are arrays with a leading dimension of `num_envs`: `step_type` (uint8
    dm_env.StepType values), `reward` and `discount` (float32), and the
    observations. Each copy auto-resets on its own, exactly as a GridWorld
    does after a LAST step. The specs are batched too; `single_environment_spec()`
    is the spec of one copy, which is what agents are built from.
    """

    def __init__(self, environment: GridWorld, num_envs: int,
                 seed: Optional[int] = None):
        """Copies `environment`'s task `num_envs` times.

        Args:
          environment: the GridWorld to copy: layout, start, goal (or random
            goals), rewards, slip, truncation and observation type. It is
            copied, not stepped; its own seed plays no part.
          num_envs: how many copies (a positive integer).
          seed: seeds this environment's own generator (goals, slips).
        """
        if not isinstance(environment, GridWorld):
            raise TypeError(f'environment must be a GridWorld, got '
                            f'{type(environment).__name__}')
        try:
            num_envs = operator.index(num_envs)
        except TypeError:
            raise TypeError(f'num_envs must be an integer, got {num_envs!r}') from None
        if num_envs < 1:
            raise ValueError(f'num_envs must be a positive integer, got {num_envs!r}')
        self._template = copy.deepcopy(environment)
        self._num_envs = n = num_envs
        self._rng = np.random.default_rng(seed)
        self._observation_type = environment.observation_type
        self._max_episode_length = environment.max_episode_length
        self._slip = environment.slip_probability
        self._shape = h, w = tuple(environment.shape)
        self._num_states = s = h * w
        self._start = int(np.ravel_multi_index(environment.start_state, self._shape))
        self._goals = self._possible_goals(environment)
        self._next_state, self._table = self._build_table(environment)
        self._raw_table = self._table.view(_RAW)
        self._columns = None  # lockstep()'s contiguous tables, made on first use.
        # Look-ups at or past this index are from ended rows (a restart).
        self._ended = len(self._goals) * s * NUM_ACTIONS

        # Two record buffers alternate, so last step's arrays survive one step.
        self._buffers = [np.zeros(n, RECORD), np.zeros(n, RECORD)]
        # Field views made once: making them costs a microsecond each per step.
        self._fields = [{name: buffer[name] for name in RECORD.names}
                        for buffer in self._buffers]
        self._raw = [buffer.view(_RAW) for buffer in self._buffers]
        self._current = 0
        self._actions = np.empty(n, np.intp)
        self._state = np.zeros(n, np.intp)  # Each copy's row, times NUM_ACTIONS.
        self._index = np.empty(n, np.intp)
        self._mask = np.empty(n, bool)
        self._goal = np.empty(n, np.intp)  # Each copy's goal cell.
        self._deadline = np.zeros(n, np.int64)  # The step that truncates each copy.
        # Copies to look at on each future step: those that started an episode
        # max_episode_length steps before (a copy that restarted since has a
        # later deadline and is passed over). No per-step pass over all copies.
        self._due = {}
        self._time = 0
        self._copies = np.arange(n, dtype=np.intp)
        self._observation = None
        self._needs_reset = True
        if self._slip:
            # A slip turns the move by +1 with p/2, by -1 (3 mod 4) with p/2.
            self._uniform = np.empty(n, np.float64)
            self._slip_edges = np.array([self._slip / 2, self._slip])
            self._slip_turns = np.array([1, NUM_ACTIONS - 1, 0], np.intp)
        self._prepare_observations(environment)

    @classmethod
    def from_task(cls, task: str, num_envs: int, seed: Optional[int] = None,
                  **task_arguments) -> 'BatchedGridWorld':
        """`num_envs` copies of a named task (`build_gridworld_task` arguments)."""
        from gridlab.envs.tasks import build_gridworld_task
        return cls(build_gridworld_task(task, **task_arguments), num_envs, seed=seed)

    # ---------------------------------------------------------------- tables

    def _possible_goals(self, environment: GridWorld) -> np.ndarray:
        """The goal cells a copy can have: the one goal, or every random one.

        A random goal is any cell the GridWorld's own `goal_state` setter
        accepts (free, not a cliff, reachable, not the start), which is the
        set GridWorld draws from.
        """
        if not environment.randomize_goals:
            return np.array([np.ravel_multi_index(environment.goal_state, self._shape)])
        probe = copy.deepcopy(environment)
        goals = []
        for cell in np.argwhere(~environment.walls & ~environment.cliffs):
            try:
                probe.goal_state = tuple(int(v) for v in cell)
            except ValueError:
                continue
            goals.append(int(np.ravel_multi_index(tuple(cell), self._shape)))
        return np.array(goals)

    def _build_table(self, environment: GridWorld):
        """(next states, records) of every (row, action): 2GS rows for G goals.

        Row g*S + c is a live agent on cell c with goal g; row (G + g)*S + c
        is an episode that has just ended on cell c (with goal g). The move
        of action a is read from the model's unslipped outcome (k = 0); slips
        turn the action before the look-up, as GridWorld turns it before
        moving. States are stored as the flat index of their row's first
        action, row * NUM_ACTIONS, so state + action indexes both tables.
        """
        s, g = self._num_states, len(self._goals)
        model_env = copy.deepcopy(environment)
        next_row = np.zeros((2 * g * s, NUM_ACTIONS), np.intp)
        # Allocated whole: np.stack would promote RECORD to a packed dtype.
        table = np.zeros((2 * g * s, NUM_ACTIONS), RECORD)
        for block, goal in enumerate(self._goals):
            model_env.goal_state = divmod(int(goal), self._shape[1])
            model = model_env.transition_model()
            nxt = np.asarray(model.next_states)[:, :, 0]
            terminal = (nxt == goal) & (np.arange(s)[:, None] != goal)
            rows = slice(block * s, (block + 1) * s)
            next_row[rows] = np.where(terminal, g * s, 0) + block * s + nxt
            live = table[rows]
            live['observation'] = nxt
            live['reward'] = np.asarray(model.rewards)[:, :, 0]
            live['discount'] = np.asarray(model.discounts)[:, :, 0]
            live['step_type'] = np.where(terminal, _LAST, _MID)
        ended = table[g * s:]
        next_row[g * s:] = self._start  # Goal block 0's start; _restart may redraw.
        ended['observation'] = self._start
        ended['step_type'] = _FIRST
        return (next_row * NUM_ACTIONS).reshape(-1), table.reshape(-1)

    # ------------------------------------------------------------ properties

    @property
    def num_envs(self) -> int:
        return self._num_envs

    @property
    def environment(self) -> GridWorld:
        """A single GridWorld of this task (a copy), e.g. for judging an agent."""
        return self._template

    @property
    def observation_type(self) -> ObservationType:
        return self._observation_type

    @property
    def discount(self) -> float:
        return self._template.discount

    @property
    def goal_states(self) -> np.ndarray:
        """(N, 2) int: each copy's goal (y, x)."""
        return np.stack(np.divmod(self._goal, self._shape[1]), axis=1)

    @property
    def states(self) -> np.ndarray:
        """(N, 2) int: each copy's agent (y, x)."""
        cells = self._buffers[self._current]['observation'].astype(np.intp)
        return np.stack(np.divmod(cells, self._shape[1]), axis=1)

    @property
    def deterministic(self) -> bool:
        """Whether stepping draws nothing at random (no slip, one goal): then
        copies seeded differently play the same game, and N environments of
        k copies are one of N x k."""
        return not self._slip and len(self._goals) == 1

    def reseed(self, seed: Optional[int]) -> None:
        """Restarts this environment's random generator (goals, slips)."""
        self._rng = np.random.default_rng(seed)

    # ----------------------------------------------------------------- specs

    def single_environment_spec(self) -> EnvironmentSpec:
        """The spec of one copy (a GridWorld's): what agents are built from."""
        t = self._template
        return EnvironmentSpec(t.observation_spec(), t.action_spec(),
                               t.reward_spec(), t.discount_spec())

    def observation_spec(self) -> specs.Array:
        return _batched_spec(self._template.observation_spec(), self._num_envs,
                             'observations')

    def action_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((self._num_envs,), np.int32, 0, NUM_ACTIONS - 1,
                                  name='actions')

    def reward_spec(self) -> specs.Array:
        return specs.Array((self._num_envs,), np.float32, name='rewards')

    def discount_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((self._num_envs,), np.float32, 0., 1.,
                                  name='discounts')

    def step_type_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((self._num_envs,), np.uint8, _FIRST, _LAST,
                                  name='step_types')

    # ---------------------------------------------------------- observations

    def _prepare_observations(self, environment: GridWorld) -> None:
        n, (h, w), s = self._num_envs, self._shape, self._num_states
        kind = self._observation_type
        self._cell_yx = np.stack(np.divmod(np.arange(s), w), axis=1).astype(np.float32)
        if kind is ObservationType.AGENT_ONEHOT:
            self._observation = np.zeros((n, h, w), np.float32)
            self._flat = self._observation.reshape(-1)
            self._base = self._copies * s
        elif kind is ObservationType.GRID:
            self._observation = np.zeros((n, h, w, 3), np.float32)
            self._observation[..., 0] = environment.walls
            self._flat = self._observation.reshape(-1)
            self._base = self._copies * (3 * s)
        elif kind is ObservationType.AGENT_GOAL_POS:
            self._observation = np.zeros((n, 4), np.float32)
        elif kind is ObservationType.RGB:
            self._prepare_pixels(environment)

    def _prepare_pixels(self, environment: GridWorld) -> None:
        """Cell-sized patches of the GridWorld's own pictures, and where they go.

        A frame changes only where the agent was and is (and, with random
        goals, where the goal was and is), so a step pastes four patches per
        copy: everything is fancy indexing, with no loop over copies.
        """
        s, w = self._num_states, self._shape[1]
        c = environment.pixels_per_cell
        renderer = rendering.GridRenderer(environment.walls, environment.cliffs, c)
        height, width, _ = renderer.shape
        cells = [divmod(i, w) for i in range(s)]

        def patches(agent_on, goal_on):
            out = np.empty((s, c * c * 3), np.uint8)
            for i, (y, x) in enumerate(cells):
                frame = renderer.frame((y, x) if agent_on else None,
                                       (y, x) if goal_on else None)
                out[i] = frame[y * c:(y + 1) * c, x * c:(x + 1) * c].reshape(-1)
            return out

        # Rows [0, S): the cell without the goal, [S, 2S): with it.
        self._background = np.concatenate([patches(False, False), patches(False, True)])
        self._agent_patch = np.concatenate([patches(True, False), patches(True, True)])
        self._static = renderer.frame(None, None)
        dy, dx, ch = np.meshgrid(np.arange(c), np.arange(c), np.arange(3), indexing='ij')
        self._pattern = ((dy * width + dx) * 3 + ch).reshape(-1)
        ys, xs = np.divmod(np.arange(s), w)
        self._cell_pixel = (ys * c * width + xs * c) * 3
        self._observation = np.empty((self._num_envs, height, width, 3), np.uint8)
        self._flat = self._observation.reshape(-1)
        self._base = self._copies * (height * width * 3)

    def _paste(self, copies, cells, table, goals) -> None:
        """Pastes table[cell (+S if it is the copy's goal)] at `cells` of `copies`."""
        rows = cells + self._num_states * (cells == goals)
        where = (self._base[copies] + self._cell_pixel[cells])[:, None] + self._pattern
        self._flat[where] = table[rows]

    def _draw_goals(self, copies, old_goals, new_goals) -> None:
        """Moves the goal of `copies` in the GRID / AGENT_GOAL_POS / RGB pictures."""
        kind = self._observation_type
        if kind is ObservationType.GRID:
            if old_goals is not None:
                self._flat[self._base[copies] + 3 * old_goals + 2] = 0.
            self._flat[self._base[copies] + 3 * new_goals + 2] = 1.
        elif kind is ObservationType.AGENT_GOAL_POS:
            self._observation[copies, 2:] = self._cell_yx[new_goals]
        elif kind is ObservationType.RGB:
            if old_goals is not None:
                self._paste(copies, old_goals, self._background, new_goals)
            self._paste(copies, new_goals, self._background, new_goals)

    def _move_agents(self, old_cells, new_cells) -> None:
        """Moves every copy's agent in the array observations."""
        kind = self._observation_type
        if kind is ObservationType.AGENT_ONEHOT:
            self._flat[self._base + old_cells] = 0.
            self._flat[self._base + new_cells] = 1.
        elif kind is ObservationType.GRID:
            self._flat[self._base + 3 * old_cells + 1] = 0.
            self._flat[self._base + 3 * new_cells + 1] = 1.
        elif kind is ObservationType.AGENT_GOAL_POS:
            self._observation[:, :2] = self._cell_yx[new_cells]
        elif kind is ObservationType.RGB:
            copies = self._copies
            self._paste(copies, old_cells, self._background, self._goal)
            self._paste(copies, new_cells, self._agent_patch, self._goal)

    def _timestep(self, fields: dict) -> dm_env.TimeStep:
        observation = (fields['observation'] if self._observation is None
                       else self._observation)
        return dm_env.TimeStep(fields['step_type'], fields['reward'],
                               fields['discount'], observation)

    # -------------------------------------------------------------- dynamics

    def _new_goal_blocks(self, count: int) -> np.ndarray:
        if len(self._goals) == 1:
            return np.zeros(count, np.intp)
        return self._rng.integers(len(self._goals), size=count)

    def reset(self) -> dm_env.TimeStep:
        """Starts a new episode in every copy (FIRST everywhere)."""
        records = self._fields[self._current]
        blocks = self._new_goal_blocks(self._num_envs)
        self._state[:] = (blocks * self._num_states + self._start) * NUM_ACTIONS
        records['observation'][:] = self._start
        records['reward'][:] = 0.
        records['discount'][:] = 0.
        records['step_type'][:] = _FIRST
        self._goal[:] = self._goals[blocks]
        self._deadline[:] = self._time + (self._max_episode_length or 0)
        self._due = {}
        if self._max_episode_length:
            self._due[self._time + self._max_episode_length] = [self._copies]
        kind = self._observation_type
        if kind is ObservationType.AGENT_ONEHOT:
            self._observation[:] = 0.
        elif kind is ObservationType.GRID:
            self._observation[..., 1:] = 0.
        elif kind is ObservationType.RGB:
            self._observation[:] = self._static
        start = np.full(self._num_envs, self._start, np.intp)
        self._draw_goals(self._copies, None, self._goal)
        self._move_agents(start, start)
        self._needs_reset = False
        return self._timestep(records)

    def _check_actions(self, actions) -> np.ndarray:
        actions = base.batch_actions(actions, self._num_envs)
        # One pass: negative values are huge once read as unsigned.
        if actions.view(actions.dtype.str.replace('i', 'u')).max() >= NUM_ACTIONS:
            bad = np.flatnonzero((actions < 0) | (actions >= NUM_ACTIONS))[0]
            raise ValueError(f'invalid action {int(actions[bad])} for copy {bad}: expected '
                             f'0 (up), 1 (right), 2 (down) or 3 (left)')
        return actions

    def step(self, actions) -> dm_env.TimeStep:
        """Steps every copy with its action; copies after a LAST step restart."""
        if self._needs_reset:
            return self.reset()
        actions = self._check_actions(actions)
        if actions.dtype not in (np.intp, np.int32):
            np.copyto(self._actions, actions, casting='unsafe')
            actions = self._actions
        previous = self._fields[self._current]
        self._current ^= 1
        records = self._fields[self._current]
        if self._slip:
            # As GridWorld: u < p slips; u < p/2 turns one way, else the other.
            self._rng.random(out=self._uniform)
            turns = self._slip_turns[np.searchsorted(self._slip_edges, self._uniform,
                                                     side='right')]
            np.add(actions, turns, out=self._actions, casting='unsafe')
            np.bitwise_and(self._actions, NUM_ACTIONS - 1, out=self._actions)
            actions = self._actions
        index = self._index
        np.add(self._state, actions, out=index)
        # Indices are valid by construction; 'clip' skips numpy's bounds check.
        np.take(self._next_state, index, out=self._state, mode='clip')
        np.take(self._raw_table, index, out=self._raw[self._current], mode='clip')
        self._time += 1
        if len(self._goals) > 1 or self._max_episode_length:
            np.greater_equal(index, self._ended, out=self._mask)  # Restarts.
            if self._mask.any():
                self._restart(np.flatnonzero(self._mask))
        if self._max_episode_length:
            due = self._due.pop(self._time, None)
            if due is not None:
                copies = np.concatenate(due) if len(due) > 1 else due[0]
                self._truncate(records, copies[self._deadline[copies] == self._time])
        if self._observation is not None:
            self._move_agents(previous['observation'].astype(np.intp),
                              records['observation'].astype(np.intp))
        return self._timestep(records)

    def _restart(self, copies) -> None:
        """Copies whose episode starts now: a truncation clock, maybe a new goal."""
        if self._max_episode_length:
            deadline = self._time + self._max_episode_length
            self._deadline[copies] = deadline
            self._due.setdefault(deadline, []).append(copies)
        if len(self._goals) > 1:
            blocks = self._new_goal_blocks(copies.size)
            self._state[copies] = (blocks * self._num_states + self._start) * NUM_ACTIONS
            old_goals, new_goals = self._goal[copies], self._goals[blocks]
            self._goal[copies] = new_goals
            self._draw_goals(copies, old_goals, new_goals)

    def _truncate(self, records, copies) -> None:
        """Copies that reach `max_episode_length`: LAST with the ordinary discount."""
        live = copies[records['step_type'][copies] == _MID]
        records['step_type'][live] = _LAST
        self._state[live] += self._ended  # The same cell's ended row.

    # ------------------------------------------------- stepping from outside

    def lockstep(self) -> Optional[Lockstep]:
        """The arrays to step every copy with in place of `step`, or None.

        For compiled learners that run many steps of many copies in one call
        (agents/batched_tabular_kernels.py): they step the copies exactly as
        `step` would, by the rules in `Lockstep`, then call `advanced`. Only
        when nothing is random (no slip, one goal: the copies' steps are
        then look-ups alone) and observations are STATE_INDEX (no picture
        to keep up to date); otherwise None, and `step` it is. Resets first
        if no episode has started.
        """
        if (self._slip or len(self._goals) > 1
                or self._observation_type is not ObservationType.STATE_INDEX):
            return None
        if self._needs_reset:
            self.reset()
        if self._columns is None:
            self._columns = [np.ascontiguousarray(self._table[name]) for name in RECORD.names]
        last = self._fields[self._current ^ 1]
        return Lockstep((self._next_state, *self._columns), self._ended,
                        self._max_episode_length or 0, self._time, self._state,
                        self._deadline, tuple(last[name] for name in RECORD.names))

    def advanced(self, num_steps: int) -> dm_env.TimeStep:
        """Takes note that every copy was stepped `num_steps` times through
        `lockstep()`'s arrays; returns the last step's TimeStep."""
        num_steps = validation.check_positive_int('num_steps', num_steps)
        self._time += num_steps
        self._current ^= 1
        if self._max_episode_length:
            # The copies due at each future step, regrouped from the deadlines.
            future = np.flatnonzero(self._deadline > self._time)
            order = future[np.argsort(self._deadline[future], kind='stable')]
            deadlines, first = np.unique(self._deadline[order], return_index=True)
            self._due = {int(d): [copies] for d, copies in
                         zip(deadlines, np.split(order, first[1:]))}
        return self._timestep(self._fields[self._current])

    def close(self) -> None:
        """Nothing to release; here for the dm_env interface."""

    def __repr__(self) -> str:
        return (f'BatchedGridWorld(num_envs={self._num_envs}, shape={self._shape}, '
                f'observation_type={self._observation_type.name})')
