"""BatchedGridWorld against GridWorld itself, and the Gymnasium vector adapters."""

import dm_env
import gymnasium
import numpy as np
import pytest

from gridlab import ObservationType, as_gymnasium, build_gridworld_task
from gridlab.envs.batched import BatchedGridWorld
from gridlab.envs.adapters.gymnasium_vector import (GymnasiumVectorWrapper,
                                                  as_gymnasium_vector)

FIRST, MID, LAST = dm_env.StepType.FIRST, dm_env.StepType.MID, dm_env.StepType.LAST


def _follow(task, observation_type, num_envs=6, steps=400, seed=0, **task_arguments):
    """Steps a batch and one GridWorld per copy with the same random actions.

    Asserts every copy's step type, reward, discount and observation equal its
    GridWorld's, step by step. With random goals the batch draws goals from
    its own generator; each single GridWorld (built without random goals) is
    given its copy's goal at the start of every episode, so the dynamics are
    compared exactly and the goal draws are tested separately.
    Returns counts of goal terminations, truncations and cliff falls seen.
    """
    random_goals = task_arguments.pop('randomize_goals', False)
    batch = BatchedGridWorld.from_task(task, num_envs, seed=seed,
                                       observation_type=observation_type,
                                       randomize_goals=random_goals, **task_arguments)
    singles = [build_gridworld_task(task, observation_type=observation_type,
                                    **task_arguments) for _ in range(num_envs)]
    rng = np.random.default_rng(seed + 1)
    seen = {'goal': 0, 'truncation': 0, 'cliff': 0}

    def start(i):
        goal = tuple(int(v) for v in batch.goal_states[i])
        if singles[i].goal_state != goal:
            singles[i].goal_state = goal

    timestep = batch.reset()
    for i, single in enumerate(singles):
        start(i)
        expected = single.reset()
        assert timestep.step_type[i] == FIRST
        np.testing.assert_array_equal(timestep.observation[i], expected.observation)
    for _ in range(steps):
        actions = rng.integers(0, 4, num_envs)
        timestep = batch.step(actions)
        for i, single in enumerate(singles):
            if timestep.step_type[i] == FIRST:
                start(i)
            expected = single.step(int(actions[i]))
            assert timestep.step_type[i] == expected.step_type
            np.testing.assert_array_equal(timestep.observation[i], expected.observation)
            if expected.step_type == FIRST:
                continue
            assert timestep.reward[i] == expected.reward
            assert timestep.discount[i] == expected.discount
            if expected.last():
                seen['goal' if expected.discount == 0 else 'truncation'] += 1
            if expected.reward <= -100:
                seen['cliff'] += 1
    return seen


@pytest.mark.parametrize('task', ['simple', 'obstacle', 'cliff', 'four_rooms', 'maze'])
def test_copies_follow_gridworld_exactly(task):
    seen = _follow(task, ObservationType.STATE_INDEX, num_envs=8, steps=600,
                   max_episode_length=25)
    assert seen['truncation'] > 0
    if task in ('simple', 'obstacle'):  # Random walks reach these goals.
        assert seen['goal'] > 0
    if task == 'cliff':
        assert seen['cliff'] > 0


@pytest.mark.parametrize('observation_type', list(ObservationType))
def test_every_observation_type_follows_gridworld(observation_type):
    seen = _follow('cliff', observation_type, num_envs=5, steps=150,
                   max_episode_length=12)
    assert seen['truncation'] > 0 and seen['goal'] + seen['cliff'] > 0


@pytest.mark.parametrize('observation_type', list(ObservationType))
def test_random_goals_follow_gridworld(observation_type):
    seen = _follow('simple', observation_type, num_envs=5, steps=200,
                   max_episode_length=10, randomize_goals=True)
    assert seen['truncation'] > 0 and seen['goal'] > 0


