"""Recording greedy episodes (frames and rewards) for annotated videos.

    episode = record_episode(environment, agent)            # one greedy episode
    save_video(annotate_episodes([episode]), 'greedy.mp4')

    # Every 500 training steps, a greedy episode to videos/step_000500.mp4 ...
    recorder = PeriodicVideo(environment, agent, 'run/videos', every_steps=500)
    EnvironmentLoop(environment, agent, observers=[recorder]).run(num_steps=5000)

Recording steps the environment, so `PeriodicVideo` records only when a
training episode has just ended: the loop resets the environment before the
next one anyway. Acting and resetting draw random numbers (tie-breaking, a
random goal), so it also puts back the random generators it finds on the
agent and the environment (see `preserved_random_state`): a run with videos
trains exactly as the same run without them.
"""

import contextlib
import pathlib
import random
import sys
from typing import Any, Iterator, List, Optional

import dm_env
import numpy as np

from gridlab.loops import loggers
from gridlab.core import evaluation_mode
from gridlab.loops.environment_loop import EnvironmentLoop

__all__ = ['PeriodicVideo', 'preserved_random_state', 'record_episode',
           'record_episodes']


def _generators(root, depth: int = 3) -> list:
    """Random generators among the attributes of `root`, `depth` levels down.

    numpy Generators and RandomStates, `random.Random` and torch Generators
    (these only if torch is already imported); each object is visited once.
    """
    torch = sys.modules.get('torch')
    kinds = (np.random.Generator, np.random.RandomState, random.Random)
    if torch is not None:
        kinds += (torch.Generator,)
    found, seen, frontier = [], set(), [root]
    for _ in range(depth + 1):
        following = []
        for obj in frontier:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, kinds):
                found.append(obj)
                continue
            values = (list(obj.values()) if isinstance(obj, dict) else
                      list(obj) if isinstance(obj, (list, tuple)) else
                      list(vars(obj).values()) if hasattr(obj, '__dict__') else [])
            following.extend(v for v in values if not isinstance(
                v, (np.ndarray, str, bytes, int, float)))
        frontier = following
    return found


def _get_state(generator):
    if isinstance(generator, np.random.Generator):
        return generator.bit_generator.state
    if isinstance(generator, random.Random):
        return generator.getstate()
    return generator.get_state()  # numpy RandomState, torch Generator


def _set_state(generator, state) -> None:
    if isinstance(generator, np.random.Generator):
        generator.bit_generator.state = state
    elif isinstance(generator, random.Random):
        generator.setstate(state)
    else:
        generator.set_state(state)


@contextlib.contextmanager
def preserved_random_state(*objects) -> Iterator[None]:
    """Within the block, draw freely: the objects' random generators get
    their states back afterwards.

    Generators are found among the objects' attributes, three levels down
    (an agent's explorer, a wrapper's environment); global random state is
    not touched, nor needed: gridlab components own their generators.
    """
    generators = [g for obj in objects for g in _generators(obj)]
    states = [_get_state(g) for g in generators]
    try:
        yield
    finally:
        for generator, state in zip(generators, states):
            _set_state(generator, state)


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

    Each `gridlab.viz.video.Episode` holds the rendered frames (the start, then
    one after every step) and the rewards; one that `max_steps` stopped is
    marked `cut_short`. The environment must have `render()`.

    Raises:
        TypeError: if the environment cannot render.
        ValueError: if `episodes` is not a positive integer.
    """
    from gridlab.viz.video import Episode  # imageio loads only when recording.
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
    """One greedy episode as a `gridlab.viz.video.Episode` (see `record_episodes`)."""
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
        from gridlab.viz import video
        self._directory.mkdir(parents=True, exist_ok=True)
        with preserved_random_state(self._agent, self._environment):
            episode = record_episode(self._environment, self._agent,
                                     self._max_steps)
        label = f'after {self._steps} steps'
        if self._label:
            label = f'{self._label}, {label}'
        frames = video.annotate_episodes([episode], self._frame_rate, label=label)
        path = self._directory / f'step_{self._steps:06d}.mp4'
        video.save_video(frames, path, frame_rate=self._frame_rate)
        self.written.append(path)
