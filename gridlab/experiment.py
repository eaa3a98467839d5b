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
import json
import pathlib
import time
from typing import Any, Dict, List, Optional

from gridlab import files, judging, loggers, registry
from gridlab.core import (Checkpointable, HasQValues, ReportsLoss,
                          agent_discount)
from gridlab.environments import tasks as tasks_lib
from gridlab.environments.gridworld import ObservationType
from gridlab.environments.wrappers import setup_environment
from gridlab.loop import EnvironmentLoop, evaluate

# Gymnasium environments `gridlab tasks` lists; any registered id works.
GYMNASIUM_TASKS = {'CartPole-v1': 'balance a pole on a cart (Gymnasium)',
                   'FrozenLake-v1': 'slippery 4x4 lake, reach the goal (Gymnasium)'}
GYMNASIUM_DISCOUNT = 0.99  # What Gymnasium tasks' TimeSteps carry by default.

RUN_FILES = ('episodes.csv', 'learning_curve.png', 'q_values.png', 'policy.png',
             'evaluation.mp4', 'agent.pt', 'summary.json')
EVALUATION_STEP_CAP = 500  # A greedy policy can loop forever; evaluation must end.
VIDEO_FRAME_CAP = 300  # A balanced CartPole must not hold a gigabyte of frames.


class ExperimentError(ValueError):
    """A run that cannot start as asked: a bad name, value or folder."""


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
        from gridlab.environments.gymnasium_adapters import GymnasiumWrapper
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


def evaluation_returns(environment, agent, episodes: int,
                       video: Optional[pathlib.Path] = None) -> List[float]:
    """Greedy returns over `episodes`; one more greedy episode goes to `video`."""
    from gridlab import video as video_lib
    log = loggers.InMemoryLogger()
    evaluate(environment, agent, episodes, logger=log, render=False,
             max_steps_per_episode=EVALUATION_STEP_CAP)
    if video is not None:
        frames = evaluate(environment, agent, 1, logger=loggers.NoOpLogger(),
                          max_steps_per_episode=VIDEO_FRAME_CAP)
        video_lib.save_video(frames, video,
                             frame_rate=getattr(environment, 'render_fps', 8))
    return [row['episode_return'] for row in log.data]


def _policy_pictures(environment, agent, out: pathlib.Path) -> dict:
    """Heatmaps of Q (value agents), the greedy policy, and how optimal it is."""
    from gridlab import plotting
    q_star = judging.optimal_q_values(environment, agent_discount(agent))
    if isinstance(agent, HasQValues):
        q = judging.q_table(agent, environment)
        _save_figure(plotting.plot_action_values(q), out / 'q_values.png')
        _save_figure(environment.plot_greedy_policy(q), out / 'policy.png')
        return {'optimal_fraction': judging.optimal_fraction(environment, q, q_star)}
    actions = judging.greedy_actions(agent, environment)
    _save_figure(environment.plot_policy(actions, title='Greedy policy'),
                 out / 'policy.png')
    return {'optimal_fraction': judging.actions_optimal_fraction(
        environment, actions, q_star)}


def default_directory(agent: str, task: str, seed: int) -> pathlib.Path:
    """runs/TASK-AGENT-seedS (an import path's ':' becomes '.')."""
    return pathlib.Path('runs') / f'{task}-{agent.replace(":", ".")}-seed{seed}'


def _prepare_directory(out: pathlib.Path, overwrite: bool) -> pathlib.Path:
    """The run's folder: new, or emptied of an old run's files with `overwrite`."""
    if out.exists() and not out.is_dir():
        raise ExperimentError(f'out {str(out)!r} is a file, not a folder')
    old = [name for name in RUN_FILES if (out / name).exists()]
    if old and not overwrite:
        raise ExperimentError(f'{str(out)!r} already holds a run ({", ".join(old)}); '
                              'pass overwrite (--overwrite) to replace it, or choose '
                              'another folder (--out)')
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExperimentError(f'cannot create the run folder {str(out)!r}: '
                              f'{error}') from None
    for name in old:  # Nothing of the old run may sit beside the new one.
        (out / name).unlink()
    return out


