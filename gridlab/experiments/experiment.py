"""One training run: build the environment and the agent, train, evaluate,
and keep everything in one folder.

    result = gridlab.run_experiment('dqn', 'simple', seed=0)   # runs/simple-dqn-seed0/
    result.summary['evaluation']['mean_return']

The folder holds episodes.csv (one row per episode), learning_curve.png,
evaluation.mp4 (a greedy episode), agent.pt (the checkpoint) and
summary.json (everything needed to reproduce the run, and how it went); for
agents with action values on a GridWorld also q_values.png and policy.png.
`gridlab train` is this function behind a command line.
"""

import dataclasses
import inspect
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from gridlab.core import files
from gridlab.experiments import hyperparameters as hyperparameters_lib
from gridlab.evaluation import judging
from gridlab.loops import loggers
from gridlab import registry
from gridlab.core import (Checkpointable, HasQValues, ReportsLoss,
                          TrainsOnBatches, agent_discount)
from gridlab.envs import tasks as tasks_lib
from gridlab.envs.gridworld import ObservationType
from gridlab.envs.wrappers import setup_environment
from gridlab.loops.environment_loop import EnvironmentLoop, evaluate

# Gymnasium environments `gridlab tasks` lists; any registered id works.
GYMNASIUM_TASKS = {'CartPole-v1': 'balance a pole on a cart (Gymnasium)',
                   'FrozenLake-v1': 'slippery 4x4 lake, reach the goal (Gymnasium)'}
GYMNASIUM_DISCOUNT = 0.99  # What Gymnasium tasks' TimeSteps carry by default.

RUN_FILES = ('episodes.csv', 'evaluation.csv', 'learning_curve.png', 'q_values.png',
             'policy.png', 'evaluation.mp4', 'agent.pt', 'best.pt', 'run_state.json',
             'summary.json', 'report.html', 'tensorboard', 'videos')
# What the training line shows (the CSV keeps everything): under 100 columns.
TERMINAL_FIELDS = {'episode': 'episode', 'total_steps': 'steps',
                   'episode_return': 'return', 'episode_length': 'length',
                   'steps_per_second': 'steps/s', 'loss_avg': 'loss'}
EVALUATION_STEP_CAP = 500  # A greedy policy can loop forever; evaluation must end.
VIDEO_FRAME_CAP = 300  # A balanced CartPole must not hold a gigabyte of frames.


class ExperimentError(ValueError):
    """A run that cannot start as asked: a bad name, value or folder."""


class Terminated(BaseException):
    """A signal asked the run to stop (SIGTERM from `timeout`, `docker stop`
    or SLURM; SIGHUP from a closed terminal). Raised by the handlers that
    `stop_on_signals` installs, it unwinds like Ctrl-C."""

    def __init__(self, signum: int):
        import signal
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_on_signals():
    """Makes SIGTERM and SIGHUP end a run the way Ctrl-C does (see Terminated).

    Returns a function that puts the previous handlers back.
    """
    import signal

    def handler(signum, frame):
        raise Terminated(signum)
    previous = {}
    for name in ('SIGTERM', 'SIGHUP'):
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, handler)

    def restore():
        for number, old in previous.items():
            signal.signal(number, old)
    return restore


def how_it_ended(error: BaseException) -> str:
    """A few words for summary.json's "ended_by"."""
    if isinstance(error, KeyboardInterrupt):
        return 'SIGINT (Ctrl-C)'
    if isinstance(error, Terminated):
        return str(error)
    if isinstance(error, BrokenPipeError):
        return 'output closed (broken pipe)'
    first = str(error).splitlines()[0] if str(error) else ''
    return f'{type(error).__name__}: {first}' if first else type(error).__name__


@dataclasses.dataclass
class RunResult:
    """What `run_experiment` did: the run folder and its summary.json."""
    directory: pathlib.Path
    summary: Dict[str, Any]


def is_gymnasium_task(task: str) -> bool:
    """Whether `task` names a Gymnasium environment rather than a GridWorld task."""
    if task in tasks_lib.TASKS:
        return False
    import gymnasium
    return task in gymnasium.registry


def task_descriptions() -> Dict[str, str]:
    """Name -> one line, for every GridWorld task and the listed Gymnasium ones."""
    descriptions = {name: task.description for name, task in tasks_lib.TASKS.items()}
    descriptions.update(GYMNASIUM_TASKS)
    return descriptions


