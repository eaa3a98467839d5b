"""BatchedEnvironmentLoop against answers worked out by hand on a tiny environment."""

import dm_env
import numpy as np
import pytest
from conftest import needs

import gridlab
from agents.batched_tabular import BatchedQLearning
from gridlab.envs.batched import BatchedGridWorld
from gridlab.loops import BatchedEnvironmentLoop, TrainingSummary

FIRST, MID, LAST = 0, 1, 2


class Countdown:
    """N auto-resetting copies; copy i's episodes last i + 1 steps, reward 1 per step.

    dm_env's rule per copy: the step after a LAST one is a FIRST (reward 0)
    whatever the action.
    """

    def __init__(self, num_envs):
        self.num_envs = num_envs
        self.steps_taken = 0
        self._left = None

    def _timestep(self, step_type, reward):
        return dm_env.TimeStep(step_type.astype(np.uint8), reward.astype(np.float32),
                               np.ones(self.num_envs, np.float32),
                               np.arange(self.num_envs, dtype=np.int64))

    def reset(self):
        self._left = np.arange(self.num_envs) + 1
        return self._timestep(np.full(self.num_envs, FIRST), np.zeros(self.num_envs))

    def step(self, actions):
        assert actions.shape == (self.num_envs,)
        self.steps_taken += 1
        restart = self._left == 0
        self._left = np.where(restart, np.arange(self.num_envs) + 1, self._left - 1)
        step_type = np.where(restart, FIRST, np.where(self._left == 0, LAST, MID))
        return self._timestep(step_type, np.where(restart, 0., 1.))


class Recorder:
    """A TrainsOnBatches agent that records what the loop tells it."""

    def __init__(self, batch_steps_per_update=1):
        self.batch_steps_per_update = batch_steps_per_update
        self.calls, self.acting = [], []

    def select_actions(self, observations, acting=None):
        self.acting.append(np.array(acting))
        return np.zeros(len(observations), np.int64)

    def observe_first_batch(self, timestep):
        self.calls.append('first')

    def observe_batch(self, actions, next_timestep):
        self.calls.append('observe')

    def update_batch(self):
        self.calls.append('update')


def test_the_budget_counts_every_copy_rounded_up_to_whole_rounds():
    env, agent = Countdown(3), Recorder()
    summary = BatchedEnvironmentLoop(env, agent).run(10)  # ceil(10 / 3) = 4 batch steps.
    assert isinstance(summary, TrainingSummary)
    assert (summary.batch_steps, summary.steps, summary.updates) == (4, 12, 4)
    assert env.steps_taken == 4
    assert agent.calls == ['first'] + ['observe', 'update'] * 4
    # Rounds of 5 batch steps: 11 steps of 2 copies need 6 batch steps, so 2 rounds.
    env, agent = Countdown(2), Recorder(batch_steps_per_update=5)
    summary = BatchedEnvironmentLoop(env, agent).run(11)
    assert (summary.batch_steps, summary.steps, summary.updates) == (10, 20, 2)


def test_auto_reset_returns_lengths_and_transitions():
    # Copy 0: LAST at every odd step (1, 3, 5), FIRST at even ones: episodes
    # of 1 step. Copy 1: MID, LAST, FIRST, MID, LAST, FIRST: episodes of 2.
    env = Countdown(2)
    summary = BatchedEnvironmentLoop(env, Recorder()).run(12)  # 6 batch steps.
    # Ends in step order, then copy order: step 1 (copy 0), step 2 (copy 1),
    # step 3 (copy 0), step 5 (copies 0 and 1).
    assert summary.episode_returns.tolist() == [1., 2., 1., 1., 2.]
    assert summary.episode_lengths.tolist() == [1, 2, 1, 1, 2]
    assert summary.episode_lengths.dtype == np.int64
    # Restart steps are not transitions: copy 0 restarts at steps 2, 4, 6 and
    # copy 1 at step 3 and 6.
    assert summary.transitions == 12 - 3 - 2


def test_copies_that_just_ended_do_not_act():
    env, agent = Countdown(2), Recorder()
    BatchedEnvironmentLoop(env, agent).run(6)
    # Before step 1 every copy acts; before step 2 copy 0 is LAST; before step 3 copy 1.
    np.testing.assert_array_equal(agent.acting, [[True, True], [False, True], [True, False]])


def test_a_second_run_carries_on_and_counts_only_its_own_episodes():
    env = Countdown(2)
    loop = BatchedEnvironmentLoop(env, Recorder())
    loop.run(2)  # Step 1: copy 0 ends; copy 1 is one step into its episode.
    summary = loop.run(2)  # Step 2: copy 1 ends, after 2 steps worth 2.
    assert summary.episode_returns.tolist() == [2.] and summary.episode_lengths.tolist() == [2]
    assert env.steps_taken == 2


def test_stop_is_asked_after_each_round_and_its_time_is_not_counted():
    import time
    env, asked = Countdown(4), []

    def stop(agent, steps):
        asked.append(steps)
        time.sleep(0.05)
        return steps >= 24

    started = time.perf_counter()
    summary = BatchedEnvironmentLoop(env, Recorder(batch_steps_per_update=3), stop).run(100)
    assert asked == [12, 24] and summary.steps == 24 and summary.updates == 2
    assert summary.seconds <= time.perf_counter() - started - 0.1


def test_bad_input_is_refused_by_name():
    with pytest.raises(TypeError, match='does not train on batches'):
        BatchedEnvironmentLoop(Countdown(2), object())
    with pytest.raises(ValueError, match='num_steps must be a positive integer, got 0'):
        BatchedEnvironmentLoop(Countdown(2), Recorder()).run(0)
    with pytest.raises(TypeError, match='stop must be a callable'):
        BatchedEnvironmentLoop(Countdown(2), Recorder(), stop=3)

    class Wrong(Recorder):
        def select_actions(self, observations, acting=None):
            return np.zeros(5, np.int64)

    with pytest.raises(ValueError, match=r'select_actions returned shape \(5,\)'):
        BatchedEnvironmentLoop(Countdown(2), Wrong()).run(2)


def test_the_compiled_fast_path_reports_what_the_stepped_path_reports():
    needs('numba', 'fast')

    class Stepped(BatchedGridWorld):
        def lockstep(self):
            return None

    task = gridlab.build_gridworld_task('cliff', max_episode_length=12)
    summaries = []
    for env_class in (BatchedGridWorld, Stepped):
        env = env_class(task, 5, seed=0)
        agent = BatchedQLearning(env.single_environment_spec(), 5, seeds=0, epsilon=0.3)
        loop = BatchedEnvironmentLoop(env, agent)
        summaries.append((loop.run(5 * 40), loop.run(5 * 37)))
    for fast, stepped in zip(*summaries):
        assert fast.episode_returns.size
        np.testing.assert_array_equal(fast.episode_returns, stepped.episode_returns)
        np.testing.assert_array_equal(fast.episode_lengths, stepped.episode_lengths)
        assert (fast.transitions, fast.steps) == (stepped.transitions, stepped.steps)
