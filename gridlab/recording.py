"""Recording greedy episodes (frames and rewards) for annotated videos.

    episode = record_episode(environment, agent)            # one greedy episode
    save_video(annotate_episodes([episode]), 'greedy.mp4')

    # Every 500 training steps, a greedy episode to videos/step_000500.mp4 ...
    recorder = PeriodicVideo(environment, agent, 'run/videos', every_steps=500)
    EnvironmentLoop(environment, agent, observers=[recorder]).run(num_steps=5000)

Recording steps the environment, so `PeriodicVideo` records only when a
training episode has just ended: the loop resets the environment before the
next one anyway, so training sees exactly the episodes it would have seen
(the environment's random stream moves on, the same way for the same seed).
"""

import pathlib
from typing import Any, List, Optional

import dm_env
import numpy as np

from gridlab import loggers
from gridlab.core import evaluation_mode
from gridlab.loop import EnvironmentLoop

__all__ = ['PeriodicVideo', 'record_episode', 'record_episodes']


class _Rewards:
    """An episode observer that keeps each step's reward."""

    def __init__(self):
        self.rewards: List[float] = []

    def observe_first(self, env, timestep) -> None:
        del env, timestep
        self.rewards = []

    def observe(self, env, timestep, action) -> None:
        del env, action
        self.rewards.append(float(timestep.reward))

    def get_metrics(self):
        return {}


def record_episodes(environment: dm_env.Environment, agent, episodes: int = 1,
                    max_steps: Optional[int] = 300) -> list:
    """Runs `episodes` greedy episodes without learning; returns `Episode`s.

    Each `gridlab.video.Episode` holds the rendered frames (the start, then
    one after every step) and the rewards; one that `max_steps` stopped is
    marked `cut_short`. The environment must have `render()`.

    Raises:
        TypeError: if the environment cannot render.
        ValueError: if `episodes` is not a positive integer.
    """
    from gridlab.video import Episode  # imageio loads only when recording.
    if not hasattr(environment, 'render'):
        raise TypeError(f'environment {type(environment).__name__} has no '
                        'render(); only environments that render can be recorded')
    if isinstance(episodes, bool) or int(episodes) != episodes or episodes < 1:
        raise ValueError(f'episodes must be a positive integer, got {episodes!r}')
    rewards = _Rewards()
    loop = EnvironmentLoop(environment, agent, logger=loggers.NoOpLogger(),
                           label='recording', learn=False, progress=False,
                           observers=[rewards])
    recorded = []
    with evaluation_mode(agent):
        for _ in range(int(episodes)):
            frames: List[np.ndarray] = []
            result = loop.run_episode(max_steps=max_steps, frames=frames)
            recorded.append(Episode(frames, list(rewards.rewards),
                                    bool(result['cut_short'])))
    return recorded


def record_episode(environment: dm_env.Environment, agent,
                   max_steps: Optional[int] = 300):
    """One greedy episode as a `gridlab.video.Episode` (see `record_episodes`)."""
    return record_episodes(environment, agent, 1, max_steps)[0]


class PeriodicVideo:
    """An `EpisodeObserver` that films a greedy episode every `every_steps`.

    When a training episode ends at or past the next multiple of
    `every_steps`, one greedy episode is recorded, annotated and written to
    `directory/step_NNNNNN.mp4` (NNNNNN: training steps so far). `written`
    lists the files. Give it to `EnvironmentLoop(..., observers=[...])`.
    """

    def __init__(self, environment, agent, directory, every_steps: int,
                 max_steps: Optional[int] = 300,
                 frame_rate: Optional[float] = None,
                 label: Optional[str] = None):
        if (isinstance(every_steps, bool) or int(every_steps) != every_steps
                or every_steps < 1):
            raise ValueError(
                f'every_steps must be a positive integer, got {every_steps!r}')
        self._environment, self._agent = environment, agent
        self._directory = pathlib.Path(directory)
        self._every = int(every_steps)
        self._next = int(every_steps)
        self._steps = 0
        self._max_steps = max_steps
        self._frame_rate = frame_rate or getattr(environment, 'render_fps', 8)
        self._label = label
        self.written: List[pathlib.Path] = []

    def observe_first(self, env, timestep) -> None:
        del env, timestep

    def observe(self, env, timestep, action: Any) -> None:
        del env, action
        self._steps += 1
        if timestep.last() and self._steps >= self._next:
            self._record()
            # Skip thresholds a long episode jumped over.
            self._next = (self._steps // self._every + 1) * self._every

    def get_metrics(self):
        return {}

    def _record(self) -> None:
        from gridlab import video
        self._directory.mkdir(parents=True, exist_ok=True)
        episode = record_episode(self._environment, self._agent, self._max_steps)
        label = f'after {self._steps} steps'
        if self._label:
            label = f'{self._label}, {label}'
        frames = video.annotate_episodes([episode], self._frame_rate, label=label)
        path = self._directory / f'step_{self._steps:06d}.mp4'
        video.save_video(frames, path, frame_rate=self._frame_rate)
        self.written.append(path)
