"""Comparing agents over many runs: a sweep folder or any set of run folders.

    gridlab compare sweeps/tabular            # or: gridlab compare runs/a runs/b ...
    gridlab compare sweeps/tabular --metric optimal_fraction

Each run's score is one number, its `metric` (`METRICS`): by default `auc`,
the area under its learning curve per step (the mean, over the step grid
every run of the task covers, of the mean return of its last 10 episodes),
which tells a fast learner from a slow one where the final greedy return
(`mean_return`) saturates at the goal's reward; or any numeric column of
results.csv. For the columns where less is better (steps, seconds,
std_return, steps_to_optimal), the probability of improvement is that of a
lower value, and a run that never became optimal counts as taking its
whole budget (steps_to_optimal) or time (seconds_to_optimal). Per agent (an agent with
other hyperparameters counts as another agent, named `agent[name=value]`)
and task, `aggregate.csv` holds the mean, median and interquartile mean with
stratified bootstrap intervals, and the probability of improvement between
every pair of agents (Agarwal et al., 2021; `gridlab.analysis.stats`). Across tasks,
returns (mean_return, auc) are normalised so that 0 is a return of 0 and 1 is
the task's reference: the goal reward on a GridWorld task (reaching the goal
without a penalty), the `reward_threshold` of a Gymnasium task, and otherwise
the best return any run reached on that task; fractions (success_rate,
optimal_fraction) are already on [0, 1]; the other metrics have no across-task
rows or score plots. The plots (`intervals.png`,
`profiles.png`, `curves.png`) go beside it.

A run whose score is not a finite number (NaN, say) is left out with a
`CompareWarning` naming it. The files of an earlier comparison are removed
before a new one is computed, so a comparison that fails leaves none that
looks current. Where every group has one run, intervals are undefined: their
bounds are NaN (see `gridlab.analysis.stats`), said once in a CompareWarning.
"""

import csv
import json
import math
import pathlib
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from gridlab.core import files
from gridlab.experiments import aggregates, results
from gridlab.core.errors import ExperimentError
from gridlab.envs.catalogue import is_gymnasium_task

# `score`: which number of each run the statistics are of (`METRICS`).
AGGREGATE_COLUMNS = ('agent', 'task', 'score', 'metric', 'estimate', 'low', 'high')
COMPARISON_FILES = ('aggregate.csv', 'intervals.png', 'profiles.png', 'curves.png')
# metric -> its kind: 'return' (normalised by the task's reference across
# tasks), 'fraction' (on [0, 1] already) or 'lower' (less is better).
METRICS = {'auc': 'return', 'mean_return': 'return', 'success_rate': 'fraction',
           'optimal_fraction': 'fraction', 'std_return': 'lower', 'steps': 'lower',
           'seconds': 'lower', 'steps_to_optimal': 'lower',
           'seconds_to_optimal': 'lower'}
DEFAULT_METRIC = 'auc'
# A run that never became optimal took at least its whole budget.
_CENSORED_AT = {'steps_to_optimal': 'steps', 'seconds_to_optimal': 'seconds'}


class CompareError(ExperimentError):
    """Nothing comparable where `gridlab compare` was pointed."""


class CompareWarning(UserWarning):
    """Something left out of, or undefined in, a comparison (one line each)."""


def remove_comparison(out) -> None:
    """Removes the files an earlier comparison wrote into `out`."""
    for name in COMPARISON_FILES:
        try:
            (pathlib.Path(out) / name).unlink()
        except FileNotFoundError:
            pass


def check_metric(metric) -> str:
    if metric not in METRICS:
        raise CompareError(f'metric must be one of {", ".join(METRICS)}, got {metric!r}')
    return metric


