"""Count-based exploration for the neural Q agents (`count_bonus`).

The shared exploration values (`CountBasedExploration`) are checked against
the update written out by hand; the DQN option against what it promises
(it steers training only, never Q or greedy actions; it is off by default;
it saves and restores); and, slowly, against planning: from each task's
fixed start, DQN's greedy episode becomes a shortest path.
"""

import dm_env
import numpy as np
import pytest
import torch

import gridlab
from agents import DQN, NeuralFittedQAgent
from agents.common.exploration import CountBasedExploration
from gridlab.evaluation import judging
from gridlab.envs.batched import BatchedGridWorld

OBS = gridlab.ObservationType


def setup(task='simple', observation_type=OBS.GRID, **kwargs):
    return gridlab.setup_environment(gridlab.build_gridworld_task(
        task, observation_type=observation_type, **kwargs))


def test_exploration_values_follow_the_update_by_hand():
    e = CountBasedExploration(num_actions=2, bonus=2., discount=0.5, step_size=1.)
    untried = 2. / (1. - 0.5)  # The most E can be: c / (1 - discount).
    assert list(e.values('a')) == [untried, untried]
    e.observe('a', 0, 'b', bootstrap=True)  # N = 1: 2 / 1 + 0.5 * 4 (b untried).
    assert e.values('a')[0] == 4.
    e.observe('b', 1, 'a', bootstrap=False)  # A termination: the bonus alone.
    assert list(e.values('b')) == [untried, 2.]
    e.observe('a', 0, 'b', bootstrap=True)  # N = 2: 2 / sqrt(2) + 0.5 * max(4, 2).
    assert e.values('a')[0] == pytest.approx(np.sqrt(2.) + 2.)
    assert list(e.counts('a')) == [2., 0.] and len(e) == 2
    half = CountBasedExploration(2, bonus=2., discount=0.5, step_size=0.5)
    half.observe('a', 1, 'a', bootstrap=True)  # 4 + 0.5 * (2 + 0.5 * 4 - 4).
    assert half.values('a')[1] == 4.


def test_planning_carries_the_pull_of_an_untried_pair_back_along_a_path():
    # A chain a -> b -> c with action 0; c never acted in (worth the untried
    # value U). When b's value changes, one update per step leaves E(a, 0)
    # as it was until a is tried again; planning moves it at once.
    e = CountBasedExploration(num_actions=2, bonus=1., discount=0.5)
    untried = 1. / (1. - 0.5)
    e.observe('a', 0, 'b', bootstrap=True)   # b unseen: 1 + 0.5 * U = 2.
    e.observe('b', 0, 'c', bootstrap=True)   # 1 + 0.5 * U = 2.
    e.observe('b', 1, 'b', bootstrap=False)  # Terminated: 1.
    assert e.values('a')[0] == 2.
    e.plan(tolerance=0.)
    assert e.values('b')[0] == 1. + 0.5 * untried
    # a's best successor value is max E(b) = max(2, 1) = 2: 1 + 0.5 * 2.
    assert e.values('a')[0] == 1. + 0.5 * 2.
    assert e.values('a')[1] == untried  # Untried pairs keep the untried value.
    e.observe('b', 0, 'c', bootstrap=True)  # N(b, 0) = 2: 1/sqrt(2) + 0.5 U.
    e.plan(tolerance=0.)
    assert e.values('a')[0] == pytest.approx(1. + 0.5 * (2. ** -0.5 + 0.5 * untried))


def test_bad_exploration_arguments_are_named():
    _, spec = setup()
    with pytest.raises(ValueError, match='count_bonus'):
        DQN(spec, count_bonus=-1.)
    with pytest.raises(ValueError, match='bonus_discount'):
        DQN(spec, count_bonus=1., bonus_discount=1.)
    with pytest.raises(ValueError, match='count_bonus'):
        CountBasedExploration(4, bonus=0.)
    with pytest.raises(ValueError, match='bonus_planning_every'):
        DQN(spec, count_bonus=1., bonus_planning_every=-1)


def test_the_bonus_is_off_by_default_and_then_changes_nothing():
    def run(**kwargs):
        env, spec = setup(seed=0)
        agent = DQN(spec, seed=3, **kwargs)
        returns = gridlab.run_loop(env, agent, num_steps=300,
                                   logger=gridlab.NoOpLogger(), progress=False)
        return agent, returns, agent.q_values(env.reset().observation)
    default, returns, q = run()
    assert default.exploration is None
    _, returns_zero, q_zero = run(count_bonus=0.)
    assert returns == returns_zero
    np.testing.assert_array_equal(q, q_zero)
    _, returns_bonus, _ = run(count_bonus=1., epsilon=0.)
    assert returns_bonus != returns  # The option does steer training.


