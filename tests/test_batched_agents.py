"""Agents over many environments: batched tabular learners, the exploration
bonus of the tabular agents, and NFQ/DQN collecting from N copies at once."""

import dm_env
import torch
import numpy as np
import pytest
from conftest import needs

import gridlab
from agents import batched_tabular
from agents.batched_tabular import BatchedQLearning, BatchedSARSA, _Streams
from agents.tabular import SARSA, QLearning
from gridlab.evaluation import judging
from gridlab.envs.batched import BatchedGridWorld
from gridlab.loops import BatchedEnvironmentLoop


def run_batch_steps(loop, batch_steps):
    """Trains through `loop` for `batch_steps` steps of every copy."""
    return loop.run(batch_steps * loop.num_envs)

BONUS_SETTINGS = dict(count_bonus=10., initial_value=0., step_size=1.)


def single_run(agent_class, task, seed, transitions, **kwargs):
    """The single agent on one GridWorld for exactly `transitions` transitions."""
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(task))
    agent = agent_class(spec, seed=seed, **kwargs)
    manual_run(agent, env, transitions)
    return agent.q_table


# ------------------------------------------------------------ batched tabular

BACKENDS = ['numpy', 'numba']


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('batched_class, single_class',
                         [(BatchedQLearning, QLearning), (BatchedSARSA, SARSA)])
@pytest.mark.parametrize('task', ['simple', 'cliff'])
def test_each_learner_is_bit_identical_to_the_single_agent(batched_class, single_class,
                                                           task, backend):
    if backend == 'numba':
        needs('numba', 'fast')
    n = 4
    env = BatchedGridWorld.from_task(task, n, seed=0)
    # A small block makes the numpy path's random words refill many times.
    agent = batched_class(env.single_environment_spec(), n, seeds=range(n), block=16,
                          backend=backend)
    assert agent.backend == backend
    loop = BatchedEnvironmentLoop(env, agent)
    run_batch_steps(loop, 1_000)
    run_batch_steps(loop, 500)  # Training resumes where it stopped.
    for i in range(n):
        steps = int(agent.steps[i])
        # Episodes ended, and their restart steps were not learned from.
        assert 1_000 < steps < 1_500
        expected = single_run(single_class, task, seed=i, transitions=steps)
        np.testing.assert_array_equal(agent.q_table(i), expected)
    np.testing.assert_array_equal(agent.q_tables[2], agent.q_table(2))


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('batched_class, single_class',
                         [(BatchedQLearning, QLearning), (BatchedSARSA, SARSA)])
def test_learners_with_other_hyperparameters_stay_identical(batched_class, single_class,
                                                            backend):
    if backend == 'numba':
        needs('numba', 'fast')
    env = BatchedGridWorld.from_task('obstacle', 3, seed=0)
    settings = dict(step_size=0.3, epsilon=0.5, final_epsilon=0.05, decay_steps=300,
                    initial_value=0., discount=0.95)
    agent = batched_class(env.single_environment_spec(), 3, seeds=[7, 11, 13],
                          backend=backend, **settings)
    run_batch_steps(BatchedEnvironmentLoop(env, agent), 800)
    for i, seed in enumerate([7, 11, 13]):
        expected = single_run(single_class, 'obstacle', seed, int(agent.steps[i]),
                              **settings)
        np.testing.assert_array_equal(agent.q_table(i), expected)


def test_compiled_and_numpy_paths_agree_on_many_learners():
    needs('numba', 'fast')
    """Many seeds at once, with slips, a new goal every episode and truncations."""
    task = dict(task='simple', num_envs=64, seed=3, slip_probability=0.2,
                randomize_goals=True, max_episode_length=30)
    env_a, env_b = BatchedGridWorld.from_task(**task), BatchedGridWorld.from_task(**task)
    spec = env_a.single_environment_spec()
    compiled = BatchedSARSA(spec, 64, seeds=100, backend='numba', epsilon=0.3)
    plain = BatchedSARSA(spec, 64, seeds=100, backend='numpy', epsilon=0.3)
    run_batch_steps(BatchedEnvironmentLoop(env_a, compiled), 3_000)
    run_batch_steps(BatchedEnvironmentLoop(env_b, plain), 3_000)
    np.testing.assert_array_equal(compiled.steps, plain.steps)
    np.testing.assert_array_equal(compiled.q_tables, plain.q_tables)


class _StepsOnly(BatchedGridWorld):
    """A BatchedGridWorld that offers no lockstep: learners must call step."""

    def lockstep(self):
        return None


