"""Hyperparameter search: `gridlab tune`, Optuna's TPE over a search space.

    gridlab tune --agent dqn --task simple --space space.toml --trials 30 \\
        --steps 5000 --eval-every 500 --out tunes/dqn-simple

A search space file names agent arguments and their ranges:

    [learning_rate]              # a float between low and high
    low = 1e-4
    high = 1e-2
    log = true                   # sampled on a log scale
    [batch_size]                 # an int: low and high are integers
    low = 16
    high = 256
    log = true
    [hidden_sizes]               # one of these values (as --set would read them)
    choices = ["64", "64,64", "128,128"]

Every trial is an ordinary run folder (`trials/trial_0000`, ...), trained on
the same seed with the trial's settings and evaluated every `eval_every`
steps; its objective is the mean of those evaluations' greedy returns (the
area under its evaluation curve), so settings that solve the task sooner score
higher. Optuna's median pruner, fed each evaluation, stops trials that fall
behind the others at the same step. The study lives in an SQLite file in the
output folder (`study.db`, Optuna's own RDB storage): rerunning the command
continues it up to `trials`, and `workers` processes share it. The study writes
`trials.csv`, the best settings as `best.toml` (for `gridlab train --config`),
Optuna's history and importance plots, and `report.html`.

With `backend='ray'` (`--backend ray [--address HOST:PORT]`) the trials run
on Ray Tune instead, sampled by the same study through OptunaSearch and
pruned by Ray's ASHA scheduler (see tune_ray); the folder and its files are
the same, and either backend continues a study the other began.
"""

import csv
import dataclasses
import functools
import math
import multiprocessing
import pathlib
from typing import Any, Callable, Dict, List, Mapping, Optional

from gridlab.core import files
from gridlab.core.errors import ExperimentError
from gridlab.envs import catalogue
from gridlab.experiments import hyperparameters as hyperparameters_lib
from gridlab.experiments import run_folder, tracking
from gridlab.experiments.config import RunConfig
from gridlab.experiments.run import run_experiment

STUDY = 'gridlab'  # The study's name in study.db.
# What a trial can be judged on: columns of its evaluations, more is better.
METRICS = ('mean_return', 'success_rate', 'optimal_fraction', 'min_return')


class TuneError(ExperimentError):
    """A search that cannot start as asked (a bad space, a bad count)."""


@dataclasses.dataclass(frozen=True)
class Range:
    """A float or int between `low` and `high`, on a log scale if `log`."""
    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclasses.dataclass(frozen=True)
class Choices:
    """One of `values` (each as `--set` would read it)."""
    values: tuple


def load_space(path, agent: str, task: str) -> Dict[str, Any]:
    """The search space in a TOML/YAML file, checked against `agent`'s arguments."""
    where = f'search space {str(path)!r}'
    try:
        table = hyperparameters_lib.read_table(pathlib.Path(path), where)
    except ValueError as error:
        raise TuneError(str(error)) from None
    return check_space(table, agent, task, where)


def check_space(table: Mapping[str, Any], agent: str, task: str,
                where: str = 'search space') -> Dict[str, Any]:
    """{name: Range or Choices}; a TuneError naming the entry for anything else."""
    if not table:
        raise TuneError(f'{where} is empty; expected a table per agent argument, such '
                        'as [step_size] with low = 0.01 and high = 1.0')
    parameters = RunConfig.create(agent, task).parameters
    space = {}
    for name, entry in table.items():
        if name not in parameters:
            hint = hyperparameters_lib.suggestion(name, parameters)
            raise TuneError(f'{where}: {agent} has no argument {name!r}{hint}')
        if not isinstance(entry, dict):
            raise TuneError(f'{where}: [{name}] must be a table with low and high, or '
                            f'choices; got {entry!r}')
        unknown = set(entry) - {'low', 'high', 'log', 'choices'}
        if unknown:
            raise TuneError(f'{where}: [{name}] has unknown key(s) '
                            f'{", ".join(sorted(map(repr, unknown)))}; expected low, '
                            'high and log, or choices')
        if 'choices' in entry:
            if set(entry) != {'choices'}:
                raise TuneError(f'{where}: [{name}] gives choices and a range; '
                                'expected one of the two')
            values = entry['choices']
            if not isinstance(values, list) or not values:
                raise TuneError(f'{where}: [{name}] choices must be a non-empty list, '
                                f'got {values!r}')
            for value in values:  # Each as the agent would take it: refused now if bad.
                _check_value(agent, task, name, value, f'{where}: [{name}] choice')
            space[name] = Choices(tuple(values))
            continue
        low, high, log = entry.get('low'), entry.get('high'), entry.get('log', False)
        numbers = [v for v in (low, high) if isinstance(v, (int, float)) and
                   not isinstance(v, bool) and math.isfinite(v)]
        if len(numbers) != 2 or not low < high:
            raise TuneError(f'{where}: [{name}] needs numbers low < high, got low = '
                            f'{low!r}, high = {high!r}')
        if not isinstance(log, bool):
            raise TuneError(f'{where}: [{name}] log must be true or false, got {log!r}')
        if log and low <= 0:
            raise TuneError(f'{where}: [{name}] is on a log scale, so low must be > 0, '
                            f'got {low!r}')
        integer = isinstance(low, int) and isinstance(high, int)
        for value in (low, high):
            _check_value(agent, task, name, value, f'{where}: [{name}] bound')
        space[name] = Range(float(low), float(high), log, integer)
    return space


