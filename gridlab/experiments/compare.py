"""Comparing agents over many runs: a sweep folder or any set of run folders.

    gridlab compare sweeps/tabular            # or: gridlab compare runs/a runs/b ...

Each run's score is its final greedy mean return. Per agent (an agent with
other hyperparameters counts as another agent, named `agent[name=value]`)
and task, `aggregate.csv` holds the mean, median and interquartile mean with
stratified bootstrap intervals, and the probability of improvement between
every pair of agents (Agarwal et al., 2021; `gridlab.analysis.stats`). Across tasks,
scores are normalised so that 0 is a return of 0 and 1 is the task's
reference: the goal reward on a GridWorld task (reaching the goal without a
penalty), the `reward_threshold` of a Gymnasium task, and otherwise the best
return any run reached on that task. The plots (`intervals.png`,
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
from gridlab.experiments import results
from gridlab.core.errors import ExperimentError
from gridlab.envs.catalogue import is_gymnasium_task

AGGREGATE_COLUMNS = ('agent', 'task', 'metric', 'estimate', 'low', 'high')
COMPARISON_FILES = ('aggregate.csv', 'intervals.png', 'profiles.png', 'curves.png')


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


def _score(row: Dict[str, Any]) -> Optional[float]:
    try:
        return float(row['mean_return'])
    except (KeyError, TypeError, ValueError):
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
    return {'agent': config['agent'], 'task': config['task'], 'seed': config['seed'],
            'hyperparameters': tag, 'status': summary.get('status'),
            'mean_return': evaluation.get('mean_return'),
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
    """(low, high, why) for normalising `task`'s returns."""
    from gridlab.envs.tasks import TASKS, build_gridworld_task
    if task in TASKS:
        return 0., float(build_gridworld_task(task).layout.max()), 'goal reward'
    if is_gymnasium_task(task):
        import gymnasium
        threshold = gymnasium.spec(task).reward_threshold
        if threshold:
            return 0., float(threshold), 'reward_threshold'
    best = max(row['mean_return'] for row in rows if row['task'] == task)
    return 0., (best if best > 0 else 1.), 'best run'


def write_comparison(out, rows: Iterable[Dict[str, Any]], *, reps: int = 2_000,
                     seed: int = 0) -> pathlib.Path:
    """Writes aggregate.csv and the comparison plots into `out`; returns the CSV.

    The earlier comparison's files go first, whatever happens next. Runs
    with a non-finite score are left out with a CompareWarning; two runs of
    one agent, settings, task and seed are refused (CompareError).
    """
    from gridlab.analysis import stats
    from gridlab.experiments import aggregates
    out = pathlib.Path(out)
    remove_comparison(out)
    completed = [row for row in rows if row.get('status') == 'completed'
                 and row.get('mean_return') is not None]
    done, dropped = [], []
    for row in completed:
        score = _score(row)
        if score is None or not math.isfinite(score):
            dropped.append(row)
        else:
            done.append(dict(row, agent=label(row), score=score))
    if dropped:
        warnings.warn(CompareWarning(
            f'left out {len(dropped)} completed run{"s" * (len(dropped) > 1)} whose '
            f'score (mean_return) is not a finite number: {_where(dropped[0])} has '
            f'{dropped[0]["mean_return"]!r}' + (' and others' if len(dropped) > 1
                                                  else '')), stacklevel=2)
    if not done:
        raise CompareError('no completed runs with a finite score to compare'
                           if dropped else 'no completed runs to compare')
    _refuse_repeated_runs(done)
    tasks = sorted({row['task'] for row in done})
    references = {task: _reference(task, done) for task in tasks}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', stats.SingleRunWarning)
        per_task = aggregates.aggregate_rows(done, reps=reps, seed=seed)
        rows_out = [row for row in per_task if row['task'] != aggregates.ALL_TASKS]
        if len(tasks) > 1:
            normalised = aggregates.aggregate_rows(
                done, reps=reps, seed=seed, improvement=False,
                normalize={task: references[task][:2] for task in tasks})
            rows_out += [dict(row, metric=f'normalised_{row["metric"]}')
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
    if scores:
        title = ('normalised score (1 = ' + ', '.join(
            sorted({why for _, _, why in references.values()})) + ')')
        intervals = stats.interval_estimates(scores, reps=reps, seed=seed)
        _save(statistics.plot_interval_estimates(intervals, xlabel=title), out / 'intervals.png')
        profiles = stats.performance_profiles(scores, reps=min(reps, 500), seed=seed)
        _save(statistics.plot_performance_profiles(profiles, xlabel=f'threshold on {title}'),
              out / 'profiles.png')
    curves_path = out / 'curves.csv'
    if curves_path.is_file():
        curves, steps = _read_curves(curves_path)
        if curves:
            _save(statistics.plot_learning_curves(curves, steps, reps=min(reps, 500), seed=seed,
                                                  ylabel='mean return of the last 10 episodes'),
                  out / 'curves.png')


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


def compare(paths: Sequence, out=None) -> pathlib.Path:
    """`gridlab compare`: aggregate.csv and plots for a sweep or run folders."""
    rows = collect(paths)
    if out is None:
        out = pathlib.Path(paths[0]) if len(paths) == 1 else pathlib.Path('.')
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return write_comparison(out, rows)


def format_table(path) -> str:
    """aggregate.csv as aligned text for the terminal."""
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    lines = [f'{"agent":<28} {"task":<14} {"metric":<44} {"estimate":>9}  interval']
    for row in rows:
        lines.append(f'{row["agent"][:28]:<28} {row["task"][:14]:<14} '
                     f'{row["metric"][:44]:<44} {float(row["estimate"]):>9.3f}  '
                     f'[{float(row["low"]):.3f}, {float(row["high"]):.3f}]')
    return '\n'.join(lines) + f'\n(written to {path})'
