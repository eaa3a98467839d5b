"""Binned and one-hot observations on real Gymnasium environments."""

import math
import unittest

import gymnasium
import numpy as np
import pytest
from dm_env import specs, test_utils

import gridlab
from agents import PolicyGradientAgent, QLearning
from gridlab.core import evaluation_mode
from gridlab.envs.observation_wrappers import (DiscretisedObservation,
                                                       OneHotObservation)
from gridlab.loops.loggers import NoOpLogger

ANGLE = 0.41887903  # CartPole-v1's observation bound on the pole angle (24 degrees).
VELOCITY = math.radians(50)


def seed_setup(environment):
    """6 angle bins x 12 angular-velocity bins; position and velocity dropped."""
    return DiscretisedObservation(environment, bins=(6, 12), lower=(-ANGLE, -VELOCITY),
                                  upper=(ANGLE, VELOCITY), dimensions=(2, 3))


def cartpole(seed=0):
    return gridlab.GymnasiumWrapper('CartPole-v1', seed=seed)


def test_bin_edges_by_hand():
    env = DiscretisedObservation(cartpole(), bins=(4, 2), lower=(-1., 0.),
                                 upper=(1., 10.), dimensions=(0, 3))
    np.testing.assert_allclose(env.edges[0], [-1., -0.5, 0., 0.5, 1.])
    np.testing.assert_allclose(env.edges[1], [0., 5., 10.])
    assert env.observation_spec() == specs.DiscreteArray(8, dtype=np.int64,
                                                         name='observation')
    # (dimension 0, dimension 3) -> (bin, bin) -> bin0 * 2 + bin1.
    cases = [((-0.9, 99., 99., 1.), (0, 0), 0),
             ((-0.5, 0., 0., 5.), (1, 1), 3),     # On an inner edge: the bin above.
             ((0.49, 0., 0., 4.99), (2, 0), 4),
             ((1., 0., 0., 10.), (3, 1), 7),      # The upper bound: the last bin.
             ((-7., 0., 0., -3.), (0, 0), 0),     # Below the bounds: the first bin.
             ((7., 0., 0., 30.), (3, 1), 7)]      # Above them: the last bin.
    for value, bins, index in cases:
        assert env.bin_indices(np.array(value)) == bins, value
        assert env.observation(np.array(value)) == index, value


def test_the_seed_setup_by_hand():
    env = seed_setup(cartpole())
    assert env.observation_spec().num_values == 72
    # Angle bins are 2 * ANGLE / 6 = 0.1396 wide, velocity bins 2 * VELOCITY / 12
    # = 0.1454 wide: angle 0 starts bin 3, velocity -0.8 lies in bin 0,
    # velocity 0.2 in bin 7 (0.2 + 0.8727 = 1.0727 = 7.38 widths).
    assert env.observation(np.array([5., 5., 0., -0.8])) == 3 * 12 + 0
    assert env.observation(np.array([0., 0., -0.2, 0.2])) == 1 * 12 + 7
    assert env.observation(np.array([0., 0., 0.3, 0.])) == 5 * 12 + 6


def test_observations_are_the_bins_of_the_real_cartpole_state():
    env = seed_setup(cartpole(seed=3))
    inner = env.environment.gymnasium_environment.unwrapped
    angle_width, velocity_width = 2 * ANGLE / 6, 2 * VELOCITY / 12
    rng = np.random.default_rng(0)
    timestep = env.reset()
    for _ in range(300):
        _, _, angle, angular_velocity = inner.state
        a = min(max(int(math.floor((angle + ANGLE) / angle_width)), 0), 5)
        v = min(max(int(math.floor((angular_velocity + VELOCITY) / velocity_width)), 0), 11)
        assert timestep.observation == a * 12 + v
        timestep = env.step(int(rng.integers(2)))
    assert env.observation_spec().validate(timestep.observation) is not None


def test_bad_binning_is_refused():
    with pytest.raises(ValueError, match='bins'):
        DiscretisedObservation(cartpole(), bins=(0,), lower=(0.,), upper=(1.,),
                               dimensions=(0,))
    with pytest.raises(ValueError, match='lower < upper'):
        DiscretisedObservation(cartpole(), bins=(2,), lower=(1.,), upper=(1.,),
                               dimensions=(0,))
    with pytest.raises(ValueError, match='dimensions'):
        DiscretisedObservation(cartpole(), bins=(2,), lower=(0.,), upper=(1.,),
                               dimensions=(4,))
    with pytest.raises(ValueError, match='one entry per kept dimension'):
        DiscretisedObservation(cartpole(), bins=(2, 2), lower=(0.,), upper=(1.,),
                               dimensions=(0,))
    with pytest.raises(ValueError, match='flat array'):
        DiscretisedObservation(gridlab.GymnasiumWrapper('FrozenLake-v1'), bins=(2,),
                               lower=(0.,), upper=(1.,))
    with pytest.raises(ValueError, match='DiscreteArray'):
        OneHotObservation(cartpole())


