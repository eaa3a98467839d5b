"""A run's folder: what it holds, who may write it, and reading it back.

One run per folder at a time (`FolderLock`); an old run is replaced only by
one that can start (`prepare`); every file is written atomically, so an
interrupted write leaves the previous version whole.
"""

import csv
import io
import json
import math
import os
import pathlib
import platform
import subprocess
from typing import Any, Callable, Dict, List, Optional, Sequence

from gridlab.core import files
from gridlab.core.errors import ExperimentError

AGENT_FILE, STATE_FILE = 'agent.pt', 'run_state.json'
# The next checkpoint's agent, before run_state.json commits it (`commit_checkpoint`).
PENDING_AGENT = '.agent.pending.pt'
# A bsuite task's own CSV log, which bsuite's analysis reads (`gridlab bsuite`).
BSUITE_LOG = 'bsuite'
RUN_FILES = ('episodes.csv', 'evaluation.csv', 'learning_curve.png', 'q_values.png',
             'policy.png', 'evaluation.mp4', AGENT_FILE, 'best.pt', STATE_FILE,
             PENDING_AGENT, 'summary.json', 'report.html', 'tensorboard', 'videos',
             BSUITE_LOG)
LOCK_FILE = '.gridlab.lock'
# What gridlab writes inside the folders among RUN_FILES; --overwrite removes
# only these there, and the folder itself only once it is empty.
WRITTEN_IN = {'videos': ('step_*.mp4', '.step_*.part*'),
              'tensorboard': ('events.out.tfevents.*',),
              BSUITE_LOG: ('bsuite_id_-_*.csv',)}


def default_directory(agent: str, task: str, seed: int) -> pathlib.Path:
    """runs/TASK-AGENT-seedS (an import path's ':' becomes '.', and a suite id's
    '/' a '-': runs/bsuite-catch-0-dqn-seed0, one folder, not three)."""
    return pathlib.Path('runs') / (f'{task.replace("/", "-")}-{agent.replace(":", ".")}'
                                   f'-seed{seed}')


class FolderLock:
    """One run per folder at a time: an exclusive `flock` on a lock file.

    The lock goes with the process (the OS drops it if the process dies), so
    a crashed run never leaves a folder locked; a finished run removes the
    file. Because it is removed, a lock is only good if the file locked is
    still the one at the path (else another run replaced it: refuse).
    """

    def __init__(self, folder: pathlib.Path):
        import fcntl
        self._path = folder / LOCK_FILE
        try:
            self._file = open(self._path, 'a')
        except OSError as error:
            raise ExperimentError(f'cannot use the run folder {str(folder)!r}: '
                                  f'{error.strerror or error}') from None
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(self._file.fileno()).st_ino != os.stat(self._path).st_ino:
                raise OSError('the lock file was replaced')
        except OSError:
            self._file.close()
            raise ExperimentError(f'another gridlab run is using {str(folder)!r} right '
                                  'now; wait for it or choose another folder') from None

    def release(self) -> None:
        if not self._file.closed:
            try:
                self._path.unlink()  # While still holding the lock.
            except OSError:
                pass
            self._file.close()  # Closing releases the flock.


def leftovers(out: pathlib.Path) -> list:
    """Temporary files an interrupted atomic write left behind ('.name.*.part*')."""
    return [path for path in out.glob('.*.part*') if path.is_file()]


def _check_folder(out: pathlib.Path, overwrite: bool) -> list:
    """What an old run left in `out`; raises if it may not be replaced."""
    if not str(out).strip():
        raise ExperimentError("out is empty; expected a folder name such as runs/mine")
    if out.exists() and not out.is_dir():
        raise ExperimentError(f'out {str(out)!r} is a file, not a folder')
    old = [name for name in RUN_FILES if (out / name).exists()]
    if old and not overwrite:
        raise ExperimentError(f'{str(out)!r} already holds a run ({", ".join(old)}); '
                              'pass overwrite (--overwrite) to replace it, or choose '
                              'another folder (--out)')
    if old:
        try:
            read_summary(out)
        except ExperimentError:
            raise ExperimentError(
                f'{str(out)!r} holds {", ".join(old)} but no gridlab run (no readable '
                'summary.json); overwrite (--overwrite) replaces only a run gridlab '
                'wrote: move those files away or choose another folder (--out)') from None
    return old


