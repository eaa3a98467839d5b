"""MinAtar (Young & Tian, 2019) as dm_env: `MinAtar/<Game>-v<N>` tasks.

MinAtar's five games (Asterix, Breakout, Freeway, Seaquest, SpaceInvaders)
play out on a 10x10 grid; an observation is 10x10xC binary channels (one per
kind of object). The ids are MinAtar's own Gymnasium ids: `-v1` has each
game's minimal action set, `-v0` all six actions (the paper's results use the
full set). Both have MinAtar's defaults: sticky actions with probability 0.1
(the previous action is repeated instead) and difficulty ramping.

`MinAtarEnvironment` steps MinAtar's game classes directly (one Python call
per step, no Gymnasium layers between) and `BatchedMinAtar` steps N of them
as arrays, as `GymnasiumVectorWrapper` does. The module is the suite's
adapter (see `gridlab.envs.suites`): `check_task`, `make_environment`,
`batched_environment`.

Episode ends: a game's own end (Breakout's ball lost, Freeway's 2,500-frame
clock, ...) is a termination, discount 0, as MinAtar and its paper treat it;
`max_episode_length`, off by default, is a time limit: a truncation carrying
the ordinary discount.
"""

import difflib
import importlib
import importlib.util
import pathlib
import sys
from typing import Optional, Sequence

import dm_env
import numpy as np
from dm_env import specs

from gridlab.core import validation
from gridlab.core.specs import EnvironmentSpec, make_environment_spec
from gridlab.envs import base

PREFIX = 'MinAtar/'
# The id's game name -> MinAtar's module name.
GAMES = {'Asterix': 'asterix', 'Breakout': 'breakout', 'Freeway': 'freeway',
         'Seaquest': 'seaquest', 'SpaceInvaders': 'space_invaders'}
# -v0: all six actions; -v1: the game's minimal set (MinAtar's registrations).
VERSIONS = {'v0': False, 'v1': True}
TASKS = tuple(f'{PREFIX}{game}-{version}' for game in GAMES for version in VERSIONS)

STICKY_ACTION_PROBABILITY = 0.1  # MinAtar's default, and its paper's.
NUM_FULL_ACTIONS = 6  # MinAtar's full action set: n, l, u, r, d, f.
SCALE = 16  # Pixels per grid cell in `render()`: 160x160 frames.
RENDER_FPS = 10

# One colour per channel, in channel order (Seaquest has the most: 10). Where
# channels overlap the lowest is drawn: games list the player and the moving
# objects first, trails and backgrounds (Breakout's bricks) after, and
# Breakout's ball starts on a brick's cell.
_PALETTE = np.array([
    [0, 0, 0],        # no channel set
    [80, 170, 255],   # 0: the player (paddle, cannon, chicken, sub front ...)
    [255, 90, 90],    # 1
    [150, 150, 150],  # 2: trails are mostly here
    [255, 210, 60],   # 3
    [120, 220, 120],  # 4
    [230, 120, 230],  # 5
    [255, 150, 60],   # 6
    [60, 220, 220],   # 7
    [180, 130, 80],   # 8
    [245, 245, 245],  # 9
], np.uint8)

_FIRST, _MID, _LAST = (np.uint8(t) for t in (dm_env.StepType.FIRST,
                                             dm_env.StepType.MID, dm_env.StepType.LAST))
_ZERO = np.float32(0.)


def check_task(task: str) -> None:
    """None for a MinAtar id this adapter builds; a ValueError naming `task` if not."""
    if task in TASKS:
        return
    raise ValueError(
        f'unknown MinAtar task {task!r}{_did_you_mean(str(task))}; expected '
        f'{PREFIX}<Game>-v1 (minimal actions) or -v0 (all six), <Game> one of '
        f'{", ".join(GAMES)}')


def _did_you_mean(task: str) -> str:
    """' (did you mean ...?)' for a near miss of the game's name, else ''.

    The game is matched on its own, case apart: the shared 'MinAtar/' would
    make any id look close to every other.
    """
    name = task[len(PREFIX):] if task.lower().startswith(PREFIX.lower()) else task
    game, _, version = name.rpartition('-')
    if not game:
        game, version = name, ''
    folded = {g.lower(): g for g in GAMES}
    close = difflib.get_close_matches(game.lower(), folded, n=1, cutoff=0.75)
    if not close:
        return ''
    version = version if version in VERSIONS else 'v1'
    return f' (did you mean {PREFIX + folded[close[0]] + "-" + version!r}?)'


