"""One discount rule for every agent family: agent discount x TimeStep discount.

A three-step chain has a value known in closed form: both actions move one
state to the right, and entering the last state pays 1 and terminates. From
the first state the return is g**2, where g is the effective discount, the
environment's (carried in each TimeStep) times the agent's own. Each agent
family learns its values here with the agent's default discount (1: g is the
environment's 0.9) and with 0.5 (g = 0.45), and must land on g**2.
"""

import dm_env
import numpy as np
import pytest
from dm_env import specs

import gridlab
from agents import (ActorCriticAgent, DQN, NeuralFittedQAgent,
                    PolicyGradientAgent, QLearning, SARSA)

ENV_DISCOUNT = 0.9
LENGTH = 3  # Transitions from the first state to the terminal one.


class Chain(gridlab.Environment):
    """States 0..3; either action moves right; entering 3 pays 1 and ends."""

    def __init__(self, one_hot: bool):
        super().__init__()
        self._one_hot = one_hot
        self._state = 0

    def _observation(self):
        if self._one_hot:
            return np.eye(LENGTH + 1, dtype=np.float32)[self._state]
        return np.int32(self._state)

    def _reset(self):
        self._state = 0
        return dm_env.restart(self._observation())

    def _step(self, action):
        self._state += 1
        if self._state == LENGTH:
            return dm_env.termination(np.float32(1.), self._observation())._replace(
                discount=np.float32(0.))
        return dm_env.transition(np.float32(0.), self._observation(),
                                 np.float32(ENV_DISCOUNT))

    def observation_spec(self):
        if self._one_hot:
            return specs.BoundedArray((LENGTH + 1,), np.float32, 0., 1., name='state')
        return specs.DiscreteArray(LENGTH + 1, dtype=np.int32, name='state')

    def action_spec(self):
        return specs.DiscreteArray(2, dtype=np.int32, name='action')


def chain(one_hot):
    env = Chain(one_hot)
    return env, gridlab.make_environment_spec(env)


def expected_first_value(agent_discount):
    g = ENV_DISCOUNT * agent_discount
    return g ** (LENGTH - 1)  # Rewards 0, 0, 1.


AGENT_DISCOUNTS = [None, 0.5]  # None: the agent's default.


def options(agent_discount):
    return {} if agent_discount is None else {'discount': agent_discount}


@pytest.mark.parametrize('agent_discount', AGENT_DISCOUNTS)
@pytest.mark.parametrize('agent_class', [QLearning, SARSA])
def test_tabular_values_use_the_effective_discount(agent_class, agent_discount):
    env, spec = chain(one_hot=False)
    agent = agent_class(spec, step_size=0.5, epsilon=1., final_epsilon=1.,
                        initial_value=0., seed=0,
                        **options(agent_discount))
    gridlab.run_loop(env, agent, num_episodes=100, progress=False,
                     logger=gridlab.NoOpLogger())
    g = ENV_DISCOUNT * (1. if agent_discount is None else agent_discount)
    np.testing.assert_allclose(agent.q_values(0), [g ** 2] * 2, rtol=1e-4)
    np.testing.assert_allclose(agent.q_values(1), [g] * 2, rtol=1e-4)


@pytest.mark.parametrize('agent_discount', AGENT_DISCOUNTS)
@pytest.mark.parametrize('agent_class', [NeuralFittedQAgent, DQN])
def test_neural_q_values_use_the_effective_discount(agent_class, agent_discount):
    env, spec = chain(one_hot=True)
    kwargs = {'target_update_frequency': 20} if agent_class is DQN else {}
    agent = agent_class(spec, epsilon=1., learning_rate=3e-3, seed=0,
                        **kwargs, **options(agent_discount))
    gridlab.run_loop(env, agent, num_steps=2_400, progress=False,
                     logger=gridlab.NoOpLogger())
    agent_g = 1. if agent_discount is None else agent_discount
    first = np.eye(LENGTH + 1, dtype=np.float32)[0]
    np.testing.assert_allclose(agent.q_values(first),
                               [expected_first_value(agent_g)] * 2, atol=0.03)


@pytest.mark.parametrize('agent_discount', AGENT_DISCOUNTS)
def test_actor_critic_values_use_the_effective_discount(agent_discount):
    env, spec = chain(one_hot=True)
    agent = ActorCriticAgent(spec, n_steps=1, learning_rate=3e-3, seed=0,
                             **options(agent_discount))
    gridlab.run_loop(env, agent, num_steps=3_000, progress=False,
                     logger=gridlab.NoOpLogger())
    agent_g = 1. if agent_discount is None else agent_discount
    first = np.eye(LENGTH + 1, dtype=np.float32)[0]
    assert agent.state_value(first) == pytest.approx(
        expected_first_value(agent_g), abs=0.03)


@pytest.mark.parametrize('agent_discount', AGENT_DISCOUNTS)
def test_reinforce_returns_use_the_effective_discount(agent_discount, monkeypatch):
    env, spec = chain(one_hot=True)
    agent = PolicyGradientAgent(spec, seed=0, **options(agent_discount))
    seen = []
    original = agent.discounted_returns

    def recording(rewards, discounts, bootstrap):
        returns = original(rewards, discounts, bootstrap)
        seen.append(returns.tolist())
        return returns
    monkeypatch.setattr(agent, 'discounted_returns', recording)
    gridlab.run_loop(env, agent, num_episodes=1, progress=False,
                     logger=gridlab.NoOpLogger())
    g = ENV_DISCOUNT * (1. if agent_discount is None else agent_discount)
    np.testing.assert_allclose(seen, [[g ** 2, g, 1.]], rtol=1e-6)


def test_defaults_give_the_gridworld_tasks_discount_to_every_agent():
    # On the GridWorld every agent's effective discount is the task's 0.9.
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=gridlab.ObservationType.AGENT_GOAL_POS))
    for agent in (NeuralFittedQAgent(spec), DQN(spec), PolicyGradientAgent(spec),
                  ActorCriticAgent(spec)):
        assert gridlab.agent_discount(agent) * env.discount == pytest.approx(0.9)
    _, index_spec = gridlab.setup_environment(gridlab.build_gridworld_task('simple'))
    for agent in (QLearning(index_spec), SARSA(index_spec)):
        assert gridlab.agent_discount(agent) * env.discount == pytest.approx(0.9)


def test_gymnasium_tasks_never_bootstrap_with_a_discount_of_one_by_default():
    env = gridlab.GymnasiumWrapper('CartPole-v1', seed=0)
    env.reset()
    timestep = env.step(0)
    assert timestep.discount == np.float32(0.99)


def test_judging_uses_the_agents_effective_discount():
    env = gridlab.build_gridworld_task('simple')
    # Five steps down from the start reach the goal: Q* = 10 g**4.
    for agent_g in (1., 0.5):
        q = gridlab.optimal_q_values(env, discount=agent_g)
        assert np.nanmax(q[2, 2]) == pytest.approx(10 * (0.9 * agent_g) ** 4)