def test_q_learning_runs_unchanged_on_binned_cartpole():
    env = seed_setup(cartpole())
    agent = QLearning(gridlab.make_environment_spec(env), seed=0)
    returns = gridlab.run_loop(env, agent, num_episodes=5, progress=False,
                               logger=NoOpLogger())
    assert len(returns) == 5
    assert np.any(agent.q_table != 10.)  # It learned something: the table moved.


class OneHotFrozenLakeContractTest(test_utils.EnvironmentTestMixin, unittest.TestCase):
    """dm_env's own conformance checks on the wrapped FrozenLake."""

    def make_object_under_test(self):
        return OneHotObservation(gridlab.GymnasiumWrapper('FrozenLake-v1', seed=0))

    def make_action_sequence(self):
        rng = np.random.default_rng(0)
        for _ in range(100):
            yield int(rng.integers(4))


class BinnedCartPoleContractTest(test_utils.EnvironmentTestMixin, unittest.TestCase):

    def make_object_under_test(self):
        return seed_setup(cartpole())

    def make_action_sequence(self):
        yield from [0] * 40 + [1] * 40  # Topples the pole: LAST, then a new episode.


@pytest.mark.parametrize('task, num_states', [('FrozenLake-v1', 16), ('Taxi-v4', 500)])
def test_one_hot_observations_are_the_real_state(task, num_states):
    env = OneHotObservation(gridlab.GymnasiumWrapper(task, seed=1))
    spec = env.observation_spec()
    assert spec.shape == (num_states,) and spec.dtype == np.float32
    inner = env.environment.gymnasium_environment.unwrapped
    rng = np.random.default_rng(0)
    timestep = env.reset()
    for _ in range(50):
        expected = np.zeros(num_states, dtype=np.float32)
        expected[int(inner.s)] = 1.
        np.testing.assert_array_equal(timestep.observation, expected)
        timestep = env.step(int(rng.integers(env.action_spec().num_values)))


@pytest.mark.parametrize('task', ['FrozenLake-v1', 'Taxi-v4'])
def test_policy_agents_run_on_one_hot_toy_text(task):
    env = OneHotObservation(gridlab.GymnasiumWrapper(task, seed=0))
    agent = PolicyGradientAgent(gridlab.make_environment_spec(env), seed=0)
    gridlab.run_loop(env, agent, num_steps=100, progress=False, logger=NoOpLogger())
    with evaluation_mode(agent):
        action = agent.select_action(env.reset().observation)
    assert 0 <= action < env.action_spec().num_values


def greedy_mean_return(env, agent, episodes):
    returns = []
    with evaluation_mode(agent):
        for _ in range(episodes):
            timestep, total = env.reset(), 0.
            while not timestep.last():
                timestep = env.step(agent.select_action(timestep.observation))
                total += timestep.reward
            returns.append(total)
    return float(np.mean(returns))


@pytest.mark.slow
def test_q_learning_balances_binned_cartpole():
    # The seed's 6 x 12 bins; a random policy's mean is about 22.
    env = seed_setup(cartpole(seed=0))
    agent = QLearning(gridlab.make_environment_spec(env), step_size=0.1, epsilon=1.,
                      final_epsilon=0.01, decay_steps=100_000, initial_value=0., seed=0)
    best = 0.
    for _ in range(5):
        gridlab.run_loop(env, agent, num_steps=20_000, progress=False,
                         logger=NoOpLogger())
        best = max(best, greedy_mean_return(seed_setup(cartpole(seed=100)), agent, 10))
    assert best >= 300.


@pytest.mark.slow
def test_dqn_on_one_hot_frozen_lake_learns_the_optimal_route():
    # Judged exactly: the greedy policy's success probability on the model.
    from agents import DQN
    from gridlab import planning
    from gridlab.envs.adapters.gymnasium_models import tabular_model_from_gymnasium
    env = OneHotObservation(gridlab.GymnasiumWrapper(
        gymnasium.make('FrozenLake-v1', is_slippery=False), seed=0))
    agent = DQN(gridlab.make_environment_spec(env), epsilon=0.3, seed=0)
    gridlab.run_loop(env, agent, num_steps=5_000, progress=False, logger=NoOpLogger())
    observations = np.eye(16, dtype=np.float32)
    with evaluation_mode(agent):
        policy = np.array([agent.select_action(o) for o in observations])
    model = tabular_model_from_gymnasium(env)
    assert planning.policy_evaluation(model, policy)[0, policy[0]] == 1.
