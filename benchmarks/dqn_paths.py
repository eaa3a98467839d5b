"""DQN from each task's fixed start: does its greedy policy walk a shortest path?

    python benchmarks/dqn_paths.py            # full run (tens of minutes)
    python benchmarks/dqn_paths.py --quick    # a smoke run (used by the tests)

DQN learns on `four_rooms`, `cliff` and `maze`, at the tasks' own discount
(0.9), from the task's fixed start (no exploring starts), collecting from N
copies of a `BatchedGridWorld` through `DQN.train`. Every `--check-every` environment
steps its greedy policy is judged: solved when the greedy return from the
start equals max_a Q*(start, a) (`gridlab.evaluation.judging.greedy_return_from_start`
against value iteration at the agent's effective discount), i.e. the greedy
episode is a shortest path.

Three configurations: DQN at its defaults from GRID observations (one
copy, which is the run loop's training exactly); DQN with the count-based
exploration option (`count_bonus`, see agents/nfq.py) collecting from
8 copies, with an MLP on the GRID observation; and 'table', the same
exploring with Q a table: no hidden layers on one-hot observations
(AGENT_ONEHOT), learned by plain gradient descent (`optimizer='sgd'`).
Each row: seeds solved, median environment steps (an unsolved seed counts
its whole budget), and median training seconds on two clocks, process CPU
time and wall time (the judging is excluded from both), then each seed's
steps. The machine is shared, so seconds are noisy; steps are
deterministic for a seed, and counted at the checks (every ~2,000 steps).

Measured (5 seeds, a 2-core machine shared with other jobs): at its
defaults, from one copy, DQN walks a shortest path on four_rooms 5/5
(median 5,942 steps) and on cliff 2/5 and maze 0/5 within 10k steps; with
the bonus, from 8 copies, four_rooms 5/5 (7,967) and cliff 5/5 (9,958), but
maze 0/5: every cell is seen within 8k steps, yet after 32k steps the
greedy policy still loops near the start, where Q* is about 0.009, the gaps
between actions about 0.002, and the MLP's errors tens of times those gaps
(seed 0). With the table, all three 5/5 within 100k steps: four_rooms
median 3,984 steps (4.6 s CPU, 4.6 s wall), cliff 1,992 (1.9 s, 1.9 s),
maze 9,960 (13.7 s, 13.8 s; the seeds 9,960 to 11,952).

Why the table and plain gradient descent (seed 0 of maze; what failed, and
how far Q(start) stayed from Q*): a linear layer on the GRID observation
with Adam (lr 1e-3, Huber) 0.07 to 0.4 off from 28k to 44k steps, and with
lr decaying from 3e-3 toward 1e-5 (MSE) 0.7 off at 20k (stopped there);
with Adagrad (lr 1, MSE) a loss of 1e-5 yet 0.25 off at 44k (its steps
shrink before Q arrives); plain gradient descent on GRID diverges (lr 0.03)
or barely moves (lr 0.01: 5.6 off at 24k), since a fixed task's walls and
goal channels are the same in every state: 240 inputs that act as one bias
with 240 times a cell's step. On the one-hot cell alone, each transition moves its
own entry, by half its TD error (lr 8, batch 32), and Q reaches the
Bellman fixed point to the precision the path needs.
"""

import argparse
import statistics

import numpy as np
import torch

import _common  # benchmarks/_common.py, beside this file
import gridlab
from agents.dqn import DQN
from gridlab.evaluation import judging
from gridlab.envs.batched import BatchedGridWorld

TASKS = ('four_rooms', 'cliff', 'maze')
OBS = gridlab.ObservationType

