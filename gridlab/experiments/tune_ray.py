"""Searching on Ray: Ray Tune with Optuna's TPE (OptunaSearch) and ASHA.

`gridlab tune --backend ray [--address HOST:PORT]` hands the trials to Ray
Tune on a cluster (or one started here). The study is still the Optuna study
in the output folder's study.db: OptunaSearch asks and tells through that
storage, so a rerun continues it, the local backend can continue it too, and
the trials table, best settings, plots and report are written exactly as
for the local backend. The run folders are written by Ray's workers, so on a
cluster of several machines the output folder must be on a file system they
share.

Trials are pruned by Ray's ASHA scheduler (asynchronous successive halving)
instead of Optuna's median pruner: each periodic evaluation is a result
(`objective`, the mean evaluation return so far, at `step`), and at each rung
ASHA stops a trial below the best third of those that reached it.
"""

import contextlib
import os
import pathlib
import time
from typing import Any, Callable, Dict, Mapping, Optional, Type

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from gridlab.core.errors import ExperimentError
from gridlab.experiments import ray_cluster, run_folder

NUMBER = 'gridlab_trial'  # The trial's number in the study, in its Ray config.
REDUCTION_FACTOR = 3      # ASHA keeps the best third at each rung.


class Search(OptunaSearch):
    """OptunaSearch that tells Optuna which trials ASHA stopped (PRUNED) and
    which crashed (FAIL); it would record both as COMPLETE with the last
    value reported. A trial is complete once it reports `finished`; the steps
    of intermediate values are training steps, as with the local backend,
    not Tune's count of results."""

    def on_trial_result(self, trial_id, result):
        if trial_id in self._ot_trials and not result.get('finished'):
            self._ot_trials[trial_id].report(result['objective'], result['step'])

    def on_trial_complete(self, trial_id, result=None, error=False):
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return super().on_trial_complete(trial_id, result, error)
        trial = self._ot_trials[trial_id]
        if result and 'objective' in result and not result.get('finished'):
            # The result that made ASHA stop the trial reaches no on_trial_result.
            self.on_trial_result(trial_id, result)
        if not error and result and result.get('finished'):
            self._ot_study.tell(trial, result['objective'])
        else:
            self._ot_study.tell(trial, state=optuna.trial.TrialState.FAIL if error
                                else optuna.trial.TrialState.PRUNED)
        self._completed_trials.add(trial_id)


class _Define:
    """OptunaSearch's define-by-run space: `suggest` picks the settings, and the
    trial's number rides along in its config (picklable: Tune saves the
    searcher with its experiment)."""

    def __init__(self, suggest: Callable, space: Mapping[str, Any]):
        self.suggest, self.space = suggest, space

    def __call__(self, trial) -> Dict[str, Any]:
        self.suggest(trial, self.space)
        return {NUMBER: trial.number}


def search(settings: Mapping[str, Any], *, suggest: Callable, run_trial: Callable,
           storage, study_name: str, workers: int, address: Optional[str],
           error: Type[Exception]) -> None:
    """Runs trials on Ray until the study holds settings['trials'] of them.

    `suggest(trial, space)` picks a trial's settings through an Optuna trial;
    `run_trial(settings, number, chosen, report)` trains one and returns its
    objective, or None if `report(value, step)` returned False (pruned).
    """
    done = len(optuna.load_study(study_name=study_name, storage=storage).trials)
    if done >= settings['trials']:
        return
    ray, started_here = ray_cluster.connect(address, workers, error, extra='tune,ray')
    try:
        searcher = Search(space=_Define(suggest, settings['space']), metric='objective',
                          mode='max', study_name=study_name, storage=storage,
                          sampler=optuna.samplers.TPESampler(seed=settings['sampler_seed']))
        # max_t above the last evaluation's step: ASHA stops a trial that reaches
        # max_t, and a trial must be free to finish its run folders.
        scheduler = ASHAScheduler(metric='objective', mode='max', time_attr='step',
                                  max_t=_last_step(settings) + 1,
                                  grace_period=settings['eval_every'],
                                  reduction_factor=REDUCTION_FACTOR)
        out = pathlib.Path(settings['out']).resolve()
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_trainable, settings=dict(settings),
                                                     run_trial=run_trial), {'cpu': 1}),
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                        num_samples=settings['trials'] - done,
                                        max_concurrent_trials=workers),
            run_config=tune.RunConfig(name='tune', storage_path=str(out / 'ray'),
                                      verbose=0))
        with _quiet():
            tuner.fit()
        _mark_pruned(optuna.load_study(study_name=study_name, storage=storage))
    finally:
        if started_here:
            ray.shutdown()


@contextlib.contextmanager
def _quiet():
    """No Tune progress tables or INFO lines: gridlab says how the search went.
    (Tune's newer output ignores verbose=0; the older one honours it.)"""
    import logging
    logger, before = logging.getLogger('ray.tune'), os.environ.get('RAY_AIR_NEW_OUTPUT')
    level = logger.level
    os.environ['RAY_AIR_NEW_OUTPUT'] = '0'
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        if before is None:
            del os.environ['RAY_AIR_NEW_OUTPUT']
        else:
            os.environ['RAY_AIR_NEW_OUTPUT'] = before


def _trainable(config: Dict[str, Any], settings: Dict[str, Any], run_trial: Callable):
    """One trial in a Ray worker: a run folder, each evaluation a Tune result."""
    import torch
    torch.set_num_threads(1)  # One CPU per trial, as the resources say.
    chosen = {k: v for k, v in config.items() if k != NUMBER}

    def report(value: float, step: int) -> bool:
        try:
            tune.report({'objective': value, 'step': step})
        except SystemExit:  # How Ray ends a report of a trial it stopped.
            return False
        return True

    objective = run_trial(settings, config[NUMBER], chosen, report)
    if objective is not None:
        try:
            tune.report({'objective': objective, 'step': _last_step(settings) + 1,
                         'finished': True})
        except SystemExit:
            pass  # Stopped at the end of its run, which is complete.


def _last_step(settings: Mapping[str, Any]) -> int:
    """The step of a trial's last evaluation, its seeds' runs end to end."""
    return settings['seeds_per_trial'] * settings['steps']


def _mark_pruned(study, wait: float = 30.) -> None:
    """Every pruned trial's folder says 'pruned', as the local backend leaves it.

    Ray may end a stopped trial's worker before it writes that itself; the
    folder's lock says when the worker has let go of it.
    """
    for trial in study.get_trials(deepcopy=False,
                                  states=(optuna.trial.TrialState.PRUNED,)):
        folder = trial.user_attrs.get('directory')
        for summary_file in sorted(pathlib.Path(folder).glob('**/summary.json')
                                   if folder else ()):
            _mark(summary_file.parent, wait)


def _mark(folder: pathlib.Path, wait: float) -> None:
    """'pruned' on the run the pruner stopped (not on its finished seeds)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            lock = run_folder.FolderLock(folder)
            break
        except ExperimentError:  # Its worker still holds it.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        summary = run_folder.read_summary(folder)
        if summary.get('status') not in ('completed', 'pruned'):
            summary['status'] = 'pruned'
            run_folder.write_summary(folder / 'summary.json', summary)
    finally:
        lock.release()
