"""Tests for gridlab.analysis.stats (hand-counted answers, scipy, and rliable itself),
the results-table rows built on it (gridlab.experiments.aggregates) and its plots
(gridlab.viz.statistics)."""

import io
import json
import os
import random
import subprocess
import sys

os.environ.setdefault('MPLBACKEND', 'Agg')

# pylint: disable=wrong-import-position
import numpy as np
import pytest
from conftest import needs
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from gridlab.analysis import stats
from gridlab.experiments import aggregates
from gridlab.viz import statistics

# 4 runs x 3 tasks. Task means 26.5, -7.25, 1. Sorted, the 12 scores are
# -50 0 0 | 0 1 2 3 4 6 | 7 8 100: int(0.25 * 12) = 3 cut from each end.
HAND = np.array([[1., 8., 0.],
                 [2., 7., 0.],
                 [3., 6., 0.],
                 [100., -50., 4.]])


# ------------------------------------------------------------ point estimates

def test_point_estimates_of_a_hand_computed_table():
    assert stats.aggregate_mean(HAND) == pytest.approx((26.5 - 7.25 + 1) / 3)
    assert stats.aggregate_median(HAND) == pytest.approx(1.0)
    # Middle six of the sorted twelve: 0 1 2 3 4 6.
    assert stats.aggregate_iqm(HAND) == pytest.approx(16 / 6)
    # min(score, 1) sums to 4 + (3 - 50) + 1 = -42 over 12 scores.
    assert stats.aggregate_optimality_gap(HAND) == pytest.approx(1 + 42 / 12)
    assert stats.aggregate_optimality_gap(HAND, gamma=5) == pytest.approx(
        5 - (1 + 2 + 3 + 5 + 5 + 5 + 5 - 50 + 0 + 0 + 0 + 4) / 12)


def test_iqm_trims_a_quarter_of_the_runs_rounded_down():
    # Ten runs: int(2.5) = 2 cut per end, leaving 2..7 (not the 1000).
    scores = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 1000]], float).T
    assert stats.aggregate_iqm(scores) == pytest.approx(4.5)
    # Three runs: nothing is cut, the IQM is the mean.
    assert stats.aggregate_iqm([[1.], [2.], [30.]]) == pytest.approx(11.0)


@pytest.mark.parametrize('num_runs', [1, 2, 3, 4, 5, 7, 10, 13])
def test_iqm_equals_scipy_trim_mean_of_all_scores(num_runs):
    scores = np.random.default_rng(num_runs).normal(size=(num_runs, 3))
    assert stats.aggregate_iqm(scores) == pytest.approx(
        needs('scipy.stats', 'stats').trim_mean(scores, proportiontocut=0.25, axis=None))


def test_probability_of_improvement_by_counting_pairs():
    # Task 0: x = 1 3 5 against y = 2 3. Pairs won: (3,2) (5,2) (5,3), tied:
    # (3,3) -> 3.5 of 6. Task 1: x = 0 0 0 against y = 0 1: three ties of six
    # -> 1.5 of 6. Mean over tasks: (3.5 + 1.5) / 12.
    x = {'t0': [1., 3., 5.], 't1': [0., 0., 0.]}
    y = {'t1': [0., 1.], 't0': [2., 3.]}  # Tasks are matched by name.
    assert stats.probability_of_improvement(x, y) == pytest.approx(5 / 12)
    assert stats.probability_of_improvement(y, x) == pytest.approx(7 / 12)
    assert stats.probability_of_improvement(x, x) == pytest.approx(0.5)


def test_probability_of_improvement_needs_the_same_tasks():
    with pytest.raises(ValueError, match="tasks \\['t'\\] and scores_y "
                       "\\['u'\\]"):
        stats.probability_of_improvement({'t': [1.]}, {'u': [1.]})
    with pytest.raises(TypeError, match='both be arrays'):
        stats.probability_of_improvement({'t': [1.]}, [[1.]])


def test_probability_of_improvement_is_mann_whitney_u_over_pairs():
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(size=(8, 3)), 1)  # Rounded, so there are ties.
    y = np.round(rng.normal(size=(5, 3)), 1)
    mannwhitneyu = needs('scipy.stats', 'stats').mannwhitneyu
    expected = np.mean([
        mannwhitneyu(x[:, m], y[:, m],
                                 alternative='greater').statistic / (8 * 5)
        for m in range(3)])
    assert stats.probability_of_improvement(x, y) == pytest.approx(expected)


