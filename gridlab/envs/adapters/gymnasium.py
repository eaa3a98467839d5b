"""Gymnasium both ways: its environments as dm_env, and ours as Gymnasium.

`GymnasiumWrapper` runs any Gymnasium environment (CartPole-v1, FrozenLake-v1,
...) behind the dm_env interface, so gridlab's agents and run loop use it
unchanged. `as_gymnasium` does the reverse for a dm_env environment with
discrete actions (a GridWorld), so other libraries can train on our tasks.

The two APIs end episodes differently. Gymnasium says `terminated` (the task
ended: nothing follows) or `truncated` (a time limit cut it short); dm_env says
LAST with a discount: 0 for termination, the ordinary discount for a
truncation, which tells an agent to bootstrap. The mapping is exactly that.
"""

import os
from typing import Optional, Union

import dm_env
import gymnasium
import numpy as np
import tree
from dm_env import specs
from gymnasium import spaces

from gridlab.core import validation
from gridlab.envs import base

_ZERO = np.float32(0.)  # dm_env.termination's own 0.0 would be float64.


def _headless_pygame() -> None:
    """Points SDL at its dummy drivers on a machine without a screen.

    Classic-control environments render with pygame, whose start-up complains
    (XDG_RUNTIME_DIR) without a screen or sound server; frames for video need
    neither. Called when an environment is made to render, not at import.
    """
    if not (os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')):
        os.environ.setdefault('SDL_VIDEODRIVER', 'dummy')
        os.environ.setdefault('SDL_AUDIODRIVER', 'dummy')


def space_to_spec(space: spaces.Space, name: str = ''):
    """A dm_env spec for a Gymnasium space (nested for Tuple and Dict)."""
    if isinstance(space, spaces.Discrete):
        if int(space.start) != 0:
            raise ValueError(f'Discrete spaces starting at {space.start} are not '
                             'supported; expected start 0')
        return specs.DiscreteArray(int(space.n), dtype=np.int64, name=name)
    if isinstance(space, spaces.Box):
        return specs.BoundedArray(space.shape, space.dtype, space.low, space.high,
                                  name=name)
    if isinstance(space, spaces.MultiBinary):
        return specs.BoundedArray(space.shape, np.int8, 0, 1, name=name)
    if isinstance(space, spaces.MultiDiscrete):
        return specs.BoundedArray(space.shape, np.int64, 0, space.nvec - 1, name=name)
    if isinstance(space, spaces.Tuple):
        return tuple(space_to_spec(s, f'{name}_{i}') for i, s in enumerate(space))
    if isinstance(space, spaces.Dict):
        return {key: space_to_spec(s, key) for key, s in space.items()}
    raise ValueError(f'cannot express Gymnasium space {space!r} as a dm_env spec')


def spec_to_space(spec) -> spaces.Space:
    """A Gymnasium space for a dm_env spec."""
    if isinstance(spec, specs.DiscreteArray):
        return spaces.Discrete(spec.num_values)
    if isinstance(spec, (tuple, list)):
        return spaces.Tuple([spec_to_space(s) for s in spec])
    if isinstance(spec, dict):
        return spaces.Dict({key: spec_to_space(s) for key, s in spec.items()})
    dtype = np.dtype(spec.dtype)
    if isinstance(spec, specs.BoundedArray):
        low, high = spec.minimum, spec.maximum
    elif np.issubdtype(dtype, np.integer):
        low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    else:
        low, high = -np.inf, np.inf
    return spaces.Box(np.broadcast_to(low, spec.shape).astype(dtype),
                      np.broadcast_to(high, spec.shape).astype(dtype),
                      shape=spec.shape, dtype=dtype)


def _converter(spec):
    """Casts a Gymnasium value to its dm_env spec's dtype (recursively)."""
    if isinstance(spec, tuple):
        parts = [_converter(s) for s in spec]
        return lambda value: tuple(f(v) for f, v in zip(parts, value))
    if isinstance(spec, dict):
        parts = {key: _converter(s) for key, s in spec.items()}
        return lambda value: {key: f(value[key]) for key, f in parts.items()}
    dtype = spec.dtype
    if spec.shape == ():
        return lambda value: dtype.type(value)
    return lambda value: np.asarray(value, dtype=dtype)


class GymnasiumWrapper(base.Environment):
    """A Gymnasium environment as a `dm_env.Environment`.

    Args:
      environment: a `gymnasium.Env`, or an id such as 'CartPole-v1' (made
        with render_mode='rgb_array', so `render()` gives video frames).
      seed: seeds the first reset; later resets continue the same random
        stream, so the same seed gives the same run.
      discount: the discount the TimeSteps carry on steps that do not
        terminate, as the GridWorld's carry 0.9. Gymnasium environments do
        not discount; 0.99 gives agents (whose own discount is 1 by default)
        a finite horizon through time-limit truncations, where they
        bootstrap. Pass 1 for undiscounted TimeSteps.
    """

    def __init__(self, environment: Union[str, gymnasium.Env],
                 seed: Optional[int] = None, discount: float = 0.99):
        super().__init__()
        if isinstance(environment, str):
            _headless_pygame()
            environment = gymnasium.make(environment, render_mode='rgb_array')
        if not isinstance(environment, gymnasium.Env):
            raise ValueError(f'expected a gymnasium.Env or an environment id, got '
                             f'{environment!r}')
        discount = validation.check_probability('discount', discount)
        self._environment = environment
        self._seed = seed
        self._discount = np.float32(discount)
        self._observation_spec = space_to_spec(environment.observation_space,
                                               'observation')
        self._action_spec = space_to_spec(environment.action_space, 'action')
        self._observation = _converter(self._observation_spec)
        self._discrete_actions = isinstance(environment.action_space, spaces.Discrete)

    @property
    def discount(self) -> float:
        """The discount non-terminal TimeSteps carry."""
        return float(self._discount)

    @property
    def gymnasium_environment(self) -> gymnasium.Env:
        return self._environment

    @property
    def render_fps(self) -> int:
        """The frame rate the environment's own metadata asks for."""
        return int(self._environment.metadata.get('render_fps', 30))

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def _reset(self) -> dm_env.TimeStep:
        seed, self._seed = self._seed, None  # Only the first reset is seeded.
        observation, _ = self._environment.reset(seed=seed)
        return dm_env.restart(self._observation(observation))

    def _step(self, action) -> dm_env.TimeStep:
        action = self._check_action(action)
        observation, reward, terminated, truncated, _ = self._environment.step(action)
        observation, reward = self._observation(observation), np.float32(reward)
        if terminated:
            return dm_env.termination(reward, observation)._replace(discount=_ZERO)
        if truncated:
            return dm_env.truncation(reward, observation, self._discount)
        return dm_env.transition(reward, observation, self._discount)

    def _check_action(self, action):
        space = self._environment.action_space
        if self._discrete_actions:
            return base.discrete_action(action, int(space.n))
        if not space.contains(np.asarray(action, dtype=space.dtype)):
            raise ValueError(f'invalid action {action!r}: not in {space}')
        return action

    def render(self) -> np.ndarray:
        """The current frame, (H, W, 3) uint8, for `evaluate` and video."""
        frame = self._environment.render()
        if not isinstance(frame, np.ndarray):
            raise ValueError(
                'this Gymnasium environment renders no frames; make it with '
                "render_mode='rgb_array' (passing an id string does that)")
        return frame

    def close(self):
        self._environment.close()


class DmEnvAsGymnasium(gymnasium.Env):
    """A dm_env environment with discrete actions as a `gymnasium.Env`.

    Only a LAST step ends an episode. It is `terminated` when the task ended
    it: environments that can say so (a GridWorld's `episode_terminated`)
    are asked, since with a discount of 0 a time limit's LAST carries
    discount 0 too; for others, LAST with discount 0 is `terminated` and LAST
    with a non-zero discount `truncated`. `step()` needs a `reset()` first,
    and again after each episode. `reset(seed=...)` reseeds environments that
    have `reseed`.
    """

    metadata = {'render_modes': ['rgb_array'], 'render_fps': 8}

    def __init__(self, environment: dm_env.Environment,
                 render_mode: Optional[str] = None):
        if not isinstance(environment.action_spec(), specs.DiscreteArray):
            raise ValueError('as_gymnasium needs discrete actions (a DiscreteArray '
                             f'action spec), got {environment.action_spec()!r}')
        if render_mode not in (None, 'rgb_array'):
            raise ValueError(f"render_mode must be None or 'rgb_array', got "
                             f'{render_mode!r}')
        self.environment = environment
        self.render_mode = render_mode
        self.observation_space = spec_to_space(environment.observation_spec())
        self.action_space = spec_to_space(environment.action_spec())
        self._running = False  # Whether an episode is under way.

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        if seed is not None and hasattr(self.environment, 'reseed'):
            self.environment.reseed(seed)
        observation = self._fresh(self.environment.reset().observation)
        self._running = True
        return observation, {}

    def step(self, action):
        if not self._running:
            raise RuntimeError('step() needs an episode under way: call reset() '
                               'first, and again after terminated or truncated')
        timestep = self.environment.step(action)
        terminated = truncated = False
        if timestep.last():
            self._running = False
            ended_by_task = getattr(self.environment, 'episode_terminated', None)
            if ended_by_task is None:
                terminated = float(timestep.discount) == 0.
            else:
                terminated = bool(ended_by_task)
            truncated = not terminated
        return (self._fresh(timestep.observation), float(timestep.reward), terminated,
                truncated, {'discount': float(timestep.discount)})

    @staticmethod
    def _fresh(observation):
        """A copy: Gymnasium users may keep or change what they are given, and
        a GridWorld hands out shared, read-only cached observations."""
        def copy(leaf):
            leaf = np.array(leaf)
            return np.int64(leaf) if leaf.ndim == 0 and leaf.dtype.kind in 'iu' else leaf
        return tree.map_structure(copy, observation)

    def render(self):
        if self.render_mode == 'rgb_array':
            return self.environment.render()
        return None

    def close(self):
        self.environment.close()


def as_gymnasium(environment: dm_env.Environment,
                 render_mode: Optional[str] = None) -> DmEnvAsGymnasium:
    """`environment` (e.g. a GridWorld) as a `gymnasium.Env`."""
    return DmEnvAsGymnasium(environment, render_mode)