def _score(row: Dict[str, Any], metric: str) -> Optional[float]:
    value = row.get(metric)
    if value in (None, '') and metric in _CENSORED_AT:
        value = row.get(_CENSORED_AT[metric])
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def with_auc(rows: List[Dict[str, Any]], curves_csv: Optional[pathlib.Path] = None
             ) -> List[Dict[str, Any]]:
    """`rows` with each run's `auc`: the mean of its learning curve over the
    steps that every run of its task covers (None where there are none).

    The curves come from `curves_csv` (a sweep's, on one grid) if given, else
    from each run folder's episodes.csv on a grid up to the task's longest run.
    """
    from gridlab.experiments import run_folder
    if curves_csv is not None and curves_csv.is_file():
        points: Dict[tuple, Dict[int, float]] = {}
        with open(curves_csv, newline='') as f:
            for row in csv.DictReader(f):
                key = (label(row), row['task'], str(row['seed']))
                points.setdefault(key, {})[int(row['step'])] = float(row['mean_return'])
        curves = {id(row): points.get((label(row), row['task'], str(row['seed'])), {})
                  for row in rows}
    else:
        horizons: Dict[str, int] = {}
        for row in rows:
            steps = _number(row.get('steps'))
            horizons[row['task']] = max(horizons.get(row['task'], 0), int(steps or 0))
        curves = {}
        for row in rows:
            grid = run_folder.curve_grid(horizons[row['task']]) if horizons[row['task']] \
                else []
            curve = run_folder.learning_curve(pathlib.Path(row['directory']), grid) \
                if row.get('directory') else []
            curves[id(row)] = {s: v for s, v in zip(grid, curve) if v is not None}
    out = []
    for task in dict.fromkeys(row['task'] for row in rows):
        runs = [row for row in rows if row['task'] == task]
        covered = set.intersection(*(set(curves[id(row)]) for row in runs))
        for row in runs:
            values = [curves[id(row)][s] for s in sorted(covered)]
            out.append(dict(row, auc=sum(values) / len(values) if values else None))
    return out


def _number(value) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _where(row: Dict[str, Any]) -> str:
    return row.get('directory') or f'{label(row)} on {row["task"]}, seed {row["seed"]}'


def label(row: Dict[str, Any]) -> str:
    """The agent's name, with its hyperparameters unless they are the defaults."""
    tag = row.get('hyperparameters') or 'defaults'
    return row['agent'] if tag == 'defaults' else f'{row["agent"]}[{tag}]'


def _row_from_run(directory: pathlib.Path) -> Optional[Dict[str, Any]]:
    try:
        summary = json.loads((directory / 'summary.json').read_text())
        config = summary['config']
    except (OSError, ValueError, KeyError, TypeError):
        return None
    given = config.get('hyperparameters') or {}
    tag = ','.join(f'{k}={v}' for k, v in sorted(given.items())) or 'defaults'
    evaluation = summary.get('evaluation', {})
    training = summary.get('training', {})
    return {'agent': config['agent'], 'task': config['task'], 'seed': config['seed'],
            'hyperparameters': tag, 'status': summary.get('status'),
            'steps': training.get('steps'), 'seconds': training.get('seconds'),
            **{key: evaluation.get(key) for key in
               ('mean_return', 'std_return', 'success_rate', 'optimal_fraction')},
            'directory': str(directory)}


def collect(paths: Sequence) -> List[Dict[str, Any]]:
    """Per-run rows from a sweep folder (its results.csv) or run folders."""
    paths = [pathlib.Path(p) for p in paths]
    if len(paths) == 1 and (paths[0] / 'results.csv').is_file():
        return results.read_results(paths[0] / 'results.csv')
    rows = []
    for path in paths:
        if not path.is_dir():
            raise CompareError(f'{str(path)!r} is not a folder')
        runs = [path] if (path / 'summary.json').is_file() else sorted(
            summary.parent for summary in path.rglob('summary.json'))
        if not runs:
            raise CompareError(f'{str(path)!r} holds no gridlab run (summary.json) '
                               'and no sweep (results.csv)')
        rows.extend(row for row in map(_row_from_run, runs) if row is not None)
    return rows


