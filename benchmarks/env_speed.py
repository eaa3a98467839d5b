"""How fast the GridWorld steps and renders: figures, not pass/fail.

    python benchmarks/env_speed.py            # full run, ~30 s
    python benchmarks/env_speed.py --quick    # a smoke run (used by the tests)

Steps/s are for a random walk (actions drawn in advance, so the figure is the
environment's cost alone), median over repeats. The classic tutorial's GridWorld,
measured on this machine class, steps about 390k/s (STATE_INDEX) and 250k/s
(GRID) and renders a frame with matplotlib in about 24 ms.
"""

import argparse
import statistics
import time

import numpy as np

import gridlab

SEED_STEPS_PER_SECOND = {'STATE_INDEX': 390_000, 'GRID': 250_000}
SEED_RENDER_MICROSECONDS = 24_000


def steps_per_second(env, num_steps: int, repeats: int) -> float:
    actions = np.random.default_rng(0).integers(0, 4, size=num_steps).tolist()
    step = env.step
    rates = []
    for _ in range(repeats):
        env.reset()
        start = time.perf_counter()
        for action in actions:
            step(action)
        rates.append(num_steps / (time.perf_counter() - start))
    return statistics.median(rates)


def render_microseconds(env, num_frames: int, repeats: int, **kwargs) -> float:
    env.reset()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(num_frames):
            env.render(**kwargs)
        times.append((time.perf_counter() - start) / num_frames * 1e6)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    args = parser.parse_args(argv)
    num_steps, repeats, frames = (2_000, 2, 50) if args.quick else (200_000, 5, 2_000)

    print(f'GridWorld steps/s (median of {repeats}, {num_steps:,} random steps)')
    print(f'{"task":<10} {"observation":<15} {"raw":>12} {"wrapped":>12} {"vs seed":>8}')
    rows = []
    for task in ('simple', 'maze'):
        for kind in gridlab.ObservationType:
            env = gridlab.build_gridworld_task(task, observation_type=kind, seed=0)
            raw = steps_per_second(env, num_steps, repeats)
            wrapped_env, _ = gridlab.setup_environment(env)
            wrapped = steps_per_second(wrapped_env, num_steps, repeats)
            seed = SEED_STEPS_PER_SECOND.get(kind.name) if task == 'simple' else None
            ratio = f'{raw / seed:.1f}x' if seed else ''
            print(f'{task:<10} {kind.name:<15} {raw:>12,.0f} {wrapped:>12,.0f} {ratio:>8}')
            rows.append(dict(task=task, observation=kind.name, steps_per_second=raw,
                             wrapped_steps_per_second=wrapped))

    print(f'\nrender() microseconds per frame (median of {repeats}, {frames} frames)')
    for task in ('simple', 'maze'):
        env = gridlab.build_gridworld_task(task, seed=0)
        for cell_size in (32, 4):
            us = render_microseconds(env, frames, repeats, cell_size=cell_size)
            height, width = env.shape
            size = f'{height * cell_size}x{width * cell_size}'
            print(f'{task:<10} cell {cell_size:>2} px ({size:>9}): {us:8.1f} us'
                  f'   ({SEED_RENDER_MICROSECONDS / us:,.0f}x faster than the '
                  'seed\'s matplotlib frame)')
            rows.append(dict(task=task, cell_size=cell_size, render_microseconds=us))
    return rows


if __name__ == '__main__':
    main()