@pytest.mark.parametrize('per_call', [None, 100])
@pytest.mark.parametrize('batched_class', [BatchedQLearning, BatchedSARSA])
def test_compiled_training_steps_the_copies_as_step_would(batched_class, per_call,
                                                          monkeypatch):
    needs('numba', 'fast')
    """The compiled kernel steps the environment itself when it can; the
    result is the path that calls `step` once per batch step, exactly, also
    when a call of train is split into many calls of the kernel."""
    if per_call is not None:  # 100 learner-steps: 2 steps of 40 learners a call.
        monkeypatch.setattr(batched_tabular, '_LEARNER_STEPS_PER_CALL', per_call)
    task = gridlab.build_gridworld_task('cliff', max_episode_length=15)
    inside, outside = BatchedGridWorld(task, 40, seed=0), _StepsOnly(task, 40, seed=0)
    spec = inside.single_environment_spec()
    fused = batched_class(spec, 40, seeds=5, backend='numba', epsilon=0.2)
    stepped = batched_class(spec, 40, seeds=5, backend='numba', epsilon=0.2)
    fused_loop = BatchedEnvironmentLoop(inside, fused)
    stepped_loop = BatchedEnvironmentLoop(outside, stepped)
    for num_steps in (300, 1, 77):  # Resuming mid-episode, also after one step.
        run_batch_steps(fused_loop, num_steps)
        run_batch_steps(stepped_loop, num_steps)
        np.testing.assert_array_equal(fused.steps, stepped.steps)
        np.testing.assert_array_equal(fused.q_tables, stepped.q_tables)
        np.testing.assert_array_equal(inside.states, outside.states)
    # Both environments carry on alike after training.
    for actions in np.random.default_rng(0).integers(4, size=(20, 40)):
        a, b = inside.step(actions), outside.step(actions)
        np.testing.assert_array_equal(a.step_type, b.step_type)
        np.testing.assert_array_equal(a.observation, b.observation)


