"""MiniGrid tasks through gridlab's adapter: the dm_env contract on every
observation choice, the encodings against MiniGrid's own state, endings
(goal = termination, max_steps = truncation), seeding, batched copies, bad
input; the conv torso every agent shares; and (slow) PPO learning DoorKey."""

import unittest

import numpy as np
import pytest
import torch
from dm_env import StepType, specs, test_utils
from torch import nn

pytest.importorskip('minigrid')

from agents.common import networks  # noqa: E402
from agents.ppo import PPO  # noqa: E402
from gridlab.envs.adapters import minigrid as adapter  # noqa: E402

EMPTY, DOORKEY = 'MiniGrid-Empty-5x5-v0', 'MiniGrid-DoorKey-5x5-v0'
LEFT, RIGHT, FORWARD = 0, 1, 2  # MiniGrid's actions.


def _random_actions(count, seed=0):
    return np.random.default_rng(seed).integers(0, 7, size=count).tolist()


class _Contract(test_utils.EnvironmentTestMixin):
    observation = None

    def make_object_under_test(self):
        return adapter.make_environment(EMPTY, self.observation, seed=0)

    def make_action_sequence(self):
        # Empty-5x5 truncates after 100 steps: 300 random ones cross episodes.
        yield from _random_actions(300)


class SymbolicContractTest(_Contract, unittest.TestCase):
    observation = 'symbolic'


class FullContractTest(_Contract, unittest.TestCase):
    observation = 'full'


class RgbContractTest(_Contract, unittest.TestCase):
    observation = 'rgb'


def _bare(environment):
    """The MiniGrid environment under the wrappers."""
    return environment.gymnasium_environment.unwrapped


@pytest.mark.parametrize('observation, shape, maxima', [
    ('symbolic', (7, 7, 7), [10, 5, 2, 1, 1, 1, 1]),
    ('full', (5, 5, 7), [10, 5, 3, 1, 1, 1, 1]),
    ('rgb', (56, 56, 3), [255, 255, 255]),
])
def test_specs_are_bounded_uint8_arrays_and_hold_every_observation(observation, shape,
                                                                   maxima):
    env = adapter.make_environment(DOORKEY, observation, seed=1)
    spec = env.observation_spec()
    assert isinstance(spec, specs.BoundedArray)
    assert spec.shape == shape and spec.dtype == np.uint8
    np.testing.assert_array_equal(spec.minimum, 0)
    np.testing.assert_array_equal(spec.maximum, np.broadcast_to(maxima, shape))
    assert env.action_spec() == specs.DiscreteArray(7, np.int64, name='action')
    timestep = env.reset()
    for action in _random_actions(400, seed=1):
        spec.validate(timestep.observation)
        timestep = env.step(action)


def test_default_observation_is_symbolic():
    env = adapter.make_environment(EMPTY, None, seed=0)
    assert env.observation_spec().shape == (7, 7, adapter.CHANNELS)


def test_symbolic_view_matches_the_grid_in_front_of_the_agent():
    env = adapter.make_environment(DOORKEY, 'symbolic', seed=2)
    timestep = env.reset()
    for action in _random_actions(60, seed=2):
        grid = _bare(env)
        observation = timestep.observation
        # The agent stands in the bottom row's middle cell, looking up the rows.
        ahead = grid.grid.get(*grid.front_pos)
        expected = (1, 0, 0) if ahead is None else ahead.encode()  # 1: empty.
        np.testing.assert_array_equal(observation[5, 3, :3], expected)
        carrying = grid.carrying.encode() if grid.carrying else (1, 0, 0)
        np.testing.assert_array_equal(observation[6, 3, :3], carrying)
        direction = np.zeros(4)
        direction[grid.agent_dir] = 1
        np.testing.assert_array_equal(observation[..., 3:], np.broadcast_to(
            direction, (7, 7, 4)))
        timestep = env.step(action)


def test_full_view_is_the_whole_grid_in_rows_and_columns():
    env = adapter.make_environment(EMPTY, 'full', seed=0)
    observation = env.reset().observation
    grid = _bare(env)
    # Empty-5x5: walls around, the goal at (x, y) = (3, 3), the agent at (1, 1)
    # facing right (direction 0).
    objects = observation[..., 0]
    assert (objects[0] == 2).all() and (objects[:, 0] == 2).all()
    assert objects[3, 3] == 8
    x, y = grid.agent_pos
    np.testing.assert_array_equal(observation[y, x, :3], (10, 0, grid.agent_dir))
    env.step(RIGHT)  # Turn to face down: now direction 1.
    observation = env.step(FORWARD).observation  # Down one row.
    assert observation[2, 1, 0] == 10 and observation[2, 1, 2] == 1
    assert observation[0, 0, 4] == 1  # Direction channel 1.