def test_performance_profile_counts_scores_strictly_above_tau():
    two_tasks = HAND[:, :2]  # 1 2 3 100 | 8 7 6 -50
    profiles = stats.performance_profiles({'a': two_tasks}, [0, 2, 7, 200],
                                          reps=10)
    np.testing.assert_allclose(profiles['a'].fraction,
                               [7 / 8, 5 / 8, 2 / 8, 0])
    np.testing.assert_array_equal(profiles['a'].taus, [0, 2, 7, 200])


def test_ragged_tasks_weigh_tasks_equally_and_pool_runs_for_the_iqm():
    tasks = {'t': np.array([0., 0., 0., 0.]), 'u': np.array([1., 1.])}
    assert stats.aggregate_mean(tasks) == pytest.approx(0.5)  # Not 2/6.
    # Six pooled runs, one cut per end: 0 0 0 1 -> 0.25.
    assert stats.aggregate_iqm(tasks) == pytest.approx(0.25)
    profile = stats.performance_profiles({'a': tasks}, [0.5], reps=10)['a']
    np.testing.assert_allclose(profile.fraction, [0.5])


# ------------------------------------------------------------------ intervals

def test_stratified_bootstrap_keeps_every_task_in_every_resample():
    # Task 0 always scores 0 and task 1 always 1. Resampling runs within tasks
    # keeps the mean at exactly 1/2; pooling runs across tasks would not.
    scores = np.array([[0., 1.]] * 6)
    interval = stats.interval_estimates({'a': scores}, ['mean'], reps=500)
    assert interval['a']['mean'] == stats.Interval(0.5, 0.5, 0.5)


def test_percentile_interval_of_a_two_run_mean():
    # Resampled means of runs {0, 1} are 0, 1/2, 1 with chances 1/4, 1/2, 1/4:
    # the 30th and 70th percentiles are 1/2, the 2.5th is 0, the 97.5th is 1.
    scores = np.array([[0.], [1.]])
    narrow = stats.interval_estimates({'a': scores}, ['mean'], reps=4000,
                                      confidence=0.4)['a']['mean']
    wide = stats.interval_estimates({'a': scores}, ['mean'],
                                    reps=4000)['a']['mean']
    assert (narrow.low, narrow.high) == (0.5, 0.5)
    assert (wide.estimate, wide.low, wide.high) == (0.5, 0.0, 1.0)


def test_mean_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2)
    covered = 0
    experiments = 200
    for i in range(experiments):
        scores = rng.normal(loc=3.0, size=(30, 2))  # True mean 3.
        interval = stats.interval_estimates({'a': scores}, ['mean'],
                                            reps=1000, seed=i)['a']['mean']
        covered += interval.low <= 3.0 <= interval.high
    # Binomial(200, ~0.94): 0.88 and 0.99 lie more than 2.5 sd away.
    assert 0.88 <= covered / experiments <= 0.99


def test_probability_of_improvement_interval_of_separated_agents():
    # Every run of x beats every run of y, in every resample: P = 1 exactly.
    x = np.array([[5., 6.], [7., 8.], [9., 9.]])
    y = np.array([[1., 2.], [3., 4.]])
    assert stats.probability_of_improvement_interval(x, y, reps=300) == \
        stats.Interval(1.0, 1.0, 1.0)


def test_probability_of_improvement_interval_of_one_run_each_side():
    # One run against runs {0, 1}: x = 1/2 beats half of y's pairs; resampling
    # y gives P = 1 (both draws 0), 1/2 or 0 with chances 1/4, 1/2, 1/4.
    x = np.array([[0.5]])
    y = np.array([[0.], [1.]])
    interval = stats.probability_of_improvement_interval(x, y, reps=4000)
    assert interval == stats.Interval(0.5, 0.0, 1.0)


def test_bootstrap_is_seeded_and_each_agent_keeps_its_interval():
    rng = np.random.default_rng(3)
    a, b = rng.random((6, 2)), rng.random((6, 2))
    first = stats.interval_estimates({'a': a}, reps=300, seed=4)
    again = stats.interval_estimates({'a': a, 'b': b}, reps=300, seed=4)
    other = stats.interval_estimates({'a': a}, reps=300, seed=5)
    assert first['a'] == again['a']
    assert first['a']['iqm'] != other['a']['iqm']


# ------------------------------------------------------------------- rliable

@pytest.fixture
def rliable_random_state():
    """rliable draws from np.random's global state: seed it, then restore."""
    state = np.random.get_state()
    np.random.seed(3)
    yield
    np.random.set_state(state)


