"""GridWorld: a grid of walls and free cells, a start, a goal, four moves.

The agent moves up, right, down or left (actions 0 to 3). Bumping into a wall
(or the edge of the grid) costs `penalty_for_walls` and leaves it in place.
Entering the goal pays `reward_goal` and ends the episode with discount 0
(termination). Entering a cliff cell costs `penalty_for_cliff` and sends the
agent back to the start (Sutton and Barto's cliff walking). Reaching
`max_episode_length` ends the episode with the ordinary discount (truncation:
agents should bootstrap). With `slip_probability` p, a move goes to one of
the two perpendicular directions instead (p/2 each), as on FrozenLake.

Layouts are either numbers (0 empty, -1 wall, > 0 the goal, any other negative
value a cliff cell with that penalty) or an ASCII picture::

    #######
    #S...G#     '#' wall, '.' empty, 'S' start, 'G' goal, 'C' cliff
    #.CCC.#
    #######

Speed: the moves are precomputed in a flat table and observations are cached
per cell as read-only arrays, so a step is a few list look-ups. Cached
observations are shared: copy one before changing it (numpy will refuse the
write otherwise). Memory: an (H, W)-shaped observation on every cell would
take (H * W)^2 numbers, 1.2 GB for a 100x100 GRID world; so the cache holds
at most `_CACHE_BYTES` of observations and forgets the oldest beyond that.
Small grids (every tutorial task) fit whole and step exactly as before.
"""

import collections
import enum
import operator
from typing import Any, Callable, Optional, Tuple

import dm_env
import numpy as np
from dm_env import specs

from gridlab.envs import rendering
from gridlab.core import validation
from gridlab.envs import base
from gridlab.envs.actions import ACTION_NAMES, DELTAS, NUM_ACTIONS, turned
from gridlab.envs.layout import parse_layout
from gridlab.envs.model import TabularModel

Cell = Tuple[int, int]

_FIRST, _MID, _LAST = dm_env.StepType.FIRST, dm_env.StepType.MID, dm_env.StepType.LAST

# The most bytes of observations kept at once. Enough for every cell's GRID
# observation of a 30x30 grid; larger grids rebuild observations on demand.
_CACHE_BYTES = 32 * 2**20

# `render()` keeps a frame within this many pixels a side (cells shrink).
MAX_RENDER_PIXELS = 2048


class ObservationType(enum.IntEnum):
    """What `GridWorld` observations look like.

    STATE_INDEX: int32 index `y * width + x` of the agent's cell.
    AGENT_ONEHOT: (H, W) float32, 1 where the agent is.
    GRID: (H, W, 3) float32 channels: walls, agent, goal.
    AGENT_GOAL_POS: float32 (agent_y, agent_x, goal_y, goal_x).
    RGB: the rendered picture, (H * c, W * c, 3) uint8 with c =
      `pixels_per_cell`, for agents that learn from pixels.
    """
    STATE_INDEX = enum.auto()
    AGENT_ONEHOT = enum.auto()
    GRID = enum.auto()
    AGENT_GOAL_POS = enum.auto()
    RGB = enum.auto()


