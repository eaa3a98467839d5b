"""Faults of sweeps: however a sweep ends, its folder is whole and says how.

The sweep equivalents of tests/test_faults.py: a worker killed by the OS
(SIGKILL from inside, as the out-of-memory killer would), SIGTERM to the
sweep, its main process killed, two sweeps into one folder, a full disk (a
real tmpfs, as there), and a closed output. The agents misbehave through
`faulty_agents.Fragile` (see tests/faulty_agents.py).
"""

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from gridlab.experiments import sweep
from conftest import interruptible, wait_for

TESTS = pathlib.Path(__file__).resolve().parent
GRIDLAB = [sys.executable, '-m', 'gridlab.cli']
FRAGILE = 'faulty_agents:Fragile'


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def summary(folder):
    return json.loads((folder / 'summary.json').read_text())


def environment(**variables):
    env = dict(os.environ, **variables)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(TESTS),
                                                      env.get('PYTHONPATH')]))
    return env


def start(out, seeds, *extra, slow='', **kwargs):
    argv = GRIDLAB + ['sweep', '--agents', FRAGILE, '--tasks', 'simple', '--seeds',
                      seeds, '--steps', '3000', '--workers', '2', '--out', str(out),
                      *extra]
    return subprocess.Popen(argv, env=environment(GRIDLAB_TEST_SLOW_SEEDS=slow),
                            stdout=kwargs.pop('stdout', subprocess.PIPE),
                            stderr=kwargs.pop('stderr', subprocess.PIPE), text=True,
                            preexec_fn=interruptible, **kwargs)


def run_folder(out, seed):
    return out / 'simple' / 'faulty_agents.Fragile' / 'defaults' / f'seed{seed}'


def status(out, seed):
    try:
        return summary(run_folder(out, seed))['status']
    except (OSError, ValueError, KeyError):
        return None


def children(pid):
    """The processes whose parent is `pid` (read from /proc)."""
    found = []
    for entry in pathlib.Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid):
    try:
        state = pathlib.Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'


