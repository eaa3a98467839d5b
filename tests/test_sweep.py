"""Sweeps: the product of settings, identical results on every backend, resuming."""

import csv
import json

import numpy as np
import pytest
from conftest import needs

from gridlab import cli
from gridlab.experiments import compare
from gridlab.experiments import sweep


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_seeds_and_the_product():
    assert sweep.parse_seeds('0-3,7') == [0, 1, 2, 3, 7]
    assert sweep.parse_seeds('5') == [5]
    for bad in ('3-1', 'x', '-2', ''):
        with pytest.raises(sweep.SweepError, match='seeds'):
            sweep.parse_seeds(bad)
    # The seed rule of every run (validation.check_seed), before any run starts.
    with pytest.raises(sweep.SweepError, match=r'2\*\*63 - 1'):
        sweep.parse_seeds('99999999999999999999')
    assert sweep.parse_seeds(f'{2**63 - 1}') == [2**63 - 1]
    specs = sweep.expand(['q-learning', 'sarsa'], ['simple', 'obstacle'], [0, 1, 2],
                         {'step_size': ['0.1', '0.5']}, steps=100)
    assert len(specs) == 2 * 2 * 3 * 2
    assert {spec.hyperparameters for spec in specs} == {(('step_size', 0.1),),
                                                         (('step_size', 0.5),)}
    assert specs[0].directory(__import__('pathlib').Path('s')).as_posix() == (
        's/simple/q-learning/step_size=0.1/seed0')


@pytest.mark.parametrize('argv, message', [
    (['--agents', 'q-learning,nope', '--tasks', 'simple'], "unknown agent 'nope'"),
    (['--agents', 'q-learning', '--tasks', 'simple,nowhere'], "unknown task 'nowhere'"),
    (['--agents', 'q-learning', '--tasks', 'simple', '--set', 'step_sise=0.1'],
     "no hyperparameter 'step_sise'"),
    (['--agents', 'q-learning', '--tasks', 'simple', '--set', 'step_size=0.1,fast'],
     "step_size='fast': expected a number"),
    (['--agents', 'q-learning', '--tasks', 'simple', '--seeds', '4-2'], 'seeds'),
    (['--agents', 'q-learning', '--tasks', 'simple', '--backend', 'ray',
      '--address', '127.0.0.1:1'], 'cannot reach a Ray cluster'),
])
def test_bad_sweeps_are_one_line_before_any_run(argv, message, tmp_path, capsys):
    if '--backend' in argv:
        needs('ray', 'ray')
    out = tmp_path / 'sweep'
    code, _, err = run(capsys, 'sweep', *argv, '--steps', '50', '--out', str(out))
    assert code == 2 and message in err and err.count('\n') == 1, err
    assert not out.exists()


def _returns(root):
    """Every run's episode returns and final evaluation, by run folder."""
    result = {}
    for summary in sorted(root.rglob('summary.json')):
        folder = summary.parent
        returns = [r['episode_return'] for r in rows(folder / 'episodes.csv')]
        evaluation = json.loads(summary.read_text())['evaluation']
        result[str(folder.relative_to(root))] = (returns, evaluation['mean_return'])
    return result


SETTINGS = dict(agents=['q-learning', 'random'], tasks=['simple'], seeds='0-1',
                grid=None, steps=300)


def test_every_backend_and_worker_count_gives_the_same_runs(tmp_path):
    needs('ray', 'ray')
    results = {}
    for name, options in [('serial', dict(workers=1)), ('pool', dict(workers=2)),
                          ('ray', dict(backend='ray', workers=2))]:
        root = tmp_path / name
        outcome = sweep.run_sweep(SETTINGS['agents'], SETTINGS['tasks'], SETTINGS['seeds'],
                                  root, steps=SETTINGS['steps'], progress=False,
                                  **options)
        assert not outcome.failed and len(outcome.rows) == 4
        results[name] = _returns(root)
    assert len(results['serial']) == 4
    assert results['serial'] == results['pool'] == results['ray']
    table = rows(tmp_path / 'serial' / 'results.csv')
    assert [(r['agent'], r['seed']) for r in table] == [
        ('q-learning', '0'), ('q-learning', '1'), ('random', '0'), ('random', '1')]
    aggregate = rows(tmp_path / 'serial' / 'aggregate.csv')
    assert {('q-learning', 'simple', 'iqm'), ('random', 'simple', 'iqm')} <= {
        (r['agent'], r['task'], r['metric']) for r in aggregate}
    curves = rows(tmp_path / 'serial' / 'curves.csv')
    assert {int(r['step']) for r in curves} <= set(range(1, 301))
    assert (tmp_path / 'serial' / 'report.html').is_file()


