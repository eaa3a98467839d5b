"""Observation wrappers: change what an agent sees, nothing else.

`DiscretisedObservation` bins a continuous observation (CartPole's four
numbers) into one state index, so the tabular agents learn on it unchanged.
`OneHotObservation` turns a state index (FrozenLake's, Taxi's, a GridWorld's
STATE_INDEX) into a one-hot vector, so the neural and policy agents, which
need arrays, learn on it; `BatchedOneHotObservation` does the same for copies
stepped as arrays. Rewards, discounts and step types pass through.
"""

import abc
from typing import Optional, Sequence

import dm_env
import numpy as np
from dm_env import specs

from gridlab.envs.wrappers import EnvironmentWrapper


class ObservationWrapper(EnvironmentWrapper):
    """Applies `observation(value)` to every TimeStep's observation."""

    @abc.abstractmethod
    def observation(self, value):
        """The observation the agent sees instead of `value`."""

    def _convert(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        return timestep._replace(observation=self.observation(timestep.observation))

    def reset(self):
        return self._convert(self._environment.reset())

    def step(self, action):
        return self._convert(self._environment.step(action))


def uniform_bin_edges(lower, upper, bins) -> list:
    """Edges of equal-width bins per dimension: bins[i] + 1 edges from lower to upper."""
    return [np.linspace(lo, hi, n + 1) for lo, hi, n in zip(lower, upper, bins)]


class DiscretisedObservation(ObservationWrapper):
    """A continuous observation binned into one state index (DiscreteArray).

    Each kept dimension i is cut into `bins[i]` equal-width bins between
    `lower[i]` and `upper[i]`, as scikit-learn's `KBinsDiscretizer` with
    `strategy='uniform'` does: a value on an inner edge belongs to the bin
    above it, and values outside the bounds fall into the first or last bin.
    The bin numbers combine row-major (the first kept dimension varies
    slowest), so the index of bins (b0, b1) is b0 * bins[1] + b1.

    Args:
      environment: a dm_env environment with a flat array observation.
      bins: bins per kept dimension (each at least 1).
      lower, upper: the bounds per kept dimension, lower < upper.
      dimensions: which observation dimensions to keep (the others are
        dropped); by default all of them, in order.
    """

    def __init__(self, environment: dm_env.Environment, bins: Sequence[int],
                 lower: Sequence[float], upper: Sequence[float],
                 dimensions: Optional[Sequence[int]] = None):
        super().__init__(environment)
        spec = environment.observation_spec()
        if not isinstance(spec, specs.Array) or len(spec.shape) != 1:
            raise ValueError('DiscretisedObservation needs a flat array observation '
                             f'(shape (n,)), got {spec!r}')
        size = spec.shape[0]
        if dimensions is None:
            dimensions = range(size)
        dimensions = [int(d) for d in dimensions]
        if not dimensions or any(not 0 <= d < size for d in dimensions) or (
                len(set(dimensions)) != len(dimensions)):
            raise ValueError(f'dimensions must be distinct indices in [0, {size}), '
                             f'got {dimensions!r}')
        bins = [b for b in bins]
        lower = np.asarray(lower, dtype=np.float64)
        upper = np.asarray(upper, dtype=np.float64)
        for name, value in (('bins', bins), ('lower', lower), ('upper', upper)):
            if len(value) != len(dimensions):
                raise ValueError(f'{name} must have one entry per kept dimension '
                                 f'({len(dimensions)}), got {list(value)!r}')
        if any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1
               for b in bins):
            raise ValueError(f'bins must be positive integers, got {bins!r}')
        if not np.all(np.isfinite(lower) & np.isfinite(upper)) or np.any(lower >= upper):
            raise ValueError(f'need finite bounds with lower < upper per dimension, '
                             f'got lower={lower.tolist()}, upper={upper.tolist()}')
        self._dimensions = np.array(dimensions)
        self._bins = tuple(int(b) for b in bins)
        self._lower, self._upper = lower, upper
        self._edges = uniform_bin_edges(lower, upper, self._bins)
        self._spec = specs.DiscreteArray(int(np.prod(self._bins)), dtype=np.int64,
                                         name='observation')

    @property
    def bins(self) -> tuple:
        return self._bins

    @property
    def edges(self) -> list:
        """The bin edges of each kept dimension (bins[i] + 1 of them)."""
        return [edges.copy() for edges in self._edges]

    def bin_indices(self, value) -> tuple:
        """The bin of each kept dimension, before they are combined."""
        value = np.asarray(value, dtype=np.float64)[self._dimensions]
        # Inner edges only: below the first or above the last clips to the end bins.
        return tuple(int(np.searchsorted(edges[1:-1], v, side='right'))
                     for edges, v in zip(self._edges, value))

    def observation(self, value) -> np.int64:
        return np.int64(np.ravel_multi_index(self.bin_indices(value), self._bins))

    def observation_spec(self):
        return self._spec


