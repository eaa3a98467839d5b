"""The one place where the dm_env auto-reset rule lives.

dm_env's contract: `step()` on a fresh environment, or right after a LAST
step, ignores its action and starts a new episode (returns FIRST). Subclasses
implement `_reset()` and `_step(action)` and never think about it again, as in
bsuite's `base.Environment`.
"""

import abc

import dm_env
import numpy as np
from dm_env import specs


class Environment(dm_env.Environment):
    """A dm_env environment with the auto-reset rule built in.

    Rewards and discounts are float32 scalars, so the default specs below say
    so and every TimeStep conforms without a wrapper.
    """

    def __init__(self):
        self._reset_next_step = True

    @abc.abstractmethod
    def _reset(self) -> dm_env.TimeStep:
        """Starts a new episode; returns a FIRST TimeStep."""

    @abc.abstractmethod
    def _step(self, action) -> dm_env.TimeStep:
        """Advances the current episode by one step."""

    def reset(self) -> dm_env.TimeStep:
        self._reset_next_step = False
        return self._reset()

    def step(self, action) -> dm_env.TimeStep:
        if self._reset_next_step:
            return self.reset()
        timestep = self._step(action)
        self._reset_next_step = timestep.step_type is dm_env.StepType.LAST
        return timestep

    def reward_spec(self):
        return specs.Array(shape=(), dtype=np.float32, name='reward')

    def discount_spec(self):
        return specs.BoundedArray(
            shape=(), dtype=np.float32, minimum=0., maximum=1., name='discount')
