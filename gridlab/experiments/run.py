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
import math
import pathlib
import sys
import time
from typing import Any, Dict, List, Optional

from gridlab.core import Checkpointable, ReportsLoss, TrainsOnBatches, agent_discount
from gridlab.core import validation
from gridlab.core.checkpoints import Checkpointing
from gridlab.core.errors import ExperimentError
from gridlab.envs import catalogue
from gridlab.envs.observation_wrappers import OneHotObservation
from gridlab.envs.wrappers import setup_environment
from gridlab.evaluation import judging
from gridlab.evaluation.greedy import evaluation_statistics
from gridlab.experiments import hyperparameters as hyperparameters_lib
from gridlab.experiments import pictures, run_folder, signals, tracking
from gridlab.experiments.config import RunConfig, check_log_every
from gridlab.experiments.periodic import (CHECKPOINT_SECONDS, PeriodicCheckpoint,
                                          PeriodicEvaluation)
from gridlab.loops import loggers
from gridlab.loops.batched import BatchedEnvironmentLoop
from gridlab.loops.environment_loop import EnvironmentLoop
from gridlab.viz import recording, report

# What the training line shows (the CSV keeps everything): under 100 columns.
TERMINAL_FIELDS = {'episode': 'episode', 'total_steps': 'steps',
                   'episode_return': 'return', 'episode_length': 'length',
                   'steps_per_second': 'steps/s', 'loss_avg': 'loss'}
# Batched training runs in calls of at most this many steps, between which
# episode rows are written and checkpoints taken.
BATCHED_CHUNK_STEPS = 100_000


@dataclasses.dataclass
class RunResult:
    """What `run_experiment` did: the run folder and its summary.json."""
    directory: pathlib.Path
    summary: Dict[str, Any]


def build_agent(config: RunConfig, spec, environment):
    """The configured agent for `environment` (whose specs are `spec`)."""
    try:
        return config.entry.make(spec, seed=config.seed, device=config.device,
                                 environment=environment, **config.hyperparameters)
    except (ValueError, TypeError) as error:  # A device not here, a bad value.
        raise ExperimentError(f'{config.label}: {error}') from error


def evaluation_copy(config: RunConfig):
    """The separately seeded copy of the task a run is judged on.

    Its own seed draws its own randomness (restarts, slips), but it is the
    task the run trained on: a GridWorld goal drawn from the run's seed (as
    random_goal's is) stays where training had it.
    """
    environment = config.environment(catalogue.evaluation_seed(config.seed))
    if config.gridworld:
        environment.goal_state = config.environment().goal_state
    return setup_environment(environment)[0]


