"""Many runs: agents x tasks x seeds x hyperparameter values, on a backend.

    gridlab sweep --agents q-learning,sarsa --tasks simple,obstacle --seeds 0-9 \
        --set step_size=0.1,0.5 --out sweeps/tabular

Every run is an ordinary run folder (`gridlab.experiments.run.run_experiment`)
under the sweep folder, at TASK/AGENT[/NAME=VALUE,...]/seedS, so everything
that reads a run reads these. The sweep folder also gets `results.csv` (a row
per run), `curves.csv` (learning curves on a common step grid),
`aggregate.csv` and its plots (`gridlab.experiments.compare`).

Backends: `local` (a process pool on this machine, the default) and `ray`
(`pip install gridlab[ray]`; joins the cluster at `address`, or starts one
here). A run depends only on its own settings and seed, and each runs with
one torch thread, so results are the same, bit for bit, on every backend and
at any number of workers. Rerunning a sweep skips finished runs and redoes
failed or interrupted ones; a finished run is reused only if the settings
it recorded (summary.json's "config") are the ones asked for now, and a
sweep that would reuse a run made with other settings is refused before
anything trains.

One sweep owns its folder at a time (`run_folder.FolderLock` on the sweep
folder). A run's worker is a child process that dies with the sweep (on
Linux by PR_SET_PDEATHSIG, elsewhere by a thread watching its parent); a
worker the OS kills (kill -9, out of memory) costs only its own run, which
is recorded as failed, and the sweep goes on in a fresh worker. SIGTERM,
Ctrl-C or a closed output stop every worker (their runs say "interrupted"),
and results.csv is written for every run that has a folder.
"""

import collections
import csv
import dataclasses
import itertools
import json
import math
import os
import pathlib
import signal
import sys
import threading
import time
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from gridlab import registry
from gridlab.core import validation
from gridlab.core.errors import ExperimentError, Terminated
from gridlab.experiments.config import RunConfig
from gridlab.experiments import compare, ray_cluster, results, run_folder, signals
from gridlab.experiments.population import train_population
from gridlab.experiments.run import run_experiment
from gridlab.viz import report

# A sweep holds at most this many runs unless `max_runs` (--max-runs) says
# more: a typo such as --seeds 0-100000000 is refused at once, not worked on.
MAX_RUNS = 10_000
STOP_SECONDS = 60.  # How long stopped workers get to save their runs.


