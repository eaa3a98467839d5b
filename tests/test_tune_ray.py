"""`gridlab tune --backend ray`: Ray Tune (OptunaSearch, ASHA) on a real local
Ray, into the same study folder, trials table and run folders as the local
backend."""

import json
import pathlib

import pytest
from conftest import needs
from test_tune import rows, study

from gridlab.experiments import tune

needs('optuna', 'tune')
needs('ray.tune', 'ray')

SPACE = '''
[step_size]
low = 0.0001
high = 1.0
log = true
[epsilon]
low = 0.01
high = 0.9
'''


@pytest.mark.slow
def test_ray_tune_writes_the_local_backends_table_and_folders_and_continues(
        tmp_path, capsys):
    space = tmp_path / 'space.toml'
    space.write_text(SPACE)
    local, ray = tmp_path / 'local', tmp_path / 'ray'
    assert study(space, local, 1) == 0
    assert study(space, ray, 8, '--backend', 'ray', '--workers', '2') == 0
    out = capsys.readouterr()
    assert 'best objective' in out.out
    assert 'Tune' not in out.err and 'INFO' not in out.err  # gridlab's lines only.
    table = rows(ray / 'trials.csv')
    assert list(table[0]) == list(rows(local / 'trials.csv')[0])  # The same columns.
    assert len(table) == 8 and [r['number'] for r in table] == [str(i) for i in range(8)]
    states = {row['state'] for row in table}
    assert states <= {'COMPLETE', 'PRUNED'} and 'COMPLETE' in states
    for row in table:
        folder = pathlib.Path(row['directory'])
        assert folder == ray / 'trials' / f'trial_{int(row["number"]):04d}'
        summary = json.loads((folder / 'summary.json').read_text())
        assert summary['status'] == {'COMPLETE': 'completed', 'PRUNED': 'pruned'}[
            row['state']]
        assert not (folder / '.gridlab.lock').exists()
        assert summary['hyperparameters']['epsilon'] == pytest.approx(
            float(row['param.epsilon']))
        evaluations = rows(folder / 'evaluation.csv')
        # 'steps' is training steps (the last evaluation's), not Tune's count.
        assert int(row['steps']) == int(evaluations[-1]['total_steps'])
        if row['state'] == 'COMPLETE':  # The objective: the mean evaluation return.
            assert int(row['steps']) >= 3000
            assert float(row['value']) == pytest.approx(
                sum(float(r['mean_return']) for r in evaluations) / len(evaluations))
        else:  # ASHA stopped it at a rung, before its budget.
            assert int(row['steps']) < 3000
    for name in ('best.toml', 'history.png', 'report.html', 'study.db'):
        assert (ray / name).is_file(), name
    # The local backend continues the study Ray began, and the reverse.
    assert study(space, ray, 9) == 0
    assert study(space, ray, 10, '--backend', 'ray') == 0
    again = rows(ray / 'trials.csv')
    assert [r['number'] for r in again] == [str(i) for i in range(10)]
    assert again[:8] == table


@pytest.mark.slow
def test_asha_prunes_trials_that_fall_behind(tmp_path):
    # One trial at a time: each later trial meets the rungs the earlier ones
    # set, and settings that cannot learn in time (a tiny step size) fall behind.
    # The tutorial's optimistic start without the count bonus (one choice
    # each), which learns `simple` within 3,000 steps.
    result = tune.run_tune('q-learning', 'simple', {
        'step_size': tune.Choices((0.5, 0.0001)), 'initial_value': tune.Choices((10.,)),
        'count_bonus': tune.Choices((0.,))}, 6, tmp_path / 'study',
        steps=3000, eval_every=500, backend='ray')
    table = rows(tmp_path / 'study' / 'trials.csv')
    pruned = [row for row in table if row['state'] == 'PRUNED']
    assert pruned and result.states['PRUNED'] == len(pruned)
    assert all(row['param.step_size'] == '0.0001' for row in pruned)
    assert result.best == {'step_size': 0.5, 'initial_value': 10., 'count_bonus': 0.}


def test_a_cluster_that_is_not_there_is_one_line(tmp_path, capsys):
    space = tmp_path / 'space.toml'
    space.write_text(SPACE)
    assert study(space, tmp_path / 'out', 2, '--backend', 'ray', '--address',
                 '127.0.0.1:1') == 2
    err = capsys.readouterr().err
    assert "cannot reach a Ray cluster at '127.0.0.1:1'" in err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err


def test_address_without_the_ray_backend_is_refused(tmp_path):
    with pytest.raises(tune.TuneError, match='address is for the Ray backend'):
        tune.run_tune('q-learning', 'simple', {'step_size': tune.Range(0.1, 1.)}, 1,
                      tmp_path, eval_every=500, address='127.0.0.1:6379')
    with pytest.raises(tune.TuneError, match="backend must be 'local' or 'ray'"):
        tune.run_tune('q-learning', 'simple', {'step_size': tune.Range(0.1, 1.)}, 1,
                      tmp_path, eval_every=500, backend='dask')