def test_random_goals_are_uniform_over_the_free_cells():
    # The two-pillar layout: every free cell is reachable, so a goal can be
    # any free cell but the start (2, 2). Counted by hand from the picture:
    # 8 x 7 inside the border = 56 cells, minus 6 pillar cells = 50, minus the start.
    batch = BatchedGridWorld.from_task('simple', 4096, seed=3, randomize_goals=True)
    counts = {}
    for _ in range(10):
        batch.reset()
        for goal in map(tuple, batch.goal_states):
            counts[goal] = counts.get(goal, 0) + 1
    walls = batch.environment.walls
    expected = {(y, x) for y in range(9) for x in range(10)
                if not walls[y, x] and (y, x) != (2, 2)}
    assert len(expected) == 49
    assert set(counts) == expected
    # Chi-square, 48 degrees of freedom: P(X > 100) < 1e-5 under uniformity.
    total = sum(counts.values())
    observed = np.array(list(counts.values()))
    chi2 = ((observed - total / 49) ** 2 / (total / 49)).sum()
    assert chi2 < 100, chi2


def test_slip_frequencies_match_the_transition_model():
    """Next-cell frequencies of every well-visited (cell, action) within 5 sigma.

    For an outcome of model probability p seen in n draws, the frequency's
    standard error is sqrt(p (1 - p) / n); |freq - p| > 5 standard errors
    happens by chance with probability below 6e-7 per check.
    """
    slip = 0.3
    batch = BatchedGridWorld.from_task('cliff', 4096, seed=7, slip_probability=slip,
                                       max_episode_length=None)
    model = build_gridworld_task('cliff', slip_probability=slip).transition_model()
    states = model.num_states
    counts = np.zeros((states, 4, states))
    rewards = {}
    rng = np.random.default_rng(0)
    timestep = batch.reset()
    for _ in range(60):
        cells = np.array(timestep.observation, dtype=np.int64)
        was_last = timestep.step_type == LAST
        actions = rng.integers(0, 4, batch.num_envs)
        timestep = batch.step(actions)
        moved = ~was_last
        np.add.at(counts, (cells[moved], actions[moved],
                           np.asarray(timestep.observation)[moved]), 1)
        for s, a, r in zip(cells[moved], actions[moved],
                           np.asarray(timestep.reward)[moved]):
            rewards.setdefault((s, a), set()).add(float(r))
    checked = 0
    for s in range(states):
        for a in range(4):
            n = counts[s, a].sum()
            if n < 2000:
                continue
            expected = np.zeros(states)
            np.add.at(expected, model.next_states[s, a], model.probabilities[s, a])
            frequency = counts[s, a] / n
            bound = 5 * np.sqrt(expected * (1 - expected) / n) + 1e-12
            assert np.all(np.abs(frequency - expected) <= bound), (s, a)
            assert rewards[(s, a)] <= set(model.rewards[s, a].astype(np.float32).tolist())
            checked += 1
    assert checked >= 8  # Enough (cell, action) pairs were tested.


@pytest.mark.parametrize('observation_type', list(ObservationType))
def test_timesteps_conform_to_batched_specs(observation_type):
    batch = BatchedGridWorld.from_task('cliff', 7, seed=0, observation_type=observation_type,
                                       max_episode_length=6, randomize_goals=True)
    observation_spec, reward_spec = batch.observation_spec(), batch.reward_spec()
    discount_spec, step_type_spec = batch.discount_spec(), batch.step_type_spec()
    assert observation_spec.shape[0] == 7
    assert batch.action_spec().shape == (7,)
    single = batch.single_environment_spec()
    assert single.observations == batch.environment.observation_spec()
    rng = np.random.default_rng(0)
    timestep = batch.reset()
    for _ in range(30):
        observation_spec.validate(timestep.observation)
        reward_spec.validate(timestep.reward)
        discount_spec.validate(timestep.discount)
        step_type_spec.validate(timestep.step_type)
        timestep = batch.step(rng.integers(0, 4, 7).astype(np.int32))


