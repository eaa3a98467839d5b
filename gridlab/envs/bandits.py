"""Bandits as dm_env environments: every episode is one decision.

`reset()` shows the context (always 0 for a plain multi-armed bandit), the
agent pulls an arm, and `step(arm)` pays a reward and ends the episode
(LAST, discount 0). Both bandits know their arms' true means, so the best arm
and the regret of any pull are available for diagnostics.
"""

from typing import Optional

import dm_env
import numpy as np
from dm_env import specs

from gridlab.core import validation
from gridlab.envs import base

_ZERO = np.float32(0.)


class ContextualBandit(base.Environment):
    """Contexts drawn uniformly at each reset; arm means per context.

    Args:
      means: [contexts, arms] expected rewards.
      noise: 'gaussian' (mean plus N(0, scale^2)) or 'bernoulli' (reward 1
        with probability mean; means must be in [0, 1]).
      scale: the Gaussian noise's standard deviation.
      seed: seeds contexts and rewards.
    """

    def __init__(self, means, noise: str = 'gaussian', scale: float = 1.,
                 seed: Optional[int] = None):
        super().__init__()
        self._means = validation.check_finite_array('means', means)
        if self._means.ndim != 2 or self._means.size == 0:
            raise ValueError(f'means must be a non-empty [contexts, arms] array, got '
                             f'shape {self._means.shape}')
        if noise not in ('gaussian', 'bernoulli'):
            raise ValueError(f"noise must be 'gaussian' or 'bernoulli', got {noise!r}")
        if noise == 'bernoulli' and (np.any(self._means < 0) or np.any(self._means > 1)):
            raise ValueError('Bernoulli arms need means in [0, 1]')
        scale = validation.check_nonnegative('scale', scale)
        self._noise, self._scale = noise, scale
        self._rng = np.random.default_rng(seed)
        self._context = 0

    @property
    def means(self) -> np.ndarray:
        return self._means.copy()

    @property
    def context(self) -> int:
        return self._context

    def best_arm(self, context: Optional[int] = None) -> int:
        """The arm with the highest mean in `context` (default: the current one)."""
        return int(np.argmax(self._means[self._context if context is None else context]))

    def regret(self, arm: int, context: Optional[int] = None) -> float:
        """Expected reward lost by pulling `arm` instead of the best one."""
        row = self._means[self._context if context is None else context]
        return float(row.max() - row[arm])

    def reseed(self, seed: Optional[int]) -> None:
        self._rng = np.random.default_rng(seed)

    def observation_spec(self):
        return specs.DiscreteArray(self._means.shape[0], dtype=np.int32, name='context')

    def action_spec(self):
        return specs.DiscreteArray(self._means.shape[1], dtype=np.int32, name='arm')

    def _reset(self) -> dm_env.TimeStep:
        self._context = int(self._rng.integers(self._means.shape[0]))
        return dm_env.restart(np.int32(self._context))

    def _step(self, action) -> dm_env.TimeStep:
        arm = base.discrete_action(action, self._means.shape[1], what='arm')
        mean = self._means[self._context, arm]
        if self._noise == 'bernoulli':
            reward = float(self._rng.random() < mean)
        else:
            reward = mean + self._scale * self._rng.standard_normal()
        return dm_env.TimeStep(dm_env.StepType.LAST, np.float32(reward), _ZERO,
                               np.int32(self._context))


class MultiArmedBandit(ContextualBandit):
    """A multi-armed bandit: one context, arm `a` pays around `means[a]`."""

    def __init__(self, means, noise: str = 'gaussian', scale: float = 1.,
                 seed: Optional[int] = None):
        means = validation.check_finite_array('means', means)
        if means.ndim != 1:
            raise ValueError(f'means must be 1-D (one per arm), got shape {means.shape}')
        super().__init__(means[None], noise=noise, scale=scale, seed=seed)
