"""PPO: GAE and the clipped loss against hand computations, determinism, the Actor
interface, and (slow) learning on vector CartPole and a GridWorld."""

import dm_env
import numpy as np
import pytest
import torch

import gridlab
from agents.common.rollout import gae
from agents.ppo import PPO
from gridlab.evaluation import judging
from gridlab.envs.batched import BatchedGridWorld
from conftest import greedy_cartpole_mean
from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper

FIRST, MID, LAST = (int(t) for t in (dm_env.StepType.FIRST, dm_env.StepType.MID,
                                     dm_env.StepType.LAST))


def _column(*values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)[:, None]


def test_gae_matches_a_hand_computed_episode():
    # Three steps ending in a termination; lambda = 0.5.
    # delta = (1 + .9 * 1 - .5, 2 + .9 * 1.5 - 1, 3 + 0 - 1.5) = (1.4, 2.35, 1.5)
    # A2 = 1.5; A1 = 2.35 + .9 * .5 * 1.5 = 3.025; A0 = 1.4 + .9 * .5 * 3.025 = 2.76125
    advantages = gae(_column(1., 2., 3.), _column(.9, .9, 0.),
                     _column(.5, 1., 1.5, 2.), _column(FIRST, MID, MID, LAST,
                                                       dtype=torch.uint8), 0.5)
    np.testing.assert_allclose(advantages[:, 0].numpy(), [2.76125, 3.025, 1.5], rtol=1e-6)


def test_gae_bootstraps_truncations_and_masks_restarts():
    # Step 0 is truncated (LAST, discount .9): it bootstraps V = 2 of the final
    # observation and takes nothing from later steps. Step 1 goes from that
    # LAST observation to a restart: not a transition, advantage 0. Step 2 is
    # a fresh episode: 2 + .9 * 4 - 3 = 2.6.
    advantages = gae(_column(1., 0., 2.), _column(.9, 0., .9), _column(1., 2., 3., 4.),
                     _column(MID, LAST, FIRST, MID, dtype=torch.uint8), 1.)
    np.testing.assert_allclose(advantages[:, 0].numpy(), [1.8, 0., 2.6], rtol=1e-6)


def _agent(max_episode_length=200, **kwargs):
    batch = BatchedGridWorld.from_task('simple', 8, seed=0,
                                       max_episode_length=max_episode_length)
    return PPO(batch.single_environment_spec(), **kwargs), batch


def test_the_surrogate_is_clipped():
    agent, _ = _agent(seed=0, value_cost=0., entropy_cost=0., clip=0.2)
    inputs = torch.tensor([22, 23])
    actions = torch.tensor([1, 2])
    with torch.no_grad():
        log_pi = torch.log_softmax(agent._logits_and_values(inputs)[0], -1)
        chosen = log_pi.gather(-1, actions[:, None])[:, 0]
    advantages = torch.tensor([1., 1.])
    targets = torch.zeros(2)
    # ratio 1.5 > 1 + clip with a positive advantage: the loss is -(1 + clip),
    # flat in the parameters, so no gradient flows.
    loss = agent._loss(inputs, actions, chosen - np.log(1.5), advantages, targets)
    assert loss.item() == pytest.approx(-1.2, rel=1e-5)
    loss.backward()
    assert all(p.grad is None or float(p.grad.abs().max()) == 0.
               for p in agent._actor.parameters())
    # ratio 1.1 lies inside the range: loss -1.1 and a real gradient.
    agent._optimizer.zero_grad()
    loss = agent._loss(inputs, actions, chosen - np.log(1.1), advantages, targets)
    assert loss.item() == pytest.approx(-1.1, rel=1e-5)
    loss.backward()
    assert max(float(p.grad.abs().max()) for p in agent._actor.parameters()) > 0.


def _policy(agent):
    """pi(. | s) on every cell of the task, shape (states, actions)."""
    agent_states = range(9 * 10)  # The 'simple' layout's cells.
    return np.stack([agent.action_probabilities(np.int32(s)) for s in agent_states])


def _policy_after_training(seed):
    agent, batch = _agent(seed=seed, rollout_length=8, update_epochs=2)
    agent.train(batch, 8 * 8 * 2)
    return _policy(agent)


