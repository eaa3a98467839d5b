"""`gridlab tune`: an Optuna study whose trials are run folders, resumable,
shared by workers, pruned by the periodic evaluations; bad spaces in one line."""

import csv
import json
import pathlib

import pytest
from conftest import needs

from gridlab import cli
from gridlab.experiments import tune

needs('optuna', 'tune')

SPACE = '''
[step_size]
low = 0.01
high = 1.0
log = true
[epsilon]
low = 0.01
high = 0.5
'''


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


@pytest.fixture
def space(tmp_path):
    path = tmp_path / 'space.toml'
    path.write_text(SPACE)
    return path


def study(space, out, trials, *extra):
    return cli.main(['tune', '--agent', 'q-learning', '--task', 'simple', '--space',
                     str(space), '--trials', str(trials), '--steps', '3000',
                     '--eval-every', '500', '--out', str(out), *extra])


def test_a_study_of_run_folders_its_best_settings_and_a_rerun_that_continues(
        space, tmp_path, capsys):
    out = tmp_path / 'study'
    assert study(space, out, 8) == 0
    table = rows(out / 'trials.csv')
    assert len(table) == 8
    states = {row['state'] for row in table}
    assert states <= {'COMPLETE', 'PRUNED'} and 'PRUNED' in states  # The pruner acted.
    for row in table:  # Each trial is a run folder that says how it ended.
        summary = json.loads((pathlib.Path(row['directory']) / 'summary.json').read_text())
        assert summary['status'] == {'COMPLETE': 'completed', 'PRUNED': 'pruned'}[
            row['state']]
        assert summary['hyperparameters']['step_size'] == pytest.approx(
            float(row['param.step_size']))
    # The objective: the mean greedy return of the trial's evaluations.
    best = max((row for row in table if row['state'] == 'COMPLETE'),
               key=lambda row: float(row['value']))
    evaluations = rows(f'{best["directory"]}/evaluation.csv')
    assert float(best['value']) == pytest.approx(
        sum(float(r['mean_return']) for r in evaluations) / len(evaluations))
    assert 'best objective' in capsys.readouterr().out
    # best.toml trains the best trial's settings.
    assert cli.main(['train', '--config', str(out / 'best.toml'), '--out',
                     str(tmp_path / 'best'), '--no-progress', '--log-every', '100']) == 0
    trained = json.loads((tmp_path / 'best' / 'summary.json').read_text())
    assert trained['hyperparameters']['step_size'] == pytest.approx(
        float(best['param.step_size']))
    for name in ('history.png', 'importance.png', 'report.html', 'study.db'):
        assert (out / name).is_file(), name
    # A rerun continues the study: two more trials, the first eight untouched.
    before = {row['directory']: (pathlib.Path(row['directory']) / 'summary.json')
              .stat().st_mtime_ns for row in table}
    assert study(space, out, 10) == 0
    again = rows(out / 'trials.csv')
    assert len(again) == 10 and [r['number'] for r in again] == [str(i) for i in range(10)]
    assert all((pathlib.Path(d) / 'summary.json').stat().st_mtime_ns == t
               for d, t in before.items())
    # The same folder with other settings is refused.
    assert cli.main(['tune', '--agent', 'q-learning', '--task', 'simple', '--space',
                     str(space), '--trials', '12', '--steps', '2000', '--eval-every',
                     '500', '--out', str(out)]) == 2
    assert 'steps = 3000, not 2000' in capsys.readouterr().err


def test_workers_share_one_study(space, tmp_path):
    out = tmp_path / 'shared'
    assert study(space, out, 6, '--workers', '2') == 0
    table = rows(out / 'trials.csv')
    # Each worker starts a trial only while the study holds fewer than 6; two
    # may look at the same moment, so one more at most.
    assert 6 <= len(table) <= 7
    assert len({row['directory'] for row in table}) == len(table)