def test_training_heads_for_untried_actions_but_greedy_actions_ignore_the_bonus():
    env, spec = setup(seed=0)
    agent = DQN(spec, seed=0, count_bonus=1., epsilon=0.)
    start = env.reset()
    # The network's own choice at the start, and its values.
    with gridlab.evaluation_mode(agent):
        greedy = agent.select_action(start.observation)
    q = agent.q_values(start.observation)
    tried = []
    for _ in range(4):  # Each try: a made-up termination back at the start.
        agent.observe_first(start)
        action = agent.select_action(start.observation)
        tried.append(action)
        # A termination back at the start: E(start, action) = c alone, far
        # below an untried pair's c / (1 - 0.99), so the next try differs.
        agent.observe(action, dm_env.termination(0., start.observation))
    assert sorted(tried) == [0, 1, 2, 3]
    np.testing.assert_array_equal(agent.q_values(start.observation), q)
    with gridlab.evaluation_mode(agent):
        assert agent.select_action(start.observation) == greedy


def test_batched_training_learns_exploration_from_every_copy():
    environment = BatchedGridWorld.from_task('cliff', 4, seed=0, observation_type=OBS.GRID)
    agent = DQN(environment.single_environment_spec(), seed=0, count_bonus=1.,
                epsilon=0.)
    summary = agent.train(environment, 100)  # 25 batch steps of 4 copies.
    assert agent.exploration.total_count == summary.transitions > 0
    # Four copies heading for untried pairs spread out: more than one state seen.
    assert len(agent.exploration) > 5


def test_exploration_values_are_saved_and_restored(tmp_path):
    env, spec = setup(seed=0)
    agent = DQN(spec, seed=0, count_bonus=1.)
    gridlab.run_loop(env, agent, num_steps=150, logger=gridlab.NoOpLogger(),
                     progress=False)
    agent.save(tmp_path / 'agent.pt')
    restored = DQN(spec, seed=1, count_bonus=1.)
    restored.restore(tmp_path / 'agent.pt')
    observation = env.reset().observation
    np.testing.assert_array_equal(restored.exploration_values(observation),
                                  agent.exploration_values(observation))
    np.testing.assert_array_equal(restored.exploration_counts(observation),
                                  agent.exploration_counts(observation))
    assert restored.exploration_counts(observation).sum() > 0
    assert len(restored.exploration) == len(agent.exploration) > 1
    plain = DQN(spec, seed=0)
    plain.save(tmp_path / 'plain.pt')
    with pytest.raises(ValueError, match='exploration'):
        DQN(spec, seed=0, count_bonus=1.).restore(tmp_path / 'plain.pt')


# Learning, judged by planning. ----------------------------------------------------

def shortest_path_after(task, seed, budget, num_envs=8, check_every=1_000,
                        observation_type=OBS.GRID, **settings):
    """Trains DQN with the bonus from the fixed start; True once its greedy
    episode from the start is optimal (planning's Q*), and the steps taken."""
    torch.set_num_threads(1)
    environment = BatchedGridWorld.from_task(task, num_envs, seed=seed,
                                             observation_type=observation_type)
    judge_env = environment.environment
    agent = DQN(environment.single_environment_spec(), seed=seed, **settings)
    best = float(np.nanmax(judging.optimal_q_values(judge_env)[judge_env.start_state]))
    steps = 0
    while steps < budget:
        steps += agent.train(environment, num_envs * (check_every // num_envs)).transitions
        if judging.greedy_return_from_start(judge_env, agent) >= best - 1e-4:
            return True, steps
    return False, steps


# Settings of benchmarks/dqn_paths.py's 'bonus' row: an MLP on the flattened
# grid, epsilon 0.1 (the bonus does the exploring).
BONUS = dict(count_bonus=10., epsilon=0.1, conv_channels=())


@pytest.mark.slow
@pytest.mark.parametrize('task, budget', [('cliff', 20_000), ('four_rooms', 20_000)])
def test_dqn_with_the_bonus_walks_a_shortest_path_from_the_fixed_start(task, budget):
    solved, steps = shortest_path_after(task, seed=0, budget=budget, **BONUS)
    assert solved, (task, steps)


# Settings of benchmarks/dqn_paths.py's 'table' row: the bonus, and a table
# for Q (no hidden layers on the one-hot cell) learned by plain gradient descent.
TABLE = dict(count_bonus=10., epsilon=0.1, hidden_sizes=(), optimizer='sgd',
             learning_rate=8., loss='mse', max_grad_norm=None)


@pytest.mark.slow
def test_dqn_with_a_table_walks_the_shortest_path_through_the_maze():
    # 202 free cells, 68 steps from the start to the goal: Q* near the start
    # is about 0.009 and the gaps between its actions about 0.002. Seed 0
    # solves at the fifth check (9,960 steps, about 15 s on one core).
    solved, steps = shortest_path_after('maze', seed=0, budget=12_000,
                                        check_every=2_000,
                                        observation_type=OBS.AGENT_ONEHOT, **TABLE)
    assert solved, steps