def _reference(task: str, rows: List[Dict[str, Any]]) -> Tuple[float, float, str]:
    """(low, high, why) for normalising `task`'s returns (rows' `score`)."""
    from gridlab.envs.tasks import TASKS, build_gridworld_task
    if task in TASKS:
        return 0., float(build_gridworld_task(task).layout.max()), 'goal reward'
    if is_gymnasium_task(task):
        import gymnasium
        threshold = gymnasium.spec(task).reward_threshold
        if threshold:
            return 0., float(threshold), 'reward_threshold'
    best = max(row['score'] for row in rows if row['task'] == task)
    return 0., (best if best > 0 else 1.), 'best run'


def write_comparison(out, rows: Iterable[Dict[str, Any]], *, reps: int = 2_000,
                     seed: int = 0, metric: str = DEFAULT_METRIC,
                     curves_csv: Optional[pathlib.Path] = None) -> pathlib.Path:
    """Writes aggregate.csv and the comparison plots into `out`; returns the CSV.

    Each run's score is its `metric` (see `METRICS`; `auc` from `curves_csv`,
    default `out`/curves.csv, or the run folders). The earlier comparison's
    files go first, whatever happens next. Runs with a non-finite score are
    left out with a CompareWarning; two runs of one agent, settings, task and
    seed are refused (CompareError).
    """
    from gridlab.analysis import stats
    out = pathlib.Path(out)
    check_metric(metric)
    remove_comparison(out)
    completed = [row for row in rows if row.get('status') == 'completed']
    if metric == 'auc':
        completed = with_auc(completed, curves_csv or out / 'curves.csv')
    done, dropped = [], []
    for row in completed:
        score = _score(row, metric)
        if score is None or not math.isfinite(score):
            dropped.append(row)
        else:
            done.append(dict(row, agent=label(row), score=score))
    if dropped:
        warnings.warn(CompareWarning(
            f'left out {len(dropped)} completed run{"s" * (len(dropped) > 1)} whose '
            f'score ({metric}) is not a finite number: {_where(dropped[0])} has '
            f'{dropped[0].get(metric)!r}' + (' and others' if len(dropped) > 1
                                               else '')), stacklevel=2)
    if not done:
        raise CompareError('no completed runs with a finite score to compare'
                           if dropped else 'no completed runs to compare')
    _refuse_repeated_runs(done)
    tasks = sorted({row['task'] for row in done})
    kind = METRICS[metric]
    references = {task: (_reference(task, done) if kind == 'return' else
                         (0., 1., metric)) for task in tasks} if kind != 'lower' else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', stats.SingleRunWarning)
        per_task = aggregates.aggregate_rows(done, reps=reps, seed=seed,
                                             lower_is_better=kind == 'lower')
        rows_out = [dict(row, score=metric) for row in per_task
                    if row['task'] != aggregates.ALL_TASKS]
        if len(tasks) > 1 and references:
            normalised = aggregates.aggregate_rows(
                done, reps=reps, seed=seed, improvement=False,
                normalize={task: references[task][:2] for task in tasks})
            rows_out += [dict(row, score=metric, metric=f'normalised_{row["metric"]}')
                         for row in normalised if row['task'] == aggregates.ALL_TASKS]
        _write_aggregate(out / 'aggregate.csv', rows_out)
        _plots(out, done, references, reps, seed)
    for warning in caught:
        if not issubclass(warning.category, stats.SingleRunWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    if any(issubclass(w.category, stats.SingleRunWarning) for w in caught):
        warnings.warn(CompareWarning(
            'some agents have one run per task, so their intervals are undefined '
            '(low and high are NaN in aggregate.csv); run more seeds for intervals'),
            stacklevel=2)
    return out / 'aggregate.csv'


def _refuse_repeated_runs(done: List[Dict[str, Any]]) -> None:
    seen: Dict[tuple, Dict[str, Any]] = {}
    for row in done:
        key = (row['agent'], row['task'], str(row['seed']))
        other = seen.setdefault(key, row)
        if other is not row:
            raise CompareError(
                f'two runs of {row["agent"]} on {row["task"]} with seed {row["seed"]} '
                f'({_where(other)} and {_where(row)}); compare each run once')


def _write_aggregate(path: pathlib.Path, rows: List[Dict[str, Any]]) -> None:
    import io
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=AGGREGATE_COLUMNS, extrasaction='ignore',
                            lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f'{row[k]:.6g}' if isinstance(row[k], float) else row[k])
                         for k in AGGREGATE_COLUMNS})
    files.atomic_write_text(path, buffer.getvalue())


