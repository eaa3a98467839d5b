"""Maximum-entropy IRL and behaviour cloning on GridWorlds, against exact answers."""

import matplotlib

matplotlib.use('Agg')

import numpy as np
import pytest

import gridlab
from gridlab.planning import irl
from gridlab.viz import diagnostics
from gridlab.envs.model import TabularModel

_SMALL = """
    ######
    #S...#
    #.#..#
    #...G#
    ######
"""


def small_grid():
    return gridlab.GridWorld(_SMALL, max_episode_length=50)


def test_feature_expectations_by_hand():
    # s0 -> s1 (discount 0.9) -> s2 (terminates): entered s1 with weight 1,
    # s2 with weight 0.9.
    trajectory = irl.Trajectory(np.array([0, 1, 2]), np.array([1, 1]),
                                np.array([0.9, 0.]))
    mu = irl.feature_expectations([trajectory], np.eye(3))
    np.testing.assert_allclose(mu, [0., 1., 0.9])
    other = irl.Trajectory(np.array([0, 2]), np.array([3]), np.array([0.]))
    np.testing.assert_allclose(irl.feature_expectations([trajectory, other], np.eye(3)),
                               [0., 0.5, 0.95])


def test_soft_value_iteration_one_state_by_hand():
    # One state, two actions, each ending the episode with reward 1 or 2:
    # V = log(e^1 + e^2), pi = softmax(1, 2).
    model = TabularModel(next_states=np.zeros((1, 2, 1), dtype=np.int64),
                         probabilities=np.ones((1, 2, 1)),
                         rewards=np.array([[[1.], [2.]]]),
                         discounts=np.zeros((1, 2, 1)))
    q, v = irl.soft_value_iteration(model)
    np.testing.assert_allclose(v, [np.log(np.e + np.e ** 2)])
    np.testing.assert_allclose(np.exp(q - v[:, None]),
                               [[1 / (1 + np.e), np.e / (1 + np.e)]])


def test_expected_feature_counts_equal_rollouts_of_a_deterministic_policy():
    # Exact visitation frequencies (a linear solve on the model) against the
    # same policy played in the environment itself from every cell.
    env = gridlab.build_gridworld_task('obstacle')
    model = env.transition_model()
    policy = gridlab.value_iteration(model).argmax(axis=1)
    cells = [tuple(c) for c in np.argwhere(env.decision_cells())]
    trajectories = []
    for cell in cells:
        env.start_state = cell
        timestep = env.reset()
        states, actions, discounts = [int(timestep.observation)], [], []
        while not timestep.last():
            actions.append(int(policy[states[-1]]))
            timestep = env.step(actions[-1])
            states.append(int(timestep.observation))
            discounts.append(float(timestep.discount))
        trajectories.append(irl.Trajectory(np.array(states), np.array(actions),
                                           np.array(discounts)))
    start = np.zeros(model.num_states)
    for cell in cells:
        start[np.ravel_multi_index(cell, env.shape)] += 1 / len(cells)
    features = irl.one_hot_features(env)
    exact = irl.expected_feature_counts(model, np.eye(4)[policy], start, features)
    np.testing.assert_allclose(exact, irl.feature_expectations(trajectories, features),
                               atol=1e-9)


def test_expert_demonstrations_are_optimal_and_restore_the_start():
    env = gridlab.build_gridworld_task('simple')
    demos = irl.expert_demonstrations(env, seed=0)
    assert len(demos) == env.decision_cells().sum()
    assert env.start_state == (2, 2)
    q_star = gridlab.value_iteration(env.transition_model())
    for demo in demos:
        assert demo.discounts[-1] == 0.  # Every one reaches the goal.
        assert np.all(demo.discounts[:-1] == np.float32(0.9))
        chosen = q_star[demo.states[:-1], demo.actions]
        np.testing.assert_allclose(chosen, q_star[demo.states[:-1]].max(axis=1))


def test_behaviour_cloning_majority_vote_by_hand():
    demos = [irl.Trajectory(np.array([0, 1, 2]), np.array([1, 2]), np.array([.9, 0.])),
             irl.Trajectory(np.array([0, 3]), np.array([1]), np.array([0.])),
             irl.Trajectory(np.array([0, 3]), np.array([2]), np.array([0.]))]
    actions = irl.behaviour_cloning(demos, num_states=5)
    np.testing.assert_array_equal(actions, [1, 2, -1, -1, -1])


