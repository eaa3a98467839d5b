"""Policy-based agents on CartPole-v1: steps and seconds to solve, over 5 seeds.

    python benchmarks/policy_agents.py            # full run, about a minute
    python benchmarks/policy_agents.py --quick    # smoke run (used by the tests)

Solved: the greedy policy's mean return over 20 evaluation episodes (on a
separately seeded environment) is at least 475. Evaluation starts once the
last 10 training episodes average 400 and is not counted in the seconds.
Also: steps until the greedy episode from the start of GridWorld `simple`
(AGENT_GOAL_POS observations) is the shortest path. Medians are over all
seeds; a seed that does not solve counts with the whole budget.

Reference points, on this machine class: Stable-Baselines3 PPO
with its defaults solves CartPole (same criterion) in 20k steps and about 14 s;
a classic Keras policy-gradient tutorial reaches a mean of 178 after 150
iterations of 10 episodes.
"""

import argparse
import statistics
import time

import numpy as np
import torch

import gridlab
from gridlab.envs.catalogue import evaluation_seed
from agents import ActorCriticAgent, PolicyGradientAgent

AGENTS = {'REINFORCE': PolicyGradientAgent, 'ActorCritic': ActorCriticAgent}


def evaluation_return(environment, agent, episodes=20) -> float:
    log = gridlab.InMemoryLogger()
    gridlab.evaluate(environment, agent, episodes, logger=log, render=False)
    return float(np.mean([row['episode_return'] for row in log.data]))


def solve_cartpole(agent_class, seed, budget):
    """(solved, steps, seconds) for one seed."""
    env, spec = gridlab.setup_environment(gridlab.GymnasiumWrapper('CartPole-v1',
                                                                   seed=seed))
    eval_env, _ = gridlab.setup_environment(
        gridlab.GymnasiumWrapper('CartPole-v1', seed=evaluation_seed(seed)))
    agent = agent_class(spec, seed=seed)
    loop = gridlab.EnvironmentLoop(env, agent, logger=gridlab.NoOpLogger(),
                                   progress=False)
    steps, seconds, recent = 0, 0., []
    while steps < budget:
        start = time.perf_counter()
        result = loop.run_episode(max_steps=budget - steps)
        seconds += time.perf_counter() - start
        steps += result['episode_length']
        recent = (recent + [result['episode_return']])[-10:]
        if np.mean(recent) >= 400 and evaluation_return(eval_env, agent) >= 475:
            return True, steps, seconds
    return False, steps, seconds


def shortest_path_on_simple(agent_class, seed, budget):
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=gridlab.ObservationType.AGENT_GOAL_POS, seed=seed))
    return gridlab.train_until_optimal(env, agent_class(spec, seed=seed), budget,
                                       check_every=50, from_start=True)[:3]


def _row(name, task, results, seeds, budget):
    row = dict(agent=name, task=task, solved=sum(r[0] for r in results), seeds=seeds,
               budget=budget, steps=statistics.median(r[1] for r in results),
               seconds=statistics.median(r[2] for r in results),
               steps_per_second=statistics.median(r[1] / r[2] for r in results))
    print(f'{name:<12} {task:<12} {row["solved"]:>5}/{seeds} {row["steps"]:>8,.0f} '
          f'{row["seconds"]:>8.2f} {row["steps_per_second"]:>8,.0f}', flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description='policy agents: steps to solve')
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = 1 if args.quick else args.seeds
    budget = 300 if args.quick else 300_000
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads; medians '
          f'over {seeds} seed(s)\n')
    print(f'{"agent":<12} {"task":<12} {"solved":>7} {"steps":>8} {"seconds":>8} '
          f'{"steps/s":>8}')
    rows = []
    for name, agent_class in AGENTS.items():
        rows.append(_row(name, 'CartPole-v1', [solve_cartpole(agent_class, seed, budget)
                                               for seed in range(seeds)], seeds, budget))
        path_budget = min(budget, 60_000)
        rows.append(_row(name, 'simple path', [
            shortest_path_on_simple(agent_class, seed, path_budget)
            for seed in range(seeds)], seeds, path_budget))
    return rows


if __name__ == '__main__':
    main()
