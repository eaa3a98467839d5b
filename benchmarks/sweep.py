"""Sweeps: wall time of one sweep run serially, on 2 workers, and on Ray.

    python benchmarks/sweep.py            # 4 agents x 2 tasks x 10 seeds, a few minutes
    python benchmarks/sweep.py --quick    # smoke run (used by the tests)

The same sweep (`gridlab.experiments.sweep.run_sweep`, fresh folders each time) runs on
the local process pool with 1 and 2 workers and on a local Ray with 2 CPUs.
Speed-up is serial time over parallel time (on 2 cores, 2 is the ceiling);
Ray's overhead per run is (Ray time - 2-worker pool time) / runs, and Ray's
start-up is timed apart. Every backend must give the same results, run by
run, which this script checks as well.
"""

import argparse
import json
import pathlib
import statistics
import tempfile
import time

from gridlab.experiments import sweep

AGENTS = ('q-learning', 'sarsa', 'random', 'nfq')
TASKS = ('simple', 'obstacle')


def timed_sweep(root: pathlib.Path, seeds: str, steps: int, **backend) -> float:
    start = time.perf_counter()
    result = sweep.run_sweep(AGENTS, TASKS, seeds, root, steps=steps, progress=False,
                             aggregate=False, **backend)
    seconds = time.perf_counter() - start
    if result.failed:
        raise RuntimeError(f'{len(result.failed)} runs failed: {result.failed[:1]}')
    return seconds


def outcomes(root: pathlib.Path) -> dict:
    """Each run's training steps and final greedy mean return, by folder."""
    found = {}
    for path in sorted(root.rglob('summary.json')):
        summary = json.loads(path.read_text())
        found[str(path.parent.relative_to(root))] = (
            summary['training']['steps'], summary['evaluation']['mean_return'])
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description='sweep wall time per backend')
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    seeds, steps, repeats = ('0-1', 200, 1) if args.quick else ('0-9', 2_000, args.repeats)
    runs = len(AGENTS) * len(TASKS) * len(sweep.parse_seeds(seeds))
    print(f'{len(AGENTS)} agents x {len(TASKS)} tasks x seeds {seeds} = {runs} runs of '
          f'{steps:,} steps; medians of {repeats}\n')
    import ray
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start

    @ray.remote(num_cpus=1)
    def warm_up():
        import gridlab.experiments.sweep  # noqa: F401  Each worker imports gridlab and torch once.
        import torch  # noqa: F401
    start = time.perf_counter()
    ray.get([warm_up.remote() for _ in range(4)])
    ray_warm_up = time.perf_counter() - start
    backends = {'serial (1 worker)': dict(workers=1), 'pool (2 workers)': dict(workers=2),
                'ray (2 CPUs)': dict(backend='ray', workers=2)}
    rows, results = [], {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            times = {name: [] for name in backends}
            for repeat in range(repeats):
                for name, options in backends.items():
                    root = pathlib.Path(folder) / f'{repeat}-{name.split()[0]}'
                    times[name].append(timed_sweep(root, seeds, steps, **options))
                    results[name] = outcomes(root)
    finally:
        ray.shutdown()
    identical = len({json.dumps(r, sort_keys=True) for r in results.values()}) == 1
    serial = statistics.median(times['serial (1 worker)'])
    print(f'{"backend":<20} {"seconds":>9} {"speed-up":>9} {"per run (s)":>12}')
    for name in backends:
        seconds = statistics.median(times[name])
        rows.append(dict(backend=name, seconds=seconds, speed_up=serial / seconds,
                         seconds_per_run=seconds / runs))
        print(f'{name:<20} {seconds:>9.2f} {serial / seconds:>8.2f}x '
              f'{seconds / runs:>12.3f}')
    overhead = (statistics.median(times['ray (2 CPUs)']) -
                statistics.median(times['pool (2 workers)'])) / runs
    print(f'\nRay start-up, not counted above: ray.init {ray_start:.1f} s, workers '
          f'importing gridlab and torch {ray_warm_up:.1f} s; Ray overhead per run beside '
          f'the 2-worker pool: {overhead * 1000:+.0f} ms')
    print(f'every backend gave the same result for every run: {identical}')
    if not identical:
        raise RuntimeError('backends disagree: see the results above')
    rows.append(dict(backend='Ray start-up', seconds=ray_start + ray_warm_up))
    return rows


if __name__ == '__main__':
    main()