class SweepError(ExperimentError):
    """A sweep that cannot start as asked: reported before any run starts."""


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything it depends on."""
    agent: str
    task: str
    seed: int
    hyperparameters: Tuple[Tuple[str, Any], ...] = ()
    steps: Optional[int] = None
    episodes: Optional[int] = None
    observation: Optional[str] = None
    discount: Optional[float] = None
    eval_every: Optional[int] = None
    eval_episodes: int = 5
    num_envs: Optional[int] = None
    device: str = 'cpu'

    @property
    def tag(self) -> str:
        """NAME=VALUE,... of its hyperparameters ('defaults' if none)."""
        if not self.hyperparameters:
            return 'defaults'
        return ','.join(f'{name}={_text(value)}' for name, value in self.hyperparameters)

    def directory(self, root: pathlib.Path) -> pathlib.Path:
        agent = _folder_name(self.agent).replace(':', '.')
        return root / self.task / agent / _folder_name(self.tag) / f'seed{self.seed}'

    def describe(self) -> str:
        settings = '' if self.tag == 'defaults' else f' [{self.tag}]'
        return f'{self.agent}{settings} on {self.task}, seed {self.seed}'


def _folder_name(text: str) -> str:
    """`text` as one path component, reversibly: '%' and path separators are
    percent-encoded, so two different values never name one folder."""
    return text.replace('%', '%25').replace('/', '%2F').replace('\\', '%5C')


def _text(value) -> str:
    if isinstance(value, (tuple, list)):
        return '-'.join(_text(v) for v in value)
    return str(value)


def _seed_ranges(text: str) -> List[Tuple[int, int]]:
    """'0-4,10' as merged, sorted, inclusive ranges [(0, 4), (10, 10)]."""
    ranges = []
    for part in str(text).split(','):
        part = part.strip()
        try:
            if '-' in part[1:]:
                low, high = (int(p) for p in part.split('-', 1))
                if low > high:
                    raise ValueError
            else:
                low = high = int(part)
        except ValueError:
            raise SweepError(f'seeds {text!r}: expected ranges and numbers such as '
                             '0-9 or 0,3,7') from None
        if low < 0 or high > validation.MAX_SEED:
            raise SweepError(f'seeds {text!r}: expected seeds that are '
                             f'{validation.SEED_EXPECTED}')
        ranges.append((low, high))
    merged: List[Tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def count_seeds(text: str) -> int:
    """How many distinct seeds `text` names, without listing them."""
    return sum(high - low + 1 for low, high in _seed_ranges(text))


def parse_seeds(text: str, max_count: Optional[int] = None) -> List[int]:
    """'0-9', '0,3,7' or '0-4,10' as a sorted list of distinct seeds.

    With `max_count`, more seeds than that are refused before any is listed.
    """
    ranges = _seed_ranges(text)
    count = sum(high - low + 1 for low, high in ranges)
    if max_count is not None and count > max_count:
        raise SweepError(f'seeds {text!r} are {count:,} seeds, more than the '
                         f'{max_count:,} allowed here')
    return [seed for low, high in ranges for seed in range(low, high + 1)]


def _size_error(count: int, parts: str, max_runs: int) -> SweepError:
    return SweepError(
        f'this sweep is {count:,} runs ({parts}), more than the {max_runs:,} one sweep '
        f'may hold; pass max_runs={count} (--max-runs {count}) to run it anyway, '
        'or ask for fewer')


def check_size(agents: Sequence[str], tasks: Sequence[str], seeds: int,
               grid: Optional[Dict[str, Sequence[Any]]], max_runs: Optional[int]) -> int:
    """The number of runs; a SweepError if it exceeds `max_runs` (None: no cap)."""
    if max_runs is not None and (isinstance(max_runs, bool) or
                                 not isinstance(max_runs, int) or max_runs < 1):
        raise SweepError(f'max_runs must be a positive integer, got {max_runs!r}')
    settings = math.prod(len(values) for values in (grid or {}).values()
                         if isinstance(values, (list, tuple)))
    count = len(agents) * len(tasks) * settings * seeds
    if max_runs is not None and count > max_runs:
        raise _size_error(count, f'{len(agents)} agents x {len(tasks)} tasks x '
                                 f'{settings:,} settings x {seeds:,} seeds', max_runs)
    return count


def _refuse_repeats(kind: str, names: Sequence[Any]) -> None:
    repeated = [name for name, n in collections.Counter(names).items() if n > 1]
    if repeated:
        raise SweepError(f'{kind} lists {repeated[0]!r} more than once; each would '
                         'be the same runs in the same folders: give it once')


def _value_key(value):
    """A hashable stand-in for a typed hyperparameter value (lists as tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_value_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _value_key(v)) for k, v in value.items()))
    return value


def expand(agents: Sequence[str], tasks: Sequence[str], seeds: Sequence[int],
           grid: Optional[Dict[str, Sequence[Any]]] = None, *,
           max_runs: Optional[int] = MAX_RUNS, progress: bool = False,
           **settings) -> List[RunSpec]:
    """The product agents x tasks x hyperparameter values x seeds, as RunSpecs.

    Every agent, task and hyperparameter name is checked here, before any
    run starts (`RunConfig.create` types each value). Refused, naming what:
    more than `max_runs` runs; an agent, task or seed given twice; two
    values of a hyperparameter that are one setting once typed (0.1 and
    0.1, 1 and 1.0 for a float); two runs that would share a folder.
    """
    if not agents or not tasks or not seeds:
        raise SweepError('a sweep needs at least one agent, one task and one seed')
    grid = dict(grid or {})
    for name, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise SweepError(f'hyperparameter {name!r}: expected a list of values')
    check_size(agents, tasks, len(seeds), grid, max_runs)
    _refuse_repeats('agents', list(agents))
    _refuse_repeats('tasks', list(tasks))
    _refuse_repeats('seeds', [int(seed) for seed in seeds])
    names = sorted(grid)
    specs = []
    combinations = len(agents) * len(tasks) * math.prod(len(grid[n]) for n in names)
    ticker = _Ticker('checking settings', combinations, enabled=progress)
    for agent, task in itertools.product(agents, tasks):
        seen: Dict[tuple, Dict[str, Any]] = {}
        for values in itertools.product(*(grid[name] for name in names)):
            ticker.tick()
            given = dict(zip(names, values))
            try:
                resolved = RunConfig.create(
                    agent, task, observation=settings.get('observation'),
                    steps=settings.get('steps'), episodes=settings.get('episodes'),
                    num_envs=settings.get('num_envs'), hyperparameters=given)
            except ExperimentError as error:
                raise SweepError(f'{agent} on {task}: {error}') from None
            typed = tuple((name, resolved.hyperparameters[name]) for name in names)
            key = tuple((name, _value_key(value)) for name, value in typed)
            if key in seen:
                earlier = seen[key]
                name = next((n for n in names if earlier[n] != given[n]), names[0])
                raise SweepError(
                    f'hyperparameter {name!r}: the values {earlier[name]!r} and '
                    f'{given[name]!r} are one setting for {agent} '
                    f'({name}={_text(dict(typed)[name])}); give each value once')
            seen[key] = given
            for seed in seeds:
                specs.append(RunSpec(agent, task, int(seed), typed, **settings))
    ticker.close()
    _refuse_shared_folders(specs)
    return specs