def _check_value(agent: str, task: str, name: str, value, what: str) -> None:
    """Builds the agent with `name` = `value` (nothing is written): a TuneError
    if the agent refuses it, so that a space is refused before any trial."""
    from gridlab.experiments.run import Run
    try:
        config = RunConfig.create(agent, task, hyperparameters={name: value})
        Run(config, pathlib.Path('unused'), {})
    except (ValueError, TypeError) as error:
        raise TuneError(f'{what} {value!r}: {error}') from None


def _suggest(trial, space: Mapping[str, Any]) -> Dict[str, Any]:
    settings = {}
    for name, entry in space.items():
        if isinstance(entry, Choices):
            settings[name] = trial.suggest_categorical(name, list(entry.values))
        elif entry.integer:
            settings[name] = trial.suggest_int(name, int(entry.low), int(entry.high),
                                               log=entry.log)
        else:
            settings[name] = trial.suggest_float(name, entry.low, entry.high,
                                                 log=entry.log)
    return settings


class Pruned(Exception):
    """A trial its pruner stopped (inside run_trial only)."""


class _Reporter(tracking.Tracker):
    """Hands each evaluation to the pruner: `report(value, step)`; False stops.

    The value reported is the mean of the trial's evaluations so far (over
    its earlier seeds' runs too, in `returns`): its objective, as far as it
    goes. The step counts the earlier runs' steps first (`offset`), so every
    trial's n-th report is at the same step.
    """

    def __init__(self, report: Callable[[float, int], bool], metric: str,
                 returns: List[float], offset: int):
        self._report, self._metric = report, metric
        self._returns, self._offset = returns, offset

    def start(self, summary):
        pass

    def episode(self, row):
        pass

    def evaluation(self, row):
        try:
            value = float(row.get(self._metric))
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise TuneError(f'metric {self._metric!r} is {row.get(self._metric)!r} in the '
                            f'evaluation at '
                            f'step {row["total_steps"]:,}; expected a number (a task with '
                            'no planning has no optimal_fraction)')
        self._returns.append(float(value))
        step = self._offset + int(row['total_steps'])
        if not self._report(sum(self._returns) / len(self._returns), step):
            raise Pruned(f'pruned at step {step:,}')

    def finish(self, folder, status):
        pass


def trial_folder(settings: Mapping[str, Any], number: int) -> str:
    return str(pathlib.Path(settings['out']) / 'trials' / f'trial_{number:04d}')


def run_folders(settings: Mapping[str, Any], number: int) -> List[pathlib.Path]:
    """Trial `number`'s run folders: the trial's own, or with several seeds
    per trial one per seed below it (seed_S)."""
    folder = pathlib.Path(trial_folder(settings, number))
    seeds = settings['seeds_per_trial']
    if seeds == 1:
        return [folder]
    return [folder / f'seed_{settings["seed"] + i}' for i in range(seeds)]


def run_trial(settings: Mapping[str, Any], number: int, chosen: Dict[str, Any],
              report: Callable[[float, int], bool]) -> Optional[float]:
    """Trains trial `number` with `chosen` into its run folder(s), one seed
    after another; its objective (the mean greedy return of every evaluation
    of every seed), or None if `report` pruned it (the run it stopped then
    says 'pruned')."""
    returns: List[float] = []
    for index, out in enumerate(run_folders(settings, number)):
        try:
            run_experiment(settings['agent'], settings['task'], out,
                           seed=settings['seed'] + index, steps=settings['steps'],
                           eval_every=settings['eval_every'],
                           eval_episodes=settings['eval_episodes'],
                           hyperparameters=chosen, verbose=False, video=False,
                           pictures=False, overwrite=True,
                           track=_Reporter(report, settings['metric'], returns,
                                           index * settings['steps']))
        except Pruned:
            summary = run_folder.read_summary(out)  # The folder says why it stopped.
            summary['status'] = 'pruned'
            run_folder.write_summary(out / 'summary.json', summary)
            return None
    return sum(returns) / len(returns)


