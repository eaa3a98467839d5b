"""NFQ and DQN: construction, TD targets, checkpoints; learning (slow)."""

import dm_env
import numpy as np
import pytest
import torch
from torch import nn

import gridlab
from agents import DQN, NeuralFittedQAgent

OBS = gridlab.ObservationType


def setup(task='simple', observation_type=OBS.AGENT_GOAL_POS, **kwargs):
    return gridlab.setup_environment(gridlab.build_gridworld_task(
        task, observation_type=observation_type, **kwargs))


class ConstantQ(nn.Module):
    """Q(s, a) = 1 for every input: makes TD targets easy to predict."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return self.bias.expand(x.shape[0], 4)


@pytest.mark.parametrize('agent_class', [NeuralFittedQAgent, DQN])
@pytest.mark.parametrize('observation_type', [OBS.AGENT_GOAL_POS, OBS.GRID, OBS.RGB,
                                              OBS.AGENT_ONEHOT])
def test_built_from_the_spec_alone(agent_class, observation_type):
    env, spec = setup(observation_type=observation_type)
    agent = agent_class(spec, seed=0)
    timestep = env.reset()
    action = agent.select_action(timestep.observation)
    assert type(action) is int and 0 <= action < 4
    assert agent.q_values(timestep.observation).shape == (4,)
    returns = gridlab.run_loop(env, agent, num_steps=80, log_loss=True,
                               logger=gridlab.NoOpLogger(), progress=False)
    assert returns and isinstance(agent.last_loss, float) and agent.last_loss > 0


def test_unscaled_observations_reach_the_same_weights_as_they_are():
    env, spec = setup()  # AGENT_GOAL_POS: coordinates bounded by the grid.
    bounds = spec.observations
    scaled = DQN(spec, seed=3)
    raw = DQN(spec, seed=3, scale_observations=False)
    observation = env.reset().observation
    low, high = (np.broadcast_to(b, bounds.shape).astype(np.float32)
                 for b in (bounds.minimum, bounds.maximum))
    by_hand = 2 * (observation - low) / (high - low) - 1
    assert not np.allclose(by_hand, observation)
    # Same seed, same weights: the scaled network on x is the raw one on x mapped by hand.
    np.testing.assert_allclose(scaled.q_values(observation), raw.q_values(by_hand),
                               rtol=1e-6, atol=1e-6)
    assert not np.allclose(raw.q_values(observation), scaled.q_values(observation))


@pytest.mark.parametrize('agent_class', [NeuralFittedQAgent, DQN])
def test_wrong_observations_get_a_clear_error(agent_class):
    _, spec = setup()
    agent = agent_class(spec, seed=0)
    with pytest.raises(ValueError, match=r'shape \(3,\), expected \(4,\)'):
        agent.select_action(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match='dtype'):
        agent.q_values(np.array(['a', 'b', 'c', 'd']))
    with pytest.raises(ValueError, match='shape'):
        agent.observe_first(dm_env.restart(np.zeros((9, 10, 3), np.float32)))


def test_state_index_observations_are_refused():
    _, spec = setup(observation_type=OBS.STATE_INDEX)
    with pytest.raises(ValueError, match='tabular agent'):
        NeuralFittedQAgent(spec)


def _loss_after_one_update(agent_class, timestep, **kwargs):
    _, spec = setup()
    agent = agent_class(spec, ConstantQ(), batch_size=1, seed=0, **kwargs)
    observation = np.zeros(4, np.float32)
    agent.observe_first(dm_env.restart(observation))
    agent.observe(0, timestep)
    agent.update()
    return agent.last_loss


@pytest.mark.parametrize('agent_class', [NeuralFittedQAgent, DQN])
def test_termination_does_not_bootstrap_and_truncation_does(agent_class):
    observation = np.zeros(4, np.float32)
    kwargs = {'loss': 'mse'}
    # Q = 1 everywhere: target r + d * 1.
    terminal = _loss_after_one_update(
        agent_class, dm_env.termination(0., observation), **kwargs)
    truncated = _loss_after_one_update(
        agent_class, dm_env.truncation(0., observation, discount=np.float32(0.9)),
        **kwargs)
    assert terminal == pytest.approx(1.)  # (1 - 0)^2
    assert truncated == pytest.approx(0.01, abs=1e-6)  # (1 - 0.9)^2


def test_dqn_target_network_waits_for_its_update():
    env, spec = setup()
    agent = DQN(spec, seed=0, target_update_frequency=5, batch_size=1)
    weights = lambda net: torch.cat([p.flatten() for p in net.parameters()]).clone()
    start = weights(agent.target_network)
    gridlab.run_loop(env, agent, num_steps=4, logger=gridlab.NoOpLogger(),
                     progress=False)
    assert agent.learner_steps == 4
    assert torch.equal(weights(agent.target_network), start)
    observation = env.reset().observation
    assert not np.array_equal(agent.target_q_values(observation),
                              agent.q_values(observation))
    gridlab.run_loop(env, agent, num_steps=1, logger=gridlab.NoOpLogger(),
                     progress=False)
    assert torch.equal(weights(agent.target_network), weights(agent.network))
    np.testing.assert_array_equal(agent.target_q_values(observation),
                                  agent.q_values(observation))

    polyak = DQN(spec, seed=0, target_update_rate=0.5, batch_size=1)
    before = weights(polyak.target_network)
    gridlab.run_loop(env, polyak, num_steps=1, logger=gridlab.NoOpLogger(),
                     progress=False)
    after, online = weights(polyak.target_network), weights(polyak.network)
    torch.testing.assert_close(after, (before + online) / 2)


def test_double_dqn_values_the_online_choice_with_the_target_network():
    # Online Q = [0, 5, 1, 0] and target Q = [9, 2, 3, 4] on every input. After
    # action 0 (Q = 0) with reward 0 and discount 1 the target is the bootstrap
    # value alone, so the squared TD error is its square: 2^2 with double DQN
    # (the target network values the online choice, action 1), 9^2 without.
    _, spec = setup()
    observation = np.zeros(4, np.float32)
    for double, bootstrap in ((True, 2.), (False, 9.)):
        agent = DQN(spec, seed=0, double=double, loss='mse', batch_size=1)
        with torch.no_grad():
            for network, values in ((agent.network, [0., 5., 1., 0.]),
                                    (agent.target_network, [9., 2., 3., 4.])):
                network[-1].weight.zero_()
                network[-1].bias.copy_(torch.tensor(values))
        np.testing.assert_array_equal(agent.q_values(observation), [0., 5., 1., 0.])
        np.testing.assert_array_equal(agent.target_q_values(observation),
                                      [9., 2., 3., 4.])
        agent.observe_first(dm_env.restart(observation))
        agent.observe(0, dm_env.transition(0., observation, discount=np.float32(1.)))
        agent.update()
        assert agent.last_loss == bootstrap ** 2


def test_dueling_head_and_options():
    _, spec = setup(observation_type=OBS.GRID)
    agent = DQN(spec, dueling=True, seed=0)
    assert any(type(m).__name__ == 'DuelingHead' for m in agent.network.modules())
    with pytest.raises(ValueError, match='loss'):
        DQN(spec, loss='l1')
    with pytest.raises(ValueError, match='target_update_rate'):
        DQN(spec, target_update_rate=2.)


def test_seed_tutorial_arguments_work():
    env, spec = setup()
    q_network = nn.Sequential(nn.Linear(4, 50), nn.ReLU(), nn.Linear(50, 50),
                              nn.ReLU(), nn.Linear(50, 4))
    nfq = NeuralFittedQAgent(spec, q_network, replay_capacity=100_000, epsilon=0.6,
                             batch_size=10, learning_rate=1e-3)
    grid_env, grid_spec = setup(observation_type=OBS.GRID, max_episode_length=50)

    class Permute(nn.Module):
        def forward(self, x):
            return x.permute(0, 3, 1, 2)
    network = nn.Sequential(Permute(), nn.Conv2d(3, 32, 4, stride=2, padding=1),
                            nn.ReLU(), nn.Flatten(), nn.Linear(32 * 4 * 5, 4))
    dqn = DQN(environment_spec=grid_spec, network=network, batch_size=10,
              epsilon=0.25, target_update_frequency=25)
    for agent, environment in ((nfq, env), (dqn, grid_env)):
        gridlab.run_loop(environment, agent, num_episodes=1, log_loss=True,
                         logger=gridlab.NoOpLogger(), progress=False)
        agent._epsilon = 0.
        assert agent.epsilon == 0.
        frames = gridlab.evaluate(environment, agent, 1, logger=gridlab.NoOpLogger(),
                                  max_steps_per_episode=5)
        assert frames


def test_same_seed_same_learning():
    def run(seed):
        env, spec = setup(seed=0)
        agent = DQN(spec, seed=seed)
        returns = gridlab.run_loop(env, agent, num_steps=300,
                                   logger=gridlab.NoOpLogger(), progress=False)
        return returns, agent.q_values(env.reset().observation)
    (returns_a, q_a), (returns_b, q_b) = run(3), run(3)
    assert returns_a == returns_b
    np.testing.assert_array_equal(q_a, q_b)
    assert not np.array_equal(run(4)[1], q_a)


@pytest.mark.parametrize('agent_class', [NeuralFittedQAgent, DQN])
def test_save_and_restore(agent_class, tmp_path):
    env, spec = setup()
    # A replay of one transition, so that after the restore both agents learn
    # from the same transition; epsilon decays, so that it shows the schedule.
    options = dict(replay_capacity=1, batch_size=1, epsilon=0.8, final_epsilon=0.,
                   decay_steps=1000)
    agent = agent_class(spec, seed=0, **options)
    gridlab.run_loop(env, agent, num_steps=200, logger=gridlab.NoOpLogger(),
                     progress=False)
    agent.save(tmp_path / 'agent.pt')
    restored = agent_class(spec, seed=1, **options)
    restored.restore(tmp_path / 'agent.pt')
    observation = env.reset().observation
    np.testing.assert_array_equal(restored.q_values(observation),
                                  agent.q_values(observation))
    # Counters and the exploration schedule came along (200 of 1000 steps).
    assert restored.learner_steps == agent.learner_steps == 200
    assert restored.epsilon == agent.epsilon == pytest.approx(0.8 * (1 - 200 / 1000))
    # So did the optimiser's moments (and DQN's target network): one more
    # learning step on the same transition moves both alike, which a fresh
    # Adam (whose first step is learning_rate * sign(gradient)) would not.
    first = env.reset()
    timestep = env.step(1)
    for a in (agent, restored):
        a.observe_first(first)
        a.observe(1, timestep)
        a.update()
    np.testing.assert_array_equal(restored.q_values(observation),
                                  agent.q_values(observation))
    narrow = agent_class(spec, hidden_sizes=(8,), seed=0)
    before = narrow.q_values(observation)
    with pytest.raises(ValueError, match='does not fit'):
        narrow.restore(tmp_path / 'agent.pt')
    np.testing.assert_array_equal(narrow.q_values(observation), before)  # Unchanged.
    with pytest.raises(FileNotFoundError):
        restored.restore(tmp_path / 'nope.pt')
    assert [p.name for p in tmp_path.iterdir()] == ['agent.pt']


def test_bad_hyperparameters_are_named():
    _, spec = setup()
    with pytest.raises(ValueError, match='batch_size'):
        NeuralFittedQAgent(spec, batch_size=0)
    with pytest.raises(ValueError, match=r'hidden_sizes\[1\]'):
        DQN(spec, hidden_sizes=(8, 0))
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd', got 'rmsprop'"):
        NeuralFittedQAgent(spec, optimizer='rmsprop')
    with pytest.raises(ValueError, match='optimizer'):
        DQN(spec, optimizer='SGD')
    with pytest.raises(ValueError, match='learning_rate'):
        DQN(spec, learning_rate=0.)
    with pytest.raises(TypeError, match='q_network was renamed network'):
        DQN(spec, q_network=ConstantQ())
    with pytest.raises(TypeError, match='q_network was renamed network'):
        NeuralFittedQAgent(spec, q_network=ConstantQ())
    assert DQN(spec, network=ConstantQ()).network.bias.shape == (4,)
    assert NeuralFittedQAgent(spec, ConstantQ()).network.bias.shape == (4,)


def test_without_hidden_layers_the_network_is_a_table_on_one_hot_cells():
    _, spec = setup(observation_type=OBS.AGENT_ONEHOT)
    agent = DQN(spec, hidden_sizes=(), seed=0)
    linear = [m for m in agent.network.modules() if isinstance(m, nn.Linear)]
    assert len(linear) == 1 and linear[0].bias is None
    assert linear[0].weight.shape == (4, 9 * 10)
    # A one-hot cell reads its own column of the weights: a table, all zero at first.
    with torch.no_grad():
        linear[0].weight.copy_(torch.arange(360.).reshape(4, 90))
    cell = np.zeros((9, 10), np.float32)
    cell[2, 3] = 1.
    np.testing.assert_array_equal(agent.q_values(cell), [23., 113., 203., 293.])
    assert not DQN(spec, hidden_sizes=(), seed=5).q_values(cell).any()
    # Convolutions or a dueling head keep their biased head.
    _, grid_spec = setup(observation_type=OBS.GRID)
    convolved = DQN(grid_spec, hidden_sizes=(), seed=0).network
    assert isinstance(convolved[-1], nn.Linear) and convolved[-1].bias is not None
    assert any(isinstance(m, nn.Conv2d) for m in convolved)
    dueling = DQN(spec, hidden_sizes=(), dueling=True, seed=0).network
    assert type(dueling[-1]).__name__ == 'DuelingHead'


def test_plain_gradient_descent_moves_a_table_entry_by_the_rule_by_hand():
    # One stored transition: a wall bump on cell (2, 3) (reward -5, back on
    # the same cell). The target network stays zero for these two steps, so
    # the target is r = -5 both times, and with the mean squared error on a
    # batch of one, each step moves Q(s, a) by 2 * lr * (target - Q(s, a)).
    _, spec = setup(observation_type=OBS.AGENT_ONEHOT)
    lr = 0.2
    table = dict(hidden_sizes=(), learning_rate=lr, loss='mse', max_grad_norm=None,
                 batch_size=1, target_update_frequency=100, seed=0)
    agent = DQN(spec, optimizer='sgd', **table)
    cell = np.zeros((9, 10), np.float32)
    cell[2, 3] = 1.
    other = np.zeros_like(cell)
    other[4, 4] = 1.
    agent.observe_first(dm_env.restart(cell))
    agent.observe(1, dm_env.transition(-5., cell, discount=np.float32(0.9)))
    expected = 0.
    for _ in range(2):
        agent.update()
        expected += 2 * lr * (-5. - expected)  # -2, then -2 + 0.4 * -3 = -3.2
        np.testing.assert_allclose(agent.q_values(cell), [0., expected, 0., 0.],
                                   rtol=1e-6)
    assert expected == pytest.approx(-3.2)
    assert not agent.q_values(other).any()  # Other cells' entries never moved.
    # The default is Adam, whose first step moves each weight by learning_rate
    # whatever the size of its gradient: -0.2, not plain descent's -2.
    adam = DQN(spec, **table)
    adam.observe_first(dm_env.restart(cell))
    adam.observe(1, dm_env.transition(-5., cell, discount=np.float32(0.9)))
    adam.update()
    np.testing.assert_allclose(adam.q_values(cell), [0., -lr, 0., 0.], rtol=1e-6)


def test_a_checkpoint_keeps_its_optimizer(tmp_path):
    env, spec = setup(observation_type=OBS.AGENT_ONEHOT)
    table = dict(hidden_sizes=(), optimizer='sgd', learning_rate=4., loss='mse')
    agent = DQN(spec, seed=0, **table)
    gridlab.run_loop(env, agent, num_steps=100, logger=gridlab.NoOpLogger(),
                     progress=False)
    agent.save(tmp_path / 'table.pt')
    restored = DQN(spec, seed=1, **table)
    restored.restore(tmp_path / 'table.pt')
    weights = agent.network[-1].weight
    assert weights.any()  # It learned something (a wall bump, at least).
    assert torch.equal(restored.network[-1].weight, weights)
    adam = DQN(spec, seed=0, hidden_sizes=())
    with pytest.raises(ValueError, match="optimizer is 'sgd'.*optimizer='adam'"):
        adam.restore(tmp_path / 'table.pt')


def test_devices():
    _, spec = setup()
    assert NeuralFittedQAgent(spec, device='auto').device.type in ('cpu', 'cuda')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='no CUDA GPU'):
            DQN(spec, device='cuda')
    with pytest.raises(ValueError, match='unknown device'):
        DQN(spec, device='tpu9')


# Learning, judged by planning's Q*. ------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize('task', ['simple', 'obstacle'])
def test_nfq_learns_the_optimal_policy_everywhere(task):
    env, spec = setup(task, seed=0)
    result = gridlab.train_until_optimal(env, NeuralFittedQAgent(spec, seed=0), 20_000)
    assert result.solved, result


@pytest.mark.slow
@pytest.mark.parametrize('task', ['simple', 'obstacle'])
def test_dqn_learns_the_optimal_policy_everywhere_from_the_grid(task):
    env, spec = setup(task, observation_type=OBS.GRID, seed=0)
    result = gridlab.train_until_optimal(env, DQN(spec, seed=0), 20_000)
    assert result.solved, result


@pytest.mark.slow
def test_dqn_learns_from_pixels_to_walk_the_shortest_path():
    env, spec = setup('simple', observation_type=OBS.RGB, seed=0)
    result = gridlab.train_until_optimal(env, DQN(spec, seed=0), 6_000,
                                         from_start=True)
    assert result.solved, result


def test_the_step_size_falls_to_nothing_over_its_decay_steps():
    # Plain gradient descent on a constant Q, learning from the latest
    # transition alone: the k-th step moves Q(s, a) by
    # step_k * 2 * (Q(s, a) - r - d * max Q), with step_k = 0.1 * (1 - k / 40)
    # (NFQ's target is its own network's), and after 40 transitions by nothing.
    env, spec = setup()
    agent = NeuralFittedQAgent(spec, network=ConstantQ(), optimizer='sgd',
                               learning_rate=0.1, learning_rate_decay_steps=40,
                               replay_capacity=1, batch_size=1, seed=0)
    timestep = env.reset()
    agent.observe_first(timestep)
    for k in range(1, 61):
        before = agent.network.bias.detach().clone()
        action = agent.select_action(timestep.observation)
        timestep = env.step(action)
        agent.observe(action, timestep)
        agent.update()
        target = timestep.reward + timestep.discount * before.max()
        expected = 0.1 * max(0., 1 - k / 40) * 2 * (before[action] - target)
        moved = before[action] - agent.network.bias.detach()[action]
        assert float(moved) == pytest.approx(float(expected), rel=1e-5, abs=1e-7), k
        if timestep.last():
            timestep = env.reset()
            agent.observe_first(timestep)
    assert agent.learner_steps == 60 and agent._optimizer.param_groups[0]['lr'] == 0.
    with pytest.raises(ValueError, match='learning_rate_decay_steps'):
        DQN(spec, learning_rate_decay_steps=0)
