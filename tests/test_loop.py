"""The run loop, evaluate, the Actor interface and RandomAgent."""

import numpy as np
import pytest

import gridlab
from agents import RandomAgent
from conftest import ConstantActor


class RecordingActor(gridlab.Actor):
    """Walks down (to the goal on `simple`) and records every call."""

    def __init__(self, action=2):
        self.calls = []
        self.action = action
        self.last_loss = 0.5
        self.greedy_seen = []

    def select_action(self, observation):
        self.calls.append('select_action')
        self.greedy_seen.append(self.greedy)
        return self.action

    def observe_first(self, timestep):
        assert timestep.first()
        self.calls.append('observe_first')

    def observe(self, action, next_timestep):
        self.calls.append('observe')

    def update(self, wait=False):
        self.calls.append('update')


def make_env(**kwargs):
    env, _ = gridlab.setup_environment(gridlab.build_gridworld_task('simple', **kwargs))
    return env


def test_run_loop_calls_the_actor_in_order_and_returns_returns(monkeypatch):
    # A clock that advances 2 s per reading: each episode takes 2 s.
    ticks = iter(range(0, 1000, 2))
    monkeypatch.setattr(gridlab.loops.environment_loop.time, 'perf_counter', lambda: next(ticks))
    actor = RecordingActor()
    logger = gridlab.InMemoryLogger()
    returns = gridlab.run_loop(make_env(), actor, num_episodes=2, logger=logger,
                               progress=False)
    assert returns == [10., 10.]
    one_episode = ['observe_first'] + ['select_action', 'observe', 'update'] * 5
    assert actor.calls == one_episode * 2
    rows = logger.data
    assert [r['episode'] for r in rows] == [0, 1]
    assert [r['episode_length'] for r in rows] == [5, 5]
    assert [r['total_steps'] for r in rows] == [5, 10]
    assert [r['steps_per_second'] for r in rows] == [2.5, 2.5]
    assert [r['cut_short'] for r in rows] == [False, False]
    assert 'loss_avg' not in rows[0]


def test_run_loop_logs_the_average_loss():
    logger = gridlab.InMemoryLogger()
    gridlab.run_loop(make_env(), RecordingActor(), num_episodes=1, log_loss=True,
                     logger=logger, progress=False)
    assert logger.data[0]['loss_avg'] == pytest.approx(0.5)


def test_num_steps_cuts_the_last_episode_short_and_counts_it():
    env = make_env(max_episode_length=7)
    returns = gridlab.run_loop(env, RecordingActor(action=0), num_steps=10,
                               logger=gridlab.NoOpLogger(), progress=False)
    # Up from (2, 2): one free move, then bumps at -5 each.
    assert len(returns) == 2
    assert returns[0] == -5. * 6 and returns[1] == -5. * 2


def test_both_limits_stop_at_whichever_comes_first():
    returns = gridlab.run_loop(make_env(), RecordingActor(), num_episodes=10,
                               num_steps=12, logger=gridlab.NoOpLogger(),
                               progress=False)
    assert len(returns) == 3


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError, match='num_episodes'):
        gridlab.run_loop(make_env(), RecordingActor(), num_episodes=-1,
                         progress=False)
    with pytest.raises(ValueError, match='num_steps'):
        gridlab.run_loop(make_env(), RecordingActor(), num_steps=2.5,
                         progress=False)


def test_default_logger_prints_throttled_rows(capsys):
    gridlab.run_loop(make_env(), RecordingActor(), num_episodes=3,
                     logger_time_delta=0., label='mine', progress=False)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 3 and 'Episode Return' in lines[0]
    gridlab.run_loop(make_env(), RecordingActor(), num_episodes=3,
                     logger_time_delta=3600., progress=False)
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_progress_bar_can_be_forced_on_and_off(capsys):
    gridlab.run_loop(make_env(), RecordingActor(), num_episodes=2,
                     logger=gridlab.NoOpLogger(), progress=True)
    assert 'training_loop' in capsys.readouterr().err
    gridlab.run_loop(make_env(), RecordingActor(), num_episodes=2,
                     logger=gridlab.NoOpLogger(), progress=False)
    assert capsys.readouterr().err == ''
    # Under pytest stderr is not a terminal: off by default.
    assert not gridlab.loops.environment_loop.wants_progress_bar(None)


def test_evaluate_is_greedy_does_not_learn_and_returns_frames():
    actor = RecordingActor()
    logger = gridlab.InMemoryLogger()
    frames = gridlab.evaluate(make_env(), actor, evaluation_episodes=2,
                              logger=logger)
    assert 'observe' not in actor.calls and 'update' not in actor.calls
    assert all(actor.greedy_seen) and actor.greedy is False
    assert len(frames) == 2 * (5 + 1)  # First frame plus one per step.
    assert frames[0].shape == (288, 320, 3) and frames[0].dtype == np.uint8
    assert [r['episode_return'] for r in logger.data] == [10., 10.]