# The longest file name (in bytes) that common file systems take (ext4, APFS,
# NTFS, tmpfs); a longer folder name fails only when its run starts.
NAME_MAX = 255


def _refuse_shared_folders(specs: Sequence[RunSpec]) -> None:
    """Two runs in one folder would overwrite each other, and a folder name
    longer than a file system takes cannot be made: refused."""
    root = pathlib.Path('.')
    owners: Dict[str, RunSpec] = {}
    for spec in specs:
        long = next((part for part in spec.directory(root).parts
                     if len(part.encode('utf-8')) > NAME_MAX), None)
        if long is not None:
            raise SweepError(f'{spec.agent[:60]} on {spec.task[:60]}: a run folder '
                             f'name of {len(long.encode("utf-8")):,} bytes '
                             f'({long[:40] + "..."!r}), more than the {NAME_MAX} a file '
                             'system takes; give shorter values')
        folder = spec.directory(root).as_posix()
        other = owners.setdefault(folder, spec)
        if other is not spec:
            raise SweepError(f'{other.describe()} and {spec.describe()} would share '
                             f'the run folder {folder}; rename one of them')


def expected_config(spec: RunSpec) -> Dict[str, Any]:
    """The "config" a run of `spec` records in summary.json (as JSON reads it)."""
    config = RunConfig.create(
        spec.agent, spec.task, seed=spec.seed, observation=spec.observation,
        steps=spec.steps, episodes=spec.episodes, discount=spec.discount,
        hyperparameters=dict(spec.hyperparameters), eval_episodes=spec.eval_episodes,
        eval_every=spec.eval_every, num_envs=spec.num_envs, device=spec.device,
        pictures=False)
    return json.loads(json.dumps(config.to_record()))


def config_differences(expected: Dict[str, Any],
                       recorded: Any) -> List[Tuple[str, Any, Any]]:
    """(setting, recorded, expected) for every setting a run recorded otherwise."""
    if not isinstance(recorded, dict):
        recorded = {}
    missing = object()
    differences = []
    for key, value in expected.items():
        if key == 'hyperparameters' and isinstance(recorded.get(key), dict):
            there = recorded[key]
            for name in sorted(set(value) | set(there)):
                if there.get(name, missing) != value.get(name, missing):
                    differences.append((f'{name}', there.get(name, '(unset)'),
                                        value.get(name, '(unset)')))
        elif recorded.get(key, missing) != value:
            differences.append((key, recorded.get(key, '(unrecorded)'), value))
    return differences


