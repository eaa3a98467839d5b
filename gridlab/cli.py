"""The `gridlab` command: argument parsing, then a call into `gridlab.experiments`.

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
import errno
import os
import pathlib
import statistics
import sys
from typing import List, Optional

from gridlab import registry


def _version() -> str:
    """The installed gridlab's version (from its package metadata)."""
    from importlib import metadata
    try:
        return metadata.version('gridlab')
    except metadata.PackageNotFoundError:  # Run from a checkout not installed.
        return 'unknown (not installed)'


class UsageError(Exception):
    """A bad argument: reported in one line, without a traceback."""


def _config(args) -> dict:
    """The settings in --config, if given (a one-line error if unreadable)."""
    from gridlab.experiments import hyperparameters as hp
    if not args.config:
        return {}
    try:
        return hp.load_config(args.config, 'sweep' if args.run is sweep else 'train')
    except ValueError as error:
        raise UsageError(str(error)) from None


def _run_settings(args) -> dict:
    """Run settings from --config, overridden by the flags given."""
    from gridlab.experiments import hyperparameters as hp
    settings = _config(args)
    for key in hp.TRAIN_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if 'steps' in settings and args.episodes is not None:
        settings.pop('steps')  # The flag wins over the file.
    if 'episodes' in settings and args.steps is not None:
        settings.pop('episodes')
    try:
        given = hp.parse_sets(args.set or [])
    except ValueError as error:
        raise UsageError(str(error)) from None
    settings['hyperparameters'] = {**settings.get('hyperparameters', {}), **given}
    return settings


# Exit codes of the conventional kind: 128 + the signal's number.
_EXIT_CODES = {'SIGINT': 130, 'SIGHUP': 129, 'SIGTERM': 143, 'SIGPIPE': 141}