def make_environment(task: str, observation: Optional[ObservationType] = None,
                     seed: Optional[int] = 0, discount: Optional[float] = None):
    """A GridWorld task (with `observation`) or a Gymnasium id, as a dm_env.

    `discount` is what the TimeSteps carry: by default the task's own (0.9
    for the GridWorld tasks) or 0.99 for Gymnasium environments.
    """
    if discount is not None and not 0. <= discount <= 1.:
        raise ExperimentError(f'discount must be in [0, 1], got {discount!r}')
    if is_gymnasium_task(task):
        import gymnasium
        from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
        try:
            return GymnasiumWrapper(task, seed=seed, discount=(
                GYMNASIUM_DISCOUNT if discount is None else discount))
        except (gymnasium.error.Error, ImportError, ValueError) as error:
            raise ExperimentError(f'cannot use the Gymnasium environment {task!r}: '
                                  f'{error}') from None
    if task not in tasks_lib.TASKS:
        raise ExperimentError(
            f'unknown task {task!r}; expected one of {", ".join(tasks_lib.TASKS)}, '
            f'or a Gymnasium id such as {", ".join(GYMNASIUM_TASKS)} '
            '(see `gridlab tasks`)')
    options = {} if discount is None else {'discount': discount}
    return tasks_lib.build_gridworld_task(
        task, observation_type=observation or ObservationType.STATE_INDEX,
        seed=seed, **options)


def observation_type(name: Optional[str], entry: registry.AgentEntry,
                     agent: str) -> ObservationType:
    """The observation type called `name` (default: the agent's), if it accepts it."""
    if name is None:
        return entry.observation
    if isinstance(name, ObservationType):
        kind = name
    else:
        try:
            kind = ObservationType[str(name).upper().replace('-', '_')]
        except KeyError:
            raise ExperimentError(
                f'unknown observation type {name!r}; expected one of '
                f'{", ".join(t.name.lower() for t in ObservationType)}') from None
    if kind not in entry.accepts:
        raise ExperimentError(
            f'agent {agent!r} cannot learn from {kind.name.lower()} observations; '
            f'it accepts {", ".join(t.name.lower() for t in entry.accepts)}')
    return kind


def _resolve_agent(agent: str) -> registry.AgentEntry:
    try:
        return registry.resolve(agent)
    except ValueError as error:
        raise ExperimentError(str(error)) from None


def _save_figure(figure, path: pathlib.Path) -> None:
    import matplotlib.pyplot as plt
    try:
        with files.atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100, bbox_inches='tight')
    finally:
        plt.close(figure)


def write_summary(path: pathlib.Path, summary: dict) -> None:
    files.atomic_write_text(path, json.dumps(summary, indent=2) + '\n')


def _is_gridworld(environment) -> bool:
    """Whether `environment` is a GridWorld, wrapped or not."""
    from gridlab.envs.gridworld import GridWorld
    while not isinstance(environment, GridWorld):
        environment = getattr(environment, 'environment', None)
        if environment is None:
            return False
    return True


def _success_threshold(environment) -> Optional[float]:
    """The return that counts as solving a Gymnasium task (its reward_threshold)."""
    gymnasium_env = getattr(environment, 'gymnasium_environment', None)
    spec = getattr(gymnasium_env, 'spec', None)
    return getattr(spec, 'reward_threshold', None)


def evaluation_statistics(environment, agent, episodes: int,
                          video: Optional[pathlib.Path] = None) -> Dict[str, Any]:
    """Greedy episodes: mean, std, min, max of the returns and the success rate.

    Success is reaching the goal on a GridWorld (the episode terminated
    there), and a return at the Gymnasium task's `reward_threshold` (CartPole
    475, FrozenLake 0.7) on a Gymnasium task that has one. One more greedy
    episode goes to `video`, if given.
    """
    log = loggers.InMemoryLogger()
    evaluate(environment, agent, episodes, logger=log, render=False,
             max_steps_per_episode=EVALUATION_STEP_CAP)
    returns = [row['episode_return'] for row in log.data]
    mean = sum(returns) / len(returns)
    statistics = {'episodes': len(returns), 'mean_return': mean,
                  'std_return': math.sqrt(sum((r - mean) ** 2 for r in returns) /
                                          len(returns)),
                  'min_return': min(returns), 'max_return': max(returns)}
    threshold = _success_threshold(environment)
    if threshold is not None:
        statistics['success_rate'] = sum(r >= threshold for r in returns) / len(returns)
    elif _is_gridworld(environment):  # The goal is what ends an episode there.
        statistics['success_rate'] = sum(row['terminated'] for row in log.data) / len(
            returns)
    if video is not None:
        write_evaluation_video(environment, agent, video)
    return statistics


def write_evaluation_video(environment, agent, path, label: Optional[str] = None) -> None:
    """One greedy episode, annotated (step, reward, return; held first and last
    frames), as an MP4 or GIF at the environment's frame rate."""
    from gridlab.viz import recording
    from gridlab.viz import video as video_lib
    frame_rate = getattr(environment, 'render_fps', 8)
    episodes = recording.record_episodes(environment, agent, episodes=1,
                                         max_steps=VIDEO_FRAME_CAP)
    video_lib.save_video(video_lib.annotate_episodes(episodes, frame_rate, label=label),
                         path, frame_rate=frame_rate)