def test_same_seed_same_agent_other_seed_other_agent():
    np.testing.assert_array_equal(_policy_after_training(3), _policy_after_training(3))
    assert not np.array_equal(_policy_after_training(3), _policy_after_training(4))


def test_train_counts_steps_and_learns_something():
    agent, batch = _agent(seed=0, rollout_length=50, update_epochs=1,
                          max_episode_length=20)
    before = _policy(agent)
    summary = agent.train(batch, 1000)
    assert summary.steps == 8 * 50 * 3  # Whole rollouts: 3 of 400 steps >= 1000.
    assert summary.updates == 3 and agent.steps == summary.steps
    # 150 steps per copy: at least 7 episodes each, cut at 20 steps or shorter.
    assert len(summary.episode_returns) >= 8 * 7
    assert not np.array_equal(before, _policy(agent))


def test_stop_ends_training_early():
    agent, batch = _agent(seed=0, rollout_length=4)
    summary = agent.train(batch, 10_000, stop=lambda a, steps: steps >= 64)
    assert summary.steps == 64 and summary.updates == 2


def test_an_ordinary_actor_in_the_run_loop_with_checkpoints(tmp_path):
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task('simple'))
    agent = PPO(spec, seed=1, rollout_length=20)
    before = agent.action_probabilities(env.reset().observation)
    gridlab.run_loop(env, agent, num_steps=100)
    assert agent.steps == 100  # Five updates of 20 steps.
    observation = env.reset().observation
    probabilities = agent.action_probabilities(observation)
    assert not np.allclose(probabilities, before)
    assert probabilities.sum() == pytest.approx(1., abs=1e-6)
    path = agent.save(tmp_path / 'ppo.pt')
    other = PPO(spec, seed=2, rollout_length=20)
    other.restore(path)
    np.testing.assert_array_equal(other.action_probabilities(observation), probabilities)
    with gridlab.evaluation_mode(other):
        assert other.select_action(observation) == int(np.argmax(probabilities))
    wider = PPO(spec, seed=2, hidden_sizes=(8,))
    with pytest.raises(ValueError, match='does not fit'):
        wider.restore(path)


def test_normalized_rewards_are_learned_from_while_the_task_keeps_its_own(tmp_path):
    env = GymnasiumVectorWrapper('CartPole-v1', 4, seed=0)
    agent = PPO(env.single_environment_spec(), seed=0, rollout_length=16,
                normalize_rewards=True)
    summary = agent.train(env, 4 * 16 * 12)
    # The episodes logged are CartPole's own: a reward of 1 per step.
    np.testing.assert_array_equal(summary.episode_returns, summary.episode_lengths)
    rollout = agent._rollout
    moved = rollout.step_types[1:] != FIRST
    learned = rollout.rewards[moved]
    # What PPO learned from: each step's 1 divided by the spread of the
    # returns, which exceeds 1 once episodes run a few dozen steps.
    assert np.all((learned > 0.) & (learned < 1.))
    for row, mask in zip(rollout.rewards, moved):  # One scale for a step's copies.
        assert len(set(row[mask].tolist())) <= 1
    path = agent.save(tmp_path / 'ppo.pt')
    again = PPO(env.single_environment_spec(), seed=1, rollout_length=16,
                normalize_rewards=True)
    again.restore(path)
    assert again._return_scaler.state() == agent._return_scaler.state()
    plain = PPO(env.single_environment_spec(), seed=0, rollout_length=16)
    with pytest.raises(ValueError, match='no reward scale'):
        again.restore(plain.save(tmp_path / 'plain.pt'))


def test_the_run_loop_learns_from_scaled_rewards_that_restart_each_episode():
    from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
    env = GymnasiumWrapper('CartPole-v1', seed=0)
    agent = PPO(gridlab.make_environment_spec(env), seed=0, rollout_length=1000,
                normalize_rewards=True)
    gridlab.run_loop(env, agent, num_steps=300)  # No update yet: the stream keeps all.
    stream = agent._stream
    # Independently: each episode's discounted return of CartPole's 1 per step
    # (discount 0.99, restarting at every episode), over all steps so far.
    returns, total = [], 0.
    for step_type in stream.step_types[1:]:
        if step_type == FIRST:  # The stream's restart entry: not a transition.
            total = 0.
            continue
        total = 0.99 * total + 1.
        returns.append(total)
        if step_type == LAST:
            total = 0.
    moved = [r for r, t in zip(stream.rewards, stream.step_types[1:]) if t != FIRST]
    assert len(moved) == len(returns) and FIRST in stream.step_types[1:]
    assert moved[0] == 10.  # The first step's spread is nearly 0: clipped.
    assert moved[-1] == pytest.approx(1. / np.std(returns), rel=1e-3)