def _suggest_and_place(settings: Mapping[str, Any], trial, space) -> Dict[str, Any]:
    """The trial's settings, with where its folder is recorded in the study."""
    trial.set_user_attr('directory', trial_folder(settings, trial.number))
    return _suggest(trial, space)


def _objective(settings: Mapping[str, Any]):
    """The function Optuna calls with each trial (in any worker process)."""
    import optuna
    def objective(trial):
        chosen = _suggest_and_place(settings, trial, settings['space'])

        def report(value: float, step: int) -> bool:
            trial.report(value, step)
            return not trial.should_prune()

        value = run_trial(settings, trial.number, chosen, report)
        if value is None:
            raise optuna.TrialPruned()
        return value
    return objective


def _storage(out: pathlib.Path):
    import optuna
    return optuna.storages.RDBStorage(f'sqlite:///{out.resolve() / "study.db"}',
                                      engine_kwargs={'connect_args': {'timeout': 60}})


def _work(settings: Dict[str, Any], one_thread: bool = False) -> None:
    """One worker: trials until the study holds `trials` of them.

    Workers beside each other train on one torch thread each (as the sweep's
    do): two workers of two threads on two cores ran a DQN trial 7 times
    slower (benchmarks/tune.py's 2,000 steps: 40.9 s against 5.8 s).
    """
    import optuna
    if one_thread:
        import torch
        torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=STUDY, storage=_storage(pathlib.Path(
        settings['out'])), sampler=optuna.samplers.TPESampler(seed=settings['sampler_seed']))
    objective = _objective(settings)
    while len(study.get_trials(deepcopy=False)) < settings['trials']:
        study.optimize(objective, n_trials=1, catch=(ExperimentError,))


@dataclasses.dataclass
class TuneResult:
    """What `run_tune` left in its folder."""
    directory: pathlib.Path
    best: Dict[str, Any]         # The best trial's settings.
    best_value: float            # Its objective.
    states: Dict[str, int]       # Trials per state: COMPLETE, PRUNED, FAIL.
    trials: List[Dict[str, Any]]  # The rows of trials.csv.