def gone_soon(pids, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return not any(alive(pid) for pid in pids)


def test_a_worker_killed_by_the_os_costs_only_its_run(tmp_path):
    out = tmp_path / 'sweep'
    argv = GRIDLAB + ['sweep', '--agents', FRAGILE, '--tasks', 'simple', '--seeds',
                      '0-3', '--steps', '300', '--workers', '2', '--out', str(out)]
    result = subprocess.run(argv, env=environment(GRIDLAB_TEST_KILL_SEEDS='1'),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert 'Traceback' not in result.stderr and 'BrokenProcessPool' not in result.stderr
    assert '3/4 runs completed' in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert 'seed1' in last and 'killed by SIGKILL' in last and 'run the same command' in last
    table = {int(r['seed']): r for r in rows(out / 'results.csv')}
    assert [table[s]['status'] for s in range(4)] == ['completed', 'failed',
                                                      'completed', 'completed']
    assert 'SIGKILL' in table[1]['error']
    lost = summary(run_folder(out, 1))
    assert lost['status'] == 'failed' and 'SIGKILL' in lost['ended_by']
    assert not (run_folder(out, 1) / '.gridlab.lock').exists()
    assert not (out / '.gridlab.lock').exists()
    assert (out / 'aggregate.csv').is_file()
    # The same command redoes the lost run (the OS leaves it alone this time).
    kept = {s: run_folder(out, s).joinpath('summary.json').stat().st_mtime_ns
            for s in (0, 2, 3)}
    again = subprocess.run(argv, env=environment(), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert status(out, 1) == 'completed'
    assert {s: run_folder(out, s).joinpath('summary.json').stat().st_mtime_ns
            for s in (0, 2, 3)} == kept


def test_a_killed_worker_in_python_gives_a_failed_row(tmp_path, monkeypatch):
    monkeypatch.setenv('GRIDLAB_TEST_KILL_SEEDS', '0,2')
    monkeypatch.syspath_prepend(str(TESTS))
    outcome = sweep.run_sweep([FRAGILE], ['simple'], '0-2', tmp_path / 'sweep',
                              steps=200, workers=2, progress=False, aggregate=False)
    assert [(row['seed'], row['status']) for row in outcome.rows] == [
        (0, 'failed'), (1, 'completed'), (2, 'failed')]


def test_sigterm_stops_the_workers_and_a_rerun_continues(tmp_path):
    out = tmp_path / 'sweep'
    process = start(out, '0-2', slow='1,2')
    wait_for(lambda: status(out, 0) == 'completed' and status(out, 1) == 'running'
             and status(out, 2) == 'running', process)
    workers = children(process.pid)
    assert len(workers) == 2
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith('gridlab: sweep stopped')
    assert gone_soon(workers, 5)
    for seed in (1, 2):
        content = summary(run_folder(out, seed))
        assert content['status'] == 'interrupted' and 'SIGTERM' in content['ended_by']
    table = {int(r['seed']): r['status'] for r in rows(out / 'results.csv')}
    assert table == {0: 'completed', 1: 'interrupted', 2: 'interrupted'}
    assert not list(out.rglob('.gridlab.lock'))
    finished = run_folder(out, 0).joinpath('summary.json').read_bytes()
    rerun = start(out, '0-2')
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert [status(out, s) for s in range(3)] == ['completed'] * 3
    assert run_folder(out, 0).joinpath('summary.json').read_bytes() == finished


def test_one_sweep_per_folder_and_workers_die_with_their_sweep(tmp_path):
    out = tmp_path / 'sweep'
    first = start(out, '0-1', slow='0,1')
    wait_for(lambda: status(out, 0) == 'running' and status(out, 1) == 'running', first)
    second = subprocess.run(GRIDLAB + ['sweep', '--agents', FRAGILE, '--tasks', 'simple',
                                       '--seeds', '0-1', '--steps', '3000', '--out',
                                       str(out)],
                            env=environment(), capture_output=True, text=True,
                            timeout=120)
    assert second.returncode == 2, second.stderr
    assert second.stderr.count('\n') == 1 and 'another gridlab sweep' in second.stderr
    assert not (out / 'results.csv').exists()  # The second wrote nothing.
    workers = children(first.pid)
    assert len(workers) == 2
    first.send_signal(signal.SIGKILL)  # The sweep itself dies, without a word.
    first.communicate(timeout=60)
    assert gone_soon(workers, 30), 'workers outlived their sweep'
    for seed in (0, 1):  # They stopped the way SIGTERM stops a run.
        assert status(out, seed) == 'interrupted'
    rerun = subprocess.run(GRIDLAB + ['sweep', '--agents', FRAGILE, '--tasks', 'simple',
                                      '--seeds', '0-1', '--steps', '300', '--out',
                                      str(out)],
                           env=environment(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert {r['status'] for r in rows(out / 'results.csv')} == {'completed'}


def test_a_closed_output_stops_the_sweep_like_a_signal(tmp_path):
    out = tmp_path / 'sweep'
    reader, writer = os.pipe()
    # Seed 1 dawdles; seed 0 finishing gives the line read, seed 2 the one that
    # finds the pipe closed while seed 1 is still running.
    process = start(out, '0-2', slow='1', stdout=writer, stderr=writer)
    os.close(writer)
    with os.fdopen(reader) as pipe:  # `gridlab sweep ... 2>&1 | head -1`
        line = pipe.readline()
    assert line.startswith('gridlab sweep: 1/3 runs'), line
    process.wait(timeout=120)
    assert process.returncode == 141
    table = {int(r['seed']): r['status'] for r in rows(out / 'results.csv')}
    assert table == {0: 'completed', 1: 'interrupted', 2: 'completed'}
    assert 'SIGTERM' in summary(run_folder(out, 1))['ended_by']  # Sent by the sweep.
    assert not list(out.rglob('.gridlab.lock'))


def test_the_final_line_into_a_closed_pipe_is_quiet(tmp_path):
    out = tmp_path / 'sweep'
    result = subprocess.run(
        ' '.join(GRIDLAB + ['sweep', '--agents', 'random', '--tasks', 'simple',
                            '--seeds', '0-1', '--steps', '50', '--workers', '1',
                            '--out', str(out), '2>/dev/null', '|', 'true']) +
        '; echo "${PIPESTATUS[0]}"', shell=True, executable='/bin/bash',
        capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() in ('0', '141'), result
    assert {r['status'] for r in rows(out / 'results.csv')} == {'completed'}


def test_a_full_disk_is_one_line_leaves_whole_files_and_a_rerun_finishes(tiny_disk):
    out = tiny_disk / 'sweep'
    filler = tiny_disk / 'filler'
    filler.write_bytes(b'\0' * (512 - 40) * 1024)
    argv = GRIDLAB + ['sweep', '--agents', 'q-learning', '--tasks', 'simple', '--seeds',
                      '0-5', '--steps', '300', '--workers', '2', '--out', str(out)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode in (1, 2), result.stderr
    assert 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert 'No space left on device' in last, result.stderr
    assert not [p for p in tiny_disk.rglob('*') if '.part' in p.name]
    for path in out.rglob('*.json'):
        json.loads(path.read_text())  # Whole, or not there.
    if (out / 'results.csv').exists():
        parsed = list(csv.reader((out / 'results.csv').read_text().splitlines()))
        assert all(len(row) == len(parsed[0]) for row in parsed)
    filler.unlink()  # Space again: the same command finishes the sweep.
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert [r['status'] for r in rows(out / 'results.csv')] == ['completed'] * 6


def test_the_parent_watch_sends_sigterm_when_the_parent_changes():
    """The portable fallback of die_with_parent: a thread polling getppid()."""
    import multiprocessing
    context = multiprocessing.get_context('fork')

    def child():
        signal.signal(signal.SIGTERM, lambda *args: os._exit(42))
        sweep._watch_parent(os.getppid() + 10_000_000, interval=0.01)  # "Changed".
        time.sleep(30)
        os._exit(0)
    process = context.Process(target=child)
    process.start()
    process.join(20)
    assert process.exitcode == 42