def _completed_config(directory: pathlib.Path) -> Optional[Dict[str, Any]]:
    """The recorded config of the completed run in `directory`, else None."""
    try:
        summary = json.loads((directory / 'summary.json').read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get('status') != 'completed':
        return None
    return summary.get('config') if isinstance(summary.get('config'), dict) else {}


def is_finished(directory: pathlib.Path, spec: Optional[RunSpec] = None) -> bool:
    """Whether a run folder holds a completed run (of `spec`'s settings, if given).

    This is the one rule for reusing a run: completed, and (given `spec`)
    recorded with exactly the configuration `spec` asks for.
    """
    recorded = _completed_config(directory)
    if recorded is None:
        return False
    return spec is None or not config_differences(expected_config(spec), recorded)


def run_one(spec: RunSpec, root: str) -> Dict[str, Any]:
    """Runs (or, if finished with these settings, reads) one run; returns its row.

    Runs in a worker process: one torch thread, no printing, no progress
    bar. A run that fails leaves its folder and a row with status 'failed'.
    """
    directory = spec.directory(pathlib.Path(root))
    if not is_finished(directory, spec):
        import torch
        torch.set_num_threads(1)
        try:
            run_experiment(
                spec.agent, spec.task, directory, seed=spec.seed,
                observation=spec.observation, steps=spec.steps, episodes=spec.episodes,
                discount=spec.discount, hyperparameters=dict(spec.hyperparameters),
                eval_every=spec.eval_every, eval_episodes=spec.eval_episodes,
                num_envs=spec.num_envs, device=spec.device, overwrite=True,
                progress=False, verbose=False, video=False, pictures=False)
        except Exception as error:  # Recorded; the sweep goes on.
            return _row(spec, directory, status='failed',
                        error=f'{type(error).__name__}: {error}')
    return _row(spec, directory)


def run_group(specs: Sequence[RunSpec], root: str,
              verbose: bool = False) -> List[Tuple[RunSpec, Dict[str, Any]]]:
    """Trains the unfinished seeds of one (agent, task, settings) cell as one
    population (`gridlab.experiments.population`) in this process; returns
    every seed's (spec, row). Finished seeds are read, so rerunning a
    sweep resumes each population with the seeds it has left: continued
    from their checkpoints if they were interrupted together, else afresh.
    A population that fails records every one of its unfinished runs as
    failed.
    """
    root_path = pathlib.Path(root)
    todo = [spec for spec in specs if not is_finished(spec.directory(root_path), spec)]
    if todo:
        import torch
        torch.set_num_threads(1)
        try:
            configs = [RunConfig.create(
                spec.agent, spec.task, seed=spec.seed, observation=spec.observation,
                steps=spec.steps, episodes=spec.episodes, discount=spec.discount,
                hyperparameters=dict(spec.hyperparameters), eval_every=spec.eval_every,
                eval_episodes=spec.eval_episodes, num_envs=spec.num_envs,
                device=spec.device, pictures=False) for spec in todo]
            train_population(configs, [spec.directory(root_path) for spec in todo],
                             overwrite=True, resume=True, video=False, verbose=verbose)
        except Exception as error:  # Recorded; the sweep goes on.
            failed = f'{type(error).__name__}: {error}'
            return [(spec, _row(spec, spec.directory(root_path), status='failed',
                                error=failed) if spec in todo else
                     _row(spec, spec.directory(root_path))) for spec in specs]
    return [(spec, _row(spec, spec.directory(root_path))) for spec in specs]


def _cells(specs: Sequence[RunSpec],
           size: Optional[int] = None) -> List[Tuple[RunSpec, ...]]:
    """The specs grouped by everything but the seed, in their first order;
    with `size`, each group cut into consecutive parts of at most `size`."""
    cells: Dict[RunSpec, List[RunSpec]] = {}
    for spec in specs:
        cells.setdefault(dataclasses.replace(spec, seed=0), []).append(spec)
    size = size or len(specs) or 1
    return [tuple(cell[start:start + size]) for cell in cells.values()
            for start in range(0, len(cell), size)]


def _row(spec: RunSpec, directory: pathlib.Path, status: Optional[str] = None,
         error: Optional[str] = None) -> Dict[str, Any]:
    row = {'agent': spec.agent, 'task': spec.task, 'seed': spec.seed,
           'hyperparameters': spec.tag, 'directory': str(directory)}
    try:
        summary = json.loads((directory / 'summary.json').read_text())
    except (OSError, ValueError):
        summary = {}
    row['status'] = status or summary.get('status', 'failed')
    if error:
        row['error'] = error
    training, evaluation = summary.get('training', {}), summary.get('evaluation', {})
    row.update(steps=training.get('steps'), seconds=training.get('seconds'))
    for key in ('mean_return', 'std_return', 'success_rate', 'optimal_fraction'):
        row[key] = evaluation.get(key)
    row.update(_time_to_optimal(directory))
    return row


def _time_to_optimal(directory: pathlib.Path) -> Dict[str, Any]:
    """Steps and training seconds at the first evaluation judged optimal."""
    path = directory / 'evaluation.csv'
    if not path.is_file():
        return {'steps_to_optimal': None, 'seconds_to_optimal': None}
    with open(path, newline='') as f:
        for row in csv.DictReader(f):
            if row.get('optimal_fraction') and float(row['optimal_fraction']) == 1.:
                return {'steps_to_optimal': int(float(row['total_steps'])),
                        'seconds_to_optimal': float(row['training_seconds'])}
    return {'steps_to_optimal': None, 'seconds_to_optimal': None}


@dataclasses.dataclass(frozen=True)
class Lost:
    """A run whose worker ended without a result (killed by the OS, crashed)."""
    reason: str


def _exit_reason(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f'signal {-exitcode}'
        hint = ' (out of memory, or kill -9?)' if -exitcode == signal.SIGKILL else ''
        return f'its worker process was killed by {name}{hint}'
    return f'its worker process exited with code {exitcode} before the run ended'


def _watch_parent(parent: int, interval: float = 0.5) -> threading.Thread:
    """A thread that sends this process SIGTERM once `parent` is no longer its parent."""
    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)
    thread = threading.Thread(target=watch, name='gridlab-parent-watch', daemon=True)
    thread.start()
    return thread


def die_with_parent(parent: int) -> None:
    """Makes this (worker) process get SIGTERM when `parent` dies.

    Linux: prctl(PR_SET_PDEATHSIG) (the kernel signals on the parent's exit,
    whatever killed it); elsewhere, or if that fails, a thread polling
    os.getppid(). Either way the run ends the way a SIGTERM ends it:
    interrupted, with its checkpoint and summary.
    """
    if sys.platform.startswith('linux'):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) == 0:  # 1: PR_SET_PDEATHSIG
                if os.getppid() != parent:  # It died before the call.
                    os.kill(os.getpid(), signal.SIGTERM)
                return
        except (OSError, AttributeError):
            pass
    _watch_parent(parent)


