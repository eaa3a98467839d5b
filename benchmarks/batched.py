"""How fast many GridWorld copies step as arrays: figures, not pass/fail.

    python benchmarks/batched.py            # full run, a few minutes
    python benchmarks/batched.py --quick    # a smoke run (used by the tests)

Side by side in one run, on the `simple` task (9x10, truncation at 200 steps)
with random actions drawn in advance: one GridWorld stepped in a Python loop,
Gymnasium's SyncVectorEnv over `as_gymnasium` copies, and `BatchedGridWorld`
with 1 to 64k copies, for STATE_INDEX and GRID observations. Each figure is a
median over 5 seeds (the environment's and the actions'). Env-steps/s count
every copy's step. Two clocks: wall time, and the process's CPU time (numpy
runs on one core, so CPU time is one core's work; on a machine shared with
other jobs the wall clock also counts time spent waiting for a core, and the
CPU clock is the steadier figure of the two). Peak memory is what numpy
allocated (tracemalloc) while building the batch and stepping it, in a run
apart from the timed ones.
"""

import argparse
import statistics
import time
import tracemalloc

import gymnasium
import numpy as np

import gridlab
from gridlab.envs.batched import BatchedGridWorld

TASK = 'simple'
SIZES = (1, 16, 256, 4096, 16384, 65536)


def _median_rates(run, seeds):
    """Medians of (wall, cpu) env-steps/s over seeds; `run(seed)` -> (steps, wall, cpu)."""
    walls, cpus = [], []
    for seed in seeds:
        steps, wall, cpu = run(seed)
        walls.append(steps / wall)
        cpus.append(steps / max(cpu, 1e-9))
    return statistics.median(walls), statistics.median(cpus)


def _clocked(loop):
    wall, cpu = time.perf_counter(), time.process_time()
    loop()
    return time.perf_counter() - wall, time.process_time() - cpu


def single_gridworld(num_steps: int, seeds):
    def run(seed):
        env = gridlab.build_gridworld_task(TASK, seed=seed)
        actions = np.random.default_rng(seed).integers(0, 4, num_steps).tolist()
        env.reset()
        step = env.step

        def loop():
            for action in actions:
                step(action)
        return (num_steps,) + _clocked(loop)
    return _median_rates(run, seeds)


def sync_vector_env(num_envs: int, num_steps: int, seeds):
    def run(seed):
        env = gymnasium.vector.SyncVectorEnv(
            [lambda: gridlab.as_gymnasium(gridlab.build_gridworld_task(TASK))
             for _ in range(num_envs)])
        env.reset(seed=seed)
        actions = np.random.default_rng(seed).integers(0, 4, (num_steps, num_envs))

        def loop():
            for action in actions:
                env.step(action)
        return (num_steps * num_envs,) + _clocked(loop)
    return _median_rates(run, seeds)


def batched(num_envs: int, observation_type, env_steps: int, seeds):
    """(wall rate, cpu rate, peak MiB) of a BatchedGridWorld.

    Peak memory is measured in a run of its own: tracemalloc slows every
    allocation, which would count against the timed runs.
    """
    def make(seed):
        env = BatchedGridWorld.from_task(TASK, num_envs, seed=seed,
                                         observation_type=observation_type)
        pool = np.random.default_rng(seed).integers(0, 4, (16, num_envs)).astype(np.int32)
        env.reset()
        return env.step, pool

    def run(seed):
        step, pool = make(seed)
        steps = min(20_000, max(10, env_steps // num_envs))

        def loop():
            for i in range(steps):
                step(pool[i & 15])
        wall, cpu = _clocked(loop)
        return steps * num_envs, wall, cpu
    wall, cpu = _median_rates(run, seeds)
    tracemalloc.start()
    step, pool = make(0)
    for i in range(32):
        step(pool[i & 15])
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return wall, cpu, peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    args = parser.parse_args(argv)
    if args.quick:
        seeds, single_steps, sync_steps, env_steps, sizes = range(2), 1_000, 20, 2_000, (1, 256)
    else:
        seeds, single_steps, sync_steps, env_steps, sizes = (
            range(5), 200_000, 2_000, 10_000_000, SIZES)

    print(f'Task {TASK!r}, random actions; env-steps/s, median over {len(seeds)} seeds; '
          'wall clock and CPU time (one core)')
    rows = []
    single_wall, single_cpu = single_gridworld(single_steps, seeds)
    sync_wall, sync_cpu = sync_vector_env(16, sync_steps, seeds)
    for name, wall, cpu in (('one GridWorld (Python loop)', single_wall, single_cpu),
                            ('SyncVectorEnv over as_gymnasium, 16', sync_wall, sync_cpu)):
        print(f'{name:<40} {wall:>14,.0f} {cpu:>14,.0f}')
        rows.append({'environment': name, 'wall_steps_per_s': wall,
                     'cpu_steps_per_s': cpu})

    print(f'\n{"BatchedGridWorld":<22}{"copies":>8} {"wall steps/s":>14} {"CPU steps/s":>14} '
          f'{"peak MiB":>9} {"vs one (CPU)":>13} {"vs Sync (CPU)":>14}')
    best = {}
    for kind in (gridlab.ObservationType.STATE_INDEX, gridlab.ObservationType.GRID):
        for n in sizes:
            wall, cpu, peak = batched(n, kind, env_steps, seeds)
            best[kind.name] = max(best.get(kind.name, (0, 0)), (cpu, wall))
            print(f'{kind.name:<22}{n:>8,} {wall:>14,.0f} {cpu:>14,.0f} {peak:>9.1f} '
                  f'{cpu / single_cpu:>12.0f}x {cpu / sync_cpu:>13.0f}x')
            rows.append({'environment': f'BatchedGridWorld {kind.name}', 'copies': n,
                         'wall_steps_per_s': wall, 'cpu_steps_per_s': cpu,
                         'peak_mib': peak, 'vs_one_cpu': cpu / single_cpu,
                         'vs_sync_cpu': cpu / sync_cpu})
    print('\nBest over copies (CPU clock, wall clock): ' + '; '.join(
        f'BatchedGridWorld {name} {cpu / 1e6:.1f} M/s, {wall / 1e6:.1f} M/s'
        for name, (cpu, wall) in best.items()))
    return rows


if __name__ == '__main__':
    main()
