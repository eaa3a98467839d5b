"""Value-based agents: how many steps and seconds until the greedy policy is
optimal on every free cell (judged by planning's Q*), over 5 seeds.

    python benchmarks/value_agents.py            # full run, a few minutes
    python benchmarks/value_agents.py --quick    # smoke run (used by the tests)

Seconds are training time (the optimality checks are excluded); steps/s is
training throughput (acting, storing and learning). Tabular agents train with
exploring starts (episodes from every free cell in turn); the neural agents
from the task's fixed start. Figures are medians over seeds; a seed that does
not solve within the budget counts with the whole budget.

Reference points, measured on this machine class on `simple`: the classic
tutorial-sized NFQ (MLP 4-50-50-4, epsilon 0.6, batch 10, lr 1e-3)
takes a median of about 4,500 steps and 5 s at ~900 training steps/s.
"""

import argparse
import functools
import statistics

import torch

import gridlab
from agents import DQN, SARSA, NeuralFittedQAgent, QLearning

OBS = gridlab.ObservationType

# name: (make agent, observation type, exploring starts, step budget)
AGENTS = {
    'QLearning': (QLearning, OBS.STATE_INDEX, True, 30_000),
    'SARSA': (SARSA, OBS.STATE_INDEX, True, 30_000),
    'NFQ': (NeuralFittedQAgent, OBS.AGENT_GOAL_POS, False, 20_000),
    # Our NFQ at the classic tutorial's settings, for the throughput comparison.
    'NFQ (seed)': (functools.partial(NeuralFittedQAgent, hidden_sizes=(50, 50),
                                     epsilon=0.6, batch_size=10, learning_rate=1e-3),
                   OBS.AGENT_GOAL_POS, False, 20_000),
    'DQN (grid)': (DQN, OBS.GRID, False, 20_000),
}
TASKS = ('simple', 'obstacle')


def run(make_agent, observation_type, exploring_starts, budget, task, seed):
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        task, observation_type=observation_type, seed=seed))
    return gridlab.train_until_optimal(env, make_agent(spec, seed=seed), budget,
                                       exploring_starts=exploring_starts)


def pixels_to_shortest_path(seed, budget):
    """DQN from RGB on `simple`, judged on its greedy episode from the start."""
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=OBS.RGB, seed=seed))
    return gridlab.train_until_optimal(env, DQN(spec, seed=seed), budget,
                                       from_start=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description='steps and seconds to optimal')
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (1 is fastest for networks this small)')
    args = parser.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads; '
          f'medians over {seeds} seed(s)\n')
    print(f'{"agent":<11} {"task":<9} {"solved":>7} {"steps":>8} {"seconds":>8} '
          f'{"steps/s":>8}')
    rows = []
    for name, (make_agent, observation, exploring, budget) in AGENTS.items():
        if args.quick:
            budget = 300
        for task in TASKS:
            results = [run(make_agent, observation, exploring, budget, task, seed)
                       for seed in range(seeds)]
            solved = sum(r.solved for r in results)
            steps = statistics.median(r.steps for r in results)
            seconds = statistics.median(r.seconds for r in results)
            rate = statistics.median(r.steps / r.seconds for r in results)
            print(f'{name:<11} {task:<9} {solved:>5}/{seeds} {steps:>8,.0f} '
                  f'{seconds:>8.2f} {rate:>8,.0f}', flush=True)
            rows.append(dict(agent=name, task=task, solved=solved, seeds=seeds,
                             budget=budget, steps=steps, seconds=seconds,
                             steps_per_second=rate))
    budget = 500 if args.quick else 15_000
    results = [pixels_to_shortest_path(seed, budget) for seed in range(seeds)]
    row = dict(agent='DQN (rgb)', task='simple*', solved=sum(r.solved for r in results),
               seeds=seeds, budget=budget,
               steps=statistics.median(r.steps for r in results),
               seconds=statistics.median(r.seconds for r in results),
               steps_per_second=statistics.median(r.steps / r.seconds for r in results))
    print(f'{row["agent"]:<11} {row["task"]:<9} {row["solved"]:>5}/{seeds} '
          f'{row["steps"]:>8,.0f} {row["seconds"]:>8.2f} {row["steps_per_second"]:>8,.0f}')
    rows.append(row)
    print('\n* from pixels the criterion is an optimal greedy episode from the '
          'start state; every other row: optimal on every free cell.')
    return rows


if __name__ == '__main__':
    main()