def _worker_main(connection, function, root: str, parent: int) -> None:
    """A worker: runs the items its connection sends until told to stop.

    SIGTERM (from the sweep, or the kernel when the sweep dies) ends the
    run in progress the way it ends `gridlab train`; Ctrl-C is left to the
    sweep, which stops its workers with one SIGTERM each.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signals.stop_on_signals()
    try:
        die_with_parent(parent)
        while True:
            item = connection.recv()
            if item is None:
                return
            try:
                result = ('row', function(item, root))
            except Exception as error:
                result = ('error', f'{type(error).__name__}: {error}')
            connection.send(result)
    except (EOFError, OSError, Terminated, KeyboardInterrupt):
        return  # The sweep is gone or stopping us; the run saved what it had.


class _Worker:
    """One worker process and the item it is running (None: idle)."""

    def __init__(self, context, function, root: str):
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, function, root, os.getpid()),
            name='gridlab-sweep-worker', daemon=True)
        self.process.start()
        child.close()
        self.item = None

    def give(self, item) -> bool:
        """Sends it `item`; False if it has died (it is then of no more use)."""
        try:
            self.connection.send(item)
        except OSError:
            return False
        self.item = item
        return True

    def outcome(self):
        """The result of its item if it has one or has died; else None."""
        if self.connection.poll():
            try:
                kind, value = self.connection.recv()
            except (EOFError, OSError):
                pass
            else:
                return Lost(value) if kind == 'error' else value
        if self.process.is_alive():
            return None
        self.process.join()
        return Lost(_exit_reason(self.process.exitcode))

    def stop(self) -> None:
        """Asks it to end its run now (the run is saved as interrupted)."""
        if self.process.is_alive() and self.process.pid is not None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def close(self, timeout: float) -> None:
        try:
            self.connection.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class _LocalBackend:
    """Worker processes on this machine, each running one run at a time.

    A worker that dies (the OS kills it: kill -9, out of memory) loses only
    the run it held, reported as `Lost`; a fresh worker takes its place.
    Any interruption of the sweep (Ctrl-C, SIGTERM, a closed output, the
    caller closing the generator) stops every worker with SIGTERM and waits
    for their runs to save themselves.
    """

    def __init__(self, workers: int):
        self.workers = workers

    def close(self) -> None:
        pass  # Each map() ends its own workers.

    def map(self, function, items: Sequence, root: str) -> Iterable:
        if self.workers == 1:
            for item in items:
                yield item, function(item, root)
            return
        import multiprocessing
        import multiprocessing.connection
        context = multiprocessing.get_context('fork' if sys.platform == 'linux' else 'spawn')
        queue = collections.deque(items)
        workers: List[_Worker] = []
        try:
            while queue or any(w.item is not None for w in workers):
                for worker in list(workers):
                    if worker.item is None and queue:
                        if worker.give(queue[0]):
                            queue.popleft()
                        else:  # Died while idle: the item goes to another worker.
                            workers.remove(worker)
                            worker.close(0)
                while queue and len(workers) < self.workers:
                    worker = _Worker(context, function, root)
                    workers.append(worker)
                    if not worker.give(queue[0]):
                        raise SweepError('cannot start a worker process for the sweep '
                                         f'({_exit_reason(worker.process.exitcode)})')
                    queue.popleft()
                busy = [w for w in workers if w.item is not None]
                multiprocessing.connection.wait(
                    [w.connection for w in busy] + [w.process.sentinel for w in busy])
                for worker in busy:
                    outcome = worker.outcome()
                    if outcome is None:
                        continue
                    item, worker.item = worker.item, None
                    if not worker.process.is_alive():
                        workers.remove(worker)
                        worker.close(0)
                    yield item, outcome
        except BaseException:
            for worker in workers:
                worker.stop()
            deadline = time.monotonic() + STOP_SECONDS
            for worker in workers:
                worker.process.join(max(0., deadline - time.monotonic()))
            raise
        finally:
            for worker in workers:
                worker.close(STOP_SECONDS)


class _RayBackend:
    """Ray tasks, one CPU each; on the cluster at `address` or a local one."""

    def __init__(self, workers: Optional[int], address: Optional[str]):
        # A Ray the caller started stays up; one started here is shut down.
        self._ray, self._started_here = ray_cluster.connect(address, workers, SweepError)

    def map(self, function, items: Sequence, root: str) -> Iterable:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=0)(function)
        pending = {remote.remote(item, root): item for item in items}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                item = pending.pop(done[0])
                try:
                    outcome = ray.get(done[0])
                except ray.exceptions.RayError as error:  # A worker died or crashed.
                    message = str(error).strip().splitlines()
                    outcome = Lost(f'its Ray task ended without a result: '
                                   f'{type(error).__name__}'
                                   + (f' ({message[0][:200]})' if message else ''))
                yield item, outcome
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()


def make_backend(backend: str, workers: Optional[int], address: Optional[str]):
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise SweepError(f'workers must be a positive integer, got {workers!r}')
    if backend == 'local':
        if address:
            raise SweepError('address is for the Ray backend (--backend ray)')
        return _LocalBackend(workers or os.cpu_count() or 1)
    if backend == 'ray':
        return _RayBackend(workers, address)
    raise SweepError(f"backend must be 'local' or 'ray', got {backend!r}")


@dataclasses.dataclass
class SweepResult:
    """What `run_sweep` did: the folder, every run's row, and what failed."""
    directory: pathlib.Path
    rows: List[Dict[str, Any]]

    @property
    def failed(self) -> List[Dict[str, Any]]:
        return [row for row in self.rows if row['status'] != 'completed']