# name: (copies collected from at once, observation type, DQN arguments)
CONFIGURATIONS = {
    'default': (1, OBS.GRID, {}),
    # A strong bonus (the goal pays 10; a weaker one loses to the network's
    # early guesses) with E planned over its long horizon pulls the agent to
    # the far side of the maze; epsilon low, since the bonus explores; an
    # MLP on the flattened grid (no convolution), cheaper, and free to learn
    # each cell's values as a table would.
    'bonus': (8, OBS.GRID, dict(count_bonus=10., epsilon=0.1, conv_channels=())),
    # The bonus's exploring, and a table for Q: a linear network without
    # hidden layers on the one-hot cell (see make_q_network), learned by
    # plain gradient descent on the squared TD error, whose steps shrink
    # with the errors, so Q settles on the Bellman fixed point to the
    # precision the maze needs (Q* ~ 0.009 near the start, gaps ~ 0.002);
    # Adam's steps stay about the learning rate whatever the errors. A
    # transition sampled once moves its Q-value by 2 * 8 / 32 = 0.5 of its
    # TD error.
    'table': (8, OBS.AGENT_ONEHOT, dict(
        count_bonus=10., epsilon=0.1, hidden_sizes=(), optimizer='sgd',
        learning_rate=8., loss='mse', max_grad_norm=None)),
}


def train_until_shortest_path(task, seed, num_envs, observation_type, settings, budget,
                              check_every):
    """Trains one DQN; returns solved, steps, CPU and wall seconds of training."""
    environment = BatchedGridWorld.from_task(task, num_envs, seed=seed,
                                             observation_type=observation_type)
    judge_env = environment.environment
    agent = DQN(environment.single_environment_spec(), seed=seed, **settings)
    q_star = judging.optimal_q_values(judge_env, gridlab.agent_discount(agent))
    best = float(np.nanmax(q_star[judge_env.start_state]))
    steps, clock = 0, _common.Clock()
    batch_steps = max(1, check_every // num_envs)
    while steps < budget:
        with clock:
            summary = agent.train(environment, num_envs * min(
                batch_steps, -(-(budget - steps) // num_envs)))
        steps += summary.transitions
        achieved = judging.greedy_return_from_start(judge_env, agent)
        if achieved >= best - 1e-4 * max(1., abs(best)):
            return True, steps, clock.cpu, clock.wall
    return False, min(steps, budget), clock.cpu, clock.wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--tasks', nargs='*', default=list(TASKS), choices=list(gridlab.TASKS))
    parser.add_argument('--configurations', nargs='*', default=list(CONFIGURATIONS),
                        choices=list(CONFIGURATIONS))
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--budget', type=int, default=100_000,
                        help='environment steps per seed')
    parser.add_argument('--check-every', type=int, default=2_000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tasks = ['cliff'] if args.quick else args.tasks
    seeds = range(1 if args.quick else args.seeds)
    budget = 400 if args.quick else args.budget
    check_every = 200 if args.quick else args.check_every
    print(f'torch {torch.__version__}, {torch.get_num_threads()} thread; medians over '
          f'{len(seeds)} seed(s); solved = greedy episode from the start is a shortest path')
    print(f'{"configuration and task":<26} {"solved":>7} {"median steps":>13} '
          f'{"CPU s":>8} {"wall s":>8} {"budget":>9}', flush=True)
    rows = []
    for name in args.configurations:
        num_envs, observation_type, settings = CONFIGURATIONS[name]
        for task in tasks:
            results = [train_until_shortest_path(task, seed, num_envs, observation_type,
                                                 settings, budget, check_every)
                       for seed in seeds]
            row = dict(label=f'DQN ({name}, N={num_envs}) {task}', configuration=name,
                       task=task, solved=sum(r[0] for r in results), seeds=len(seeds),
                       steps=statistics.median(r[1] for r in results),
                       cpu_seconds=statistics.median(r[2] for r in results),
                       wall_seconds=statistics.median(r[3] for r in results),
                       budget=budget)
            rows.append(row)
            print(f'{row["label"]:<26} {row["solved"]:>3}/{row["seeds"]:<3} '
                  f'{row["steps"]:>13,.0f} {row["cpu_seconds"]:>8.1f} '
                  f'{row["wall_seconds"]:>8.1f} {budget:>9,}', flush=True)
            row['steps_per_seed'] = [r[1] for r in results]
            print(f'{"":<4}steps per seed: ' + ', '.join(
                f'{r[1]:,}' + ('' if r[0] else ' (unsolved)') for r in results), flush=True)
    return rows


if __name__ == '__main__':
    main()