def test_rgb_is_the_agents_view_in_pixels():
    env = adapter.make_environment(DOORKEY, 'rgb', seed=0)
    observation = env.reset().observation
    expected = _bare(env).get_frame(tile_size=adapter.TILE_SIZE, agent_pov=True)
    np.testing.assert_array_equal(observation, expected)


def test_reaching_the_goal_terminates_and_the_step_limit_truncates():
    env = adapter.make_environment(EMPTY, 'symbolic', seed=0, discount=0.99)
    env.reset()
    path = [FORWARD, FORWARD, RIGHT, FORWARD, FORWARD]  # (1, 1) -> (3, 3).
    for action in path:
        timestep = env.step(action)
    assert timestep.last() and timestep.discount == 0.
    # MiniGrid pays 1 - 0.9 * steps / max_steps (100 steps on Empty-5x5).
    assert timestep.reward == pytest.approx(1 - 0.9 * len(path) / 100)
    assert env.step(LEFT).first()
    for step in range(1, 101):
        timestep = env.step(LEFT)
        assert timestep.last() == (step == 100)
    # A time limit is a truncation: the agent should bootstrap from it.
    assert timestep.discount == pytest.approx(0.99) and timestep.reward == 0.


def test_the_same_seed_plays_the_same_episodes():
    def play(seed):
        env = adapter.make_environment(DOORKEY, 'symbolic', seed=seed)
        steps = [env.reset()] + [env.step(a) for a in _random_actions(600, seed=3)]
        return steps

    first, again, other = play(4), play(4), play(5)
    for a, b in zip(first, again):
        assert a.step_type == b.step_type and a.reward == b.reward
        np.testing.assert_array_equal(a.observation, b.observation)
    starts = lambda steps: [s.observation for s in steps if s.first()]  # noqa: E731
    assert any(not np.array_equal(a, b) for a, b in zip(starts(first), starts(other)))


def test_render_gives_rgb_frames_of_the_whole_grid():
    env = adapter.make_environment(DOORKEY, 'symbolic', seed=0)
    env.reset()
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (160, 160, 3)  # 5 tiles of 32.
    assert frame.std() > 0


@pytest.mark.parametrize('observation', adapter.OBSERVATIONS)
def test_batched_copies_play_what_single_copies_with_their_seeds_play(observation):
    seed, copies = 7, 3
    batched = adapter.batched_environment(DOORKEY, observation, copies, seed, 0.99)
    singles = [adapter.make_environment(DOORKEY, observation, seed + i, 0.99)
               for i in range(copies)]
    spec = batched.single_environment_spec()
    assert spec.observations == singles[0].observation_spec()
    batch = batched.reset()
    one = [env.reset() for env in singles]
    # 300 random steps: DoorKey-5x5 truncates at 250, so every copy restarts.
    actions = np.random.default_rng(0).integers(0, 7, size=(300, copies))
    restarted = np.zeros(copies, bool)
    for step in range(len(actions) + 1):
        restarted |= step > 0 and batch.step_type == StepType.FIRST
        for i, timestep in enumerate(one):
            assert batch.step_type[i] == timestep.step_type
            np.testing.assert_array_equal(batch.observation[i], timestep.observation)
            if not timestep.first():
                assert batch.reward[i] == np.float32(timestep.reward)
                assert batch.discount[i] == np.float32(timestep.discount)
        if step == len(actions):
            break
        batch = batched.step(actions[step])
        one = [env.step(a) for env, a in zip(singles, actions[step])]
    assert restarted.all()


def test_bad_ids_and_observations_are_refused_by_name():
    with pytest.raises(ValueError, match=r"'MiniGrid-DoorKey-5x5-v1'.*did you mean "
                                         r"'MiniGrid-DoorKey-5x5-v0'"):
        adapter.check_task('MiniGrid-DoorKey-5x5-v1')
    with pytest.raises(ValueError, match='unknown MiniGrid task'):
        adapter.make_environment('MiniGrid-Nothing-v0', 'symbolic', seed=0)
    with pytest.raises(ValueError, match=r"observation must be one of symbolic, full, "
                                         r"rgb for MiniGrid tasks, got 'pixels'"):
        adapter.make_environment(EMPTY, 'pixels', seed=0)
    with pytest.raises(ValueError, match='observation must be one of'):
        adapter.batched_environment(EMPTY, 3, 2, 0, 0.99)
    with pytest.raises(ValueError, match='num_envs'):
        adapter.batched_environment(EMPTY, 'symbolic', 0, 0, 0.99)
    with pytest.raises(ValueError, match='discount'):
        adapter.make_environment(EMPTY, 'symbolic', seed=0, discount=1.5)
    adapter.check_task(EMPTY)  # Known ids pass.
    assert DOORKEY in adapter.tasks() and all(t.startswith('MiniGrid-')
                                              for t in adapter.tasks())


