"""Peak memory of big grid worlds: building one, probing every cell, rendering.

    python benchmarks/memory.py            # 100x100 and 500x500 grids
    python benchmarks/memory.py --quick    # 30x30 and 60x60 (used by the tests)

Peak memory is Python's own allocations (tracemalloc, numpy arrays included)
during each job, median over repeats. "probe" reads the observation of every
cell through `observation_at`, as `judging.q_table` and the policy pictures
do; on the 500x500 grid the GRID probe reads a seeded sample of cells instead
(each observation is 3 MB to build, every cell would take an hour), which
reaches the same peak because the cache is full after a few cells. The peer
is the same probe with the observation cache unbounded, as GridWorld cached
before: its memory grows as (H * W)^2, so it runs only on grids where that
fits (up to 60x60, 156 MB).
"""

import argparse
import statistics
import time
import tracemalloc

import numpy as np

import gridlab
from gridlab.envs import gridworld

FULL = dict(sizes=(100, 500), peer_size=60, repeats=3, sample=1_000)
QUICK = dict(sizes=(30, 60), peer_size=30, repeats=1, sample=200)


def make(size: int, kind) -> gridlab.GridWorld:
    return gridlab.GridWorld(np.zeros((size, size)), start_state=(0, 0),
                             goal_state=(size - 1, size - 1), observation_type=kind)


def peak(job, repeats: int):
    """(median peak MB, median seconds) of `job()` over repeats."""
    peaks, seconds = [], []
    for _ in range(repeats):
        tracemalloc.start()
        start = time.perf_counter()
        job()
        seconds.append(time.perf_counter() - start)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return statistics.median(peaks), statistics.median(seconds)


def probe(size: int, kind, sample=None):
    """A job reading the observation of every cell (or of `sample` cells)."""
    env = make(size, kind)
    cells = [(y, x) for y in range(size) for x in range(size)]
    if sample is not None and sample < len(cells):
        rng = np.random.default_rng(0)
        cells = [cells[i] for i in rng.choice(len(cells), sample, replace=False)]

    def job():
        for cell in cells:
            env.observation_at(cell)
        env._clear_observations()  # The next repeat starts cold.
    return job


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small grids, one repeat')
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    repeats = config['repeats']
    grid, state_index = gridlab.ObservationType.GRID, gridlab.ObservationType.STATE_INDEX

    print(f'Peak traced memory, median of {repeats} (MB); seconds for the job')
    print(f'{"job":<44} {"peak MB":>9} {"seconds":>9}')
    rows = []

    def report(label, size, job):
        megabytes, seconds = peak(job, repeats)
        print(f'{label:<44} {megabytes:>9.1f} {seconds:>9.2f}')
        rows.append(dict(job=label, size=size, peak_mb=megabytes, seconds=seconds))

    for size in config['sizes']:
        report(f'{size}x{size} build (GRID observations)', size,
               lambda: make(size, grid))
        sample = config['sample'] if size > 100 else None
        what = f'{sample} sampled cells' if sample else 'every cell'
        report(f'{size}x{size} GRID probe, {what}', size, probe(size, grid, sample))
        report(f'{size}x{size} STATE_INDEX probe, every cell', size,
               probe(size, state_index))
        env = make(size, grid)
        report(f'{size}x{size} render() ({env.render().shape[0]} px a side)', size,
               env.render)

    # The peer: the same probe with no bound on the cache.
    size = config['peer_size']
    bound = gridworld._CACHE_BYTES
    gridworld._CACHE_BYTES = 2**62  # Every cell fits.
    try:
        report(f'{size}x{size} GRID probe, unbounded cache (peer)', size,
               probe(size, grid))
    finally:
        gridworld._CACHE_BYTES = bound
    report(f'{size}x{size} GRID probe, bounded cache', size, probe(size, grid))
    return rows


if __name__ == '__main__':
    main()