# Scores on a 0.1 grid (so there are ties) for 3 agents, 10 runs, 4 tasks.
_RNG = np.random.default_rng(7)
FIXED = {name: np.round(_RNG.beta(2 + i, 2, size=(10, 4)), 1)
         for i, name in enumerate(['A', 'B', 'C'])}
# rliable's bootstrap (arch) runs one Python call per replicate: minutes.
REPS = 10_000
# Resampled means of 40 scores on a 0.1 grid move in steps of 0.0025; two
# independent 10,000-replicate bootstraps put a 2.5 % percentile a few steps
# apart at most (its Monte Carlo standard error is about 0.0012 here).
INTERVAL_TOLERANCE = 0.01
# Profile fractions move in steps of 1/40; the two may differ by one step.
PROFILE_TOLERANCE = 1 / 40 + 1e-9


def test_point_estimates_match_rliable():
    metrics = needs('rliable.metrics', 'stats')
    for name, scores in FIXED.items():
        assert stats.aggregate_mean(scores) == pytest.approx(
            metrics.aggregate_mean(scores))
        assert stats.aggregate_median(scores) == pytest.approx(
            metrics.aggregate_median(scores))
        assert stats.aggregate_iqm(scores) == pytest.approx(
            metrics.aggregate_iqm(scores))
        assert stats.aggregate_optimality_gap(scores, 0.8) == pytest.approx(
            metrics.aggregate_optimality_gap(scores, 0.8))
    for x in FIXED:
        for y in FIXED:
            assert stats.probability_of_improvement(
                FIXED[x], FIXED[y][:7]) == pytest.approx(
                    metrics.probability_of_improvement(FIXED[x], FIXED[y][:7]))


@pytest.mark.slow
def test_intervals_match_rliable(rliable_random_state):
    library, metrics = needs('rliable.library', 'stats'), needs('rliable.metrics', 'stats')
    names = ('mean', 'median', 'iqm', 'optimality_gap')

    def aggregates(scores):
        return np.array([metrics.aggregate_mean(scores),
                         metrics.aggregate_median(scores),
                         metrics.aggregate_iqm(scores),
                         metrics.aggregate_optimality_gap(scores)])

    points, intervals = library.get_interval_estimates(FIXED, aggregates,
                                                       reps=REPS)
    ours = stats.interval_estimates(FIXED, names, reps=REPS)
    for name in FIXED:
        np.testing.assert_allclose([ours[name][m].estimate for m in names],
                                   points[name])
        np.testing.assert_allclose([ours[name][m].low for m in names],
                                   intervals[name][0],
                                   atol=INTERVAL_TOLERANCE)
        np.testing.assert_allclose([ours[name][m].high for m in names],
                                   intervals[name][1],
                                   atol=INTERVAL_TOLERANCE)


@pytest.mark.slow
def test_probability_of_improvement_interval_matches_rliable(
        rliable_random_state):
    library, metrics = needs('rliable.library', 'stats'), needs('rliable.metrics', 'stats')
    x, y = FIXED['A'], FIXED['B'][:7]
    points, intervals = library.get_interval_estimates(
        {'A,B': (x, y)}, metrics.probability_of_improvement, reps=REPS)
    ours = stats.probability_of_improvement_interval(x, y, reps=REPS)
    assert ours.estimate == pytest.approx(points['A,B'])
    assert ours.low == pytest.approx(intervals['A,B'][0, 0],
                                     abs=INTERVAL_TOLERANCE)
    assert ours.high == pytest.approx(intervals['A,B'][1, 0],
                                      abs=INTERVAL_TOLERANCE)


@pytest.mark.slow
def test_performance_profiles_match_rliable(rliable_random_state):
    library = needs('rliable.library', 'stats')
    taus = np.linspace(0, 1, 11)
    fractions, bands = library.create_performance_profile(FIXED, taus,
                                                          reps=REPS)
    ours = stats.performance_profiles(FIXED, taus, reps=REPS)
    for name in FIXED:
        np.testing.assert_allclose(ours[name].fraction, fractions[name])
        np.testing.assert_allclose(ours[name].low, bands[name][0],
                                   atol=PROFILE_TOLERANCE)
        np.testing.assert_allclose(ours[name].high, bands[name][1],
                                   atol=PROFILE_TOLERANCE)


# ------------------------------------------------------- tables of run results

