"""Coming back to a run folder: continuing it, reloading its agent, evaluating it."""

import dataclasses
import pathlib
from typing import Any, Dict, Optional

from gridlab.core.errors import ExperimentError
from gridlab.envs.wrappers import setup_environment
from gridlab.evaluation.greedy import evaluation_statistics
from gridlab.experiments import pictures, run_folder
from gridlab.experiments.config import RunConfig
from gridlab.experiments.periodic import (CHECKPOINT_SECONDS, PeriodicCheckpoint,
                                          best_evaluation)
from gridlab.experiments.run import (Run, RunResult, build_agent, check_checkpointing,
                                    evaluation_copy, restore_agent, train,
                                    trained_on)
from gridlab.viz import video as video_lib


def resume_experiment(run_dir, *, steps: Optional[int] = None,
                      episodes: Optional[int] = None, progress: Optional[bool] = None,
                      log_every: float = 1., verbose: bool = True, video: bool = True,
                      checkpoint_every: Optional[int] = None,
                      checkpoint_seconds: Optional[float] = CHECKPOINT_SECONDS
                      ) -> RunResult:
    """Continues an interrupted run from its checkpoint to its budget.

    The agent comes back from agent.pt (weights, optimiser, random
    generators, exploration schedule and counters), the environment's random
    generator from run_state.json, and episodes.csv continues where the
    checkpoint was taken (later rows, which the resumed run redoes, are
    dropped). Replay buffers are not checkpointed: a resumed DQN starts
    collecting afresh. `steps` or `episodes` give the run a new total budget
    (recorded in summary.json's config); everything else stays as configured.
    """
    out = pathlib.Path(run_dir)
    summary = run_folder.read_summary(out)
    if summary.get('status') == 'completed':
        raise ExperimentError(f'{str(out)!r} holds a completed run; nothing to resume')
    check_checkpointing(checkpoint_every, checkpoint_seconds)
    config = RunConfig.from_record(summary['config'])
    lock = run_folder.FolderLock(out)
    try:
        state = run_folder.checkpoint_state(out)
        episodes_done, steps_done = int(state['episodes']), int(state['total_steps'])
        config = _new_budget(config, steps, episodes, steps_done, episodes_done)
        run = Run(config, out, summary, resumed=True)
        restore_agent(run.actor, out / run_folder.AGENT_FILE, run.trained_on)
        if 'environment_random_state' in state:
            try:
                run.environment.random_state = state['environment_random_state']
            except (ValueError, TypeError, KeyError) as error:
                raise ExperimentError(f'{str(out / run_folder.STATE_FILE)!r}: the '
                                      f'environment state does not fit: {error}') from None
        run.episodes_done, run.steps_done = episodes_done, steps_done
        run.training_seconds = float(state.get('training_seconds', 0.))
        # best.pt holds the best of every evaluation so far, those the resumed
        # run redoes included.
        run.best_evaluation = best_evaluation(out / 'evaluation.csv')
        for name in ('episodes.csv', 'evaluation.csv'):
            run_folder.keep_rows_up_to(out / name, steps_done)
        for path in run_folder.leftovers(out):
            path.unlink()
        for key in ('training', 'evaluation', 'ended_by'):
            summary.pop(key, None)
        summary['config'] = {**summary['config'], 'steps': config.steps,
                             'episodes': config.episodes}
        summary['resumed_from_step'] = steps_done
        return train(run, progress=progress, log_every=log_every, verbose=verbose,
                     tensorboard=False, video=video,
                     checkpoints=PeriodicCheckpoint(run, checkpoint_every,
                                                    checkpoint_seconds))
    finally:
        lock.release()


def _new_budget(config: RunConfig, steps, episodes, steps_done: int,
                episodes_done: int) -> RunConfig:
    """`config` with a new total budget, if one is given; checked against what is done."""
    if steps is not None and episodes is not None:
        raise ExperimentError('give a resumed run a new budget in steps or in episodes, '
                              'not both')
    for name, value, done in (('steps', steps, steps_done),
                              ('episodes', episodes, episodes_done)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ExperimentError(f'{name} must be a positive integer, got {value!r}')
        if value <= done:
            raise ExperimentError(f'{name} = {value:,} is not more than the {done:,} '
                                  f'{name} the run has done; give a larger total budget')
        if name == 'episodes' and config.batched:
            raise ExperimentError('a run on batched copies has its budget in steps; '
                                  'give steps, not episodes')
        return dataclasses.replace(config, **{name: value, ('episodes' if name == 'steps'
                                                            else 'steps'): None})
    return config


def load_run(run_dir, device: Optional[str] = None):
    """(environment, agent, summary) of a run folder, the agent restored."""
    folder = pathlib.Path(run_dir)
    summary = run_folder.read_summary(folder)
    config = RunConfig.from_record(summary['config'])
    made = config.environment()
    environment, spec = setup_environment(made)
    if device is not None:
        config = dataclasses.replace(config, device=device)
    actor = build_agent(config, spec, made)
    restore_agent(actor, folder / run_folder.AGENT_FILE, trained_on(config))
    return environment, actor, summary


def evaluate_run(run_dir, episodes: int = 5, video=None,
                 device: Optional[str] = None) -> Dict[str, Any]:
    """Reloads a run's agent; its greedy evaluation statistics (and `video`)."""
    if video is not None:
        video = pathlib.Path(video)
        if (not video.parent.is_dir() or
                video.suffix.lower() not in video_lib.SUPPORTED_SUFFIXES):
            raise ExperimentError(f'video {str(video)!r}: expected a .mp4 or .gif '
                                  'path in an existing folder')
    environment, actor, summary = load_run(run_dir, device)
    config = RunConfig.from_record(summary['config'])
    statistics = evaluation_statistics(evaluation_copy(config), actor, episodes)
    if video is not None:
        pictures.write_evaluation_video(environment, actor, video, label=config.label)
    return statistics
