"""Aggregate statistics over many runs, after Agarwal et al. (NeurIPS 2021).

"Deep Reinforcement Learning at the Edge of the Statistical Precipice" asks for
interval estimates instead of point estimates over a handful of seeds. This
module gives its estimators with the definitions of the authors' `rliable`
library, written with numpy alone:

- mean: the mean over tasks of each task's mean score;
- median: the median over tasks of each task's mean score;
- iqm: the interquartile mean, scipy's `trim_mean(x, 0.25)` of every run's
  score on every task pooled together (the middle half of the runs);
- optimality_gap: `gamma` minus the mean of the scores clipped at `gamma`;
- probability of improvement P(X > Y): for each task the Mann-Whitney U
  statistic divided by the number of run pairs (ties count 1/2), averaged
  over tasks;
- performance profiles: the fraction of runs whose score exceeds tau;
- stratified bootstrap percentile intervals: each replicate resamples the runs
  of every task separately, with replacement, and keeps the task set fixed.

Scores come as in rliable: a dict agent -> array [num_runs, num_tasks]. An
agent's scores may also be a dict task -> 1-D array of run scores, as
`gridlab.experiments.aggregates.scores_from_results` makes them from a
results table, which lets tasks have different numbers of
runs (a failed seed); tasks then weigh equally in the mean, median,
optimality gap and profile, and the IQM pools every run. With equal run
counts both forms give rliable's numbers.

    scores = {'dqn': dqn_scores, 'nfq': nfq_scores}      # [runs, tasks] each
    intervals = interval_estimates(scores, reps=50_000, seed=0)
    intervals['dqn']['iqm']       # Interval(estimate=..., low=..., high=...)
    probability_of_improvement_interval(scores['dqn'], scores['nfq'])

One run is not a sample to resample: where every task has a single run
(one seed), every bootstrap replicate equals the estimate and the
percentile "interval" has zero width, which reads as certainty. rliable
reports that zero-width interval silently; here its bounds are NaN instead
(the estimate stays) and a `SingleRunWarning` says so. The same holds for
probability of improvement (both agents with one run per task), performance
profiles and learning-curve bands. A task with two or more runs gives a
real interval, even beside tasks with one.

Bootstrap draws come from a numpy Generator seeded with `seed` and the agent
(and task) names, so an agent's interval does not change when another agent
joins the comparison. Numpy only: the plots of these are in
`gridlab.viz.statistics`, the rows of aggregate.csv in
`gridlab.experiments.aggregates`.
"""

import dataclasses
import math
import numbers
import warnings
import zlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from gridlab.core import bootstrap

# rliable's defaults: 50,000 replicates for intervals, 2,000 for profiles.
DEFAULT_REPS = 50_000
DEFAULT_PROFILE_REPS = 2_000
DEFAULT_CURVE_REPS = 2_000
DEFAULT_METRICS = ('mean', 'median', 'iqm')

Scores = Union[np.ndarray, Mapping[str, np.ndarray]]
TaskScores = List[np.ndarray]  # One 1-D array of run scores per task.


class SingleRunWarning(UserWarning):
    """An interval asked of one run per task: its bounds are NaN."""


def _single_run(tasks: Sequence[np.ndarray], what: str) -> bool:
    """Whether every task has one run (then warns: the bounds will be NaN)."""
    if all(len(task) == 1 for task in tasks):
        warnings.warn(SingleRunWarning(
            f'{what}: one run per task, so the bootstrap has nothing to resample; '
            'low and high are NaN (an interval needs two or more runs)'),
            stacklevel=3)
        return True
    return False


def _nan_like(values) -> Any:
    return np.full_like(np.asarray(values, dtype=np.float64), np.nan)


@dataclasses.dataclass(frozen=True)
class Interval:
    """A point estimate with the bounds of its confidence interval."""
    estimate: float
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class Profile:
    """A performance profile: fraction of runs with score > tau, per tau."""
    taus: np.ndarray
    fraction: np.ndarray
    low: np.ndarray
    high: np.ndarray