def results_table():
    """Two agents, two tasks; 'slow' has a failed seed on task 'u'."""
    rows = []
    for seed, (t, u) in enumerate([(1., 10.), (2., 20.), (3., 30.),
                                   (4., 40.)]):
        rows.append({'agent': 'fast', 'task': 't', 'seed': seed, 'score': t})
        rows.append({'agent': 'fast', 'task': 'u', 'seed': seed, 'score': u})
        rows.append({'agent': 'slow', 'task': 't', 'seed': seed,
                     'score': t - 2})
        if seed < 3:
            rows.append({'agent': 'slow', 'task': 'u', 'seed': seed,
                         'score': 0.0})
    return rows


def by_key(rows):
    return {(r['agent'], r['task'], r['metric']): r for r in rows}


def test_aggregate_rows_per_task_all_tasks_and_improvement():
    rows = aggregates.aggregate_rows(results_table(), reps=300)
    assert all(list(r) == ['agent', 'task', 'metric', 'estimate', 'low',
                           'high'] for r in rows)
    table = by_key(rows)
    improvement = aggregates.IMPROVEMENT_METRIC
    assert set(table) == {
        *[(a, t, m) for a in ('fast', 'slow') for t in ('t', 'u', 'all')
          for m in ('mean', 'median', 'iqm')],
        *[('fast', t, improvement + 'slow') for t in ('t', 'u', 'all')],
        *[('slow', t, improvement + 'fast') for t in ('t', 'u', 'all')]}
    # Within a task, the median is over runs: 1 2 3 4 -> 2.5.
    assert table['fast', 't', 'median']['estimate'] == pytest.approx(2.5)
    assert table['fast', 'u', 'iqm']['estimate'] == pytest.approx(25.0)
    # Across tasks: mean of task means (2.5, 25) and IQM of the 8 pooled
    # scores 1 2 3 4 10 20 30 40 -> middle four 3 4 10 20.
    assert table['fast', 'all', 'mean']['estimate'] == pytest.approx(13.75)
    assert table['fast', 'all', 'iqm']['estimate'] == pytest.approx(9.25)
    # slow: -1 0 1 2 on t and 0 0 0 on u -> task means 0.5 and 0.
    assert table['slow', 'all', 'median']['estimate'] == pytest.approx(0.25)
    # Pairs on t: fast 1..4 against slow -1..2: 16 pairs, 13 won, 2 tied
    # (1-1, 2-2) -> 14/16. On u fast wins all. P(fast > slow) on both tasks
    # averaged: (14/16 + 1) / 2.
    assert table['fast', 't', improvement + 'slow']['estimate'] == \
        pytest.approx(14 / 16)
    assert table['fast', 'all', improvement + 'slow']['estimate'] == \
        pytest.approx((14 / 16 + 1) / 2)
    assert table['slow', 'all', improvement + 'fast']['estimate'] == \
        pytest.approx(1 - (14 / 16 + 1) / 2)
    assert table['fast', 'u', improvement + 'slow']['low'] == 1.0


def test_aggregate_rows_ignore_row_order_and_read_csv_strings():
    rows = results_table()
    expected = by_key(aggregates.aggregate_rows(rows, reps=200, seed=1))
    shuffled = [dict(r, seed=str(r['seed']), score=str(r['score']))
                for r in rows]
    random.Random(0).shuffle(shuffled)
    assert by_key(aggregates.aggregate_rows(shuffled, reps=200, seed=1)) == expected
    assert by_key(aggregates.aggregate_rows(rows, reps=200, seed=2)) != expected


def test_aggregate_rows_with_one_task_have_no_all_rows():
    rows = [{'agent': 'a', 'task': 't', 'seed': s, 'score': s} for s in
            range(3)]
    table = by_key(aggregates.aggregate_rows(rows, reps=50))
    assert set(table) == {('a', 't', 'mean'), ('a', 't', 'median'),
                          ('a', 't', 'iqm')}


def test_aggregate_rows_normalise_scores_per_task():
    rows = [{'agent': 'a', 'task': 't', 'seed': 0, 'score': 5.0},
            {'agent': 'a', 'task': 'u', 'seed': 0, 'score': 300.0}]
    table = by_key(aggregates.aggregate_rows(
        rows, reps=20, normalize={'t': (0, 10), 'u': (100, 500)}))
    assert table['a', 't', 'mean']['estimate'] == pytest.approx(0.5)
    assert table['a', 'u', 'mean']['estimate'] == pytest.approx(0.5)


def test_scores_from_results_sort_runs_by_seed():
    rows = [{'agent': 'a', 'task': 't', 'seed': s, 'score': float(s)}
            for s in ('10', '2', '0')]
    scores = aggregates.scores_from_results(rows)
    np.testing.assert_array_equal(scores['a']['t'], [0., 2., 10.])