# ------------------------------------------------------------------ networks

def _spec(shape, maximum=1, dtype=np.uint8):
    return specs.BoundedArray(shape, dtype, 0, maximum)


def _parameters(module):
    return sum(p.numel() for p in module.parameters())


def test_the_minatar_papers_network_is_expressible():
    # One 3x3 conv of 16 channels, stride 1, no padding: 10x10 -> 8x8x16 =
    # 1024 features, then 128 units, then one Q-value per action.
    net = networks.make_q_network(_spec((10, 10, 4)), 6, hidden_sizes=(128,),
                                  conv_channels=(16,), conv_kernels=3, conv_strides=1,
                                  conv_padding=0)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert len(convs) == 1 and convs[0].stride == (1, 1) and convs[0].padding == (0, 0)
    assert [(m.in_features, m.out_features) for m in linears] == [(1024, 128), (128, 6)]
    assert _parameters(net) == (4 * 9 + 1) * 16 + 1025 * 128 + 129 * 6
    assert net(torch.zeros(5, 10, 10, 4)).shape == (5, 6)


def test_rl_starter_files_torso_on_a_7x7_view():
    # 7 -(2x2)-> 6 -(pool 2)-> 3 -(2x2)-> 2 -(2x2)-> 1: 64 features.
    torso = nn.Sequential(*networks.conv_torso(_spec((7, 7, 7)), (16, 32, 64), 2, None,
                                               0, (2, 1, 1)))
    assert torso(torch.zeros(3, 7, 7, 7)).shape == (3, 64)
    assert sum(isinstance(m, nn.MaxPool2d) for m in torso) == 1
    assert _parameters(torso) == networks.conv_parameters((7, 16, 32, 64), 2)


