"""CartPole for a population: N members' copies in one vector environment.

A population member's single run trains on Gymnasium's `CartPoleVectorEnv`
of k copies, reset with the run's seed: one generator per vector
environment, which draws the starting states of the copies that restart.
Stepping N such environments one after another costs N Python calls per
batch step, most of a small population's time. `MemberSeededCartPole` steps
all N x k copies in one call and draws each member's restarts from that
member's own generator, in the order its own environment would, so member m
sees exactly the episodes its single run would see (checked bit for bit in
tests/test_population.py).
"""

from typing import Sequence

import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.utils import seeding

# The Gymnasium ids whose vector environment is CartPoleVectorEnv.
TASKS = {'CartPole-v0': 200, 'CartPole-v1': 500}


class MemberSeededCartPole(CartPoleVectorEnv):
    """`CartPoleVectorEnv` of len(seeds) x `copies_each` copies; copies
    m*k .. m*k + k - 1 restart from seeds[m]'s generator."""

    def __init__(self, seeds: Sequence[int], copies_each: int,
                 max_episode_steps: int = 500):
        seeds = list(seeds)
        if not seeds or copies_each < 1:
            raise ValueError(f'need one or more seeds and copies_each >= 1, got '
                             f'{len(seeds)} seeds and copies_each={copies_each!r}')
        super().__init__(num_envs=len(seeds) * copies_each,
                         max_episode_steps=max_episode_steps)
        # What `reset(seed=s)` makes of a seed: the single environment's generator.
        self._generators = [seeding.np_random(int(seed))[0] for seed in seeds]
        self._copies_each = copies_each
        self._resetting = False

    @property
    def np_random(self):
        """CartPole draws restarts as `np_random.uniform(...)`: this object answers."""
        return self

    @np_random.setter
    def np_random(self, value) -> None:
        raise AttributeError('MemberSeededCartPole draws from its members\' generators; '
                             'they are seeded at construction')

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            raise ValueError(f'MemberSeededCartPole is seeded per member at construction; '
                             f'reset(seed={seed!r}) would not say which member')
        self._resetting = True
        try:
            return super().reset(options=options)
        finally:
            self._resetting = False

    def uniform(self, low, high, size):
        """The copies restarting now (all, on a reset), each member's drawn
        from its own generator: (rows, restarting copies), member-major."""
        rows = size[0]
        restarting = (np.ones(self.num_envs, bool) if self._resetting else self.prev_done)
        counts = restarting.reshape(len(self._generators), self._copies_each).sum(1)
        return np.concatenate([generator.uniform(low=low, high=high, size=(rows, int(c)))
                               for generator, c in zip(self._generators, counts)], axis=1)
