"""Experiment tracking: a run mirrored into MLflow or Weights & Biases.

    gridlab train --agent dqn --task simple --track mlflow    # gridlab[mlflow]
    gridlab train --agent dqn --task simple --track wandb     # gridlab[wandb]

The run folder stays the source of truth; a tracker copies into the tracking
store what the folder holds: the config and hyperparameters (as parameters),
every episode row and every evaluation row (as metrics, at their step), and
at the end the pictures, the CSV logs, summary.json and the checkpoints (as
artifacts), with the run's status.

Where the store is: MLflow uses `MLFLOW_TRACKING_URI` if it is set, else an
SQLite store beside the run folder (`mlflow.db`, artifacts in `mlartifacts/`);
W&B writes beside the run folder too (`wandb/`), offline unless `WANDB_MODE`
says otherwise, so neither needs a network.
"""

import abc
import math
import os
import pathlib
import time
from typing import Any, Dict, List, Mapping, Optional

from gridlab.loops import loggers

TRACKERS = ('mlflow', 'wandb')
# What the run folder's files become at the end: artifacts, when they exist.
ARTIFACTS = ('summary.json', 'episodes.csv', 'evaluation.csv', 'learning_curve.png',
             'q_values.png', 'policy.png', 'evaluation.mp4', 'report.html',
             'agent.pt', 'best.pt')


def flat_parameters(summary: Mapping[str, Any]) -> Dict[str, Any]:
    """summary.json's config and hyperparameters as one flat mapping of plain values."""
    config = dict(summary.get('config') or {})
    hyperparameters = config.pop('hyperparameters', None) or {}
    flat = {key: value for key, value in config.items()}
    flat.update({f'hyperparameters.{key}': value for key, value in
                 (summary.get('hyperparameters') or hyperparameters).items()})
    return {key: (value if isinstance(value, (int, float, str, bool)) or value is None
                  else str(value)) for key, value in flat.items()}


def numbers(row: Mapping[str, Any]) -> Dict[str, float]:
    """The finite numbers of a logged row (booleans and text left out)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(float(value)):
            out[key] = float(value)
    return out


class Tracker(abc.ABC):
    """Mirrors one run into a tracking store."""

    @abc.abstractmethod
    def start(self, summary: Mapping[str, Any]) -> None:
        """At the start: the run's name, config and hyperparameters."""

    @abc.abstractmethod
    def episode(self, row: Mapping[str, Any]) -> None:
        """Each row of episodes.csv, at its total_steps."""

    @abc.abstractmethod
    def evaluation(self, row: Mapping[str, Any]) -> None:
        """Each row of evaluation.csv, at its total_steps."""

    @abc.abstractmethod
    def finish(self, folder: pathlib.Path, status: str) -> None:
        """At the end, however the run ended: the folder's files and the status."""


class EpisodeRows(loggers.Logger):
    """A logger that hands each episode row to a tracker (a run's logger sink)."""

    def __init__(self, tracker: Tracker):
        self._tracker = tracker

    def write(self, data) -> None:
        self._check_open()
        self._tracker.episode(data)