def _step_by_lockstep_rules(lockstep, actions_per_step):
    """Steps the copies by the rules `Lockstep` documents, in plain Python."""
    next_state, observation, reward, discount, step_type = lockstep.tables
    for t, actions in enumerate(actions_per_step):
        now = lockstep.time + t + 1
        for i, action in enumerate(actions):
            index = lockstep.state[i] + action
            kind = int(step_type[index])
            following = next_state[index]
            if index >= lockstep.ended:
                lockstep.deadline[i] = now + lockstep.max_episode_length
            elif (lockstep.max_episode_length and kind == int(dm_env.StepType.MID)
                  and lockstep.deadline[i] == now):
                kind, following = int(dm_env.StepType.LAST), following + lockstep.ended
            lockstep.state[i] = following
            for field, value in zip(lockstep.last, (observation[index], reward[index],
                                                    discount[index], kind)):
                field[i] = value


def test_stepping_through_lockstep_continues_exactly_as_step():
    # Short episodes: truncations and restarts occur all the time.
    task = dict(task='cliff', num_envs=6, seed=0, max_episode_length=7)
    stepped, outside = BatchedGridWorld.from_task(**task), BatchedGridWorld.from_task(**task)
    rng = np.random.default_rng(1)
    stepped.reset()
    seen = set()
    for round_ in range(3):
        lockstep = outside.lockstep()
        assert lockstep is not None
        actions = rng.integers(4, size=(5 + 4 * round_, 6))
        for step_actions in actions:
            expected = stepped.step(step_actions)
            seen.update(expected.step_type.tolist())
        _step_by_lockstep_rules(lockstep, actions)
        timestep = outside.advanced(len(actions))
        for field in ('step_type', 'reward', 'discount', 'observation'):
            np.testing.assert_array_equal(getattr(timestep, field), getattr(expected, field))
        np.testing.assert_array_equal(outside.states, stepped.states)
        # ... and `step` carries on from there as if it had taken every step.
        for step_actions in rng.integers(4, size=(9, 6)):
            expected, timestep = stepped.step(step_actions), outside.step(step_actions)
            for field in ('step_type', 'reward', 'discount', 'observation'):
                np.testing.assert_array_equal(getattr(timestep, field),
                                              getattr(expected, field))
    assert seen == {0, 1, 2}  # FIRST, MID and LAST steps were all taken outside.


@pytest.mark.parametrize('task', [dict(slip_probability=0.1), dict(randomize_goals=True),
                                  dict(observation_type=ObservationType.GRID)])
def test_lockstep_only_for_plain_look_ups(task):
    """Slips and random goals draw from the environment's generator, and
    pictures need drawing: those copies step only through `step`."""
    assert BatchedGridWorld.from_task('simple', 3, seed=0, **task).lockstep() is None
    plain = BatchedGridWorld.from_task('simple', 3, seed=0)
    assert plain.lockstep() is not None
    with pytest.raises(ValueError, match='num_steps must be a positive integer, got 0'):
        plain.advanced(0)


def test_same_seed_same_run_other_seed_other_run():
    def run(seed):
        batch = BatchedGridWorld.from_task('simple', 64, seed=seed, slip_probability=0.2,
                                           randomize_goals=True)
        batch.reset()
        rng = np.random.default_rng(0)
        return np.concatenate([np.array(batch.step(rng.integers(0, 4, 64)).observation)
                               for _ in range(50)] + [batch.goal_states.ravel()])
    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_fresh_batch_starts_with_first_and_ignores_actions():
    batch = BatchedGridWorld.from_task('simple', 3, seed=0)
    timestep = batch.step(np.array([1, 2, 3]))
    assert list(timestep.step_type) == [FIRST] * 3
    assert list(timestep.observation) == [22] * 3  # Start (2, 2) on a 10-wide grid.


def test_bad_input_is_refused_with_a_clear_error():
    env = build_gridworld_task('simple')
    with pytest.raises(ValueError, match='num_envs'):
        BatchedGridWorld(env, 0)
    with pytest.raises(TypeError, match='num_envs'):
        BatchedGridWorld(env, 2.5)
    with pytest.raises(TypeError, match='GridWorld'):
        BatchedGridWorld('simple', 2)
    batch = BatchedGridWorld(env, 3)
    batch.reset()
    with pytest.raises(ValueError, match=r'shape \(3,\)'):
        batch.step(np.zeros(4, np.int64))
    with pytest.raises(TypeError, match='float'):
        batch.step(np.zeros(3))
    with pytest.raises(ValueError, match='invalid action 4 for copy 1'):
        batch.step(np.array([0, 4, 0]))
    with pytest.raises(ValueError, match='invalid action -1 for copy 2'):
        batch.step(np.array([0, 1, -1]))


