"""Every benchmark runs (a --quick run each) and reports whole, sane figures.

Figures are not judged against targets here (machines are shared and noisy);
what is checked is that each benchmark returns one row per thing it
measured, that every figure is a finite positive number, that each row is
printed, and that learning rows are consistent with their budgets.
"""

import importlib.util
import math
import numbers
import pathlib
import sys

import pytest
from conftest import needs

FOLDER = pathlib.Path(__file__).resolve().parents[1] / 'benchmarks'
# Files starting with an underscore are shared code, not benchmarks.
BENCHMARKS = sorted(p for p in FOLDER.glob('*.py') if not p.name.startswith('_'))


def load(path):
    # Benchmarks run as scripts, with their folder on the path (for _common).
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('path', BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_reports_every_row(path, capsys):
    if path.stem in ('sweep', 'tune'):  # Ray and Optuna: test-full.
        needs('ray' if path.stem == 'sweep' else 'optuna')
    if path.stem == 'lunarlander':  # Gymnasium's Box2D: the box2d extra.
        needs('Box2D', 'box2d')
    # The suites' benchmarks: each suite's extra.
    suite = {'minatar_dqn': 'minatar', 'minigrid_ppo': 'minigrid', 'bsuite_dqn': 'bsuite'}
    if path.stem in suite:
        needs(suite[path.stem], suite[path.stem])
    rows = load(path).main(['--quick'])
    out = capsys.readouterr().out
    assert isinstance(rows, list) and rows, f'{path.name} returned no rows'
    for row in rows:
        figures = {k: v for k, v in row.items()
                   if isinstance(v, numbers.Real) and not isinstance(v, bool)}
        assert figures, row
        for name, value in figures.items():
            assert math.isfinite(value) and value >= 0, (name, value, row)
        label = next(v for v in row.values() if isinstance(v, str))
        # Columns are padded with spaces: compare with runs of spaces as one.
        assert ' '.join(label.split()) in ' '.join(out.split()), (
            f'row {row} is not printed')
        if 'solved' in row:  # A learning row: counts and budget agree.
            assert 0 <= row['solved'] <= row['seeds']
            assert row['steps'] <= row['budget']
            if row['solved'] == 0:  # No seed solved: each used the whole budget.
                assert row['steps'] == row['budget']


def test_tune_ppo_cartpole_study(capsys):
    # benchmarks/tune.py's second study (the test above runs the default one).
    needs('optuna')
    rows = load(FOLDER / 'tune.py').main(['--study', 'ppo-cartpole', '--quick'])
    out = capsys.readouterr().out
    assert 'ppo on CartPole-v1' in out
    assert [row['settings'] for row in rows] == ['defaults', 'tuned']
    for row in rows:
        assert 0 <= row['solved'] <= row['seeds'] and row['steps'] <= row['budget']
        assert 0 <= row['pruned_share'] < 1
        if row['solved'] == 0:
            assert row['steps'] == row['budget']
