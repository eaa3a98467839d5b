"""Gymnasium both ways: CartPole and FrozenLake as dm_env, GridWorld as Gymnasium."""

import unittest

import gymnasium
import numpy as np
import pytest
from dm_env import specs, test_utils
from gymnasium.utils.env_checker import check_env

import gridlab
from agents import QLearning, RandomAgent


class CartPoleContractTest(test_utils.EnvironmentTestMixin, unittest.TestCase):

    def make_object_under_test(self):
        return gridlab.GymnasiumWrapper('CartPole-v1', seed=0)

    def make_action_sequence(self):
        # Pushing one way topples the pole in about ten steps: LAST, then more.
        yield from [0] * 40 + [1] * 40


class FrozenLakeContractTest(test_utils.EnvironmentTestMixin, unittest.TestCase):

    def make_object_under_test(self):
        return gridlab.GymnasiumWrapper(gymnasium.make('FrozenLake-v1'), seed=0)

    def make_action_sequence(self):
        yield from np.random.default_rng(0).integers(0, 4, size=300).tolist()


@pytest.mark.parametrize('test_class', [CartPoleContractTest, FrozenLakeContractTest])
def test_contract_sequences_reach_last(test_class):
    test = test_class('test_reset')
    test.object_under_test = env = test.make_object_under_test()
    env.reset()
    assert any(env.step(a).last() for a in test.make_action_sequence())


def test_specs_follow_the_spaces():
    cartpole = gridlab.GymnasiumWrapper('CartPole-v1')
    observation_spec = cartpole.observation_spec()
    assert isinstance(observation_spec, specs.BoundedArray)
    assert observation_spec.shape == (4,) and observation_spec.dtype == np.float32
    assert cartpole.action_spec().num_values == 2
    lake = gridlab.GymnasiumWrapper(gymnasium.make('FrozenLake-v1'))
    assert lake.observation_spec().num_values == 16
    assert lake.action_spec().num_values == 4


def test_termination_has_discount_zero_and_truncation_bootstraps():
    env = gridlab.GymnasiumWrapper('CartPole-v1', seed=0)
    env.reset()
    timestep = env.step(0)
    while not timestep.last():
        timestep = env.step(0)
    assert timestep.discount == 0.  # The pole fell: terminated.
    short = gridlab.GymnasiumWrapper(
        gymnasium.make('CartPole-v1', max_episode_steps=3), seed=0)
    short.reset()
    steps = [short.step(a) for a in (0, 1, 0)]
    # Time limit: truncated, so the TimeStep carries the ordinary discount
    # (0.99 by default), not the 0 of termination.
    assert steps[-1].last() and steps[-1].discount == np.float32(0.99)
    assert all(s.reward == np.float32(1.) for s in steps)
    discounted = gridlab.GymnasiumWrapper('CartPole-v1', seed=0, discount=0.9)
    discounted.reset()
    assert discounted.step(0).discount == np.float32(0.9)


def test_same_seed_same_episodes():
    def returns(seed):
        env, spec = gridlab.setup_environment(gridlab.GymnasiumWrapper('CartPole-v1',
                                                                       seed=seed))
        return gridlab.run_loop(env, RandomAgent(spec, seed=0), num_episodes=5,
                                progress=False, logger=gridlab.NoOpLogger())
    assert returns(3) == returns(3)
    assert returns(3) != returns(4)


def test_frames_feed_the_video_export(tmp_path):
    env, spec = gridlab.setup_environment(gridlab.GymnasiumWrapper('CartPole-v1', seed=0))
    frames = gridlab.evaluate(env, RandomAgent(spec, seed=0), 1,
                              logger=gridlab.NoOpLogger(), max_steps_per_episode=10)
    assert frames[0].shape == (400, 600, 3) and frames[0].dtype == np.uint8
    gridlab.save_video(frames, tmp_path / 'cartpole.mp4')
    assert gridlab.read_video(tmp_path / 'cartpole.mp4').shape[0] == len(frames)
    silent = gridlab.GymnasiumWrapper(gymnasium.make('CartPole-v1'))
    silent.reset()
    with pytest.raises(ValueError, match='render_mode'):
        silent.render()