def _parse(task: str):
    check_task(task)
    game, version = task[len(PREFIX):].rsplit('-', 1)
    return GAMES[game], VERSIONS[version]


def _game_class(module_name: str):
    """MinAtar's `Env` class for one game.

    The game modules need numpy alone, but importing them through the
    `minatar` package runs its `__init__`, which loads seaborn and pyplot for
    its matplotlib display (about 2 s, measured), so they are loaded from
    their files; the ordinary import is the fallback should the package's
    layout change.
    """
    spec = importlib.util.find_spec('minatar')
    if spec is None:
        raise ImportError("MinAtar tasks need the minatar package: "
                          "pip install 'gridlab[minatar]'")
    for folder in spec.submodule_search_locations or ():
        path = pathlib.Path(folder) / 'environments' / f'{module_name}.py'
        if path.is_file():
            name = f'gridlab.envs.adapters._minatar_{module_name}'
            if name not in sys.modules:  # Once per process, as an import is.
                game_spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(game_spec)
                game_spec.loader.exec_module(module)
                sys.modules[name] = module
            return sys.modules[name].Env
    return importlib.import_module(f'minatar.environments.{module_name}').Env


class _Game:
    """One MinAtar game with sticky actions, as `minatar.Environment` plays it.

    The game and the sticky draws share one `RandomState`, seeded as
    `minatar.Environment.seed` seeds them, so a seed gives MinAtar's own
    episodes (the tests compare them step by step).
    """

    def __init__(self, module_name: str, minimal_actions: bool,
                 sticky_action_probability: float, difficulty_ramping: bool):
        self.game = _game_class(module_name)(ramping=difficulty_ramping)
        self.action_set = (list(self.game.minimal_action_set()) if minimal_actions
                           else list(range(NUM_FULL_ACTIONS)))
        self.sticky = sticky_action_probability
        self.last_action = 0
        self.random = self.game.random

    def seed(self, seed: Optional[int]) -> None:
        if seed is not None and seed >= 2 ** 32:
            # RandomState takes seeds below 2**32 (MinAtar's own seeds);
            # gridlab's go to 2**63 - 1: larger ones become a 64-bit key.
            seed = [seed & 0xFFFFFFFF, seed >> 32]
        self.random = np.random.RandomState(seed)
        self.game.random = self.random

    def act(self, index: int):
        action = self.action_set[index]
        if self.random.rand() < self.sticky:
            action = self.last_action
        self.last_action = action
        return self.game.act(action)


