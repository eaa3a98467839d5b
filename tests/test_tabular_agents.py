"""Tabular Q-learning and SARSA: the update rule, and learning judged by Q*."""

import dm_env
import numpy as np
import pytest

import gridlab
from agents import SARSA, QLearning, RandomAgent

OBS = gridlab.ObservationType


def spec_for(task='simple', **kwargs):
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(task, **kwargs))
    return env, spec


def learn_row(agent, state, values, step_size):
    """Q(state, .) := values, learned from one termination per action (no bootstrap)."""
    observation = np.int32(state)
    for action, value in enumerate(values):
        start = agent.q_values(observation)[action]
        agent.observe_first(dm_env.restart(observation))
        agent.observe(action, dm_env.termination(start + (value - start) / step_size,
                                                 observation))
        agent.update()
    np.testing.assert_array_equal(agent.q_values(observation), values)


@pytest.mark.parametrize('agent_class', [QLearning, SARSA])
@pytest.mark.parametrize('task', ['simple', 'obstacle'])
def test_greedy_policy_becomes_optimal_on_every_cell(agent_class, task):
    for seed in range(5):
        env, spec = spec_for(task, seed=seed)
        result = gridlab.train_until_optimal(env, agent_class(spec, seed=seed),
                                             max_steps=30_000, exploring_starts=True)
        assert result.solved, (seed, result)


def test_q_learning_update_follows_the_formula():
    _, spec = spec_for()
    agent = QLearning(spec, step_size=0.5, initial_value=0., seed=0)
    learn_row(agent, 5, [1., 4., 2., 0.], step_size=0.5)
    agent.observe_first(dm_env.restart(np.int32(3)))
    agent.observe(2, dm_env.transition(1., np.int32(5), discount=0.9))
    agent.update()
    assert agent.q_table[3, 2] == pytest.approx(0.5 * (1. + 0.9 * 4.))
    # Termination: no bootstrap. Truncation: bootstrap with the discount.
    agent.observe_first(dm_env.restart(np.int32(3)))
    agent.observe(1, dm_env.termination(10., np.int32(5)))
    agent.update()
    assert agent.q_table[3, 1] == pytest.approx(5.)
    agent.observe_first(dm_env.restart(np.int32(3)))
    agent.observe(0, dm_env.truncation(0., np.int32(5), discount=0.9))
    agent.update()
    assert agent.q_table[3, 0] == pytest.approx(0.5 * 0.9 * 4.)


# With the bonus: start probability 1 and no travelling, so after the first
# step the agent follows its policy and each update bootstraps on the action
# it then takes, as plain SARSA does.
@pytest.mark.parametrize('bonus', [{}, dict(count_bonus=1., start_probability=1.,
                                            travel_probability=0.)],
                         ids=['plain', 'with-bonus'])
def test_sarsa_bootstraps_on_the_action_it_then_takes(bonus):
    # Rewards 0, discount 1, full steps: Q(s, a) becomes Q(s', a').
    _, spec = spec_for()
    agent = SARSA(spec, step_size=1., epsilon=0.5, final_epsilon=0.5,
                  initial_value=0., seed=1, **bonus)
    learn_row(agent, 5, [1., 4., 2., 0.], step_size=1.)
    for _ in range(20):
        agent.observe_first(dm_env.restart(np.int32(3)))
        agent.observe(2, dm_env.transition(0., np.int32(5), discount=1.))
        agent.update()
        next_action = agent.select_action(np.int32(5))
        assert agent.q_table[3, 2] == agent.q_table[5, next_action]


def test_greedy_mode_picks_the_best_action():
    _, spec = spec_for()
    agent = QLearning(spec, epsilon=1., seed=0)
    learn_row(agent, 7, [0., 0., 3., 0.], step_size=0.5)
    with gridlab.evaluation_mode(agent):
        assert {agent.select_action(np.int32(7)) for _ in range(20)} == {2}
    assert len({agent.select_action(np.int32(7)) for _ in range(50)}) > 1


def test_seed_tutorial_epsilon_attribute_still_works():
    _, spec = spec_for()
    agent = QLearning(spec, epsilon=1., seed=0)
    learn_row(agent, 7, [0., 0., 3., 0.], step_size=0.5)
    agent._epsilon = 0.
    assert agent.epsilon == 0. and agent.select_action(np.int32(7)) == 2


def test_same_seed_same_table():
    def table(seed):
        env, spec = spec_for(seed=0)
        agent = SARSA(spec, seed=seed)
        gridlab.run_loop(env, agent, num_steps=2_000, progress=False,
                         logger=gridlab.NoOpLogger())
        return agent.q_table
    np.testing.assert_array_equal(table(4), table(4))
    assert not np.array_equal(table(4), table(5))