def test_rewards_are_scaled_with_the_count_bonus_already_added():
    agent, batch = _agent(seed=0, count_bonus=2., normalize_rewards=True)
    first = batch.reset()
    agent.observe_first_batch(first)
    actions = agent.select_actions(first.observation)
    step = batch.step(actions)
    agent.observe_batch(actions, step)
    # The bonus of each cell reached: 2 / sqrt(the copies that reached it).
    cells, counts = np.unique(step.observation, return_counts=True)
    visits = dict(zip(cells.tolist(), counts.tolist()))
    bonus = np.array([2. / np.sqrt(visits[int(o)]) for o in step.observation])
    learned = np.asarray(step.reward, np.float64) + bonus
    # One step into every episode, each return is that step's reward: the
    # scale's running mean is theirs (up to its tiny prior), bonus included.
    assert agent._return_scaler.mean == pytest.approx(learned.mean(), rel=1e-3)
    assert np.all(agent._rollout.rewards[0] > 0.)


def test_sampled_actions_follow_the_policy_and_greedy_ones_its_mode():
    agent, batch = _agent(seed=0)
    with torch.no_grad():  # A lopsided policy in cell 22, so that the mode is clear.
        agent._actor[-1].bias.copy_(torch.tensor([0., 1., 2., -1.]))
    probabilities = agent.action_probabilities(np.int32(22))
    actions = agent.select_actions(np.full(20_000, 22))
    frequencies = np.bincount(actions, minlength=4) / actions.size
    # Binomial standard errors are below 0.004: 0.015 is about four of them.
    np.testing.assert_allclose(frequencies, probabilities, atol=0.015)
    with gridlab.evaluation_mode(agent):
        assert set(agent.select_actions(np.full(50, 22))) == {int(np.argmax(probabilities))}


def test_activation_and_observation_scaling_options():
    spec = gridlab.EnvironmentSpec(
        dm_env.specs.BoundedArray((2,), np.float32, [0., 0.], [10., 10.]),
        dm_env.specs.DiscreteArray(3), dm_env.specs.Array((), np.float32),
        dm_env.specs.BoundedArray((), np.float32, 0., 1.))
    x = torch.tensor([[10., 5.]])
    scaled, raw = PPO(spec, seed=0), PPO(spec, seed=0, scale_observations=False)
    np.testing.assert_allclose(scaled._encoder(x).numpy(), [[1., 0.]])
    np.testing.assert_allclose(raw._encoder(x).numpy(), [[10., 5.]])
    assert any(isinstance(m, torch.nn.Tanh) for m in scaled._actor)
    relu = PPO(spec, seed=0, activation='relu')
    assert any(isinstance(m, torch.nn.ReLU) for m in relu._critic)
    assert not any(isinstance(m, torch.nn.Tanh) for m in relu._actor)
    with pytest.raises(ValueError, match="activation must be one of .*'sigmoid'"):
        PPO(spec, activation='sigmoid')


def test_without_a_policy_bias_unvisited_cells_keep_their_first_policy():
    # Cell 0 is a corner wall: no copy ever stands there. A table of logits
    # (no hidden layer, no bias) leaves its policy as it was; a shared bias
    # carries what was learned elsewhere into it.
    def policy_in_a_wall_before_and_after(**kwargs):
        agent, batch = _agent(seed=0, hidden_sizes=(), rollout_length=16, **kwargs)
        before = agent.action_probabilities(np.int32(0))
        agent.train(batch, 8 * 16 * 5)
        return before, agent.action_probabilities(np.int32(0))

    before, after = policy_in_a_wall_before_and_after(policy_bias=False)
    np.testing.assert_array_equal(after, before)
    before, after = policy_in_a_wall_before_and_after()
    assert not np.allclose(after, before, atol=1e-4)