# ----------------------------------------------------------------- validation

def _task_arrays(scores: Any, name: str) -> Tuple[Optional[List[str]], list]:
    """Splits `scores` into per-task run arrays, with task names if given."""
    if isinstance(scores, Mapping):
        return [str(task) for task in scores], list(scores.values())
    if isinstance(scores, (str, bytes)) or not hasattr(scores, '__len__'):
        raise TypeError(
            f'{name} must be an array [num_runs, num_tasks] or a dict task -> '
            f'1-D array of run scores, got {type(scores).__name__}')
    try:
        array = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f'{name}: scores must be numbers in an array '
                        f'[num_runs, num_tasks] ({error})') from None
    if array.ndim != 2:
        raise ValueError(
            f'{name} must be an array [num_runs, num_tasks] (or a dict task '
            f'-> 1-D array of run scores), got shape {array.shape}')
    return None, [array[:, m] for m in range(array.shape[1])]


def _as_task_scores(scores: Any, name: str = 'scores') -> TaskScores:
    """Returns `scores` as a list of finite float 1-D arrays, one per task."""
    return _named_task_scores(scores, name)[1]


def _named_task_scores(scores: Any, name: str = 'scores'):
    names, tasks = _task_arrays(scores, name)
    if not tasks:
        raise ValueError(f'{name} has no tasks; expected at least one')
    checked = []
    for m, task in enumerate(tasks):
        label = f'task {names[m]!r}' if names else f'task {m}'
        try:
            task = np.asarray(task, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f'{name}, {label}: scores must be numbers '
                            f'({error})') from None
        if task.ndim != 1:
            raise ValueError(f'{name}, {label}: expected a 1-D array of run '
                             f'scores, got shape {task.shape}')
        if task.size == 0:
            raise ValueError(f'{name}, {label}: no runs; expected at least '
                             'one score per task')
        if not np.all(np.isfinite(task)):
            raise ValueError(f'{name}, {label}: scores must be finite, got '
                             f'{task[~np.isfinite(task)][:3].tolist()}')
        checked.append(task)
    return names, checked


def _check_score_dict(score_dict: Mapping[str, Scores]) -> Dict[str, TaskScores]:
    if not isinstance(score_dict, Mapping):
        raise TypeError('score_dict must map agent names to scores, got '
                        f'{type(score_dict).__name__}')
    if not score_dict:
        raise ValueError('score_dict is empty; expected at least one agent')
    return {agent: _as_task_scores(scores, f'scores of {agent!r}')
            for agent, scores in score_dict.items()}


