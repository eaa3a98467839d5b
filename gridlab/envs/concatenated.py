"""ConcatenatedEnvironments: several batched environments stepped as one.

A population of N agents trains on N batched environments of k copies each,
each one exactly the environment its member's single run would train on
(seeded with that run's seed, its own random stream). This joins them into
one batched environment of N x k copies for `BatchedEnvironmentLoop`:
copies m*k .. m*k + k - 1 are environment m's, in order.
"""

from typing import Sequence

import dm_env
import numpy as np

from gridlab.envs import base


class ConcatenatedEnvironments:
    """N batched environments (`BatchedGridWorld`, `GymnasiumVectorWrapper`,
    a suite's) of equal size, as one batched environment."""

    def __init__(self, environments: Sequence):
        environments = list(environments)
        if not environments:
            raise ValueError('environments must hold at least one batched environment, '
                             'got none')
        sizes = [int(getattr(env, 'num_envs', 0) or 0) for env in environments]
        if sizes[0] < 1 or any(size != sizes[0] for size in sizes):
            raise ValueError(f'environments must be batched environments of one size '
                             f'(num_envs), got sizes {sizes}')
        self.environments = environments
        self.copies_each = sizes[0]
        self.num_envs = sizes[0] * len(environments)
        self._bounds = np.arange(1, len(environments)) * sizes[0]

    def single_environment_spec(self):
        return self.environments[0].single_environment_spec()

    @property
    def discount(self) -> float:
        return self.environments[0].discount

    @staticmethod
    def _joined(timesteps) -> dm_env.TimeStep:
        return dm_env.TimeStep(*(np.concatenate([np.asarray(field) for field in fields])
                                 for fields in zip(*timesteps)))

    def reset(self) -> dm_env.TimeStep:
        return self._joined([env.reset() for env in self.environments])

    def step(self, actions) -> dm_env.TimeStep:
        actions = base.batch_actions(actions, self.num_envs)
        return self._joined([env.step(part) for env, part in
                             zip(self.environments, np.split(actions, self._bounds))])

    def close(self) -> None:
        for env in self.environments:
            close = getattr(env, 'close', None)
            if close is not None:
                close()
