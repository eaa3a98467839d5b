"""RandomAgent: uniform random actions; the baseline every agent must beat."""

import numpy as np
from dm_env import specs

import gridlab
from agents.common.exploration import restored_generator
from gridlab.core import PassiveActor, validation
from gridlab.core.checkpoints import Checkpointing


class RandomAgent(Checkpointing, PassiveActor):
    """Acts uniformly at random within the action spec; learns nothing.

    Works for discrete actions (`DiscreteArray`) and bounded continuous ones
    (`BoundedArray`, sampled uniformly between the bounds).
    """

    def __init__(self, environment_spec: gridlab.EnvironmentSpec, seed=None):
        self._spec = environment_spec.actions
        if not isinstance(self._spec, (specs.DiscreteArray, specs.BoundedArray)):
            raise ValueError(
                'RandomAgent needs a DiscreteArray or BoundedArray action spec, '
                f'got {self._spec!r}')
        self._rng = np.random.default_rng(validation.check_optional_seed('seed', seed))

    def select_action(self, observation):
        if isinstance(self._spec, specs.DiscreteArray):
            return int(self._rng.integers(self._spec.num_values))
        sample = self._rng.uniform(self._spec.minimum, self._spec.maximum,
                                   size=self._spec.shape)
        return sample.astype(self._spec.dtype)

    def _state(self) -> dict:
        """The random generator's state, so a restored agent continues alike."""
        return {'rng': self._rng.bit_generator.state}

    def _load_state(self, state: dict) -> None:
        rng = restored_generator(state['rng'])
        self._rng = rng