def test_a_ctrl_c_as_the_compiled_call_returns_leaves_the_copies_consistent(monkeypatch):
    needs('numba', 'fast')
    task = gridlab.build_gridworld_task('cliff', max_episode_length=15)
    inside, outside = BatchedGridWorld(task, 8, seed=0), _StepsOnly(task, 8, seed=0)
    spec = inside.single_environment_spec()
    interrupted = BatchedQLearning(spec, 8, seeds=0, backend='numba')
    whole = BatchedQLearning(spec, 8, seeds=0, backend='numba')
    kernels = needs('agents.batched_tabular_kernels', 'fast')
    kernel = kernels.train

    def train_then_interrupt(*args):
        kernel(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(kernels, 'train', train_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_batch_steps(BatchedEnvironmentLoop(inside, interrupted), 50)
    monkeypatch.undo()
    run_batch_steps(BatchedEnvironmentLoop(outside, whole), 50)
    np.testing.assert_array_equal(interrupted.q_tables, whole.q_tables)
    # The environment counted the 50 steps: truncations fall where they would.
    for actions in np.random.default_rng(0).integers(4, size=(30, 8)):
        a, b = inside.step(actions), outside.step(actions)
        np.testing.assert_array_equal(a.step_type, b.step_type)
        np.testing.assert_array_equal(a.observation, b.observation)


def test_streams_draw_what_numpy_draws():
    seeds = [3, 4, 5]
    streams = _Streams(seeds, block=8)
    generators = [np.random.default_rng(seed) for seed in seeds]
    everyone = np.arange(3)
    for round_ in range(60):
        streams.refill(6)
        words = streams.words(None)
        expected = [g.random() for g in generators]
        np.testing.assert_array_equal((words >> np.uint64(11)) * 2. ** -53, expected)
        bound = np.array([4, 3, 2]) if round_ % 2 else np.array([3, 3, 4])
        drawn = streams.below(everyone, bound)
        expected = [g.integers(b) for g, b in zip(generators, bound)]
        np.testing.assert_array_equal(drawn, expected)
        drawn = streams.below(everyone[1:], np.array([3, 2]))
        expected = [generators[1].choice(np.arange(3)), generators[2].choice(np.arange(2))]
        np.testing.assert_array_equal(drawn, expected)


def test_batched_tabular_refuses_bad_input():
    env = BatchedGridWorld.from_task('simple', 3, seed=0)
    spec = env.single_environment_spec()
    with pytest.raises(ValueError, match='one seed per learner'):
        BatchedQLearning(spec, 3, seeds=[1, 2])
    with pytest.raises(ValueError, match='num_learners'):
        BatchedQLearning(spec, 0)
    with pytest.raises(ValueError, match="backend must be 'auto', 'numba' or 'numpy', "
                                         "got 'jax'"):
        BatchedQLearning(spec, 3, backend='jax')
    with pytest.raises(ValueError, match='4 learners'):
        BatchedEnvironmentLoop(env, BatchedQLearning(spec, 4, seeds=0)).run(10)
    with pytest.raises(ValueError, match='learner must be in'):
        BatchedQLearning(spec, 3, seeds=0).q_table(3)
    grid = BatchedGridWorld.from_task('simple', 3, observation_type=gridlab.ObservationType.GRID)
    with pytest.raises(ValueError, match='DiscreteArray observation'):
        BatchedSARSA(grid.single_environment_spec(), 3)


def test_batched_q_learning_learns_simple():
    env = BatchedGridWorld.from_task('simple', 8, seed=0)
    agent = BatchedQLearning(env.single_environment_spec(), 8, seeds=0)
    run_batch_steps(BatchedEnvironmentLoop(env, agent), 2_000)
    single = env.environment
    fractions = [judging.optimal_fraction(single, agent.q_table(i)) for i in range(8)]
    # From the fixed start the far cells stay unlearned; the start's do not.
    q_star = judging.optimal_q_values(single)
    start = np.ravel_multi_index(single.start_state, single.shape)
    for i in range(8):
        row = agent.q_table(i)[start]
        assert q_star[single.start_state][np.argmax(row)] == np.nanmax(
            q_star[single.start_state]), i
    assert min(fractions) > 0.3


# ------------------------------------------------------ the exploration bonus

def spec_for(task='simple'):
    return gridlab.setup_environment(gridlab.build_gridworld_task(task))


def test_bonus_stays_out_of_the_q_table():
    env, spec = spec_for()
    plain = QLearning(spec, seed=0, initial_value=0.)
    bonus = QLearning(spec, seed=0, initial_value=0., count_bonus=10.)
    rng = np.random.default_rng(0)
    # The same transitions, chosen here, not by either agent.
    for _ in range(500):
        s, s2, a = rng.integers(90), rng.integers(90), int(rng.integers(4))
        r = float(rng.normal())
        for agent in (plain, bonus):
            agent.observe_first(dm_env.restart(np.int32(s)))
            agent.observe(a, dm_env.transition(r, np.int32(s2), discount=0.9))
            agent.update()
    np.testing.assert_array_equal(bonus.q_table, plain.q_table)
    assert np.abs(bonus.exploration_table).max() > 1.
    np.testing.assert_array_equal(bonus.q_values(np.int32(5)), plain.q_table[5])


def test_bonus_follows_its_formula_and_steers_only_exploration():
    env, spec = spec_for()
    agent = QLearning(spec, seed=0, initial_value=0., epsilon=0., step_size=0.5,
                      count_bonus=4., bonus_discount=0.5)
    agent.observe_first(dm_env.restart(np.int32(3)))
    agent.observe(1, dm_env.transition(0., np.int32(4), discount=0.9))
    agent.update()
    assert agent.exploration_table[3, 1] == 0.5 * 4.  # c / sqrt(1), nothing to bootstrap yet.
    agent.observe_first(dm_env.restart(np.int32(3)))
    agent.observe(1, dm_env.transition(0., np.int32(3), discount=0.9))
    agent.update()
    # N = 2: target c / sqrt(2) + 0.5 * max E(3, .) = 2.828... + 1.
    assert agent.exploration_table[3, 1] == pytest.approx(
        2. + 0.5 * (4. / np.sqrt(2.) + 0.5 * 2. - 2.))
    # Termination: no exploration value flows back either.
    agent.observe_first(dm_env.restart(np.int32(7)))
    agent.observe(2, dm_env.termination(10., np.int32(3)))
    agent.update()
    assert agent.exploration_table[7, 2] == 0.5 * 4.
    # Q(3, .) is 0 everywhere but Q(3, 1) < 0: greedy (judged) picks another
    # action, exploring picks action 1, which E favours. A termination with
    # reward -0.2 makes Q(3, 1) = 0.5 * -0.2 (and E(3, 1) still near 2.6).
    agent.observe_first(dm_env.restart(np.int32(3)))
    agent.observe(1, dm_env.termination(-0.2, np.int32(3)))
    agent.update()
    np.testing.assert_array_equal(agent.q_values(np.int32(3)), [0., -0.1, 0., 0.])
    assert agent.exploration_table[3, 1] > 2.
    assert agent.select_action(np.int32(3)) == 1
    with gridlab.evaluation_mode(agent):
        assert agent.select_action(np.int32(3)) != 1


def test_bonus_survives_a_checkpoint(tmp_path):
    env, spec = spec_for()
    agent = SARSA(spec, seed=0, **BONUS_SETTINGS)
    gridlab.run_loop(env, agent, num_steps=300, logger_time_delta=1e9)
    agent.save(tmp_path / 'agent.pt')
    restored = SARSA(spec, seed=1, **BONUS_SETTINGS)
    restored.restore(tmp_path / 'agent.pt')
    for name in ('_q', '_counts', '_exploration'):
        np.testing.assert_array_equal(getattr(restored, name), getattr(agent, name))


def test_bonus_is_validated():
    _, spec = spec_for()
    with pytest.raises(ValueError, match='count_bonus'):
        QLearning(spec, count_bonus=-1.)
    with pytest.raises(ValueError, match='bonus_discount'):
        SARSA(spec, count_bonus=1., bonus_discount=1.5)


def test_bonus_reaches_every_cell_of_simple_from_the_fixed_start():
    env, spec = spec_for('simple')
    result = judging.train_until_optimal(
        env, QLearning(spec, seed=0, **BONUS_SETTINGS), 100_000, check_every=2_000)
    assert result.solved, result
    # Without the bonus, a budget twice what it took leaves cells wrong.
    env, spec = spec_for('simple')
    plain = judging.train_until_optimal(env, QLearning(spec, seed=0), 2 * result.steps,
                                        check_every=2_000)
    assert not plain.solved and plain.optimal_fraction < 0.9, plain


@pytest.mark.slow
# Not the maze: Q-learning needs about 780k steps there (5/5 seeds in
# benchmarks/exploration.py, 2.5 minutes); SARSA's test covers it in 40 s.
@pytest.mark.parametrize('task', [task for task in gridlab.TASKS if task != 'maze'])
def test_bonus_makes_q_learning_optimal_everywhere_from_the_start(task):
    for seed in range(5):
        env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(task, seed=seed))
        result = judging.train_until_optimal(
            env, QLearning(spec, seed=seed, **BONUS_SETTINGS), 1_000_000,
            check_every=2_000)
        assert result.solved, (task, seed, result)


# ------------------------------------------------- NFQ / DQN over N copies

def manual_run(agent, env, transitions):
    done = 0
    while done < transitions:
        timestep = env.reset()
        agent.observe_first(timestep)
        while not timestep.last() and done < transitions:
            action = agent.select_action(timestep.observation)
            timestep = env.step(action)
            agent.observe(action, timestep)
            agent.update()
            done += 1


@pytest.mark.parametrize('agent_name', ['NeuralFittedQAgent', 'DQN'])
def test_one_copy_trains_exactly_as_the_run_loop(agent_name):
    import agents
    agent_class = getattr(agents, agent_name)
    obs = gridlab.ObservationType.AGENT_GOAL_POS
    batched = BatchedGridWorld.from_task('simple', 1, observation_type=obs,
                                         max_episode_length=30)
    agent = agent_class(batched.single_environment_spec(), seed=3, epsilon=0.5)
    summary = agent.train(batched, 150)
    assert 140 <= summary.transitions < 150 and summary.episode_returns.size
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=obs, max_episode_length=30))
    single = agent_class(spec, seed=3, epsilon=0.5)
    manual_run(single, env, summary.transitions)
    for mine, theirs in zip(agent.network.parameters(), single.network.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)
    assert agent.last_loss == single.last_loss