def _save(figure, path: pathlib.Path) -> None:
    with files.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches='tight')


def _plots(out: pathlib.Path, done, references, reps: int, seed: int) -> None:
    """intervals.png, profiles.png and (with curves.csv) curves.png."""
    import numpy as np
    from gridlab.analysis import stats
    from gridlab.viz import statistics
    agents = list(dict.fromkeys(row['agent'] for row in done))
    tasks = sorted(references)
    # Normalised scores, [runs, tasks] per agent (only agents with every task).
    scores = {}
    for agent in agents:
        columns = []
        for task in tasks:
            low, high, _ = references[task]
            values = [(row['score'] - low) / (high - low) for row in done
                      if row['agent'] == agent and row['task'] == task]
            columns.append(values)
        if all(columns) and len({len(c) for c in columns}) == 1:
            scores[agent] = np.array(columns).T
    if scores and references:
        title = ('normalised score (1 = ' + ', '.join(
            sorted({why for _, _, why in references.values()})) + ')')
        intervals = stats.interval_estimates(scores, reps=reps, seed=seed)
        _save(statistics.plot_interval_estimates(intervals, xlabel=title), out / 'intervals.png')
        profiles = stats.performance_profiles(scores, _thresholds(scores),
                                              reps=min(reps, 500), seed=seed)
        _save(statistics.plot_performance_profiles(profiles, xlabel=f'threshold on {title}'),
              out / 'profiles.png')
    curves_path = out / 'curves.csv'
    if curves_path.is_file():
        curves, steps = _read_curves(curves_path)
        if curves:
            _save(statistics.plot_learning_curves(curves, steps, reps=min(reps, 500), seed=seed,
                                                  ylabel='mean return of the last 10 episodes'),
                  out / 'curves.png')


def _thresholds(scores) -> "np.ndarray":
    """Profile thresholds a little past the lowest and highest score, so the
    drop from every run to none is on the plot. From the lowest score to the
    highest, as by default, tied scores (every run 1) are a single threshold
    where no run is above it, and the plot is empty."""
    import numpy as np
    pooled = np.concatenate([np.ravel(s) for s in scores.values()])
    low, high = float(pooled.min()), float(pooled.max())
    margin = 0.05 * (high - low) or 0.05  # Scores are normalised: 1 is the reference.
    return np.linspace(low - margin, high + margin, 101)


def _read_curves(path: pathlib.Path):
    """agent -> [runs, points] from curves.csv, on the grid every run covers."""
    import numpy as np
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    by_run: Dict[tuple, Dict[int, float]] = {}
    for row in rows:
        key = (label(row), row['task'], row['seed'])
        by_run.setdefault(key, {})[int(row['step'])] = float(row['mean_return'])
    if not by_run:
        return {}, []
    steps = sorted(set.intersection(*(set(points) for points in by_run.values())))
    if not steps:
        return {}, []
    curves: Dict[str, list] = {}
    tasks = {task for _, task, _ in by_run}
    for (agent, task, _), points in by_run.items():
        name = agent if len(tasks) == 1 else f'{agent} on {task}'
        curves.setdefault(name, []).append([points[s] for s in steps])
    return {name: np.array(values) for name, values in curves.items()}, steps