def test_entry_rewards_of_the_simple_task():
    env = gridlab.build_gridworld_task('simple')
    rewards = irl.entry_rewards(env)
    assert rewards[7, 2] == 10.
    assert rewards[2, 2] == 0.
    assert np.isnan(rewards[0, 0]) and np.isnan(rewards[2, 4])  # Walls.
    assert np.nansum(rewards) == 10.


def test_maxent_irl_on_a_small_grid_matches_features_and_the_expert():
    env = small_grid()
    demos = irl.expert_demonstrations(env, seed=0)
    result = irl.maxent_irl(env, demos, learning_rate=1., tolerance=1e-2)
    assert result.converged and result.feature_gap <= 1e-2
    # Independently: the soft policy's feature counts, re-measured here.
    start = np.bincount([d.states[0] for d in demos], minlength=env.number_of_states)
    mu_pi = irl.expected_feature_counts(env.transition_model(), result.policy,
                                        start / len(demos), np.eye(env.number_of_states))
    mu_expert = irl.feature_expectations(demos, np.eye(env.number_of_states))
    assert np.max(np.abs(mu_pi - mu_expert)) <= 1e-2
    q = irl.recovered_q_values(env, result.state_rewards)
    assert gridlab.optimal_fraction(env, q) >= 0.95
    # The goal earns the largest recovered reward.
    assert np.argmax(result.state_rewards) == np.ravel_multi_index(env.goal_state,
                                                                    env.shape)


@pytest.mark.slow
@pytest.mark.parametrize('task', ['simple', 'obstacle'])
def test_maxent_irl_recovers_the_expert_policy_on_every_cell(task):
    env = gridlab.build_gridworld_task(task)
    demos = irl.expert_demonstrations(env, seed=0)
    result = irl.maxent_irl(env, demos, learning_rate=1., tolerance=1e-2)
    assert result.converged and result.feature_gap <= 1e-2
    q = irl.recovered_q_values(env, result.state_rewards)
    assert gridlab.optimal_fraction(env, q) >= 0.95
    cloned = irl.behaviour_cloning(demos, env.number_of_states)
    assert gridlab.actions_optimal_fraction(env, cloned.reshape(env.shape)) == 1.


@pytest.mark.slow
def test_from_few_demonstrations_irl_generalises_and_cloning_does_not():
    env = gridlab.build_gridworld_task('obstacle')
    starts = [(1, 1), (7, 8), (5, 3)]
    demos = irl.expert_demonstrations(env, starts=starts, seed=0)
    result = irl.maxent_irl(env, demos, learning_rate=1., tolerance=1e-2)
    assert result.converged
    irl_fraction = gridlab.optimal_fraction(
        env, irl.recovered_q_values(env, result.state_rewards))
    cloned = irl.behaviour_cloning(demos, env.number_of_states)
    bc_fraction = gridlab.actions_optimal_fraction(env, cloned.reshape(env.shape))
    assert irl_fraction >= 0.95
    assert bc_fraction < 0.5  # It has seen only the cells on three paths.


def test_plot_rewards_returns_a_figure_with_two_heatmaps():
    env = small_grid()
    figure = diagnostics.plot_rewards(env, np.arange(env.number_of_states, dtype=float))
    assert len(figure.axes[0].images) == 1 and len(figure.axes[1].images) == 1
    shown = figure.axes[1].images[0].get_array()
    assert np.ma.is_masked(shown[0, 0]) or np.isnan(shown[0, 0])  # A wall.
    assert shown[1, 1] == np.ravel_multi_index((1, 1), env.shape)


def test_bad_input_is_refused():
    env = small_grid()
    demos = irl.expert_demonstrations(env, seed=0)
    with pytest.raises(ValueError, match='features'):
        irl.maxent_irl(env, demos, features=np.eye(3))
    with pytest.raises(ValueError, match='learning_rate'):
        irl.maxent_irl(env, demos, learning_rate=0.)
    with pytest.raises(ValueError, match='max_iterations'):
        irl.maxent_irl(env, demos, max_iterations=0)
    with pytest.raises(ValueError, match='demonstration'):
        irl.feature_expectations([], np.eye(3))
    pixels = gridlab.GridWorld(_SMALL, observation_type=gridlab.ObservationType.GRID)
    with pytest.raises(ValueError, match='STATE_INDEX'):
        irl.expert_demonstrations(pixels)