class GridWorld(base.Environment):
    """A grid world as a `dm_env.Environment`."""

    render_fps = 8  # A comfortable speed to watch a grid world's videos.

    def __init__(self,
                 layout,
                 start_state: Optional[Cell] = None,
                 goal_state: Optional[Cell] = None,
                 observation_type: ObservationType = ObservationType.STATE_INDEX,
                 discount: float = 0.9,
                 penalty_for_walls: float = -5,
                 reward_goal: float = 10,
                 max_episode_length: Optional[int] = None,
                 randomize_goals: bool = False,
                 slip_probability: float = 0.,
                 penalty_for_cliff: float = -100.,
                 pixels_per_cell: int = 4,
                 seed: Optional[int] = None):
        """Builds a grid world.

        Args:
          layout: numbers (0 empty, -1 wall, > 0 goal, other negative values
            cliff cells with that penalty) or an ASCII picture (a string or a
            list of strings; see the module docstring).
          start_state: (y, x) where episodes start; may come from an 'S'.
          goal_state: (y, x) of the goal; may come from a 'G' or a positive
            cell; if none is given, a reachable cell is drawn at random.
          observation_type: an `ObservationType`.
          discount: the discount of every step that does not end at the goal.
          penalty_for_walls: reward for bumping into a wall (negative).
          reward_goal: reward for reaching the goal.
          max_episode_length: if set, episodes are truncated after this many
            steps (LAST with the ordinary discount).
          randomize_goals: draw a new goal at every reset.
          slip_probability: chance that a move goes sideways instead.
          penalty_for_cliff: the penalty an ASCII 'C' cell carries.
          pixels_per_cell: cell size of RGB observations.
          seed: seeds this environment's own random generator (goals, slips).
        """
        super().__init__()
        if isinstance(observation_type, bool) or observation_type not in list(ObservationType):
            raise ValueError(
                f'observation_type must be an ObservationType '
                f'({", ".join(t.name for t in ObservationType)}), '
                f'got {observation_type!r}')
        discount = validation.check_probability('discount', discount)
        slip_probability = validation.check_probability('slip_probability', slip_probability)
        pixels_per_cell = validation.check_positive_int('pixels_per_cell', pixels_per_cell)
        max_episode_length = validation.check_optional_positive_int(
            'max_episode_length', max_episode_length)
        penalty_for_walls = validation.check_in_range(
            'penalty_for_walls', penalty_for_walls, high=0.)
        reward_goal = validation.check_finite('reward_goal', reward_goal)
        penalty_for_cliff = validation.check_negative('penalty_for_cliff', penalty_for_cliff)
        if penalty_for_cliff == -1.:  # -1 is how a layout marks walls.
            raise ValueError('penalty_for_cliff must be a finite number < 0 other '
                             'than -1 (which marks a wall), got -1')
        if not isinstance(randomize_goals, (bool, np.bool_)):
            raise TypeError(f'randomize_goals must be a bool, got {randomize_goals!r}')

        cells, ascii_start, layout_goal = parse_layout(layout, penalty_for_cliff)
        if not np.all(np.isfinite(cells)):
            y, x = np.argwhere(~np.isfinite(cells))[0]
            raise ValueError(f'layout cells must be finite numbers, got '
                             f'{cells[y, x]!r} at (y={y}, x={x})')
        self._walls = cells == -1
        self._cliffs = (cells < 0) & ~self._walls
        self._cliff_penalties = np.where(self._cliffs, cells, 0.)
        self._layout_dims = self._walls.shape
        self._height, self._width = self._layout_dims
        self._number_of_states = self._height * self._width

        self._observation_type = ObservationType(observation_type)
        self._discount = np.float32(discount)
        self._penalty_for_walls = penalty_for_walls
        self._reward_goal = reward_goal
        self._max_episode_length = max_episode_length
        self._randomize_goals = randomize_goals
        self._slip_probability = float(slip_probability)
        self._pixels_per_cell = pixels_per_cell
        self._rng = np.random.default_rng(seed)

        self._moves = self._build_moves()
        self._renderers = {}
        self._goal_index = None  # Set below, once the start is known.
        spec = self.observation_spec()
        slots = _CACHE_BYTES // max(1, int(np.prod(spec.shape)) * spec.dtype.itemsize)
        # None: every cell fits, so nothing is ever forgotten (the fast case).
        self._cache_slots = None if slots >= self._number_of_states else max(1, slots)

        start = start_state if start_state is not None else ascii_start
        if start is None:
            raise ValueError(
                'start_state is required: pass (y, x) or mark an S in an '
                'ASCII layout')
        self._start_index = self._check_cell(start, 'start_state')
        self._reachable = self._reachable_from(self._start_index)
        goal = goal_state if goal_state is not None else layout_goal
        self.goal_state = goal if goal is not None else self._sample_goal()

        self._state_index = self._start_index
        self._num_episode_steps = 0
        # Constant rewards and discounts, made once: np.float32 per step is slow.
        self._zero = np.float32(0.)
        self._wall_reward = np.float32(penalty_for_walls)
        self._goal_reward = np.float32(reward_goal)
        self._entry_reward = [np.float32(r) for r in self._cliff_penalties.ravel()]
        self._entry_cell = self._entry_cells(self._start_index)

    # ---------------------------------------------------------------- layout

    def _build_moves(self):
        """Flat table: `moves[4 * s + a]` is where action a leads from cell s.

        A move into a wall or off the grid stays in s, so a layout without a
        border of walls neither crashes nor wraps around.
        """
        moves = []
        for y in range(self._height):
            for x in range(self._width):
                for dy, dx in DELTAS:
                    ny, nx = y + dy, x + dx
                    inside = 0 <= ny < self._height and 0 <= nx < self._width
                    if inside and not self._walls[ny, nx]:
                        moves.append(ny * self._width + nx)
                    else:
                        moves.append(y * self._width + x)
        return moves

    def _entry_cells(self, start_index: int) -> list:
        """Where entering each cell leaves the agent: the start, for a cliff."""
        return [start_index if cliff else s
                for s, cliff in enumerate(self._cliffs.ravel())]

    def _check_cell(self, cell, what: str) -> int:
        """Validates a (y, x) cell for a start or a goal; returns its index."""
        try:
            y, x = (operator.index(v) for v in cell)
        except (TypeError, ValueError):
            raise ValueError(
                f'{what} must be a (y, x) pair of integers, got {cell!r}') from None
        if not (0 <= y < self._height and 0 <= x < self._width):
            raise ValueError(
                f'{what} {(y, x)} is off the grid: expected 0 <= y < '
                f'{self._height} and 0 <= x < {self._width}')
        if self._walls[y, x]:
            raise ValueError(f'{what} {(y, x)} is on a wall')
        if self._cliffs[y, x]:
            raise ValueError(f'{what} {(y, x)} is on a cliff cell')
        return y * self._width + x

    def _reachable_from(self, index: int) -> np.ndarray:
        """Cells reachable from `index` without entering a cliff (BFS)."""
        reachable = np.zeros(self._number_of_states, dtype=bool)
        reachable[index] = True
        frontier = [index]
        cliffs = self._cliffs.ravel()
        while frontier:
            s = frontier.pop()
            for a in range(4):
                t = self._moves[4 * s + a]
                if not reachable[t] and not cliffs[t]:
                    reachable[t] = True
                    frontier.append(t)
        return reachable

    def _sample_goal(self) -> Cell:
        candidates = np.flatnonzero(self._reachable)
        candidates = candidates[candidates != self._start_index]
        if candidates.size == 0:
            raise ValueError('no free cell is reachable from the start to put '
                             'a goal on')
        return self._cell(int(self._rng.choice(candidates)))

    def _cell(self, index: int) -> Cell:
        return divmod(index, self._width)

    # ------------------------------------------------------------ properties

    @property
    def layout(self) -> np.ndarray:
        """Numeric layout: -1 walls, 0 free, cliff penalties, reward_goal at the goal."""
        cells = np.where(self._walls, -1., self._cliff_penalties)
        cells[self.goal_state] = self._reward_goal
        return cells

    @property
    def walls(self) -> np.ndarray:
        """(H, W) bool: True on walls."""
        return self._walls.copy()

    @property
    def cliffs(self) -> np.ndarray:
        """(H, W) bool: True on cliff cells."""
        return self._cliffs.copy()

    @property
    def shape(self) -> Tuple[int, int]:
        """(height, width) of the grid."""
        return self._layout_dims

    @property
    def number_of_states(self) -> int:
        return self._number_of_states

    @property
    def observation_type(self) -> ObservationType:
        return self._observation_type

    @property
    def discount(self) -> float:
        return float(self._discount)

    @property
    def max_episode_length(self) -> Optional[int]:
        return self._max_episode_length

    @property
    def slip_probability(self) -> float:
        return float(self._slip_probability)

    @property
    def randomize_goals(self) -> bool:
        """Whether each episode draws a new goal."""
        return bool(self._randomize_goals)

    @property
    def pixels_per_cell(self) -> int:
        """The side of a cell in RGB observations, in pixels."""
        return self._pixels_per_cell

    @property
    def state(self) -> Cell:
        """The agent's (y, x)."""
        return self._cell(self._state_index)

    @property
    def episode_terminated(self) -> bool:
        """Whether the agent is on the goal: the task ended the episode.

        Tells a termination from a truncation even when the discount is 0.
        """
        return self._state_index == self._goal_index

    @property
    def start_state(self) -> Cell:
        return self._cell(self._start_index)

    @start_state.setter
    def start_state(self, cell: Cell):
        index = self._check_cell(cell, 'start_state')
        if index == self._goal_index:
            raise ValueError(f'start_state {tuple(cell)} is the goal')
        reachable = self._reachable_from(index)
        if not reachable[self._goal_index]:
            raise ValueError(
                f'start_state {tuple(cell)} cannot reach the goal '
                f'{self.goal_state}')
        self._start_index, self._reachable = index, reachable
        self._entry_cell = self._entry_cells(index)

    @property
    def goal_state(self) -> Cell:
        return self._cell(self._goal_index)

    @goal_state.setter
    def goal_state(self, cell: Cell):
        index = self._check_cell(cell, 'goal_state')
        if index == self._start_index:
            raise ValueError(f'goal_state {tuple(cell)} is the start state')
        if not self._reachable[index]:
            raise ValueError(
                f'goal_state {tuple(cell)} cannot be reached from the start '
                f'{self.start_state}')
        if index != self._goal_index:
            self._goal_index = index
            # Observations that show the goal are now stale.
            self._clear_observations()

    def reseed(self, seed: Optional[int]) -> None:
        """Restarts this environment's random generator (goals, slips)."""
        self._rng = np.random.default_rng(seed)

    @property
    def random_state(self) -> dict:
        """The state of the random generator (goals, slips), as plain data.

        Saved with a checkpoint, it lets a resumed run draw what the
        uninterrupted run would have.
        """
        return self._rng.bit_generator.state

    @random_state.setter
    def random_state(self, state: dict):
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f'random_state must be a state saved from this '
                             f'environment, got {state!r} ({error})') from None
        self._rng = rng

    def set_state(self, x: int, y: int):
        """Puts the agent at column x, row y (note the order, as in the seed).

        Walls are allowed, so that an agent's values can be probed on every
        cell; from a wall cell the moves work as from a free one.
        """
        try:
            x, y = operator.index(x), operator.index(y)
        except TypeError:
            raise ValueError(
                f'set_state(x={x!r}, y={y!r}) needs integer coordinates') from None
        if not (0 <= y < self._height and 0 <= x < self._width):
            raise ValueError(
                f'set_state(x={x!r}, y={y!r}) is off the grid: expected '
                f'0 <= x < {self._width} and 0 <= y < {self._height}')
        self._state_index = y * self._width + x

    # ----------------------------------------------------------------- specs

    def action_spec(self):
        return specs.DiscreteArray(4, dtype=np.int32, name='action')

    def observation_spec(self):
        kind = self._observation_type
        if kind is ObservationType.STATE_INDEX:
            return specs.DiscreteArray(
                self._number_of_states, dtype=np.int32,
                name='observation_state_index')
        if kind is ObservationType.AGENT_ONEHOT:
            return specs.Array(self._layout_dims, np.float32,
                               name='observation_agent_onehot')
        if kind is ObservationType.GRID:
            return specs.Array(self._layout_dims + (3,), np.float32,
                               name='observation_grid')
        if kind is ObservationType.AGENT_GOAL_POS:
            # Bounded, so that agents can scale coordinates to [-1, 1].
            most = np.array([self._height, self._width] * 2, np.float32) - 1
            return specs.BoundedArray((4,), np.float32, minimum=0., maximum=most,
                                      name='observation_agent_goal_pos')
        return specs.BoundedArray(
            self._renderer(self._pixels_per_cell).shape, np.uint8,
            minimum=0, maximum=255, name='observation_rgb')

    # ---------------------------------------------------------- observations

    def get_obs(self):
        """The observation of the agent's current cell."""
        return self._observation(self._state_index)

    def observation_at(self, cell: Cell):
        """The observation the agent would see in `cell` (y, x), with this goal.

        Leaves the environment as it is: judging reads an agent's values on
        every cell through this, without moving, stepping or reseeding it.
        """
        try:
            y, x = (operator.index(v) for v in cell)
        except (TypeError, ValueError):
            raise ValueError(f'cell must be a (y, x) pair of integers, got {cell!r}') from None
        if not (0 <= y < self._height and 0 <= x < self._width):
            raise ValueError(f'cell {(y, x)} is off the grid: expected 0 <= y < '
                             f'{self._height} and 0 <= x < {self._width}')
        return self._observation(y * self._width + x)

    def _clear_observations(self) -> None:
        """Empties the observation cache and sizes it for this grid."""
        self._observations = [None] * self._number_of_states
        self._cached = collections.deque()  # Cached indices, oldest first.

    def _observation(self, index: int):
        observation = self._observations[index]
        if observation is None:
            observation = self._make_observation(index)
            if self._cache_slots is not None:
                if len(self._cached) >= self._cache_slots:
                    self._observations[self._cached.popleft()] = None
                self._cached.append(index)
            self._observations[index] = observation
        return observation

    def _make_observation(self, index: int):
        kind = self._observation_type
        y, x = self._cell(index)
        if kind is ObservationType.STATE_INDEX:
            return np.int32(index)
        goal = self.goal_state
        if kind is ObservationType.AGENT_ONEHOT:
            observation = np.zeros(self._layout_dims, dtype=np.float32)
            observation[y, x] = 1.
        elif kind is ObservationType.GRID:
            observation = np.zeros(self._layout_dims + (3,), dtype=np.float32)
            observation[..., 0] = self._walls
            observation[y, x, 1] = 1.
            observation[goal + (2,)] = 1.
        elif kind is ObservationType.AGENT_GOAL_POS:
            observation = np.array((y, x) + goal, dtype=np.float32)
        else:
            observation = self._renderer(self._pixels_per_cell).frame(
                (y, x), goal)
        observation.flags.writeable = False
        return observation

    # -------------------------------------------------------------- dynamics

    def _reset(self) -> dm_env.TimeStep:
        self._state_index = self._start_index
        self._num_episode_steps = 0
        if self._randomize_goals:
            self.goal_state = self._sample_goal()
        return dm_env.TimeStep(_FIRST, None, None,
                               self._observation(self._start_index))

    def _outcome(self, s: int, action: int):
        """(next cell, reward, terminated) of `action` from cell s, slips aside.

        The one statement of the grid's rules: `_step` and `transition_model`
        both ask it, so the model planning solves is the game agents play.
        """
        t = self._moves[4 * s + action]
        if t == self._goal_index:
            return t, self._goal_reward, True
        if t == s:
            return s, self._wall_reward, False
        return self._entry_cell[t], self._entry_reward[t], False

    def _step(self, action) -> dm_env.TimeStep:
        if action.__class__ is not int or not 0 <= action < 4:  # Fast path first.
            action = base.discrete_action(action, NUM_ACTIONS, names=ACTION_NAMES)
        if self._slip_probability:
            action = self._slip(action)
        t, reward, terminated = self._outcome(self._state_index, action)
        self._state_index = t
        self._num_episode_steps += 1
        if terminated:
            return dm_env.TimeStep(_LAST, reward, self._zero, self._observation(t))
        step_type = _MID
        if (self._max_episode_length is not None and
                self._num_episode_steps >= self._max_episode_length):
            step_type = _LAST
        return dm_env.TimeStep(step_type, reward, self._discount,
                               self._observation(t))

    def _slip(self, action: int) -> int:
        u = self._rng.random()
        if u >= self._slip_probability:
            return action
        # Perpendicular moves are one step either way around the compass.
        return turned(action, 1 if u < self._slip_probability / 2 else -1)

    def transition_model(self) -> TabularModel:
        """The exact dynamics, for planning (see `gridlab.planning`).

        Wall cells and the goal are absorbing with reward 0 and discount 0: the
        agent never acts from them. Truncation is not part of the model.
        """
        p = self._slip_probability
        # (quarter turns, probability): as `_slip` draws them.
        outcomes = [(0, 1.)] if not p else [(0, 1. - p), (1, p / 2), (-1, p / 2)]
        shape = (self._number_of_states, NUM_ACTIONS, len(outcomes))
        next_states = np.zeros(shape, dtype=np.int64)
        probabilities = np.zeros(shape)
        rewards = np.zeros(shape)
        discounts = np.zeros(shape)
        walls = self._walls.ravel()
        for s in range(self._number_of_states):
            for a in range(NUM_ACTIONS):
                if walls[s] or s == self._goal_index:
                    next_states[s, a] = s
                    probabilities[s, a, 0] = 1.
                    continue
                for k, (turn, prob) in enumerate(outcomes):
                    t, reward, terminated = self._outcome(s, turned(a, turn))
                    next_states[s, a, k] = t
                    probabilities[s, a, k] = prob
                    rewards[s, a, k] = reward
                    discounts[s, a, k] = 0. if terminated else self._discount
        return TabularModel(next_states, probabilities, rewards, discounts)

    def decision_cells(self) -> np.ndarray:
        """(H, W) bool: cells the agent can act from (free, not goal, not cliff)."""
        cells = ~self._walls & ~self._cliffs
        cells[self.goal_state] = False
        return cells

    # ------------------------------------------------------------- rendering

    def _renderer(self, cell_size: int) -> rendering.GridRenderer:
        renderer = self._renderers.get(cell_size)
        if renderer is None:
            renderer = self._renderers[cell_size] = rendering.GridRenderer(
                self._walls, self._cliffs, cell_size)
        return renderer

    def render(self, cell_size: int = 32) -> np.ndarray:
        """The current state as a (H * c, W * c, 3) uint8 image.

        c is `cell_size`, made smaller on large grids so that a frame stays
        within `MAX_RENDER_PIXELS` a side (at least 1 pixel per cell): a
        500x500 grid at 32 pixels a cell would be 768 MB per frame.
        """
        cell_size = validation.check_positive_int('cell_size', cell_size)
        cell_size = max(1, min(cell_size, MAX_RENDER_PIXELS // max(self._layout_dims)))
        return self._renderer(cell_size).frame(self.state, self.goal_state)

    # Pictures need matplotlib and live in gridlab.viz, a layer above this
    # one. The package root names the painter (`set_painter`), so these
    # methods work while nothing here imports upward.

    def plot_grid(self, add_start: bool = True, title: Optional[str] = None):
        """Draws the grid (walls, cliffs, and S and G if `add_start`)."""
        return _painter().plot_world(self, add_start=add_start, title=title)

    def plot_state(self, return_rgb: bool = False):
        """Draws the grid with the agent; or returns `render()` if `return_rgb`."""
        if return_rgb:
            return self.render()
        return _painter().plot_world(self, agent=self.state)

    def plot_policy(self, policy, title: str = 'Policy', **options):
        """Draws an arrow per cell for a (H, W) (or (S,)) array of actions.

        `options` go to `gridlab.viz.grid_plots.plot_policy` (optimal=, agent=, task=)."""
        return _painter().plot_world_policy(self, policy, title=title, **options)

    def plot_greedy_policy(self, q, **options):
        """Draws the greedy policy of action values q, (H, W, 4) or (S, 4).

        `options` go to `gridlab.viz.grid_plots.plot_greedy_policy` (q_star=, agent=, task=)."""
        return _painter().plot_world_greedy_policy(self, q, **options)


_PAINTER: Optional[Callable[[], Any]] = None


def set_painter(loader: Callable[[], Any]) -> None:
    """Names what draws a GridWorld: `loader()` returns a module with
    `plot_world`, `plot_world_policy` and `plot_world_greedy_policy`."""
    global _PAINTER
    _PAINTER = loader


def _painter():
    if _PAINTER is None:
        raise RuntimeError('no painter is set for GridWorld pictures; '
                           'import gridlab (its root sets gridlab.viz)')
    return _PAINTER()
