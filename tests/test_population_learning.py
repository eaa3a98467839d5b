"""Populations learn as their single agents do (slow: minutes).

Over 16 seeds, the population's solve rate and median steps to solve fall
inside the 95% bootstrap intervals of the same 16 seeds trained one by one:
PPO on CartPole-v1 (solved: a greedy mean return >= 475 over 10 episodes on
the separately seeded evaluation copy) and DQN on `simple` (solved: the
greedy action optimal in every cell, judged against value iteration).
Members never stop each other: every member trains to the end, and each
one's first solved check is its steps to solve (the budget if never).
"""

import numpy as np
import pytest
import torch

import gridlab
from agents.dqn import DQN
from agents.populations import PopulationDQN, PopulationPPO
from agents.ppo import PPO
from conftest import greedy_cartpole_mean
from gridlab.core.bootstrap import bootstrap
from gridlab.envs import ObservationType
from gridlab.envs.catalogue import (batched_environment, evaluation_seed,
                                    population_environment)
from gridlab.evaluation import judging

SEEDS = list(range(16))
CASES = {
    # (single, population, task, observation, discount, copies, budget, check every,
    #  settings)
    'ppo-cartpole': (PPO, PopulationPPO, 'CartPole-v1', None, 0.99, 16, 150_000, 8_192, {}),
    # A learning step every third step, five times DQN's default step size:
    # every seed solves within 4,000 steps one by one (the defaults leave a
    # quarter unsolved at 5,000, and the population then trains to the
    # budget), at a third of the learning steps.
    'dqn-simple': (DQN, PopulationDQN, 'simple', ObservationType.GRID, 0.9, 1, 5_000, 500,
                   {'update_every': 3, 'learning_rate': 5e-3}),
}


def solved(kind: str, agent, seed: int) -> bool:
    if kind == 'ppo-cartpole':
        return greedy_cartpole_mean(agent, 10, evaluation_seed(seed)) >= 475
    env = gridlab.build_gridworld_task('simple', observation_type=ObservationType.GRID)
    return judging.optimal_fraction(env, judging.q_table(agent, env)) == 1.


def single_steps(kind: str, seed: int) -> int:
    single_class, _, task, observation, discount, copies, budget, every, settings = CASES[kind]
    env = batched_environment(task, observation, copies, seed, discount)
    agent = single_class(env.single_environment_spec(), seed=seed, **settings)
    first = [budget]
    marks = iter(range(every, budget + 1, every))
    mark = [next(marks)]

    def check(agent, steps):
        if steps >= mark[0]:
            mark[0] = next(marks, budget + 1)
            if solved(kind, agent, seed):
                first[0] = steps
                return True
        return False

    agent.train(env, budget, stop=check)
    return first[0]


def population_steps(kind: str):
    _, population_class, task, observation, discount, copies, budget, every, settings = (
        CASES[kind])
    env = population_environment(task, observation, copies, SEEDS, discount)
    population = population_class(env.single_environment_spec(), seeds=SEEDS, **settings)
    first = [budget] * len(SEEDS)
    mark = [every]

    def check(population, steps):
        steps //= len(SEEDS)  # Each member's own.
        if steps >= mark[0]:
            mark[0] = (steps // every + 1) * every
            for m, seed in enumerate(SEEDS):
                if first[m] == budget and solved(kind, population.member(m), seed):
                    first[m] = steps
        return all(f < budget for f in first)

    population.train(env, budget * len(SEEDS), stop=check)
    return first


@pytest.mark.slow
@pytest.mark.parametrize('kind', sorted(CASES))
def test_a_population_learns_as_its_single_agents_do(kind):
    torch.set_num_threads(1)
    budget = CASES[kind][6]
    alone = np.array([single_steps(kind, seed) for seed in SEEDS], float)
    together = np.array(population_steps(kind), float)
    rng = np.random.default_rng(0)
    for name, statistic in (
            ('solve rate', lambda s: (s[0] < budget).mean(axis=-1)),
            ('median steps to solve', lambda s: np.median(s[0], axis=-1))):
        estimate, low, high = bootstrap([alone], statistic, 2_000, 0.95, rng)
        ours = statistic([together[None]])[0]
        assert low <= ours <= high, (name, ours, (low, high), alone, together)
