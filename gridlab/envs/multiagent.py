"""MultiAgentGridWorld: several agents on one grid, moving at once.

Every step each agent picks one of the four moves (`actions.Action`); the
moves are resolved together, then each agent gets its own reward and its own
observation. Observations, actions and rewards are dicts keyed by agent name
(dm_env's nested specs); the discount is one scalar, the episode's.

Collision rules (applied until nothing changes, so blocks propagate along a
queue of agents):
  * a move into a wall or off the grid leaves the agent where it is (a
    "bump": this is how an agent waits; it costs `penalty_for_walls`);
  * two agents moving into the same cell: both stay;
  * two agents swapping cells: both stay (they cannot pass through each other);
  * moving into a cell an agent stays in: blocked, stays;
  * moving into a cell an agent is leaving is allowed (agents can follow
    each other), so three or more agents going round a cycle all move.
An agent blocked by another agent pays `penalty_for_collisions`.

An agent that enters its own goal collects `reward_goal` and leaves the grid
(its cell is free from the next step on); its later actions are ignored and
it keeps observing until the episode ends. Cooperative tasks end when every
agent has arrived; with `race=True` the episode ends as soon as one agent
arrives, and every agent still on the grid then pays `reward_goal`.
With `shared_reward` every agent receives the team's reward (the sum of
everyone's), the fully cooperative setting.

`joint_model()` is the exact joint MDP (joint states x joint actions, the
team's reward) for planning: `gridlab.planning.value_iteration` on it gives
the jointly optimal team return that independent learners are judged against.
"""

import itertools
import operator
from typing import Dict, Mapping, Optional, Sequence, Tuple

import dm_env
import numpy as np
from dm_env import specs

from gridlab.envs import base
from gridlab.envs.actions import ACTION_NAMES, DELTAS, NUM_ACTIONS, turned
from gridlab.envs.layout import parse_layout
from gridlab.envs.model import TabularModel

Cell = Tuple[int, int]

_OBSERVATIONS = ('joint', 'own')

# A passing bay off a one-cell corridor: the agents start at opposite ends
# and each must reach the other's end, so one must step into the bay.
_PASSING_BAY = """
    #######
    ###.###
    #.....#
    #######
"""

# The smallest passing bay: a T, small enough to check joint values by hand.
_T_JUNCTION = """
    #####
    ##.##
    #...#
    #####
"""

_ROOM = """
    #######
    #.....#
    #.....#
    #.....#
    #######
"""

MULTIAGENT_TASKS = {
    'passing_bay': dict(layout=_PASSING_BAY, starts=((2, 1), (2, 5)),
                        goals=((2, 5), (2, 1)), shared_reward=True),
    't_junction': dict(layout=_T_JUNCTION, starts=((2, 1), (2, 3)),
                       goals=((2, 3), (2, 1)), shared_reward=True),
    'race': dict(layout=_ROOM, starts=((1, 1), (1, 5)), goals=((3, 3), (3, 3)),
                 race=True),
}


