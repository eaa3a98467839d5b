"""The `gridlab` command: train an agent on a task and keep everything.

    gridlab train --agent dqn --task simple          # -> runs/simple-dqn-seed0/
    gridlab train --agent actor-critic --task CartPole-v1
    gridlab evaluate runs/simple-random-seed0 --episodes 5
    gridlab tasks
    gridlab show obstacle --out obstacle.png

A run directory holds episodes.csv (one row per episode), learning_curve.png,
evaluation.mp4 (greedy episodes), agent.pt (the checkpoint) and summary.json;
for agents with action values on a GridWorld also q_values.png and policy.png.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time
from typing import Callable, Dict, List, Optional

import matplotlib
import torch

import gridlab
from gridlab import files, plotting, video as video_lib
from gridlab.environments.gridworld import GridWorld, ObservationType


@dataclasses.dataclass(frozen=True)
class AgentEntry:
    """How the command builds an agent, what it observes, how long it trains."""
    make: Callable  # (environment_spec, seed, device) -> Actor
    observation: ObservationType
    episodes: Optional[int] = None  # Default training length: episodes ...
    steps: Optional[int] = None  # ... or steps.
    accepts: tuple = tuple(ObservationType)


def _random_agent(spec, seed, device):
    from agents import RandomAgent
    return RandomAgent(spec, seed=seed)


def _q_learning(spec, seed, device):
    from agents import QLearning
    return QLearning(spec, seed=seed)


def _sarsa(spec, seed, device):
    from agents import SARSA
    return SARSA(spec, seed=seed)


def _nfq(spec, seed, device):
    from agents import NeuralFittedQAgent
    return NeuralFittedQAgent(spec, seed=seed, device=device)


def _dqn(spec, seed, device):
    from agents import DQN
    return DQN(spec, seed=seed, device=device)


def _reinforce(spec, seed, device):
    from agents import PolicyGradientAgent
    return PolicyGradientAgent(spec, seed=seed, device=device)


def _actor_critic(spec, seed, device):
    from agents import ActorCriticAgent
    return ActorCriticAgent(spec, seed=seed, device=device)


_ARRAYS = tuple(t for t in ObservationType if t is not ObservationType.STATE_INDEX)
_VECTOR = (ObservationType.AGENT_GOAL_POS,)

AGENTS: Dict[str, AgentEntry] = {
    'random': AgentEntry(_random_agent, ObservationType.STATE_INDEX, episodes=20),
    'q-learning': AgentEntry(_q_learning, ObservationType.STATE_INDEX, steps=20_000,
                             accepts=(ObservationType.STATE_INDEX,)),
    'sarsa': AgentEntry(_sarsa, ObservationType.STATE_INDEX, steps=20_000,
                        accepts=(ObservationType.STATE_INDEX,)),
    'nfq': AgentEntry(_nfq, ObservationType.AGENT_GOAL_POS, steps=5_000,
                      accepts=_ARRAYS),
    'dqn': AgentEntry(_dqn, ObservationType.GRID, steps=5_000, accepts=_ARRAYS),
    'reinforce': AgentEntry(_reinforce, ObservationType.AGENT_GOAL_POS,
                            steps=30_000, accepts=_VECTOR),
    'actor-critic': AgentEntry(_actor_critic, ObservationType.AGENT_GOAL_POS,
                               steps=60_000, accepts=_VECTOR),
}


class UsageError(Exception):
    """A bad argument: reported in one line, without a traceback."""


def _observation_type(name: Optional[str], entry: AgentEntry,
                      agent: str) -> ObservationType:
    if name is None:
        return entry.observation
    try:
        kind = ObservationType[name.upper().replace('-', '_')]
    except KeyError:
        raise UsageError(
            f'unknown observation type {name!r}; expected one of '
            f'{", ".join(t.name.lower() for t in ObservationType)}') from None
    if kind not in entry.accepts:
        raise UsageError(
            f'agent {agent!r} cannot learn from {kind.name.lower()} observations; '
            f'it accepts {", ".join(t.name.lower() for t in entry.accepts)}')
    return kind


# Gymnasium environments the command lists; any registered id works.
GYMNASIUM_TASKS = {'CartPole-v1': 'balance a pole on a cart (Gymnasium)',
                   'FrozenLake-v1': 'slippery 4x4 lake, reach the goal (Gymnasium)'}


def _is_gymnasium(task: str) -> bool:
    import gymnasium
    return task not in gridlab.TASKS and task in gymnasium.registry


def _make_environment(task: str, observation: Optional[ObservationType], seed: int):
    """A GridWorld task with `observation`, or a Gymnasium id (observation None)."""
    if _is_gymnasium(task):
        import gymnasium
        try:
            return gridlab.GymnasiumWrapper(task, seed=seed)
        except (gymnasium.error.Error, ImportError, ValueError) as error:
            raise UsageError(f'cannot use the Gymnasium environment {task!r}: '
                             f'{error}') from None
    if task not in gridlab.TASKS:
        raise UsageError(
            f'unknown task {task!r}; expected one of {", ".join(gridlab.TASKS)}, '
            f'or a Gymnasium id such as {", ".join(GYMNASIUM_TASKS)} '
            '(see `gridlab tasks`)')
    return gridlab.build_gridworld_task(task, observation_type=observation, seed=seed)


def _save_figure(figure, path: pathlib.Path) -> None:
    import matplotlib.pyplot as plt
    try:
        with files.atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100, bbox_inches='tight')
    finally:
        plt.close(figure)


def _write_json(path: pathlib.Path, content: dict) -> None:
    files.atomic_write_text(path, json.dumps(content, indent=2) + '\n')


def _evaluation(environment, agent, episodes: int,
                video: Optional[pathlib.Path]) -> List[float]:
    """Greedy returns over `episodes`; one more greedy episode goes to `video`.

    The video episode is capped at 300 frames so that a balanced CartPole
    does not hold a gigabyte of frames; it plays at the environment's rate.
    """
    log = gridlab.InMemoryLogger()
    # A greedy policy can loop forever; evaluation must end.
    gridlab.evaluate(environment, agent, episodes, logger=log, render=False,
                     max_steps_per_episode=500)
    if video is not None:
        frames = gridlab.evaluate(environment, agent, 1, logger=gridlab.NoOpLogger(),
                                  max_steps_per_episode=300)
        gridlab.save_video(frames, video,
                           frame_rate=getattr(environment, 'render_fps', 8))
    return [row['episode_return'] for row in log.data]


def _policy_pictures(environment: GridWorld, agent, out: pathlib.Path) -> dict:
    """Heatmaps of Q (value agents), the greedy policy, and how optimal it is."""
    if hasattr(agent, 'q_values'):
        q = gridlab.q_table(agent, environment)
        _save_figure(plotting.plot_action_values(q), out / 'q_values.png')
        _save_figure(environment.plot_greedy_policy(q), out / 'policy.png')
        return {'optimal_fraction': gridlab.optimal_fraction(environment, q)}
    actions = gridlab.greedy_actions(agent, environment)
    _save_figure(environment.plot_policy(actions, title='Greedy policy'),
                 out / 'policy.png')
    return {'optimal_fraction': gridlab.actions_optimal_fraction(environment, actions)}


RUN_FILES = ('episodes.csv', 'learning_curve.png', 'q_values.png', 'policy.png',
             'evaluation.mp4', 'agent.pt', 'summary.json')


def _run_directory(args) -> pathlib.Path:
    """The run's folder: new, or emptied of an old run's files with --overwrite."""
    out = pathlib.Path(args.out or f'runs/{args.task}-{args.agent}-seed{args.seed}')
    if out.exists() and not out.is_dir():
        raise UsageError(f'--out {str(out)!r} is a file, not a folder')
    old = [name for name in RUN_FILES if (out / name).exists()]
    if old and not args.overwrite:
        raise UsageError(f'{str(out)!r} already holds a run ({", ".join(old)}); '
                         'pass --overwrite to replace it, or choose --out')
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f'cannot create the run folder {str(out)!r}: {error}') from None
    for name in old:  # Nothing of the old run may sit beside the new one.
        (out / name).unlink()
    return out


def train(args) -> int:
    entry = AGENTS.get(args.agent)
    if entry is None:
        raise UsageError(
            f'unknown agent {args.agent!r}; expected one of {", ".join(AGENTS)}')
    if _is_gymnasium(args.task):
        if args.observation is not None:
            raise UsageError(f'--observation applies to GridWorld tasks, not to '
                             f'the Gymnasium environment {args.task!r}')
        observation = None
    else:
        observation = _observation_type(args.observation, entry, args.agent)
    environment = _make_environment(args.task, observation, args.seed)
    environment, spec = gridlab.setup_environment(environment)
    try:
        agent = entry.make(spec, args.seed, args.device)
    except ValueError as error:  # A device not here, an agent that cannot
        raise UsageError(f'{args.agent} on {args.task}: {error}') from None  # cope.
    out = _run_directory(args)
    if args.episodes is None and args.steps is None:
        episodes, steps = entry.episodes, entry.steps
    else:
        episodes, steps = args.episodes, args.steps
    observation_name = observation.name.lower() if observation else 'gymnasium'
    summary = {'config': {'agent': args.agent, 'task': args.task,
                          'observation': observation_name,
                          'seed': args.seed, 'episodes': episodes, 'steps': steps,
                          'device': args.device},
               'interrupted': False}
    print(f'gridlab: training {args.agent} on {args.task} '
          f'({observation_name} observations) -> {out}')

    log = gridlab.InMemoryLogger()
    logger = gridlab.Dispatcher([gridlab.CSVLogger(out / 'episodes.csv'), log,
                                 gridlab.TerminalLogger('training',
                                                        time_delta=args.log_every)])
    loop = gridlab.EnvironmentLoop(environment, agent, logger=logger,
                                   label=f'{args.agent} on {args.task}',
                                   log_loss=hasattr(agent, 'last_loss'),
                                   progress=None if args.progress else False)
    start = time.perf_counter()
    try:
        with logger:
            loop.run(num_episodes=episodes, num_steps=steps)
        agent.save(out / 'agent.pt')
        summary['training'] = _training_summary(log, start)
        _write_json(out / 'summary.json', summary)  # Evaluable from here on.
        if log.data:
            _save_figure(plotting.plot_learning_curve(
                [row['episode_return'] for row in log.data]), out / 'learning_curve.png')
        returns = _evaluation(environment, agent, args.eval_episodes,
                              out / 'evaluation.mp4')
        summary['evaluation'] = {'episodes': len(returns),
                                 'mean_return': float(sum(returns) / len(returns))}
        if hasattr(environment, 'transition_model'):  # A GridWorld: judge it.
            summary['evaluation'].update(_policy_pictures(environment, agent, out))
    except KeyboardInterrupt:
        # Ctrl-C: keep what there is (the CSV is flushed row by row).
        print('gridlab: interrupted; saving a checkpoint and the summary',
              file=sys.stderr)
        summary['interrupted'] = True
        if 'training' not in summary:
            agent.save(out / 'agent.pt')
            summary['training'] = _training_summary(log, start)
        _write_json(out / 'summary.json', summary)
        return 130
    _write_json(out / 'summary.json', summary)
    print(f'gridlab: done in {summary["training"]["seconds"]:.1f} s; greedy mean '
          f'return {summary["evaluation"]["mean_return"]:.2f}; files in {out}')
    return 0


def _training_summary(log: gridlab.InMemoryLogger, start: float) -> dict:
    return {'episodes': len(log.data),
            'steps': int(sum(row['episode_length'] for row in log.data)),
            'seconds': round(time.perf_counter() - start, 3)}


def evaluate_run(args) -> int:
    run = pathlib.Path(args.run_dir)
    try:
        config = json.loads((run / 'summary.json').read_text())['config']
        entry = AGENTS[config['agent']]
        task, seed = config['task'], config['seed']
        observation = (None if _is_gymnasium(task)
                       else ObservationType[config['observation'].upper()])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(f'{str(run)!r} is not a gridlab run directory (no '
                         'readable summary.json from `gridlab train`)') from None
    environment, spec = gridlab.setup_environment(
        _make_environment(task, observation, seed))
    try:
        agent = entry.make(spec, seed, args.device or config.get('device', 'cpu'))
        agent.restore(run / 'agent.pt')
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    video = pathlib.Path(args.video) if args.video else None
    if video is not None and (not video.parent.is_dir() or
                              video.suffix not in video_lib.SUPPORTED_SUFFIXES):
        raise UsageError(f'--video {str(video)!r}: expected a .mp4 or .gif path in '
                         'an existing folder')
    returns = _evaluation(environment, agent, args.episodes, video)
    print(f'gridlab: {len(returns)} greedy episodes, mean return '
          f'{sum(returns) / len(returns):.2f}' + (f'; video {video}' if video else ''))
    return 0


def list_tasks(args) -> int:
    descriptions = {name: task.description for name, task in gridlab.TASKS.items()}
    descriptions.update(GYMNASIUM_TASKS)
    width = max(len(name) for name in descriptions)
    for name, description in descriptions.items():
        print(f'{name:<{width}}  {description}')
    return 0


def show_task(args) -> int:
    if _is_gymnasium(args.task):
        raise UsageError(f'`gridlab show` draws GridWorld tasks; {args.task!r} is a '
                         'Gymnasium environment')
    environment = _make_environment(args.task, ObservationType.STATE_INDEX, 0)
    out = pathlib.Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f'cannot write {str(out)!r}: folder '
                         f'{str(out.parent)!r} does not exist')
    if out.suffix.lower() not in ('.png', '.pdf', '.svg', '.jpg', '.jpeg'):
        raise UsageError(f'--out {str(out)!r}: expected a .png, .pdf, .svg or '
                         '.jpg file name')
    _save_figure(environment.plot_grid(title=args.task), out)
    print(f'gridlab: drew {args.task} to {args.out}')
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected a positive integer, got {text!r}')
    return value


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument in one line (argparse adds a usage block)."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f'expected a non-negative integer seed, got {text!r}')
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog='gridlab', description='Train and look at reinforcement-learning agents.')
    commands = parser.add_subparsers(dest='command', required=True,
                                     parser_class=_Parser)

    p = commands.add_parser('train', help='train an agent on a task; keep the run')
    p.add_argument('--agent', required=True, help=f'one of: {", ".join(AGENTS)}')
    p.add_argument('--task', required=True, help='a task from `gridlab tasks`')
    p.add_argument('--observation', help='observation type (default: per agent)')
    length = p.add_mutually_exclusive_group()
    length.add_argument('--episodes', type=_positive, help='training episodes')
    length.add_argument('--steps', type=_positive, help='training steps')
    p.add_argument('--seed', type=_seed, default=0)
    p.add_argument('--out', help='run directory (default runs/TASK-AGENT-seedS)')
    p.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    p.add_argument('--eval-episodes', type=_positive, default=5)
    p.add_argument('--overwrite', action='store_true',
                   help='replace the run already in --out')
    p.add_argument('--log-every', type=float, default=1.,
                   help='seconds between progress lines')
    p.add_argument('--no-progress', dest='progress', action='store_false',
                   help='no progress bar')
    p.set_defaults(run=train)

    p = commands.add_parser('evaluate', help='reload a run and evaluate it greedily')
    p.add_argument('run_dir')
    p.add_argument('--episodes', type=_positive, default=5)
    p.add_argument('--video', help='write a video of the first episodes here')
    p.add_argument('--device', choices=('cpu', 'cuda'))
    p.set_defaults(run=evaluate_run)

    p = commands.add_parser('tasks', help='list the tasks')
    p.set_defaults(run=list_tasks)

    p = commands.add_parser('show', help='draw a task to a PNG file')
    p.add_argument('task')
    p.add_argument('--out', required=True)
    p.set_defaults(run=show_task)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    if 'MPLBACKEND' not in os.environ:
        matplotlib.use('Agg')  # The command only writes files.
    # The agents' networks are small: one thread beats several, whose
    # hand-offs cost more than they save (measured: ~25% faster updates).
    torch.set_num_threads(1)
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:  # Anything else is a bug: keep its traceback.
        print(f'gridlab: error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