def test_save_and_restore(tmp_path):
    env, spec = spec_for()
    agent = QLearning(spec, seed=0)
    gridlab.run_loop(env, agent, num_steps=500, progress=False,
                     logger=gridlab.NoOpLogger())
    agent.save(tmp_path / 'q.pt')
    restored = QLearning(spec, seed=9)
    restored.restore(tmp_path / 'q.pt')
    np.testing.assert_array_equal(restored.q_table, agent.q_table)
    assert [restored.select_action(np.int32(22)) for _ in range(10)] == [
        agent.select_action(np.int32(22)) for _ in range(10)]
    with pytest.raises(ValueError, match='holds a QLearning checkpoint'):
        SARSA(spec).restore(tmp_path / 'q.pt')
    _, other_spec = spec_for('maze')
    with pytest.raises(ValueError, match='shape'):
        QLearning(other_spec).restore(tmp_path / 'q.pt')


def test_bad_specs_and_observations_are_rejected():
    _, grid_spec = spec_for(observation_type=OBS.GRID)
    with pytest.raises(ValueError, match='DiscreteArray observation spec'):
        QLearning(grid_spec)
    _, spec = spec_for()
    agent = QLearning(spec)
    for bad in (90, -1, 2.5, 'x', np.zeros(3)):
        with pytest.raises(ValueError, match='state index'):
            agent.select_action(bad)
    with pytest.raises(ValueError, match='step_size'):
        QLearning(spec, step_size=0.)
    with pytest.raises(ValueError, match='epsilon'):
        QLearning(spec, epsilon=1.5)


def test_actions_are_plain_ints_the_spec_accepts():
    env, spec = spec_for()
    for agent in (QLearning(spec, seed=0), SARSA(spec, seed=0), RandomAgent(spec, seed=0)):
        action = agent.select_action(env.reset().observation)
        assert type(action) is int
        spec.actions.validate(np.asarray(action, spec.actions.dtype))  # In range.
        assert env.step(action).mid()


def test_run_loop_logs_the_td_loss():
    env, spec = spec_for()
    logger = gridlab.InMemoryLogger()
    gridlab.run_loop(env, QLearning(spec, seed=0), num_episodes=3, log_loss=True,
                     logger=logger, progress=False)
    assert all(row['loss_avg'] >= 0 for row in logger.data)
    assert any(row['loss_avg'] > 0 for row in logger.data)


def test_sarsa_bootstraps_at_truncation_and_not_at_termination():
    # One-step episodes: moving right from the start is cut short by the time
    # limit (the TimeStep keeps discount 0.9), so SARSA's target is
    # 0 + 0.9 * Q(next, a') = 9 with every value at 10; moving into the goal
    # terminates (discount 0), so that target is the reward alone, 10.
    env, spec = spec_for('simple', max_episode_length=1)
    agent = SARSA(spec, step_size=1., epsilon=0., final_epsilon=0., seed=0)
    start = env.reset()
    agent.observe_first(start)
    timestep = env.step(1)
    assert timestep.last() and timestep.discount == np.float32(0.9)
    agent.observe(1, timestep)
    agent.update()
    assert agent.q_values(start.observation)[1] == pytest.approx(9.)
    env.start_state = (6, 2)  # One step above the goal at (7, 2).
    first = env.reset()
    agent.observe_first(first)
    agent.observe(2, env.step(2))
    agent.update()
    assert agent.q_values(first.observation)[2] == pytest.approx(10.)


# SARSA with the exploration bonus: exploring starts that the counts pick. ---------

def test_sarsa_with_the_bonus_learns_nothing_into_q_while_travelling():
    # A start probability this small never fires: every step is travelling,
    # which trains the exploration values E but leaves Q at its start.
    env, spec = spec_for(seed=0)
    agent = SARSA(spec, seed=0, count_bonus=10., step_size=1.,
                  start_probability=1e-12)
    gridlab.run_loop(env, agent, num_steps=500, progress=False,
                     logger=gridlab.NoOpLogger())
    np.testing.assert_array_equal(agent.q_table, np.full_like(agent.q_table, 10.))
    assert agent.count_table.sum() == 500
    # Travelling heads for untried pairs: in 500 steps it tries most of them.
    free = env.decision_cells().sum() * 4
    assert (agent.count_table > 0).sum() > 0.8 * free


def test_sarsa_bonus_arguments_are_checked():
    _, spec = spec_for()
    with pytest.raises(ValueError, match='start_probability'):
        SARSA(spec, start_probability=0.)
    with pytest.raises(ValueError, match='travel_probability'):
        SARSA(spec, travel_probability=1.5)
    with pytest.raises(ValueError, match='bonus_discount'):
        SARSA(spec, count_bonus=1., bonus_discount=1.)


@pytest.mark.slow
@pytest.mark.parametrize('task', list(gridlab.TASKS))
def test_sarsa_with_the_bonus_becomes_optimal_on_every_cell_from_the_fixed_start(task):
    # The settings of benchmarks/exploration.py; no exploring starts from the
    # environment: the agent starts every episode at the task's start. (The
    # maze takes 189k-223k steps, about 8 s a seed.)
    for seed in range(5):
        env, spec = spec_for(task, seed=seed)
        agent = SARSA(spec, seed=seed, count_bonus=10., step_size=1.)
        result = gridlab.train_until_optimal(env, agent, max_steps=400_000,
                                             check_every=2_000)
        assert result.solved, (task, seed, result)
