"""`gridlab compare`: scores that are not numbers, stale files, runs given twice."""

import csv
import os

import numpy as np
import pytest

from gridlab import cli
from gridlab.experiments import compare, results, sweep


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def finished_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp('compare') / 'sweep'
    outcome = sweep.run_sweep(['random'], ['simple'], '0-3', root, steps=100, workers=1,
                              eval_episodes=1, progress=False)
    assert not outcome.failed
    return root


def _copy_with_scores(root, out, scores):
    """A sweep folder whose results.csv has these scores (None: unchanged)."""
    table = results.read_results(root / 'results.csv')
    for row, score in zip(table, scores):
        if score is not None:
            row['mean_return'] = score
    out.mkdir()
    results.write_results(out, table)
    (out / 'aggregate.csv').write_text('agent,task,metric,estimate,low,high\n'
                                       'stale,simple,iqm,99,99,99\n')
    (out / 'intervals.png').write_bytes(b'stale')
    return out


def test_a_nan_score_is_left_out_with_a_one_line_warning(finished_sweep, tmp_path,
                                                          capsys):
    out = _copy_with_scores(finished_sweep, tmp_path / 'nan', [None, float('nan')])
    assert cli.main(['compare', str(out), '--metric', 'mean_return']) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if 'warning' in line]
    assert len(warning) == 1 and 'left out 1 completed run' in warning[0]
    assert 'seed1' in warning[0] and 'nan' in warning[0]
    table = rows(out / 'aggregate.csv')
    assert 'stale' not in {r['agent'] for r in table}
    scores = [r['mean_return'] for r in results.read_results(out / 'results.csv')]
    iqm = [r for r in table if r['metric'] == 'mean' and r['agent'] == 'random']
    expected = np.mean([scores[0], scores[2], scores[3]])
    assert float(iqm[0]['estimate']) == pytest.approx(expected, rel=1e-5)
    assert (out / 'intervals.png').read_bytes() != b'stale'


def test_no_finite_score_is_one_line_and_leaves_no_stale_aggregate(finished_sweep,
                                                                     tmp_path, capsys):
    out = _copy_with_scores(finished_sweep, tmp_path / 'all-nan', [float('nan')] * 4)
    assert cli.main(['compare', str(out), '--metric', 'mean_return']) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith('gridlab: error: no completed runs')
    assert not (out / 'aggregate.csv').exists()
    assert not (out / 'intervals.png').exists()


def test_a_failing_comparison_leaves_no_stale_aggregate(finished_sweep, tmp_path,
                                                          monkeypatch):
    out = _copy_with_scores(finished_sweep, tmp_path / 'broken', [None])
    from gridlab.experiments import aggregates

    def broken(*args, **kwargs):
        raise RuntimeError('statistics broke')
    monkeypatch.setattr(aggregates, 'aggregate_rows', broken)
    with pytest.raises(RuntimeError):
        compare.compare([out], metric='mean_return')
    assert not (out / 'aggregate.csv').exists()


def test_one_seed_per_agent_says_the_intervals_are_undefined(finished_sweep, tmp_path,
                                                             capsys):
    out = tmp_path / 'one'
    out.mkdir()
    table = results.read_results(finished_sweep / 'results.csv')[:1]
    results.write_results(out, table)
    assert cli.main(['compare', str(out), '--metric', 'mean_return']) == 0
    captured = capsys.readouterr()
    assert 'intervals are undefined' in captured.err
    assert 'nan' in captured.out  # The table shows [nan, nan], not [x, x].
    iqm = [r for r in rows(out / 'aggregate.csv') if r['metric'] == 'iqm'][0]
    assert iqm['low'] == 'nan' and iqm['high'] == 'nan'


