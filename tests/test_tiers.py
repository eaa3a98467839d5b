"""The two test tiers: in the light one a test whose optional library is
missing is skipped, naming it; in the full one (`pytest --full`, CI's) it fails."""

import pathlib
import shutil
import subprocess
import sys

PROBE = '''
from conftest import needs


def test_with_a_library_that_is_not_installed():
    needs('gridlab_no_such_library', 'extra-x')


def test_with_one_that_is():
    assert needs('json').dumps(1) == '1'
'''


def run_probe(tmp_path, *options):
    shutil.copy(pathlib.Path(__file__).with_name('conftest.py'), tmp_path)
    (tmp_path / 'test_probe.py').write_text(PROBE)
    return subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider',
                           '-p', 'no:xdist', '-rs', '-q', '--rootdir', str(tmp_path),
                           '-c', '/dev/null', *options, str(tmp_path / 'test_probe.py')],
                          capture_output=True, text=True, cwd=tmp_path)


def test_the_light_tier_skips_naming_the_library_and_its_extra(tmp_path):
    result = run_probe(tmp_path)
    assert result.returncode == 0, result.stdout
    assert '1 passed, 1 skipped' in result.stdout
    assert "needs gridlab_no_such_library (pip install -e '.[extra-x]'" in result.stdout


def test_the_full_tier_fails_instead(tmp_path):
    result = run_probe(tmp_path, '--full')
    assert result.returncode == 1, result.stdout
    assert '1 failed, 1 passed' in result.stdout
    assert "No module named 'gridlab_no_such_library'" in result.stdout