def run_sweep(agents: Sequence[str], tasks: Sequence[str], seeds, out,
              grid: Optional[Dict[str, Sequence[Any]]] = None, *,
              backend: str = 'local', workers: Optional[int] = None,
              address: Optional[str] = None, steps: Optional[int] = None,
              episodes: Optional[int] = None, observation: Optional[str] = None,
              discount: Optional[float] = None, eval_every: Optional[int] = None,
              eval_episodes: int = 5, progress: bool = True,
              aggregate: bool = True, max_runs: Optional[int] = MAX_RUNS,
              num_envs: Optional[int] = None, device: str = 'cpu',
              vectorize_seeds: bool = False,
              population_size: Optional[int] = None) -> SweepResult:
    """Runs every combination; writes results.csv, curves.csv and the aggregates.

    Checks every name and value (and the size: at most `max_runs` runs, None
    for no cap), reaches the backend, takes the sweep folder (one sweep at a
    time) and checks that every finished run in it was made with the
    settings asked for, before any run starts. Finished runs are read, not
    rerun. A run whose worker is killed is recorded as failed and the sweep
    goes on. A Ctrl-C, SIGTERM or closed output stops the workers (their
    runs are saved as interrupted) and writes results.csv; it re-raises.

    `num_envs`, `device`: as `run_experiment`'s, for every run.
    `vectorize_seeds`: the seeds of each (agent, task, settings) cell train
    as one population in one worker (`run_group`), for agents that have
    one; folders, rows and results.csv are as without it.
    `population_size`: with `vectorize_seeds`, at most this many seeds per
    population (consecutive ones of a cell's unfinished seeds; None: all of
    them), so that one cell's seeds keep several workers busy and each
    population fits in memory (`agents.populations.memory`). Members agree
    with their single agents to float rounding, so the grouping, which the
    worker count never changes, is part of what makes a run repeat exactly.
    """
    population_size = validation.check_optional_positive_int('population_size',
                                                             population_size)
    if population_size is not None and not vectorize_seeds:
        raise SweepError(f'population_size={population_size} sizes the populations of '
                         'vectorize_seeds (--vectorize-seeds); without it every seed is '
                         'its own run')
    if isinstance(seeds, str):
        seeds_text = seeds
        check_size(agents, tasks, count_seeds(seeds_text), grid, max_runs)
        seeds = parse_seeds(seeds_text)
    specs = expand(agents, tasks, seeds, grid, steps=steps, episodes=episodes,
                   observation=observation, discount=discount, eval_every=eval_every,
                   eval_episodes=eval_episodes, num_envs=num_envs, device=device,
                   max_runs=max_runs, progress=progress)
    if vectorize_seeds:
        _check_vectorizable(specs)
    root = pathlib.Path(out)
    if root.exists() and not root.is_dir():
        raise SweepError(f'out {str(root)!r} is a file, not a folder')
    runner = make_backend(backend, workers, address)
    lock = None
    try:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SweepError(f'cannot create the sweep folder {str(root)!r}: '
                             f'{error.strerror or error}') from None
        try:
            lock = run_folder.FolderLock(root)
        except ExperimentError:
            raise SweepError(f'another gridlab sweep (or run) is using {str(root)!r} '
                             'right now; wait for it to end, or choose another --out'
                             ) from None
        finished = _finished_runs(specs, root, progress)
        return _run(specs, finished, root, runner, steps, progress, aggregate,
                    vectorize_seeds, population_size)
    finally:
        try:
            runner.close()
        finally:
            if lock is not None:
                lock.release()


