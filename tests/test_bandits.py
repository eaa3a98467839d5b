"""Bandit environments and agents: the contract, learning, probabilities, OPE."""

import unittest

import dm_env
import numpy as np
import pytest
from dm_env import test_utils

import gridlab
from agents import UCB, EpsilonGreedy, GradientBandit, Softmax
from gridlab.planning import offline

MEANS = [0.2, 0.5, 1.0, 0.4]
AGENTS = [EpsilonGreedy, UCB, Softmax, GradientBandit]


class BanditContractTest(test_utils.EnvironmentTestMixin, unittest.TestCase):

    def make_object_under_test(self):
        return gridlab.MultiArmedBandit(MEANS, seed=0)


class ContextualContractTest(test_utils.EnvironmentTestMixin, unittest.TestCase):

    def make_object_under_test(self):
        return gridlab.ContextualBandit([[0.1, 0.9], [0.8, 0.2]], noise='bernoulli',
                                        seed=0)


def train(agent_class, bandit, steps=2_000, **kwargs):
    _, spec = gridlab.setup_environment(bandit)
    agent = agent_class(spec, seed=0, **kwargs)
    log = gridlab.InMemoryLogger()
    gridlab.run_loop(bandit, agent, num_episodes=steps, logger=log, progress=False)
    return agent, np.array([row['episode_return'] for row in log.data])


@pytest.mark.parametrize('agent_class', AGENTS)
def test_every_agent_finds_the_best_arm(agent_class):
    bandit = gridlab.MultiArmedBandit(MEANS, scale=0.5, seed=1)
    agent, rewards = train(agent_class, bandit)
    probabilities = agent.action_probabilities(0)
    assert np.argmax(probabilities) == bandit.best_arm() == 2
    assert probabilities[2] > 0.8
    assert rewards[-500:].mean() > 0.85  # The best arm pays 1.0 on average.
    with gridlab.evaluation_mode(agent):
        assert agent.select_action(0) == 2


def test_probabilities_match_the_pulls():
    bandit = gridlab.MultiArmedBandit(MEANS, seed=0)
    _, spec = gridlab.setup_environment(bandit)
    agent = Softmax(spec, temperature=0.5, step_size=1., seed=0)
    for arm, reward in enumerate([0., 0.5, 1., 0.2]):  # With step_size 1, Q = the reward.
        agent.observe_first(dm_env.restart(np.int32(0)))
        agent.observe(arm, dm_env.termination(reward, np.int32(0)))
        agent.update()
    np.testing.assert_array_equal(agent.q_values(0), [0., 0.5, 1., 0.2])
    counts = np.bincount([agent.select_action(0) for _ in range(4000)], minlength=4)
    np.testing.assert_allclose(counts / 4000, agent.action_probabilities(0), atol=0.03)


def test_ucb_tries_every_arm_first_and_regret_grows_slowly():
    bandit = gridlab.MultiArmedBandit(MEANS, scale=0.5, seed=2)
    _, spec = gridlab.setup_environment(bandit)
    agent = UCB(spec, seed=0)
    first = []
    for _ in range(4):
        timestep = bandit.reset()
        agent.observe_first(timestep)
        arm = agent.select_action(timestep.observation)
        first.append(arm)
        agent.observe(arm, bandit.step(arm))
        agent.update()
    assert sorted(first) == [0, 1, 2, 3]
    regrets = []
    for _ in range(3000):
        timestep = bandit.reset()
        arm = agent.select_action(timestep.observation)
        regrets.append(bandit.regret(arm))
        agent.observe_first(timestep)
        agent.observe(arm, bandit.step(arm))
        agent.update()
    assert np.sum(regrets[1500:]) < 0.5 * np.sum(regrets[:1500])