def test_a_rerun_skips_finished_runs_and_redoes_broken_ones(tmp_path):
    root = tmp_path / 'sweep'
    sweep.run_sweep(['q-learning'], ['simple'], '0-2', root, steps=200, workers=1,
                    progress=False, aggregate=False)
    finished = {p: p.stat().st_mtime_ns for p in root.rglob('summary.json')}
    broken = root / 'simple' / 'q-learning' / 'defaults' / 'seed1' / 'summary.json'
    summary = json.loads(broken.read_text())
    summary['status'] = 'interrupted'
    broken.write_text(json.dumps(summary))
    before = {p: p.stat().st_mtime_ns for p in root.rglob('summary.json')}
    outcome = sweep.run_sweep(['q-learning'], ['simple'], '0-2', root, steps=200,
                              workers=1, progress=False, aggregate=False)
    assert not outcome.failed
    after = {p: p.stat().st_mtime_ns for p in root.rglob('summary.json')}
    assert after[broken] != before[broken]  # Redone.
    assert all(after[p] == finished[p] for p in finished if p != broken)  # Kept.
    assert json.loads(broken.read_text())['status'] == 'completed'


def test_compare_works_on_plain_run_folders(tmp_path, capsys):
    for seed in (0, 1, 2, 3):
        for agent in ('q-learning', 'random'):
            code, _, err = run(capsys, 'train', '--agent', agent, '--task', 'simple',
                               '--steps', '200', '--seed', str(seed), '--eval-episodes',
                               '2', '--out', str(tmp_path / 'runs' / f'{agent}-{seed}'))
            assert code == 0, err
    code, out, err = run(capsys, 'compare', str(tmp_path / 'runs'), '--out',
                         str(tmp_path / 'cmp'), '--metric', 'mean_return')
    assert code == 0, err
    aggregate = rows(tmp_path / 'cmp' / 'aggregate.csv')
    # Each agent named with the settings it ran (the tuned ones, for q-learning).
    iqm = {r['agent'].split('[')[0]: float(r['estimate']) for r in aggregate
           if r['metric'] == 'iqm'}
    # Four runs: the IQM (the mean of the middle 50 %) is that of the middle two.
    by_agent = {}
    for summary in (tmp_path / 'runs').rglob('summary.json'):
        content = json.loads(summary.read_text())
        by_agent.setdefault(content['config']['agent'], []).append(
            content['evaluation']['mean_return'])
    for agent, scores in by_agent.items():
        assert iqm[agent] == pytest.approx(np.mean(sorted(scores)[1:3]), abs=1e-3)
    assert 'iqm' in out
    code, _, err = run(capsys, 'compare', str(tmp_path / 'nothing'))
    assert code == 2 and err.count('\n') == 1


# ------------------------------------------------- refused before any run


def test_finished_runs_of_other_settings_are_refused_naming_the_setting(tmp_path,
                                                                       capsys):
    root = tmp_path / 'sweep'
    argv = ['sweep', '--agents', 'random', '--tasks', 'simple', '--seeds', '0-1',
            '--workers', '1', '--out', str(root)]
    code, _, err = run(capsys, *argv, '--steps', '300')
    assert code == 0, err
    before = {p: p.read_bytes() for p in root.rglob('summary.json')}
    code, _, err = run(capsys, *argv, '--steps', '200')
    assert code == 2 and err.count('\n') == 1, err
    assert 'steps=300' in err and 'steps=200' in err and '--out' in err
    assert {p: p.read_bytes() for p in root.rglob('summary.json')} == before
    # Every recorded setting counts; the same command again reuses the runs.
    code, _, err = run(capsys, *argv, '--steps', '300', '--eval-every', '100')
    assert code == 2 and 'eval_every=None' in err and 'eval_every=100' in err, err
    code, out, err = run(capsys, *argv, '--steps', '300')
    assert code == 0 and '2/2 runs completed' in out, err
    assert {p: p.read_bytes() for p in root.rglob('summary.json')} == before


@pytest.mark.parametrize('argv, message', [
    (['--agents', 'q-learning,q-learning'], "agents lists 'q-learning' more than once"),
    (['--agents', 'q-learning', '--tasks', 'simple,simple'], "tasks lists 'simple'"),
    (['--agents', 'q-learning', '--set', 'step_size=0.1,0.1'],
     "the values '0.1' and '0.1' are one setting"),
    (['--agents', 'q-learning', '--set', 'initial_value=1,1.0'],
     "the values '1' and '1.0' are one setting"),
    (['--agents', 'q-learning', '--seeds', '0-100000000'], '100,000,001 runs'),
    (['--agents', 'q-learning,sarsa', '--seeds', '0-5000'], '10,002 runs'),
    (['--agents', 'q-learning', '--seeds', '0-3', '--max-runs', '3'], '--max-runs 4'),
])
def test_repeats_and_oversized_sweeps_are_refused_before_any_run(argv, message,
                                                                 tmp_path, capsys):
    import time
    out = tmp_path / 'sweep'
    if '--tasks' not in argv:
        argv = argv + ['--tasks', 'simple']
    start = time.perf_counter()
    code, _, err = run(capsys, 'sweep', *argv, '--steps', '50', '--out', str(out))
    assert code == 2 and message in err and err.count('\n') == 1, err
    assert time.perf_counter() - start < 5  # Said at once, not after minutes.
    assert not out.exists()