def run_tune(agent: str, task: str, space, trials: int, out, *, steps: Optional[int] = None,
             eval_every: Optional[int] = None, eval_episodes: int = 5, seed: int = 0,
             seeds_per_trial: int = 1, metric: str = 'mean_return', workers: int = 1,
             backend: str = 'local',
             address: Optional[str] = None) -> TuneResult:
    """Runs (or continues) the study in `out` up to `trials` trials; see the module.

    With `seeds_per_trial` > 1 each trial trains that many seeds (seed,
    seed + 1, ...) one after another and is judged on all of them, so that a
    setting is not chosen for one lucky seed.
    `backend` 'local' runs `workers` processes here; 'ray' runs the trials on
    Ray Tune (see tune_ray), on the cluster at `address` or one started here.
    """
    import optuna
    if metric not in METRICS:
        raise TuneError(f'metric must be one of {", ".join(METRICS)} (a column of '
                        f'evaluation.csv where more is better), got {metric!r}')
    if backend not in ('local', 'ray'):
        raise TuneError(f"backend must be 'local' or 'ray', got {backend!r}")
    if address is not None and backend != 'ray':
        raise TuneError('address is for the Ray backend (--backend ray)')
    for name, value in (('trials', trials), ('workers', workers),
                        ('seeds_per_trial', seeds_per_trial)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TuneError(f'{name} must be a positive integer, got {value!r}')
    config = RunConfig.create(agent, task, seed=seed, steps=steps, eval_every=eval_every,
                              eval_episodes=eval_episodes)
    if config.eval_every is None:
        raise TuneError('eval_every (--eval-every) is needed: each trial is judged, and '
                        'pruned, by its periodic evaluations')
    if metric == 'optimal_fraction' and not config.gridworld:
        kind = catalogue.check_task(task).replace('gymnasium', 'Gymnasium')
        raise TuneError(f'metric optimal_fraction needs a task that planning can judge '
                        f'(a GridWorld task); {task!r} is a {kind} task')
    if not isinstance(space, Mapping):
        space = load_space(space, agent, task)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = run_folder.FolderLock(out)  # One study per folder at a time.
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(study_name=STUDY, storage=_storage(out),
                                    direction='maximize', load_if_exists=True)
        recorded = study.user_attrs.get('settings')
        asked = {'agent': agent, 'task': task, 'seed': seed, 'steps': config.steps,
                 'eval_every': config.eval_every, 'eval_episodes': eval_episodes,
                 'metric': metric,
                 'seeds_per_trial': seeds_per_trial}
        if recorded is not None:  # Studies from before these settings had these.
            recorded = {'seeds_per_trial': 1, 'metric': 'mean_return', **recorded}
        if recorded is not None and recorded != asked:
            differs = next(key for key in asked if recorded.get(key) != asked[key])
            raise TuneError(f'{str(out)!r} holds a study with {differs} = '
                            f'{recorded.get(differs)!r}, not {asked[differs]!r}; choose '
                            'another folder (--out)')
        study.set_user_attr('settings', asked)
        for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            # Left by a killed study (nobody else holds the folder): failed. Optuna
            # offers no public call for this without heartbeats, which would
            # keep them RUNNING for a grace period after the kill.
            study._storage.set_trial_state_values(trial._trial_id,
                                                  optuna.trial.TrialState.FAIL)
        settings = dict(asked, space=space, out=str(out), trials=trials,
                        steps=config.steps, sampler_seed=seed)
        if backend == 'ray':
            tune_ray = _ray_backend()
            tune_ray.search(settings, suggest=functools.partial(_suggest_and_place, settings),
                            run_trial=run_trial, storage=_storage(out), study_name=STUDY,
                            workers=workers, address=address, error=TuneError)
        elif workers == 1:
            _work(settings)
        else:
            context = multiprocessing.get_context('spawn')
            processes = [context.Process(target=_work, args=(dict(settings,
                         sampler_seed=seed + i), True)) for i in range(workers)]
            for process in processes:
                process.start()
            for process in processes:
                process.join()
        return _write_outputs(out, optuna.load_study(study_name=STUDY,
                                                    storage=_storage(out)), asked)
    finally:
        lock.release()


def _ray_backend():
    """gridlab.experiments.tune_ray, which imports Ray Tune as it loads."""
    try:
        from gridlab.experiments import tune_ray
    except ImportError as missing:
        raise TuneError(f'the Ray backend of gridlab tune needs Ray Tune ({missing}): '
                        "pip install 'gridlab[tune,ray]'") from None
    return tune_ray


def _write_outputs(out: pathlib.Path, study, asked: Dict[str, Any]) -> TuneResult:
    """trials.csv, best.toml, the plots and report.html."""
    import optuna
    done = study.get_trials(deepcopy=False)
    rows = [{'number': t.number, 'state': t.state.name, 'value': t.value,
             'steps': max(t.intermediate_values, default=None),
             **{f'param.{k}': v for k, v in t.params.items()},
             'directory': t.user_attrs.get('directory')} for t in done]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    from gridlab.experiments import results
    results.write_csv(out / 'trials.csv', columns, rows)
    states = {state: sum(row['state'] == state for row in rows)
              for state in ('COMPLETE', 'PRUNED', 'FAIL')}
    complete = [t for t in done if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise TuneError(f'no trial of {str(out)!r} completed ({states}); see trials.csv')
    best = study.best_trial
    lines = ['# The best settings of `gridlab tune` (trial '
             f'{best.number}: objective {best.value:.6g}); use with gridlab train --config',
             f'agent = "{asked["agent"]}"', f'task = "{asked["task"]}"',
             f'steps = {asked["steps"]}', '', '[hyperparameters]']
    lines += [f'{name} = {_toml(value)}' for name, value in best.params.items()]
    files.atomic_write_text(out / 'best.toml', '\n'.join(lines) + '\n')
    _plots(out, study, len(complete))
    from gridlab.viz import report
    report.write_tune_report(out, rows, best.params, best.value, states, asked['metric'])
    return TuneResult(out, dict(best.params), float(best.value), states, rows)


def _toml(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'
    return repr(value)


def _plots(out: pathlib.Path, study, complete: int) -> None:
    """Optuna's history and (with two or more finished trials) importance plots."""
    import warnings
    import matplotlib
    matplotlib.use('Agg')
    from optuna.visualization import matplotlib as plots
    # rc_context: Optuna's plots switch matplotlib to its ggplot style, which
    # would otherwise stay on for every later figure of this process.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter('ignore')  # Optuna marks these plots experimental.
        figures = {'history.png': plots.plot_optimization_history}
        if complete >= 2 and len(study.best_trial.params) >= 1:
            figures['importance.png'] = plots.plot_param_importances
        for name, plot in figures.items():
            try:
                axes = plot(study)
            except (ValueError, RuntimeError):  # E.g. every trial the same value.
                continue
            with files.atomic_path(out / name) as tmp:
                axes.figure.savefig(tmp, dpi=100, bbox_inches='tight')
            matplotlib.pyplot.close(axes.figure)