def _remove(path: pathlib.Path) -> None:
    """Removes a file gridlab wrote; in its folders, only what gridlab writes there."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for pattern in WRITTEN_IN.get(path.name, ()):
        for written in path.glob(pattern):
            if written.is_file() or written.is_symlink():
                written.unlink()
    try:
        path.rmdir()
    except OSError:  # Something of the user's is in it: it stays, and so does the folder.
        pass


def prepare(out: pathlib.Path, overwrite: bool) -> FolderLock:
    """Locks the run's folder and empties it of an old run's files.

    Called once the new run has been built (every argument checked, the
    environment and agent made), so an old run is replaced only by one that
    can start. Returns the lock, held until the run ends.
    """
    _check_folder(out, overwrite)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExperimentError(f'cannot create the run folder {str(out)!r}: '
                              f'{error.strerror or error}') from None
    if not os.access(out, os.W_OK):
        raise ExperimentError(f'cannot write to the run folder {str(out)!r}: '
                              'permission denied (read-only?)')
    lock = FolderLock(out)
    try:
        old = _check_folder(out, overwrite)  # Again, now that no one else can start.
        for path in [out / name for name in old] + leftovers(out):
            _remove(path)
    except BaseException:
        lock.release()
        raise
    return lock


def write_summary(path: pathlib.Path, summary: dict) -> None:
    files.atomic_write_text(path, json.dumps(summary, indent=2) + '\n')


def read_summary(run: pathlib.Path) -> dict:
    """summary.json of a run folder, its config checked to be what gridlab writes."""
    try:
        summary = json.loads((run / 'summary.json').read_text())
        config = summary['config']
        for key in ('agent', 'task', 'seed'):
            config[key]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ExperimentError(f'{str(run)!r} is not a gridlab run directory (no '
                              'readable summary.json from `gridlab train`)') from None
    expected = {'agent': (str,), 'task': (str,), 'seed': (int,),
                'observation': (str, type(None)), 'steps': (int, type(None)),
                'episodes': (int, type(None)), 'hyperparameters': (dict, type(None)),
                'environment_discount': (int, float, type(None)),
                'device': (str, type(None))}
    for key, types in expected.items():
        value = config.get(key)
        if (not isinstance(value, types) or isinstance(value, bool) or
                (key == 'seed' and value < 0) or
                (key == 'environment_discount' and value is not None and
                 not 0. <= value <= 1.)):
            raise ExperimentError(f'{str(run / "summary.json")!r} is damaged: config '
                                  f'{key} = {value!r} is not what gridlab writes there')
    return summary


def commit_checkpoint(out: pathlib.Path, write_agent: Callable[[pathlib.Path], Any],
                      state: dict) -> None:
    """Writes agent.pt and run_state.json as one unit.

    The agent goes to a pending file first; run_state.json, which names the
    pending file's SHA-256, is the commit (one atomic rename); then the
    pending file becomes agent.pt. A kill at any point leaves a pair that
    `checkpoint_state` either accepts whole or completes: the old one, or
    the new one.
    """
    pending = out / PENDING_AGENT
    write_agent(pending)
    state = dict(state, agent_sha256=files.sha256(pending))
    files.atomic_write_text(out / STATE_FILE, json.dumps(state) + '\n')
    os.replace(pending, out / AGENT_FILE)


def checkpoint_state(out: pathlib.Path) -> dict:
    """run_state.json of the folder's last checkpoint, checked against agent.pt.

    Completes a commit a kill interrupted after run_state.json was written;
    refuses a pair that disagrees (agent.pt from another checkpoint).
    """
    state_path, agent, pending = out / STATE_FILE, out / AGENT_FILE, out / PENDING_AGENT
    if not state_path.is_file() or not (agent.is_file() or pending.is_file()):
        raise ExperimentError(f'{str(out)!r} has no checkpoint to resume from '
                              '(agent.pt and run_state.json)')
    try:
        state = json.loads(state_path.read_text())
        counts = [state['episodes'], state['total_steps']]
        seconds = state.get('training_seconds', 0.)
    except (OSError, ValueError, KeyError, TypeError):
        raise ExperimentError(f'{str(state_path)!r} is damaged') from None
    # What gridlab writes: counts as whole numbers, seconds as a number >= 0.
    if not (all(type(n) is int and n >= 0 for n in counts) and
            type(seconds) in (int, float) and 0 <= seconds < math.inf):
        raise ExperimentError(f'{str(state_path)!r} is damaged (episodes and '
                              'total_steps must be counts, training_seconds seconds)')
    expected = state.get('agent_sha256')
    if expected is not None:  # Written by every gridlab since the pair became a unit.
        if pending.is_file() and files.sha256(pending) == expected:
            os.replace(pending, agent)  # The interrupted last step of the commit.
        elif not agent.is_file() or files.sha256(agent) != expected:
            raise ExperimentError(
                f'{str(agent)!r} is not the checkpoint {str(state_path)!r} describes '
                '(replaced or damaged); refusing to resume from a mismatched pair')
    pending.unlink(missing_ok=True)  # An uncommitted next checkpoint.
    return state


def read_episodes(path: pathlib.Path) -> List[Dict[str, Any]]:
    """The rows of a run's episodes.csv: episode_return (float), episode_length
    (int, or None where not logged), total_steps (int) and cut_short (bool);
    [] if there is none."""
    if not path.is_file():
        return []
    with open(path, newline='', encoding='utf-8') as f:
        return [{'episode_return': float(row['episode_return']),
                 'episode_length': (int(float(row['episode_length']))
                                    if row.get('episode_length') else None),
                 'total_steps': int(float(row['total_steps'])),
                 'cut_short': row.get('cut_short') == 'True'}
                for row in csv.DictReader(f)]


def read_evaluations(path: pathlib.Path) -> List[Dict[str, Any]]:
    """The rows of a run's evaluation.csv (`--eval-every`): total_steps (int)
    and mean_return (float) of each periodic greedy evaluation; [] if there
    is none."""
    if not path.is_file():
        return []
    with open(path, newline='', encoding='utf-8') as f:
        return [{'total_steps': int(float(row['total_steps'])),
                 'mean_return': float(row['mean_return'])}
                for row in csv.DictReader(f)]


CURVE_POINTS = 50  # Points on the step grid of a learning curve.


def curve_grid(horizon: int, points: int = CURVE_POINTS) -> List[int]:
    """`points` evenly spaced steps up to `horizon` (fewer if they coincide)."""
    return sorted({max(1, round(horizon * (i + 1) / points)) for i in range(points)})


def learning_curve(directory: pathlib.Path, grid: Sequence[int],
                   window: int = 10) -> List[Optional[float]]:
    """The mean return of the last `window` whole episodes at each grid step
    (None before the first episode ends)."""
    rows = [row for row in read_episodes(directory / 'episodes.csv')
            if not row['cut_short']]
    curve, i = [], 0
    for step in grid:
        while i < len(rows) and rows[i]['total_steps'] <= step:
            i += 1
        recent = [row['episode_return'] for row in rows[max(0, i - window):i]]
        curve.append(sum(recent) / len(recent) if recent else None)
    return curve


def keep_rows_up_to(path: pathlib.Path, total_steps: int) -> None:
    """Drops the rows of a run's CSV logged after `total_steps` (atomically)."""
    if not path.is_file():
        return
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    column = header.index('total_steps') if 'total_steps' in header else None
    kept = [row for row in body if column is None or
            (len(row) == len(header) and float(row[column]) <= total_steps)]
    lines = [','.join(header)] + [_csv_line(row) for row in kept]
    files.atomic_write_text(path, '\n'.join(lines) + '\n')


def _csv_line(row) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator='').writerow(row)
    return buffer.getvalue()


def versions() -> Dict[str, str]:
    """Versions of what a run depends on, for summary.json."""
    from importlib import metadata
    found = {'python': platform.python_version()}
    for name in ('gridlab', 'torch', 'numpy', 'gymnasium', 'dm-env'):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def git_commit() -> Optional[str]:
    """The commit of the gridlab checkout in use, if it is one."""
    root = pathlib.Path(__file__).resolve().parents[2]
    if not (root / '.git').exists():
        return None
    try:
        result = subprocess.run(['git', '-C', str(root), 'rev-parse', 'HEAD'],
                                capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
