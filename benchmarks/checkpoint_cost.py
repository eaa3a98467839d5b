"""What a run's checkpoint costs: milliseconds per checkpoint, and the share
of training time that the default (one every 60 s) takes.

    python benchmarks/checkpoint_cost.py            # 21 checkpoints per agent
    python benchmarks/checkpoint_cost.py --quick    # a smoke run (used by the tests)

A checkpoint is what a run writes so that `gridlab train --resume` can go on
after a kill: agent.pt (saved, read back and checked before it replaces the
last one, then flushed to disk) and run_state.json, committed as one unit
(`gridlab.experiments.run_folder.commit_checkpoint`). Each agent is built as
`gridlab train` builds it, on its usual task, and checkpointed into a fresh
run folder; the figure is the median wall time over the repeats. Beside it,
in the same run, the time of the agent's own `save` to one file (also
atomic, read back and flushed): the rest is run_state.json and the commit.
On this VM the flushes to disk (fsync), not the serialisation, dominate.

Measured (2-core VM, other jobs running): 22-29 ms per checkpoint for
q-learning on maze, PPO and actor-critic on CartPole, 56-108 ms for DQN on
simple (609 KiB); at the default of one per 60 s, under 0.2 % of training.
"""

import argparse
import pathlib
import statistics
import tempfile
import time

from gridlab.experiments import run as run_lib
from gridlab.experiments.config import RunConfig
from gridlab.experiments.periodic import CHECKPOINT_SECONDS

CASES = (('q-learning', 'maze'), ('dqn', 'simple'), ('ppo', 'CartPole-v1'),
         ('actor-critic', 'CartPole-v1'))


def measure(agent: str, task: str, repeats: int) -> dict:
    config = RunConfig.create(agent, task, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        run = run_lib.Run(config, pathlib.Path(folder), {})
        times, saves = [], []
        for i in range(repeats):
            start = time.perf_counter()
            run.save_checkpoint(total_steps=i, episodes=i)
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            run.actor.save(pathlib.Path(folder) / 'alone.pt')
            saves.append(time.perf_counter() - start)
        size = (pathlib.Path(folder) / 'agent.pt').stat().st_size
    milliseconds = 1000 * statistics.median(times)
    return {'agent': f'{agent} on {task}', 'milliseconds': milliseconds,
            'save_ms': 1000 * statistics.median(saves),
            'kilobytes': size / 1024,
            'percent_of_training': 100 * milliseconds / 1000 / CHECKPOINT_SECONDS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='3 checkpoints per agent')
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 21
    rows = []
    print(f"{'agent':<28} {'ms/checkpoint':>14} {'agent.save ms':>14} {'KiB':>8} "
          f"{'% at 1/60 s':>12}")
    for agent, task in CASES:
        row = measure(agent, task, repeats)
        rows.append(row)
        print(f"{row['agent']:<28} {row['milliseconds']:>14.2f} "
              f"{row['save_ms']:>14.2f} {row['kilobytes']:>8.0f} "
              f"{row['percent_of_training']:>12.4f}")
    return rows


if __name__ == '__main__':
    main()
