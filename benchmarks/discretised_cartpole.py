"""Tabular Q-learning on binned CartPole-v1: the greedy mean return it reaches, and when.

    python benchmarks/discretised_cartpole.py            # full run, several minutes
    python benchmarks/discretised_cartpole.py --quick    # smoke run (used by the tests)

Two binnings side by side, the same agent (`agents.QLearning`, unchanged,
on `gridlab.DiscretisedObservation`):

    seed 6x12        6 angle bins in +-0.419 rad (the observation bound) x 12
                     angular-velocity bins in +-50 deg/s; cart position and
                     velocity dropped: 72 states (the classic set-up)
    all four 3x3x6x12  adds 3 position bins in +-2.4 and 3 velocity bins in
                     +-3, and uses angle bins in +-0.21 rad (where an episode
                     ends): 648 states

Q-learning: step size 0.1, epsilon 1 -> 0.01 linearly over 100k steps,
initial Q 0, agent discount 1 on the wrapper's 0.99. Every `check` steps the
greedy policy plays 10 episodes on a separately seeded environment (not
counted in the seconds). Reported per binning, medians over the seeds: the
best and the final greedy mean return (500 is the most CartPole-v1 allows),
and the steps until the greedy mean first reached 475 (CartPole-v1's
"solved"; a seed that never does counts with the whole budget). Timings are
noisy: the machine is shared.
"""

import argparse
import math
import statistics
import time
from typing import Optional, Sequence

import numpy as np

import gridlab
from gridlab.envs.catalogue import evaluation_seed
from agents import QLearning
from gridlab.core import evaluation_mode

SETUPS = {
    'seed 6x12': dict(bins=(6, 12), dimensions=(2, 3),
                      lower=(-0.41887903, -math.radians(50)),
                      upper=(0.41887903, math.radians(50))),
    'all four 3x3x6x12': dict(bins=(3, 3, 6, 12), dimensions=(0, 1, 2, 3),
                              lower=(-2.4, -3., -0.20943951, -math.radians(50)),
                              upper=(2.4, 3., 0.20943951, math.radians(50))),
}
SOLVED = 475.


def binned_cartpole(setup: str, seed: int):
    return gridlab.DiscretisedObservation(
        gridlab.GymnasiumWrapper('CartPole-v1', seed=seed), **SETUPS[setup])


def greedy_mean_return(environment, agent, episodes: int) -> float:
    returns = []
    with evaluation_mode(agent):
        for _ in range(episodes):
            timestep, total = environment.reset(), 0.
            while not timestep.last():
                timestep = environment.step(agent.select_action(timestep.observation))
                total += float(timestep.reward)
            returns.append(total)
    return float(np.mean(returns))


def train(setup: str, seed: int, budget: int, check: int, decay_steps: int,
          eval_episodes: int) -> dict:
    env = binned_cartpole(setup, seed)
    eval_env = binned_cartpole(setup, evaluation_seed(seed))
    agent = QLearning(gridlab.make_environment_spec(env), step_size=0.1, epsilon=1.,
                      final_epsilon=0.01, decay_steps=decay_steps, initial_value=0.,
                      seed=seed)
    steps, seconds, best, solved_at, mean = 0, 0., 0., None, 0.
    while steps < budget:
        start = time.perf_counter()
        gridlab.run_loop(env, agent, num_steps=check, progress=False,
                         logger=gridlab.NoOpLogger())
        seconds += time.perf_counter() - start
        steps += check
        mean = greedy_mean_return(eval_env, agent, eval_episodes)
        best = max(best, mean)
        if solved_at is None and mean >= SOLVED:
            solved_at = steps
    return dict(best=best, final=mean, solved_at=solved_at, seconds=seconds)


def main(argv: Optional[Sequence[str]] = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--seeds', type=int, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        seeds, budget, check, decay, episodes = args.seeds or 1, 2_000, 1_000, 1_000, 2
    else:
        seeds, budget, check, decay, episodes = args.seeds or 3, 150_000, 10_000, 100_000, 10
    print(f'Q-learning on binned CartPole-v1: {budget} steps, greedy check every {check} '
          f'({episodes} episodes), seeds 0..{seeds - 1}; medians over seeds')
    print(f'{"binning":>18} {"states":>6} {"best":>7} {"final":>7} '
          f'{"steps to 475":>13} {"solved":>6} {"train s":>8}')
    rows = []
    for setup in SETUPS:
        runs = [train(setup, seed, budget, check, decay, episodes) for seed in range(seeds)]
        steps = [budget if r['solved_at'] is None else r['solved_at'] for r in runs]
        row = dict(binning=setup, states=int(np.prod(SETUPS[setup]['bins'])),
                   best=statistics.median(r['best'] for r in runs),
                   final=statistics.median(r['final'] for r in runs),
                   steps=statistics.median(steps),
                   solved=sum(r['solved_at'] is not None for r in runs),
                   seeds=seeds, budget=budget,
                   seconds=statistics.median(r['seconds'] for r in runs))
        rows.append(row)
        print(f'{setup:>18} {row["states"]:>6} {row["best"]:>7.1f} {row["final"]:>7.1f} '
              f'{row["steps"]:>13.0f} {row["solved"]:>3}/{seeds:<2} {row["seconds"]:>8.1f}')
        for seed, run in enumerate(runs):
            print(f'{"":>18} seed {seed}: best {run["best"]:.1f}, final {run["final"]:.1f}, '
                  f'475 at {run["solved_at"]}, {run["seconds"]:.1f} s')
    return rows


if __name__ == '__main__':
    main()