# ------------------------------------------------------------ Gymnasium vector API


@pytest.mark.parametrize('task', ['simple', 'cliff'])
def test_vector_adapter_matches_sync_vector_env_step_by_step(task):
    """The adapter against Gymnasium's own SyncVectorEnv over `as_gymnasium`."""
    n = 4
    ours = as_gymnasium_vector(BatchedGridWorld.from_task(task, n, seed=0,
                                                          max_episode_length=9))
    reference = gymnasium.vector.SyncVectorEnv(
        [lambda: as_gymnasium(build_gridworld_task(task, max_episode_length=9))
         for _ in range(n)])
    assert ours.single_observation_space == reference.single_observation_space
    assert ours.single_action_space == reference.single_action_space
    assert ours.observation_space == reference.observation_space
    assert ours.action_space == reference.action_space
    assert ours.metadata['autoreset_mode'] == reference.metadata['autoreset_mode']
    observation, info = ours.reset(seed=1)
    expected, _ = reference.reset(seed=1)
    np.testing.assert_array_equal(observation, expected)
    assert observation.dtype == expected.dtype and isinstance(info, dict)
    rng = np.random.default_rng(2)
    ends = 0
    for _ in range(120):
        actions = rng.integers(0, 4, n)
        got = ours.step(actions)
        want = reference.step(actions)
        for mine, theirs in zip(got[:4], want[:4]):
            np.testing.assert_array_equal(mine, theirs)
            assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        assert ours.observation_space.contains(got[0])
        ends += int(np.sum(got[2] | got[3]))
    assert ends > 0


def test_vector_adapter_hands_out_fresh_arrays():
    env = as_gymnasium_vector(BatchedGridWorld.from_task('simple', 2, seed=0))
    first, _ = env.reset()
    kept = first.copy()
    env.step(np.array([1, 1]))
    env.step(np.array([1, 1]))
    np.testing.assert_array_equal(first, kept)


def test_vector_cartpole_as_a_batched_source_matches_gymnasium():
    n, seed = 5, 11
    ours = GymnasiumVectorWrapper('CartPole-v1', num_envs=n, seed=seed)
    reference = gymnasium.make_vec('CartPole-v1', num_envs=n,
                                   vectorization_mode='vector_entry_point')
    spec = ours.single_environment_spec()
    assert spec.actions.num_values == 2 and spec.observations.shape == (4,)
    timestep = ours.reset()
    observation, _ = reference.reset(seed=seed)
    np.testing.assert_array_equal(timestep.observation, observation)
    assert (timestep.step_type == FIRST).all()
    rng = np.random.default_rng(0)
    done = np.zeros(n, bool)
    lasts = firsts = 0
    for _ in range(200):
        actions = rng.integers(0, 2, n)
        timestep = ours.step(actions)
        observation, reward, terminated, truncated, _ = reference.step(actions)
        np.testing.assert_array_equal(timestep.observation, observation)
        np.testing.assert_array_equal(timestep.step_type == FIRST, done)
        np.testing.assert_array_equal(timestep.step_type == LAST, terminated | truncated)
        np.testing.assert_array_equal(timestep.discount[terminated], 0.)
        np.testing.assert_allclose(timestep.discount[~terminated & ~done], 0.99)
        np.testing.assert_array_equal(timestep.reward, reward)
        lasts += int((terminated | truncated).sum())
        firsts += int(done.sum())
        done = terminated | truncated
    assert lasts > 0 and firsts > 0


def test_vector_wrapper_refuses_bad_input():
    with pytest.raises(ValueError, match='num_envs'):
        GymnasiumVectorWrapper('CartPole-v1', num_envs=0)
    with pytest.raises(TypeError, match='VectorEnv'):
        GymnasiumVectorWrapper(object())
    env = GymnasiumVectorWrapper('CartPole-v1', num_envs=2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match=r'shape \(2,\)'):
        env.step(np.zeros(3, np.int64))
