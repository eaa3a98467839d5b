"""Runs as library calls: one run, a sweep of many, their comparison.

    config.py           RunConfig: one run's settings, merged and checked once
    run.py              one run and its folder (gridlab train): run_experiment, run_from_config
    run_folder.py       the folder's files, its lock, reading a summary back
    periodic.py         evaluating and checkpointing every so many steps
    pictures.py         a run's pictures and videos
    resume.py           continuing, reloading and evaluating a finished run
    signals.py          SIGTERM/SIGHUP as interruptions, and how a run ended
    hyperparameters.py  --set and --config, typed by the agent's signature
    sweep.py            many runs on a process pool or Ray (gridlab sweep); run_population
    population.py       many seeds of one agent trained as one population, a folder each
    results.py          results.csv: the table a sweep writes and compare reads
    aggregates.py       results rows as scores, and aggregate.csv's rows
    compare.py          comparing runs (gridlab compare)
    tune.py             hyperparameter search with Optuna (gridlab tune)
    tune_ray.py         the same search on Ray Tune (OptunaSearch, ASHA)
    ray_cluster.py      joining a Ray cluster, for sweeps and searches
    tracking.py         a run mirrored into MLflow or W&B (--track)
    bandits.py          bandit experiments
"""

from gridlab.core.errors import ExperimentError
from gridlab.experiments.config import RunConfig
from gridlab.experiments.resume import evaluate_run, load_run, resume_experiment
from gridlab.experiments.run import RunResult, run_experiment, run_from_config
from gridlab.experiments.sweep import run_population, run_sweep
from gridlab.experiments.tune import run_tune

__all__ = ['ExperimentError', 'RunConfig', 'RunResult', 'evaluate_run', 'load_run',
           'resume_experiment', 'run_experiment', 'run_from_config', 'run_population',
           'run_sweep', 'run_tune']