def test_bad_actions_are_named():
    env = gridlab.GymnasiumWrapper('CartPole-v1', seed=0)
    env.reset()
    for action in (2, -1, 0.5, 'left'):
        with pytest.raises(ValueError, match='invalid action'):
            env.step(action)
    with pytest.raises(ValueError, match='gymnasium.Env'):
        gridlab.GymnasiumWrapper(42)


def test_tabular_agent_learns_frozen_lake_through_the_adapter():
    lake = gymnasium.make('FrozenLake-v1', is_slippery=False)
    env, spec = gridlab.setup_environment(gridlab.GymnasiumWrapper(lake, seed=0,
                                                                   discount=0.9))
    agent = QLearning(spec, initial_value=1., seed=0)
    gridlab.run_loop(env, agent, num_episodes=300, progress=False,
                     logger=gridlab.NoOpLogger())
    log = gridlab.InMemoryLogger()
    gridlab.evaluate(env, agent, 3, logger=log, render=False, max_steps_per_episode=50)
    assert [row['episode_return'] for row in log.data] == [1., 1., 1.]
    assert all(row['episode_length'] == 6 for row in log.data)  # Shortest path.


@pytest.mark.parametrize('observation_type', list(gridlab.ObservationType))
def test_gridworld_passes_gymnasiums_env_checker(observation_type):
    grid = gridlab.build_gridworld_task('random_goal', observation_type=observation_type,
                                        randomize_goals=True, seed=0)
    env = gridlab.as_gymnasium(grid, render_mode='rgb_array')
    check_env(env, skip_render_check=False)
    assert env.render().shape == (288, 320, 3)


def test_gridworld_episode_ends_map_to_terminated_and_truncated():
    env = gridlab.as_gymnasium(gridlab.build_gridworld_task('simple',
                                                            max_episode_length=3))
    observation, _ = env.reset(seed=0)
    assert env.observation_space.contains(observation)
    results = [env.step(0) for _ in range(3)]
    assert [r[2:4] for r in results] == [(False, False), (False, False), (False, True)]
    env = gridlab.as_gymnasium(gridlab.build_gridworld_task('simple'))
    env.reset()
    results = [env.step(2) for _ in range(5)]
    assert results[-1][1] == 10. and results[-1][2:4] == (True, False)


def test_as_gymnasium_needs_discrete_actions():
    cartpole_like = gridlab.GymnasiumWrapper(gymnasium.make('MountainCarContinuous-v0'))
    with pytest.raises(ValueError, match='discrete actions'):
        gridlab.as_gymnasium(cartpole_like)


@pytest.mark.parametrize('task', list(gridlab.TASKS))
def test_every_task_is_a_gymnasium_id_that_passes_gymnasiums_checker(task):
    env = gymnasium.make(f'gridlab/{task}-v0', render_mode='rgb_array')
    check_env(env.unwrapped, skip_render_check=False)
    # What gymnasium.make builds is the task itself, seen through the adapter.
    grid = gridlab.build_gridworld_task(task)
    observation, _ = env.reset(seed=0)
    assert observation == grid.reset().observation
    np.testing.assert_array_equal(env.unwrapped.environment.walls, grid.walls)


def test_gymnasium_make_passes_the_tasks_options_through():
    env = gymnasium.make('gridlab/simple-v0', observation_type='grid', seed=3,
                         max_episode_length=4)
    observation, _ = env.reset()
    assert observation.shape == (9, 10, 3)
    truncated = [env.step(0)[3] for _ in range(4)]
    assert truncated == [False, False, False, True]
    vector = gymnasium.make_vec('gridlab/simple-v0', num_envs=3)  # As SB3 and CleanRL do.
    assert vector.reset(seed=0)[0].shape == (3,)
    with pytest.raises(ValueError, match="observation_type must be one of .* 'pixels'"):
        gymnasium.make('gridlab/simple-v0', observation_type='pixels')


def test_the_ids_are_there_whichever_is_imported_first():
    import subprocess
    import sys
    for order in ('import gridlab, gymnasium', 'import gymnasium, gridlab'):
        result = subprocess.run(
            [sys.executable, '-c', f'{order}\nimport sys\n'
             'print(gymnasium.make("gridlab/maze-v0").spec.id)'],
            capture_output=True, text=True, timeout=120)
        assert result.stdout.strip() == 'gridlab/maze-v0', (order, result.stderr)
