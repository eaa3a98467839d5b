"""What a run does every so many training steps: evaluate, and checkpoint."""

import csv
import math
import pathlib
import time
from typing import Any, Callable, Dict, Optional

from gridlab.loops import loggers

# A run checkpoints at least this often (seconds of wall time) unless told
# otherwise, so that a kill -9 loses at most this much training.
CHECKPOINT_SECONDS = 60.


def best_evaluation(path: pathlib.Path) -> float:
    """The best mean_return in an evaluation.csv (-inf if there is none)."""
    best = -math.inf
    if path.is_file():
        with open(path, newline='', encoding='utf-8') as f:
            for row in csv.DictReader(f):
                try:
                    value = float(row.get('mean_return') or 'nan')
                except ValueError:
                    continue
                if value > best:  # NaN never is.
                    best = value
    return best


class PeriodicEvaluation:
    """An `EpisodeObserver` that evaluates every `every` steps.

    At the end of the episode that crosses each mark it has the run evaluate
    (`run.evaluate_now`: greedy episodes on the run's own, separately seeded
    evaluation copy of the task, and the optimal fraction on a GridWorld),
    which hands the row back to `write`: evaluation.csv, and the best
    agent so far as best.pt. A resumed run starts from the best score in the
    evaluation.csv it continues, so best.pt is only ever replaced by a better
    agent.
    """

    def __init__(self, run, every: int, episodes: int):
        self._run, self._every, self._episodes = run, every, episodes
        self._steps = run.steps_done
        self._next = (self._steps // every + 1) * every
        self._best = run.best_evaluation if run.resumed else -math.inf
        self._csv = None

    def observe_first(self, env, timestep) -> None:
        pass

    def observe(self, env, timestep, action) -> None:
        self._steps += 1

    def get_metrics(self) -> Dict[str, Any]:
        if self._due():
            self._run.evaluate_now(self._steps, self._episodes, self)
            self._run.checkpoint_at_episode_end(self._steps)
        return {}

    def at(self, total_steps: int) -> None:
        """For batched training, which reports its step count between batch steps."""
        self._steps = total_steps
        if self._due():
            self._run.evaluate_now(self._steps, self._episodes, self)

    def _due(self) -> bool:
        if self._steps < self._next:
            return False
        self._next = (self._steps // self._every + 1) * self._every
        return True

    def write(self, row: dict) -> None:
        if self._csv is None:
            self._csv = loggers.CSVLogger(self._run.out / 'evaluation.csv',
                                          append=self._run.resumed)
        self._csv.write(row)
        if row['mean_return'] > self._best:
            self._best = row['mean_return']
            self._run.save_agent(self._run.out / 'best.pt')

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()


class PeriodicCheckpoint:
    """Checkpoints a run every `every` steps and every `seconds` of wall time.

    Either may be None (not by that measure). For the one-environment loop it
    is an `EpisodeObserver` and checkpoints at the end of the episode that
    crosses a mark; batched training asks `due(total_steps)` between calls.
    """

    def __init__(self, run, every: Optional[int], seconds: Optional[float],
                 clock: Callable[[], float] = time.monotonic):
        self._run, self._every, self._seconds, self._clock = run, every, seconds, clock
        self.every = every
        self._steps = run.steps_done
        self._next = (self._steps // every + 1) * every if every else None
        self._last = clock()

    def observe_first(self, env, timestep) -> None:
        pass

    def observe(self, env, timestep, action) -> None:
        self._steps += 1

    def get_metrics(self) -> Dict[str, Any]:
        if self.due(self._steps):
            self._run.checkpoint_at_episode_end(self._steps)
        return {}

    def due(self, total_steps: int) -> bool:
        """Whether a checkpoint is due at `total_steps` (and, if so, the next mark)."""
        self._steps = total_steps
        by_steps = self._next is not None and total_steps >= self._next
        by_time = (self._seconds is not None and
                   self._clock() - self._last >= self._seconds)
        if not (by_steps or by_time):
            return False
        if self._every:
            self._next = (total_steps // self._every + 1) * self._every
        self._last = self._clock()
        return True