@pytest.mark.parametrize('rows, message', [
    ([], 'results is empty'),
    ([{'agent': 'a', 'task': 't', 'score': 1.0}], "lacks ['seed']"),
    ([{'agent': 'a', 'task': 't', 'seed': 0, 'score': float('nan')}],
     'score must be finite, got nan'),
    ([{'agent': 'a', 'task': 't', 'seed': 0, 'score': 'high'}],
     "score must be a number, got 'high'"),
    ([{'agent': 'a', 'task': 't', 'seed': 0, 'score': 1.0},
      {'agent': 'a', 'task': 't', 'seed': '0', 'score': 2.0}],
     "two runs of agent 'a' on task 't' with seed '0'"),
])
def test_aggregate_rows_reject_bad_results(rows, message):
    with pytest.raises(ValueError, match=message.replace('[', r'\[')
                       .replace(']', r'\]').replace('(', r'\(')
                       .replace(')', r'\)')):
        aggregates.aggregate_rows(rows, reps=10)


def test_aggregate_rows_reject_missing_normalisation():
    rows = [{'agent': 'a', 'task': 'u', 'seed': 0, 'score': 1.0}]
    with pytest.raises(ValueError, match="no \\(low, high\\) for task 'u'"):
        aggregates.aggregate_rows(rows, reps=10, normalize={'t': (0, 1)})


# ----------------------------------------------------------------- bad input

@pytest.mark.parametrize('call, message', [
    (lambda: stats.aggregate_iqm(np.zeros((0, 3))), 'task 0: no runs'),
    (lambda: stats.aggregate_mean({}), 'has no tasks'),
    (lambda: stats.aggregate_mean({'t': []}), "task 't': no runs"),
    (lambda: stats.aggregate_mean(np.zeros(4)), 'got shape \\(4,\\)'),
    (lambda: stats.aggregate_mean(np.zeros((2, 2, 2))), 'shape \\(2, 2, 2\\)'),
    (lambda: stats.aggregate_median([[1.0, np.nan]]), 'task 1: scores must be '
     'finite, got \\[nan\\]'),
    (lambda: stats.probability_of_improvement(np.zeros((3, 2)),
                                              np.zeros((3, 3))),
     'scores_x has 2 tasks and scores_y 3'),
    (lambda: stats.interval_estimates({'a': np.zeros((3, 1))}, reps=0),
     'reps must be an integer >= 1, got 0'),
    (lambda: stats.interval_estimates({'a': np.zeros((3, 1))}, reps=2.5),
     'reps must be an integer >= 1, got 2.5'),
    (lambda: stats.interval_estimates({'a': np.zeros((3, 1))},
                                      confidence=95),
     'confidence must be a number strictly between 0 and 1'),
    (lambda: stats.interval_estimates({'a': np.zeros((3, 1))}, ['iqr']),
     "unknown metrics \\['iqr'\\]"),
    (lambda: stats.interval_estimates({}), 'score_dict is empty'),
    (lambda: stats.interval_estimates({'a': np.zeros((3, 1))}, seed=-1),
     'seed must be an integer >= 0, got -1'),
    (lambda: stats.probability_of_improvement_interval(
        np.zeros((3, 1)), np.zeros((3, 1)), reps=-1), 'reps must be'),
    (lambda: stats.performance_profiles({'a': np.zeros((3, 1))}, [],
                                        reps=5), 'taus must be a non-empty'),
    (lambda: stats.learning_curve_intervals({'a': np.zeros((3, 5))},
                                            np.arange(4)),
     "curves\\['a'\\] has 5 points per run but steps has 4"),
    (lambda: stats.learning_curve_intervals(
        {'a': np.full((3, 2), np.nan)}, np.arange(2)), 'NaN'),
    (lambda: stats.learning_curve_intervals({'a': np.zeros((0, 2))},
                                            np.arange(2)), 'with runs'),
])
def test_bad_input_is_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_scores_that_are_not_numbers_are_a_type_error():
    with pytest.raises(TypeError, match='scores must be numbers'):
        stats.aggregate_mean([['a', 'b']])
    with pytest.raises(TypeError, match='score_dict must map agent names'):
        stats.interval_estimates([np.zeros((2, 2))])


# -------------------------------------------------------------------- curves

