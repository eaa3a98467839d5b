"""kill -9 at the awkward moments of a run: right after a checkpoint is committed."""

import csv
import json
import signal
import subprocess
import sys

import pytest

import gridlab
from conftest import interruptible

# A run of q-learning that SIGKILLs itself as soon as its COMMITth checkpoint is
# committed (agent.pt and run_state.json both written), as the OS might.
KILLED_AFTER_COMMIT = '''
import os, signal, sys
import gridlab
from gridlab.experiments import run_folder
real, commits = run_folder.commit_checkpoint, []
def commit(*args, **kwargs):
    real(*args, **kwargs)
    commits.append(1)
    if len(commits) == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
run_folder.commit_checkpoint = commit
gridlab.run_experiment('q-learning', 'obstacle', sys.argv[1], seed=3, steps=3_000,
                       verbose=False, video=False, pictures=False,
                       checkpoint_every=500, checkpoint_seconds=None, **{EVAL})
'''


def rows(path):
    with open(path, newline='', encoding='utf-8') as f:
        return [(r['episode'], r['episode_length'], r['episode_return'], r['total_steps'])
                for r in csv.DictReader(f)]


def test_a_kill_right_after_a_checkpoint_loses_no_episode_row(tmp_path):
    for evaluation in ('', "'eval_every': 700"):
        killed = tmp_path / f'killed{len(evaluation)}'
        script = KILLED_AFTER_COMMIT.replace('{EVAL}', '{' + evaluation + '}')
        process = subprocess.run([sys.executable, '-c', script, str(killed), '2'],
                                 capture_output=True, text=True, timeout=300)
        assert process.returncode == -signal.SIGKILL, process.stderr
        state = json.loads((killed / 'run_state.json').read_text())
        # Every episode the checkpoint counts has its row on disk.
        assert len([r for r in rows(killed / 'episodes.csv')
                    if int(r[3]) <= state['total_steps']]) == state['episodes']
        gridlab.experiments.resume_experiment(killed, progress=False, verbose=False,
                                              video=False, checkpoint_seconds=None)
        whole = gridlab.run_experiment(
            'q-learning', 'obstacle', tmp_path / f'whole{len(evaluation)}', seed=3,
            steps=3_000, verbose=False, video=False, pictures=False,
            **({'eval_every': 700} if evaluation else {}))
        after = rows(killed / 'episodes.csv')
        assert after == rows(whole.directory / 'episodes.csv')
        assert [int(r[0]) for r in after] == list(range(len(after)))


# `gridlab train` whose SIGNAL lands just after its 10th row reaches episodes.csv,
# before the run has counted that episode.
SIGNALLED_AFTER_A_ROW = '''
import os, signal, sys
from gridlab import cli
from gridlab.loops import loggers
real, rows = loggers.CSVLogger.write, []
def write(self, data):
    real(self, data)
    if self.path.name == 'episodes.csv':
        rows.append(data)
        if len(rows) == 10:
            os.kill(os.getpid(), getattr(signal, sys.argv[1]))
loggers.CSVLogger.write = write
sys.exit(cli.main(sys.argv[2:]))
'''


@pytest.mark.parametrize('name, code', [('SIGTERM', 143), ('SIGINT', 130)])
def test_a_signal_between_a_row_and_its_count_is_held_until_both(tmp_path, name, code):
    out = tmp_path / 'run'
    process = subprocess.run(
        [sys.executable, '-c', SIGNALLED_AFTER_A_ROW, name, 'train', '--agent',
         'q-learning', '--task', 'maze', '--steps', '50000000', '--eval-every', '500',
         '--no-progress', '--log-every', '0', '--out', str(out)],
        capture_output=True, text=True, timeout=300, preexec_fn=interruptible)
    assert process.returncode == code, process.stderr
    done = json.loads((out / 'summary.json').read_text())
    state = json.loads((out / 'run_state.json').read_text())
    logged = rows(out / 'episodes.csv')
    assert len(logged) == 10
    assert done['training']['episodes'] == state['episodes'] == 10
    assert done['training']['steps'] == state['total_steps'] == sum(
        int(r[1]) for r in logged)


@pytest.mark.parametrize('key, value', [('training_seconds', 'abc'), ('total_steps', -5),
                                        ('episodes', 2.5), ('total_steps', True)])
def test_a_run_state_with_values_gridlab_never_writes_is_refused_in_one_line(
        tmp_path, key, value):
    out = gridlab.run_experiment('q-learning', 'simple', tmp_path / 'run', steps=500,
                                 verbose=False, video=False, pictures=False).directory
    done = json.loads((out / 'summary.json').read_text())
    (out / 'summary.json').write_text(json.dumps(dict(done, status='interrupted')))
    state = json.loads((out / 'run_state.json').read_text())
    (out / 'run_state.json').write_text(json.dumps(dict(state, **{key: value})))
    with pytest.raises(gridlab.experiments.ExperimentError, match='run_state.json'):
        gridlab.experiments.resume_experiment(out, verbose=False, video=False)
