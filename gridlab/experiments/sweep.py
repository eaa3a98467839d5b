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
failed or interrupted ones.
"""

import csv
import dataclasses
import itertools
import json
import math
import os
import pathlib
import sys
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from gridlab.core.errors import ExperimentError
from gridlab.experiments.config import RunConfig
from gridlab.experiments import compare, results
from gridlab.experiments.run import run_experiment
from gridlab.viz import report

CURVE_POINTS = 50  # Points on the common step grid of curves.csv.


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

    @property
    def tag(self) -> str:
        """NAME=VALUE,... of its hyperparameters ('defaults' if none)."""
        if not self.hyperparameters:
            return 'defaults'
        return ','.join(f'{name}={_text(value)}' for name, value in self.hyperparameters)

    def directory(self, root: pathlib.Path) -> pathlib.Path:
        agent = self.agent.replace(':', '.').replace('/', '_')
        return root / self.task / agent / self.tag.replace('/', '_') / f'seed{self.seed}'


def _text(value) -> str:
    if isinstance(value, (tuple, list)):
        return '-'.join(_text(v) for v in value)
    return str(value)


def parse_seeds(text: str) -> List[int]:
    """'0-9', '0,3,7' or '0-4,10' as a sorted list of distinct seeds."""
    seeds = set()
    for part in str(text).split(','):
        part = part.strip()
        try:
            if '-' in part[1:]:
                low, high = (int(p) for p in part.split('-', 1))
                if low > high:
                    raise ValueError
                seeds.update(range(low, high + 1))
            else:
                seeds.add(int(part))
        except ValueError:
            raise SweepError(f'seeds {text!r}: expected ranges and numbers such as '
                             '0-9 or 0,3,7') from None
    if not seeds or min(seeds) < 0:
        raise SweepError(f'seeds {text!r}: expected non-negative integers')
    return sorted(seeds)


def expand(agents: Sequence[str], tasks: Sequence[str], seeds: Sequence[int],
           grid: Optional[Dict[str, Sequence[Any]]] = None, **settings) -> List[RunSpec]:
    """The product agents x tasks x hyperparameter values x seeds, as RunSpecs.

    Every agent, task and hyperparameter name is checked here, before any
    run starts (`RunConfig.create` types each value).
    """
    if not agents or not tasks or not seeds:
        raise SweepError('a sweep needs at least one agent, one task and one seed')
    grid = dict(grid or {})
    for name, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise SweepError(f'hyperparameter {name!r}: expected a list of values')
    names = sorted(grid)
    specs = []
    for agent, task in itertools.product(agents, tasks):
        for values in itertools.product(*(grid[name] for name in names)):
            given = dict(zip(names, values))
            try:
                resolved = RunConfig.create(
                    agent, task, observation=settings.get('observation'),
                    steps=settings.get('steps'), episodes=settings.get('episodes'),
                    hyperparameters=given)
            except ExperimentError as error:
                raise SweepError(f'{agent} on {task}: {error}') from None
            typed = tuple((name, resolved.hyperparameters[name]) for name in names)
            for seed in seeds:
                specs.append(RunSpec(agent, task, int(seed), typed, **settings))
    return specs


def is_finished(directory: pathlib.Path) -> bool:
    """Whether a run folder holds a completed run."""
    try:
        summary = json.loads((directory / 'summary.json').read_text())
    except (OSError, ValueError):
        return False
    return summary.get('status') == 'completed'


def run_one(spec: RunSpec, root: str) -> Dict[str, Any]:
    """Runs (or, if finished, reads) one run; returns its results row.

    Runs in a worker process: one torch thread, no printing, no progress
    bar. A run that fails leaves its folder and a row with status 'failed'.
    """
    directory = spec.directory(pathlib.Path(root))
    if not is_finished(directory):
        import torch
        torch.set_num_threads(1)
        try:
            run_experiment(
                spec.agent, spec.task, directory, seed=spec.seed,
                observation=spec.observation, steps=spec.steps, episodes=spec.episodes,
                discount=spec.discount, hyperparameters=dict(spec.hyperparameters),
                eval_every=spec.eval_every, eval_episodes=spec.eval_episodes,
                overwrite=True, progress=False, verbose=False, video=False,
                pictures=False)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # Recorded; the sweep goes on.
            return _row(spec, directory, status='failed',
                        error=f'{type(error).__name__}: {error}')
    return _row(spec, directory)


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


def learning_curve(directory: pathlib.Path, grid: Sequence[int],
                   window: int = 10) -> List[Optional[float]]:
    """The mean return of the last `window` whole episodes at each grid step."""
    path = directory / 'episodes.csv'
    if not path.is_file():
        return [None] * len(grid)
    with open(path, newline='') as f:
        rows = [row for row in csv.DictReader(f) if row.get('cut_short') != 'True']
    ends = [int(float(row['total_steps'])) for row in rows]
    returns = [float(row['episode_return']) for row in rows]
    curve, i = [], 0
    for step in grid:
        while i < len(ends) and ends[i] <= step:
            i += 1
        recent = returns[max(0, i - window):i]
        curve.append(sum(recent) / len(recent) if recent else None)
    return curve


class _LocalBackend:
    """A process pool on this machine."""

    def __init__(self, workers: int):
        self.workers = workers

    def close(self) -> None:
        pass  # Each map() shuts its own pool down.

    def map(self, function, items: Sequence, root: str) -> Iterable:
        if self.workers == 1:
            for item in items:
                yield item, function(item, root)
            return
        import concurrent.futures
        import multiprocessing
        context = multiprocessing.get_context('fork' if sys.platform == 'linux' else 'spawn')
        with concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            futures = {pool.submit(function, item, root): item for item in items}
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield futures[future], future.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


class _RayBackend:
    """Ray tasks, one CPU each; on the cluster at `address` or a local one."""

    def __init__(self, workers: Optional[int], address: Optional[str]):
        try:
            import ray
        except ImportError:
            raise SweepError("the Ray backend needs Ray: pip install 'gridlab[ray]'") from None
        self._ray = ray
        # A Ray the caller started stays up; one started here is shut down.
        self._started_here = not ray.is_initialized()
        options = dict(include_dashboard=False, log_to_driver=False,
                       ignore_reinit_error=True)
        if address:
            _check_reachable(address)  # ray.init waits minutes for a dead address.
            options['address'] = address
        else:
            options['num_cpus'] = workers or os.cpu_count()
        try:
            ray.init(**options)
        except Exception as error:  # Ray raises several types for "no cluster".
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise SweepError(f'cannot reach a Ray cluster at {address!r}: '
                             f'{message}') from None

    def map(self, function, items: Sequence, root: str) -> Iterable:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=0)(function)
        pending = {remote.remote(item, root): item for item in items}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                item = pending.pop(done[0])
                yield item, ray.get(done[0])
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()


def _check_reachable(address: str, timeout: float = 5.) -> None:
    """Raises SweepError unless something listens at a Ray address 'host:port'."""
    import socket
    if address == 'auto':
        return  # Ray finds the local cluster itself.
    target = address.split('://', 1)[-1]
    host, _, port = target.rpartition(':')
    try:
        with socket.create_connection((host or '127.0.0.1', int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as error:
        reason = getattr(error, 'strerror', None) or str(error) or type(error).__name__
        raise SweepError(f'cannot reach a Ray cluster at {address!r}: {reason}') from None


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
              aggregate: bool = True) -> SweepResult:
    """Runs every combination; writes results.csv, curves.csv and the aggregates.

    Checks every name and value, and reaches the backend, before any run
    starts. Finished runs are read, not rerun. A Ctrl-C stops the sweep after
    writing results.csv for the runs that finished; it re-raises.
    """
    if isinstance(seeds, str):
        seeds = parse_seeds(seeds)
    specs = expand(agents, tasks, seeds, grid, steps=steps, episodes=episodes,
                   observation=observation, discount=discount, eval_every=eval_every,
                   eval_episodes=eval_episodes)
    root = pathlib.Path(out)
    if root.exists() and not root.is_dir():
        raise SweepError(f'out {str(root)!r} is a file, not a folder')
    runner = make_backend(backend, workers, address)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError(f'cannot create the sweep folder {str(root)!r}: {error}') from None
    todo = [spec for spec in specs if not is_finished(spec.directory(root))]
    rows = {spec: _row(spec, spec.directory(root)) for spec in specs if spec not in todo}
    progress_lines = _Progress(len(specs), len(rows), enabled=progress)
    try:
        for spec, row in runner.map(run_one, todo, str(root)):
            rows[spec] = row
            progress_lines.update(row)
    finally:
        progress_lines.close()
        runner.close()
        ordered = [rows[spec] for spec in specs if spec in rows]
        results.write_results(root, ordered)
    result = SweepResult(root, ordered)
    write_curves(root, specs, steps)
    if aggregate and any(row['status'] == 'completed' for row in ordered):
        compare.write_comparison(root, ordered)
        report.write_sweep_report(root)
    return result


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
        print(f'gridlab sweep: {self.done}/{self.total} runs ({row["agent"]} on '
              f'{row["task"]}, seed {row["seed"]}: {row["status"]}); '
              f'about {_duration(left)} left', file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


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
    grid = sorted({max(1, round(horizon * (i + 1) / CURVE_POINTS))
                   for i in range(CURVE_POINTS)})
    rows = []
    for spec in specs:
        curve = learning_curve(spec.directory(root), grid)
        for step, value in zip(grid, curve):
            if value is not None and math.isfinite(value):
                rows.append({'agent': spec.agent, 'task': spec.task, 'seed': spec.seed,
                             'hyperparameters': spec.tag, 'step': step,
                             'mean_return': value})
    results.write_csv(root / 'curves.csv',
               ('agent', 'task', 'seed', 'hyperparameters', 'step', 'mean_return'), rows)