def compare(paths: Sequence, out=None, metric: str = DEFAULT_METRIC) -> pathlib.Path:
    """`gridlab compare`: aggregate.csv and plots for a sweep or run folders."""
    check_metric(metric)
    rows = collect(paths)
    sweep_curves = (pathlib.Path(paths[0]) / 'curves.csv' if len(paths) == 1 and
                    (pathlib.Path(paths[0]) / 'results.csv').is_file() else None)
    if out is None:  # The sweep folder (or folder of runs); never a run's own folder.
        single = pathlib.Path(paths[0])
        out = single if len(paths) == 1 and not (single / 'summary.json').is_file() \
            else pathlib.Path('.')
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return write_comparison(out, rows, metric=metric, curves_csv=sweep_curves)


def format_table(path) -> str:
    """aggregate.csv as aligned text for the terminal.

    One table of the statistics (a row per agent and task, a column per
    metric), then the probability of improvement as a matrix per task: the
    row agent's chance to beat the column agent's (agents numbered, so that
    long names with their settings fit).
    """
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    agents = list(dict.fromkeys(row['agent'] for row in rows))
    number = {agent: i + 1 for i, agent in enumerate(agents)}
    score = rows[0].get('score', 'score') if rows else 'score'
    lines = [f'score: {score}', 'agents:']
    lines += [f'  {number[agent]:>2}  {agent}' for agent in agents]
    statistics = [row for row in rows
                  if not row['metric'].startswith(aggregates.IMPROVEMENT_METRIC)]
    per_task = [row for row in statistics if row['task'] != aggregates.ALL_TASKS]
    across = [row for row in statistics if row['task'] == aggregates.ALL_TASKS]
    for title, group in (('per task', per_task),
                         ('across tasks (normalised scores)', across)):
        if group:
            lines += ['', f'{title}:'] + _statistics_table(group, number)
    improvements = [row for row in rows if row['metric'].startswith(
        aggregates.IMPROVEMENT_METRIC)]
    for task in dict.fromkeys(row['task'] for row in improvements):
        beats = {(row['agent'], row['metric'][len(aggregates.IMPROVEMENT_METRIC):]):
                 float(row['estimate']) for row in improvements if row['task'] == task}
        shown = [a for a in agents if any(a in pair for pair in beats)]
        lines.append('')
        lines.append(f'P(row beats column) on {task}:')
        lines.append('     ' + ''.join(f'{number[a]:>7}' for a in shown))
        for x in shown:
            lines.append(f'{number[x]:>5}' + ''.join(
                f'{beats[x, y]:>7.3f}' if (x, y) in beats else f'{"-":>7}'
                for y in shown))
    return '\n'.join(lines) + f'\n(written to {path})'


def _statistics_table(rows: List[Dict[str, Any]], number: Dict[str, int]) -> List[str]:
    """A row per agent and task, a column per metric: estimate [low, high],
    each column as wide as its widest cell."""
    metrics = list(dict.fromkeys(row['metric'] for row in rows))
    keys = list(dict.fromkeys((row['agent'], row['task']) for row in rows))
    cells = {(row['agent'], row['task'], row['metric']):
             f'{_short(row["estimate"])} [{_short(row["low"])}, {_short(row["high"])}]'
             for row in rows}
    widths = {m: max([len(m)] + [len(cells.get((a, t, m), '')) for a, t in keys]) + 2
              for m in metrics}
    lines = [(f'{"agent":>5}  {"task":<12}' +
              ''.join(f'{m:<{widths[m]}}' for m in metrics)).rstrip()]
    for agent, task in keys:
        lines.append((f'{number[agent]:>5}  {task[:12]:<12}' + ''.join(
            f'{cells.get((agent, task, m), ""):<{widths[m]}}' for m in metrics)).rstrip())
    return lines


def _short(value) -> str:
    """A number in a few characters: 3 decimals below 100, 1 below 1,000,
    whole above."""
    number = float(value)
    if abs(number) >= 1000:
        return f'{number:,.0f}'
    return f'{number:.1f}' if abs(number) >= 100 else f'{number:.3f}'
