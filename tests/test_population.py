"""Populations: many seeds of one agent trained as one, checked against the
single agents themselves (the independent answer)."""

import collections

import dm_env
import numpy as np
import pytest
import torch

from agents.actor_critic import ActorCriticAgent
from agents.dqn import DQN
from agents.nfq import NeuralFittedQAgent
from agents.ppo import PPO
from agents.populations import (PopulationActorCritic, PopulationDQN, PopulationNFQ,
                                PopulationPPO, check_seeds)
from agents.populations.memory import members_that_fit
from gridlab import build_gridworld_task, run_loop, setup_environment
from gridlab.envs import ObservationType
from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
from gridlab.envs.adapters.population_cartpole import MemberSeededCartPole
from gridlab.envs.catalogue import batched_environment, population_environment
from gridlab.envs.concatenated import ConcatenatedEnvironments

CARTPOLE = ('CartPole-v1', None, 0.99)
SIMPLE = ('simple', ObservationType.STATE_INDEX, 0.9)
SIMPLE_GRID = ('simple', ObservationType.GRID, 0.9)
SIMPLE_POSITIONS = ('simple', ObservationType.AGENT_GOAL_POS, 0.9)


def single_run(agent_class, task, seed, copies, steps, **settings):
    name, observation, discount = task
    env = batched_environment(name, observation, copies, seed, discount)
    agent = agent_class(env.single_environment_spec(), seed=seed, **settings)
    return agent, agent.train(env, steps)


def population_run(population_class, task, seeds, copies, steps, **settings):
    name, observation, discount = task
    env = population_environment(name, observation, copies, seeds, discount)
    population = population_class(env.single_environment_spec(), seeds=seeds, **settings)
    return population, population.train(env, steps * len(seeds))


