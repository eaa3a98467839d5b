"""Many seeds of one agent trained as one population, one run folder per seed.

    train_population(configs, directories)   # configs: one RunConfig per seed

Every config names the same agent, task and settings and its own seed. The
agent's registry entry names its population class (`AgentEntry.population`,
e.g. `agents.populations.ppo:PopulationPPO`); the population trains every
seed at once on N x k copies of the task (k = num_envs, 1 if unset: each
seed drives k copies, stepped through the batched loop), member m being the
agent its seed builds. Each seed's folder is an ordinary run folder:
episodes.csv (its own episodes, in the order its own batched run would log
them, each at the step it ended), evaluation.csv with --eval-every, agent.pt and run_state.json,
summary.json (the config it was asked for, plus a "population" entry saying
who it trained beside), the evaluation, report.html. Training seconds are
the population's: its members trained in the same seconds.

A member's run is its single agent's batched run (`num_envs=k`) bit for bit
when it trains alone, and to float rounding in a larger population
(`agents.populations`); with k = 1 the single agent would train through the
one-environment loop instead, so a population of one is the batched loop's
run on one copy.
"""

import json
import pathlib
from typing import List, Optional, Sequence

import dm_env
import numpy as np

from gridlab.core.errors import ExperimentError
from gridlab.core.specs import make_environment_spec
from gridlab.envs import catalogue
from gridlab.envs.wrappers import setup_environment
from gridlab.experiments import run_folder, signals
from gridlab.experiments.config import RunConfig
from gridlab.experiments.periodic import (CHECKPOINT_SECONDS, PeriodicCheckpoint,
                                          PeriodicEvaluation, best_evaluation)
from gridlab.experiments.run import (BATCHED_CHUNK_STEPS, Run, RunResult, _logger,
                                     _keep_what_there_is, complete, conclude, new_summary,
                                     restore_agent)
from gridlab.loops.batched import BatchedEnvironmentLoop

_FIRST, _LAST = int(dm_env.StepType.FIRST), int(dm_env.StepType.LAST)


class _MemberEpisodes:
    """The population as the loop sees it, keeping each member's episodes.

    The loop's summary joins every copy's episodes; a member's run folder
    needs its own, in its own order (step, then copy), with the loop's own
    arithmetic (float64 returns, restarts not counted), and the batch step
    each ended at (so that its learning curve has a point per episode, not
    one per chunk as a single batched run logs them).
    """

    def __init__(self, population, members: int):
        self._population, self._members = population, members
        self.batch_steps_per_update = population.batch_steps_per_update
        self._returns = None
        self.batch_steps = 0
        self.ended: List[List[tuple]] = [[] for _ in range(members)]

    def select_actions(self, observations, acting=None):
        return self._population.select_actions(observations, acting)

    def observe_first_batch(self, timestep) -> None:
        self._population.observe_first_batch(timestep)
        self._returns = np.zeros(len(np.asarray(timestep.step_type)))

    def observe_batch(self, actions, next_timestep) -> None:
        self._population.observe_batch(actions, next_timestep)
        self.batch_steps += 1
        step_types = np.asarray(next_timestep.step_type)
        self._returns += np.where(step_types != _FIRST, next_timestep.reward, 0.)
        ended = np.flatnonzero(step_types == _LAST)
        if ended.size:
            k = len(step_types) // self._members
            for copy in ended:
                self.ended[copy // k].append((float(self._returns[copy]),
                                              self.batch_steps))
            self._returns[ended] = 0.

    def update_batch(self) -> None:
        self._population.update_batch()

    def take(self, m: int) -> List[tuple]:
        """Member m's (return, batch step it ended at) since the last take."""
        returns, self.ended[m] = self.ended[m], []
        return returns