def run_population(agent: str, task: str, seeds, out,
                   hyperparameters: Optional[Dict[str, Any]] = None, *,
                   progress: bool = True, **settings) -> SweepResult:
    """The seeds of one agent on one task trained as one population in this
    process, laid out as a sweep of them: a run folder per seed under
    `out` (TASK/AGENT/SETTINGS/seedS), results.csv and the comparison.

    `gridlab train --seeds 0-31` is this. `settings` are `run_sweep`'s
    (steps, observation, discount, eval_every, eval_episodes, num_envs,
    device, population_size: at most that many seeds per population, the
    populations one after another); rerunning it trains only the seeds not
    finished.
    """
    grid = {name: [value] for name, value in (hyperparameters or {}).items()}
    return run_sweep([agent], [task], seeds, out, grid, backend='local', workers=1,
                     progress=progress, vectorize_seeds=True, **settings)


def _finished_runs(specs: Sequence[RunSpec], root: pathlib.Path,
                   progress: bool) -> set:
    """The specs whose folders hold a completed run of their settings.

    A completed run recorded with other settings is refused (SweepError),
    naming the setting: it is finished work this sweep must neither take
    for its own nor delete.
    """
    finished, mismatched = set(), []
    expected: Dict[RunSpec, Dict[str, Any]] = {}  # Per settings, for seed 0.
    ticker = _Ticker('reading run folders', len(specs), enabled=progress)
    for spec in specs:
        ticker.tick()
        recorded = _completed_config(spec.directory(root))
        if recorded is None:
            continue
        key = dataclasses.replace(spec, seed=0)
        if key not in expected:
            expected[key] = expected_config(key)
        differences = config_differences(dict(expected[key], seed=spec.seed), recorded)
        if differences:
            mismatched.append((spec, differences))
        else:
            finished.add(spec)
    ticker.close()
    if mismatched:
        spec, differences = mismatched[0]
        setting, there, asked = differences[0]
        folder = spec.directory(root).relative_to(root).as_posix()
        more = (f' ({len(mismatched)} finished runs differ)' if len(mismatched) > 1
                else '')
        raise SweepError(
            f'{str(root)!r} holds finished runs made with other settings{more}: '
            f'{folder} has {setting}={there!r}, this sweep asks {setting}={asked!r}; '
            'choose another --out for these settings (or delete those run folders '
            'to redo them)')
    return finished


def _check_vectorizable(specs: Sequence[RunSpec]) -> None:
    """Refuses, before anything trains, cells that cannot train as populations."""
    for spec in specs:
        entry = registry.resolve(spec.agent)
        if not entry.population:
            raise SweepError(f'agent {spec.agent!r} has no population class, so its seeds '
                             'cannot train as one population (vectorize_seeds, '
                             '--vectorize-seeds, train --seeds); train them one by one')
        if spec.episodes is not None:
            raise SweepError('a population (vectorize_seeds, --vectorize-seeds, train '
                             '--seeds) trains for a budget in steps, not episodes; got '
                             f'episodes={spec.episodes}')


def _run(specs, finished, root: pathlib.Path, runner, steps, progress: bool,
         aggregate: bool, vectorize_seeds: bool = False,
         population_size: Optional[int] = None) -> SweepResult:
    todo = [spec for spec in specs if spec not in finished]
    rows = {spec: _row(spec, spec.directory(root)) for spec in specs if spec in finished}
    progress_lines = _Progress(len(specs), len(rows), enabled=progress)
    if vectorize_seeds:  # One item per population: a cell's unfinished seeds, or a part.
        outcomes = runner.map(run_group, _cells(todo, population_size), str(root))
    else:
        outcomes = runner.map(run_one, todo, str(root))
    try:
        for item, outcome in outcomes:
            if vectorize_seeds:
                pairs = (list(outcome) if not isinstance(outcome, Lost) else
                         [(spec, outcome) for spec in item])
            else:
                pairs = [(item, outcome)]
            for spec, row in pairs:
                if isinstance(row, Lost):
                    row = _record_lost(spec, spec.directory(root), row.reason)
                rows[spec] = row
                progress_lines.update(row)
    finally:
        outcomes.close()  # Stops the workers if the loop was interrupted.
        progress_lines.close()
        for spec in todo:  # Runs stopped part-way say so from their folders.
            if spec not in rows and (spec.directory(root) / 'summary.json').is_file():
                rows[spec] = _row(spec, spec.directory(root))
        ordered = [rows[spec] for spec in specs if spec in rows]
        results.write_results(root, ordered)
    result = SweepResult(root, ordered)
    write_curves(root, specs, steps)
    if aggregate and any(row['status'] == 'completed' for row in ordered):
        try:
            compare.write_comparison(root, ordered)
        except compare.CompareError as error:  # E.g. every score NaN: the runs stand.
            warnings.warn(compare.CompareWarning(f'no aggregate.csv: {error}'))
        report.write_sweep_report(root)
    else:
        compare.remove_comparison(root)  # None left that looks current.
    return result


