"""MiniGrid's tasks (`MiniGrid-DoorKey-5x5-v0`, ...) as gridlab tasks.

Every `MiniGrid-*` id that the minigrid package registers with Gymnasium is a
task. Each copy is a Gymnasium environment made with `render_mode='rgb_array'`
(so `render()` gives the video's frames: the whole grid, the agent's view
highlighted), its dict observation turned into ONE array by `MiniGridEncoding`
and run behind `GymnasiumWrapper`, which maps MiniGrid's endings as dm_env
wants them: reaching the goal (or lava) *terminates* (discount 0), running out
of `max_steps` *truncates* (the ordinary discount: agents bootstrap). Rewards
are MiniGrid's own, `1 - 0.9 * steps / max_steps` on success, else 0.

Observation choices (`observation=`, `--observation`):

  symbolic (default)  the agent's egocentric 7x7 view as MiniGrid encodes it,
                      per cell its object, colour and state indices (e.g. 2
                      wall, 5 key; door states 0 open, 1 closed, 2 locked),
                      then 4 channels holding the agent's direction one-hot in
                      every cell: 7x7x7 uint8. Rows run away from the agent,
                      which sits in the bottom row's middle cell looking up,
                      as in a picture.
  full                the whole grid, fully observable (minigrid's
                      `FullyObsWrapper`: the agent is an object, 10, whose
                      state is its direction, 0-3), encoded the same way:
                      HxWx7 uint8. (PPO's default conv torso, sized for 7x7
                      views, max-pools once: on a grid smaller than 7x7 give
                      it `--set conv_pools=1`.)
  rgb                 the agent's view as pixels, (7*8)x(7*8)x3 uint8
                      (minigrid's `RGBImgPartialObsWrapper`, 8-pixel tiles).

The specs are bounded channel by channel (object 0-10, colour 0-5, state
0-2, or 0-3 in `full`; direction 0-1; pixels 0-255), so gridlab's networks
scale the inputs themselves. Why indices and not one-hot cells (11 + 6 + 4
channels): PPO with its default conv torso solved DoorKey-5x5 in 100k frames
on indices (greedy return 0.958 on seeds 0 and 1) but not on one-hot cells
(0.705 and 0.0, same settings), as rl-starter-files also feed indices.
"""

import difflib
from typing import Optional

import gymnasium
import minigrid  # noqa: F401  (importing it registers the MiniGrid-* ids)
import numpy as np
from gymnasium import spaces
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX
from minigrid.wrappers import FullyObsWrapper, RGBImgPartialObsWrapper

from gridlab.core import validation
from gridlab.envs.adapters.gymnasium import GymnasiumWrapper, _headless_pygame
from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper

PREFIX = 'MiniGrid-'
OBSERVATIONS = ('symbolic', 'full', 'rgb')
TILE_SIZE = 8  # Pixels per cell of the `rgb` observation.

_DIRECTIONS = 4
CHANNELS = 3 + _DIRECTIONS  # Object, colour, state; the direction one-hot.


def tasks() -> list:
    """Every MiniGrid id registered with Gymnasium, sorted."""
    return sorted(task for task in gymnasium.registry if task.startswith(PREFIX))


def check_task(task: str) -> None:
    """A ValueError naming `task` (and the nearest id) unless minigrid registers it."""
    if isinstance(task, str) and task.startswith(PREFIX) and task in gymnasium.registry:
        return
    known = tasks()
    close = difflib.get_close_matches(str(task), known, n=1, cutoff=0.6)
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    raise ValueError(f'unknown MiniGrid task {task!r}{hint}; expected one of the '
                     f'{len(known)} MiniGrid-* ids minigrid registers, such as '
                     'MiniGrid-Empty-5x5-v0 or MiniGrid-DoorKey-5x5-v0')


