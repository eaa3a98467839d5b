"""The `gridlab` command: argument parsing, then a call into `gridlab.experiment`.

    gridlab train --agent dqn --task simple          # -> runs/simple-dqn-seed0/
    gridlab train --agent actor-critic --task CartPole-v1
    gridlab train --agent my_package.agents:MyAgent --task obstacle
    gridlab evaluate runs/simple-random-seed0 --episodes 5
    gridlab tasks
    gridlab show obstacle --out obstacle.png

Heavy libraries (torch, matplotlib, Gymnasium) load only in the commands
that need them, so `gridlab tasks` and `gridlab --help` answer at once.
"""

import argparse
import os
import pathlib
import sys
from typing import List, Optional

from gridlab import registry


class UsageError(Exception):
    """A bad argument: reported in one line, without a traceback."""


def train(args) -> int:
    from gridlab import experiment
    try:
        experiment.run_experiment(
            args.agent, args.task, args.out, seed=args.seed,
            observation=args.observation, steps=args.steps, episodes=args.episodes,
            discount=args.discount, device=args.device,
            eval_episodes=args.eval_episodes, overwrite=args.overwrite,
            progress=None if args.progress else False, log_every=args.log_every)
    except KeyboardInterrupt:
        print('gridlab: interrupted; the log, a checkpoint and summary.json are '
              'kept', file=sys.stderr)
        return 130
    return 0


def evaluate_run(args) -> int:
    from gridlab import experiment
    returns = experiment.evaluate_run(args.run_dir, args.episodes, args.video,
                                      args.device)
    video = f'; video {args.video}' if args.video else ''
    print(f'gridlab: {len(returns)} greedy episodes, mean return '
          f'{sum(returns) / len(returns):.2f}{video}')
    return 0


def list_tasks(args) -> int:
    from gridlab.experiment import task_descriptions
    descriptions = task_descriptions()
    width = max(len(name) for name in descriptions)
    for name, description in descriptions.items():
        print(f'{name:<{width}}  {description}')
    return 0


def show_task(args) -> int:
    from gridlab import experiment
    from gridlab.environments.gridworld import ObservationType
    if args.task not in experiment.tasks_lib.TASKS and experiment.is_gymnasium_task(
            args.task):
        raise UsageError(f'`gridlab show` draws GridWorld tasks; {args.task!r} is a '
                         'Gymnasium environment')
    environment = experiment.make_environment(args.task, ObservationType.STATE_INDEX, 0)
    out = pathlib.Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f'cannot write {str(out)!r}: folder '
                         f'{str(out.parent)!r} does not exist')
    if out.suffix.lower() not in ('.png', '.pdf', '.svg', '.jpg', '.jpeg'):
        raise UsageError(f'--out {str(out)!r}: expected a .png, .pdf, .svg or '
                         '.jpg file name')
    experiment._save_figure(environment.plot_grid(title=args.task), out)
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


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.
    if not 0. <= value <= 1.:
        raise argparse.ArgumentTypeError(f'expected a number in [0, 1], got {text!r}')
    return value


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
    p.add_argument('--agent', required=True,
                   help=f'one of: {", ".join(registry.agents())}; or '
                        'package.module:Class for any gridlab.Actor')
    p.add_argument('--task', required=True, help='a task from `gridlab tasks`')
    p.add_argument('--observation', help='observation type (default: per agent)')
    length = p.add_mutually_exclusive_group()
    length.add_argument('--episodes', type=_positive, help='training episodes')
    length.add_argument('--steps', type=_positive, help='training steps')
    p.add_argument('--seed', type=_seed, default=0)
    p.add_argument('--discount', type=_unit_interval,
                   help='the discount the TimeSteps carry (default: the task\'s, '
                        '0.9 on GridWorld tasks, 0.99 on Gymnasium)')
    p.add_argument('--out', help='run directory (default runs/TASK-AGENT-seedS)')
    p.add_argument('--device', default='cpu', choices=('cpu', 'cuda', 'auto'))
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
    p.add_argument('--device', choices=('cpu', 'cuda', 'auto'))
    p.set_defaults(run=evaluate_run)

    p = commands.add_parser('tasks', help='list the tasks')
    p.set_defaults(run=list_tasks)

    p = commands.add_parser('show', help='draw a task to a PNG file')
    p.add_argument('task')
    p.add_argument('--out', required=True)
    p.set_defaults(run=show_task)

    p = commands.add_parser('report', help='write report.html for a run or a sweep folder')
    p.add_argument('directory', help='a run folder (summary.json) or a sweep folder')
    p.set_defaults(run=write_report)
    return parser


def write_report(args) -> int:
    from gridlab import report
    try:
        page = report.write_report(args.directory)
    except report.ReportError as error:
        raise UsageError(str(error)) from None
    print(f'gridlab: wrote {page}')
    return 0


def _configure_heavy_libraries(args) -> None:
    """Settings for the commands that train or draw (not for `tasks`)."""
    if args.run is list_tasks:
        return
    if 'MPLBACKEND' not in os.environ:
        import matplotlib
        matplotlib.use('Agg')  # The command only writes files.
    if args.run in (train, evaluate_run):
        import torch
        # The agents' networks are small: one thread beats several, whose
        # hand-offs cost more than they save (measured: ~25% faster updates).
        torch.set_num_threads(1)


def main(argv: Optional[List[str]] = None) -> int:
    from gridlab.experiment import ExperimentError
    args = build_parser().parse_args(argv)
    _configure_heavy_libraries(args)
    try:
        return args.run(args)
    except (UsageError, ExperimentError) as error:  # Anything else is a bug:
        print(f'gridlab: error: {error}', file=sys.stderr)  # keep its traceback.
        return 2


if __name__ == '__main__':
    sys.exit(main())
