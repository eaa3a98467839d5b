"""Environment wrappers, and `setup_environment` from the classic tutorial."""

from typing import Tuple

import dm_env
import numpy as np
import tree
from dm_env import specs

from gridlab.core.specs import EnvironmentSpec, make_environment_spec


class EnvironmentWrapper(dm_env.Environment):
    """Passes everything to the wrapped environment; subclasses change parts.

    Attributes the wrapper does not define (`set_state`, `render`, the
    `plot_*` methods, ...) are looked up on the wrapped environment, so a
    wrapped GridWorld is still a GridWorld to the code that uses it.
    """

    def __init__(self, environment: dm_env.Environment):
        self._environment = environment

    @property
    def environment(self) -> dm_env.Environment:
        return self._environment

    def __getattr__(self, name):
        if name.startswith('__') or name == '_environment':
            raise AttributeError(name)
        return getattr(self._environment, name)

    def __setattr__(self, name, value):
        # `wrapped.goal_state = (1, 8)` must reach the GridWorld's property
        # rather than quietly create an attribute on the wrapper; anything
        # else a wrapper sets is its own.
        if _settable_property(self.__dict__.get('_environment'), name):
            setattr(self._environment, name, value)
        else:
            object.__setattr__(self, name, value)

    def reset(self):
        return self._environment.reset()

    def step(self, action):
        return self._environment.step(action)

    def observation_spec(self):
        return self._environment.observation_spec()

    def action_spec(self):
        return self._environment.action_spec()

    def reward_spec(self):
        return self._environment.reward_spec()

    def discount_spec(self):
        return self._environment.discount_spec()

    def close(self):
        return self._environment.close()


def _settable_property(environment, name: str) -> bool:
    """Whether `name` is a property of `environment` (or of what it wraps)."""
    if environment is None or name.startswith('_'):
        return False
    if isinstance(getattr(type(environment), name, None), property):
        return True
    return isinstance(environment, EnvironmentWrapper) and _settable_property(
        environment.__dict__.get('_environment'), name)


_SINGLE = {np.dtype(np.float64): np.dtype(np.float32),
           np.dtype(np.int64): np.dtype(np.int32),
           np.dtype(np.uint64): np.dtype(np.uint32)}


def _single_spec(spec: specs.Array) -> specs.Array:
    dtype = _SINGLE.get(np.dtype(spec.dtype))
    if dtype is None:
        return spec
    if isinstance(spec, specs.DiscreteArray):
        return specs.DiscreteArray(spec.num_values, dtype=dtype, name=spec.name)
    if isinstance(spec, specs.BoundedArray):
        return specs.BoundedArray(spec.shape, dtype, spec.minimum.astype(dtype),
                                  spec.maximum.astype(dtype), name=spec.name)
    return spec.replace(dtype=dtype)


def _check_unchanged(spec: specs.Array, source: np.ndarray, single: np.ndarray) -> None:
    """Refuses a value that single precision cannot hold.

    numpy's cast wraps 2**31 around to a negative int32 and turns 1e300 into
    inf without a word; an observation must not change meaning that way.
    """
    if single.dtype.kind in 'iu' and source.dtype.kind in 'iub':
        info = np.iinfo(single.dtype)
        if source.size and (source.min() < info.min or source.max() > info.max):
            raise ValueError(
                f'{spec.name or "value"} {source!r} does not fit {single.dtype} '
                f'(expected values in [{info.min}, {info.max}]); do not wrap this '
                'environment in SinglePrecisionWrapper')
    elif single.dtype.kind == 'f' and source.dtype.kind == 'f':
        overflow = np.isinf(single) & np.isfinite(source)
        if overflow.any():
            raise ValueError(
                f'{spec.name or "value"} {source!r} does not fit {single.dtype}: '
                f'{source[overflow].ravel()[0]!r} would become infinite')


def _converter(spec_tree):
    """A function converting values of `spec_tree` to single precision, or None."""
    single = tree.map_structure(_single_spec, spec_tree)
    if all(a is b for a, b in zip(tree.flatten(single), tree.flatten(spec_tree))):
        return None  # Already single precision: pass values through untouched.

    def convert(value):
        def leaf(spec, x):
            source = np.asarray(x)
            x = source.astype(spec.dtype, copy=False)
            if source.dtype != x.dtype:
                _check_unchanged(spec, source, x)
            return x[()] if x.ndim == 0 else x  # Scalars stay scalars.
        return tree.map_structure(leaf, single, value)
    return convert


class SinglePrecisionWrapper(EnvironmentWrapper):
    """Makes an environment emit float32/int32 where it emitted 64-bit values.

    Specs are converted once; when an environment is already single precision
    (every gridlab environment is) steps pass through unchanged.
    """

    def __init__(self, environment: dm_env.Environment):
        super().__init__(environment)
        self._convert_observation = _converter(environment.observation_spec())
        self._convert_reward = _converter(environment.reward_spec())
        self._convert_discount = _converter(environment.discount_spec())
        self._identity = (self._convert_observation is None and
                          self._convert_reward is None and
                          self._convert_discount is None)

    def _convert(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        if self._identity:
            return timestep
        observation, reward, discount = (
            timestep.observation, timestep.reward, timestep.discount)
        if self._convert_observation is not None:
            observation = self._convert_observation(observation)
        if reward is not None and self._convert_reward is not None:
            reward = self._convert_reward(reward)
        if discount is not None and self._convert_discount is not None:
            discount = self._convert_discount(discount)
        return timestep._replace(
            observation=observation, reward=reward, discount=discount)

    def reset(self):
        return self._convert(self._environment.reset())

    def step(self, action):
        return self._convert(self._environment.step(action))

    def observation_spec(self):
        return tree.map_structure(_single_spec, self._environment.observation_spec())

    def action_spec(self):
        return tree.map_structure(_single_spec, self._environment.action_spec())

    def reward_spec(self):
        return tree.map_structure(_single_spec, self._environment.reward_spec())

    def discount_spec(self):
        return tree.map_structure(_single_spec, self._environment.discount_spec())


def setup_environment(
        environment: dm_env.Environment
) -> Tuple[dm_env.Environment, EnvironmentSpec]:
    """Wraps an environment to single precision and returns it with its spec."""
    environment = SinglePrecisionWrapper(environment)
    return environment, make_environment_spec(environment)