class Run:
    """One run in progress: its environment, agent, folder and summary."""

    def __init__(self, config: RunConfig, out: pathlib.Path, summary: dict,
                 resumed: bool = False, actor=None):
        """`actor`: the run's agent if already built (a population's member),
        else built here from `config`."""
        self.config, self.out, self.summary, self.resumed = config, out, summary, resumed
        # A suite that keeps its own log (bsuite) writes it into the run folder.
        self.raw_environment = config.environment(
            log_directory=out / run_folder.BSUITE_LOG)
        self.environment, spec = setup_environment(self.raw_environment)
        self.actor = (actor if actor is not None else
                      build_agent(config, spec, self.raw_environment))
        if config.batched and not isinstance(self.actor, TrainsOnBatches):
            raise ExperimentError(f'agent {config.agent!r} trains on one environment at '
                                  'a time; num_envs (--num-envs) needs an agent that '
                                  'trains on batches, such as ppo or dqn')
        if config.batched and hasattr(self.actor, 'check_batched'):
            try:  # Settings under which this agent cannot train on batches.
                self.actor.check_batched()
            except ValueError as error:
                raise ExperimentError(f'{config.label}: {error}') from None
        config.check_budget(getattr(self.actor, 'batch_steps_per_update', 1), spec)
        self._evaluation_environment = None
        self.steps_done, self.episodes_done, self.training_seconds = 0, 0, 0.
        self.best_evaluation = -math.inf  # Of the evaluations before a resume.
        self.trained_on = trained_on(config)
        self.tracker: Optional[tracking.Tracker] = None  # --track: MLflow or W&B.
        self.log = loggers.InMemoryLogger()
        self._checkpoint_due: Optional[int] = None  # See checkpoint_at_episode_end.
        self._start = time.perf_counter()
        self._evaluation_seconds = 0.

    # ------------------------------------------------------------ checkpoints

    def save_agent(self, path: pathlib.Path) -> None:
        """The agent's checkpoint at `path`, saying what it was trained on."""
        save_agent(self.actor, path, self.trained_on)

    def save_checkpoint(self, total_steps: int, episodes: int) -> None:
        """agent.pt and run_state.json, as one unit, after `episodes` whole
        episodes (the rows of episodes.csv up to `total_steps`)."""
        if not isinstance(self.actor, Checkpointable):
            return
        state = {'episodes': episodes, 'total_steps': total_steps,
                 'training_seconds': self.elapsed_training()}
        random_state = getattr(self.environment, 'random_state', None)
        if isinstance(random_state, dict):
            state['environment_random_state'] = random_state
        run_folder.commit_checkpoint(self.out, self.save_agent, state)

    def checkpoint_at_episode_end(self, total_steps: int) -> None:
        """A checkpoint asked for as an episode ends, taken once its row is
        logged (`checkpoint_if_due`): one taken before would count an episode
        that a kill in between leaves out of episodes.csv for good."""
        self._checkpoint_due = total_steps

    def checkpoint_if_due(self) -> None:
        """The checkpoint `checkpoint_at_episode_end` asked for, if any."""
        if self._checkpoint_due is not None:
            total_steps, self._checkpoint_due = self._checkpoint_due, None
            self.save_checkpoint(total_steps, self.log_episodes())

    def elapsed_training(self) -> float:
        return self.training_seconds + (time.perf_counter() - self._start -
                                        self._evaluation_seconds)

    # ------------------------------------------------------------- evaluation

    def evaluate_now(self, total_steps: int, episodes: int,
                     sink: PeriodicEvaluation) -> None:
        """One periodic evaluation on the run's evaluation copy, then a checkpoint."""
        start = time.perf_counter()
        if self._evaluation_environment is None:
            self._evaluation_environment = evaluation_copy(self.config)
        row = {'total_steps': total_steps,
               'training_seconds': round(self.elapsed_training(), 3)}
        # Greedy ties draw random numbers: put them back, so that a run with
        # evaluations trains exactly as one without.
        with recording.preserved_random_state(self.actor):
            statistics = evaluation_statistics(self._evaluation_environment, self.actor,
                                               episodes)
            if self.config.gridworld:
                statistics['optimal_fraction'] = self.judged(
                    pictures.optimal_fraction, self.environment, self.actor)
        row.update({k: v for k, v in statistics.items() if k != 'episodes'})
        sink.write(row)
        if self.tracker is not None:
            self.tracker.evaluation(row)
        self._evaluation_seconds += time.perf_counter() - start

    def judged(self, judge, *args):
        """`judge(*args)`, or None and a warning in summary.json (and on stderr)
        if the agent's values are NaN: a judgement of them would be meaningless."""
        try:
            return judge(*args)
        except judging.NonFiniteValues as error:
            warnings = self.summary.setdefault('warnings', [])
            if str(error) not in warnings:
                warnings.append(str(error))
                print(f'gridlab: warning: {error}', file=sys.stderr)
            return None

    def log_episodes(self) -> int:
        return self.episodes_done + len(self.log.data)

    # ----------------------------------------------------------------- status

    def write_status(self, status: str) -> None:
        self.summary['status'] = status
        self.summary['interrupted'] = status == 'interrupted'
        run_folder.write_summary(self.out / 'summary.json', self.summary)

    def training_summary(self) -> dict:
        rows = self.log.data
        return {'episodes': self.episodes_done + len(rows),
                'steps': self.steps_done + int(sum(row.get('episode_length', 0)
                                                   for row in rows)),
                'seconds': round(self.elapsed_training(), 3)}