def _output_closed() -> int:
    """Nobody reads our output any more (`gridlab tasks | head -1`): the exit
    code of a process that SIGPIPE ended, and nothing more said.

    What is still buffered goes to /dev/null, so that Python's own flush at
    exit does not fail again ('Exception ignored ... BrokenPipeError', exit 120).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream, closed in ((sys.stdout, True), (sys.stderr, False)):
        if stream is None:
            continue
        try:
            stream.flush()  # stderr may be the closed pipe (`2>&1 | head`).
        except (OSError, ValueError):
            closed = True
        try:
            if closed:
                os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # A stream without a file (pytest's capsys).
            pass
    os.close(devnull)
    return _EXIT_CODES['SIGPIPE']


def _ended(error: BaseException) -> int:
    """Says in one line how a run was stopped; the conventional exit code."""
    from gridlab.core.errors import Terminated
    if isinstance(error, BrokenPipeError):
        return _output_closed()  # `gridlab train ... | head`
    name = str(error) if isinstance(error, Terminated) else 'SIGINT'
    print(f'gridlab: interrupted by {name}; the log, the last checkpoint and '
          'summary.json are kept', file=sys.stderr)
    return _EXIT_CODES.get(name, 1)


# What a resumed run keeps as it was configured: {flag: its argparse name}.
_RESUME_FIXES = {'--agent': 'agent', '--task': 'task', '--observation': 'observation',
                 '--seed': 'seed', '--discount': 'discount', '--set': 'set',
                 '--config': 'config', '--out': 'out', '--device': 'device',
                 '--eval-episodes': 'eval_episodes', '--eval-every': 'eval_every',
                 '--num-envs': 'num_envs', '--video-every': 'video_every',
                 '--tensorboard': 'tensorboard', '--overwrite': 'overwrite',
                 '--init-from': 'init_from', '--track': 'track', '--seeds': 'seeds',
                 '--population-size': 'population_size'}


def train(args) -> int:
    from gridlab.core.errors import Terminated
    from gridlab.experiments import resume, run, signals
    restore_signals = signals.stop_on_signals()
    try:
        checkpointing = dict(checkpoint_every=args.checkpoint_every,
                             checkpoint_seconds=args.checkpoint_seconds or None)
        if args.resume:
            given = [flag for flag, value in _RESUME_FIXES.items()
                     if getattr(args, value) not in (None, False)]
            if given:
                raise UsageError(f'--resume continues a run as it was configured; it '
                                 f'cannot take {", ".join(given)} (only a new total '
                                 '--steps or --episodes, and how to log and checkpoint)')
            resume.resume_experiment(args.resume, steps=args.steps,
                                     episodes=args.episodes,
                                     progress=None if args.progress else False,
                                     log_every=args.log_every, **checkpointing)
            return 0
        settings = _run_settings(args)
        for key in ('agent', 'task'):
            if key not in settings:
                raise UsageError(f'--{key} is required (or give it in --config)')
        if args.seeds is not None:
            return _train_population(args, settings)
        if args.population_size is not None:
            raise UsageError('--population-size sizes the populations of --seeds; give '
                             '--seeds too (e.g. --seeds 0-31 --population-size 16)')
        run.run_experiment(
            settings['agent'], settings['task'], args.out,
            seed=settings.get('seed', 0), observation=settings.get('observation'),
            steps=settings.get('steps'), episodes=settings.get('episodes'),
            discount=settings.get('discount'),
            hyperparameters=settings['hyperparameters'],
            device=settings.get('device', 'cpu'),
            eval_episodes=settings.get('eval_episodes', 5),
            eval_every=settings.get('eval_every'), overwrite=args.overwrite,
            progress=None if args.progress else False, log_every=args.log_every,
            tensorboard=args.tensorboard, video_every=settings.get('video_every'),
            num_envs=settings.get('num_envs'), **checkpointing,
            init_from=args.init_from, track=args.track,
            command=['gridlab'] + list(args.argv))
    except (KeyboardInterrupt, Terminated, BrokenPipeError) as error:
        return _ended(error)
    finally:
        restore_signals()
    return 0


# The agents that train many seeds as one population (those registered with
# `population=`), named in the help of `train --seeds` and `sweep
# --vectorize-seeds` without importing the agents to build it.
POPULATION_AGENTS = 'ppo, dqn, nfq, actor-critic'

# What `train --seeds` cannot take: these make sense for one run only.
_POPULATION_REFUSES = {'--seed': 'seed', '--resume': 'resume', '--init-from': 'init_from',
                       '--track': 'track', '--tensorboard': 'tensorboard',
                       '--video-every': 'video_every', '--episodes': 'episodes',
                       '--overwrite': 'overwrite'}


def _train_population(args, settings: dict) -> int:
    """`train --seeds`: the seeds as one population, a run folder each (a sweep's layout)."""
    from gridlab.experiments import sweep as sweep_lib
    given = [flag for flag, name in _POPULATION_REFUSES.items()
             if getattr(args, name, None) not in (None, False)]
    if given:
        raise UsageError(f'--seeds trains the seeds as one population; it cannot take '
                         f'{", ".join(given)} (a population trains for --steps; rerun '
                         'the same command to finish the seeds left)')
    out = args.out or str(pathlib.Path('runs') / f'{settings["task"]}-{settings["agent"]}'
                          f'-seeds{args.seeds}'.replace('/', '%2F').replace(':', '.'))
    with _warnings_as_lines():
        result = sweep_lib.run_population(
            settings['agent'], settings['task'], args.seeds, out,
            settings['hyperparameters'], progress=bool(args.progress),
            steps=settings.get('steps'), observation=settings.get('observation'),
            discount=settings.get('discount'), eval_every=settings.get('eval_every'),
            eval_episodes=settings.get('eval_episodes', 5),
            num_envs=settings.get('num_envs'), device=settings.get('device', 'cpu'),
            population_size=args.population_size)
    failed = result.failed
    grouping = ('as one population' if args.population_size is None
                else f'as populations of at most {args.population_size}')
    print(f'gridlab: {len(result.rows) - len(failed)}/{len(result.rows)} seeds completed '
          f'{grouping}; results in {result.directory}')
    if failed:
        first = failed[0]
        print(f'gridlab: {len(failed)} did not complete (first: {first["directory"]}: '
              f'{first.get("error") or first["status"]})', file=sys.stderr)
    return 1 if failed else 0


def evaluate(args) -> int:
    from gridlab.experiments import resume
    statistics = resume.evaluate_run(args.run_dir, args.episodes, args.video,
                                         args.device)
    video = f'; video {args.video}' if args.video else ''
    print(f'gridlab: {statistics["episodes"]} greedy episodes, mean return '
          f'{statistics["mean_return"]:.2f} (std {statistics["std_return"]:.2f}, '
          f'min {statistics["min_return"]:.2f}, max {statistics["max_return"]:.2f})'
          f'{video}')
    return 0


def tune(args) -> int:
    from gridlab.core.errors import Terminated
    from gridlab.experiments import tune as tune_lib
    from gridlab.experiments.signals import stop_on_signals
    restore_signals = stop_on_signals()
    try:
        with _warnings_as_lines():
            result = tune_lib.run_tune(
                args.agent, args.task, args.space, args.trials, args.out,
                steps=args.steps, eval_every=args.eval_every,
                eval_episodes=args.eval_episodes, seed=args.seed,
                seeds_per_trial=args.seeds_per_trial, metric=args.metric,
                workers=args.workers,
                backend=args.backend, address=args.address)
    except (KeyboardInterrupt, Terminated) as error:
        print(f'gridlab: search stopped; the study and its finished trials are kept in '
              f'{args.out} (run the same command to continue)', file=sys.stderr)
        return _EXIT_CODES.get(str(error) if isinstance(error, Terminated) else 'SIGINT', 1)
    finally:
        restore_signals()
    states = ', '.join(f'{n} {state.lower()}' for state, n in result.states.items() if n)
    print(f'gridlab: {len(result.trials)} trials ({states}); best objective '
          f'{result.best_value:.4g} with ' + ', '.join(
              f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
              for k, v in result.best.items()))
    print(f'gridlab: train with them: gridlab train --config {result.directory}/best.toml')
    return 0


def sweep(args) -> int:
    from gridlab.experiments import hyperparameters as hp
    from gridlab.experiments import sweep as sweep_lib
    settings = _config(args)
    agents = _names(args.agents) if args.agents else _listed(settings.get('agents'))
    tasks = _names(args.tasks) if args.tasks else _listed(settings.get('tasks'))
    seeds = args.seeds if args.seeds is not None else settings.get('seeds', '0')
    if isinstance(seeds, list):
        seeds = ','.join(str(seed) for seed in seeds)
    if not agents or not tasks:
        raise UsageError('--agents and --tasks are required (or agents and tasks '
                         'in --config)')
    grid = {name: values if isinstance(values, list) else [values]
            for name, values in settings.get('hyperparameters', {}).items()}
    try:
        for name, values in hp.parse_sets(args.set or []).items():
            grid[name] = _split_values(values)
    except ValueError as error:
        raise UsageError(str(error)) from None
    from gridlab.core.errors import Terminated
    from gridlab.experiments.signals import stop_on_signals
    restore_signals = stop_on_signals()
    try:
        with _warnings_as_lines():
            result = sweep_lib.run_sweep(
                agents, tasks, str(seeds), args.out, grid, backend=args.backend,
                workers=args.workers, address=args.address,
                steps=args.steps if args.steps is not None else settings.get('steps'),
                episodes=args.episodes if args.episodes is not None
                else settings.get('episodes'),
                eval_every=args.eval_every if args.eval_every is not None
                else settings.get('eval_every'),
                max_runs=None if args.max_runs == 0 else args.max_runs,
                num_envs=args.num_envs, vectorize_seeds=args.vectorize_seeds,
                population_size=args.population_size)
        failed = result.failed
        print(f'gridlab: {len(result.rows) - len(failed)}/{len(result.rows)} runs '
              f'completed; results in {result.directory}')
        if failed:
            first = failed[0]
            print(f'gridlab: {len(failed)} run{"s" * (len(failed) > 1)} did not complete'
                  f' (first: {first["directory"]}: {first.get("error") or first["status"]})'
                  '; run the same command to redo them', file=sys.stderr)
    except BrokenPipeError:
        # Nobody reads our output any more (`gridlab sweep ... 2>&1 | head`); the
        # workers were stopped and results.csv written, as for a signal.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
        return _EXIT_CODES['SIGPIPE']
    except (KeyboardInterrupt, Terminated) as error:
        print(f'gridlab: sweep stopped; finished runs are kept in {args.out} and '
              'listed in its results.csv (run the same command to continue)',
              file=sys.stderr)
        return _EXIT_CODES.get(str(error) if isinstance(error, Terminated) else 'SIGINT', 1)
    finally:
        restore_signals()
    return 1 if failed else 0


class _warnings_as_lines:
    """Shows the comparison's warnings as 'gridlab: warning: ...' lines."""

    def __enter__(self):
        import warnings
        from gridlab.experiments.compare import CompareWarning
        self._category = CompareWarning
        self._catcher = warnings.catch_warnings(record=True)
        self._caught = self._catcher.__enter__()
        warnings.simplefilter('always', CompareWarning)
        return self

    def __exit__(self, *exc_info):
        import warnings
        self._catcher.__exit__(*exc_info)
        for warning in self._caught:
            if issubclass(warning.category, self._category):
                print(f'gridlab: warning: {warning.message}', file=sys.stderr)
            else:
                warnings.warn_explicit(warning.message, warning.category,
                                       warning.filename, warning.lineno)
        return False


def _names(text: str) -> list:
    return [name.strip() for name in text.split(',') if name.strip()]


def _listed(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else _names(str(value))


def _split_values(text: str) -> list:
    """'0.1,0.5' -> ['0.1', '0.5']; a bracketed list such as [64,64] stays one value."""
    values, depth, current = [], 0, ''
    for char in text:
        depth += char in '([' 
        depth -= char in ')]'
        if char == ',' and depth == 0:
            values.append(current)
            current = ''
        else:
            current += char
    values.append(current)
    return [value.strip() for value in values if value.strip()]


def bsuite(args) -> int:
    """gridlab bsuite: the bsuite ids as sweeps, scored by bsuite's analysis."""
    from gridlab.core.errors import Terminated
    from gridlab.experiments import bsuite as bsuite_lib
    from gridlab.experiments import hyperparameters as hp
    from gridlab.experiments.signals import stop_on_signals
    try:
        settings = hp.parse_sets(args.set or [])
    except ValueError as error:
        raise UsageError(str(error)) from None
    restore_signals = stop_on_signals()
    try:
        with _warnings_as_lines():
            result = bsuite_lib.run_bsuite(
                args.agent, args.experiments, args.out, ids=args.ids, seed=args.seed,
                episodes=args.episodes, steps=args.steps, hyperparameters=settings,
                backend=args.backend, workers=args.workers, address=args.address)
    except (KeyboardInterrupt, Terminated) as error:
        print(f'gridlab: bsuite stopped; finished runs are kept in {args.out} (run the '
              'same command to continue)', file=sys.stderr)
        return _EXIT_CODES.get(str(error) if isinstance(error, Terminated) else 'SIGINT', 1)
    finally:
        restore_signals()
    print(bsuite_lib.format_table(result.scores, result.categories))
    print(f'gridlab: bsuite scores in {result.directory / "scores.csv"}; report in '
          f'{result.directory / "report.html"}')
    if result.failed:
        first = result.failed[0]
        print(f'gridlab: {len(result.failed)} run{"s" * (len(result.failed) > 1)} did '
              f'not complete (first: {first["directory"]}: '
              f'{first.get("error") or first["status"]}); run the same command to redo '
              'them', file=sys.stderr)
        return 1
    return 0


def compare(args) -> int:
    from gridlab.experiments import compare as compare_lib
    try:
        with _warnings_as_lines():
            path = compare_lib.compare(args.paths, out=args.out, metric=args.metric)
    except compare_lib.CompareError as error:
        raise UsageError(str(error)) from None
    print(compare_lib.format_table(path))
    return 0


def list_tasks(args) -> int:
    from gridlab.envs.catalogue import task_descriptions
    descriptions = task_descriptions()
    width = max(len(name) for name in descriptions)
    for name, description in descriptions.items():
        print(f'{name:<{width}}  {description}')
    return 0


def show_task(args) -> int:
    from gridlab.envs import catalogue
    from gridlab.envs.gridworld import ObservationType
    kind = catalogue.check_task(args.task)
    if kind != catalogue.GRIDWORLD:
        raise UsageError(f'`gridlab show` draws GridWorld tasks; {args.task!r} is a '
                         f'{kind} task')
    environment = catalogue.make_environment(args.task, ObservationType.STATE_INDEX, 0)
    out = pathlib.Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f'cannot write {str(out)!r}: folder '
                         f'{str(out.parent)!r} does not exist')
    if out.suffix.lower() not in ('.png', '.pdf', '.svg', '.jpg', '.jpeg'):
        raise UsageError(f'--out {str(out)!r}: expected a .png, .pdf, .svg or '
                         '.jpg file name')
    from gridlab.experiments.pictures import save_figure
    save_figure(environment.plot_grid(title=args.task), out)
    print(f'gridlab: drew {args.task} to {args.out}')
    return 0


def _argument(convert, accepts, expected: str):
    """An argparse type: `convert(text)`, refused in one line unless `accepts` it."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f'expected {expected}, got {text!r}')
        return value
    return parse


_positive = _argument(int, lambda value: value >= 1, 'a positive integer')
_seconds = _argument(float, lambda value: 0. <= value < float('inf'),
                     'a number of seconds >= 0')


def _seed(text: str) -> int:
    """--seed: gridlab's one seed rule (`validation.check_seed`), in one line."""
    from gridlab.core import validation
    try:
        return validation.check_seed('seed', int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected {validation.SEED_EXPECTED}, got {text!r}') from None


_unit_interval = _argument(float, lambda value: 0. <= value <= 1., 'a number in [0, 1]')


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument in one line (argparse adds a usage block)."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')

    def _print_message(self, message, file=None):
        # argparse drops a failed write of --help or --version silently and
        # exits 0; a closed pipe is to end as in every other command (141).
        file = file or sys.stderr
        if message and file is not None:  # None: no console (pythonw).
            file.write(message)


def _tuned_result(settings: dict) -> str:
    """What a tuned pair's entry claims, in words: 'greedy mean_return 500
    (median of seeds 0, 1, 2; each >= 475)'."""
    result = settings['result']
    median = statistics.median(result['values'])
    seeds = ', '.join(map(str, result['seeds']))
    # bsuite scores the training log; every other metric is the greedy evaluation's.
    what = ('bsuite_score' if result['metric'] == 'bsuite_score' else
            f'greedy {result["metric"]}')
    return f'{what} {median:g} (median of seeds {seeds}; each >= {result["at_least"]:g})'


def _train_epilog() -> str:
    lines = ['defaults per agent (GridWorld observation, training budget):']
    agents = registry.agents()
    width = max(map(len, agents), default=0)
    tuned = []
    for name, entry in agents.items():
        episodes, steps = entry.budget()
        budget = f'{steps:,} steps' if steps else f'{episodes:,} episodes'
        lines.append(f'  {name:<{width}}  {entry.observation.name.lower():<15} {budget}')
        for task, settings in entry.tuned.items():
            tuned.append((name, task, settings))
    if tuned:
        lines += ['', 'tuned (agents/hyperparams.toml; used unless you give the setting):']
        pair_width = max(len(f'{name} on {task}') for name, task, _ in tuned)
        for name, task, settings in tuned:
            budget = (f'{settings["steps"]:,} steps' if settings.get('steps') else
                      f'{settings["episodes"]:,} episodes' if settings.get('episodes')
                      else 'the default budget')
            copies = f' on {settings["num_envs"]} copies' if settings.get('num_envs') else ''
            seen = (f', observation {settings["observation"]}'
                    if settings.get('observation') else '')
            count = len(settings.get('hyperparameters', {}))
            changed = (f'{count} setting{"s" if count > 1 else ""}' if count
                       else 'its defaults')
            lines.append(f'  {f"{name} on {task}":<{pair_width}}  {budget}{copies}'
                         f'{seen}, {changed}')
            if 'result' in settings:  # Another package's tuned pairs may not say.
                lines.append(f'  {"":<{pair_width}}  reaches {_tuned_result(settings)}')
    lines += ['',
              'examples:',
              '  gridlab train --agent dqn --task simple',
              '  gridlab train --agent q-learning --task FrozenLake-v1 --set step_size=0.05',
              '  gridlab train --agent actor-critic --task CartPole-v1 --seed 3 '
              '--eval-every 5000']
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog='gridlab', description='Train and look at reinforcement-learning agents.')
    parser.add_argument('--version', action='version', version=f'gridlab {_version()}',
                        help="print gridlab's version and exit")
    commands = parser.add_subparsers(dest='command', required=True,
                                     parser_class=_Parser)

    p = commands.add_parser(
        'train', help='train an agent on a task; keep the run',
        description='Train an agent on a task and keep the whole run in one folder.',
        epilog=_train_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--agent', help=f'one of: {", ".join(registry.agents())}; or '
                                   'package.module:Class for any gridlab.Actor')
    p.add_argument('--task', help='a task from `gridlab tasks` (GridWorld tasks, '
                                  'Gymnasium ids, bsuite/EXPERIMENT/ID, MiniGrid-* '
                                  'and MinAtar/GAME-v1 ids)')
    p.add_argument('--observation', help='GridWorld observation type: state_index, '
                                         'agent_onehot, grid, agent_goal_pos, rgb '
                                         '(default: per agent, below); on MiniGrid: '
                                         'symbolic (default), full, rgb')
    length = p.add_mutually_exclusive_group()
    length.add_argument('--episodes', type=_positive,
                        help='training episodes (default: per agent, below)')
    length.add_argument('--steps', type=_positive,
                        help='training steps (default: per agent, below)')
    p.add_argument('--seed', type=_seed, help='seeds the environment and the agent '
                                              '(default 0)')
    p.add_argument('--seeds', metavar='SEEDS',
                   help='e.g. 0-31: train these seeds as one population in this process '
                        f'(agents with one: {POPULATION_AGENTS}), a run folder each under '
                        '--out, with results.csv and the comparison, as gridlab sweep lays '
                        'them out')
    p.add_argument('--population-size', type=_positive, metavar='N',
                   help='with --seeds: train them as populations of at most N seeds, one '
                        'after another, so that each fits in memory (default: all in one; '
                        'agents.populations.memory.members_that_fit turns a measured '
                        'size per member into N)')
    p.add_argument('--discount', type=_unit_interval,
                   help='the discount the TimeSteps carry; agents multiply their own '
                        '(1) onto it (default: the tuned one for this agent and task, '
                        'else the task\'s: 0.9 on GridWorld tasks, 0.99 on Gymnasium)')
    p.add_argument('--set', action='append', metavar='NAME=VALUE',
                   help='set an agent constructor argument, e.g. --set step_size=0.1 '
                        '(repeatable)')
    p.add_argument('--config', help='a .toml or .yaml file of settings and '
                                    '[hyperparameters]; flags win over it')
    p.add_argument('--out', help='run directory (default runs/TASK-AGENT-seedS)')
    p.add_argument('--device', choices=('cpu', 'cuda', 'auto'),
                   help='where networks run (default cpu)')
    p.add_argument('--eval-episodes', type=_positive,
                   help='greedy episodes per evaluation (default 5)')
    p.add_argument('--eval-every', type=_positive, metavar='STEPS',
                   help='evaluate, checkpoint and keep best.pt every STEPS steps')
    p.add_argument('--checkpoint-every', type=_positive, metavar='STEPS',
                   help='also checkpoint every STEPS steps (default: by time only)')
    p.add_argument('--checkpoint-seconds', type=_seconds, metavar='S', default=60.,
                   help='checkpoint every S seconds, so a killed run loses at most '
                        'that much; 0 for never (default 60)')
    p.add_argument('--num-envs', type=_positive, metavar='N',
                   help='train on N copies at once, stepped as arrays (agents with '
                        'a batched train(): ppo, dqn, nfq, actor-critic as A2C with '
                        'n_steps; default: the tuned number, else 1)')
    p.add_argument('--video-every', type=_positive, metavar='STEPS',
                   help='film a greedy episode every STEPS steps (RUN/videos/)')
    p.add_argument('--tensorboard', action='store_true',
                   help='also log to RUN/tensorboard (needs gridlab[tensorboard])')
    p.add_argument('--track', choices=('mlflow', 'wandb'),
                   help='also mirror the run into MLflow (an SQLite store beside the '
                        'run folder, or MLFLOW_TRACKING_URI) or W&B (offline unless '
                        'WANDB_MODE says otherwise); needs gridlab[mlflow] or '
                        'gridlab[wandb] (default: neither)')
    p.add_argument('--resume', metavar='RUN',
                   help='continue an interrupted run from its checkpoint')
    p.add_argument('--init-from', metavar='RUN',
                   help='start from the saved agent of RUN (same agent, any task its '
                        'networks fit) instead of a new one; a new run, in --out')
    p.add_argument('--overwrite', action='store_true',
                   help='replace the run already in --out')
    p.add_argument('--log-every', type=_seconds, default=1.,
                   help='seconds between progress lines (default 1)')
    p.add_argument('--no-progress', dest='progress', action='store_false',
                   help='no progress bar (default: one in a terminal)')
    p.set_defaults(run=train)

    p = commands.add_parser('evaluate', help='reload a run and evaluate it greedily')
    p.add_argument('run_dir', help='a run folder written by gridlab train')
    p.add_argument('--episodes', type=_positive, default=5,
                   help='greedy episodes, on the run\'s separately seeded evaluation '
                        'copy of its task (default 5)')
    p.add_argument('--video', metavar='PATH',
                   help='also write a video (.mp4 or .gif) of the greedy episodes here')
    p.add_argument('--device', choices=('cpu', 'cuda', 'auto'),
                   help='where the network runs (default: as the run was trained)')
    p.set_defaults(run=evaluate)

    p = commands.add_parser(
        'sweep', help='many runs: agents x tasks x seeds x hyperparameter values',
        description='Run every combination, each into its own run folder under --out; '
                    'rerunning the same command skips finished runs.',
        epilog='example: gridlab sweep --agents q-learning,sarsa --tasks simple,obstacle '
               '--seeds 0-9 --set step_size=0.1,0.5 --out sweeps/tabular')
    p.add_argument('--agents', help='comma-separated agent names')
    p.add_argument('--tasks', help='comma-separated tasks')
    p.add_argument('--seeds', help='e.g. 0-9 or 0,3,7 (default 0)')
    p.add_argument('--set', action='append', metavar='NAME=V1,V2',
                   help='values to try for an agent argument (repeatable)')
    p.add_argument('--config', help='a .toml or .yaml file: agents, tasks, seeds, '
                                    '[hyperparameters] with lists of values')
    length = p.add_mutually_exclusive_group()
    length.add_argument('--episodes', type=_positive,
                        help='training episodes of each run (default: per agent, as in '
                             'gridlab train)')
    length.add_argument('--steps', type=_positive,
                        help='training steps of each run (default: per agent, as in '
                             'gridlab train)')
    p.add_argument('--eval-every', type=_positive, metavar='STEPS',
                   help='evaluate every STEPS steps (gives steps to optimal; default: '
                        'only at the end)')
    p.add_argument('--out', required=True, help='the sweep folder')
    p.add_argument('--backend', choices=('local', 'ray'), default='local',
                   help='local: a process pool on this machine; ray: Ray tasks, on a '
                        'cluster with --address (default local)')
    p.add_argument('--workers', type=_positive,
                   help='parallel runs (default: the number of CPUs)')
    p.add_argument('--address', help='join the Ray cluster at this address')
    p.add_argument('--max-runs', type=_argument(int, lambda value: value >= 0,
                                                 'a number of runs >= 0'),
                   default=10_000, metavar='N',
                   help='refuse a sweep of more than N runs (default 10000; 0: no cap)')
    p.add_argument('--num-envs', type=_positive, metavar='N',
                   help='each run trains on N copies at once (as gridlab train)')
    p.add_argument('--vectorize-seeds', action='store_true',
                   help="train each (agent, task, settings) cell's seeds as one "
                        f'population in one worker (agents with one: {POPULATION_AGENTS}); '
                        'the same run folders and results.csv')
    p.add_argument('--population-size', type=_positive, metavar='N',
                   help='with --vectorize-seeds: at most N seeds per population, so '
                        "that one cell's seeds keep every worker busy (32 seeds, "
                        '--population-size 16, --workers 2: two populations at once) '
                        'and each fits in memory (default: all of a cell\'s seeds)')
    p.set_defaults(run=sweep)

    p = commands.add_parser(
        'bsuite', help="bsuite's experiments as sweeps, scored by bsuite's own analysis",
        description="Run an agent on bsuite ids (each experiment a sweep in "
                    "OUT/EXPERIMENT, every run writing bsuite's CSV log), then score "
                    "each experiment with bsuite's analysis: OUT/scores.csv, "
                    "categories.csv, scores.png, report.html. Rerunning the same "
                    "command skips finished runs.",
        epilog='example: gridlab bsuite --agent dqn --experiments catch,deep_sea '
               '--ids 0-4 --out bsuite/dqn')
    p.add_argument('--agent', required=True, help='an agent name or package.module:Class')
    p.add_argument('--experiments', default='catch,deep_sea',
                   help="comma-separated bsuite experiments, or all (default "
                        "catch,deep_sea)")
    p.add_argument('--ids', default='all',
                   help="each experiment's ids: e.g. 0-4, 0,3,7 or all (default all)")
    p.add_argument('--seed', type=_seed, default=0,
                   help="the agent's seed (bsuite's ids fix the problems; default 0)")
    length = p.add_mutually_exclusive_group()
    length.add_argument('--episodes', type=_positive,
                        help="training episodes of each run (default: bsuite's budget "
                             "for its experiment, e.g. 10000 for catch)")
    length.add_argument('--steps', type=_positive, help='training steps of each run')
    p.add_argument('--set', action='append', metavar='NAME=VALUE',
                   help='an agent argument (repeatable)')
    p.add_argument('--out', required=True, help='the output folder')
    p.add_argument('--backend', choices=('local', 'ray'), default='local',
                   help='local: a process pool on this machine; ray: Ray tasks '
                        '(default local)')
    p.add_argument('--workers', type=_positive,
                   help='parallel runs (default: the number of CPUs)')
    p.add_argument('--address', help='join the Ray cluster at this address')
    p.set_defaults(run=bsuite)

    p = commands.add_parser(
        'tune', help='search hyperparameters with Optuna (TPE, pruning), here or on Ray Tune',
        description='Search an agent\'s hyperparameters on a task: every trial is a '
                    'run folder under --out/trials, judged by the mean greedy return of '
                    'its periodic evaluations; rerunning the command continues the '
                    'study (study.db).',
        epilog='space file example (TOML):\n  [step_size]\n  low = 0.01\n  high = 1.0\n'
               '  log = true\n  [hidden_sizes]\n  choices = ["64", "64,64"]',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--agent', required=True, help='an agent name, as in gridlab train')
    p.add_argument('--task', required=True, help='a task, as in gridlab train')
    p.add_argument('--space', required=True, metavar='FILE',
                   help='a .toml or .yaml file: a table per argument, with low, high '
                        '(and log = true), or choices')
    p.add_argument('--trials', type=_positive, required=True,
                   help='trials in the study in all (a rerun adds up to this many)')
    p.add_argument('--steps', type=_positive,
                   help='training steps of each trial (default: per agent)')
    p.add_argument('--eval-every', type=_positive, metavar='STEPS', required=True,
                   help='evaluate (and let the pruner judge) every STEPS steps')
    p.add_argument('--eval-episodes', type=_positive, default=5,
                   help='greedy episodes per evaluation (default 5)')
    p.add_argument('--seed', type=_seed, default=0,
                   help='the seed of every trial\'s run and of the sampler (default 0)')
    p.add_argument('--metric', default='mean_return',
                   choices=('mean_return', 'success_rate', 'optimal_fraction', 'min_return'),
                   help='the evaluation column a trial is judged on, averaged over its '
                        'evaluations (default mean_return; optimal_fraction: the share '
                        'of cells with an optimal greedy action, for GridWorld tasks)')
    p.add_argument('--seeds-per-trial', type=_positive, default=1, metavar='K',
                   help='train each trial on K seeds (--seed, --seed + 1, ...) one after '
                        'another and judge it on all of them (default 1)')
    p.add_argument('--workers', type=_positive, default=1,
                   help='trials at a time: processes sharing the study, or Ray trials '
                        'at once (default 1)')
    p.add_argument('--backend', choices=('local', 'ray'), default='local',
                   help='local: processes here, pruned by Optuna\'s median pruner; ray: '
                        'Ray Tune with Optuna\'s TPE and the ASHA scheduler, on a cluster '
                        'with --address (default local)')
    p.add_argument('--address', help='join the Ray cluster at this address (host:port)')
    p.add_argument('--out', required=True, help='the study folder')
    p.set_defaults(run=tune)

    p = commands.add_parser(
        'compare', help='IQM, bootstrap intervals, probability of improvement',
        description='Aggregate statistics (Agarwal et al., 2021) over a sweep folder '
                    'or any set of run folders.')
    p.add_argument('paths', nargs='+', help='a sweep folder, or run folders')
    p.add_argument('--out', help='where to write aggregate.csv and the plots '
                                 '(default: the sweep folder)')
    p.add_argument('--metric', default='auc', metavar='NAME',
                   help='each run\'s score: auc (area under its learning curve per '
                        'step) or a results.csv column: mean_return, success_rate, '
                        'optimal_fraction, steps_to_optimal, ... (default auc)')
    p.set_defaults(run=compare)

    p = commands.add_parser('tasks', help='list the tasks')
    p.set_defaults(run=list_tasks)

    p = commands.add_parser('show', help='draw a task to a PNG file')
    p.add_argument('task', help='a GridWorld task from `gridlab tasks`')
    p.add_argument('--out', required=True, help='the PNG file to write')
    p.set_defaults(run=show_task)

    p = commands.add_parser('report', help='write report.html for a run or a sweep folder')
    p.add_argument('directory', help='a run folder (summary.json) or a sweep folder')
    p.set_defaults(run=write_report)
    return parser


def write_report(args) -> int:
    from gridlab.viz import report
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
    if args.run in (train, evaluate):
        import torch
        # The agents' networks are small: one thread beats several, whose
        # hand-offs cost more than they save (measured: ~25% faster updates).
        torch.set_num_threads(1)


# Errors of the machine the user gave us, not of gridlab: one line, exit 2.
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                errno.ENOTDIR, errno.EISDIR, errno.EFBIG, errno.ENAMETOOLONG}


def main(argv: Optional[List[str]] = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            # A closed pipe often shows only when buffered output is flushed:
            # here, where it can end the command quietly, not at interpreter exit.
            if sys.stdout is not None:
                sys.stdout.flush()
    except BrokenPipeError:  # From any command, --help and --version included.
        return _output_closed()


def _main(argv: Optional[List[str]]) -> int:
    from gridlab.core.errors import ExperimentError  # Sweeps' errors are ones too.
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        _configure_heavy_libraries(args)
        return args.run(args)
    except KeyboardInterrupt:  # Before a command took charge (importing torch, say).
        print('gridlab: interrupted by SIGINT', file=sys.stderr)
        return _EXIT_CODES['SIGINT']
    except (UsageError, ExperimentError) as error:  # Anything else is a bug:
        print(f'gridlab: error: {error}', file=sys.stderr)  # keep its traceback.
        return 2
    except OSError as error:
        from gridlab.viz.video import VideoWriteError
        if error.errno not in _USER_ERRNOS and not isinstance(error, VideoWriteError):
            raise
        where = f' ({error.filename})' if error.filename else ''
        print(f'gridlab: error: {error.strerror or error}{where}; what was written '
              'before is kept', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