class OneHotObservation(ObservationWrapper):
    """A state index (DiscreteArray observation) as a float32 one-hot vector."""

    def __init__(self, environment: dm_env.Environment):
        super().__init__(environment)
        spec = environment.observation_spec()
        if not isinstance(spec, specs.DiscreteArray):
            raise ValueError('OneHotObservation needs a DiscreteArray observation (a '
                             f'state index, e.g. FrozenLake-v1), got {spec!r}')
        self._num_values = spec.num_values
        self._eye = np.eye(spec.num_values, dtype=np.float32)
        self._eye.flags.writeable = False  # Rows are handed out, never copied.
        self._spec = specs.BoundedArray((spec.num_values,), np.float32, 0., 1.,
                                        name='observation')

    def observation(self, value) -> np.ndarray:
        index = int(value)
        if not 0 <= index < self._num_values or index != value:
            raise ValueError(f'observation {value!r} is not a state index in '
                             f'[0, {self._num_values})')
        return self._eye[index]

    def observation_spec(self):
        return self._spec


class BatchedOneHotObservation:
    """Copies stepped as arrays (`GymnasiumVectorWrapper`, a suite's batched
    source) whose state-index observations are seen one-hot, as
    `OneHotObservation` shows one copy's: (num_envs,) indices become
    (num_envs, num_values) float32 rows."""

    def __init__(self, environment):
        spec = environment.single_environment_spec()
        if not isinstance(spec.observations, specs.DiscreteArray):
            raise ValueError('BatchedOneHotObservation needs DiscreteArray observations '
                             f'(state indices), got {spec.observations!r}')
        self._environment = environment
        self._spec = spec
        self._num_values = spec.observations.num_values
        self._eye = np.eye(self._num_values, dtype=np.float32)
        self.num_envs = environment.num_envs

    @classmethod
    def if_state_index(cls, environment):
        """`environment` one-hot if its observations are state indices, else itself."""
        if isinstance(environment.single_environment_spec().observations,
                      specs.DiscreteArray):
            return cls(environment)
        return environment

    def __getattr__(self, name):  # discount, gymnasium_environment, ...
        return getattr(self._environment, name)

    def single_environment_spec(self):
        return self._spec._replace(observations=specs.BoundedArray(
            (self._num_values,), np.float32, 0., 1., name='observation'))

    def _convert(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        indices = np.asarray(timestep.observation)
        if indices.min() < 0 or indices.max() >= self._num_values:
            raise ValueError(f'observations {indices!r} are not state indices in '
                             f'[0, {self._num_values})')
        return timestep._replace(observation=self._eye[indices.astype(np.int64)])

    def reset(self) -> dm_env.TimeStep:
        return self._convert(self._environment.reset())

    def step(self, actions) -> dm_env.TimeStep:
        return self._convert(self._environment.step(actions))

    def close(self) -> None:
        self._environment.close()
