"""Recording greedy episodes with their rewards, once or every N steps."""

import numpy as np
import pytest

import gridlab
from gridlab.evaluation import judging
from gridlab.loops import loggers
from gridlab.viz import recording
from gridlab.viz import video


class PlannedAgent(gridlab.Actor):
    """Acts greedily on Q* from planning; learns nothing."""

    def __init__(self, environment):
        self._q = judging.optimal_q_values(environment).reshape(
            -1, 4)
        self.steps_seen = 0

    def select_action(self, observation):
        return int(np.nanargmax(self._q[int(observation)]))

    def observe_first(self, timestep):
        pass

    def observe(self, action, next_timestep):
        self.steps_seen += 1

    def update(self, wait=False):
        pass


def test_recorded_episode_matches_an_evaluation_run():
    environment = gridlab.build_gridworld_task('simple')
    agent = PlannedAgent(environment)
    episode = recording.record_episode(environment, agent)
    log = loggers.InMemoryLogger()
    frames = gridlab.evaluate(environment, agent, 1, logger=log)
    assert len(episode.frames) == len(episode.rewards) + 1 == len(frames)
    assert all(np.array_equal(a, b) for a, b in zip(episode.frames, frames))
    assert episode.episode_return == pytest.approx(log.data[0]['episode_return'])
    assert not episode.cut_short
    assert agent.steps_seen == 0  # recording does not train


def test_a_step_cap_marks_the_episode_cut_short():
    environment = gridlab.build_gridworld_task('simple')
    episode = recording.record_episode(environment, PlannedAgent(environment),
                                       max_steps=2)
    assert len(episode.rewards) == 2 and episode.cut_short
    with pytest.raises(ValueError, match='episodes must be a positive'):
        recording.record_episodes(environment, PlannedAgent(environment), 0)


def test_periodic_video_films_after_every_n_steps(tmp_path):
    environment = gridlab.build_gridworld_task('simple')
    agent = PlannedAgent(environment)
    length = len(recording.record_episode(environment, agent).rewards)
    recorder = recording.PeriodicVideo(environment, agent, tmp_path / 'videos',
                                       every_steps=2 * length, label='planner')
    loop = gridlab.EnvironmentLoop(environment, agent, logger=loggers.NoOpLogger(),
                                   progress=False, observers=[recorder])
    returns = loop.run(num_episodes=5)
    # Training saw the same five optimal episodes as without the recorder.
    assert len(set(returns)) == 1 and agent.steps_seen == 5 * length
    expected = [tmp_path / 'videos' / f'step_{2 * length * k:06d}.mp4'
                for k in (1, 2)]
    assert recorder.written == expected
    for path in expected:
        info = video.probe_video(path)
        assert info['codec'] == 'h264' and info['seconds'] > 2
    with pytest.raises(ValueError, match='every_steps'):
        recording.PeriodicVideo(environment, agent, tmp_path, every_steps=0)


def test_videos_do_not_change_what_training_sees(tmp_path):
    from agents import SARSA

    def train(every):
        environment, spec = gridlab.setup_environment(
            gridlab.build_gridworld_task('random_goal', seed=0))
        agent = SARSA(spec, seed=0)
        observers = [recording.PeriodicVideo(environment, agent, tmp_path / str(every),
                                             every_steps=every)] if every else []
        loop = gridlab.EnvironmentLoop(environment, agent, logger=loggers.NoOpLogger(),
                                       progress=False, observers=observers)
        return loop.run(num_steps=3_000), observers

    plain, _ = train(None)
    filmed, (recorder,) = train(700)
    assert len(recorder.written) == 4
    assert filmed == plain  # same episodes, same returns, step for step


def test_preserved_random_state_puts_generators_back():
    class Holder:
        def __init__(self):
            self.rng = np.random.default_rng(1)
            self.inner = {'legacy': np.random.RandomState(2)}

    holder = Holder()
    with recording.preserved_random_state(holder):
        first = (holder.rng.random(), holder.inner['legacy'].rand())
    assert (holder.rng.random(), holder.inner['legacy'].rand()) == first
