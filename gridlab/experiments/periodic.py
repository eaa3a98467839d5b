"""Evaluating and checkpointing a run every so many training steps."""

import math
from typing import Any, Dict

from gridlab.loops import loggers


class PeriodicEvaluation:
    """An `EpisodeObserver` that evaluates and checkpoints every `every` steps.

    At the end of the episode that crosses each mark it has the run evaluate
    (`run.evaluate_now`: greedy episodes on the run's own, separately seeded
    evaluation copy of the task, and the optimal fraction on a GridWorld),
    which hands the row back to `write`: evaluation.csv, and the best
    checkpoint as best.pt. The run keeps the latest as agent.pt with run_state.json, from
    which `--resume` continues.
    """

    def __init__(self, run, every: int, episodes: int):
        self._run, self._every, self._episodes = run, every, episodes
        self._steps = run.steps_done
        self._next = (self._steps // every + 1) * every
        self._best = -math.inf
        self._csv = None

    def observe_first(self, env, timestep) -> None:
        pass

    def observe(self, env, timestep, action) -> None:
        self._steps += 1

    def get_metrics(self) -> Dict[str, Any]:
        if self._steps < self._next:
            return {}
        self._next = (self._steps // self._every + 1) * self._every
        self._run.evaluate_now(self._steps, self._episodes, self)
        return {}

    def at(self, total_steps: int) -> None:
        """For batched training, which reports its step count between batch steps."""
        self._steps = total_steps
        self.get_metrics()

    def write(self, row: dict) -> None:
        if self._csv is None:
            self._csv = loggers.CSVLogger(self._run.out / 'evaluation.csv',
                                          append=self._run.resumed)
        self._csv.write(row)
        if row['mean_return'] > self._best:
            self._best = row['mean_return']
            self._run.actor.save(self._run.out / 'best.pt')

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