def test_evaluate_restores_greedy_after_an_error():
    class Broken(RecordingActor):
        def select_action(self, observation):
            raise RuntimeError('boom')
    actor = Broken()
    with pytest.raises(RuntimeError):
        gridlab.evaluate(make_env(), actor, evaluation_episodes=1)
    assert actor.greedy is False


def test_evaluate_caps_episode_length():
    frames = gridlab.evaluate(make_env(), RecordingActor(action=0), 1,
                              logger=gridlab.NoOpLogger(), max_steps_per_episode=4)
    assert len(frames) == 5


def test_random_agent_is_seeded_and_valid():
    env = make_env()
    spec = gridlab.make_environment_spec(env)
    actions = [RandomAgent(spec, seed=3).select_action(None) for _ in range(2)]
    assert actions[0] == actions[1]
    agent = RandomAgent(spec, seed=3)
    drawn = [agent.select_action(None) for _ in range(400)]
    assert set(drawn) == {0, 1, 2, 3} and all(type(a) is int for a in drawn)
    returns = gridlab.run_loop(env, agent, num_episodes=3, progress=False,
                               logger=gridlab.NoOpLogger())
    assert len(returns) == 3


def test_random_agent_save_restore_continues_the_same_stream(tmp_path):
    spec = gridlab.make_environment_spec(make_env())
    agent = RandomAgent(spec, seed=1)
    agent.save(tmp_path / 'agent.pt')
    expected = [agent.select_action(None) for _ in range(20)]
    other = RandomAgent(spec, seed=99)
    other.restore(tmp_path / 'agent.pt')
    assert [other.select_action(None) for _ in range(20)] == expected


def test_checkpoint_errors_name_the_problem(tmp_path):
    spec = gridlab.make_environment_spec(make_env())
    agent = RandomAgent(spec)
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        agent.restore(tmp_path / 'missing.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='junk.pt'):
        agent.restore(tmp_path / 'junk.pt')
    gridlab.core.checkpoints.save_checkpoint(tmp_path / 'other.pt', 'DQN', {})
    with pytest.raises(ValueError, match='holds a DQN checkpoint'):
        agent.restore(tmp_path / 'other.pt')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        agent.save(tmp_path / 'no' / 'such' / 'dir.pt')


def test_random_agent_handles_continuous_actions():
    spec = gridlab.EnvironmentSpec(
        observations=None,
        actions=gridlab.envs.gridworld.specs.BoundedArray(
            (2,), np.float32, minimum=-1., maximum=[0., 1.]),
        rewards=None, discounts=None)
    action = RandomAgent(spec, seed=0).select_action(None)
    assert action.shape == (2,) and action.dtype == np.float32
    assert -1. <= action[0] <= 0. and -1. <= action[1] <= 1.


def test_actor_interface_is_abstract():
    with pytest.raises(TypeError):
        gridlab.Actor()


class CountingObserver:
    """Counts steps and positive rewards; reports them once per episode."""

    def __init__(self):
        self.firsts = 0

    def observe_first(self, env, timestep):
        self.firsts += 1
        self.steps, self.rewarded = 0, 0

    def observe(self, env, timestep, action):
        self.steps += 1
        self.rewarded += int(timestep.reward > 0)

    def get_metrics(self):
        return {'observed_steps': self.steps, 'rewarded_steps': self.rewarded}


def test_observers_add_their_metrics_to_each_episode_row():
    observer = CountingObserver()
    logger = gridlab.InMemoryLogger()
    gridlab.run_loop(make_env(), RecordingActor(), num_episodes=3, logger=logger,
                     progress=False, observers=[observer])
    assert observer.firsts == 3
    assert [r['observed_steps'] for r in logger.data] == [5, 5, 5]
    assert [r['rewarded_steps'] for r in logger.data] == [1, 1, 1]  # The goal.


def test_an_episode_cut_short_by_the_step_budget_is_marked():
    logger = gridlab.InMemoryLogger()
    returns = gridlab.run_loop(make_env(), RecordingActor(), num_steps=12,
                               logger=logger, progress=False)
    assert [r['episode_length'] for r in logger.data] == [5, 5, 2]
    assert [r['cut_short'] for r in logger.data] == [False, False, True]
    assert returns == [10., 10., 0.]  # Counted, as run_loop always has.


def test_log_loss_needs_an_agent_that_reports_one():
    assert not isinstance(ConstantActor(gridlab.Action.DOWN), gridlab.ReportsLoss)
    assert isinstance(RecordingActor(), gridlab.ReportsLoss)
    with pytest.raises(ValueError, match='last_loss'):
        gridlab.run_loop(make_env(), ConstantActor(gridlab.Action.DOWN), num_episodes=1, log_loss=True,
                         progress=False)


def test_a_passive_actor_needs_only_select_action():
    class Left(gridlab.PassiveActor):
        def select_action(self, observation):
            return int(gridlab.Action.LEFT)

    env = gridlab.build_gridworld_task('simple', max_episode_length=3)
    # From (2, 2) left is (2, 1), then the wall: -5 for each of two bumps.
    assert gridlab.run_loop(env, Left(), num_episodes=1, progress=False) == [-10.]
    with pytest.raises(TypeError, match='select_action'):
        gridlab.PassiveActor()
