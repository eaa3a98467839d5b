"""Batched environments both ways with Gymnasium's vector API.

`as_gymnasium_vector` shows a `BatchedGridWorld` as a
`gymnasium.vector.VectorEnv`, so vectorised Gymnasium code (SB3, CleanRL-style
loops) can train on it. `GymnasiumVectorWrapper` does the reverse: a Gymnasium
vector environment (e.g. `gymnasium.make_vec('CartPole-v1', num_envs=8,
vectorization_mode='vector_entry_point')`) as a batched dm_env-style source,
stepping and resetting like `BatchedGridWorld`, so agents that learn from
batches (PPO) use either.

Both sides reset a finished copy on the step after its last one (Gymnasium's
NEXT_STEP autoreset is dm_env's auto-reset rule, copy by copy), so the
mapping is one to one: a LAST step with discount 0 is `terminated`, a LAST
step with a non-zero discount is `truncated`, and the restart step (FIRST)
has reward 0 and neither flag.
"""

from typing import Optional, Union

import dm_env
import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from gridlab.envs.adapters.gymnasium import (_headless_pygame, space_to_spec,
                                                     spec_to_space)
from gridlab.core.specs import EnvironmentSpec
from gridlab.envs import base

_FIRST, _MID, _LAST = (np.uint8(t) for t in (dm_env.StepType.FIRST,
                                             dm_env.StepType.MID, dm_env.StepType.LAST))


class BatchedAsGymnasiumVector(VectorEnv):
    """A batched environment (`BatchedGridWorld`) as a Gymnasium `VectorEnv`.

    Observations, rewards and flags are fresh arrays on every call (Gymnasium
    code keeps them, e.g. in rollout buffers), cast to the spaces' dtypes.
    `reset(seed=...)` reseeds the batched environment's generator.
    """

    metadata = {'autoreset_mode': AutoresetMode.NEXT_STEP, 'render_modes': []}

    def __init__(self, environment):
        spec = environment.single_environment_spec()
        if not hasattr(spec.actions, 'num_values'):
            raise ValueError('as_gymnasium_vector needs discrete actions, got '
                             f'{spec.actions!r}')
        self.environment = environment
        self.num_envs = environment.num_envs
        self.single_observation_space = spec_to_space(spec.observations)
        self.single_action_space = spaces.Discrete(spec.actions.num_values)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._observation_dtype = self.observation_space.dtype
        self.render_mode = None

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None:
            if not isinstance(seed, (int, np.integer)):
                raise TypeError(f'seed must be an integer or None, got {seed!r} (one '
                                'seed for the batch: it has one generator)')
            self.environment.reseed(int(seed))
        timestep = self.environment.reset()
        return self._observation(timestep), {}

    def step(self, actions):
        timestep = self.environment.step(np.asarray(actions))
        last = timestep.step_type == _LAST
        terminated = last & (timestep.discount == 0.)
        truncated = last & ~terminated
        return (self._observation(timestep), timestep.reward.astype(np.float64),
                terminated, truncated, {})

    def _observation(self, timestep) -> np.ndarray:
        return np.array(timestep.observation, dtype=self._observation_dtype)

    def close_extras(self, **kwargs):
        self.environment.close()


def as_gymnasium_vector(environment) -> BatchedAsGymnasiumVector:
    """`environment` (a `BatchedGridWorld`) as a `gymnasium.vector.VectorEnv`."""
    return BatchedAsGymnasiumVector(environment)


class GymnasiumVectorWrapper:
    """A Gymnasium vector environment as a batched dm_env-style source.

    `reset()` and `step(actions)` return one `dm_env.TimeStep` of arrays, as
    `BatchedGridWorld` does: uint8 step types (FIRST on the step a copy
    restarts), float32 rewards and discounts, and the observations.
    Non-terminal steps carry `discount` (0.99 by default, as
    `GymnasiumWrapper`); terminations carry 0; FIRST steps carry reward 0 and
    discount 0 as placeholders.

    Args:
      environment: a `gymnasium.vector.VectorEnv` with NEXT_STEP autoreset
        (Gymnasium's default), or an environment id, made with
        `gymnasium.make_vec(id, num_envs)`: the id's own vector implementation
        (`vector_entry_point`, as CartPole has) if it has one, else a
        SyncVectorEnv (LunarLander).
      num_envs: copies, when `environment` is an id.
      seed: seeds the first reset; later resets continue the same stream.
      discount: the discount of steps that do not terminate.
    """

    def __init__(self, environment: Union[str, VectorEnv], num_envs: Optional[int] = None,
                 seed: Optional[int] = None, discount: float = 0.99):
        if isinstance(environment, str):
            if num_envs is None or int(num_envs) != num_envs or num_envs < 1:
                raise ValueError(f'num_envs must be a positive integer, got {num_envs!r}')
            _headless_pygame()
            environment = gymnasium.make_vec(environment, num_envs=int(num_envs))
        if not isinstance(environment, VectorEnv):
            raise TypeError(f'expected a gymnasium.vector.VectorEnv or an environment '
                            f'id, got {environment!r}')
        mode = environment.metadata.get('autoreset_mode', AutoresetMode.NEXT_STEP)
        if mode != AutoresetMode.NEXT_STEP:
            raise ValueError(f'the vector environment resets with {mode}; expected '
                             'AutoresetMode.NEXT_STEP (the dm_env rule)')
        if not 0. <= discount <= 1.:
            raise ValueError(f'discount must be in [0, 1], got {discount!r}')
        self._environment = environment
        self._seed = seed
        self._discount = np.float32(discount)
        self.num_envs = environment.num_envs
        self._observations = space_to_spec(environment.single_observation_space,
                                           'observation')
        self._actions = space_to_spec(environment.single_action_space, 'action')
        self._done = np.zeros(self.num_envs, bool)
        self._needs_reset = True

    @property
    def discount(self) -> float:
        return float(self._discount)

    @property
    def gymnasium_environment(self) -> VectorEnv:
        return self._environment

    def single_environment_spec(self) -> EnvironmentSpec:
        """The spec of one copy: what agents are built from."""
        from dm_env import specs
        return EnvironmentSpec(
            self._observations, self._actions,
            specs.Array((), np.float32, name='reward'),
            specs.BoundedArray((), np.float32, 0., 1., name='discount'))

    def reset(self) -> dm_env.TimeStep:
        observation, _ = self._environment.reset(seed=self._seed)
        self._seed = None  # Later resets continue the stream.
        self._done[:] = False
        self._needs_reset = False
        n = self.num_envs
        return dm_env.TimeStep(np.full(n, _FIRST), np.zeros(n, np.float32),
                               np.zeros(n, np.float32), self._cast(observation))

    def step(self, actions) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        actions = base.batch_actions(actions, self.num_envs)
        observation, reward, terminated, truncated, _ = self._environment.step(
            actions.astype(np.int64))
        step_type = np.where(terminated | truncated, _LAST, _MID)
        step_type[self._done] = _FIRST  # These copies were reset by this call.
        discount = np.where(terminated | self._done, np.float32(0.), self._discount)
        reward = np.where(self._done, np.float32(0.), reward).astype(np.float32)
        self._done = terminated | truncated
        return dm_env.TimeStep(step_type.astype(np.uint8), reward,
                               discount.astype(np.float32), self._cast(observation))

    def _cast(self, observation) -> np.ndarray:
        return np.asarray(observation, dtype=self._observations.dtype)

    def close(self) -> None:
        self._environment.close()