def _check_configs(configs: Sequence[RunConfig]) -> type:
    if not configs:
        raise ExperimentError('a population needs at least one run configuration')
    first = configs[0]
    same = {key: value for key, value in first.to_record().items() if key != 'seed'}
    for config in configs[1:]:
        other = {key: value for key, value in config.to_record().items() if key != 'seed'}
        differing = sorted(key for key in same if same[key] != other.get(key))
        if differing:
            raise ExperimentError(f'a population trains one setting over many seeds; '
                                  f'seed {config.seed} differs from seed {first.seed} in '
                                  f'{", ".join(differing)}')
    seeds = [config.seed for config in configs]
    if len(set(seeds)) != len(seeds):
        raise ExperimentError(f'a population needs distinct seeds, got {seeds}')
    try:
        population_class = first.entry.load_population()
    except ValueError as error:
        raise ExperimentError(str(error)) from None
    if population_class is None:
        raise ExperimentError(f'agent {first.agent!r} has no population class, so its '
                              'seeds cannot train as one; train them one by one '
                              '(gridlab sweep without --vectorize-seeds)')
    if first.steps is None:
        raise ExperimentError(f'a population trains for a budget in steps (each seed '
                              f'its own), not in episodes; got episodes={first.episodes}')
    return population_class


def _checkpoints(directories: Sequence[pathlib.Path],
                 configs: Sequence[RunConfig]) -> Optional[List[dict]]:
    """Each folder's checkpoint state, if every folder holds an unfinished run
    of its config checkpointed at one step count (an interrupted population
    of these seeds); else None."""
    states = []
    for directory, config in zip(directories, configs):
        try:
            summary = run_folder.read_summary(directory)
            # What the config records, as JSON reads it back (tuples as lists);
            # the summary adds to it (the effective discount).
            expected = json.loads(json.dumps(config.to_record()))
            if summary.get('status') == 'completed' or any(
                    summary['config'].get(key) != value for key, value in expected.items()):
                return None
            states.append(run_folder.checkpoint_state(directory))
        except ExperimentError:
            return None
    if len({state['total_steps'] for state in states}) != 1:
        return None
    return states


def _resume(run: Run, member_index: int, population, state: dict) -> None:
    """Run and member as the checkpoint left them (as `gridlab train --resume`
    does for one run: the agent, its counters, its rows up to the checkpoint)."""
    out = run.out
    restore_agent(run.actor, out / run_folder.AGENT_FILE, run.trained_on)
    population.read_member(member_index)
    run.resumed = True
    run.summary = run_folder.read_summary(out)
    for key in ('training', 'evaluation', 'ended_by'):
        run.summary.pop(key, None)
    run.episodes_done, run.steps_done = int(state['episodes']), int(state['total_steps'])
    run.training_seconds = float(state.get('training_seconds', 0.))
    run.best_evaluation = best_evaluation(out / 'evaluation.csv')
    for name in ('episodes.csv', 'evaluation.csv'):
        run_folder.keep_rows_up_to(out / name, run.steps_done)
    for path in run_folder.leftovers(out):
        path.unlink()
    run.summary['resumed_from_step'] = run.steps_done


@signals.stopping_on_signals()
def train_population(configs: Sequence[RunConfig], directories: Sequence, *,
                     overwrite: bool = False, resume: bool = False, video: bool = True,
                     checkpoint_every: Optional[int] = None,
                     checkpoint_seconds: Optional[float] = CHECKPOINT_SECONDS,
                     verbose: bool = False,
                     command: Optional[List[str]] = None) -> List[RunResult]:
    """Trains the seeds of `configs` as one population; writes `directories[i]`
    as the run folder of `configs[i]`. Returns each run's result.

    With `resume`, folders that all hold an interrupted population of these
    runs, checkpointed at one step count, are continued from there: each
    member from its agent.pt (weights, optimiser, generators, counters), its
    episodes.csv from the checkpoint's row; the copies restart, and replay
    and rollouts start empty, as for one resumed run. Otherwise (or if
    they do not), the runs start afresh.
    """
    population_class = _check_configs(configs)
    directories = [pathlib.Path(d) for d in directories]
    if len(directories) != len(configs):
        raise ExperimentError(f'directories must name one folder per configuration '
                              f'({len(configs)}), got {len(directories)}')
    first = configs[0]
    seeds = [config.seed for config in configs]
    copies = first.num_envs or 1
    # The members' spec is the one a single run builds its agent from.
    spec = make_environment_spec(setup_environment(first.environment())[0])
    try:
        population = population_class(spec, seeds=seeds, device=first.device,
                                      copies_per_member=copies, **first.hyperparameters)
    except (ValueError, TypeError) as error:
        raise ExperimentError(f'{first.label}: {error}') from error
    runs = [Run(config, out, {}, actor=member)
            for config, out, member in zip(configs, directories, population.members)]
    environment = catalogue.population_environment(
        first.task, first.observation, copies, seeds, first.environment_discount,
        one_hot_states=first.one_hot_states)
    for m, run in enumerate(runs):
        new_summary(run.config, run, command)
        run.summary['population'] = {'seeds': seeds, 'member': m, 'copies_each': copies,
                                     'class': population_class.__name__}
    states = _checkpoints(directories, configs) if resume else None
    locks = []
    try:
        for m, run in enumerate(runs):
            if states is None:
                locks.append(run_folder.prepare(run.out, overwrite))
            else:
                locks.append(run_folder.FolderLock(run.out))
                _resume(run, m, population, states[m])
                run.summary['population'] = {
                    'seeds': seeds, 'member': m, 'copies_each': copies,
                    'class': population_class.__name__}
        _train(population, runs, environment, copies, checkpoint_every,
               checkpoint_seconds, verbose)
        results = []
        for m, run in enumerate(runs):
            population.member(m)  # Its trained weights, into the agent evaluated.
            try:
                conclude(run, video)
            except BaseException as ending:
                # This run and those not yet concluded say how it ended.
                for later in runs[m:]:
                    _keep_what_there_is(later, ending)
                raise
            results.append(complete(run, print if verbose else (lambda *a: None)))
        return results
    finally:
        for lock in locks:
            lock.release()