def trained_on(config: RunConfig) -> Dict[str, Any]:
    """What a run's checkpoints say they were trained on: its task and observation."""
    record = config.to_record()
    return {'task': record['task'], 'observation': record['observation']}


def save_agent(actor, path: pathlib.Path, trained_on: Dict[str, Any]) -> None:
    """Saves `actor`; gridlab's agents also record what they were trained on."""
    if isinstance(actor, Checkpointing):
        actor.save(path, trained_on=trained_on)
    else:  # Another agent's own `Checkpointable` format.
        actor.save(path)


def restore_agent(actor, path: pathlib.Path,
                  trained_on: Optional[Dict[str, Any]]) -> None:
    """Restores `actor` from `path`, refusing a checkpoint trained on other than
    `trained_on` (None: on anything)."""
    if not isinstance(actor, Checkpointable):
        raise ExperimentError(f'{type(actor).__name__} cannot be restored from a '
                              'checkpoint (it has no save/restore)')
    try:
        if isinstance(actor, Checkpointing):
            actor.restore(path, trained_on=trained_on)
        else:
            actor.restore(path)
    except (ValueError, TypeError, FileNotFoundError) as error:
        raise ExperimentError(str(error)) from None


def check_checkpointing(checkpoint_every, checkpoint_seconds) -> None:
    """checkpoint_every: steps (or None); checkpoint_seconds: > 0 seconds (or None)."""
    try:
        validation.check_optional_positive_int('checkpoint_every', checkpoint_every)
    except (TypeError, ValueError) as error:
        raise ExperimentError(str(error)) from None
    if checkpoint_seconds is not None and (
            isinstance(checkpoint_seconds, bool) or
            not isinstance(checkpoint_seconds, (int, float)) or
            not 0 < checkpoint_seconds < math.inf):
        raise ExperimentError(f'checkpoint_seconds must be a positive number of seconds '
                              f'or None, got {checkpoint_seconds!r}')