def check_observation(observation: Optional[str]) -> str:
    """The observation choice (None: 'symbolic'), or a ValueError naming it."""
    if observation is None:
        return OBSERVATIONS[0]
    folded = observation.lower() if isinstance(observation, str) else None
    if folded not in OBSERVATIONS:
        raise ValueError(f'observation must be one of {", ".join(OBSERVATIONS)} for '
                         f'MiniGrid tasks, got {observation!r}')
    return folded


def encode_cells(cells: np.ndarray, direction: int) -> np.ndarray:
    """MiniGrid's (x, y, 3) cell encoding as a (y, x, CHANNELS) uint8 array.

    `cells[x, y]` is (object, colour, state); the result is indexed [row,
    column], like a picture, and carries the agent's `direction` one-hot in
    its last four channels, the same in every cell.
    """
    out = np.zeros((cells.shape[1], cells.shape[0], CHANNELS), np.uint8)
    out[..., :3] = np.swapaxes(cells, 0, 1)
    out[..., 3 + int(direction)] = 1
    return out


def _maxima(full: bool) -> np.ndarray:
    """The largest value of each channel."""
    states = 3 if full else max(STATE_TO_IDX.values())  # Full: the agent's direction.
    return np.array([max(OBJECT_TO_IDX.values()), max(COLOR_TO_IDX.values()), states]
                    + [1] * _DIRECTIONS, np.uint8)


class MiniGridEncoding(gymnasium.ObservationWrapper):
    """A MiniGrid environment's dict observation as one uint8 array (see above).

    `environment` is the bare MiniGrid environment (as `gymnasium.make`
    gives it); `observation` one of OBSERVATIONS.
    """

    def __init__(self, environment: gymnasium.Env, observation: str = 'symbolic'):
        self.choice = check_observation(observation)
        if self.choice == 'full':
            environment = FullyObsWrapper(environment)
        elif self.choice == 'rgb':
            environment = RGBImgPartialObsWrapper(environment, tile_size=TILE_SIZE)
        super().__init__(environment)
        image = environment.observation_space['image']
        if self.choice == 'rgb':
            self.observation_space = spaces.Box(0, 255, image.shape, np.uint8)
        else:
            width, height = image.shape[:2]
            high = np.broadcast_to(_maxima(self.choice == 'full'),
                                   (height, width, CHANNELS)).copy()
            self.observation_space = spaces.Box(np.zeros_like(high), high,
                                                dtype=np.uint8)

    def observation(self, observation) -> np.ndarray:
        if self.choice == 'rgb':
            return observation['image']
        return encode_cells(observation['image'], observation['direction'])


def _make_gymnasium(task: str, observation: str) -> gymnasium.Env:
    check_task(task)
    _headless_pygame()
    return MiniGridEncoding(gymnasium.make(task, render_mode='rgb_array'), observation)


def make_environment(task: str, observation: Optional[str] = None,
                     seed: Optional[int] = None, discount: float = 0.99,
                     log_directory=None) -> GymnasiumWrapper:
    """One copy of `task` as a dm_env (`log_directory`: unused, MiniGrid keeps no log).

    `seed` seeds the first reset (later episodes continue its stream, so the
    same seed gives the same episodes); `discount` is what non-terminal
    TimeSteps carry.
    """
    observation = check_observation(observation)
    return GymnasiumWrapper(_make_gymnasium(task, observation), seed=seed,
                            discount=discount)


def batched_environment(task: str, observation: Optional[str], num_envs: int,
                        seed: Optional[int], discount: float = 0.99
                        ) -> GymnasiumVectorWrapper:
    """`num_envs` copies stepped as arrays, the same observation encoding.

    A Gymnasium SyncVectorEnv: copy i is seeded with `seed + i`, so it plays
    the episodes `make_environment(task, observation, seed + i)` plays.
    """
    observation = check_observation(observation)
    check_task(task)
    num_envs = validation.check_positive_int('num_envs', num_envs)
    vector = gymnasium.vector.SyncVectorEnv(
        [lambda: _make_gymnasium(task, observation)] * num_envs)
    return GymnasiumVectorWrapper(vector, seed=seed, discount=discount)