def test_learning_curve_iqm_band_by_hand():
    # Four runs per point: 0 1 2 3 -> IQM (one cut per end) 1.5 everywhere;
    # identical runs give a band of zero width.
    curves = {'spread': np.array([[0., 0.], [1., 1.], [2., 2.], [3., 3.]]),
              'same': np.ones((5, 2))}
    bands = stats.learning_curve_intervals(curves, [100, 200], reps=500)
    np.testing.assert_allclose(bands['spread'].estimate, [1.5, 1.5])
    assert np.all(bands['spread'].low < 1.5)
    assert np.all(bands['spread'].high > 1.5)
    np.testing.assert_array_equal(bands['same'].low, [1., 1.])
    np.testing.assert_array_equal(bands['same'].high, [1., 1.])
    np.testing.assert_array_equal(bands['same'].steps, [100, 200])


def test_run_interval_estimates_take_the_median_of_runs_and_key_their_draws():
    runs = [1., 2., 3., 10., 4.]
    first = stats.run_interval_estimates(runs, ['median', 'mean'], reps=300, key=('x', 't'))
    assert first['median'].estimate == 3. and first['mean'].estimate == 4.
    assert first['median'].low < 3. < first['mean'].high
    again = stats.run_interval_estimates(runs, ['median', 'mean'], reps=300, key=('x', 't'))
    other = stats.run_interval_estimates(runs, ['median', 'mean'], reps=300, key=('y', 't'))
    assert again == first and other != first
    with pytest.raises(ValueError, match='runs must be a non-empty 1-D array'):
        stats.run_interval_estimates([[1., 2.]])


# --------------------------------------------------------------------- plots