def test_bad_hyperparameters_are_refused():
    spec = BatchedGridWorld.from_task('simple', 2).single_environment_spec()
    with pytest.raises(ValueError, match='clip'):
        PPO(spec, clip=1.5)
    with pytest.raises(ValueError, match='rollout_length'):
        PPO(spec, rollout_length=0)
    with pytest.raises(ValueError, match='gae_lambda'):
        PPO(spec, gae_lambda=-0.1)
    with pytest.raises(ValueError, match='count_bonus_decay_steps'):
        PPO(spec, count_bonus=1., count_bonus_decay_steps=0)
    with pytest.raises(ValueError, match='count_bonus'):
        PPO(spec._replace(observations=dm_env.specs.Array((4,), np.float32)),
            count_bonus=1.)
    continuous = spec._replace(actions=dm_env.specs.BoundedArray((2,), np.float32, -1, 1))
    with pytest.raises(ValueError, match='discrete actions'):
        PPO(continuous)
    agent = PPO(spec)
    with pytest.raises(ValueError, match='num_steps'):
        agent.train(BatchedGridWorld.from_task('simple', 2), 0)


# ----------------------------------------------------------------- learning (slow)


@pytest.mark.slow
def test_ppo_solves_vector_cartpole():
    torch.set_num_threads(1)
    env = GymnasiumVectorWrapper('CartPole-v1', num_envs=16, seed=0)
    agent = PPO(env.single_environment_spec(), seed=0)
    scores = []

    def solved(agent, steps):
        if steps < 10_000:
            return False
        scores.append(greedy_cartpole_mean(agent))
        return scores[-1] >= 475

    summary = agent.train(env, 100_000, stop=solved)
    assert scores and scores[-1] >= 475, (summary.steps, scores[-5:])


# benchmarks/ppo.py's GridWorld settings and budgets. Without the count bonus
# PPO settles on a detour (or never finds the goal); with an MLP policy it
# stops exploring the maze after a few dozen cells.
FADING_BONUS = dict(count_bonus=10., count_bonus_decay_steps=200_000)
TABLE_POLICY = dict(count_bonus=10., hidden_sizes=(), policy_bias=False, learning_rate=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize('task, settings, budget', [
    ('cliff', FADING_BONUS, 300_000), ('four_rooms', FADING_BONUS, 300_000),
    ('maze', TABLE_POLICY, 2_000_000)])
def test_ppo_follows_a_shortest_path_from_the_start(task, settings, budget):
    torch.set_num_threads(1)
    batch = BatchedGridWorld.from_task(task, 64, seed=0)
    single = batch.environment
    target = np.nanmax(judging.optimal_q_values(single)[single.start_state])
    agent = PPO(batch.single_environment_spec(), seed=0, **settings)
    returns = []

    def optimal(agent, steps):
        returns.append(judging.greedy_return_from_start(single, agent))
        return abs(returns[-1] - target) < 1e-6

    agent.train(batch, budget, stop=optimal)
    assert returns[-1] == pytest.approx(target, abs=1e-6), (len(returns), returns[-3:])


def test_count_bonus_counts_each_distinct_array_observation():
    # A picture-shaped observation (a MiniGrid view) is counted by its contents.
    spec = gridlab.EnvironmentSpec(
        dm_env.specs.BoundedArray((2, 2, 1), np.uint8, 0, 9, name='observation'),
        dm_env.specs.DiscreteArray(3), dm_env.specs.Array((), np.float32),
        dm_env.specs.BoundedArray((), np.float32, 0., 1.))
    agent = PPO(spec, seed=0, count_bonus=2., conv_channels=())
    a, b = np.zeros((2, 2, 1), np.uint8), np.ones((2, 2, 1), np.uint8)
    first = agent._visit_bonus(np.stack([a, a, b]), np.array([MID, MID, FIRST]), 0)
    # a reached twice in this step (2 / sqrt 2 each); b is a restart: no bonus.
    np.testing.assert_allclose(first, [2 / np.sqrt(2), 2 / np.sqrt(2), 0.])
    second = agent._visit_bonus(np.stack([b, a]), np.array([MID, LAST]), 0)
    np.testing.assert_allclose(second, [2., 2 / np.sqrt(3)])
