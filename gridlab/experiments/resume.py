"""Coming back to a run folder: continuing it, reloading its agent, evaluating it."""

import dataclasses
import json
import pathlib
from typing import Any, Dict, Optional

from gridlab.core.errors import ExperimentError
from gridlab.envs import catalogue
from gridlab.envs.wrappers import setup_environment
from gridlab.evaluation.greedy import evaluation_statistics
from gridlab.experiments import pictures, run_folder
from gridlab.experiments.config import RunConfig
from gridlab.experiments.run import Run, RunResult, build_agent, evaluation_copy, train
from gridlab.viz import video as video_lib


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
    summary = run_folder.read_summary(out)
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
    run = Run(RunConfig.from_record(summary['config']), out, summary, resumed=True)
    try:
        run.actor.restore(out / 'agent.pt')
        if 'environment_random_state' in state:
            run.environment.random_state = state['environment_random_state']
    except (ValueError, FileNotFoundError) as error:
        raise ExperimentError(str(error)) from None
    run.episodes_done, run.steps_done = episodes_done, steps_done
    run.training_seconds = float(state.get('training_seconds', 0.))
    lock = run_folder.FolderLock(out)
    try:
        for name in ('episodes.csv', 'evaluation.csv'):
            run_folder.keep_rows_up_to(out / name, steps_done)
        for path in run_folder.leftovers(out):
            path.unlink()
        for key in ('training', 'evaluation', 'ended_by'):
            summary.pop(key, None)
        summary['resumed_from_step'] = steps_done
        return train(run, progress=progress, log_every=log_every, verbose=verbose,
                     tensorboard=False, video=video)
    finally:
        lock.release()


def load_run(run_dir, device: Optional[str] = None):
    """(environment, agent, summary) of a run folder, the agent restored."""
    folder = pathlib.Path(run_dir)
    summary = run_folder.read_summary(folder)
    config = RunConfig.from_record(summary['config'])
    made = catalogue.make_environment(config.task, config.observation, config.seed,
                                      config.environment_discount)
    environment, spec = setup_environment(made)
    if device is not None:
        config = dataclasses.replace(config, device=device)
    actor = build_agent(config, spec, made)
    try:
        actor.restore(folder / 'agent.pt')
    except (ValueError, TypeError, FileNotFoundError) as error:
        raise ExperimentError(str(error)) from None
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