def _train(population, runs: List[Run], environment, copies: int,
           checkpoint_every, checkpoint_seconds, verbose: bool) -> None:
    """The batched loop over every member's copies, in chunks as a single
    batched run takes them; after each chunk each member's episodes go to
    its episodes.csv and due checkpoints are taken."""
    config, n = runs[0].config, len(runs)
    for run in runs:
        run.write_status('running')
    loggers = [_logger(run, False, 1., False) for run in runs]
    checkpoints = PeriodicCheckpoint(runs[0], checkpoint_every, checkpoint_seconds)
    evaluations = ([PeriodicEvaluation(run, config.eval_every, config.eval_episodes)
                    for run in runs] if config.eval_every else [])
    tracked = _MemberEpisodes(population, n)
    steps_done = runs[0].steps_done

    def stop(agent, done_steps):
        if evaluations:
            for m, (run, evaluation) in enumerate(zip(runs, evaluations)):
                population.member(m)
                evaluation.at(steps_done + done_steps // n)
        return signals.pending()  # A held signal ends the call at this round.

    loop = BatchedEnvironmentLoop(environment, tracked, stop=stop)
    single_round = copies * population.batch_steps_per_update  # A member's round.
    rounds_left = -(-max(config.steps - steps_done, 0) // single_round)
    chunk = max(1, min(BATCHED_CHUNK_STEPS, checkpoints.every or BATCHED_CHUNK_STEPS)
                // single_round)
    try:
        while rounds_left > 0:
            rounds = min(chunk, rounds_left)
            started = tracked.batch_steps
            # A signal waits for the end of a round, then for its counting (as
            # in a single batched run): each checkpoint counts what its member learned.
            with signals.held():
                result = loop.run(rounds * single_round * n)
                rounds_left -= result.updates
                member_steps = int(result.steps) // n
                for m, (run, logger) in enumerate(zip(runs, loggers)):
                    for episode_return, ended in tracked.take(m):
                        logger.write({'episode': run.log_episodes(),
                                      'episode_return': episode_return,
                                      'total_steps': (run.steps_done +
                                                      (ended - started) * copies),
                                      'cut_short': False})
                    run.steps_done += member_steps
                steps_done = runs[0].steps_done
                if verbose:
                    print(f'gridlab: population of {n}: {steps_done:,} of {config.steps:,} '
                          f'steps each')
                if rounds_left and checkpoints.due(steps_done) and not signals.pending():
                    for m, run in enumerate(runs):
                        population.member(m)
                        run.save_checkpoint(run.steps_done, run.log_episodes())
    except BaseException as ending:
        for m, run in enumerate(runs):
            population.member(m)
            _keep_what_there_is(run, ending)
        raise
    finally:
        for evaluation in evaluations:
            evaluation.close()
        for logger in loggers:
            logger.close()