def new_summary(config: RunConfig, run: Run, command: Optional[List[str]]) -> None:
    """What summary.json says of a new run before it trains."""
    record = config.to_record()
    record['effective_discount'] = float(
        f'{record["environment_discount"] * agent_discount(run.actor):.7g}')
    if isinstance(run.raw_environment, OneHotObservation):
        # The agent needs arrays: it saw the task's state index one-hot.
        run.summary['observation_encoding'] = 'one_hot'
    run.summary.update(
        config=record, status='running',
        hyperparameters=hyperparameters_lib.effective(config.parameters,
                                                      config.hyperparameters),
        command=list(command) if command is not None else None,
        versions=run_folder.versions(), git_commit=run_folder.git_commit())


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
                   checkpoint_every: Optional[int] = None,
                   checkpoint_seconds: Optional[float] = CHECKPOINT_SECONDS,
                   init_from=None,
                   track: Optional[str] = None,
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
        0.99 on Gymnasium). Agents multiply their own (1 by default) onto
        it; summary.json records the product as `effective_discount`.
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
      checkpoint_every, checkpoint_seconds: also checkpoint (agent.pt and
        run_state.json, from which `--resume` continues) every this many
        training steps and every this many seconds (default 60; None for
        neither), so that a killed run loses at most that much. A checkpoint
        costs a save of the agent (milliseconds for gridlab's networks).
      init_from: a run folder of the same agent: start from its saved agent
        (agent.pt: weights, optimiser, schedules) instead of a new one, on
        this task and seed; summary.json records it as `init_from`.
      track: also mirror the run into 'mlflow' or 'wandb' (offline), beside
        the run folder (`gridlab.experiments.tracking`).
      command: the command line to record in summary.json.

    A Ctrl-C during training or evaluation keeps what there is (the log,
    a checkpoint, summary.json with its "status") and re-raises, as do
    SIGTERM and SIGHUP (`signals.stopping_on_signals`, set up here when
    called from the main thread). During training each first waits for the
    episode row, or on many copies the round, it came in, so the checkpoint
    holds an agent that learned from exactly the steps it counts.
    """
    config = RunConfig.create(
        agent, task, seed=seed, observation=observation, steps=steps, episodes=episodes,
        discount=discount, hyperparameters=hyperparameters, device=device,
        eval_episodes=eval_episodes, eval_every=eval_every, video_every=video_every,
        num_envs=num_envs, pictures=pictures)
    return run_from_config(config, out, overwrite=overwrite, progress=progress,
                           log_every=log_every, verbose=verbose, tensorboard=tensorboard,
                           video=video, checkpoint_every=checkpoint_every,
                           checkpoint_seconds=checkpoint_seconds, init_from=init_from,
                           track=track, command=command)


def run_from_config(config: RunConfig, out=None, *, overwrite: bool = False,
        progress: Optional[bool] = None, log_every: float = 1., verbose: bool = True,
        tensorboard: bool = False, video: bool = True,
        checkpoint_every: Optional[int] = None,
        checkpoint_seconds: Optional[float] = CHECKPOINT_SECONDS,
        init_from=None, track: Optional[str] = None,
        command: Optional[List[str]] = None) -> RunResult:
    """Trains as `config` says and writes the run folder (see `run_experiment`)."""
    if out is not None and not str(out).strip():
        raise ExperimentError("out is empty; expected a folder name such as runs/mine")
    check_log_every(log_every)
    check_checkpointing(checkpoint_every, checkpoint_seconds)
    out = (pathlib.Path(out) if out is not None else
           run_folder.default_directory(config.agent, config.task, config.seed))
    current = Run(config, out, {})
    new_summary(config, current, command)
    if init_from is not None:
        current.summary['init_from'] = start_from(current, pathlib.Path(init_from))
    try:
        current.tracker = tracking.make_tracker(track, out)
    except (ValueError, ImportError) as error:
        raise ExperimentError(str(error)) from None
    lock = run_folder.prepare(out, overwrite)
    try:
        return train(current, progress=progress, log_every=log_every, verbose=verbose,
                     tensorboard=tensorboard, video=video,
                     checkpoints=PeriodicCheckpoint(current, checkpoint_every,
                                                    checkpoint_seconds))
    finally:
        lock.release()


def start_from(run: Run, folder: pathlib.Path) -> Dict[str, Any]:
    """Loads the agent of the run in `folder` into `run`'s; what summary.json says of it.

    The whole agent state comes back (weights, optimiser, exploration
    schedule, random generators), from a run of the same agent on any task
    whose networks or tables fit; the new run's environment is its own.
    """
    summary = run_folder.read_summary(folder)
    source = summary['config']
    if source['agent'] != run.config.agent:
        raise ExperimentError(f'init_from {str(folder)!r} holds a {source["agent"]!r} '
                              f'run; this run trains {run.config.agent!r}')
    restore_agent(run.actor, folder / run_folder.AGENT_FILE, trained_on=None)
    return {'run': str(folder), 'task': source['task'],
            'observation': source.get('observation'), 'status': summary.get('status'),
            'steps': (summary.get('training') or {}).get('steps')}


class _CheckpointAfterRow(loggers.Logger):
    """A sink that takes the checkpoint due at the episode whose row it is given."""

    def __init__(self, run: Run):
        self._run = run

    def write(self, data) -> None:
        self._check_open()
        self._run.checkpoint_if_due()


def _logger(run: Run, verbose: bool, log_every: float, tensorboard: bool):
    # The row on disk and in memory first, then any checkpoint due at its episode.
    sinks = [loggers.CSVLogger(run.out / 'episodes.csv', append=run.resumed), run.log,
             _CheckpointAfterRow(run)]
    if verbose:
        fields = dict(TERMINAL_FIELDS)
        if not run.config.entry.logs_loss:  # The CSV keeps it.
            fields.pop('loss_avg')
        sinks.append(loggers.TerminalLogger('training', time_delta=log_every,
                                            fields=fields))
    if tensorboard:
        from gridlab.loops.tensorboard_logger import TensorBoardLogger
        sinks.append(TensorBoardLogger(run.out / 'tensorboard'))
    if run.tracker is not None:
        sinks.append(tracking.EpisodeRows(run.tracker))
    return _WholeRows(sinks)


class _WholeRows(loggers.Dispatcher):
    """Writes each row to every sink with the stopping signals held
    (`signals.held`): a Ctrl-C or SIGTERM lands before or after a row, never
    between episodes.csv and the run's count of episodes."""

    def write(self, data) -> None:
        with signals.held():
            super().write(data)


@signals.stopping_on_signals()
def train(run: Run, *, progress, log_every, verbose, tensorboard, video,
          checkpoints: PeriodicCheckpoint) -> RunResult:
    """Trains, evaluates and writes the folder of a prepared run, with the
    stopping signals' handlers set (`signals.stopping_on_signals`)."""
    config, summary, out = run.config, run.summary, run.out
    run.write_status('running')  # A folder says what it holds from the start.
    if run.tracker is not None:
        run.tracker.start(summary)
    say = print if verbose else (lambda *args, **kwargs: None)
    observation = summary['config']['observation'] or 'its own'
    if summary.get('observation_encoding'):
        observation = f'{observation}, {summary["observation_encoding"]}'
    say(f'gridlab: training {config.label} ({observation} observations) -> {out}')
    logger = _logger(run, verbose, log_every, tensorboard)
    observers = [checkpoints]
    evaluation = None
    if config.eval_every:
        evaluation = PeriodicEvaluation(run, config.eval_every, config.eval_episodes)
        observers.append(evaluation)
    if config.video_every and video:
        observers.append(recording.PeriodicVideo(
            run.environment, run.actor, out / 'videos', config.video_every,
            max_steps=pictures.VIDEO_FRAME_CAP, label=config.label))
    episodes, steps = config.episodes, config.steps
    if episodes is not None:
        episodes = max(episodes - run.episodes_done, 0)
    if steps is not None:
        steps = max(steps - run.steps_done, 0)
    try:
        try:
            with logger:
                if config.batched:
                    _train_on_batches(run, logger, steps, evaluation, checkpoints)
                else:
                    EnvironmentLoop(run.environment, run.actor, logger=logger,
                                    label=config.label,
                                    log_loss=isinstance(run.actor, ReportsLoss),
                                    progress=progress, observers=observers,
                                    first_episode=run.episodes_done,
                                    first_step=run.steps_done).run(
                        num_episodes=episodes, num_steps=steps)
        finally:
            if evaluation is not None:
                evaluation.close()
        conclude(run, video)
    except BaseException as ending:
        _keep_what_there_is(run, ending)
        raise
    return complete(run, say)


def complete(run: Run, say=lambda *args: None) -> RunResult:
    """Marks a concluded run completed: status, report.html, tracker; says so."""
    summary, out = run.summary, run.out
    run.write_status('completed')
    report.write_run_report(out)
    if run.tracker is not None:
        run.tracker.finish(out, 'completed')
    say(f'gridlab: done in {summary["training"]["seconds"]:.1f} s; greedy mean '
        f'return {summary["evaluation"]["mean_return"]:.2f}; files in {out}')
    return RunResult(out, summary)


def conclude(run: Run, video: bool) -> None:
    """What follows training: the last checkpoint, the learning curve, the
    evaluation on a fresh copy, the video and (on a GridWorld) the judging."""
    config, summary, out = run.config, run.summary, run.out
    summary['training'] = run.training_summary()
    run.save_checkpoint(summary['training']['steps'], summary['training']['episodes'])
    run.write_status('evaluating')  # Evaluable from here on.
    # From the whole record on disk: a resumed run's rows before the resume too.
    rows = [row for row in run_folder.read_episodes(out / 'episodes.csv')
            if not row['cut_short']]
    if rows and config.pictures:
        pictures.write_learning_curve(
            rows, out / 'learning_curve.png', agent=config.agent,
            task=config.task, seed=config.seed,
            evaluations=run_folder.read_evaluations(out / 'evaluation.csv'))
    # On a fresh, separately seeded copy of the task, as `gridlab evaluate`
    # does: the figure here is the one that command reproduces.
    summary['evaluation'] = evaluation_statistics(
        evaluation_copy(config), run.actor, config.eval_episodes)
    if video:
        pictures.write_evaluation_video(run.environment, run.actor,
                                        out / 'evaluation.mp4', label=config.label)
    if config.gridworld:  # Judged against planning.
        if config.pictures:
            judged = run.judged(pictures.policy_pictures, run.environment, run.actor,
                                out, config.agent, config.task)
            summary['evaluation'].update(judged or {'optimal_fraction': None})
        else:
            summary['evaluation']['optimal_fraction'] = run.judged(
                pictures.optimal_fraction, run.environment, run.actor)


def _train_on_batches(run: Run, logger, steps: int, evaluation,
                      checkpoints: PeriodicCheckpoint) -> None:
    """Training on `num_envs` copies through the batched loop; one CSV row per episode.

    The loop runs in calls of whole rounds, the same training as one call;
    after each, the episodes that finished in it are logged, each row's
    `total_steps` the count at the end of the call, and a checkpoint is
    taken when one is due. A call is about 1/`CURVE_POINTS` of the budget
    (at most `BATCHED_CHUNK_STEPS` steps or the checkpoint interval), so that
    the learning curve, and a comparison's area under it, has a point at
    every step of its grid rather than one at the end of a short run.

    A Ctrl-C or SIGTERM during a call waits for the end of the round it came
    in (`signals.held`; the loop asks `stop` after each round), so that the
    checkpoint the interruption leaves holds an agent that learned from
    exactly the steps it counts, and every episode that ended in them is
    logged.
    """
    config = run.config
    environment = config.batched_environment(template=run.raw_environment)

    def stop(agent, done_steps):
        if evaluation is not None:
            evaluation.at(run.steps_done + done_steps)
        return signals.pending()  # A held signal ends the call at this round.

    loop = BatchedEnvironmentLoop(environment, run.actor, stop=stop)
    steps = validation.check_nonnegative_int('steps', steps)
    rounds_left = -(-steps // loop.round_steps)  # The loop's budget, rounded up.
    budget = run.steps_done + steps
    per_call = min(BATCHED_CHUNK_STEPS, checkpoints.every or BATCHED_CHUNK_STEPS,
                   max(1, budget // run_folder.CURVE_POINTS))
    chunk = max(1, per_call // loop.round_steps)
    while rounds_left > 0:
        rounds = min(chunk, rounds_left)
        with signals.held():  # Raised on leaving, once the rounds run are counted.
            result = loop.run(rounds * loop.round_steps)
            rounds_left -= result.updates
            for episode_return in result.episode_returns:
                logger.write({'episode': run.log_episodes(),
                              'episode_return': float(episode_return),
                              'total_steps': run.steps_done + int(result.steps),
                              'cut_short': False})
            run.steps_done += int(result.steps)
            if rounds_left and checkpoints.due(run.steps_done) and not signals.pending():
                run.save_checkpoint(run.steps_done, run.log_episodes())


def _keep_what_there_is(run: Run, ending: BaseException) -> None:
    """However the run ends, the last checkpoint and a summary that says how.

    Ctrl-C, SIGTERM, SIGHUP and a closed output are interruptions; anything
    else (a full disk, an exception in evaluation, a bug) is a failure. The
    checkpoint is saved now if training did not finish (the one from the end
    of training is kept otherwise); if that fails too (the disk is full), the
    last one written stays, whole. Nothing here may hide `ending`.
    """
    summary = run.summary
    summary['ended_by'] = signals.how_it_ended(ending)
    try:
        if 'training' not in summary:
            summary['training'] = run.training_summary()
            run.save_checkpoint(summary['training']['steps'],
                                summary['training']['episodes'])
    except Exception:  # The last checkpoint that was written stays.
        pass
    status = 'interrupted' if signals.is_interruption(ending) else 'failed'
    steps = [lambda: run.write_status(status), lambda: report.write_run_report(run.out)]
    if run.tracker is not None:
        steps.append(lambda: run.tracker.finish(run.out, status))
    for step in steps:
        try:
            step()
        except Exception:
            pass
