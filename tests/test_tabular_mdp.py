"""TabularMDP and MarkovChain: the seed's 3-state MDP, dynamics, planning, agents."""

import unittest

import numpy as np
import pytest
from dm_env import test_utils

import gridlab
from agents import QLearning

# A three-state MDP: transitions [s][a][s'] (None: not offered), rewards.
T = [[[0.7, 0.3, 0.0], [1.0, 0.0, 0.0], [0.8, 0.2, 0.0]],
     [[0.0, 1.0, 0.0], None, [0.0, 0.0, 1.0]],
     [None, [0.8, 0.1, 0.1], None]]
R = [[[10, 0, 0], [0, 0, 0], [0, 0, 0]],
     [[0, 0, 0], [0, 0, 0], [0, 0, -50]],
     [[0, 0, 0], [40, 0, 0], [0, 0, 0]]]


class SeedMDPContractTest(test_utils.EnvironmentTestMixin, unittest.TestCase):

    def make_object_under_test(self):
        return gridlab.TabularMDP(T, R, max_episode_length=10,
                                  impossible_action_reward=-100, seed=0)

    def make_action_sequence(self):
        yield from np.random.default_rng(0).integers(0, 3, size=60).tolist()


def test_optimal_q_values_are_the_seeds():
    q = gridlab.value_iteration(gridlab.TabularMDP(T, R, discount=0.9).transition_model())
    expected = [[18.919, 17.027, 13.622], [0., -np.inf, -4.880], [-np.inf, 50.134, -np.inf]]
    np.testing.assert_allclose(q, expected, atol=1e-3)
    assert q.argmax(axis=1).tolist() == [0, 0, 1]
    # The seed's remark: with discount 0.95, paying -50 in s1 becomes worth it.
    q95 = gridlab.value_iteration(gridlab.TabularMDP(T, R, discount=0.95).transition_model())
    assert q95.argmax(axis=1).tolist() == [0, 2, 1]
    q_pi, policy = gridlab.policy_iteration(gridlab.TabularMDP(T, R).transition_model())
    assert policy.tolist() == [0, 0, 1]
    np.testing.assert_allclose(q_pi, q, atol=1e-6)


def test_transitions_and_rewards_follow_the_tables():
    mdp = gridlab.TabularMDP(T, R, seed=1)
    counts, rewards = np.zeros(3), []
    for _ in range(4000):
        mdp.reset()
        timestep = mdp.step(0)  # s0, a0: to s0 (+10) w.p. 0.7, else s1.
        counts[int(timestep.observation)] += 1
        rewards.append(float(timestep.reward))
    np.testing.assert_allclose(counts / 4000, [0.7, 0.3, 0.], atol=0.03)
    assert set(rewards) == {0., 10.}


def _walk_to(mdp, state):
    """Steps s0 -a2-> s1 -a2-> s2 until `state` (each move may stay put)."""
    mdp.reset()
    while mdp.state != state:
        mdp.step(2)


def test_impossible_actions_raise_or_cost():
    mdp = gridlab.TabularMDP(T, R, seed=0)
    _walk_to(mdp, 1)
    with pytest.raises(ValueError, match=r'state 1 does not offer action 1; it offers \[0, 2\]'):
        mdp.step(1)
    costly = gridlab.TabularMDP(T, R, impossible_action_reward=-7., seed=0)
    _walk_to(costly, 2)
    timestep = costly.step(0)
    assert timestep.reward == -7. and costly.state == 2
    assert list(costly.allowed_actions(2)) == [1]


def test_terminal_states_end_episodes_with_discount_zero():
    chain = [[[0., 1., 0.]], [[0., 0., 1.]], [[0., 0., 1.]]]
    mdp = gridlab.TabularMDP(chain, [[[0, 1, 0]], [[0, 0, 5]], [[0, 0, 0]]],
                             terminal_states=[2])
    assert mdp.reset().first()
    assert mdp.step(0).mid()
    last = mdp.step(0)
    assert last.last() and last.discount == 0. and last.reward == 5.
    q = gridlab.value_iteration(mdp.transition_model())
    np.testing.assert_allclose(q[:2, 0], [1 + 0.9 * 5, 5.])


def test_tabular_agents_learn_on_it_unchanged():
    env, spec = gridlab.setup_environment(gridlab.TabularMDP(
        T, R, impossible_action_reward=-100., max_episode_length=50, seed=0))
    agent = QLearning(spec, epsilon=0.5, step_size=0.1, initial_value=0., seed=0)
    gridlab.run_loop(env, agent, num_steps=30_000, progress=False,
                     logger=gridlab.NoOpLogger())
    assert agent.q_table.argmax(axis=1).tolist() == [0, 0, 1]


@pytest.mark.parametrize('transitions, rewards, kwargs, message', [
    ([[[0.5, 0.6]], [[1., 0.]]], [[[0, 0]], [[0, 0]]], {}, 'sum to 1'),
    ([[[1., 0.]], [[1., 0.], [0., 1.]]], [[[0, 0]], [[0, 0]]], {}, 'same number of actions'),
    ([[[1., 0., 0.]], [[1., 0.]]], [[[0, 0]], [[0, 0]]], {}, 'entries'),
    ([[[1., 0.]], [[1., 0.]]], [[0, 0, 0]], {}, 'rewards'),
    ([[[1., 0.]], [None]], [[[0, 0]], [[0, 0]]], {}, 'offer no action'),
    ([[[1., 0.]], [[1., 0.]]], [[[0, 0]], [[0, 0]]], {'start_state': 1,
                                                       'terminal_states': [1]},
     'start_state'),
])
def test_bad_tables_are_named(transitions, rewards, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gridlab.TabularMDP(transitions, rewards, **kwargs)


def test_markov_chain_runs_end_in_a_terminal_state():
    chain = gridlab.MarkovChain([[0.7, 0.2, 0.0, 0.1], [0.0, 0.0, 0.9, 0.1],
                                 [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
                                terminal_states=[3], seed=42)
    runs = [chain.run() for _ in range(200)]
    assert all(run[0] == 0 and run[-1] == 3 for run in runs)
    assert all(3 not in run[:-1] for run in runs)
    again = gridlab.MarkovChain(chain.transitions, terminal_states=[3], seed=42)
    assert [again.run() for _ in range(200)] == runs
    with pytest.raises(ValueError, match='sum to 1'):
        gridlab.MarkovChain([[0.5, 0.4], [0., 1.]])


@pytest.mark.parametrize('action', [1.7, True, 'a', np.array([0]), 3, -1])
def test_bad_actions_are_named_not_rounded(action):
    mdp = gridlab.TabularMDP(T, R, seed=0)
    mdp.reset()
    with pytest.raises(ValueError, match='invalid action'):
        mdp.step(action)