@pytest.mark.parametrize('text, message', [
    ('', 'is empty'),
    ('[nope]\nlow = 1\nhigh = 2\n', "no argument 'nope'"),
    ('[step_sise]\nlow = 0.1\nhigh = 1\n', "did you mean 'step_size'"),
    ('[step_size]\nlow = 1\nhigh = 0.1\n', 'needs numbers low < high'),
    ('[step_size]\nlow = 0\nhigh = 1\nlog = true\n', 'low must be > 0'),
    ('[step_size]\nlow = 0.1\nhigh = 1\nlog = "yes"\n', 'log must be true or false'),
    ('[step_size]\nchoices = []\n', 'non-empty list'),
    ('[step_size]\nchoices = [0.1]\nlow = 0.1\n', 'choices and a range'),
    ('[step_size]\nlow = 0.1\nhigh = 1\nstep = 0.1\n', "unknown key(s) 'step'"),
    ('[step_size]\nchoices = ["fast"]\n', "choice 'fast'"),
    ('step_size = 0.1\n', 'must be a table'),
    ('[step_size]\nlow = 0.1\nhigh = 2.0\n', 'bound 2.0'),
])
def test_a_bad_search_space_is_one_line(tmp_path, capsys, text, message):
    path = tmp_path / 'space.toml'
    path.write_text(text)
    assert study(path, tmp_path / 'out', 3) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and message in err, err
    assert not (tmp_path / 'out' / 'study.db').exists()


def test_a_study_needs_periodic_evaluations(space, tmp_path):
    with pytest.raises(tune.TuneError, match='eval_every'):
        tune.run_tune('q-learning', 'simple', space, 3, tmp_path / 'out', steps=1000)


def test_a_study_leaves_matplotlibs_style_as_it_found_it(tmp_path):
    # Optuna's plots switch to ggplot; later figures of the process (a run's
    # pictures, a sweep's comparison) must not be drawn in it.
    import matplotlib
    matplotlib.use('Agg')
    before = dict(matplotlib.rcParams)
    tune.run_tune('q-learning', 'simple', {'step_size': tune.Range(0.1, 1.)}, 2,
                  tmp_path / 'study', steps=1000, eval_every=500)
    assert (tmp_path / 'study' / 'history.png').is_file()
    changed = {k for k in before if matplotlib.rcParams[k] != before[k]}
    assert not changed


def test_a_trial_of_several_seeds_is_judged_on_all_of_them(space, tmp_path):
    out = tmp_path / 'study'
    assert study(space, out, 3, '--seeds-per-trial', '2', '--seed', '7') == 0
    table = rows(out / 'trials.csv')
    for row in table:
        trial = pathlib.Path(row['directory'])
        runs = sorted(path.name for path in trial.iterdir())
        if row['state'] == 'COMPLETE':
            assert runs == ['seed_7', 'seed_8']
            returns = [float(r['mean_return']) for seed in runs
                       for r in rows(trial / seed / 'evaluation.csv')]
            assert float(row['value']) == pytest.approx(sum(returns) / len(returns))
            for seed in (7, 8):
                summary = json.loads((trial / f'seed_{seed}' / 'summary.json').read_text())
                assert summary['config']['seed'] == seed
                assert summary['status'] == 'completed'
            # The pruner saw the second run's evaluations after the first's.
            assert int(row['steps']) > 3000
    # The same folder with another number of seeds per trial is refused.
    with pytest.raises(tune.TuneError, match='seeds_per_trial = 2, not 1'):
        tune.run_tune('q-learning', 'simple', space, 4, out, steps=3000, eval_every=500,
                      seed=7)


def test_a_trial_can_be_judged_on_another_evaluation_column(space, tmp_path):
    out = tmp_path / 'study'
    assert study(space, out, 2, '--metric', 'optimal_fraction') == 0
    for row in rows(out / 'trials.csv'):
        fractions = [float(r['optimal_fraction'])
                     for r in rows(pathlib.Path(row['directory']) / 'evaluation.csv')]
        assert float(row['value']) == pytest.approx(sum(fractions) / len(fractions))
    # The report says what the objective was.
    assert 'objective (mean evaluation optimal_fraction)' in (out / 'report.html').read_text()
    with pytest.raises(tune.TuneError, match="metric = 'optimal_fraction', not 'mean_return'"):
        tune.run_tune('q-learning', 'simple', space, 3, out, steps=3000, eval_every=500)


@pytest.mark.parametrize('agent, task, metric, message', [
    ('q-learning', 'simple', 'std_return', "metric must be one of mean_return"),
    ('q-learning', 'simple', 'auc', "got 'auc'"),
    ('dqn', 'CartPole-v1', 'optimal_fraction', "'CartPole-v1' is a Gymnasium task"),
])
def test_a_metric_that_cannot_judge_a_trial_is_refused(agent, task, metric, message,
                                                       tmp_path):
    with pytest.raises(tune.TuneError, match=message):
        tune.run_tune(agent, task, {'learning_rate' if agent == 'dqn' else 'step_size':
                                    tune.Range(0.001, 0.1)}, 2, tmp_path,
                      steps=1000, eval_every=500, metric=metric)
