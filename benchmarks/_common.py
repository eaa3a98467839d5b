"""What several benchmarks share: a two-clock stopwatch and a greedy score.

Not a benchmark itself (tests/test_benchmarks.py runs every file here whose
name does not start with an underscore).
"""

import time

import numpy as np

from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper


class Clock:
    """Wall and CPU seconds of the code between `start()` and `stop()` calls.

    Also a context manager. CPU time is the steadier figure on a machine
    shared with other jobs; wall time also counts waiting for a core.
    """

    def __init__(self):
        self.wall = self.cpu = 0.
        self._marks = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        self._marks = (time.perf_counter(), time.process_time())

    def stop(self):
        wall, cpu = self._marks
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu


def greedy_mean(act, task: str, seed: int, episodes: int) -> float:
    """Mean return of `act(observations) -> actions` over `episodes` episodes.

    The episodes run side by side on Gymnasium's vector environment of
    `task`, seeded by `seed` (apart from training's); each counts until its
    first LAST step.
    """
    env = GymnasiumVectorWrapper(task, num_envs=episodes, seed=seed)
    timestep = env.reset()
    total, done = np.zeros(episodes), np.zeros(episodes, bool)
    while not done.all():
        timestep = env.step(act(timestep.observation))
        total += np.where(done, 0., timestep.reward)
        done |= timestep.step_type == 2
    env.close()
    return float(total.mean())
