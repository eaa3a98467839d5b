"""The benchmarks still run (a smoke run each; their figures are not judged)."""

import importlib.util
import pathlib

import pytest

BENCHMARKS = sorted((pathlib.Path(__file__).resolve().parents[1] / 'benchmarks').glob('*.py'))


@pytest.mark.parametrize('path', BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_runs_quick(path, capsys):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(['--quick'])
    out = capsys.readouterr().out
    assert len(out.splitlines()) >= 3 and any(ch.isdigit() for ch in out)
