"""The run loop: any Actor in any dm_env environment.

`EnvironmentLoop` runs episodes and reports one row of statistics per episode
to a logger; `run_loop` (training) and `evaluate` (greedy, no learning) are the
classic tutorial's functions on top of it. Observers (as in Acme's
`EnvironmentLoop`) add their own per-episode metrics to that row without
subclassing the loop.
"""

import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence

import dm_env
import numpy as np

from gridlab.core import ReportsLoss, evaluation_mode, validation
from gridlab.loops import loggers as loggers_lib


class EpisodeObserver(Protocol):
    """Sees every step of the loop and reports metrics once per episode.

    The same methods as Acme's `EnvLoopObserver`: `observe_first` at the
    start of each episode, `observe` after each step, and `get_metrics`
    when the episode ends; its dict is merged into the episode's log row.
    """

    def observe_first(self, env: dm_env.Environment, timestep: dm_env.TimeStep) -> None: ...

    def observe(self, env: dm_env.Environment, timestep: dm_env.TimeStep,
                action: Any) -> None: ...

    def get_metrics(self) -> Mapping[str, Any]: ...


def _in_notebook() -> bool:
    shell = sys.modules.get('IPython')
    if shell is None:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and 'IPKernelApp' in getattr(ipython, 'config', {})


def wants_progress_bar(progress: Optional[bool]) -> bool:
    """`progress` if given, else: on in a terminal or a notebook, off otherwise."""
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty() or _in_notebook()


class EnvironmentLoop:
    """Runs an actor in an environment, episode after episode.

    Args:
      environment: a dm_env environment.
      actor: anything with the `Actor` methods.
      logger: receives one dict per episode (episode, episode_length,
        episode_return, total_steps, steps_per_second and, with `log_loss`,
        loss_avg). Default: a terminal logger printing every `time_delta`.
      learn: call `observe` and `update`; False evaluates instead.
      log_loss: average the actor's `last_loss` over each episode.
      progress: show a progress bar (None: only in terminals and notebooks).
      observers: `EpisodeObserver`s whose metrics join each episode's row.
      first_episode, first_step: where the episode and step counters start
        (a resumed run continues its numbering).
    """

    def __init__(self,
                 environment: dm_env.Environment,
                 actor,
                 logger: Optional[loggers_lib.Logger] = None,
                 label: str = 'training_loop',
                 logger_time_delta: float = 1.,
                 learn: bool = True,
                 log_loss: bool = False,
                 progress: Optional[bool] = None,
                 observers: Sequence[EpisodeObserver] = (),
                 first_episode: int = 0,
                 first_step: int = 0):
        if log_loss and not isinstance(actor, ReportsLoss):
            raise ValueError(f'log_loss=True needs an actor with `last_loss`; '
                             f'{type(actor).__name__} has none')
        self._environment = environment
        self._actor = actor
        self._logger = logger if logger is not None else loggers_lib.TerminalLogger(
            label=label, time_delta=logger_time_delta)
        self._label = label
        self._learn = learn
        self._log_loss = log_loss
        self._progress = wants_progress_bar(progress)
        self._observers = tuple(observers)
        # Where the counters start: a resumed run continues its numbering.
        self._episodes = int(first_episode)
        self._total_steps = int(first_step)

    def run_episode(self, max_steps: Optional[int] = None,
                    frames: Optional[list] = None) -> Dict[str, float]:
        """Runs one episode (at most `max_steps` steps); returns its statistics.

        If `frames` is a list, `environment.render()` is appended to it before
        the first action and after every step. An episode that `max_steps`
        ends before the environment does is reported with `cut_short` True.
        """
        environment, actor, learn = self._environment, self._actor, self._learn
        observers = self._observers
        render = environment.render if frames is not None else None
        start = time.perf_counter()
        episode_steps = 0
        episode_return = 0.
        episode_loss = 0.

        timestep = environment.reset()
        if learn:
            actor.observe_first(timestep)
        for observer in observers:
            observer.observe_first(environment, timestep)
        if render is not None:
            frames.append(render())
        while not timestep.last():
            action = actor.select_action(timestep.observation)
            timestep = environment.step(action)
            if learn:
                actor.observe(action, next_timestep=timestep)
                actor.update()
                if self._log_loss:
                    episode_loss += float(actor.last_loss)
            for observer in observers:
                observer.observe(environment, timestep, action)
            if render is not None:
                frames.append(render())
            episode_steps += 1
            episode_return += float(timestep.reward)
            if max_steps is not None and episode_steps >= max_steps:
                break

        self._total_steps += episode_steps
        elapsed = time.perf_counter() - start
        result = {
            'episode': self._episodes,
            'episode_length': episode_steps,
            'episode_return': episode_return,
            'total_steps': self._total_steps,
            'steps_per_second': episode_steps / elapsed if elapsed > 0 else np.inf,
            'cut_short': not timestep.last(),
            # Ended by the task (discount 0), not by a time limit or a budget.
            'terminated': bool(timestep.last() and float(timestep.discount) == 0.),
        }
        if self._log_loss:
            result['loss_avg'] = episode_loss / max(episode_steps, 1)
        for observer in observers:
            result.update(observer.get_metrics())
        self._episodes += 1
        self._logger.write(result)
        return result

    def run(self, num_episodes: Optional[int] = None,
            num_steps: Optional[int] = None,
            max_steps_per_episode: Optional[int] = None,
            frames: Optional[list] = None) -> List[float]:
        """Runs until `num_episodes` episodes or `num_steps` steps (or forever).

        An episode cut short by `num_steps` is counted, as in the seed
        tutorial, and logged with `cut_short` True. Returns the return of
        every episode.
        """
        for name, value in (('num_episodes', num_episodes), ('num_steps', num_steps)):
            if value is not None and (int(value) != value or value < 0):
                raise ValueError(
                    f'{name} must be a non-negative integer or None, got {value!r}')
        # On first use: `import gridlab` stays light. tqdm.auto draws a widget
        # in a notebook (with ipywidgets) instead of a red stderr bar.
        from tqdm.auto import tqdm
        by_steps = num_steps is not None and num_episodes is None
        bar = tqdm(
            total=num_steps if by_steps else num_episodes,
            unit='step' if by_steps else 'episode', desc=self._label,
            disable=not self._progress, leave=False, dynamic_ncols=True)
        returns = []
        steps_done = 0
        try:
            while ((num_episodes is None or len(returns) < num_episodes) and
                   (num_steps is None or steps_done < num_steps)):
                limit = max_steps_per_episode
                if num_steps is not None:
                    left = num_steps - steps_done
                    limit = left if limit is None else min(limit, left)
                result = self.run_episode(max_steps=limit, frames=frames)
                returns.append(result['episode_return'])
                steps_done += result['episode_length']
                bar.update(result['episode_length'] if by_steps else 1)
                bar.set_postfix(episode_return=f'{result["episode_return"]:.3g}',
                                refresh=False)
        finally:
            bar.close()
        return returns