def assert_same_state(a, b, where='state'):
    """Two checkpoint states (nested dicts of tensors and values) equal, bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f'{where}/{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f'{where}[{i}]')
    else:
        assert a == b, (where, a, b)


def assert_same_agent(a, b, loss: bool = True):
    """Weights, optimiser state, counters and random generators equal, bit
    for bit (and the last loss, which checkpoints do not keep)."""
    assert_same_state(a._state(), b._state())
    if hasattr(a, '_replay'):  # The replay's own generator draws the minibatches.
        assert a._replay._rng.bit_generator.state == b._replay._rng.bit_generator.state
    assert a.last_loss == b.last_loss or not loss


def alone_spec():
    return GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec()


# ------------------------------------------------------------------ PPO

@pytest.mark.parametrize('settings', [
    dict(normalize_advantages=True), dict(normalize_advantages=False),
    dict(normalize_rewards=True)], ids=['normalized', 'raw', 'scaled-rewards'])
@pytest.mark.parametrize('task', [CARTPOLE, SIMPLE], ids=['CartPole-v1', 'simple'])
def test_ppo_population_of_one_is_the_single_agent_bit_for_bit(task, settings):
    copies, rollout = 4, 16
    steps = copies * rollout * 6
    single, trained = single_run(PPO, task, 7, copies, steps, rollout_length=rollout,
                                 **settings)
    population, together = population_run(PopulationPPO, task, [7], copies, steps,
                                          rollout_length=rollout, **settings)
    assert_same_agent(population.member(0), single)
    np.testing.assert_array_equal(together.episode_returns, trained.episode_returns)
    np.testing.assert_array_equal(together.episode_lengths, trained.episode_lengths)
    assert together.steps == trained.steps


def test_ppo_population_of_one_on_rollouts_of_one_transition_or_none():
    # One copy, rollouts of one step: a rollout holds one transition (its
    # advantage, having no spread, is left unnormalised) or, after an
    # episode's end, only a restart (nothing learned, nothing drawn). The
    # population of one does what PPO does with each (before, it normalised
    # the lone advantage to NaN, and a restart-only rollout stopped it with an
    # AttributeError). Minibatches of one row round otherwise in the stacked
    # products than in PPO's, and the difference grows with the steps
    # (measured: at most 3e-7 per weight and 1e-6 relative in the loss after
    # 100), so the parameters agree to 1e-6 relative; the counters and the
    # generators, which drew the same minibatch orders, agree exactly.
    steps = 100
    single, trained = single_run(PPO, CARTPOLE, 7, 1, steps, rollout_length=1,
                                 num_minibatches=1)
    population, together = population_run(PopulationPPO, CARTPOLE, [7], 1, steps,
                                          rollout_length=1, num_minibatches=1)
    member = population.member(0)
    assert trained.transitions < steps  # Restarts happened.
    ours, theirs = flat(member._parameters()), flat(single._parameters())
    assert torch.isfinite(ours).all() and np.isfinite(member.last_loss)
    difference = float(torch.linalg.vector_norm(ours - theirs))
    assert difference <= 1e-6 * float(torch.linalg.vector_norm(theirs))
    assert member.last_loss == pytest.approx(single.last_loss, rel=1e-5, abs=1e-6)
    assert member.steps == single.steps == steps
    assert torch.equal(member._generator.get_state(), single._generator.get_state())
    np.testing.assert_array_equal(together.episode_returns, trained.episode_returns)


def test_ppo_population_of_one_with_the_count_bonus_and_scaled_rewards_bit_for_bit():
    # Each member adds its own bonus, then scales by its own returns, as PPO does.
    copies, rollout = 4, 16
    steps = copies * rollout * 6
    settings = dict(rollout_length=rollout, count_bonus=2., normalize_rewards=True)
    single, trained = single_run(PPO, SIMPLE, 7, copies, steps, **settings)
    population, together = population_run(PopulationPPO, SIMPLE, [7], copies, steps,
                                          **settings)
    assert_same_agent(population.member(0), single)
    np.testing.assert_array_equal(together.episode_returns, trained.episode_returns)


def flat(parameters) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in parameters])


def random_rollout(rng, length, copies, observation_size):
    """A rollout with restarts: some copies end episodes at random steps."""
    step_types = rng.choice([1, 1, 1, 1, 1, 1, 2], size=(length + 1, copies))
    step_types[0] = 0
    # A copy whose step was LAST restarts: FIRST on the next row.
    step_types[1:][step_types[:-1] == 2] = 0
    return (torch.tensor(rng.normal(size=(length + 1, copies, observation_size)),
                         dtype=torch.float32),
            torch.tensor(rng.integers(0, 2, size=(length, copies))),
            torch.tensor(rng.normal(size=(length, copies)), dtype=torch.float32),
            torch.tensor(np.where(step_types[1:] == 2, 0., 0.99), dtype=torch.float32),
            torch.tensor(step_types, dtype=torch.uint8))


def test_ppo_member_learning_step_equals_the_single_agents_step():
    seeds, copies, length = [3, 11, 12], 5, 12
    spec = GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec()
    settings = dict(rollout_length=length, num_minibatches=3, update_epochs=2)
    population = PopulationPPO(spec, seeds=seeds, **settings)
    batch = random_rollout(np.random.default_rng(0), length, copies * len(seeds), 4)
    # The members' rollouts differ in transitions: padding and idle steps are used.
    population._learn(*batch)
    for k, seed in enumerate(seeds):
        single = PPO(spec, seed=seed, **settings)
        before = flat(single._parameters())
        columns = slice(k * copies, (k + 1) * copies)
        single._learn(*(tensor[:, columns] for tensor in batch))
        member = population.member(k)
        # All of a member's parameters within 1e-6 of the single agent's,
        # relative (measured: about 1e-8), and the update itself within 1e-5
        # of the single agent's update (measured: about 1e-6). Elementwise,
        # entries near zero (biases) would compare rounding with rounding.
        ours, theirs = flat(member._parameters()), flat(single._parameters())
        difference = float(torch.linalg.vector_norm(ours - theirs))
        assert difference <= 1e-6 * float(torch.linalg.vector_norm(theirs))
        assert difference <= 1e-5 * float(torch.linalg.vector_norm(theirs - before))
        assert member.last_loss == pytest.approx(single.last_loss, rel=1e-5, abs=1e-6)
        assert member.steps == single.steps
        # Each member drew its minibatch orders from its own generator.
        assert torch.equal(member._generator.get_state(), single._generator.get_state())


@pytest.mark.parametrize('settings', [{}, dict(normalize_rewards=True)],
                         ids=['default', 'scaled-rewards'])
def test_ppo_members_are_independent(settings):
    copies, rollout = 3, 8
    steps = copies * rollout * 5
    a, _ = population_run(PopulationPPO, CARTPOLE, [0, 1, 2], copies, steps,
                          rollout_length=rollout, **settings)
    b, _ = population_run(PopulationPPO, CARTPOLE, [0, 9, 2], copies, steps,
                          rollout_length=rollout, **settings)
    for k in (0, 2):  # Member 1's seed (and so its episodes) changed; theirs did not.
        assert_same_agent(a.member(k), b.member(k))
    assert not torch.equal(a.member(1)._parameters()[0], b.member(1)._parameters()[0])


def test_ppo_population_checkpoint_round_trip(tmp_path):
    copies, rollout = 2, 8
    population, _ = population_run(PopulationPPO, CARTPOLE, [4, 5], copies,
                                   copies * rollout * 3, rollout_length=rollout)
    population.save(tmp_path / 'population.pt')
    # One member saved alone restores into an ordinary PPO.
    population.member(1).save(tmp_path / 'member.pt')
    alone = PPO(GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec(), seed=5,
                rollout_length=rollout)
    alone.restore(tmp_path / 'member.pt')
    assert_same_agent(alone, population.member(1), loss=False)
    again = PopulationPPO(GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec(),
                          seeds=[4, 5], rollout_length=rollout)
    again.restore(tmp_path / 'population.pt')
    for k in range(2):
        assert_same_agent(again.member(k), population.member(k), loss=False)
    with pytest.raises(ValueError, match=r'seeds \[4, 5\], this population has \[4, 6\]'):
        PopulationPPO(alone_spec(), seeds=[4, 6], rollout_length=rollout).restore(
            tmp_path / 'population.pt')


def test_read_member_trains_on_from_a_restored_member(tmp_path):
    spec = GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec()
    trained, _ = single_run(PPO, CARTPOLE, 3, 2, 2 * 8 * 3, rollout_length=8)
    trained.save(tmp_path / 'agent.pt')
    population = PopulationPPO(spec, seeds=[3, 4], rollout_length=8)
    population.members[0].restore(tmp_path / 'agent.pt')
    population.read_member(0)
    assert_same_agent(population.member(0), trained, loss=False)


# ----------------------------------------------------------- environments

def test_member_seeded_cartpole_is_each_members_own_environment():
    seeds, copies = [3, 9, 20], 4
    together = GymnasiumVectorWrapper(MemberSeededCartPole(seeds, copies), seed=None)
    apart = [GymnasiumVectorWrapper('CartPole-v1', copies, seed=s) for s in seeds]
    rng = np.random.default_rng(1)
    first = together.reset()
    np.testing.assert_array_equal(first.observation,
                                  np.concatenate([e.reset().observation for e in apart]))
    for _ in range(600):  # Many restarts, at different steps in each member.
        actions = rng.integers(0, 2, len(seeds) * copies)
        joined = together.step(actions)
        separate = [e.step(part) for e, part in zip(apart, np.split(actions, len(seeds)))]
        for field, values in zip(joined, zip(*separate)):
            np.testing.assert_array_equal(field, np.concatenate(values))


def test_population_environment_joins_random_gridworlds_member_by_member():
    env = population_environment('random_goal', ObservationType.GRID, 2, [1, 2], 0.9)
    assert isinstance(env, ConcatenatedEnvironments) and env.num_envs == 4
    deterministic = population_environment('simple', ObservationType.GRID, 2, [1, 2], 0.9)
    assert not isinstance(deterministic, ConcatenatedEnvironments)
    assert deterministic.num_envs == 4


def test_concatenated_environments_refuse_unequal_sizes():
    with pytest.raises(ValueError, match=r'one size \(num_envs\), got sizes \[2, 3\]'):
        ConcatenatedEnvironments([batched_environment('simple', ObservationType.GRID, n, 0,
                                                      0.9) for n in (2, 3)])
    with pytest.raises(ValueError, match='at least one'):
        ConcatenatedEnvironments([])


# ------------------------------------------------------------- bad input

@pytest.mark.parametrize('seeds, message', [
    ([1, 2, 1], r'distinct .* repeated: \[1\]'),
    ([], 'between 1 and'),
    ('0-3', 'sequence of integer seeds'),
    ([0, -1], r'seeds\[1\]'),
])
def test_bad_seeds_are_refused_by_name(seeds, message):
    with pytest.raises(ValueError, match=message):
        check_seeds(seeds)


def test_population_refuses_a_batch_that_is_not_n_times_k():
    spec = GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec()
    population = PopulationPPO(spec, seeds=[0, 1])
    with pytest.raises(ValueError, match='population of 2 members .* got a batch of 3'):
        population.select_actions(np.zeros((3, 4), np.float32))
    with pytest.raises(IndexError, match=r'member must be an integer in \[0, 2\), got 2'):
        population.member(2)


# ----------------------------------------------------------- NFQ and DQN

VALUE_AGENTS = {
    'dqn-conv': (DQN, PopulationDQN, SIMPLE_GRID, {}),
    'dqn-dueling-polyak': (DQN, PopulationDQN, SIMPLE_POSITIONS,
                           dict(dueling=True, target_update_rate=0.1, double=False)),
    'dqn-cartpole': (DQN, PopulationDQN, CARTPOLE, dict(loss='mse', max_grad_norm=None)),
    'dqn-bursts': (DQN, PopulationDQN, SIMPLE_POSITIONS,
                   dict(update_every=4, learning_steps=3, double=False,
                        scale_observations=False)),
    'nfq': (NeuralFittedQAgent, PopulationNFQ, SIMPLE_POSITIONS, {}),
    'nfq-sgd-table': (NeuralFittedQAgent, PopulationNFQ,
                      ('simple', ObservationType.AGENT_ONEHOT, 0.9),
                      dict(hidden_sizes=(), optimizer='sgd', learning_rate=10.)),
}


@pytest.mark.parametrize('name', sorted(VALUE_AGENTS))
def test_value_population_of_one_is_the_single_agent_bit_for_bit(name):
    single_class, population_class, task, settings = VALUE_AGENTS[name]
    copies, steps = 3, 3 * 120
    settings = dict(settings, target_update_frequency=20) if single_class is DQN and (
        'target_update_rate' not in settings) else settings
    single, trained = single_run(single_class, task, 4, copies, steps, **settings)
    population, together = population_run(population_class, task, [4], copies, steps,
                                          **settings)
    assert single.learner_steps > 50
    assert_same_agent(population.member(0), single)
    np.testing.assert_array_equal(together.episode_returns, trained.episode_returns)


def fill_replays(population, singles, transitions: int, rng):
    """The same random transitions into each member's replay and its single agent's."""
    spec = singles[0]._observation_spec
    for _ in range(transitions):
        states = rng.uniform(0, 1, (population.size,) + spec.shape).astype(spec.dtype)
        following = rng.uniform(0, 1, (population.size,) + spec.shape).astype(spec.dtype)
        actions = rng.integers(0, singles[0]._num_actions, population.size)
        rewards = rng.normal(size=population.size).astype(np.float32)
        discounts = rng.choice([0., 0.9], population.size).astype(np.float32)
        population._replay.add(np.arange(population.size), states, actions, rewards,
                               discounts, following)
        for m, single in enumerate(singles):
            single._replay.add_first(dm_env.restart(states[m]))
            single._replay.add(actions[m], dm_env.TimeStep(
                dm_env.StepType.MID, rewards[m], discounts[m], following[m]))


@pytest.mark.parametrize('name', sorted(VALUE_AGENTS))
def test_value_member_learning_step_equals_the_single_agents_step(name):
    single_class, population_class, task, settings = VALUE_AGENTS[name]
    seeds = [2, 8, 13]
    spec = batched_environment(task[0], task[1], 1, 0, task[2]).single_environment_spec()
    population = population_class(spec, seeds=seeds, **settings)
    singles = [single_class(spec, seed=seed, **settings) for seed in seeds]
    fill_replays(population, singles, 64, np.random.default_rng(5))
    before = [flat(s._q_network.parameters()) for s in singles]
    for _ in range(3):  # Three steps: the Adam moments and the target take part too.
        population._learn([0, 1, 2])
        for single in singles:
            single._learn()
    # A step due for some members only (their update_every counts fall due
    # apart): theirs as their single agents', the other untouched.
    population._learn([0, 2])
    for single in singles[0], singles[2]:
        single._learn()
    for k, single in enumerate(singles):
        member = population.member(k)
        ours, theirs = flat(member._q_network.parameters()), flat(single._q_network.parameters())
        difference = float(torch.linalg.vector_norm(ours - theirs))
        assert difference <= 1e-6 * float(torch.linalg.vector_norm(theirs))
        assert difference <= 1e-5 * float(torch.linalg.vector_norm(theirs - before[k]))
        assert member.learner_steps == single.learner_steps == (3 if k == 1 else 4)
        assert member.last_loss == pytest.approx(single.last_loss, rel=1e-5)
        assert (member._replay._rng.bit_generator.state ==
                single._replay._rng.bit_generator.state)


def test_dqn_members_are_independent():
    copies, steps = 2, 2 * 100
    a, _ = population_run(PopulationDQN, SIMPLE_GRID, [0, 1, 2], copies, steps,
                          target_update_frequency=20)
    b, _ = population_run(PopulationDQN, SIMPLE_GRID, [0, 7, 2], copies, steps,
                          target_update_frequency=20)
    for k in (0, 2):
        assert_same_agent(a.member(k), b.member(k))
    assert not torch.equal(flat(a.member(1)._q_network.parameters()),
                           flat(b.member(1)._q_network.parameters()))


def test_value_populations_refuse_what_they_cannot_stack():
    spec = batched_environment('simple', ObservationType.GRID, 1, 0, 0.9
                               ).single_environment_spec()
    with pytest.raises(ValueError, match='count_bonus=1.0: a population of DQN'):
        PopulationDQN(spec, seeds=[0, 1], count_bonus=1.)
    with pytest.raises(ValueError, match='network=.*leave network out'):
        PopulationDQN(spec, seeds=[0, 1], network=torch.nn.Linear(270, 4))
    with pytest.raises(ValueError, match='learning_rate_decay_steps=100: a population of '
                                         'NeuralFittedQAgent keeps one step size'):
        PopulationNFQ(spec, seeds=[0, 1], learning_rate_decay_steps=100)


# ----------------------------------------------------------- actor-critic

@pytest.mark.parametrize('settings, observation', [
    ({}, ObservationType.AGENT_GOAL_POS), ({'n_steps': 5}, ObservationType.AGENT_GOAL_POS),
    ({'n_steps': 5, 'activation': 'tanh', 'orthogonal_init': True, 'normalize_rewards': True,
      'max_grad_norm': 0.5}, ObservationType.AGENT_GOAL_POS),
    ({'n_steps': 5, 'count_bonus': 1.}, ObservationType.STATE_INDEX),
    ({'n_steps': 5}, ObservationType.GRID),
    ({'n_steps': 5, 'conv_channels': ()}, ObservationType.GRID),
    ({'n_steps': 5, 'orthogonal_init': True, 'conv_pools': (2, 1), 'conv_channels': (4, 8)},
     ObservationType.GRID),
    ({'n_steps': 5, 'hidden_sizes': (), 'policy_bias': False, 'count_bonus': 10.,
      'learning_rate': 1e-2}, ObservationType.STATE_INDEX)],
    ids=['episodes', 'n-steps', 'sb3-style', 'state-index-and-count-bonus', 'grid-conv',
         'grid-flattened', 'grid-conv-orthogonal', 'table-policy'])
def test_actor_critic_members_are_their_single_agents_bit_for_bit(settings, observation):
    seeds, steps = [3, 4, 6], 400
    env = population_environment('simple', observation, 1, seeds, 0.9)
    population = PopulationActorCritic(env.single_environment_spec(), seeds=seeds,
                                       **settings)
    transitions = [0] * len(seeds)  # Restarts are batch steps, not transitions.
    for m, member in enumerate(population.members):
        def counted(action, timestep, observe=member.observe, m=m):
            transitions[m] += 1
            observe(action, timestep)
        member.observe = counted
    together = population.train(env, steps * len(seeds))
    returns = []
    for m, seed in enumerate(seeds):  # Each in the one-environment loop, alone.
        single_env = build_gridworld_task('simple', observation_type=observation)
        single_env, spec = setup_environment(single_env)
        single = ActorCriticAgent(spec, seed=seed, **settings)
        returns.append(run_loop(single_env, single, num_steps=transitions[m],
                                progress=False, logger=None))
        assert_same_agent(population.member(m), single)
    # The episodes that ended in the population are those of the single runs
    # (whose lists also hold each run's last, unfinished episode).
    ended = collections.Counter(together.episode_returns.tolist())
    alone = collections.Counter(r for member_returns in returns for r in member_returns)
    assert not ended - alone and sum((alone - ended).values()) <= len(seeds)


@pytest.mark.parametrize('task', [CARTPOLE, SIMPLE_POSITIONS], ids=['cartpole', 'simple'])
def test_a2c_members_on_k_copies_are_their_single_batched_runs_bit_for_bit(task):
    seeds, copies, steps = [3, 4], 3, 600  # 600 = 40 rounds of 5 steps of 3 copies.
    settings = dict(n_steps=5, max_grad_norm=0.5, normalize_rewards=True)
    population, together = population_run(PopulationActorCritic, task, seeds, copies, steps,
                                          copies_per_member=copies, **settings)
    assert together.steps == steps * len(seeds)
    ended = collections.Counter(together.episode_returns.tolist())
    alone = collections.Counter()
    for m, seed in enumerate(seeds):
        single, summary = single_run(ActorCriticAgent, task, seed, copies, steps, **settings)
        assert summary.updates == 40
        assert_same_agent(population.member(m), single)
        alone.update(summary.episode_returns.tolist())
    assert ended == alone and ended


def test_an_a2c_population_on_k_copies_acts_greedily_when_greedy():
    spec = alone_spec()
    population = PopulationActorCritic(spec, seeds=[0, 1], copies_per_member=200, n_steps=5)
    observations = np.tile(np.array([0.01, 0.2, -0.03, -0.3], np.float32), (400, 1))
    sampled = population.select_actions(observations)
    assert all(len(set(sampled[m * 200:(m + 1) * 200])) == 2 for m in range(2))
    population.greedy = True  # As PopulationPPO and the k = 1 path read it.
    greedy = population.select_actions(observations)
    population.greedy = False
    for m, member in enumerate(population.members):
        best = int(np.argmax(member.action_probabilities(observations[0])))
        assert set(greedy[m * 200:(m + 1) * 200]) == {best}
    assert len(set(population.select_actions(observations)[:200])) == 2  # Sampling again.


def test_a_population_holds_to_its_copies_per_member():
    spec = GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec()
    with pytest.raises(ValueError, match='n_steps=None'):
        PopulationActorCritic(spec, seeds=[0, 1], copies_per_member=2)
    population = PopulationActorCritic(spec, seeds=[0, 1], copies_per_member=2, n_steps=5)
    assert population.batch_steps_per_update == 5
    with pytest.raises(ValueError, match=r'2 copies each\); got a batch of 6'):
        population.select_actions(np.zeros((6, 4), np.float32))
    with pytest.raises(ValueError, match='copies_per_member must be'):
        PopulationPPO(spec, seeds=[0, 1], copies_per_member=0)


def test_members_that_fit_the_memory_at_hand():
    assert members_that_fit(1e6, available=100_000_000) == 50  # Half of it, by default.
    assert members_that_fit(1e6, available=100_000_000, share=1.) == 100
    assert members_that_fit(1e9, available=100) == 1  # At least one.
    with pytest.raises(ValueError, match='bytes_per_member must be .* got 0'):
        members_that_fit(0, available=10)
    with pytest.raises(ValueError, match='share'):
        members_that_fit(1e6, available=10, share=0.)
