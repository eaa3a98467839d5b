"""Faults: however a run ends, its folder is whole and says how it ended.

Real signals go to a real `gridlab train` process; the full disk is a real
tmpfs mounted small (the machines that run the suite, CI included, are
root); two real processes race for one folder.
"""

import csv
import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

import gridlab
from gridlab import cli
from gridlab.loops import loggers
from conftest import interruptible, wait_for

GRIDLAB = [sys.executable, '-m', 'gridlab.cli']
LONG_RUN = ['train', '--agent', 'q-learning', '--task', 'maze', '--steps', '50000000',
            '--eval-every', '500', '--no-progress', '--log-every', '0']


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def start(out, *extra, **kwargs):
    return subprocess.Popen(GRIDLAB + LONG_RUN + ['--out', str(out), *extra],
                            stdout=kwargs.pop('stdout', subprocess.DEVNULL),
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible, **kwargs)


def has_checkpoint(out):
    return (out / 'run_state.json').is_file()


def summary(out):
    return json.loads((out / 'summary.json').read_text())


@pytest.mark.parametrize('signum, code, name', [
    (signal.SIGTERM, 143, 'SIGTERM'), (signal.SIGHUP, 129, 'SIGHUP'),
    (signal.SIGINT, 130, 'SIGINT')])