def test_select_actions_checks_its_batch():
    from agents import DQN
    batched = BatchedGridWorld.from_task(
        'simple', 2, observation_type=gridlab.ObservationType.AGENT_GOAL_POS)
    agent = DQN(batched.single_environment_spec(), seed=0)
    with pytest.raises(ValueError, match='observations must have shape'):
        agent.select_actions(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match='update_every'):
        DQN(batched.single_environment_spec(), update_every=0)
    with pytest.raises(ValueError, match='learning_steps'):
        DQN(batched.single_environment_spec(), learning_steps=0)
    with gridlab.evaluation_mode(agent):
        actions = agent.select_actions(batched.reset().observation)
    q = agent.network(torch.as_tensor(batched.reset().observation))
    np.testing.assert_array_equal(actions, q.argmax(dim=1).numpy())


def test_learning_steps_come_in_bursts_every_update_every_transitions():
    from agents import DQN
    spec = BatchedGridWorld.from_task(
        'simple', 1, observation_type=gridlab.ObservationType.AGENT_GOAL_POS
    ).single_environment_spec()
    agent = DQN(spec, seed=0, batch_size=4, update_every=5, learning_steps=3)
    observation = np.zeros(spec.observations.shape, spec.observations.dtype)
    agent.observe_first(dm_env.restart(observation))
    counts = []
    for _ in range(17):
        agent.observe(0, dm_env.transition(-1., observation))
        agent.update()
        counts.append(agent.learner_steps)
    # Replay holds 4 transitions from the 4th on; bursts fall due at 5, 10, 15.
    assert counts == [0] * 4 + [3] * 5 + [6] * 5 + [9] * 3


