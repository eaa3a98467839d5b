"""Actor-critic on N copies (A2C): the rollout's loss against the one-copy
agent's, episode ends inside a rollout, acting, determinism, bad settings,
and (slow) learning CartPole on copies."""

import dm_env
import numpy as np
import pytest
import torch

import gridlab
from agents import ActorCriticAgent
from conftest import greedy_cartpole_mean, needs
from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper

FIRST, MID, LAST = (int(t) for t in (dm_env.StepType.FIRST, dm_env.StepType.MID,
                                     dm_env.StepType.LAST))


def _spec():
    return GymnasiumVectorWrapper('CartPole-v1', num_envs=2, seed=0).single_environment_spec()


def _agent(**kwargs):
    settings = dict(n_steps=3, seed=0, normalize_advantages=False, entropy_cost=0.05)
    settings.update(kwargs)
    return ActorCriticAgent(_spec(), **settings)


def _segment_loss(agent, observations, actions, rewards, discounts, last):
    """The one-copy agent's loss on observations[0..k] (k steps), as its
    run-loop update computes it (`_learn`), with the bootstrap from
    observations[k]."""
    k = len(actions)
    return agent._learn(torch.tensor(observations[:k]), torch.tensor(actions),
                        torch.tensor(rewards), torch.tensor(discounts),
                        torch.tensor(observations[k])[None], last)


def test_a_rollout_without_episode_ends_is_the_mean_of_each_copys_n_step_loss():
    agent = _agent()
    rng = np.random.default_rng(0)
    observations = rng.uniform(-0.2, 0.2, (4, 2, 4)).astype(np.float32)  # T + 1 = 4, N = 2
    actions = np.array([[0, 1], [1, 1], [0, 0]])
    rewards = np.array([[1., 1.], [1., 0.5], [1., 2.]], np.float32)
    discounts = np.full((3, 2), 0.99, np.float32)
    step_types = np.array([[FIRST, MID], [MID, MID], [MID, MID], [MID, MID]], np.uint8)
    loss = agent._rollout_loss(*(torch.tensor(a) for a in (
        observations, actions, rewards, discounts, step_types)))
    # Every copy has 3 transitions: the batch's means are the mean of the copies'.
    expected = np.mean([_segment_loss(agent, observations[:, c], actions[:, c],
                                      rewards[:, c], discounts[:, c], False).item()
                        for c in range(2)])
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('end_discount', [0., 0.99], ids=['termination', 'truncation'])
def test_episode_ends_inside_a_rollout_bootstrap_by_the_one_rule_and_restarts_are_masked(
        end_discount):
    agent = _agent()
    rng = np.random.default_rng(1)
    observations = rng.uniform(-0.2, 0.2, (5, 2, 4)).astype(np.float32)  # T = 4
    actions = np.array([[0, 1], [1, 0], [1, 1], [0, 1]])
    rewards = np.array([[1., 1.], [2., 1.], [9., 1.], [1., 3.]], np.float32)
    # Copy 0 ends after its second step (LAST at row 2), restarts at row 3 (the
    # step from row 2 to 3 is no transition: reward 9 must not count), then
    # takes one step of its next episode. Copy 1 runs on throughout.
    discounts = np.array([[.99, .99], [end_discount, .99], [0., .99], [.99, .99]], np.float32)
    step_types = np.array([[MID, MID], [MID, MID], [LAST, MID], [FIRST, MID],
                           [MID, MID]], np.uint8)
    loss = agent._rollout_loss(*(torch.tensor(a) for a in (
        observations, actions, rewards, discounts, step_types)))
    c0, c1 = observations[:, 0], observations[:, 1]
    first_episode = _segment_loss(agent, c0[:3], actions[:2, 0], rewards[:2, 0],
                                  discounts[:2, 0], True)
    next_episode = _segment_loss(agent, c0[3:], actions[3:, 0], rewards[3:, 0],
                                 discounts[3:, 0], False)
    copy1 = _segment_loss(agent, c1, actions[:, 1], rewards[:, 1], discounts[:, 1], False)
    # Means over 2, 1 and 4 transitions: the batch's mean over all 7 weighs them so.
    expected = (2 * first_episode.item() + next_episode.item() + 4 * copy1.item()) / 7
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_hand_computed_returns_reach_the_critic():
    # With the policy's and entropy's terms off, the loss is the critic's squared
    # error against the n-step returns, here computed by hand from V.
    agent = _agent(value_cost=1., entropy_cost=0.)
    observations = torch.tensor(np.random.default_rng(2).uniform(
        -0.2, 0.2, (3, 1, 4)), dtype=torch.float32)
    with torch.no_grad():
        v = agent._value(observations[:, 0])[:, 0].numpy()
    rewards, discounts = np.array([[1.], [2.]], np.float32), np.array([[.5], [.5]], np.float32)
    returns = [1. + .5 * (2. + .5 * v[2]), 2. + .5 * v[2]]
    expected_value_loss = np.mean((np.array(returns) - v[:2]) ** 2)
    agent._policy_loss = lambda *args: torch.tensor(0.)
    loss = agent._rollout_loss(observations, torch.tensor([[0], [1]]), torch.tensor(rewards),
                               torch.tensor(discounts), torch.tensor([[MID], [MID], [MID]],
                                                                     dtype=torch.uint8))
    assert loss.item() == pytest.approx(expected_value_loss, rel=1e-5)