def test_the_cap_can_be_lifted_and_long_preparation_shows_progress(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr(sweep._Ticker, 'EVERY', 0.)
    root = tmp_path / 'sweep'
    code, out, err = run(capsys, 'sweep', '--agents', 'random', '--tasks', 'simple',
                         '--seeds', '0-3', '--max-runs', '4', '--steps', '20',
                         '--workers', '1', '--out', str(root))
    assert code == 0 and '4/4 runs completed' in out, err
    assert 'gridlab sweep: checking settings, 1/1' in err
    assert 'gridlab sweep: reading run folders, 4/4' in err
    assert sweep.count_seeds('0-100000000,5') == 100_000_001
    with pytest.raises(sweep.SweepError, match='100,000,001 seeds'):
        sweep.parse_seeds('0-100000000', max_count=10)


def test_values_that_differ_get_folders_that_differ(tmp_path, capsys):
    root = tmp_path / 'sweep'
    code, out, err = run(capsys, 'sweep', '--agents', 'faulty_agents:Labelled',
                         '--tasks', 'simple', '--set', 'label=a/b,a_b,a%2Fb',
                         '--steps', '20', '--workers', '1', '--out', str(root))
    assert code == 0 and '3/3 runs completed' in out, err
    table = rows(root / 'results.csv')
    assert len({r['directory'] for r in table}) == 3
    labels = {r['hyperparameters']: json.loads(
        (__import__('pathlib').Path(r['directory']) / 'summary.json').read_text()
    )['config']['hyperparameters']['label'] for r in table}
    assert labels == {'label=a/b': 'a/b', 'label=a_b': 'a_b', 'label=a%2Fb': 'a%2Fb'}


def test_two_agent_names_for_one_folder_are_refused(tmp_path, capsys):
    from gridlab import registry
    registry.register('faulty_agents.Labelled', registry.resolve('faulty_agents:Labelled'))
    try:
        code, _, err = run(capsys, 'sweep', '--agents',
                           'faulty_agents:Labelled,faulty_agents.Labelled', '--tasks',
                           'simple', '--steps', '20', '--out', str(tmp_path / 'sweep'))
    finally:
        registry.unregister('faulty_agents.Labelled')
    assert code == 2 and err.count('\n') == 1 and 'would share the run folder' in err
    assert not (tmp_path / 'sweep').exists()


def test_a_value_too_long_for_a_folder_name_is_refused_before_any_run(tmp_path, capsys):
    root = tmp_path / 'sweep'
    code, out, err = run(capsys, 'sweep', '--agents', 'faulty_agents:Labelled',
                         '--tasks', 'simple', '--set', 'label=short,' + 'é' * 150,
                         '--seeds', '0-1', '--steps', '20', '--workers', '1',
                         '--out', str(root))
    # 'label=' and 150 two-byte letters: 306 bytes. It ended the sweep after the
    # short runs, in 'File name too long', with no results.csv.
    assert code == 2 and err.count('\n') == 1 and '306 bytes' in err, err
    assert not root.exists()


def test_progress_lines_name_the_setting_of_each_run(tmp_path, capsys):
    root = tmp_path / 'sweep'
    code, out, err = run(capsys, 'sweep', '--agents', 'q-learning', '--tasks', 'simple',
                         '--set', 'step_size=0.1,0.5', '--seeds', '0', '--steps', '20',
                         '--workers', '1', '--out', str(root))
    assert code == 0 and '2/2 runs completed' in out, err
    lines = [line for line in err.splitlines() if ' runs (' in line]
    assert len(lines) == 2, err
    # Two runs that differ only in their setting read differently.
    assert sorted(line.split('(', 1)[1].split(')')[0] for line in lines) == [
        'q-learning [step_size=0.1] on simple, seed 0: completed',
        'q-learning [step_size=0.5] on simple, seed 0: completed']
    # An agent's defaults add nothing to the line.
    code, _, err = run(capsys, 'sweep', '--agents', 'random', '--tasks', 'simple',
                       '--seeds', '0', '--steps', '20', '--workers', '1',
                       '--out', str(tmp_path / 'defaults'))
    assert code == 0 and '(random on simple, seed 0: completed)' in err, err
