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
    assert cli.main(['compare', str(out)]) == 0
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
    assert cli.main(['compare', str(out)]) == 2
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
        compare.compare([out])
    assert not (out / 'aggregate.csv').exists()


def test_one_seed_per_agent_says_the_intervals_are_undefined(finished_sweep, tmp_path,
                                                             capsys):
    out = tmp_path / 'one'
    out.mkdir()
    table = results.read_results(finished_sweep / 'results.csv')[:1]
    results.write_results(out, table)
    assert cli.main(['compare', str(out)]) == 0
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