def _check_reps(reps: Any, name: str = 'reps') -> int:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) \
            or reps < 1:
        raise ValueError(f'{name} must be an integer >= 1, got {reps!r}')
    return int(reps)


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(
            confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError('confidence must be a number strictly between 0 and '
                         f'1 (e.g. 0.95), got {confidence!r}')
    return float(confidence)


def _check_gamma(gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) \
            or not math.isfinite(gamma):
        raise ValueError('gamma (the optimality gap\'s threshold) must be a finite '
                         f'number such as 1.0, got {gamma!r}')
    return float(gamma)


def _check_metrics(metrics: Sequence[str]) -> Tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    if not metrics:
        raise ValueError('metrics is empty; expected names from '
                         f'{sorted(_ACROSS_TASKS)}')
    unknown = [m for m in metrics if m not in _ACROSS_TASKS]
    if unknown:
        raise ValueError(f'unknown metrics {unknown}; expected names from '
                         f'{sorted(_ACROSS_TASKS)}')
    return metrics


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A Generator for one bootstrap, keyed by the seed and the names."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise ValueError(f'seed must be an integer >= 0, got {seed!r}')
    keys = [zlib.crc32(str(name).encode('utf-8')) for name in names]
    return np.random.default_rng([int(seed), *keys])


# ----------------------------------------------------------- batched metrics
# Each takes a list of per-task arrays shaped [batch, runs, ...] and reduces
# the runs axis (1) and the tasks, returning [batch, ...]. The batch axis holds
# bootstrap replicates; point estimates use a batch of one.

def _trimmed_mean(x: np.ndarray, proportion: float = 0.25) -> np.ndarray:
    """scipy.stats.trim_mean along axis 1: drops int(proportion * n) per end."""
    n = x.shape[1]
    cut = int(proportion * n)
    return np.sort(x, axis=1)[:, cut:n - cut].mean(axis=1)


def _task_means(tasks: List[np.ndarray]) -> np.ndarray:
    return np.stack([t.mean(axis=1) for t in tasks], axis=1)


def _mean(tasks):
    return _task_means(tasks).mean(axis=1)


def _median(tasks):
    return np.median(_task_means(tasks), axis=1)


def _iqm(tasks):
    return _trimmed_mean(np.concatenate(tasks, axis=1))


def _optimality_gap(tasks, gamma: float = 1.0):
    clipped = [np.minimum(t, gamma) for t in tasks]
    return gamma - _task_means(clipped).mean(axis=1)


def _median_of_runs(tasks):
    return np.median(np.concatenate(tasks, axis=1), axis=1)


# Across tasks: rliable's aggregate_* definitions.
_ACROSS_TASKS = {'mean': _mean, 'median': _median, 'iqm': _iqm,
                 'optimality_gap': _optimality_gap}
# Within one task the median is over runs (across tasks, rliable's median of
# task means would be one task's mean again).
_WITHIN_TASK = dict(_ACROSS_TASKS, median=_median_of_runs)


def _pair_wins(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[len(x), len(y)]: 1 where x_i > y_j, 1/2 where they tie, else 0."""
    return (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])


def _improvement_from_counts(wins: List[np.ndarray], x_counts, y_counts):
    """P(X > Y) per replicate from how often each run was drawn.

    A resample that draws run i of X c_i times and run j of Y d_j times holds
    c_i * d_j copies of the pair (i, j), so its pair average is c W d / (n m):
    one matrix product instead of comparing every drawn pair.
    """
    per_task = [np.einsum('bi,ij,bj->b', c, w, d, optimize=True) / w.size
                for w, c, d in zip(wins, x_counts, y_counts)]
    return np.mean(per_task, axis=0)


# ------------------------------------------------------------------ bootstrap
# The stratified percentile bootstrap itself is gridlab.core.bootstrap's.

def _draw_counts(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """[size, n]: how often each of n runs is drawn in n draws with replacement.

    Draws the same indices as `bootstrap.resample` would and counts them.
    """
    indices = rng.integers(0, n, size=(size, n))
    offsets = np.arange(size)[:, None] * n
    return np.bincount((indices + offsets).ravel(),
                       minlength=size * n).reshape(size, n).astype(np.float64)


def _bootstrap_improvement(xs: List[np.ndarray], ys: List[np.ndarray],
                           reps: int, confidence: float,
                           rng: np.random.Generator):
    """P(X > Y) and its interval; X's and Y's runs resampled independently."""
    wins = [_pair_wins(x, y) for x, y in zip(xs, ys)]
    # The sample itself draws every run once.
    estimate = _improvement_from_counts(
        wins, [np.ones((1, len(x))) for x in xs],
        [np.ones((1, len(y))) for y in ys])[0]
    replicates = []
    for size in bootstrap.chunk_sizes(reps, sum(len(x) + len(y) for x, y in zip(xs, ys))):
        x_counts = [_draw_counts(len(x), size, rng) for x in xs]
        y_counts = [_draw_counts(len(y), size, rng) for y in ys]
        replicates.append(_improvement_from_counts(wins, x_counts, y_counts))
    low, high = bootstrap.percentile_interval(np.concatenate(replicates), confidence)
    return estimate, low, high


# --------------------------------------------------------------- estimators

def aggregate_mean(scores: Scores) -> float:
    """The mean over tasks of each task's mean score."""
    return float(_mean([t[None] for t in _as_task_scores(scores)])[0])


def aggregate_median(scores: Scores) -> float:
    """The median over tasks of each task's mean score."""
    return float(_median([t[None] for t in _as_task_scores(scores)])[0])


def aggregate_iqm(scores: Scores) -> float:
    """The interquartile mean of all runs on all tasks, pooled (25 % trimmed)."""
    return float(_iqm([t[None] for t in _as_task_scores(scores)])[0])


def aggregate_optimality_gap(scores: Scores, gamma: float = 1.0) -> float:
    """How far scores fall short of `gamma`: gamma - mean(min(score, gamma))."""
    tasks = _as_task_scores(scores)
    gamma = _check_gamma(gamma)
    return float(_optimality_gap([t[None] for t in tasks], gamma)[0])


def _check_pair(scores_x: Scores, scores_y: Scores):
    x_names, xs = _named_task_scores(scores_x, 'scores_x')
    y_names, ys = _named_task_scores(scores_y, 'scores_y')
    if (x_names is None) != (y_names is None):
        raise TypeError('scores_x and scores_y must both be arrays [num_runs, '
                        'num_tasks] or both dicts task -> run scores')
    if x_names is not None:
        if set(x_names) != set(y_names):
            raise ValueError(
                f'scores_x has tasks {x_names} and scores_y {y_names}; '
                'probability of improvement compares the same tasks')
        ys = [ys[y_names.index(task)] for task in x_names]
    if len(xs) != len(ys):
        raise ValueError(
            f'scores_x has {len(xs)} tasks and scores_y {len(ys)}; probability '
            'of improvement compares the same tasks')
    return xs, ys


def probability_of_improvement(scores_x: Scores, scores_y: Scores) -> float:
    """P(X > Y): the chance a run of X beats a run of Y on the same task.

    For each task, the fraction of (x run, y run) pairs with x > y, ties
    counting one half (the Mann-Whitney U statistic over the number of
    pairs), averaged over tasks. Runs may differ in number between X and Y.
    """
    xs, ys = _check_pair(scores_x, scores_y)
    return float(np.mean([_pair_wins(x, y).mean() for x, y in zip(xs, ys)]))


def interval_estimates(score_dict: Mapping[str, Scores],
                       metrics: Sequence[str] = DEFAULT_METRICS, *,
                       reps: int = DEFAULT_REPS, confidence: float = 0.95,
                       seed: int = 0, gamma: float = 1.0
                       ) -> Dict[str, Dict[str, Interval]]:
    """Aggregate metrics per agent with stratified bootstrap intervals.

    Args:
        score_dict: agent -> scores [num_runs, num_tasks] (or task -> runs).
        metrics: names from 'mean', 'median', 'iqm', 'optimality_gap'.
        reps: bootstrap replicates.
        confidence: coverage of the percentile interval.
        seed: seeds the bootstrap (with the agent's name).
        gamma: the threshold of the optimality gap (finite).

    Returns:
        agent -> metric -> Interval; low and high are NaN, with a
        SingleRunWarning, for an agent with one run per task.
    """
    tasks_by_agent = _check_score_dict(score_dict)
    metrics = _check_metrics(metrics)
    reps = _check_reps(reps)
    confidence = _check_confidence(confidence)
    gamma = _check_gamma(gamma)
    statistic = _metrics_statistic(_ACROSS_TASKS, metrics, gamma)
    return {agent: _intervals(metrics, *_bootstrap_or_nan(
                tasks, statistic, reps, confidence, _rng(seed, agent),
                f'intervals of {agent!r}'))
            for agent, tasks in tasks_by_agent.items()}


def _bootstrap_or_nan(tasks, statistic, reps, confidence, rng, what, **options):
    """bootstrap.bootstrap, with NaN bounds (and a warning) for one run per task."""
    if _single_run(tasks, what):
        estimate = statistic([t[None] for t in tasks])[0]
        return estimate, _nan_like(estimate), _nan_like(estimate)
    return bootstrap.bootstrap(tasks, statistic, reps, confidence, rng, **options)


def run_interval_estimates(runs: Any, metrics: Sequence[str] = DEFAULT_METRICS, *,
                           reps: int = DEFAULT_REPS, confidence: float = 0.95,
                           seed: int = 0, gamma: float = 1.0,
                           key: Sequence[str] = ()) -> Dict[str, Interval]:
    """Metrics over the runs of one task, with bootstrap intervals over the runs.

    Within one task the median is the median of the runs (across tasks,
    rliable's median of task means would be this task's mean again).

    Args:
        runs: 1-D array of run scores.
        metrics, reps, confidence, gamma: as in `interval_estimates`.
        seed, key: seed the bootstrap with the names in `key` (e.g. agent
            and task), so one group's interval keeps its draws whatever
            else is estimated beside it.

    Returns:
        metric -> Interval (low and high NaN, with a SingleRunWarning, for
        one run).
    """
    runs = np.asarray(runs, dtype=np.float64)
    if runs.ndim != 1 or runs.size == 0 or not np.all(np.isfinite(runs)):
        raise ValueError('runs must be a non-empty 1-D array of finite scores, got '
                         f'shape {runs.shape}')
    metrics = _check_metrics(metrics)
    reps = _check_reps(reps)
    confidence = _check_confidence(confidence)
    gamma = _check_gamma(gamma)
    statistic = _metrics_statistic(_WITHIN_TASK, metrics, gamma)
    what = 'intervals' + (f' of {" on ".join(map(str, key))}' if key else '')
    return _intervals(metrics, *_bootstrap_or_nan([runs], statistic, reps, confidence,
                                                  _rng(seed, *key), what))


def _metrics_statistic(table, metrics, gamma):
    """A statistic giving every metric of `table` at once, [batch, metrics]."""
    functions = [table[m] for m in metrics]

    def statistic(tasks):
        return np.stack([f(tasks, gamma) if f is _optimality_gap else f(tasks)
                         for f in functions], axis=-1)
    return statistic


def _intervals(metrics, estimate, low, high) -> Dict[str, Interval]:
    return {m: Interval(float(estimate[i]), float(low[i]), float(high[i]))
            for i, m in enumerate(metrics)}


def probability_of_improvement_interval(scores_x: Scores, scores_y: Scores, *,
                                        reps: int = DEFAULT_REPS,
                                        confidence: float = 0.95,
                                        seed: int = 0,
                                        key: Sequence[str] = ()) -> Interval:
    """P(X > Y) with a stratified bootstrap interval.

    The runs of X and of Y are resampled independently, within each task.
    The draws are seeded by `seed` and the names in `key` (e.g. both agents
    and the task), as in `run_interval_estimates`.
    """
    xs, ys = _check_pair(scores_x, scores_y)
    reps = _check_reps(reps)
    confidence = _check_confidence(confidence)
    estimate, low, high = _bootstrap_improvement(xs, ys, reps, confidence,
                                                 _rng(seed, 'improvement', *key))
    what = 'probability of improvement' + (f' ({", ".join(map(str, key))})'
                                           if key else '')
    if _single_run(list(xs) + list(ys), what):
        low = high = math.nan
    return Interval(float(estimate), float(low), float(high))


def performance_profiles(score_dict: Mapping[str, Scores],
                         taus: Optional[Sequence[float]] = None, *,
                         reps: int = DEFAULT_PROFILE_REPS,
                         confidence: float = 0.95,
                         seed: int = 0) -> Dict[str, Profile]:
    """Fraction of runs with score > tau, per tau, with bootstrap bands.

    Args:
        score_dict: agent -> scores [num_runs, num_tasks] (or task -> runs).
        taus: thresholds; by default 101 points from the lowest to the highest
            score of any agent.
        reps, confidence, seed: as in `interval_estimates`.
    """
    tasks_by_agent = _check_score_dict(score_dict)
    reps = _check_reps(reps)
    confidence = _check_confidence(confidence)
    if taus is None:
        pooled = np.concatenate([np.concatenate(t)
                                 for t in tasks_by_agent.values()])
        taus = np.linspace(pooled.min(), pooled.max(), 101)
    taus = np.asarray(taus, dtype=np.float64)
    if taus.ndim != 1 or taus.size == 0 or not np.all(np.isfinite(taus)):
        raise ValueError('taus must be a non-empty 1-D sequence of finite '
                         f'numbers, got {taus!r}')

    def statistic(tasks):
        # [batch, runs, taus] per task -> fraction per task -> task average.
        return np.mean([(t[..., None] > taus).mean(axis=1) for t in tasks],
                       axis=0)

    profiles = {}
    for agent, tasks in tasks_by_agent.items():
        fraction, low, high = _bootstrap_or_nan(
            tasks, statistic, reps, confidence, _rng(seed, agent),
            f'performance profile of {agent!r}',
            numbers_per_rep=sum(t.size for t in tasks) * taus.size)
        profiles[agent] = Profile(taus.copy(), fraction, low, high)
    return profiles


# ------------------------------------------------------------ learning curves

@dataclasses.dataclass(frozen=True)
class Curve:
    """A learning curve's estimate per step with its interval band."""
    steps: np.ndarray
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _check_curves(curves: Mapping[str, Any], steps: Any):
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError('curves must be a non-empty dict agent -> array '
                         f'[num_runs, num_points], got {curves!r:.80}')
    steps = np.asarray(steps, dtype=np.float64)
    if steps.ndim != 1 or steps.size == 0 or not np.all(np.isfinite(steps)):
        raise ValueError('steps must be a non-empty 1-D array of finite '
                         f'numbers, got shape {steps.shape}')
    checked = {}
    for agent, curve in curves.items():
        curve = np.asarray(curve, dtype=np.float64)
        if curve.ndim != 2 or curve.shape[0] == 0:
            raise ValueError(f'curves[{agent!r}] must be an array [num_runs, '
                             f'num_points] with runs, got shape {curve.shape}')
        if curve.shape[1] != steps.size:
            raise ValueError(
                f'curves[{agent!r}] has {curve.shape[1]} points per run but '
                f'steps has {steps.size}; curves share one step grid')
        if not np.all(np.isfinite(curve)):
            raise ValueError(f'curves[{agent!r}] has NaN or infinite values; '
                             'put every run on the common step grid first')
        checked[agent] = curve
    return checked, steps


def learning_curve_intervals(curves: Mapping[str, Any], steps: Any,
                             metric: str = 'iqm', *,
                             reps: int = DEFAULT_CURVE_REPS,
                             confidence: float = 0.95,
                             seed: int = 0) -> Dict[str, Curve]:
    """Per agent and step, `metric` over runs with a bootstrap band.

    Args:
        curves: agent -> array [num_runs, num_points] on the grid `steps`.
        steps: the common step grid, [num_points].
        metric: 'iqm', 'mean', 'median' (over runs) or 'optimality_gap'.
        reps, confidence, seed: as in `interval_estimates`.
    """
    curves, steps = _check_curves(curves, steps)
    _check_metrics([metric])
    reps = _check_reps(reps)
    confidence = _check_confidence(confidence)
    function = _WITHIN_TASK[metric]
    result = {}
    for agent, curve in curves.items():
        estimate, low, high = _bootstrap_or_nan([curve], function, reps, confidence,
                                                _rng(seed, agent, 'curve'),
                                                f'learning curve of {agent!r}')
        result[agent] = Curve(steps.copy(), estimate, low, high)
    return result