def _train(seed, steps=2_000, **kwargs):
    environment = GymnasiumVectorWrapper('CartPole-v1', num_envs=4, seed=seed)
    agent = ActorCriticAgent(environment.single_environment_spec(), n_steps=5, seed=seed,
                             **kwargs)
    summary = agent.train(environment, steps)
    return agent, summary


def test_learns_every_n_steps_of_all_copies_and_repeats_with_the_seed():
    agent, summary = _train(0)
    other, again = _train(0)
    # 2,000 steps over 4 copies in rounds of 5 batch steps: 100 updates.
    assert summary.steps == 2_000 and summary.updates == 100
    np.testing.assert_array_equal(summary.episode_returns, again.episode_returns)
    for a, b in zip(agent._parameters(), other._parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    _, third = _train(1)
    assert not np.array_equal(summary.episode_returns, third.episode_returns)


def test_batched_actions_follow_the_policy_and_are_greedy_in_evaluation():
    agent = _agent()
    observation = np.array([0.01, 0.2, -0.03, -0.3], np.float32)
    batch = np.repeat(observation[None], 4_000, axis=0)
    actions = agent.select_actions(batch)
    probabilities = agent.action_probabilities(observation)
    assert actions.shape == (4_000,) and set(np.unique(actions)) <= {0, 1}
    assert abs(actions.mean() - probabilities[1]) < 0.03
    with gridlab.evaluation_mode(agent):
        assert set(agent.select_actions(batch[:10])) == {int(np.argmax(probabilities))}


def test_gradients_are_clipped_to_max_grad_norm():
    agent = _agent(max_grad_norm=1e-3, learning_rate=1.)
    before = [p.detach().clone() for p in agent._parameters()]
    rollout = [torch.tensor(a) for a in (
        np.full((4, 2, 4), 0.1, np.float32), np.zeros((3, 2), np.int64),
        np.full((3, 2), 100., np.float32), np.full((3, 2), .99, np.float32),
        np.full((4, 2), MID, np.uint8))]
    agent._step(agent._rollout_loss(*rollout), 6, 'test')
    norm = torch.sqrt(sum(((p.grad) ** 2).sum() for p in agent._parameters()))
    assert norm.item() == pytest.approx(1e-3, rel=1e-4)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent._parameters()))


def test_batched_training_needs_n_steps_and_good_settings_by_name():
    environment = GymnasiumVectorWrapper('CartPole-v1', num_envs=2, seed=0)
    agent = ActorCriticAgent(environment.single_environment_spec(), seed=0)
    with pytest.raises(ValueError, match='n_steps=None'):
        agent.train(environment, 100)
    for name, value in (('max_grad_norm', 0.), ('max_grad_norm', -1.),
                        ('normalize_advantages', 'yes')):
        with pytest.raises((ValueError, TypeError), match=name):
            ActorCriticAgent(environment.single_environment_spec(), **{name: value})


def test_run_experiment_trains_on_copies(tmp_path):
    result = gridlab.run_experiment(
        'actor-critic', 'CartPole-v1', tmp_path / 'run', seed=0, steps=4_000, num_envs=4,
        hyperparameters={'n_steps': 5}, eval_episodes=2, video=False, pictures=False,
        progress=False, verbose=False)
    assert result.summary['training']['steps'] == 4_000
    assert result.summary['config']['num_envs'] == 4