def run_loop(environment: dm_env.Environment,
             agent,
             num_episodes: Optional[int] = None,
             num_steps: Optional[int] = None,
             logger_time_delta: float = 1.,
             label: str = 'training_loop',
             log_loss: bool = False,
             logger: Optional[loggers_lib.Logger] = None,
             progress: Optional[bool] = None,
             observers: Sequence[EpisodeObserver] = ()) -> List[float]:
    """Trains `agent` for `num_episodes` episodes or `num_steps` steps.

    With neither, runs forever. Returns the list of episode returns. Each
    episode's statistics (and the `observers`' metrics) go to `logger`
    (default: the terminal, at most every `logger_time_delta` seconds).
    """
    loop = EnvironmentLoop(environment, agent, logger=logger, label=label,
                           logger_time_delta=logger_time_delta,
                           log_loss=log_loss, progress=progress,
                           observers=observers)
    return loop.run(num_episodes=num_episodes, num_steps=num_steps)


# `evaluate`'s default cap on each episode's steps: a greedy policy can walk in
# circles forever.
EVALUATE_STEP_CAP = 10_000
# Frames beyond this many bytes are not kept (a 2048-pixel frame is 12 MB).
EVALUATION_FRAME_BYTES = 2**30


class _BoundedFrames(list):
    """A list of frames that stops growing past `max_bytes` and says so."""

    def __init__(self, max_bytes: int):
        super().__init__()
        self.max_bytes, self.bytes, self.dropped = max_bytes, 0, 0

    def append(self, frame):
        size = getattr(frame, 'nbytes', 0)
        if self.bytes + size > self.max_bytes:
            self.dropped += 1
            return
        self.bytes += size
        super().append(frame)


def evaluate(environment: dm_env.Environment,
             agent,
             evaluation_episodes: int,
             logger: Optional[loggers_lib.Logger] = None,
             max_steps_per_episode: Optional[int] = EVALUATE_STEP_CAP,
             render: bool = True,
             max_frame_bytes: int = EVALUATION_FRAME_BYTES) -> list:
    """Runs `agent` greedily without learning; returns the rendered frames.

    Every episode's statistics go to `logger` (default: printed). Environments
    without `render()` (or `render=False`) give no frames. Episodes stop
    after `max_steps_per_episode` steps (None: no cap; a greedy policy that
    walks in circles would never end), and frames stop being kept once they
    take `max_frame_bytes` (a warning says how many were left out).
    """
    import warnings  # pylint: disable=import-outside-toplevel
    evaluation_episodes = validation.check_positive_int('evaluation_episodes',
                                                        evaluation_episodes)
    max_steps_per_episode = validation.check_optional_positive_int(
        'max_steps_per_episode', max_steps_per_episode)
    max_frame_bytes = validation.check_positive_int('max_frame_bytes', max_frame_bytes)
    if logger is None:
        logger = loggers_lib.TerminalLogger(label='evaluation')
    frames = (_BoundedFrames(max_frame_bytes)
              if render and hasattr(environment, 'render') else None)
    loop = EnvironmentLoop(environment, agent, logger=logger, label='evaluation',
                           learn=False, progress=False)
    with evaluation_mode(agent):
        loop.run(num_episodes=evaluation_episodes,
                 max_steps_per_episode=max_steps_per_episode, frames=frames)
    if frames is None:
        return []
    if frames.dropped:
        warnings.warn(f'evaluate kept the first {len(frames)} frames '
                      f'({frames.bytes / 2**20:.0f} MB) and left out {frames.dropped} '
                      f'more; raise max_frame_bytes (now {max_frame_bytes}) to keep them')
    return list(frames)