def evaluation_returns(environment, agent, episodes: int,
                       video: Optional[pathlib.Path] = None) -> List[float]:
    """Greedy returns over `episodes` (see `evaluation_statistics`)."""
    log = loggers.InMemoryLogger()
    evaluate(environment, agent, episodes, logger=log, render=False,
             max_steps_per_episode=EVALUATION_STEP_CAP)
    if video is not None:
        write_evaluation_video(environment, agent, video)
    return [row['episode_return'] for row in log.data]


def _policy_pictures(environment, agent, out: pathlib.Path, name: str,
                     task: str) -> dict:
    """Heatmaps of Q (value agents), the greedy policy with its non-optimal
    cells marked (judged by planning), and how optimal it is."""
    from gridlab.viz import plotting
    q_star = judging.optimal_q_values(environment, agent_discount(agent))
    if isinstance(agent, HasQValues):
        q = judging.q_table(agent, environment)
        _save_figure(plotting.plot_action_values(
            q, walls=environment.walls, cliffs=environment.cliffs,
            start=environment.start_state, goal=environment.goal_state,
            title=f'{name} on {task}'), out / 'q_values.png')
        _save_figure(environment.plot_greedy_policy(q, q_star=q_star, agent=name,
                                                    task=task), out / 'policy.png')
        return {'optimal_fraction': judging.optimal_fraction(environment, q, q_star)}
    actions = judging.greedy_actions(agent, environment)
    _save_figure(environment.plot_policy(
        actions, title='Greedy policy', optimal=plotting.optimal_actions(actions, q_star),
        agent=name, task=task), out / 'policy.png')
    return {'optimal_fraction': judging.actions_optimal_fraction(
        environment, actions, q_star)}


def default_directory(agent: str, task: str, seed: int) -> pathlib.Path:
    """runs/TASK-AGENT-seedS (an import path's ':' becomes '.')."""
    return pathlib.Path('runs') / f'{task}-{agent.replace(":", ".")}-seed{seed}'


LOCK_FILE = '.gridlab.lock'


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


def _leftovers(out: pathlib.Path) -> list:
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
    return old


def _prepare_directory(out: pathlib.Path, overwrite: bool) -> FolderLock:
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
        for path in [out / name for name in old] + _leftovers(out):
            if path.is_dir() and not path.is_symlink():
                import shutil
                shutil.rmtree(path)
            else:
                path.unlink()
    except BaseException:
        lock.release()
        raise
    return lock