class MultiAgentGridWorld(base.Environment):
    """Two or more agents on one grid, as a `dm_env.Environment` with dict specs."""

    def __init__(self,
                 layout,
                 starts: Sequence[Cell],
                 goals: Sequence[Cell],
                 names: Optional[Sequence[str]] = None,
                 race: bool = False,
                 shared_reward: bool = False,
                 observation: str = 'joint',
                 discount: float = 0.9,
                 reward_goal: float = 10.,
                 penalty_for_walls: float = 0.,
                 penalty_for_collisions: float = 0.,
                 slip_probability: float = 0.,
                 max_episode_length: Optional[int] = None,
                 seed: Optional[int] = None):
        """Builds the world.

        Args:
          layout: a GridWorld layout ('#' walls, '.' free; S/G marks unused).
          starts: each agent's (y, x) start, distinct free cells.
          goals: each agent's (y, x) goal; distinct unless `race`.
          names: the agents' names (default 'agent_0', 'agent_1', ...).
          race: the first arrival ends the episode; the others lose
            `reward_goal`.
          shared_reward: every agent receives the team's (summed) reward.
          observation: 'joint' (every agent sees the joint state index, all
            agents' cells) or 'own' (only its own cell index, or the extra
            index `num_cells` once it has arrived).
          discount: the discount of every step that does not end the episode.
          reward_goal: paid to an agent entering its goal.
          penalty_for_walls: reward for bumping into a wall (0: waiting is free).
          penalty_for_collisions: reward for being blocked by another agent.
          slip_probability: chance that an agent's move goes sideways (p/2
            each way), drawn independently per agent.
          max_episode_length: truncates episodes (LAST with discount kept).
          seed: seeds the slips.
        """
        super().__init__()
        cells, _, _ = parse_layout(layout)
        walls = cells != 0  # Cliffs make no sense here: treat them as walls.
        self._height, self._width = walls.shape
        self._cells = [tuple(int(v) for v in c) for c in np.argwhere(~walls)]
        self._index = {cell: i for i, cell in enumerate(self._cells)}
        self.num_cells = len(self._cells)
        self.done_index = self.num_cells  # The position of an agent that arrived.

        if len(starts) < 2:
            raise ValueError(f'starts must give at least two agents, got {starts!r}')
        if len(goals) != len(starts):
            raise ValueError(f'goals must give one cell per agent ({len(starts)}), '
                             f'got {len(goals)}: {goals!r}')
        self.num_agents = len(starts)
        names = [f'agent_{i}' for i in range(self.num_agents)] if names is None else list(names)
        if len(names) != self.num_agents or len(set(names)) != len(names):
            raise ValueError(f'names must be {self.num_agents} distinct names, got {names!r}')
        self.agent_names = tuple(str(n) for n in names)
        self._start = tuple(self._cell_index(c, f'starts[{i}]') for i, c in enumerate(starts))
        self._goals = tuple(self._cell_index(c, f'goals[{i}]') for i, c in enumerate(goals))
        if len(set(self._start)) != len(self._start):
            raise ValueError(f'starts must be distinct cells, got {starts!r}')
        if not race and len(set(self._goals)) != len(self._goals):
            raise ValueError(f'goals must be distinct cells unless race=True, got {goals!r}')
        for i, (s, g) in enumerate(zip(self._start, self._goals)):
            if s == g:
                raise ValueError(f'agent {self.agent_names[i]!r} starts on its goal {goals[i]}')
        if observation not in _OBSERVATIONS:
            raise ValueError(f'observation must be one of {_OBSERVATIONS}, got {observation!r}')
        for name, value in (('discount', discount), ('slip_probability', slip_probability)):
            if not isinstance(value, (int, float, np.number)) or not 0. <= value <= 1.:
                raise ValueError(f'{name} must be a number in [0, 1], got {value!r}')
        if max_episode_length is not None and (
                int(max_episode_length) != max_episode_length or max_episode_length < 1):
            raise ValueError('max_episode_length must be a positive integer or None, '
                             f'got {max_episode_length!r}')

        self.race = bool(race)
        self.shared_reward = bool(shared_reward)
        self.observation = observation
        self._discount = np.float32(discount)
        self._reward_goal = float(reward_goal)
        self._penalty_for_walls = float(penalty_for_walls)
        self._penalty_for_collisions = float(penalty_for_collisions)
        self._slip_probability = float(slip_probability)
        self._max_episode_length = max_episode_length
        self._rng = np.random.default_rng(seed)
        # moves[4 * c + a]: where action a leads from cell c (bumps stay).
        self._moves = []
        for y, x in self._cells:
            for dy, dx in DELTAS:
                self._moves.append(self._index.get((y + dy, x + dx), self._index[(y, x)]))
        self._positions = self._start
        self._steps = 0

    def _cell_index(self, cell, what: str) -> int:
        try:
            y, x = (operator.index(v) for v in cell)
        except (TypeError, ValueError):
            raise ValueError(f'{what} must be a (y, x) pair of integers, got {cell!r}') from None
        if (y, x) not in self._index:
            raise ValueError(f'{what} {(y, x)} is not a free cell of the layout')
        return self._index[(y, x)]

    # ------------------------------------------------------------ the rules

    def _resolve(self, positions: Tuple[int, ...], actions: Sequence[int]):
        """(next positions, individual rewards, terminated) of one joint move.

        The one statement of the rules: `_step` and `joint_model` both use it.
        """
        done = self.done_index
        targets = [p if p == done else self._moves[4 * p + a]
                   for p, a in zip(positions, actions)]
        bumped = [p != done and t == p for p, t in zip(positions, targets)]
        blocked = [False] * len(positions)
        while True:  # Blocking one agent can block the one behind it.
            # Judged on this round's targets, all at once: both of two agents
            # heading for one cell are blocked.
            stopped = [i for i, (p, t) in enumerate(zip(positions, targets))
                       if p != done and t != p and any(
                           j != i and q != done and
                           # Same target (including a cell j stays in), or a swap.
                           (u == t or (u == p and q == t))
                           for j, (q, u) in enumerate(zip(positions, targets)))]
            if not stopped:
                break
            for i in stopped:
                targets[i], blocked[i] = positions[i], True
        rewards = [self._penalty_for_walls if b else 0. for b in bumped]
        for i, b in enumerate(blocked):
            if b:
                rewards[i] += self._penalty_for_collisions
        arrived = [t != done and t == g for t, g in zip(targets, self._goals)]
        next_positions = tuple(done if a else t for a, t in zip(arrived, targets))
        for i, a in enumerate(arrived):
            if a:
                rewards[i] += self._reward_goal
        if self.race:
            terminated = any(arrived)
            if terminated:
                for i, p in enumerate(next_positions):
                    if p != done and positions[i] != done:
                        rewards[i] -= self._reward_goal
        else:
            terminated = all(p == done for p in next_positions)
        return next_positions, rewards, terminated

    def _received(self, rewards):
        """What each agent is paid: its own reward, or the team's."""
        if self.shared_reward:
            return [sum(rewards)] * len(rewards)
        return rewards

    # ----------------------------------------------------------- the steps

    def _reset(self) -> dm_env.TimeStep:
        self._positions = self._start
        self._steps = 0
        return dm_env.TimeStep(dm_env.StepType.FIRST, None, None, self._observe())

    def _step(self, actions) -> dm_env.TimeStep:
        moves = self._check_actions(actions)
        if self._slip_probability:
            moves = [self._slip(a) for a in moves]
        self._positions, rewards, terminated = self._resolve(self._positions, moves)
        self._steps += 1
        rewards = {n: np.float32(r) for n, r in zip(self.agent_names, self._received(rewards))}
        if terminated:
            return dm_env.TimeStep(dm_env.StepType.LAST, rewards, np.float32(0.), self._observe())
        truncated = (self._max_episode_length is not None and
                     self._steps >= self._max_episode_length)
        step_type = dm_env.StepType.LAST if truncated else dm_env.StepType.MID
        return dm_env.TimeStep(step_type, rewards, self._discount, self._observe())

    def _check_actions(self, actions):
        if not isinstance(actions, Mapping):
            raise TypeError(f'actions must be a dict from agent name to action, got '
                            f'{type(actions).__name__}: {actions!r}')
        unknown = set(actions) - set(self.agent_names)
        if unknown:
            raise ValueError(f'actions name unknown agents {sorted(unknown)}; the agents '
                             f'are {list(self.agent_names)}')
        moves = []
        for name, p in zip(self.agent_names, self._positions):
            if p == self.done_index:  # Arrived: its action, if any, is ignored.
                moves.append(0)
            elif name not in actions:
                raise ValueError(f'actions has no action for agent {name!r}, which is '
                                 'still on the grid')
            else:
                action = actions[name]
                if action.__class__ is int and 0 <= action < NUM_ACTIONS:  # Fast path.
                    moves.append(action)
                    continue
                moves.append(base.discrete_action(actions[name], NUM_ACTIONS,
                                                  what=f'action of {name!r}',
                                                  names=ACTION_NAMES))
        return moves

    def _slip(self, action: int) -> int:
        u = self._rng.random()
        if u >= self._slip_probability:
            return action
        return turned(action, 1 if u < self._slip_probability / 2 else -1)

    def reseed(self, seed: Optional[int]) -> None:
        """Restarts the random generator (slips)."""
        self._rng = np.random.default_rng(seed)

    # -------------------------------------------------------- observations

    @property
    def num_joint_states(self) -> int:
        return (self.num_cells + 1) ** self.num_agents

    @property
    def num_joint_actions(self) -> int:
        return NUM_ACTIONS ** self.num_agents

    def joint_index(self, positions: Sequence[int]) -> int:
        """The joint state of cell indices (done_index for arrived agents)."""
        index = 0
        for p in positions:  # Mixed radix by hand: numpy's is slow per call.
            index = index * (self.num_cells + 1) + int(p)
        return index

    def joint_positions(self, index: int) -> Tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(
            index, (self.num_cells + 1,) * self.num_agents))

    def joint_action(self, actions: Sequence[int]) -> int:
        """The joint action index of per-agent actions (agent 0 most significant)."""
        return int(np.ravel_multi_index(tuple(actions), (NUM_ACTIONS,) * self.num_agents))

    def cell(self, index: int) -> Optional[Cell]:
        """(y, x) of a cell index; None for done_index."""
        return None if index == self.done_index else self._cells[index]

    @property
    def positions(self) -> Dict[str, Optional[Cell]]:
        """Each agent's (y, x), None once it has arrived."""
        return {n: self.cell(p) for n, p in zip(self.agent_names, self._positions)}

    @property
    def start_index(self) -> int:
        return self.joint_index(self._start)

    def observation_at(self, positions: Sequence[int]) -> Dict[str, np.int32]:
        """What each agent observes when the agents are at `positions` (cell indices)."""
        if self.observation == 'joint':
            joint = np.int32(self.joint_index(positions))
            return {n: joint for n in self.agent_names}
        return {n: np.int32(p) for n, p in zip(self.agent_names, positions)}

    def _observe(self):
        return self.observation_at(self._positions)

    # ---------------------------------------------------------------- specs

    def observation_spec(self):
        size = self.num_joint_states if self.observation == 'joint' else self.num_cells + 1
        return {n: specs.DiscreteArray(size, dtype=np.int32, name=f'observation_{n}')
                for n in self.agent_names}

    def action_spec(self):
        return {n: specs.DiscreteArray(NUM_ACTIONS, dtype=np.int32, name=f'action_{n}')
                for n in self.agent_names}

    def reward_spec(self):
        return {n: specs.Array((), np.float32, name=f'reward_{n}') for n in self.agent_names}

    def agent_spec(self, name: str):
        """The `gridlab.EnvironmentSpec` one agent's actor is built from."""
        from gridlab.core.specs import EnvironmentSpec
        if name not in self.agent_names:
            raise ValueError(f'no agent named {name!r}; the agents are {list(self.agent_names)}')
        return EnvironmentSpec(self.observation_spec()[name], self.action_spec()[name],
                               self.reward_spec()[name], self.discount_spec())

    # --------------------------------------------------------- the joint MDP

    def joint_model(self) -> TabularModel:
        """The exact joint MDP: [joint states, joint actions, outcomes].

        The reward is the team's, the sum of the agents' own rewards (with
        `shared_reward` each agent is paid exactly this). Terminal joint
        states and impossible ones (two agents on one cell) are absorbing with
        reward 0 and discount 0: nobody acts there. Truncation is not modelled.
        """
        p = self._slip_probability
        turns = [(0, 1.)] if not p else [(0, 1. - p), (1, p / 2), (-1, p / 2)]
        outcomes = list(itertools.product(turns, repeat=self.num_agents))
        shape = (self.num_joint_states, self.num_joint_actions, len(outcomes))
        next_states = np.zeros(shape, dtype=np.int64)
        probabilities = np.zeros(shape)
        rewards = np.zeros(shape)
        discounts = np.zeros(shape)
        joint_actions = list(itertools.product(range(NUM_ACTIONS), repeat=self.num_agents))
        for s in range(self.num_joint_states):
            positions = self.joint_positions(s)
            if self._is_absorbing(positions):
                next_states[s, :, 0] = s
                probabilities[s, :, 0] = 1.
                continue
            for a, actions in enumerate(joint_actions):
                for k, outcome in enumerate(outcomes):
                    moves = [turned(m, turn) for m, (turn, _) in zip(actions, outcome)]
                    nxt, r, terminated = self._resolve(positions, moves)
                    next_states[s, a, k] = self.joint_index(nxt)
                    probabilities[s, a, k] = np.prod([q for _, q in outcome])
                    rewards[s, a, k] = sum(r)
                    discounts[s, a, k] = 0. if terminated else self._discount
        return TabularModel(next_states, probabilities, rewards, discounts)

    def _is_absorbing(self, positions) -> bool:
        on_grid = [p for p in positions if p != self.done_index]
        if len(set(on_grid)) != len(on_grid):
            return True  # Two agents on one cell: impossible.
        if any(p == g for p, g in zip(positions, self._goals)):
            return True  # Agents leave on arrival, so never stand on their goal.
        if self.race:
            return len(on_grid) < self.num_agents
        return not on_grid

    # ------------------------------------------------------------- drawing

    def render(self, cell_size: int = 32) -> np.ndarray:
        """An RGB picture: walls dark, goals as squares, agents as discs."""
        colors = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44],
                           [214, 39, 40], [148, 103, 189]], dtype=np.uint8)
        image = np.full((self._height * cell_size, self._width * cell_size, 3), 50, np.uint8)
        yy, xx = np.mgrid[:cell_size, :cell_size] - (cell_size - 1) / 2
        disc = yy ** 2 + xx ** 2 <= (cell_size * 0.35) ** 2
        ring = (np.maximum(abs(yy), abs(xx)) >= cell_size * 0.35)
        for y, x in self._cells:
            image[y * cell_size:(y + 1) * cell_size, x * cell_size:(x + 1) * cell_size] = 235
        for i, g in enumerate(self._goals):
            y, x = self._cells[g]
            block = image[y * cell_size:(y + 1) * cell_size, x * cell_size:(x + 1) * cell_size]
            block[ring] = colors[i % len(colors)]
        for i, p in enumerate(self._positions):
            if p != self.done_index:
                y, x = self._cells[p]
                block = image[y * cell_size:(y + 1) * cell_size, x * cell_size:(x + 1) * cell_size]
                block[disc] = colors[i % len(colors)]
        return image


def build_multiagent_task(task: str, **overrides) -> MultiAgentGridWorld:
    """A named multi-agent task; `overrides` go to `MultiAgentGridWorld`.

    'passing_bay' and 't_junction' (cooperative, shared reward): two agents
    swap the ends of a corridor with a one-cell bay. 'race': both agents run
    for one goal in a room; the first there wins.
    """
    if task not in MULTIAGENT_TASKS:
        raise ValueError(f'unknown task {task!r}; expected one of {sorted(MULTIAGENT_TASKS)}')
    settings = dict(MULTIAGENT_TASKS[task])
    settings.update(overrides)
    return MultiAgentGridWorld(**settings)