def test_gradient_bandit_baseline_matters_when_rewards_are_shifted():
    shifted = [m + 4. for m in MEANS]  # All rewards large and positive.
    with_baseline, _ = train(GradientBandit, gridlab.MultiArmedBandit(shifted, scale=0.5,
                                                                       seed=3), 1000)
    without, _ = train(GradientBandit, gridlab.MultiArmedBandit(shifted, scale=0.5,
                                                                 seed=3), 1000,
                       baseline=False)
    assert with_baseline.action_probabilities(0)[2] > without.action_probabilities(0)[2]


def test_epsilon_greedy_sample_average_and_ties():
    _, spec = gridlab.setup_environment(gridlab.MultiArmedBandit(MEANS, seed=0))
    agent = EpsilonGreedy(spec, epsilon=0., seed=0)
    assert len({agent.select_action(0) for _ in range(50)}) == 4  # All tied at 0.
    for reward in (1., 2., 6.):
        agent.observe_first(dm_env.restart(np.int32(0)))
        agent.observe(1, dm_env.termination(reward, np.int32(0)))
        agent.update()
    assert agent.q_values(0)[1] == pytest.approx(3.)  # The sample average.
    decaying = EpsilonGreedy(spec, epsilon=1., final_epsilon=0., decay_steps=10)
    for _ in range(5):  # Epsilon decays with the pulls learned from.
        decaying.observe_first(dm_env.restart(np.int32(0)))
        decaying.observe(0, dm_env.termination(0., np.int32(0)))
        decaying.update()
    assert decaying.epsilon == pytest.approx(0.5)


def test_contextual_agents_learn_per_context():
    bandit = gridlab.ContextualBandit([[0.1, 0.9], [0.8, 0.2]], noise='bernoulli', seed=0)
    agent, _ = train(EpsilonGreedy, bandit, 2_000)
    assert [agent.action_probabilities(c).argmax() for c in (0, 1)] == [1, 0]
    assert bandit.best_arm(0) == 1 and bandit.regret(0, context=0) == pytest.approx(0.8)


def test_logged_probabilities_support_offline_evaluation():
    bandit = gridlab.MultiArmedBandit(MEANS, scale=0.2, seed=5)
    _, spec = gridlab.setup_environment(bandit)
    behaviour = Softmax(spec, temperature=1., seed=0)  # Explores a lot; fixed.
    target = np.array([0.1, 0.1, 0.7, 0.1])
    rewards, behaviour_probs, target_probs = [], [], []
    for _ in range(5000):
        timestep = bandit.reset()
        probabilities = behaviour.action_probabilities(timestep.observation)
        arm = behaviour.select_action(timestep.observation)
        rewards.append(float(bandit.step(arm).reward))
        behaviour_probs.append(probabilities[arm])
        target_probs.append(target[arm])
    estimate = offline.weighted_importance_sampling(
        rewards=rewards, behaviour_probs=behaviour_probs, target_probs=target_probs,
        seed=0)
    assert abs(estimate.value - float(target @ MEANS)) < 0.05


def test_save_restore_and_bad_input(tmp_path):
    _, spec = gridlab.setup_environment(gridlab.MultiArmedBandit(MEANS, seed=0))
    agent, _ = train(GradientBandit, gridlab.MultiArmedBandit(MEANS, seed=0), 200)
    agent.save(tmp_path / 'bandit.pt')
    restored = GradientBandit(spec, seed=1)
    restored.restore(tmp_path / 'bandit.pt')
    np.testing.assert_array_equal(restored.action_probabilities(0),
                                  agent.action_probabilities(0))
    with pytest.raises(ValueError, match='holds a GradientBandit'):
        UCB(spec).restore(tmp_path / 'bandit.pt')
    bandit = gridlab.MultiArmedBandit(MEANS)
    for arm in (4, 1.5, True):
        bandit.reset()
        with pytest.raises(ValueError, match='invalid arm'):
            bandit.step(arm)
    with pytest.raises(ValueError, match='Bernoulli'):
        gridlab.MultiArmedBandit([0.5, 1.5], noise='bernoulli')
    with pytest.raises(ValueError, match='temperature'):
        Softmax(spec, temperature=0.)