def _versions() -> Dict[str, str]:
    """Versions of what a run depends on (gymnasium only if it was loaded)."""
    from importlib import metadata
    versions = {'python': platform.python_version()}
    for name in ('gridlab', 'torch', 'numpy', 'gymnasium', 'dm-env'):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _git_commit() -> Optional[str]:
    """The commit of the gridlab checkout in use, if it is one."""
    root = pathlib.Path(__file__).resolve().parents[1]
    if not (root / '.git').exists():
        return None
    try:
        result = subprocess.run(['git', '-C', str(root), 'rev-parse', 'HEAD'],
                                capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def resolve_settings(agent: str, task: str, *, observation=None, steps=None,
                     episodes=None, hyperparameters=None) -> Dict[str, Any]:
    """The agent's entry, observation type, budget and typed hyperparameters.

    Layers, later winning: the constructor's defaults, gridlab's tuned values
    for this agent on this task (the entry's `tuned`), then `hyperparameters`
    (from a config file and --set). Every name and value is checked here,
    before anything is built or written. The tuned values may also give the
    number of copies to train on and the discount the TimeSteps carry
    ('num_envs', 'discount'), which apply unless the caller gives them.
    """
    entry = _resolve_agent(agent)
    tuned = dict(entry.tuned.get(task, {}))
    gymnasium_task = is_gymnasium_task(task)
    if not gymnasium_task and task not in tasks_lib.TASKS:
        raise ExperimentError(
            f'unknown task {task!r}; expected one of {", ".join(tasks_lib.TASKS)}, '
            f'or a Gymnasium id such as {", ".join(GYMNASIUM_TASKS)} '
            '(see `gridlab tasks`)')
    if gymnasium_task:
        if observation is not None:
            raise ExperimentError(f'observation applies to GridWorld tasks, not to '
                                  f'the Gymnasium environment {task!r}')
        kind = None
    else:
        kind = observation_type(observation or tuned.get('observation'), entry, agent)
    if steps is not None and episodes is not None:
        raise ExperimentError('give steps or episodes, not both')
    if steps is None and episodes is None:
        if 'steps' in tuned or 'episodes' in tuned:
            episodes, steps = tuned.get('episodes'), tuned.get('steps')
        else:
            episodes, steps = entry.budget()
    _check_positive_int('steps', steps, optional=True)
    _check_positive_int('episodes', episodes, optional=True)
    tuned_envs, tuned_discount = tuned.get('num_envs'), tuned.get('discount')
    _check_positive_int(f'tuned num_envs of {agent} on {task}', tuned_envs, optional=True)
    if tuned_discount is not None and not (
            isinstance(tuned_discount, (int, float)) and 0. <= tuned_discount <= 1.):
        raise ExperimentError(f'tuned discount of {agent} on {task} must be a number in '
                              f'[0, 1], got {tuned_discount!r}')
    parameters = registry.constructor_parameters(entry.load())
    try:
        values = hyperparameters_lib.typed(
            parameters, hyperparameters_lib.merge(tuned.get('hyperparameters', {}),
                                                  hyperparameters or {}), agent)
    except ValueError as error:
        raise ExperimentError(str(error)) from None
    return {'entry': entry, 'observation': kind, 'steps': steps, 'episodes': episodes,
            'hyperparameters': values, 'parameters': parameters,
            'gymnasium': gymnasium_task, 'num_envs': tuned_envs,
            'discount': tuned_discount}


class PeriodicEvaluation:
    """An `EpisodeObserver` that evaluates and checkpoints every `every` steps.

    At the end of the episode that crosses each mark it runs `episodes`
    greedy episodes on its own, separately seeded copy of the task, writes
    a row to evaluation.csv (with the optimal fraction on a GridWorld), keeps
    the best checkpoint as best.pt and the latest as agent.pt with
    run_state.json, from which `--resume` continues.
    """

    def __init__(self, run: '_Run', every: int, episodes: int):
        self._run, self._every, self._episodes = run, every, episodes
        self._steps = run.steps_done
        self._next = (self._steps // every + 1) * every
        self._best = -math.inf
        self._csv = None

    def observe_first(self, env, timestep) -> None:
        pass

    def observe(self, env, timestep, action) -> None:
        self._steps += 1

    def get_metrics(self) -> Dict[str, Any]:
        if self._steps < self._next:
            return {}
        self._next = (self._steps // self._every + 1) * self._every
        return self._run.evaluate_now(self._steps, self._episodes, self)

    def at(self, total_steps: int) -> None:
        """For batched training, which reports its step count between updates."""
        self._steps = total_steps
        self.get_metrics()

    def write(self, row: dict) -> None:
        if self._csv is None:
            self._csv = loggers.CSVLogger(self._run.out / 'evaluation.csv',
                                          append=self._run.resumed)
        self._csv.write(row)
        if row['mean_return'] > self._best:
            self._best = row['mean_return']
            self._run.actor.save(self._run.out / 'best.pt')

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()


class _Run:
    """One run in progress: its environment, agent, folder and summary."""

    def __init__(self, settings, task, seed, discount, device, out, summary,
                 resumed=False):
        self.settings, self.task, self.seed = settings, task, seed
        self.out, self.summary, self.resumed = out, summary, resumed
        environment = make_environment(task, settings['observation'], seed, discount)
        self.environment, spec = setup_environment(environment)
        try:
            self.actor = settings['entry'].make(spec, seed=seed, device=device,
                                                environment=environment,
                                                **settings['hyperparameters'])
        except (ValueError, TypeError) as error:  # A device not here, a bad value.
            raise ExperimentError(f'{summary["config"]["agent"]} on {task}: '
                                  f'{error}') from None
        self.evaluation_environment = None
        self.steps_done, self.episodes_done, self.training_seconds = 0, 0, 0.
        self.log = loggers.InMemoryLogger()
        self._start = time.perf_counter()
        self._evaluation_seconds = 0.

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self, total_steps: int, episodes: int) -> None:
        if not isinstance(self.actor, Checkpointable):
            return
        self.actor.save(self.out / 'agent.pt')
        state = {'episodes': episodes, 'total_steps': total_steps,
                 'training_seconds': self.elapsed_training()}
        random_state = getattr(self.environment, 'random_state', None)
        if isinstance(random_state, dict):
            state['environment_random_state'] = random_state
        files.atomic_write_text(self.out / 'run_state.json', json.dumps(state) + '\n')

    def elapsed_training(self) -> float:
        return self.training_seconds + (time.perf_counter() - self._start -
                                        self._evaluation_seconds)

    # ------------------------------------------------------------- evaluation

    def evaluate_now(self, total_steps: int, episodes: int,
                     sink: PeriodicEvaluation) -> Dict[str, Any]:
        start = time.perf_counter()
        if self.evaluation_environment is None:
            environment = make_environment(
                self.task, self.settings['observation'], self.seed + 10_000,
                self.summary['config']['environment_discount'])
            self.evaluation_environment, _ = setup_environment(environment)
        row = {'total_steps': total_steps,
               'training_seconds': round(self.elapsed_training(), 3)}
        from gridlab.viz.recording import preserved_random_state
        # Greedy ties draw random numbers: put them back, so that a run with
        # evaluations trains exactly as one without.
        with preserved_random_state(self.actor):
            statistics = evaluation_statistics(self.evaluation_environment, self.actor,
                                               episodes)
            if not self.settings['gymnasium']:
                statistics['optimal_fraction'] = _optimal_fraction(self.environment,
                                                                   self.actor)
        row.update({k: v for k, v in statistics.items() if k != 'episodes'})
        sink.write(row)
        self.save_checkpoint(total_steps, self.log_episodes())
        self._evaluation_seconds += time.perf_counter() - start
        return {}

    def log_episodes(self) -> int:
        return self.episodes_done + len(self.log.data)


def _optimal_fraction(environment, actor) -> float:
    q_star = judging.optimal_q_values(environment, agent_discount(actor))
    if isinstance(actor, HasQValues):
        return judging.optimal_fraction(environment, judging.q_table(actor, environment),
                                        q_star)
    return judging.actions_optimal_fraction(
        environment, judging.greedy_actions(actor, environment), q_star)


def run_experiment(agent: str,
                   task: str,
                   out=None,
                   *,
                   seed: int = 0,
                   observation: Optional[str] = None,
                   steps: Optional[int] = None,
                   episodes: Optional[int] = None,
                   discount: Optional[float] = None,
                   hyperparameters: Optional[Dict[str, Any]] = None,
                   device: str = 'cpu',
                   eval_episodes: int = 5,
                   eval_every: Optional[int] = None,
                   overwrite: bool = False,
                   progress: Optional[bool] = None,
                   log_every: float = 1.,
                   verbose: bool = True,
                   tensorboard: bool = False,
                   video: bool = True,
                   video_every: Optional[int] = None,
                   num_envs: Optional[int] = None,
                   pictures: bool = True,
                   command: Optional[List[str]] = None) -> RunResult:
    """Trains `agent` on `task` and writes the run folder; returns it and its summary.

    Args:
      agent: a registered name (`gridlab.registry.agents()`) or
        'package.module:Class' for any Actor class.
      task: a GridWorld task (`gridlab.TASKS`) or a Gymnasium id.
      out: the run folder (default runs/TASK-AGENT-seedS).
      seed: seeds the environment and the agent.
      observation: GridWorld observation type (default: the agent's).
      steps, episodes: the training budget (default: the agent's, or
        gridlab's tuned budget for this agent on this task).
      discount: the discount the TimeSteps carry (default: the tuned one for
        this agent on this task, else the task's: 0.9 on the GridWorld tasks,
        0.99 on Gymnasium). Agents multiply their own
        (1 by default) onto it; summary.json records the product.
      hyperparameters: constructor arguments for the agent (typed from its
        signature; strings such as '0.1' or '64,64' are read as such).
      device: 'cpu', 'cuda' or 'auto', for agents with networks.
      eval_episodes: greedy episodes in each evaluation.
      eval_every: also evaluate (on a separately seeded copy of the task),
        checkpoint and keep best.pt every this many training steps.
      overwrite: replace a run already in `out`.
      progress: show a progress bar (None: in terminals and notebooks only).
      log_every: seconds between printed progress lines.
      verbose: print what is happening (the command line does).
      tensorboard: also log to `out/tensorboard` (needs gridlab[tensorboard]).
      video: write evaluation.mp4.
      video_every: also film a greedy episode every this many training steps
        (videos/step_NNNNNN.mp4); training is not changed by it.
      num_envs: train on this many copies of the task at once, stepped as
        arrays (`BatchedGridWorld`, or Gymnasium's vector environments), for
        agents that can (`gridlab.core.TrainsOnBatches`, e.g. PPO, DQN). Default:
        the tuned number for this agent on this task, else one.
      pictures: draw learning_curve.png, q_values.png and policy.png (sweeps
        leave them out: thousands of runs, each read through aggregates).
      command: the command line to record in summary.json.

    A Ctrl-C during training or evaluation keeps what there is (the log,
    a checkpoint, summary.json with its "status") and re-raises.
    """
    settings = resolve_settings(agent, task, observation=observation, steps=steps,
                                episodes=episodes, hyperparameters=hyperparameters)
    if num_envs is None and episodes is None:  # A budget in episodes is one copy's.
        num_envs = settings['num_envs']
    if discount is None:
        discount = settings['discount']
    _check_positive_int('eval_episodes', eval_episodes)
    for name, value in (('eval_every', eval_every), ('video_every', video_every),
                        ('num_envs', num_envs)):
        _check_positive_int(name, value, optional=True)
    if discount is not None and not (isinstance(discount, (int, float)) and
                                     0. <= discount <= 1.):
        raise ExperimentError(f'discount must be a number in [0, 1], got {discount!r}')
    if out is not None and not str(out).strip():
        raise ExperimentError("out is empty; expected a folder name such as runs/mine")
    out = pathlib.Path(out) if out is not None else default_directory(agent, task, seed)
    kind = settings['observation']
    config = {'agent': agent, 'task': task,
              'observation': kind.name.lower() if kind else 'gymnasium',
              'seed': seed, 'episodes': settings['episodes'], 'steps': settings['steps'],
              'device': device, 'eval_episodes': eval_episodes, 'eval_every': eval_every,
              'video_every': video_every, 'num_envs': num_envs, 'pictures': pictures,
              'hyperparameters': dict(settings['hyperparameters'])}
    summary: Dict[str, Any] = {'config': config, 'status': 'running'}
    run = _Run(settings, task, seed, discount, device, out, summary)
    if num_envs is not None and num_envs > 1:
        if not (isinstance(run.actor, TrainsOnBatches) and
                'stop' in inspect.signature(run.actor.train).parameters):
            raise ExperimentError(f'agent {agent!r} trains on one environment at a '
                                  'time; num_envs (--num-envs) needs an agent with a '
                                  'batched train(), such as ppo or dqn')
        if settings['episodes'] is not None:
            raise ExperimentError('with num_envs, give the budget in steps, not episodes')
    # float32 discounts read back as 0.8999999761581421: record 0.9.
    environment_discount = float(f'{float(run.environment.discount):.7g}')
    config.update(environment_discount=environment_discount,
                  discount=float(f'{environment_discount * agent_discount(run.actor):.7g}'))
    summary.update(
        hyperparameters=hyperparameters_lib.effective(settings['parameters'],
                                                      settings['hyperparameters']),
        command=list(command) if command is not None else None,
        versions=_versions(), git_commit=_git_commit())
    if not isinstance(log_every, (int, float)) or not log_every >= 0 or not math.isfinite(
            log_every):
        raise ExperimentError(f'log_every must be a finite number of seconds >= 0, '
                              f'got {log_every!r}')
    lock = _prepare_directory(out, overwrite)
    try:
        return _train(run, progress=progress, log_every=log_every, verbose=verbose,
                      tensorboard=tensorboard, video=video)
    finally:
        lock.release()


def _check_positive_int(name: str, value, optional: bool = False) -> None:
    """An ExperimentError naming `name` unless value is an int >= 1 (or None
    when optional)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExperimentError(f'{name} must be a positive integer, got {value!r}')


def _train(run: _Run, *, progress, log_every, verbose, tensorboard, video) -> RunResult:
    config, summary, out = run.summary['config'], run.summary, run.out
    _write_status(run, 'running')  # A folder says what it holds from the start.
    say = print if verbose else (lambda *args, **kwargs: None)
    say(f'gridlab: training {config["agent"]} on {config["task"]} '
        f'({config["observation"]} observations) -> {out}')
    sinks = [loggers.CSVLogger(out / 'episodes.csv', append=run.resumed), run.log]
    if verbose:
        fields = dict(TERMINAL_FIELDS)
        if not run.settings['entry'].logs_loss:  # The CSV keeps it.
            fields.pop('loss_avg')
        sinks.append(loggers.TerminalLogger('training', time_delta=log_every,
                                            fields=fields))
    if tensorboard:
        from gridlab.loops.tensorboard_logger import TensorBoardLogger
        sinks.append(TensorBoardLogger(out / 'tensorboard'))
    logger = loggers.Dispatcher(sinks)
    observers = []
    evaluation = None
    if config.get('eval_every'):
        evaluation = PeriodicEvaluation(run, config['eval_every'], config['eval_episodes'])
        observers.append(evaluation)
    if config.get('video_every') and video:
        from gridlab.viz.recording import PeriodicVideo
        observers.append(PeriodicVideo(run.environment, run.actor, out / 'videos',
                                       config['video_every'], max_steps=VIDEO_FRAME_CAP,
                                       label=f'{config["agent"]} on {config["task"]}'))
    loop = EnvironmentLoop(run.environment, run.actor, logger=logger,
                           label=f'{config["agent"]} on {config["task"]}',
                           log_loss=isinstance(run.actor, ReportsLoss),
                           progress=progress,
                           observers=observers, first_episode=run.episodes_done,
                           first_step=run.steps_done)
    episodes, steps = config['episodes'], config['steps']
    if episodes is not None:
        episodes = max(episodes - run.episodes_done, 0)
    if steps is not None:
        steps = max(steps - run.steps_done, 0)
    try:
        try:
            with logger:
                if config.get('num_envs') and config['num_envs'] > 1:
                    _train_on_batches(run, logger, steps, evaluation)
                else:
                    loop.run(num_episodes=episodes, num_steps=steps)
        finally:
            if evaluation is not None:
                evaluation.close()
        summary['training'] = _training_summary(run)
        run.save_checkpoint(summary['training']['steps'], summary['training']['episodes'])
        _write_status(run, 'evaluating')  # Evaluable from here on.
        complete = [row for row in run.log.data if not row['cut_short']]
        if complete and config.get('pictures', True):
            from gridlab.viz import plotting
            lengths = [row.get('episode_length') for row in complete]
            _save_figure(plotting.plot_learning_curve(
                [row['episode_return'] for row in complete],
                episode_lengths=None if None in lengths else lengths,
                agent=config['agent'], task=config['task'], seed=config['seed']),
                out / 'learning_curve.png')
        # On its own, separately seeded copy of the task, as `gridlab evaluate`
        # does: the figure here is the one that command reproduces.
        summary['evaluation'] = evaluation_statistics(
            evaluation_environment(run), run.actor, config['eval_episodes'])
        if video:
            write_evaluation_video(run.environment, run.actor, out / 'evaluation.mp4',
                                   label=f'{config["agent"]} on {config["task"]}')
        if not run.settings['gymnasium']:  # A GridWorld: judge it against planning.
            if config.get('pictures', True):
                summary['evaluation'].update(_policy_pictures(
                    run.environment, run.actor, out, config['agent'], config['task']))
            else:
                summary['evaluation']['optimal_fraction'] = _optimal_fraction(
                    run.environment, run.actor)
    except BaseException as ending:
        _keep_what_there_is(run, ending)
        raise
    _write_status(run, 'completed')
    _write_report(out)
    say(f'gridlab: done in {summary["training"]["seconds"]:.1f} s; greedy mean '
        f'return {summary["evaluation"]["mean_return"]:.2f}; files in {out}')
    return RunResult(out, summary)


def batched_environment(task: str, observation, num_envs: int, seed: int,
                        discount: float):
    """`num_envs` copies of a task stepped as arrays (GridWorld or Gymnasium)."""
    if is_gymnasium_task(task):
        from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
        return GymnasiumVectorWrapper(task, num_envs, seed=seed, discount=discount)
    from gridlab.envs.batched import BatchedGridWorld
    return BatchedGridWorld(make_environment(task, observation, seed, discount),
                            num_envs, seed=seed)


def _train_on_batches(run: '_Run', logger, steps: int, evaluation) -> None:
    """Training by the agent's own batched `train()`; one CSV row per episode.

    Episodes finish in many copies at once, so each row's `total_steps` is
    the step count at the update after which it was reported.
    """
    config = run.summary['config']
    environment = batched_environment(config['task'], run.settings['observation'],
                                      config['num_envs'], run.seed,
                                      config['environment_discount'])

    def stop(agent, done_steps):
        if evaluation is not None:
            evaluation.at(run.steps_done + done_steps)
        return False

    result = run.actor.train(environment, steps, stop=stop)
    for episode_return in result.episode_returns:
        logger.write({'episode': run.episodes_done + len(run.log.data),
                      'episode_return': float(episode_return),
                      'total_steps': run.steps_done + int(result.steps),
                      'cut_short': False})
    run.steps_done += int(result.steps)


def evaluation_environment(run: '_Run'):
    """A fresh copy of the run's task, seeded seed + 10,000 (evaluation only)."""
    environment = make_environment(run.task, run.settings['observation'],
                                   run.seed + 10_000,
                                   run.summary['config']['environment_discount'])
    return setup_environment(environment)[0]


def _keep_what_there_is(run: '_Run', ending: BaseException) -> None:
    """However the run ends, the last checkpoint and a summary that says how.

    Ctrl-C, SIGTERM, SIGHUP and a closed output are interruptions; anything
    else (a full disk, an exception in evaluation, a bug) is a failure. The
    checkpoint is saved now if training did not finish (the one from the end
    of training is kept otherwise); if that fails too (the disk is full), the
    last one written stays, whole. Nothing here may hide `ending`.
    """
    summary = run.summary
    interrupted = isinstance(ending, (KeyboardInterrupt, Terminated, BrokenPipeError))
    summary['ended_by'] = how_it_ended(ending)
    try:
        if 'training' not in summary:
            summary['training'] = _training_summary(run)
            run.save_checkpoint(summary['training']['steps'],
                                summary['training']['episodes'])
    except Exception:  # The last checkpoint that was written stays.
        pass
    for step in (lambda: _write_status(run, 'interrupted' if interrupted else 'failed'),
                 lambda: _write_report(run.out)):
        try:
            step()
        except Exception:
            pass


def _write_report(out: pathlib.Path) -> None:
    """report.html: everything in the folder on one page (gridlab.viz.report)."""
    from gridlab.viz import report
    report.write_run_report(out)


def _write_status(run: _Run, status: str) -> None:
    run.summary['status'] = status
    run.summary['interrupted'] = status == 'interrupted'
    write_summary(run.out / 'summary.json', run.summary)


def _training_summary(run: _Run) -> dict:
    rows = run.log.data
    return {'episodes': run.episodes_done + len(rows),
            'steps': run.steps_done + int(sum(row.get('episode_length', 0) for row in rows)),
            'seconds': round(run.elapsed_training(), 3)}


def resume_experiment(run_dir, *, progress: Optional[bool] = None,
                      log_every: float = 1., verbose: bool = True,
                      video: bool = True) -> RunResult:
    """Continues an interrupted run from its checkpoint to its original budget.

    The agent comes back from agent.pt (weights, optimiser, random
    generators, exploration schedule and counters), the environment's random
    generator from run_state.json, and episodes.csv continues where the
    checkpoint was taken (later rows, which the resumed run redoes, are
    dropped). Replay buffers are not checkpointed: a resumed DQN starts
    collecting afresh.
    """
    out = pathlib.Path(run_dir)
    summary = _read_summary(out)
    config = summary['config']
    if summary.get('status') == 'completed':
        raise ExperimentError(f'{str(out)!r} holds a completed run; nothing to resume')
    state_path = out / 'run_state.json'
    if not (out / 'agent.pt').is_file() or not state_path.is_file():
        raise ExperimentError(f'{str(out)!r} has no checkpoint to resume from '
                              '(agent.pt and run_state.json)')
    try:
        state = json.loads(state_path.read_text())
        episodes_done, steps_done = int(state['episodes']), int(state['total_steps'])
    except (OSError, ValueError, KeyError, TypeError):
        raise ExperimentError(f'{str(state_path)!r} is damaged') from None
    settings = resolve_settings(config['agent'], config['task'],
                                observation=None if config['observation'] == 'gymnasium'
                                else config['observation'],
                                steps=config['steps'], episodes=config['episodes'],
                                hyperparameters=config.get('hyperparameters'))
    run = _Run(settings, config['task'], config['seed'], config['environment_discount'],
               config.get('device', 'cpu'), out, summary, resumed=True)
    try:
        run.actor.restore(out / 'agent.pt')
        if 'environment_random_state' in state:
            run.environment.random_state = state['environment_random_state']
    except (ValueError, FileNotFoundError) as error:
        raise ExperimentError(str(error)) from None
    run.episodes_done, run.steps_done = episodes_done, steps_done
    run.training_seconds = float(state.get('training_seconds', 0.))
    lock = FolderLock(out)
    try:
        for name in ('episodes.csv', 'evaluation.csv'):
            _keep_rows_up_to(out / name, steps_done)
        for path in _leftovers(out):
            path.unlink()
        summary.pop('training', None)
        summary.pop('evaluation', None)
        summary.pop('ended_by', None)
        summary['resumed_from_step'] = steps_done
        return _train(run, progress=progress, log_every=log_every, verbose=verbose,
                      tensorboard=False, video=video)
    finally:
        lock.release()


def _keep_rows_up_to(path: pathlib.Path, total_steps: int) -> None:
    """Drops the rows of a run's CSV logged after `total_steps` (atomically)."""
    import csv
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
    import csv
    import io
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator='').writerow(row)
    return buffer.getvalue()


def _read_summary(run: pathlib.Path) -> dict:
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


def load_run(run_dir, device: Optional[str] = None):
    """(environment, agent, summary) of a run folder, the agent restored."""
    run = pathlib.Path(run_dir)
    summary = _read_summary(run)
    config = summary['config']
    settings = resolve_settings(
        config['agent'], config['task'],
        observation=None if config.get('observation') == 'gymnasium'
        else config.get('observation'),
        steps=config.get('steps'), episodes=config.get('episodes'),
        hyperparameters=config.get('hyperparameters'))
    made = make_environment(config['task'], settings['observation'], config['seed'],
                            config.get('environment_discount'))
    environment, spec = setup_environment(made)
    try:
        actor = settings['entry'].make(spec, seed=config['seed'],
                                       device=device or config.get('device', 'cpu'),
                                       environment=made, **settings['hyperparameters'])
        actor.restore(run / 'agent.pt')
    except (ValueError, TypeError, FileNotFoundError) as error:
        raise ExperimentError(str(error)) from None
    return environment, actor, summary


def evaluate_run(run_dir, episodes: int = 5, video=None,
                 device: Optional[str] = None) -> Dict[str, Any]:
    """Reloads a run's agent; its greedy evaluation statistics (and `video`)."""
    from gridlab.viz import video as video_lib
    if video is not None:
        video = pathlib.Path(video)
        if (not video.parent.is_dir() or
                video.suffix.lower() not in video_lib.SUPPORTED_SUFFIXES):
            raise ExperimentError(f'video {str(video)!r}: expected a .mp4 or .gif '
                                  'path in an existing folder')
    environment, actor, summary = load_run(run_dir, device)
    config = summary['config']
    evaluation = setup_environment(make_environment(
        config['task'], environment.observation_type if _is_gridworld(environment)
        else None,
        config['seed'] + 10_000, config.get('environment_discount')))[0]
    statistics = evaluation_statistics(evaluation, actor, episodes)
    if video is not None:
        write_evaluation_video(environment, actor, video,
                               label=f'{config["agent"]} on {config["task"]}')
    return statistics