class MinAtarEnvironment(base.Environment):
    """One MinAtar game as a `dm_env.Environment`.

    Observations are (10, 10, C) uint8 arrays of 0s and 1s (MinAtar's bools,
    unchanged), with a bounded spec [0, 1]. Actions index the game's action
    set (`action_names`). Rewards and discounts are float32.

    Args:
      task: a MinAtar id, e.g. 'MinAtar/Breakout-v1'.
      seed: seeds the first episode; later episodes continue the same
        random stream, so the same seed gives the same run. None: fresh
        entropy.
      discount: what steps that do not terminate carry (0.99 by default, as
        Gymnasium tasks; MinAtar's games do not discount).
      max_episode_length: if given, an episode is cut after this many steps:
        a truncation, carrying `discount`. None (the default): only the
        games' own ends, as in MinAtar.
      sticky_action_probability: the chance the previous action is repeated
        instead of the chosen one (MinAtar's 0.1).
      difficulty_ramping: MinAtar's games speed up as they go on.
    """

    def __init__(self, task: str = 'MinAtar/Breakout-v1', seed: Optional[int] = None,
                 discount: float = 0.99, max_episode_length: Optional[int] = None,
                 sticky_action_probability: float = STICKY_ACTION_PROBABILITY,
                 difficulty_ramping: bool = True):
        super().__init__()
        module_name, minimal = _parse(task)
        seed = validation.check_optional_seed('seed', seed)
        self._discount = np.float32(validation.check_probability('discount', discount))
        self._max_episode_length = validation.check_optional_positive_int(
            'max_episode_length', max_episode_length)
        sticky = validation.check_probability('sticky_action_probability',
                                              sticky_action_probability)
        if not isinstance(difficulty_ramping, (bool, np.bool_)):
            raise validation.ParameterTypeError(
                f'difficulty_ramping must be True or False, got {difficulty_ramping!r}')
        self.task = task
        self._game = _Game(module_name, minimal, sticky, bool(difficulty_ramping))
        self._game.seed(seed)
        self._num_actions = len(self._game.action_set)
        shape = tuple(self._game.game.state_shape())
        self._observation_spec = specs.BoundedArray(shape, np.uint8, 0, 1,
                                                    name='observation')
        self._action_spec = specs.DiscreteArray(self._num_actions, dtype=np.int64,
                                                name='action')
        self._steps = 0

    @property
    def discount(self) -> float:
        """The discount non-terminal TimeSteps carry."""
        return float(self._discount)

    @property
    def render_fps(self) -> int:
        """The frame rate of evaluation videos."""
        return RENDER_FPS

    @property
    def channel_names(self) -> Sequence[str]:
        """What each observation channel shows, in channel order."""
        channels = self._game.game.channels
        return sorted(channels, key=channels.get)

    @property
    def action_names(self) -> Sequence[str]:
        """MinAtar's name of each action (n: no-op, l, u, r, d: moves, f: fire)."""
        return [self._game.game.action_map[a] for a in self._game.action_set]

    def reseed(self, seed: Optional[int]) -> None:
        """Seeds the random stream anew (`as_gymnasium(env).reset(seed=...)`
        calls it): the next `reset()` plays as a fresh copy with this seed."""
        self._game.seed(validation.check_optional_seed('seed', seed))
        self._game.last_action = 0

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def _observation(self) -> np.ndarray:
        # The game builds a fresh bool array each call; uint8 is the same bytes.
        return self._game.game.state().view(np.uint8)

    def _reset(self) -> dm_env.TimeStep:
        self._game.game.reset()
        self._steps = 0
        return dm_env.restart(self._observation())

    def _step(self, action) -> dm_env.TimeStep:
        if type(action) is int and 0 <= action < self._num_actions:
            index = action  # The common case, without building a message.
        else:
            index = base.discrete_action(action, self._num_actions,
                                         names=self.action_names)
        reward, terminal = self._game.act(index)
        self._steps += 1
        observation, reward = self._observation(), np.float32(reward)
        if terminal:
            return dm_env.TimeStep(dm_env.StepType.LAST, reward, _ZERO, observation)
        if self._max_episode_length is not None and self._steps >= self._max_episode_length:
            return dm_env.truncation(reward, observation, self._discount)
        return dm_env.transition(reward, observation, self._discount)

    def render(self) -> np.ndarray:
        """The current frame, (10 * SCALE, 10 * SCALE, 3) uint8: one colour per channel."""
        return render_state(self._game.game.state())