def test_a_signal_leaves_a_checkpoint_and_a_summary(signum, code, name, tmp_path, capsys):
    out = tmp_path / 'run'
    process = start(out)
    wait_for(lambda: has_checkpoint(out), process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert err.strip().splitlines()[-1].startswith(f'gridlab: interrupted by {name}')
    content = summary(out)
    assert content['status'] == 'interrupted' and name in content['ended_by']
    episodes = rows(out / 'episodes.csv')
    assert content['training']['steps'] == sum(int(r['episode_length']) for r in episodes)
    # The folder is evaluable, and resumable.
    assert cli.main(['evaluate', str(out), '--episodes', '1']) == 0
    assert 'greedy episodes' in capsys.readouterr().out


def test_a_closed_output_ends_the_run_like_a_signal(tmp_path):
    out = tmp_path / 'run'
    reader, writer = os.pipe()
    process = start(out, stdout=writer)
    os.close(writer)
    with os.fdopen(reader) as pipe:  # `gridlab train ... | head -2`
        pipe.readline()
        pipe.readline()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 141, err
    content = summary(out)
    assert content['status'] == 'interrupted' and 'broken pipe' in content['ended_by']
    assert (out / 'agent.pt').is_file()


def test_a_full_disk_is_one_line_and_keeps_whole_rows(tiny_disk):
    out = tiny_disk / 'run'
    process = start(out, '--video-every', '2000')
    _, err = process.communicate(timeout=600)
    assert process.returncode == 2, err
    assert err.count('\n') == 1, err
    assert 'No space left on device' in err or 'disk full' in err, err
    with open(out / 'episodes.csv', newline='') as f:
        text = f.read()
    assert text.endswith('\n')
    parsed = list(csv.reader(text.splitlines()))
    assert all(len(row) == len(parsed[0]) for row in parsed)
    # No half-written file is left where a whole one should be.
    assert not [p.name for p in out.iterdir() if '.part' in p.name]
    agent, _, _ = gridlab.experiments.load_run(out)  # The last checkpoint loads.


def test_a_csv_write_that_fails_half_way_is_cut_back(tmp_path):
    logger = loggers.CSVLogger(tmp_path / 'log.csv')
    logger.write({'episode': 0, 'episode_return': 1.5})

    class FillsUp:
        """Writes half of what it is given, then the disk is full."""

        def __init__(self, file):
            self.file = file

        def write(self, text):
            self.file.write(text[:len(text) // 2])
            self.file.flush()
            raise OSError(errno.ENOSPC, 'No space left on device')

        def __getattr__(self, name):
            return getattr(self.file, name)
    logger._file = FillsUp(logger._file)
    with pytest.raises(OSError):
        logger.write({'episode': 1, 'episode_return': 2.25})
    logger.write({'episode': 2, 'episode_return': 3.0})  # Space again.
    logger.close()
    assert rows(tmp_path / 'log.csv') == [{'episode': '0', 'episode_return': '1.5'},
                                          {'episode': '2', 'episode_return': '3.0'}]


def test_a_video_that_does_not_fit_never_replaces_a_good_one(tiny_disk):
    good = tiny_disk / 'episode.mp4'
    frames = [np.full((64, 64, 3), i, dtype=np.uint8) for i in range(0, 250, 10)]
    gridlab.save_video(frames, good, frame_rate=8)
    before = good.read_bytes()
    (tiny_disk / 'filler').write_bytes(b'\0' * (512 * 1024 - len(before) - 24 * 1024))
    noisy = [np.random.default_rng(i).integers(0, 256, (256, 256, 3), dtype=np.uint8)
             for i in range(40)]
    with pytest.raises(OSError):
        gridlab.save_video(noisy, good, frame_rate=8)
    assert good.read_bytes() == before
    assert not [p.name for p in tiny_disk.iterdir() if '.part' in p.name]


def test_two_runs_into_one_folder_the_second_refuses(tmp_path):
    out = tmp_path / 'run'
    first = start(out)
    wait_for(lambda: (out / 'episodes.csv').is_file(), first)
    second = subprocess.run(GRIDLAB + ['train', '--agent', 'sarsa', '--task', 'simple',
                                       '--steps', '300', '--overwrite', '--out', str(out)],
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 2
    assert second.stderr.count('\n') == 1 and 'another gridlab run' in second.stderr
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=120)
    content = summary(out)
    assert content['config']['agent'] == 'q-learning'  # One run's files only.
    assert all(r['episode'] for r in rows(out / 'episodes.csv'))
    # Once the first has ended, the folder can be taken over.
    third = subprocess.run(GRIDLAB + ['train', '--agent', 'sarsa', '--task', 'simple',
                                      '--steps', '300', '--overwrite', '--out', str(out),
                                      '--no-progress'],
                           capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert summary(out)['config']['agent'] == 'sarsa'


def test_bad_arguments_touch_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Where a wrongly accepted --out '' would write.
    out = tmp_path / 'run'
    argv = ['train', '--agent', 'random', '--task', 'simple', '--episodes', '2',
            '--out', str(out)]
    assert cli.main(argv) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    for extra in (['--log-every', '-1'], ['--eval-every', '0'], ['--discount', '2'],
                  ['--set', 'nope=1'], ['--observation', 'pixels']):
        try:
            code = cli.main(argv + ['--overwrite'] + extra)
        except SystemExit as exit_:  # argparse's own checks.
            code = exit_.code
        assert code == 2, extra
        assert capsys.readouterr().err.count('\n') == 1
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert cli.main(['train', '--agent', 'random', '--task', 'simple', '--out', '']) == 2
    assert 'out is empty' in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['run']


def test_leftover_temporary_files_are_cleaned_by_the_next_run(tmp_path):
    out = tmp_path / 'run'
    out.mkdir()
    (out / '.agent.abc123.part.pt').write_bytes(b'half a checkpoint')
    (out / '.summary.x1.part.json').write_text('{')
    assert cli.main(['train', '--agent', 'random', '--task', 'simple', '--episodes',
                     '1', '--out', str(out), '--no-progress']) == 0
    assert not [p.name for p in out.iterdir() if '.part' in p.name]


def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / 'run'
    assert cli.main(['train', '--agent', 'q-learning', '--task', 'simple', '--steps',
                     '300', '--out', str(out), '--no-progress']) == 0
    checkpoint = out / 'agent.pt'
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF  # One flipped byte in the middle.
    checkpoint.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli.main(['evaluate', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'agent.pt' in err and 'damaged' in err
    checkpoint.unlink()
    checkpoint.mkdir()  # An agent.pt that is a folder.
    assert cli.main(['evaluate', str(out)]) == 2
    assert 'is a folder' in capsys.readouterr().err


def test_non_finite_weights_are_refused_at_save_and_restore(tmp_path):
    from agents import DQN, QLearning
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=gridlab.ObservationType.GRID))
    agent = DQN(spec, seed=0)
    with torch.no_grad():
        next(agent.network.parameters())[0] = float('nan')
    with pytest.raises(ValueError, match='NaN or infinite'):
        agent.save(tmp_path / 'nan.pt')
    assert not (tmp_path / 'nan.pt').exists()
    _, index_spec = gridlab.setup_environment(gridlab.build_gridworld_task('simple'))
    table = QLearning(index_spec, seed=0)
    table.save(tmp_path / 'q.pt')
    # A checkpoint written by other means with an infinite value in it.
    from gridlab.core import checkpoints
    state = table._state()
    state['q'][3][1] = float('inf')
    payload = __import__('io').BytesIO()
    torch.save(state, payload)
    payload = payload.getvalue()
    torch.save({'format': 'gridlab-checkpoint', 'version': checkpoints._VERSION,
                'agent': 'QLearning', 'payload': payload,
                'sha256': __import__('hashlib').sha256(payload).hexdigest()},
               tmp_path / 'inf.pt')
    fresh = QLearning(index_spec, seed=0)
    with pytest.raises(ValueError, match='NaN or infinite'):
        fresh.restore(tmp_path / 'inf.pt')
    np.testing.assert_array_equal(fresh.q_table, np.full((90, 4), 10.))


def test_evaluate_reproduces_the_summarys_figure(tmp_path, capsys):
    out = tmp_path / 'run'
    assert cli.main(['train', '--agent', 'sarsa', '--task', 'cliff', '--steps', '3000',
                     '--eval-episodes', '7', '--out', str(out), '--no-progress']) == 0
    evaluation = summary(out)['evaluation']
    capsys.readouterr()
    assert cli.main(['evaluate', str(out), '--episodes', '7']) == 0
    printed = capsys.readouterr().out
    expected = (f'mean return {evaluation["mean_return"]:.2f} (std '
                f'{evaluation["std_return"]:.2f}, min {evaluation["min_return"]:.2f}, '
                f'max {evaluation["max_return"]:.2f})')
    assert expected in printed


def test_an_exception_in_evaluation_keeps_the_checkpoint(tmp_path, monkeypatch):
    from gridlab import experiments

    def broken(*args, **kwargs):
        raise RuntimeError('evaluation broke')
    monkeypatch.setattr(experiments.run, 'evaluation_statistics', broken)
    with pytest.raises(RuntimeError, match='evaluation broke'):
        gridlab.run_experiment('q-learning', 'simple', tmp_path / 'run', steps=300,
                               verbose=False)
    content = summary(tmp_path / 'run')
    assert content['status'] == 'failed'
    assert content['ended_by'] == 'RuntimeError: evaluation broke'
    assert content['training']['steps'] == 300
    monkeypatch.undo()
    environment, actor, _ = experiments.load_run(tmp_path / 'run')
    assert np.isfinite(actor.q_table).all()