def _training_summary(log: loggers.InMemoryLogger, start: float) -> dict:
    return {'episodes': len(log.data),
            'steps': int(sum(row['episode_length'] for row in log.data)),
            'seconds': round(time.perf_counter() - start, 3)}


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
                   overwrite: bool = False,
                   progress: Optional[bool] = None,
                   log_every: float = 1.,
                   verbose: bool = True) -> RunResult:
    """Trains `agent` on `task` and writes the run folder; returns it and its summary.

    Args:
      agent: a registered name (`gridlab.registry.agents()`) or
        'package.module:Class' for any Actor class.
      task: a GridWorld task (`gridlab.TASKS`) or a Gymnasium id.
      out: the run folder (default runs/TASK-AGENT-seedS).
      seed: seeds the environment and the agent.
      observation: GridWorld observation type (default: the agent's).
      steps, episodes: the training budget (default: the agent's).
      discount: the discount the TimeSteps carry (default: the task's, 0.9
        on the GridWorld tasks, 0.99 on Gymnasium). Agents multiply their own
        (1 by default) onto it; summary.json records the product.
      hyperparameters: keyword arguments for the agent's constructor.
      device: 'cpu', 'cuda' or 'auto', for agents with networks.
      eval_episodes: greedy episodes in the final evaluation.
      overwrite: replace a run already in `out`.
      progress: show a progress bar (None: in terminals and notebooks only).
      log_every: seconds between printed progress lines.
      verbose: print what is happening (the command line does).

    A Ctrl-C during training or evaluation keeps what there is (the log,
    a checkpoint, summary.json with "interrupted": true) and re-raises.
    """
    hyperparameters = dict(hyperparameters or {})
    entry = _resolve_agent(agent)
    gymnasium_task = is_gymnasium_task(task)
    if gymnasium_task:
        if observation is not None:
            raise ExperimentError(f'observation applies to GridWorld tasks, not to '
                                  f'the Gymnasium environment {task!r}')
        kind = None
    else:
        kind = observation_type(observation, entry, agent)
    if steps is not None and episodes is not None:
        raise ExperimentError('give steps or episodes, not both')
    if steps is None and episodes is None:
        episodes, steps = entry.budget()
    environment = make_environment(task, kind, seed, discount)
    environment, spec = setup_environment(environment)
    try:
        actor = entry.make(spec, seed=seed, device=device, **hyperparameters)
    except (ValueError, TypeError) as error:  # A device not here, a bad value.
        raise ExperimentError(f'{agent} on {task}: {error}') from None
    out = _prepare_directory(pathlib.Path(out) if out is not None
                             else default_directory(agent, task, seed), overwrite)
    env_discount = float(environment.discount)
    observation_name = kind.name.lower() if kind else 'gymnasium'
    summary: Dict[str, Any] = {
        'config': {'agent': agent, 'task': task, 'observation': observation_name,
                   'seed': seed, 'episodes': episodes, 'steps': steps,
                   'discount': env_discount * agent_discount(actor),
                   'environment_discount': env_discount,
                   'hyperparameters': hyperparameters, 'device': device},
        'interrupted': False}
    say = print if verbose else (lambda *args, **kwargs: None)
    say(f'gridlab: training {agent} on {task} ({observation_name} observations) '
        f'-> {out}')

    log = loggers.InMemoryLogger()
    logger = loggers.Dispatcher([loggers.CSVLogger(out / 'episodes.csv'), log] + (
        [loggers.TerminalLogger('training', time_delta=log_every)] if verbose else []))
    loop = EnvironmentLoop(environment, actor, logger=logger,
                           label=f'{agent} on {task}',
                           log_loss=isinstance(actor, ReportsLoss), progress=progress)
    saves = isinstance(actor, Checkpointable)
    start = time.perf_counter()
    try:
        with logger:
            loop.run(num_episodes=episodes, num_steps=steps)
        if saves:
            actor.save(out / 'agent.pt')
        summary['training'] = _training_summary(log, start)
        write_summary(out / 'summary.json', summary)  # Evaluable from here on.
        complete = [row['episode_return'] for row in log.data if not row['cut_short']]
        if complete:
            from gridlab import plotting
            _save_figure(plotting.plot_learning_curve(complete),
                         out / 'learning_curve.png')
        returns = evaluation_returns(environment, actor, eval_episodes,
                                     out / 'evaluation.mp4')
        summary['evaluation'] = {'episodes': len(returns),
                                 'mean_return': float(sum(returns) / len(returns))}
        if not gymnasium_task:  # A GridWorld: judge it against planning.
            summary['evaluation'].update(_policy_pictures(environment, actor, out))
    except KeyboardInterrupt:
        # Keep what there is (the CSV is flushed row by row).
        summary['interrupted'] = True
        if 'training' not in summary:
            if saves:
                actor.save(out / 'agent.pt')
            summary['training'] = _training_summary(log, start)
        write_summary(out / 'summary.json', summary)
        raise
    write_summary(out / 'summary.json', summary)
    say(f'gridlab: done in {summary["training"]["seconds"]:.1f} s; greedy mean '
        f'return {summary["evaluation"]["mean_return"]:.2f}; files in {out}')
    return RunResult(out, summary)


def load_run(run_dir) -> tuple:
    """(environment, agent, summary) of a finished run folder, agent restored."""
    run = pathlib.Path(run_dir)
    try:
        summary = json.loads((run / 'summary.json').read_text())
        config = summary['config']
        agent, task, seed = config['agent'], config['task'], config['seed']
        hyperparameters = dict(config.get('hyperparameters', {}))
        discount = config.get('environment_discount')
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ExperimentError(f'{str(run)!r} is not a gridlab run directory (no '
                              'readable summary.json from `gridlab train`)') from None
    entry = _resolve_agent(agent)
    kind = None if is_gymnasium_task(task) else observation_type(
        config.get('observation'), entry, agent)
    environment, spec = setup_environment(make_environment(task, kind, seed, discount))
    return environment, entry, spec, summary


def evaluate_run(run_dir, episodes: int = 5, video=None,
                 device: Optional[str] = None) -> List[float]:
    """Reloads a run's agent and returns its greedy returns (and writes `video`)."""
    from gridlab import video as video_lib
    environment, entry, spec, summary = load_run(run_dir)
    config = summary['config']
    try:
        actor = entry.make(spec, seed=config['seed'],
                           device=device or config.get('device', 'cpu'),
                           **config.get('hyperparameters', {}))
        actor.restore(pathlib.Path(run_dir) / 'agent.pt')
    except (ValueError, TypeError, FileNotFoundError) as error:
        raise ExperimentError(str(error)) from None
    if video is not None:
        video = pathlib.Path(video)
        if (not video.parent.is_dir() or
                video.suffix.lower() not in video_lib.SUPPORTED_SUFFIXES):
            raise ExperimentError(f'video {str(video)!r}: expected a .mp4 or .gif '
                                  'path in an existing folder')
    return evaluation_returns(environment, actor, episodes, video)