def test_dqn_budget_counts_every_copy_and_stop_ends_training():
    from agents import DQN
    batched = BatchedGridWorld.from_task(
        'simple', 4, seed=0, observation_type=gridlab.ObservationType.AGENT_GOAL_POS)
    agent = DQN(batched.single_environment_spec(), seed=0)
    summary = agent.train(batched, 10)  # Whole batch steps: 3 of 4 copies.
    assert (summary.batch_steps, summary.steps) == (3, 12)
    asked = []

    def stop(asking_agent, steps):
        assert asking_agent is agent
        asked.append(steps)
        return steps >= 40

    summary = agent.train(batched, 1_000, stop=stop)
    assert asked == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert (summary.batch_steps, summary.steps) == (10, 40)
    assert summary.transitions == 40  # No copy restarted within 10 steps.


def test_the_training_clock_leaves_out_the_time_spent_in_stop():
    import time
    from agents.common.training_clock import TrainingClock
    assert TrainingClock(None).should_stop(None, 10) is False
    started = time.perf_counter()
    clock = TrainingClock(lambda agent, steps: time.sleep(0.2) or steps >= 2)
    assert [clock.should_stop(None, steps) for steps in (1, 2)] == [False, True]
    # Two sleeps of 0.2 s happened, and neither counts.
    assert clock.seconds <= time.perf_counter() - started - 0.4


def test_dqn_trains_on_copies_from_the_command_line(tmp_path):
    run = gridlab.run_experiment('dqn', 'simple', tmp_path / 'dqn', steps=400, num_envs=4,
                                 verbose=False, video=False, pictures=False)
    assert run.summary['status'] == 'completed'
    assert run.summary['config']['num_envs'] == 4
    assert run.summary['training']['steps'] == 400
    with pytest.raises(gridlab.experiments.ExperimentError,
                       match="'q-learning' trains on one environment at a time"):
        gridlab.run_experiment('q-learning', 'simple', tmp_path / 'q', steps=400,
                               num_envs=4, verbose=False, video=False)


def test_a_short_batched_run_has_a_learning_curve_along_its_whole_budget(tmp_path):
    from gridlab.experiments import run_folder
    steps = 3_000
    run = gridlab.run_experiment('dqn', 'simple', tmp_path / 'dqn', steps=steps, num_envs=4,
                                 verbose=False, video=False, pictures=False)
    rows = run_folder.read_episodes(run.directory / 'episodes.csv')
    logged_at = [row['total_steps'] for row in rows]
    assert logged_at == sorted(logged_at) and logged_at[-1] <= steps
    # Rows are logged as training goes, not all at the end of the run.
    assert len(set(logged_at)) >= 20 and logged_at[0] <= steps // 10
    grid = run_folder.curve_grid(steps)
    curve = run_folder.learning_curve(run.directory, grid)
    assert all(value is not None for value in curve[len(grid) // 5:])


@pytest.mark.slow
def test_dqn_learns_simple_from_eight_copies():
    from agents import DQN
    batched = BatchedGridWorld.from_task(
        'simple', 8, seed=0, observation_type=gridlab.ObservationType.AGENT_GOAL_POS)
    agent = DQN(batched.single_environment_spec(), seed=0, update_every=4)
    agent.train(batched, 8 * 1_500)
    env = batched.environment
    q_star = judging.optimal_q_values(env)
    best = float(np.nanmax(q_star[env.start_state]))
    assert judging.greedy_return_from_start(env, agent) >= best - 1e-4
    assert judging.optimal_fraction(env, judging.q_table(agent, env), q_star) > 0.8