def render_state(state: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """An RGB uint8 picture of MinAtar observations, `scale` pixels per cell.

    `state` is (10, 10, C) or a batch (..., 10, 10, C); where channels
    overlap the lowest is drawn.
    """
    state = np.asarray(state, bool)
    channels = state.shape[-1]
    if channels > len(_PALETTE) - 1:
        raise ValueError(f'state has {channels} channels; the palette has '
                         f'{len(_PALETTE) - 1}')
    # The lowest set channel plus one; 0 where none is set.
    index = np.where(state.any(axis=-1), state.argmax(axis=-1) + 1, 0)
    frame = _PALETTE[index]
    return np.repeat(np.repeat(frame, scale, axis=-3), scale, axis=-2)


class BatchedMinAtar:
    """N copies of a MinAtar game stepped as arrays.

    The interface of `GymnasiumVectorWrapper` (and `BatchedGridWorld`):
    `reset()` and `step(actions)` return one `dm_env.TimeStep` of arrays,
    uint8 step types, float32 rewards and discounts, observations
    (N, 10, 10, C) uint8, fresh on every call. A copy whose step was LAST
    restarts on the next call (FIRST, reward 0, discount 0); the others
    step. Copy i is seeded with `seed + i`, so it plays exactly as
    `MinAtarEnvironment(task, seed=seed + i)` does. Stepping is a loop over
    the copies' games (plain Python: MinAtar has no vector form), without a
    TimeStep per copy.
    """

    def __init__(self, task: str, num_envs: int, seed: Optional[int] = None,
                 discount: float = 0.99, max_episode_length: Optional[int] = None,
                 **options):
        num_envs = validation.check_positive_int('num_envs', num_envs)
        seed = validation.check_optional_seed('seed', seed)
        if seed is not None and seed + num_envs - 1 > validation.MAX_SEED:
            raise ValueError(f'seed + num_envs - 1 must be at most {validation.MAX_SEED} '
                             f'(copy i is seeded with seed + i), got seed={seed}')
        self.num_envs = num_envs
        # Built as single copies (one place that checks and seeds); stepped
        # through their games.
        copies = [MinAtarEnvironment(task, None if seed is None else seed + i, discount,
                                     max_episode_length, **options)
                  for i in range(num_envs)]
        self._spec = make_environment_spec(copies[0])
        self._action_names = copies[0].action_names
        self._games = [copy._game for copy in copies]
        self._discount = np.float32(discount)
        self._limit = max_episode_length
        self._steps = np.zeros(num_envs, np.int64)
        self._last = np.zeros(num_envs, bool)
        self._started = False

    @property
    def discount(self) -> float:
        return float(self._discount)

    def single_environment_spec(self) -> EnvironmentSpec:
        """The spec of one copy: what agents are built from."""
        return self._spec

    def _observations(self) -> np.ndarray:
        observations = np.empty((self.num_envs,) + self._spec.observations.shape, np.uint8)
        for i, game in enumerate(self._games):
            observations[i] = game.game.state()
        return observations

    def reset(self) -> dm_env.TimeStep:
        for game in self._games:
            game.game.reset()
        self._steps[:] = 0
        self._last[:] = False
        self._started = True
        n = self.num_envs
        return dm_env.TimeStep(np.full(n, _FIRST), np.zeros(n, np.float32),
                               np.zeros(n, np.float32), self._observations())

    def step(self, actions) -> dm_env.TimeStep:
        if not self._started:
            return self.reset()
        actions = base.batch_actions(actions, self.num_envs)
        num_actions = len(self._action_names)
        if actions.min() < 0 or actions.max() >= num_actions:
            expected = ', '.join(f'{i} ({name})' for i, name in enumerate(self._action_names))
            raise ValueError(f'invalid actions {actions.tolist()}: expected each one of '
                             f'{expected}')
        n = self.num_envs
        step_type = np.full(n, _MID)
        reward = np.zeros(n, np.float32)
        discount = np.full(n, self._discount)
        for i, (game, action) in enumerate(zip(self._games, actions.tolist())):
            if self._last[i]:  # dm_env's rule: the step after LAST restarts.
                game.game.reset()
                self._steps[i] = 0
                step_type[i], discount[i] = _FIRST, 0.
                continue
            reward[i], terminal = game.act(action)
            self._steps[i] += 1
            if terminal:
                step_type[i], discount[i] = _LAST, 0.
            elif self._limit is not None and self._steps[i] >= self._limit:
                step_type[i] = _LAST  # A truncation keeps the discount.
        self._last = step_type == _LAST
        return dm_env.TimeStep(step_type, reward, discount, self._observations())

    def render(self, index: int = 0) -> np.ndarray:
        """Copy `index`'s frame, as `MinAtarEnvironment.render` draws it."""
        return render_state(self._games[index].game.state())

    def close(self) -> None:
        """Nothing to release: MinAtar's games hold no resources."""


def _check_observation(observation) -> None:
    if observation is not None:
        raise ValueError(f'MinAtar tasks have one observation (10x10 binary channels); '
                         f'got observation {observation!r}, expected None')


def make_environment(task: str, observation=None, seed: Optional[int] = 0,
                     discount: float = 0.99, log_directory=None) -> MinAtarEnvironment:
    """One copy of a MinAtar task (the suite's adapter contract).

    `log_directory` is accepted and unused: MinAtar keeps no log of its own.
    """
    _check_observation(observation)
    return MinAtarEnvironment(task, seed=seed, discount=discount)


def batched_environment(task: str, observation, num_envs: int, seed: Optional[int],
                        discount: float) -> BatchedMinAtar:
    """`num_envs` copies stepped as arrays (the suite's adapter contract)."""
    _check_observation(observation)
    return BatchedMinAtar(task, num_envs, seed=seed, discount=discount)
