"""A closed output (`gridlab tasks | head -1`) ends every command quietly.

Each command runs as a real process whose stdout is a pipe nobody reads: its
reader is closed before the command starts, so the first write fails, as it
does once `head` has exited. Python's buffering decides where that failure
surfaces (at the first print when unbuffered, at the flush at exit when
buffered), so every command runs both ways.
"""

import os
import subprocess
import sys
import warnings

import pytest
from conftest import needs

from gridlab.experiments import sweep
from gridlab.experiments.compare import CompareWarning

GRIDLAB = [sys.executable, '-m', 'gridlab.cli']
SIGPIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for `... | head`.
SPACE = '[step_size]\nlow = 0.01\nhigh = 1.0\nlog = true\n'


@pytest.fixture(scope='module')
def finished_sweep(tmp_path_factory):
    """A sweep folder of two finished runs, for evaluate, report and compare."""
    root = tmp_path_factory.mktemp('closed') / 'sweep'
    with warnings.catch_warnings():  # That runs this short have no auc is beside the point.
        warnings.simplefilter('ignore', CompareWarning)
        outcome = sweep.run_sweep(['random'], ['simple'], '0-1', root, steps=100,
                                  workers=1, eval_episodes=1, progress=False)
    assert not outcome.failed
    return root


def _argv(command, sweep_folder, tmp_path):
    run = str(sweep_folder / 'simple' / 'random' / 'defaults' / 'seed0')
    space = tmp_path / 'space.toml'
    space.write_text(SPACE)
    return {
        'train': ['train', '--agent', 'random', '--task', 'simple', '--episodes', '2',
                  '--eval-episodes', '1', '--no-progress', '--out', str(tmp_path / 'run')],
        'evaluate': ['evaluate', run, '--episodes', '1'],
        'sweep': ['sweep', '--agents', 'random', '--tasks', 'simple', '--seeds', '0-1',
                  '--steps', '50', '--workers', '1', '--out', str(tmp_path / 'sweep')],
        'tune': ['tune', '--agent', 'q-learning', '--task', 'simple', '--space',
                 str(space), '--trials', '1', '--steps', '200', '--eval-every', '100',
                 '--out', str(tmp_path / 'study')],
        'compare': ['compare', str(sweep_folder), '--metric', 'mean_return',
                    '--out', str(tmp_path / 'compare')],
        'tasks': ['tasks'],
        'show': ['show', 'simple', '--out', str(tmp_path / 'simple.png')],
        'report': ['report', run],
        '--help': ['--help'],
        'train --help': ['train', '--help'],
        '--version': ['--version'],
    }[command]


def run_into_closed_pipe(argv, cwd, buffered):
    """(exit code, stderr) of `gridlab ARGV` writing into a pipe with no reader."""
    env = dict(os.environ)
    if buffered:
        env.pop('PYTHONUNBUFFERED', None)
    else:
        env['PYTHONUNBUFFERED'] = '1'
    reader, writer = os.pipe()
    os.close(reader)  # `head` has read its lines and gone.
    try:
        result = subprocess.run(GRIDLAB + argv, stdin=subprocess.DEVNULL, stdout=writer,
                                stderr=subprocess.PIPE, text=True, cwd=cwd, env=env,
                                timeout=300)
    finally:
        os.close(writer)
    return result.returncode, result.stderr


@pytest.mark.parametrize('buffered', [True, False], ids=['buffered', 'unbuffered'])
@pytest.mark.parametrize('command', ['train', 'evaluate', 'sweep', 'tune', 'compare',
                                     'tasks', 'show', 'report', '--help', 'train --help',
                                     '--version'])
def test_a_closed_output_ends_the_command_quietly(command, buffered, finished_sweep,
                                                  tmp_path):
    if command == 'tune':
        needs('optuna', 'tune')
    argv = _argv(command, finished_sweep, tmp_path)
    code, err = run_into_closed_pipe(argv, tmp_path, buffered)
    assert code == SIGPIPE_EXIT, (
        f'gridlab {" ".join(argv)} into a closed pipe exited {code}; expected '
        f'{SIGPIPE_EXIT} (128 + SIGPIPE); stderr:\n{err}')
    # No traceback, no "Exception ignored in: <stdout>": only gridlab's own lines
    # (a sweep's progress and warnings go to stderr, which is still open).
    foreign = [line for line in err.splitlines() if not line.startswith('gridlab')]
    assert not foreign, f'gridlab {" ".join(argv)}: stderr has lines not gridlab\'s:\n{err}'
    if command != 'sweep':
        assert err == '', f'gridlab {" ".join(argv)}: expected no stderr, got:\n{err}'


def test_an_error_message_still_reaches_an_open_stderr(tmp_path):
    # The closed stdout must not swallow what goes to stderr.
    code, err = run_into_closed_pipe(['train', '--agent', 'nope', '--task', 'simple'],
                                     tmp_path, buffered=True)
    assert code == 2, err
    assert err.count('\n') == 1 and "unknown agent 'nope'" in err, err