def _record_lost(spec: RunSpec, directory: pathlib.Path, reason: str) -> Dict[str, Any]:
    """A failed row for a run whose worker died; its folder is made to say so.

    The dead worker's lock went with it (flock), so the folder can be taken
    to write summary.json's status (it said "running") and drop the stale
    lock file; a folder someone else holds is left alone.
    """
    try:
        lock = run_folder.FolderLock(directory) if directory.is_dir() else None
    except ExperimentError:
        lock = None
    if lock is not None:
        try:
            path = directory / 'summary.json'
            summary = json.loads(path.read_text())
            if summary.get('status') in ('running', 'evaluating'):
                summary.update(status='failed', interrupted=False, ended_by=reason)
                run_folder.write_summary(path, summary)
        except (OSError, ValueError, AttributeError):
            pass  # No summary yet (or unreadable): the row says what happened.
        finally:
            lock.release()
    return _row(spec, directory, status='failed', error=reason)


class _Progress:
    """Runs done of total, with an estimate of the time left."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.total, self.done, self.enabled = total, done, enabled
        self.start, self.finished_here = time.perf_counter(), 0

    def update(self, row: Dict[str, Any]) -> None:
        self.done += 1
        self.finished_here += 1
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        left = (self.total - self.done) * elapsed / self.finished_here
        # The setting, as RunSpec.describe names it: runs of a grid that differ
        # only in it would otherwise read the same.
        tag = row.get('hyperparameters') or 'defaults'
        settings = '' if tag == 'defaults' else f' [{tag}]'
        print(f'gridlab sweep: {self.done}/{self.total} runs ({row["agent"]}{settings} on '
              f'{row["task"]}, seed {row["seed"]}: {row["status"]}); '
              f'about {_duration(left)} left', file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _Ticker:
    """A line now and then while the sweep prepares (e.g. reading 10,000 folders)."""

    EVERY = 2.  # Seconds between lines; none at all for what takes less.

    def __init__(self, what: str, total: int, enabled: bool):
        self.what, self.total, self.enabled, self.done = what, total, enabled, 0
        self.next = time.monotonic() + self.EVERY
        self.said = False

    def tick(self) -> None:
        self.done += 1
        if self.enabled and time.monotonic() >= self.next:
            print(f'gridlab sweep: {self.what}, {self.done:,}/{self.total:,}',
                  file=sys.stderr, flush=True)
            self.next, self.said = time.monotonic() + self.EVERY, True

    def close(self) -> None:
        if self.said:
            print(f'gridlab sweep: {self.what}, done', file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f'{seconds:.0f} s'
    if seconds < 5400:
        return f'{seconds / 60:.0f} min'
    return f'{seconds / 3600:.1f} h'


def write_curves(root: pathlib.Path, specs: Sequence[RunSpec],
                 steps: Optional[int]) -> None:
    """curves.csv: every run's learning curve on one grid of steps."""
    budgets = []
    for spec in specs:
        summary_path = spec.directory(root) / 'summary.json'
        try:
            budgets.append(json.loads(summary_path.read_text())['training']['steps'])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    horizon = steps or (max(budgets) if budgets else 0)
    if horizon <= 0:
        return
    grid = run_folder.curve_grid(horizon)
    rows = []
    for spec in specs:
        curve = run_folder.learning_curve(spec.directory(root), grid)
        for step, value in zip(grid, curve):
            if value is not None and math.isfinite(value):
                rows.append({'agent': spec.agent, 'task': spec.task, 'seed': spec.seed,
                             'hyperparameters': spec.tag, 'step': step,
                             'mean_return': value})
    results.write_csv(root / 'curves.csv',
               ('agent', 'task', 'seed', 'hyperparameters', 'step', 'mean_return'), rows)
