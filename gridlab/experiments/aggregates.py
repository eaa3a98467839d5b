"""A results table (one row per run) as the rows of aggregate.csv.

`scores_from_results` groups per-run rows (agent, task, seed, score) into
agent -> task -> run scores; `aggregate_rows` turns them into the rows of
aggregate.csv: per agent and task each metric with its bootstrap interval,
per agent across tasks (task 'all'), and the probability that one agent's
run beats another's. The estimators are `gridlab.analysis.stats`'s; this
module only knows how a table of runs maps onto them.
"""

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from gridlab.analysis import stats
from gridlab.analysis.stats import DEFAULT_METRICS, DEFAULT_REPS, Interval

ALL_TASKS = 'all'  # The `task` of rows that aggregate over every task.
IMPROVEMENT_METRIC = 'probability_of_improvement_over:'


def _seed_order(seed: Any):
    """Sorts seeds 2 before 10 whether they were read as ints or strings."""
    try:
        return 0, int(seed), ''
    except (TypeError, ValueError):
        return 1, 0, str(seed)


def scores_from_results(results: Iterable[Mapping[str, Any]], *,
                        score_key: str = 'score',
                        normalize: Optional[Mapping[str, Tuple[float, float]]]
                        = None) -> Dict[str, Dict[str, np.ndarray]]:
    """Groups per-run rows into agent -> task -> scores (ordered by seed).

    Args:
        results: rows with keys 'agent', 'task', 'seed' and `score_key`
            (numbers or numeric strings, e.g. read from a CSV file).
        score_key: the column holding each run's score.
        normalize: optional task -> (low, high); scores become
            (score - low) / (high - low), e.g. 0 for random, 1 for optimal,
            so tasks with different return scales can be aggregated.

    Agents and tasks keep the order they first appear in.
    """
    grouped: Dict[str, Dict[str, Dict[Any, float]]] = {}
    for i, row in enumerate(results):
        missing = [k for k in ('agent', 'task', 'seed', score_key)
                   if k not in row]
        if missing:
            raise ValueError(f'results row {i} lacks {missing}; every row needs '
                             f"'agent', 'task', 'seed' and {score_key!r}")
        agent, task, seed = str(row['agent']), str(row['task']), row['seed']
        try:
            score = float(row[score_key])
        except (TypeError, ValueError):
            raise ValueError(
                f'results row {i} ({agent}, {task}, seed {seed}): {score_key} '
                f'must be a number, got {row[score_key]!r}') from None
        if not math.isfinite(score):
            raise ValueError(
                f'results row {i} ({agent}, {task}, seed {seed}): {score_key} '
                f'must be finite, got {score}')
        if normalize is not None:
            if task not in normalize:
                raise ValueError(f'normalize has no (low, high) for task '
                                 f'{task!r}; it covers {sorted(normalize)}')
            low, high = normalize[task]
            if not high > low:
                raise ValueError(f'normalize[{task!r}] must be (low, high) '
                                 f'with high > low, got {(low, high)!r}')
            score = (score - low) / (high - low)
        runs = grouped.setdefault(agent, {}).setdefault(task, {})
        key = _seed_order(seed)
        if key in runs:
            raise ValueError(f'results hold two runs of agent {agent!r} on '
                             f'task {task!r} with seed {seed!r}; give '
                             'different settings different agent names')
        runs[key] = score
    if not grouped:
        raise ValueError('results is empty; expected one row per run')
    return {agent: {task: np.array([runs[k] for k in sorted(runs)])
                    for task, runs in tasks.items()}
            for agent, tasks in grouped.items()}


def _rows(agent: str, task: str, intervals: Mapping[str, Interval]
          ) -> List[Dict[str, Any]]:
    return [{'agent': agent, 'task': task, 'metric': metric,
             'estimate': interval.estimate, 'low': interval.low, 'high': interval.high}
            for metric, interval in intervals.items()]


def aggregate_rows(results: Iterable[Mapping[str, Any]], *,
                   score_key: str = 'score',
                   metrics: Sequence[str] = DEFAULT_METRICS,
                   reps: int = DEFAULT_REPS, confidence: float = 0.95,
                   seed: int = 0, gamma: float = 1.0,
                   normalize: Optional[Mapping[str, Tuple[float, float]]]
                   = None,
                   improvement: bool = True,
                   lower_is_better: bool = False) -> List[Dict[str, Any]]:
    """Rows for aggregate.csv: agent, task, metric, estimate, low, high.

    Per agent and task: each metric over that task's runs (the median is the
    median of the runs) with a bootstrap interval over runs. Per agent, when
    it ran two or more tasks, a row with task 'all' per metric, with rliable's
    across-task definitions and a stratified bootstrap interval.

    With `improvement`, then, for every ordered pair of agents (X, Y): a row
    with agent X and metric 'probability_of_improvement_over:Y' holding
    P(X > Y) per task the two share, and over task 'all' when both ran the
    same two or more tasks.

    Args:
        results: per-run rows with 'agent', 'task', 'seed' and `score_key`.
        score_key, normalize: as in `scores_from_results`.
        metrics: names from 'mean', 'median', 'iqm', 'optimality_gap'.
        reps, confidence, seed, gamma: as in `stats.interval_estimates`.
        improvement: whether to add the probability-of-improvement rows.
        lower_is_better: for scores where less is better (steps to optimal):
            the probability of improvement is then P(X < Y).
    """
    scores = scores_from_results(results, score_key=score_key,
                                 normalize=normalize)
    settings = dict(reps=reps, confidence=confidence, seed=seed, gamma=gamma)
    rows = []
    for agent, tasks in scores.items():
        for task, runs in tasks.items():
            rows.extend(_rows(agent, task, stats.run_interval_estimates(
                runs, metrics, key=(agent, task), **settings)))
        if len(tasks) > 1:
            # Tasks by name: the bootstrap draws must not follow row order.
            by_name = {task: tasks[task] for task in sorted(tasks)}
            rows.extend(_rows(agent, ALL_TASKS, stats.interval_estimates(
                {agent: by_name}, metrics, **settings)[agent]))
    if improvement:
        sign = -1. if lower_is_better else 1.
        rows.extend(_improvement_rows(
            {agent: {task: sign * runs for task, runs in tasks.items()}
             for agent, tasks in scores.items()}, reps, confidence, seed))
    return rows


def _improvement_rows(scores, reps, confidence, seed) -> List[Dict[str, Any]]:
    rows = []
    for x, x_tasks in scores.items():
        for y, y_tasks in scores.items():
            if x == y:
                continue
            metric = IMPROVEMENT_METRIC + y
            shared = sorted(t for t in x_tasks if t in y_tasks)
            groups = [(t, [t]) for t in shared]
            if len(shared) > 1 and set(x_tasks) == set(y_tasks):
                groups.append((ALL_TASKS, shared))
            for task, names in groups:
                interval = stats.probability_of_improvement_interval(
                    {t: x_tasks[t] for t in names}, {t: y_tasks[t] for t in names},
                    reps=reps, confidence=confidence, seed=seed, key=(x, y, task))
                rows.extend(_rows(x, task, {metric: interval}))
    return rows