def render(figure):
    assert isinstance(figure, Figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png')
    assert buffer.getvalue()[:8] == b'\x89PNG\r\n\x1a\n'


def test_plot_learning_curves_draws_estimate_and_band():
    curves = {'a': np.array([[0., 0., 0.], [1., 1., 1.], [2., 2., 2.],
                             [3., 3., 3.]]),
              'b': np.full((2, 3), 7.0)}
    figure = statistics.plot_learning_curves(curves, [0, 10, 20], reps=200)
    render(figure)
    ax = figure.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {'a (4 runs)', 'b (2 runs)'}
    np.testing.assert_allclose(lines['a (4 runs)'].get_ydata(), 1.5)
    np.testing.assert_allclose(lines['b (2 runs)'].get_ydata(), 7.0)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    band_a = bands[0].get_paths()[0].vertices[:, 1]
    assert band_a.min() >= 0.0 and band_a.max() <= 3.0
    assert band_a.max() - band_a.min() > 0.5  # A band, not a line.


def test_plot_interval_estimates_bars_span_the_intervals():
    intervals = {'a': {'iqm': stats.Interval(0.5, 0.25, 0.75),
                       'mean': stats.Interval(0.4, 0.3, 0.6)},
                 'b': {'iqm': stats.Interval(0.9, 0.8, 1.0),
                       'mean': stats.Interval(0.7, 0.65, 0.72)}}
    figure = statistics.plot_interval_estimates(intervals)
    render(figure)
    assert [ax.get_title() for ax in figure.axes] == ['IQM', 'Mean']
    spans = [(p.get_x(), p.get_x() + p.get_width())
             for p in figure.axes[0].patches]
    np.testing.assert_allclose(spans, [(0.25, 0.75), (0.8, 1.0)])
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == \
        ['a', 'b']


def test_plot_interval_estimates_rejects_agents_with_other_metrics():
    with pytest.raises(ValueError, match="intervals\\['b'\\] has metrics"):
        statistics.plot_interval_estimates({
            'a': {'iqm': stats.Interval(0, 0, 0)},
            'b': {'mean': stats.Interval(0, 0, 0)}})


def test_plot_performance_profiles_draws_each_profile():
    profiles = stats.performance_profiles({'a': HAND[:, :2]}, [0, 2, 7],
                                          reps=50)
    figure = statistics.plot_performance_profiles(profiles)
    render(figure)
    line, = figure.axes[0].get_lines()
    np.testing.assert_allclose(line.get_ydata(), [7 / 8, 5 / 8, 2 / 8])
    assert line.get_label() == 'a'


# ------------------------------------------------- figures that read at a glance
# Layout is measured with the renderer (what savefig draws), not guessed.

def _drawn(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def _area(a, b) -> float:
    """The area two display boxes share (0 if they only touch)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.) * max(height, 0.)


def _shown_tick_labels(axis):
    """The tick labels drawn: those of ticks inside the view (matplotlib keeps
    a few outside it, undrawn)."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * (high - low)
    return [tick.label1 for tick in axis.get_major_ticks()
            if low - slack <= tick.get_loc() <= high + slack]


def _texts(figure):
    """Every visible, non-empty label, title and tick label of the figure."""
    found = [t for t in (figure._suptitle, figure._supxlabel, figure._supylabel)
             if t is not None]
    for ax in figure.axes:
        found += [ax.title, ax.xaxis.label, ax.yaxis.label]
        found += _shown_tick_labels(ax.xaxis) + _shown_tick_labels(ax.yaxis)
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def assert_no_text_overlaps(figure):
    renderer = _drawn(figure)
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(figure)]
    inside = figure.bbox
    for i, (text, box) in enumerate(boxes):
        assert (box.x0 >= inside.x0 - 1 and box.x1 <= inside.x1 + 1 and
                box.y0 >= inside.y0 - 1 and box.y1 <= inside.y1 + 1), \
            f'{text!r} is outside the figure'
        for other, other_box in boxes[i + 1:]:
            assert _area(box, other_box) < 1., f'{text!r} overlaps {other!r}'


LONG_NAMES = ['q-learning[step_size=0.1]', 'sarsa[step_size=0.5]',
              'dqn[double=True,dueling=True,epsilon=0.05,learning_rate=0.001]']


@pytest.fixture(params=['default', 'ggplot'])
def style(request):
    """matplotlib's own style, and one with larger labels (Optuna's plots,
    which `gridlab tune` draws, switch a process to it)."""
    import matplotlib.style
    with matplotlib.style.context(request.param):
        yield request.param


@pytest.mark.parametrize('tied', [False, True])
def test_interval_plot_labels_do_not_overlap(tied, style):
    intervals = {agent: {metric: (stats.Interval(1., 1., 1.) if tied else
                                  stats.Interval(0.5 + i / 10, 0.4 + i / 10, 0.62 + i / 10))
                         for metric in ('mean', 'median', 'iqm')}
                 for i, agent in enumerate(LONG_NAMES)}
    figure = statistics.plot_interval_estimates(
        intervals, xlabel='normalised score (1 = goal reward)')
    assert_no_text_overlaps(figure)
    # The agents' names are beside the bars, not over them.
    renderer = _drawn(figure)
    for label in figure.axes[0].get_yticklabels():
        for ax in figure.axes:
            assert _area(label.get_window_extent(renderer),
                         ax.get_window_extent(renderer)) < 1.
    # Every name is still there, whole (wrapping adds only line breaks).
    shown = [t.get_text().replace('\n', '') for t in figure.axes[0].get_yticklabels()]
    assert shown == LONG_NAMES


def _pixels_of(figure, colour, leave_out=()):
    """How many pixels of the drawn figure are `colour`, outside `leave_out`."""
    _drawn(figure)
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)
    mask = (np.abs(image - np.array(colour) * 255).max(axis=-1) < 25)
    height = image.shape[0]
    for box in leave_out:  # Display boxes count from the bottom.
        mask[max(0, int(height - box.y1) - 2):int(height - box.y0) + 2,
             max(0, int(box.x0) - 2):int(box.x1) + 2] = False
    return int(mask.sum())


def test_tied_performance_profiles_each_show_their_colour():
    scores = np.array([[0.2, 0.4], [0.6, 0.8], [0.9, 0.3]])
    profiles = stats.performance_profiles(
        {'a': scores, 'b': scores.copy(), 'c': scores + 0.05}, reps=50)
    figure = statistics.plot_performance_profiles(profiles)
    renderer = _drawn(figure)
    legends = [legend.get_window_extent(renderer) for legend in
               figure.legends + [ax.get_legend() for ax in figure.axes
                                 if ax.get_legend() is not None]]
    colours = statistics._colours(['a', 'b', 'c'])
    # Drawn over one another, the first of two equal profiles was hidden.
    for agent in 'abc':
        assert _pixels_of(figure, colours[agent], legends) > 150, agent
    # And the plot says that two are the same.
    said = [t.get_text() for legend in figure.legends +
            [ax.get_legend() for ax in figure.axes if ax.get_legend()]
            for t in legend.get_texts()]
    assert any('same profile' in text for text in said), said