class MLflowTracker(Tracker):
    """An MLflow run (`pip install 'gridlab[mlflow]'`).

    Metrics go in batches (one transaction per `BATCH` values, and at the
    end), not one database write per value.
    """

    BATCH = 1000

    def __init__(self, out: pathlib.Path):
        try:
            import mlflow
        except ImportError:
            raise ImportError("--track mlflow needs MLflow: pip install "
                              "'gridlab[mlflow]'") from None
        self._mlflow, self._run = mlflow, None
        beside = out.resolve().parent
        self._uri = os.environ.get('MLFLOW_TRACKING_URI') or \
            f'sqlite:///{beside / "mlflow.db"}'
        self._artifacts = (beside / 'mlartifacts').as_uri()
        self._pending: List[Any] = []

    def start(self, summary):
        mlflow = self._mlflow
        client = mlflow.tracking.MlflowClient(tracking_uri=self._uri)
        name = 'gridlab'
        experiment = client.get_experiment_by_name(name)
        experiment_id = (experiment.experiment_id if experiment is not None else
                         client.create_experiment(name, artifact_location=self._artifacts))
        config = summary.get('config', {})
        self._client = client
        self._run = client.create_run(
            experiment_id, run_name=f'{config.get("task")}-{config.get("agent")}-seed'
                                    f'{config.get("seed")}',
            tags={'gridlab.command': ' '.join(summary.get('command') or [])})
        for key, value in flat_parameters(summary).items():
            client.log_param(self._run.info.run_id, key, value)

    def _log(self, row, prefix=''):
        from mlflow.entities import Metric
        step, now = int(row.get('total_steps', 0) or 0), int(time.time() * 1000)
        self._pending.extend(Metric(prefix + key, value, now, step)
                             for key, value in numbers(row).items())
        if len(self._pending) >= self.BATCH:
            self._flush()

    def _flush(self):
        for start in range(0, len(self._pending), self.BATCH):
            self._client.log_batch(self._run.info.run_id,
                                   metrics=self._pending[start:start + self.BATCH])
        self._pending = []

    def episode(self, row):
        self._log(row)

    def evaluation(self, row):
        self._log(row, 'evaluation/')

    def finish(self, folder, status):
        run_id = self._run.info.run_id
        self._flush()
        for name in ARTIFACTS:
            if (folder / name).is_file():
                self._client.log_artifact(run_id, str(folder / name))
        self._client.set_tag(run_id, 'gridlab.status', status)
        self._client.set_terminated(run_id, 'FINISHED' if status == 'completed'
                                    else 'KILLED' if status == 'interrupted' else 'FAILED')

    @property
    def run_id(self) -> Optional[str]:
        return None if self._run is None else self._run.info.run_id


class WandbTracker(Tracker):
    """A Weights & Biases run, offline by default (`pip install 'gridlab[wandb]'`)."""

    def __init__(self, out: pathlib.Path):
        try:
            import wandb
        except ImportError:
            raise ImportError("--track wandb needs wandb: pip install "
                              "'gridlab[wandb]'") from None
        self._wandb, self._run = wandb, None
        self._dir = out.resolve().parent

    def start(self, summary):
        config = summary.get('config', {})
        self._run = self._wandb.init(
            project='gridlab', dir=str(self._dir), config=flat_parameters(summary),
            name=f'{config.get("task")}-{config.get("agent")}-seed{config.get("seed")}',
            mode=os.environ.get('WANDB_MODE', 'offline'), reinit='create_new',
            settings=self._wandb.Settings(silent=True, console='off'))

    def _log(self, row, prefix=''):
        values = {prefix + key: value for key, value in numbers(row).items()}
        values[prefix + 'total_steps'] = int(row.get('total_steps', 0) or 0)
        self._run.log(values)

    def episode(self, row):
        self._log(row)

    def evaluation(self, row):
        self._log(row, 'evaluation/')

    def finish(self, folder, status):
        wandb = self._wandb
        artifact = wandb.Artifact(f'run-{self._run.id}', type='gridlab-run')
        for name in ARTIFACTS:
            if (folder / name).is_file():
                artifact.add_file(str(folder / name))
        self._run.log_artifact(artifact)
        images = {name: wandb.Image(str(folder / name)) for name in
                  ('learning_curve.png', 'q_values.png', 'policy.png')
                  if (folder / name).is_file()}
        if images:
            self._run.log(images)
        self._run.summary['gridlab.status'] = status
        self._run.finish(exit_code=0 if status == 'completed' else 1)

    @property
    def directory(self) -> Optional[pathlib.Path]:
        return None if self._run is None else pathlib.Path(self._run.dir).parent


def make_tracker(kind, out: pathlib.Path) -> Optional[Tracker]:
    """The tracker `kind` names ('mlflow', 'wandb') for the run in `out`, or
    None; a `Tracker` given as `kind` is that tracker."""
    if kind is None or isinstance(kind, Tracker):
        return kind
    if kind not in TRACKERS:
        raise ValueError(f'track must be one of {", ".join(TRACKERS)} or None, '
                         f'got {kind!r}')
    return (MLflowTracker if kind == 'mlflow' else WandbTracker)(pathlib.Path(out))