@pytest.mark.slow
def test_a2c_with_stable_baselines3s_settings_solves_cartpole_on_copies():
    # SB3's A2C and the RL Zoo's CartPole settings: 8 copies, 5-step rollouts,
    # RMSprop 7e-4, no entropy bonus, gradients clipped to 0.5, raw advantages,
    # tanh networks initialised orthogonally. Checked greedily every 25k
    # steps, within the Zoo's 500k.
    torch.set_num_threads(1)
    env = GymnasiumVectorWrapper('CartPole-v1', num_envs=8, seed=0)
    agent = ActorCriticAgent(
        env.single_environment_spec(), seed=0, n_steps=5, learning_rate=7e-4,
        entropy_cost=0., optimizer='rmsprop', max_grad_norm=0.5,
        normalize_advantages=False, activation='tanh', orthogonal_init=True)
    scores, mark = [], [25_000]

    def solved(agent, steps):
        if steps < mark[0]:
            return False
        mark[0] += 25_000
        scores.append(greedy_cartpole_mean(agent))
        return scores[-1] >= 475

    summary = agent.train(env, 500_000, stop=solved)
    assert scores and scores[-1] >= 475, (summary.steps, scores)


def test_tanh_and_orthogonal_initialisation_as_stable_baselines3_builds_them():
    agent = _agent(activation='tanh', orthogonal_init=True, hidden_sizes=(64, 64))
    modules = list(agent._policy.modules()) + list(agent._value.modules())
    assert any(isinstance(m, torch.nn.Tanh) for m in modules)
    assert not any(isinstance(m, torch.nn.ReLU) for m in modules)
    linears = [m for m in agent._policy.modules() if isinstance(m, torch.nn.Linear)]
    hidden, head = linears[1], linears[-1]  # 64 x 64, then 2 x 64.
    torch.testing.assert_close(hidden.weight @ hidden.weight.T, 2. * torch.eye(64),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(head.weight @ head.weight.T, 1e-4 * torch.eye(2),
                               atol=1e-8, rtol=0)
    assert all(not m.bias.any() for m in linears)
    # A near-uniform first policy, whatever the observation.
    rng = np.random.default_rng(0)
    for observation in rng.uniform(-2, 2, (20, 4)).astype(np.float32):
        assert abs(agent.action_probabilities(observation)[0] - 0.5) < 0.02
    plain = _agent()
    assert any(isinstance(m, torch.nn.ReLU) for m in plain._policy.modules())
    with pytest.raises(ValueError, match="activation must be one of.*'sigmoid'"):
        _agent(activation='sigmoid')


def _cartpole_returns(step_types, discount=0.99):
    """Each step's discounted return of CartPole's 1 per step, restarting at
    every episode, for the steps that are transitions."""
    returns, total = [], 0.
    for step_type in step_types:
        if step_type == FIRST:
            total = 0.
            continue
        total = discount * total + 1.
        returns.append(total)
        if step_type == LAST:
            total = 0.
    return returns


def test_normalized_rewards_on_copies_follow_the_spread_of_the_returns(tmp_path):
    environment = GymnasiumVectorWrapper('CartPole-v1', num_envs=1, seed=0)
    spec = environment.single_environment_spec()
    agent = ActorCriticAgent(spec, n_steps=400, seed=0, normalize_rewards=True)
    summary = agent.train(environment, 400)  # One rollout; learning leaves it in place.
    # The logged episodes are CartPole's own: 1 per step.
    np.testing.assert_array_equal(summary.episode_returns, summary.episode_lengths)
    rollout = agent._rollout
    step_types = rollout.step_types[1:, 0]
    returns = _cartpole_returns(step_types)
    learned = rollout.rewards[step_types != FIRST, 0]
    assert len(learned) == len(returns) and FIRST in step_types
    assert learned[0] == 10.  # The first step's spread is nearly 0: clipped.
    assert learned[-1] == pytest.approx(1. / np.std(returns), rel=1e-3)
    assert np.all(rollout.rewards[step_types == FIRST, 0] == 0.)
    path = agent.save(tmp_path / 'a2c.pt')
    again = ActorCriticAgent(spec, n_steps=400, seed=1, normalize_rewards=True)
    again.restore(path)
    assert again._return_scaler.state() == agent._return_scaler.state()
    with pytest.raises(ValueError, match='no reward scale'):
        again.restore(ActorCriticAgent(spec, seed=0).save(tmp_path / 'plain.pt'))


def test_the_run_loop_learns_from_scaled_rewards_that_restart_each_episode():
    from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
    environment = GymnasiumWrapper('CartPole-v1', seed=0)
    agent = ActorCriticAgent(gridlab.make_environment_spec(environment), seed=0,
                             normalize_rewards=True)
    learned, step_types = [], []
    original = agent._learned_reward

    def recorded(timestep):
        learned.append(original(timestep))
        step_types.append(int(timestep.step_type))
        return learned[-1]
    agent._learned_reward = recorded
    gridlab.run_loop(environment, agent, num_steps=300, progress=False, logger=None)
    # The loop's episodes restart the returns: a FIRST before each episode.
    types = []
    for step_type in step_types:
        types.append(step_type)
        if step_type == LAST:
            types.append(FIRST)
    returns = _cartpole_returns(types)
    assert LAST in step_types and len(returns) == len(learned)
    assert learned[0] == 10.
    assert learned[-1] == pytest.approx(1. / np.std(returns), rel=1e-3)


def test_rmsprop_and_a_learning_rate_that_falls_to_zero_over_its_steps():
    agent, _ = _train(0, steps=2_000, optimizer='rmsprop', learning_rate=1e-3,
                      learning_rate_decay_steps=4_000)
    assert isinstance(agent._optimizer, torch.optim.RMSprop)
    assert agent._optimizer.defaults['alpha'] == 0.99 and agent._optimizer.defaults['eps'] == 1e-5
    # 2,000 of 4,000 steps learned from: half the step size is left.
    assert agent.steps == 2_000
    assert agent._optimizer.param_groups[0]['lr'] == pytest.approx(5e-4)
    agent, _ = _train(0, steps=2_000, learning_rate=1e-3, learning_rate_decay_steps=1_000)
    assert agent._optimizer.param_groups[0]['lr'] == 0.
    before = [p.detach().clone() for p in agent._parameters()]
    environment = GymnasiumVectorWrapper('CartPole-v1', num_envs=4, seed=5)
    agent.train(environment, 200)  # A step size of 0 leaves every weight.
    assert all(torch.equal(a, b) for a, b in zip(before, agent._parameters()))
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'rmsprop', got 'sgd'"):
        _agent(optimizer='sgd')
    with pytest.raises(ValueError, match='learning_rate_decay_steps'):
        _agent(learning_rate_decay_steps=0)


def test_the_run_loop_counts_the_steps_it_learns_from():
    from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
    environment = GymnasiumWrapper('CartPole-v1', seed=0)
    agent = ActorCriticAgent(gridlab.make_environment_spec(environment), seed=0,
                             n_steps=10, learning_rate=1e-3, learning_rate_decay_steps=1_000)
    gridlab.run_loop(environment, agent, num_steps=250, progress=False, logger=None)
    # Every 10 steps and at episode ends: all but those still waiting.
    waiting = len(agent._trajectory)
    assert waiting < 10 and agent.steps == 250 - waiting
    assert agent._optimizer.param_groups[0]['lr'] == pytest.approx(
        1e-3 * (1 - agent.steps / 1_000))


def test_observations_reach_the_networks_scaled_or_as_they_are():
    needs('Box2D', 'box2d')  # LunarLander: bounds far wider than its values.
    spec = _spec()
    from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
    lunar = gridlab.make_environment_spec(GymnasiumWrapper('LunarLander-v3', seed=0))
    raw = ActorCriticAgent(lunar, seed=0, scale_observations=False)
    scaled = ActorCriticAgent(lunar, seed=0)
    observation = np.full(8, 0.5, np.float32)
    hidden = lambda agent, x: agent._policy[0][2](agent._policy[0][1](torch.tensor(x)[None]))
    # Same seed, same weights: the raw agent's first layer sees the observation
    # itself, the other its image in [-1, 1] under LunarLander's bounds.
    low, high = lunar.observations.minimum, lunar.observations.maximum
    image = (2 * (observation - low) / (high - low) - 1).astype(np.float32)
    # The raw agent's body on the observation is the (same-seeded) scaled
    # agent's layers on the observation itself, the scaling left out.
    torch.testing.assert_close(raw._policy[0](torch.tensor(observation)[None]),
                               hidden(scaled, observation))
    torch.testing.assert_close(scaled._policy[0](torch.tensor(observation)[None]),
                               hidden(scaled, image), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='scale_observations'):
        ActorCriticAgent(spec, scale_observations='no')


def test_gae_lambda_weighs_the_critics_later_estimates():
    # Two steps of one copy, discount .5, lambda .5: by hand from V,
    # A_1 = r_1 + .5 V_2 - V_1 and A_0 = r_0 + .5 V_1 - V_0 + .5 * .5 * A_1; the
    # critic's targets are A + V.
    agent = _agent(value_cost=1., entropy_cost=0., gae_lambda=0.5)
    observations = torch.tensor(np.random.default_rng(3).uniform(
        -0.2, 0.2, (3, 1, 4)), dtype=torch.float32)
    with torch.no_grad():
        v = agent._value(observations[:, 0])[:, 0].numpy()
    a1 = 2. + .5 * v[2] - v[1]
    a0 = 1. + .5 * v[1] - v[0] + .25 * a1
    expected_value_loss = np.mean(np.array([a0, a1]) ** 2)
    agent._policy_loss = lambda *args: torch.tensor(0.)
    loss = agent._rollout_loss(observations, torch.tensor([[0], [1]]),
                               torch.tensor([[1.], [2.]]), torch.tensor([[.5], [.5]]),
                               torch.tensor([[MID], [MID], [MID]], dtype=torch.uint8))
    assert loss.item() == pytest.approx(expected_value_loss, rel=1e-5)
    with pytest.raises(ValueError, match='gae_lambda'):
        _agent(gae_lambda=1.5)


def test_a_run_on_one_environment_learns_from_whole_episodes_without_n_steps(tmp_path):
    # n_steps=None is the one-copy agent's default (and CartPole's tuned entry).
    result = gridlab.run_experiment('actor-critic', 'CartPole-v1', tmp_path / 'run', seed=0,
                                    steps=300, eval_episodes=1, video=False, pictures=False,
                                    progress=False, verbose=False)
    assert result.summary['training']['steps'] == 300
    from gridlab.core.errors import ExperimentError
    with pytest.raises(ExperimentError, match="actor-critic on CartPole-v1: .*n_steps=None"):
        gridlab.run_experiment('actor-critic', 'CartPole-v1', tmp_path / 'batched', seed=0,
                               steps=300, num_envs=2, hyperparameters={'n_steps': None},
                               eval_episodes=1, video=False, pictures=False,
                               progress=False, verbose=False)
    assert not (tmp_path / 'batched' / 'episodes.csv').exists()  # Refused before training.


@pytest.mark.parametrize('agent_name', ['actor-critic', 'ppo'])
def test_a_rollout_of_nothing_but_restarts_learns_nothing_and_goes_on(agent_name):
    # One copy, rollouts of one step: the step after each episode's end is a
    # restart, a rollout with no transition in it.
    from agents.ppo import PPO
    environment = GymnasiumVectorWrapper('CartPole-v1', num_envs=1, seed=0)
    spec = environment.single_environment_spec()
    agent = (ActorCriticAgent(spec, n_steps=1, seed=0) if agent_name == 'actor-critic'
             else PPO(spec, rollout_length=1, num_minibatches=1, seed=0))
    summary = agent.train(environment, 300)
    assert summary.steps == 300 and summary.transitions < 300  # Restarts happened.
    assert agent.steps == 300
    assert np.isfinite(agent.last_loss)


def test_bad_switches_and_activations_are_refused_by_name():
    with pytest.raises(ValueError, match=r"activation must be one of .* got \['relu'\]"):
        _agent(activation=['relu'])
    with pytest.raises(ValueError, match="shared_body must be True or False, got 'no'"):
        _agent(shared_body='no')


def _view_spec():
    """A MiniGrid-like 7x7 view of 3 channels (object, colour, state)."""
    return gridlab.EnvironmentSpec(
        observations=dm_env.specs.BoundedArray((7, 7, 3), np.uint8, 0, 10, 'view'),
        actions=dm_env.specs.DiscreteArray(7, name='action'),
        rewards=dm_env.specs.Array((), float), discounts=dm_env.specs.BoundedArray(
            (), float, 0., 1.))


def test_images_pass_through_convolutions_the_actor_and_critic_share():
    agent = ActorCriticAgent(_view_spec(), n_steps=5, seed=0)
    convs = [m for m in agent._policy.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (3, 16, (2, 2)), (16, 32, (2, 2)), (32, 64, (2, 2))]
    # rl-starter-files' arithmetic: 7 -> 6 (conv) -> 3 (pool) -> 2 -> 1: 64 features.
    first = next(m for m in agent._policy.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 64
    critic_convs = [m for m in agent._value.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(a is b for a, b in zip(convs, critic_convs)) and len(critic_convs) == 3
    # The critic's loss trains the shared convolutions too.
    view = torch.randint(0, 11, (4, 7, 7, 3)).to(torch.uint8)
    agent._value(view).sum().backward()
    assert convs[0].weight.grad.abs().sum() > 0
    flat = ActorCriticAgent(_view_spec(), n_steps=5, seed=0, conv_channels=())
    assert not any(isinstance(m, torch.nn.Conv2d) for m in flat._policy.modules())
    first = next(m for m in flat._policy.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 7 * 7 * 3
    # Orthogonal initialisation reaches the convolutions: ReLU's gain sqrt(2).
    agent = ActorCriticAgent(_view_spec(), n_steps=5, seed=0, orthogonal_init=True,
                             conv_channels=(8,), conv_kernels=(3,), conv_pools=(1,))
    conv = next(m for m in agent._policy.modules() if isinstance(m, torch.nn.Conv2d))
    weight = conv.weight.reshape(8, -1)  # 8 rows of 27: orthogonal rows.
    torch.testing.assert_close(weight @ weight.T, 2. * torch.eye(8), atol=1e-5, rtol=0)
    assert not conv.bias.any()
    with pytest.raises(ValueError, match='conv_kernels'):
        ActorCriticAgent(_view_spec(), conv_kernels=(2, 3))


def test_a2c_reaches_the_goal_seeing_the_grid_through_convolutions(tmp_path):
    # The GridWorld's GRID observation (a picture of the walls, agent and
    # goal, one cell per position) through the default conv torso, 8 copies.
    result = gridlab.run_experiment(
        'actor-critic', 'simple', tmp_path / 'run', seed=0, steps=30_000, num_envs=8,
        observation='grid', hyperparameters={'n_steps': 16}, video=False, pictures=False,
        progress=False, verbose=False)
    assert result.summary['config']['observation'] == 'grid'
    evaluation = result.summary['evaluation']
    assert evaluation['success_rate'] == 1.0 and evaluation['optimal_fraction'] >= 0.75


def _cells_spec(cells=6):
    return gridlab.EnvironmentSpec(
        observations=dm_env.specs.DiscreteArray(cells, name='cell'),
        actions=dm_env.specs.DiscreteArray(4, name='action'),
        rewards=dm_env.specs.Array((), float), discounts=dm_env.specs.BoundedArray(
            (), float, 0., 1.))


def test_a_table_policy_learns_nothing_about_cells_it_has_not_seen():
    # hidden_sizes=() and no policy bias: the policy is one logit per (cell,
    # action), so a loss over cells 0-2 leaves cells 3-5 where they started.
    agent = ActorCriticAgent(_cells_spec(), n_steps=3, hidden_sizes=(), policy_bias=False,
                             seed=0)
    linears = [m for m in agent._policy.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 1 and linears[0].bias is None
    assert linears[0].weight.shape == (4, 6)
    loss = agent._learn(torch.tensor([0, 1, 2]), torch.tensor([1, 2, 3]),
                        torch.tensor([0., 0., 1.]), torch.tensor([1., 1., 1.]),
                        torch.tensor([2])[None], False)
    loss.backward()
    grad = linears[0].weight.grad
    assert grad[:, :3].abs().sum() > 0 and not grad[:, 3:].any()
    # With the bias every cell's logits would move with the seen ones.
    biased = ActorCriticAgent(_cells_spec(), n_steps=3, hidden_sizes=(), seed=0)
    head = next(m for m in biased._policy.modules() if isinstance(m, torch.nn.Linear))
    assert head.bias is not None
    with pytest.raises(ValueError, match="policy_bias must be True or False, got 'no'"):
        ActorCriticAgent(_cells_spec(), policy_bias='no')
    with pytest.raises(ValueError, match=r"activation must be one of .* got 'elu'"):
        ActorCriticAgent(_cells_spec(), hidden_sizes=(), activation='elu')
