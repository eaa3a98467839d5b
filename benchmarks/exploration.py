"""Tabular agents from the fixed start: optimal on every cell, with and without a bonus.

    python benchmarks/exploration.py            # full run (tens of minutes)
    python benchmarks/exploration.py --quick    # a smoke run (used by the tests)

Q-learning and SARSA with the count-based exploration option
(`count_bonus`, see agents/tabular.py) train on each GridWorld task
from its fixed start, with no exploring starts from the environment, until
the greedy policy on Q alone is optimal on every decision cell
(`gridlab.evaluation.judging.train_until_optimal`, judged against value iteration at the
agent's effective discount). Beside them, in the same run, the same agents at
their defaults (no bonus). Each row: seeds solved, median steps, median
training wall-clock seconds (the checks excluded) and median process CPU
seconds of the whole call (the checks included: the judge times wall clock
only) over the seeds; an unsolved seed counts its whole budget. The machine
is shared, so seconds are noisy; steps are not.
"""

import argparse
import statistics
import time

import gridlab
from agents.tabular import SARSA, QLearning
from gridlab.evaluation import judging

# The bonus settings: a strong bonus (the goal pays 10) and full TD steps,
# which are exact on these deterministic grids. Q-learning starts Q at 0 (E
# does the exploring, no optimism to unlearn); SARSA keeps its optimistic
# start, so that the segments where it follows its policy try what they
# have not tried (see agents.tabular.SARSA).
BONUS_SETTINGS = {'QLearning': dict(count_bonus=10., initial_value=0., step_size=1.),
                  'SARSA': dict(count_bonus=10., step_size=1.)}
CHECK_EVERY = 2_000


def run(agent_class, settings, task, seeds, budget):
    steps, seconds, cpu, solved = [], [], [], 0
    for seed in seeds:
        env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(task, seed=seed))
        agent = agent_class(spec, seed=seed, **settings)
        start = time.process_time()
        result = judging.train_until_optimal(env, agent, budget, check_every=CHECK_EVERY)
        cpu.append(time.process_time() - start)
        solved += result.solved
        steps.append(result.steps)
        seconds.append(result.seconds)
    return dict(solved=solved, seeds=len(seeds), steps=statistics.median(steps),
                seconds=statistics.median(seconds), cpu_seconds=statistics.median(cpu),
                budget=budget)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--tasks', nargs='*', default=list(gridlab.TASKS))
    parser.add_argument('--agents', nargs='*', default=['QLearning', 'SARSA'],
                        choices=['QLearning', 'SARSA'])
    parser.add_argument('--no-peer', action='store_true',
                        help='skip the agents without the bonus')
    args = parser.parse_args(argv)
    tasks = ['simple'] if args.quick else args.tasks
    seeds = range(1) if args.quick else range(5)
    budget = 4_000 if args.quick else 1_000_000
    configurations = [('bonus', BONUS_SETTINGS)]
    if not args.no_peer:
        configurations.append(('default', {'QLearning': {}, 'SARSA': {}}))
    print(f'{"agent and task":<40} {"solved":>7} {"median steps":>13} '
          f'{"wall s":>9} {"CPU s*":>9} {"budget":>9}', flush=True)
    rows = []
    for name, settings in configurations:
        for agent_class in [{'QLearning': QLearning, 'SARSA': SARSA}[a] for a in args.agents]:
            for task in tasks:
                label = f'{agent_class.__name__} ({name})'
                row = dict(label=f'{label} {task}', agent=label, task=task,
                           **run(agent_class, settings[agent_class.__name__], task,
                                 seeds, budget))
                rows.append(row)
                print(f'{row["label"]:<40} {row["solved"]:>3}/{row["seeds"]:<3} '
                      f'{row["steps"]:>13,.0f} {row["seconds"]:>9.1f} '
                      f'{row["cpu_seconds"]:>9.1f} {budget:>9,}', flush=True)
    print('* CPU seconds of the whole training call, the optimality checks included')
    return rows


if __name__ == '__main__':
    main()
