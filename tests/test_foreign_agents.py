"""Another top-level package named `agents` (openai-agents installs one) is named.

gridlab's agents live in a top-level package `agents`; when Python finds
another one first, `gridlab train` says so in one line instead of 'unknown
agent ... (none registered)'. Here the other package is a real folder put
first on PYTHONPATH of a real `gridlab` process (tests/test_packaging.py
overwrites the package inside an environment installed from the wheel).
"""

import os
import subprocess
import sys

import pytest

GRIDLAB = [sys.executable, '-m', 'gridlab.cli']
# A stand-in for openai-agents: its import fails here as a package whose
# dependencies are missing would (gridlab must find it, not import it).
FAILS_TO_IMPORT = 'from ._dependency_not_installed import Agent\n'
IMPORTS = '"""Somebody else\'s agents."""\n\n\nclass Agent:\n    pass\n'
# A user's own agent, given by import path: it has nothing to do with `agents`.
OWN_AGENT = ('from gridlab import PassiveActor\n\n\n'
             'class Still(PassiveActor):\n'
             '    def __init__(self, environment_spec, seed=None):\n'
             '        pass\n\n'
             '    def select_action(self, observation):\n'
             '        return 0\n')


def gridlab_with(path, *argv, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(path)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    return subprocess.run(GRIDLAB + list(argv), capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.fixture(params=['fails to import', 'imports', 'no __init__.py'])
def foreign(request, tmp_path):
    """A folder on whose path a package `agents` that is not gridlab's lies."""
    root = tmp_path / 'elsewhere'
    package = root / 'agents'
    package.mkdir(parents=True)
    if request.param != 'no __init__.py':
        text = FAILS_TO_IMPORT if request.param == 'fails to import' else IMPORTS
        (package / '__init__.py').write_text(text)
    (root / 'own_agent.py').write_text(OWN_AGENT)
    return root


def test_train_names_the_foreign_package_and_what_to_do(foreign, tmp_path):
    check_named(foreign, 'q-learning', tmp_path)


@pytest.mark.parametrize('foreign', ['fails to import'], indirect=True)
def test_so_does_an_import_path_into_it(foreign, tmp_path):
    check_named(foreign, 'agents.tabular:QLearning', tmp_path)


def check_named(foreign, agent, tmp_path):
    result = gridlab_with(foreign, 'train', '--agent', agent, '--task', 'simple',
                          '--steps', '100', '--no-progress', '--out', str(tmp_path / 'run'),
                          cwd=tmp_path)
    err = result.stderr
    assert result.returncode == 2, f'exit {result.returncode}; stderr:\n{err}'
    assert err.count('\n') == 1, f'expected one line, got:\n{err}'
    assert err.startswith(f"gridlab: error: the top-level package 'agents' at "
                          f"{foreign / 'agents'}"), err
    assert "is not gridlab's" in err and 'openai-agents' in err, err
    assert 'reinstall gridlab in a virtual environment of its own' in err, err
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('foreign', ['imports'], indirect=True)
def test_an_agent_of_ones_own_still_trains_beside_a_foreign_package(foreign, tmp_path):
    result = gridlab_with(foreign, 'train', '--agent', 'own_agent:Still', '--task',
                          'simple', '--steps', '100', '--no-progress',
                          '--out', str(tmp_path / 'run'), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'run' / 'summary.json').is_file()


def test_gridlabs_own_package_is_not_called_foreign():
    from gridlab import registry
    assert registry.foreign_agents_package() is None