def test_the_same_run_twice_is_refused_naming_both(finished_sweep, tmp_path, capsys):
    run = finished_sweep / 'simple' / 'random' / 'defaults' / 'seed0'
    import shutil
    shutil.copytree(run, tmp_path / 'copy')
    assert cli.main(['compare', str(run), str(tmp_path / 'copy'),
                     '--out', str(tmp_path / 'cmp')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'two runs of random on simple with seed 0' in err
    assert str(tmp_path / 'copy') in err


def test_auc_is_the_mean_of_each_runs_learning_curve_on_the_grid_all_runs_cover(
        tmp_path):
    import gridlab
    for seed in (0, 1):
        gridlab.run_experiment('q-learning', 'simple', tmp_path / 'runs' / f's{seed}',
                               seed=seed, steps=1_000, verbose=False, video=False,
                               pictures=False)
    compare.compare([tmp_path / 'runs'], out=tmp_path / 'cmp')
    table = rows(tmp_path / 'cmp' / 'aggregate.csv')
    assert {r['score'] for r in table} == {'auc'}
    # Independently: the mean return of the last 10 whole episodes at 50
    # evenly spaced steps, kept where both runs have finished an episode.
    curves = []
    for seed in (0, 1):
        episodes = [r for r in rows(tmp_path / 'runs' / f's{seed}' / 'episodes.csv')
                    if r['cut_short'] == 'False']
        ends = np.array([int(r['total_steps']) for r in episodes])
        returns = np.array([float(r['episode_return']) for r in episodes])
        curve = {}
        for step in range(20, 1_001, 20):
            done = returns[ends <= step]
            if done.size:
                curve[step] = done[-10:].mean()
        curves.append(curve)
    common = sorted(set(curves[0]) & set(curves[1]))
    expected = np.mean([np.mean([c[s] for s in common]) for c in curves])
    mean = [r for r in table if r['metric'] == 'mean'][0]
    assert float(mean['estimate']) == pytest.approx(expected, rel=1e-5)


def test_auc_separates_agents_where_the_final_return_saturates(tmp_path):
    # The tutorial's settings (optimistic start, no count bonus), not the tuned
    # ones, whose bonus makes training returns noisy.
    grid = {'step_size': ['0.1', '0.5'], 'initial_value': ['10'], 'count_bonus': ['0']}
    sweep.run_sweep(['q-learning'], ['simple'], '0-3', tmp_path / 's', grid,
                    steps=5_000, workers=2, progress=False)
    by_metric = {}
    for metric in ('mean_return', 'auc'):
        compare.compare([tmp_path / 's'], metric=metric)
        by_metric[metric] = {r['agent']: float(r['estimate'])
                             for r in rows(tmp_path / 's' / 'aggregate.csv')
                             if r['metric'].startswith('probability_of_improvement')}
    fast, = (agent for agent in by_metric['auc'] if 'step_size=0.5' in agent)
    assert by_metric['mean_return'][fast] == 0.5  # Every run reaches the goal: a tie.
    assert by_metric['auc'][fast] == 1.  # The larger step size learns faster, always.


def test_where_less_is_better_an_improvement_is_a_lower_value(tmp_path):
    table = [{'agent': agent, 'task': 'simple', 'seed': seed, 'hyperparameters':
              'defaults', 'status': 'completed', 'steps': 1000.,
              'steps_to_optimal': value}
             for agent, values in (('quick', [100., 200., None]),
                                   ('slow', [500., 700., 900.]))
             for seed, value in enumerate(values)]
    results.write_results(tmp_path, table)
    compare.compare([tmp_path], metric='steps_to_optimal')
    table = rows(tmp_path / 'aggregate.csv')
    improvement = {r['agent']: float(r['estimate']) for r in table
                   if r['metric'].startswith('probability_of_improvement')}
    # quick's third run never became optimal: it counts as its whole budget,
    # 1000 steps, worse than every slow run; P(quick < slow) = 6 of 9 pairs.
    assert improvement['quick'] == pytest.approx(6 / 9, abs=1e-6)
    assert improvement['slow'] == pytest.approx(3 / 9, abs=1e-6)
    means = {r['agent']: float(r['estimate']) for r in table if r['metric'] == 'mean'}
    assert means == {'quick': pytest.approx(1300 / 3), 'slow': pytest.approx(700.)}
    with pytest.raises(compare.CompareError, match="metric must be one of .* 'speed'"):
        compare.compare([tmp_path], metric='speed')


def test_the_table_fits_a_terminal_and_names_every_agent_whole(finished_sweep, tmp_path,
                                                               capsys):
    long = 'an_agent_with_a_long_name[learning_rate=0.001,hidden_sizes=64,64]'
    table = results.read_results(finished_sweep / 'results.csv')
    for row in table[2:]:
        row['agent'] = long
        row['seed'] += 10
    out = tmp_path / 'long'
    out.mkdir()
    results.write_results(out, table)
    assert cli.main(['compare', str(out), '--metric', 'mean_return']) == 0
    text = capsys.readouterr().out
    assert long in text and 'random' in text
    assert max(len(line) for line in text.splitlines() if 'written to' not in line) <= 100
    assert 'P(row beats column) on simple:' in text


def test_results_csv_is_read_exactly_or_refused_in_one_line(tmp_path):
    path = tmp_path / 'results.csv'
    big = 2 ** 62  # Two seeds float() cannot tell apart.
    results.write_csv(path, results.RESULT_COLUMNS, [
        {'agent': 'q-learning', 'task': 'simple', 'seed': seed, 'status': 'completed',
         'mean_return': 1.5} for seed in (big, big + 1)])
    assert [row['seed'] for row in results.read_results(path)] == [big, big + 1]
    for text, said in [('agent,seed\nq,0,extra\n', 'row 1'),
                       ('agent,seed,mean_return\nq,0,abc\n', "mean_return 'abc'"),
                       ('agent,seed\nq,x\n', "seed 'x'"), ('agent\nq\n', 'no seed')]:
        path.write_text(text)
        with pytest.raises(compare.ExperimentError, match=said):
            results.read_results(path)


def test_tied_scores_give_a_profile_that_drops_from_every_run_to_none(finished_sweep,
                                                                        tmp_path,
                                                                        monkeypatch):
    out = _copy_with_scores(finished_sweep, tmp_path / 'tied', [-5.] * 4)
    drawn = {}
    monkeypatch.setattr(compare, '_save', lambda figure, path: drawn.update({path.name: figure}))
    compare.compare([out], metric='mean_return')
    line, = [line for line in drawn['profiles.png'].axes[0].get_lines()
             if line.get_label() == 'random']
    taus, fraction = line.get_xdata(), line.get_ydata()
    # Every run scores -0.5 of the goal reward: above every threshold below
    # that, above none from it on; both sides are on the plot.
    assert taus.min() < -0.5 < taus.max()
    np.testing.assert_array_equal(fraction, np.where(taus < -0.5, 1., 0.))
    assert set(fraction) == {0., 1.}