def test_learning_curves_legend_is_clear_of_the_data_and_the_flat_end_is_cut(style):
    steps = np.arange(1, 51) * 400
    rng = np.random.default_rng(0)
    rise = np.minimum(steps / 4000, 1.)  # learnt by step 4,000 of 20,000
    curves = {f'{name} on {task}': -100 + 110 * rise + rng.normal(0, 0.3, (10, 50))
              for name in LONG_NAMES[:2] for task in ('simple', 'obstacle')}
    figure = statistics.plot_learning_curves(curves, steps, reps=50,
                                             ylabel='mean return of the last 10 episodes')
    renderer = _drawn(figure)
    ax, = figure.axes
    legends = figure.legends + ([ax.get_legend()] if ax.get_legend() else [])
    legend, = legends
    assert _area(legend.get_window_extent(renderer), ax.get_window_extent(renderer)) < 1.
    assert [t.get_text() for t in legend.get_texts()][:4] == [
        f'{name} (10 runs)' for name in curves]
    # The learning part fills most of the axes; the flat rest is cut and said so.
    low, high = ax.get_xlim()
    assert 4000 <= high <= 10000 and low <= steps[0]
    assert 'not shown' in ax.get_xlabel() and '20,000' in ax.get_xlabel()
    # Still drawn whole: only the view is cut.
    assert max(line.get_xdata()[-1] for line in ax.get_lines()) == 20000
    assert_no_text_overlaps(figure)

    # Curves that keep changing to the end are shown to the end.
    still = {'a': np.tile(steps / 1000., (3, 1))}
    ax = statistics.plot_learning_curves(still, steps, reps=50).axes[0]
    assert ax.get_xlim()[1] >= 20000 and 'not shown' not in ax.get_xlabel()


def test_importing_stats_loads_neither_matplotlib_nor_scipy():
    code = ('import json, sys, gridlab.analysis.stats\n'
            'print(json.dumps([m for m in ("matplotlib", "scipy", "torch") '
            'if m in sys.modules]))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == []


# One run per task: no interval (NaN bounds and a warning), not a zero-width one.

def test_one_run_per_task_gives_nan_bounds_and_a_warning():
    with pytest.warns(stats.SingleRunWarning, match='one run per task'):
        intervals = stats.interval_estimates({'a': np.array([[0.3, 0.7]])}, reps=50)
    for interval in intervals['a'].values():
        assert np.isfinite(interval.estimate)
        assert np.isnan(interval.low) and np.isnan(interval.high)
    assert intervals['a']['mean'].estimate == pytest.approx(0.5)
    with pytest.warns(stats.SingleRunWarning):
        one = stats.run_interval_estimates([2.0], reps=50, key=('a', 't'))
    assert one['iqm'].estimate == 2.0 and np.isnan(one['iqm'].low)
    with pytest.warns(stats.SingleRunWarning):
        improvement = stats.probability_of_improvement_interval(
            np.array([[1.0]]), np.array([[0.0]]), reps=50)
    assert improvement.estimate == 1.0 and np.isnan(improvement.high)
    with pytest.warns(stats.SingleRunWarning):
        profile = stats.performance_profiles({'a': np.array([[0.5]])}, reps=20)['a']
    assert np.isnan(profile.low).all() and profile.fraction.shape == profile.taus.shape
    with pytest.warns(stats.SingleRunWarning):
        band = stats.learning_curve_intervals({'a': np.array([[1., 2.]])}, [1, 2],
                                              reps=20)['a']
    assert np.isnan(band.low).all() and band.estimate.tolist() == [1., 2.]


def test_two_runs_in_one_task_give_a_real_interval_without_a_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error', stats.SingleRunWarning)
        intervals = stats.interval_estimates(
            {'a': {'t': np.array([0., 1.]), 'u': np.array([0.5])}}, reps=200)
    assert intervals['a']['mean'].low < intervals['a']['mean'].high


@pytest.mark.parametrize('gamma', [float('nan'), float('inf'), -float('inf'), True, '1'])
def test_a_non_finite_gamma_is_refused_naming_it(gamma):
    scores = {'a': np.array([[0.3], [0.7]])}
    with pytest.raises(ValueError, match=r'gamma .* must be a finite number'):
        stats.interval_estimates(scores, ('optimality_gap',), reps=10, gamma=gamma)
    with pytest.raises(ValueError, match='gamma'):
        stats.run_interval_estimates([0.3, 0.7], ('optimality_gap',), reps=10,
                                     gamma=gamma)
    with pytest.raises(ValueError, match='gamma'):
        stats.aggregate_optimality_gap(scores['a'], gamma=gamma)
    with pytest.raises(ValueError, match='gamma'):
        aggregates.aggregate_rows([{'agent': 'a', 'task': 't', 'seed': s, 'score': s}
                                   for s in (0, 1)], reps=10, gamma=gamma)
