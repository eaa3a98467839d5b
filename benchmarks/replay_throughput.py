"""How fast ReplayBuffer adds and samples transitions.

Run: python benchmarks/replay_throughput.py   (--quick: a smoke run, for the tests)

Prints the median over 5 repeats of:
  - add: transitions/s, for a 4-float observation (AGENT_GOAL_POS-like) and a
    9x10x3 float32 one (GRID-like), into a buffer of capacity 100,000;
  - sample: batches/s and transitions/s for batch sizes 32 and 128, from a
    buffer holding 10,000 transitions.
Figures to compare between versions and machines, not pass/fail limits.
"""

import argparse
import statistics
import time

import dm_env
import numpy as np

from gridlab.core.replay import ReplayBuffer

FULL = dict(repeats=5, num_adds=20_000, num_stored=10_000, num_samples=2_000)
QUICK = dict(repeats=1, num_adds=500, num_stored=500, num_samples=20)
OBSERVATION_SHAPES = {'4 floats': (4,), '9x10x3 float32': (9, 10, 3)}
BATCH_SIZES = (32, 128)


def make_episode(shape, length, seed=0):
    """Returns a FIRST timestep, then `length` (action, timestep) pairs.

    Built before timing, so the figures measure the buffer, not dm_env.
    """
    rng = np.random.default_rng(seed)
    observations = rng.random((length + 1,) + shape, dtype=np.float32)
    first = dm_env.restart(observations[0])
    steps = [(int(rng.integers(4)), dm_env.transition(1.0, observations[t]))
             for t in range(1, length + 1)]
    return first, steps


def fill(buffer, first, steps):
    buffer.add_first(first)
    for action, timestep in steps:
        buffer.add(action, timestep)


def median_seconds(run, repeats):
    """Median wall time of `repeats` calls of `run()`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def add_rate(shape, repeats, num_adds, **unused):
    """Transitions/s added to a fresh buffer (including its allocation)."""
    first, steps = make_episode(shape, num_adds)
    seconds = median_seconds(
        lambda: fill(ReplayBuffer(capacity=100_000, seed=0), first, steps), repeats)
    return num_adds / seconds


def sample_rate(shape, batch_size, repeats, num_stored, num_samples, **unused):
    """Batches/s sampled from a buffer holding `num_stored` transitions."""
    buffer = ReplayBuffer(capacity=100_000, seed=0)
    fill(buffer, *make_episode(shape, num_stored))

    def run():
        for _ in range(num_samples):
            buffer.sample(batch_size)

    return num_samples / median_seconds(run, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description='ReplayBuffer throughput')
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    sizes = QUICK if parser.parse_args(argv).quick else FULL
    print(f'ReplayBuffer throughput (median of {sizes["repeats"]} repeats)\n')
    print(f'{"operation":<20} {"observation":<16} {"batches/s":>12} {"transitions/s":>15}')
    rows = []
    for name, shape in OBSERVATION_SHAPES.items():
        rate = add_rate(shape, **sizes)
        print(f'{"add":<20} {name:<16} {"":>12} {rate:>15,.0f}')
        rows.append(dict(operation='add', observation=name, transitions_per_second=rate))
    for name, shape in OBSERVATION_SHAPES.items():
        for batch_size in BATCH_SIZES:
            batches = sample_rate(shape, batch_size, **sizes)
            print(f'{f"sample({batch_size})":<20} {name:<16} '
                  f'{batches:>12,.0f} {batches * batch_size:>15,.0f}')
            rows.append(dict(operation=f'sample({batch_size})', observation=name,
                             transitions_per_second=batches * batch_size))
    return rows


if __name__ == '__main__':
    main()