def test_default_q_network_on_images_is_unchanged():
    # The default (3x3 "same" convolutions of 8 channels) against the same
    # layers built by hand, from the same seed: identical weights and outputs.
    spec = _spec((9, 10, 3), maximum=1., dtype=np.float32)
    torch.manual_seed(0)
    net = networks.make_q_network(spec, 4)
    torch.manual_seed(0)
    reference = nn.Sequential(networks.Rescale(0., 1., (9, 10, 3)),
                              networks.ChannelsFirst(), nn.Conv2d(3, 8, 3, padding=1),
                              nn.ReLU(), nn.Flatten(), nn.Linear(720, 64), nn.ReLU(),
                              nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    x = torch.rand(2, 9, 10, 3)
    torch.testing.assert_close(net(x), reference(x), rtol=0, atol=0)
    # Pictures still shrink by stride 2 while wider than 16 pixels.
    pixels = networks.make_q_network(_spec((40, 40, 3), 255), 4, conv_channels=(8, 8, 8))
    assert [m.stride for m in pixels if isinstance(m, nn.Conv2d)] == [(2, 2), (2, 2),
                                                                      (1, 1)]


def test_bad_conv_options_are_refused_by_name():
    spec = _spec((7, 7, 7))
    with pytest.raises(ValueError, match=r'conv_kernels must give one value, or one per '
                                         r'convolution \(3\)'):
        networks.make_q_network(spec, 3, conv_channels=(4, 4, 4), conv_kernels=(2, 2))
    with pytest.raises(ValueError, match=r'conv_padding\[0\] must be an integer >= 0'):
        networks.make_q_network(spec, 3, conv_channels=(4,), conv_padding=-1)
    with pytest.raises(ValueError, match='leaves no feature map of a 7x7 observation'):
        networks.make_q_network(spec, 3, conv_channels=(4, 4), conv_kernels=5,
                                conv_padding=0)
    with pytest.raises(ValueError, match='conv_strides'):
        PPO(_env_spec(spec), conv_strides=0)


def _env_spec(observations):
    from gridlab.core.specs import EnvironmentSpec
    return EnvironmentSpec(observations, specs.DiscreteArray(7, name='action'),
                           specs.Array((), np.float32), specs.BoundedArray(
                               (), np.float32, 0., 1.))


def test_ppo_shares_a_conv_torso_on_images_and_keeps_mlps_on_vectors():
    agent = PPO(_env_spec(_spec((7, 7, 7))), seed=0)
    assert agent._encoder.conv is not None and agent._encoder.size == 64
    # The actor and the critic start from the torso's 64 features, and the
    # optimizer steps the torso too.
    assert agent._actor[0].in_features == agent._critic[0].in_features == 64
    assert {id(p) for p in agent._encoder.parameters()} <= {
        id(p) for p in agent._parameters()}
    probabilities = agent.action_probabilities(np.zeros((7, 7, 7), np.uint8))
    assert probabilities.shape == (7,) and probabilities.sum() == pytest.approx(1.)
    flat = PPO(_env_spec(_spec((7, 7, 7))), seed=0, conv_channels=())
    assert flat._encoder.conv is None and flat._actor[0].in_features == 7 * 7 * 7
    # Vector observations: conv options change nothing, bit for bit.
    vector = _spec((4,), 1., np.float32)
    plain = PPO(_env_spec(vector), seed=3)
    other = PPO(_env_spec(vector), seed=3, conv_channels=(5,), conv_kernels=3,
                conv_pools=1)
    assert list(plain._encoder.parameters()) == []
    for a, b in zip(plain._parameters(), other._parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_ppo_can_keep_advantages_unnormalised():
    # One rollout with rewards on every step: normalised advantages have mean 0;
    # raw ones (rewards 1, values near 0 at the start) are all positive.
    spec = _env_spec(specs.BoundedArray((2,), np.float32, 0., 1.))
    seen = {}
    for normalize in (True, False):
        agent = PPO(spec, seed=0, normalize_advantages=normalize, update_epochs=1,
                    num_minibatches=1, rollout_length=4)
        agent._loss = lambda *args, agent=agent, normalize=normalize: (
            seen.__setitem__(normalize, args[3].clone()) or PPO._loss(agent, *args))
        observations = torch.zeros(5, 1, 2)
        agent._learn(observations, torch.zeros(4, 1, dtype=torch.int64),
                     torch.ones(4, 1), torch.full((4, 1), 0.9),
                     torch.tensor([[0], [1], [1], [1], [1]], dtype=torch.uint8))
    assert abs(float(seen[True].mean())) < 1e-6
    assert (seen[False] > 0.5).all()
    with pytest.raises(TypeError, match='normalize_advantages must be True or False'):
        PPO(spec, normalize_advantages='no')


def test_ppo_checkpoints_hold_the_conv_torso(tmp_path):
    env = adapter.batched_environment(EMPTY, 'symbolic', 2, 0, 0.99)
    agent = PPO(env.single_environment_spec(), seed=0, rollout_length=8)
    agent.train(env, 32)
    agent.save(tmp_path / 'agent.pt')
    restored = PPO(env.single_environment_spec(), seed=1, rollout_length=8)
    restored.restore(tmp_path / 'agent.pt')
    observation = env.reset().observation[0]
    np.testing.assert_array_equal(agent.action_probabilities(observation),
                                  restored.action_probabilities(observation))
    for a, b in zip(agent._encoder.parameters(), restored._encoder.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# ---------------------------------------------------------------- end to end

@pytest.mark.parametrize('agent, observation, num_envs', [
    ('ppo', None, 2), ('ppo', 'rgb', None), ('dqn', 'full', None)])
def test_a_run_on_a_minigrid_task_writes_its_folder_and_video(tmp_path, agent,
                                                              observation, num_envs):
    import gridlab
    result = gridlab.run_experiment(agent, EMPTY, tmp_path / 'run', steps=256,
                                    observation=observation, num_envs=num_envs,
                                    eval_episodes=1, verbose=False,
                                    hyperparameters={'rollout_length': 16}
                                    if agent == 'ppo' else {})
    summary = result.summary
    assert summary['status'] == 'completed'
    assert summary['config']['observation'] == (observation or 'symbolic')
    assert 0. <= summary['evaluation']['mean_return'] <= 1.
    assert (result.directory / 'evaluation.mp4').stat().st_size > 0
    assert (result.directory / 'agent.pt').exists()


# ------------------------------------------------------------------ learning

@pytest.mark.slow
def test_ppo_learns_doorkey_5x5_in_100k_frames():
    from gridlab.evaluation.greedy import evaluation_statistics
    from agents.entries import TUNED
    tuned = TUNED['ppo'][DOORKEY]
    env = adapter.batched_environment(DOORKEY, tuned.get('observation'),
                                      tuned['num_envs'], 0, 0.99)
    agent = PPO(env.single_environment_spec(), seed=0, **tuned['hyperparameters'])
    agent.train(env, tuned['steps'])
    evaluation = adapter.make_environment(DOORKEY, None, seed=1000)
    assert evaluation_statistics(evaluation, agent, 20)['mean_return'] >= 0.9
