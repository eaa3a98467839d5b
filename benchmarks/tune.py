"""Does `gridlab tune` find better settings than the defaults, and what does pruning save?

    python benchmarks/tune.py            # 30 trials, then 5 seeds of each setting
    python benchmarks/tune.py --quick    # a smoke run (used by the tests)
    python benchmarks/tune.py --study ppo-cartpole [--quick]

Two studies, one code path (`STUDIES`: agent, task, space, objective, what
counts as solved, budgets).

--study dqn-simple (the default). A study of DQN on `simple` (GRID
observations; 5,000 steps, evaluated every 500) searches learning_rate,
epsilon, batch_size and target_update_frequency with Optuna's TPE sampler
and median pruner, two trials at a time. Each trial
trains seeds 100, 101 and 102 one after another and is judged on all three
(`seeds_per_trial=3`): judged on one seed, the search picked settings that
solved that seed fast and the others seldom. A trial's objective is the mean
optimal_fraction of its evaluations (`metric='optimal_fraction'`), the area
under the curve of the share of cells with an optimal greedy action: the
greedy return from the start reaches the goal's 10 within the first
evaluations for most settings, so judged on it most trials tie at the top.
Then the best settings and the defaults each train on seeds 1-5 (seeds the
study never saw) with the same budget and evaluations, and the table shows
their median steps to an optimal greedy policy on every cell (judged by
planning; a seed that never gets there counts as the whole budget, and not
as solved). Pruning's saving is the share of the study's budget (trials x
seeds x steps) that pruned trials did not train.

Measured on this 2-core machine (2026-12-04), one run each:

    judged on       study                         tuned: solved, median    defaults
    mean_return,    30 trials in 1,367 s,         2/5, 5,000 steps         4/5, 2,508
      seed 0 only   11 pruned (17 % of steps)
    mean_return,    30 trials in 508 s,           0/5, 5,000 steps         4/5, 2,508
      3 seeds       6 pruned (18 %)
    optimal_        30 trials in 326 s,           2/5, 5,000 steps         4/5, 2,508
      fraction,     17 pruned (43 %)
      3 seeds

None of the three studies found settings that beat DQN's own defaults on
fresh seeds: the target (a better median steps-to-solve than the defaults)
is not reached. Five fresh seeds are a small test, and each study's best
was measured once.

--study ppo-cartpole. A study of PPO on CartPole-v1: 51,200 steps a trial,
evaluated every 2,560 (5 greedy episodes), seeds 100-102 per trial as above,
30 trials, one trial at a time on one torch thread. It searches
learning_rate (1e-4..3e-3, log), update_epochs (2..32, log), gae_lambda
(0.8..0.99), rollout_length (16, 32 or 64: batches of 128-512 steps on the 8
copies, which divide 2,560, so every trial is evaluated and pruned at the
same steps) and num_minibatches (1, 2, 4, 8). A trial's objective is the
mean of its evaluations' greedy mean return (`metric='mean_return'`), the
area under its curve. "The defaults" are what `gridlab train --agent ppo
--task CartPole-v1 --steps 51200` runs: agents/hyperparams.toml's tuned
entry, the RL Zoo's settings (8 copies, discount 0.98, rollouts of 32, one
minibatch, 20 epochs, lambda 0.8, no entropy bonus, Adam 1e-3 decaying
linearly over 100k steps), which run_experiment merges under whatever a
trial sets; every trial inherits the rest of that entry too. The decay
(learning_rate_decay_steps = 100,000) is left as it is on both sides and
not searched: at 51,200 steps both end at about half their initial rate,
and the defaults are a point of the space (lr 1e-3, 20 epochs, lambda 0.8,
rollouts of 32, one minibatch), so the search could have found them. The
defaults solve within the budget (every fresh seed below). The best and
the defaults then train on seeds 1-5 with the same budget and evaluations;
a seed is solved at its first evaluation with a greedy mean return >= 475
(CartPole-v1's threshold), and one that never gets there counts as the
whole budget, and not as solved.

Measured on this 2-core machine (2026-12-06, the other core busy with other
jobs), one run:

    study:    30 trials in 1,050 s, 13 complete, 17 pruned; pruning saved
              56 % of the 4,608,000 steps (30 trials x 3 seeds x 51,200)
    best:     learning_rate 0.00230, update_epochs 13, gae_lambda 0.953,
              rollout_length 64, num_minibatches 4
    fresh seeds 1-5    solved   median steps   steps per seed
    tuned              5/5       5,120         17,920  5,120 10,240  5,120  5,120
    defaults           5/5      20,480          7,680 25,600 20,480  7,680 25,600

Here the target is reached: 30 trials of tune found settings that solve
CartPole-v1 in a quarter of the defaults' median steps (5,120 against
20,480; 5,120 is the second evaluation, three of the five tuned seeds were
solved there), on seeds the study never saw, and pruning saved 56 % of the
study's steps. The same caveats hold: five seeds, one study, one measurement of each side.
"""

import argparse
import csv
import dataclasses
import json
import pathlib
import statistics
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from gridlab.experiments import tune
from gridlab.experiments.run import run_experiment


@dataclasses.dataclass(frozen=True)
class Study:
    """What one study searches and how its best is judged against the defaults."""
    agent: str
    task: str
    space: Dict[str, Any]   # As tune.check_space reads it.
    metric: str             # The trials' objective: the mean of this column.
    solved: Tuple[str, float]  # Solved at the first evaluation with column >= value.
    # (trials, seeds per trial, fresh seeds, steps, eval_every) of a full run
    # and of --quick.
    full: Tuple[int, int, List[int], int, int]
    quick: Tuple[int, int, List[int], int, int]
    workers: int            # Study processes in a full run (--quick: one).
    one_thread: bool        # Train on one torch thread.


STUDIES = {
    'dqn-simple': Study(
        'dqn', 'simple',
        {'learning_rate': {'low': 1e-4, 'high': 1e-2, 'log': True},
         'epsilon': {'low': 0.05, 'high': 0.8},
         'batch_size': {'low': 16, 'high': 128, 'log': True},
         'target_update_frequency': {'low': 10, 'high': 500, 'log': True}},
        metric='optimal_fraction', solved=('optimal_fraction', 1.),
        full=(30, 3, [1, 2, 3, 4, 5], 5_000, 500), quick=(3, 1, [1], 1_000, 250),
        workers=2, one_thread=False),
    # Rollouts of 16, 32 or 64 steps on 8 copies are batches of 128 to 512
    # steps, which divide 2,560: every trial is evaluated, and compared by the
    # pruner, at the same steps.
    'ppo-cartpole': Study(
        'ppo', 'CartPole-v1',
        {'learning_rate': {'low': 1e-4, 'high': 3e-3, 'log': True},
         'update_epochs': {'low': 2, 'high': 32, 'log': True},
         'gae_lambda': {'low': 0.8, 'high': 0.99},
         'rollout_length': {'choices': [16, 32, 64]},
         'num_minibatches': {'choices': [1, 2, 4, 8]}},
        metric='mean_return', solved=('mean_return', 475.),
        full=(30, 3, [1, 2, 3, 4, 5], 51_200, 2_560), quick=(3, 1, [1], 5_120, 2_560),
        workers=1, one_thread=True),
}


def steps_to_solve(folder: pathlib.Path, column: str, value: float) -> Optional[int]:
    """The first evaluation's step with `column` >= `value`, or None if none had it."""
    with open(folder / 'evaluation.csv', newline='') as f:
        for row in csv.DictReader(f):
            if row.get(column) and float(row[column]) >= value:
                return int(row['total_steps'])
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--study', choices=sorted(STUDIES), default='dqn-simple',
                        help='which study (default dqn-simple)')
    parser.add_argument('--quick', action='store_true', help='3 trials, 1 seed each')
    args = parser.parse_args(argv)
    study = STUDIES[args.study]
    import torch
    threads = torch.get_num_threads()
    if study.one_thread:
        torch.set_num_threads(1)
    try:
        return _measure(study, args.quick)
    finally:
        torch.set_num_threads(threads)


def _measure(description: Study, quick: bool) -> List[Dict[str, Any]]:
    """Runs the study, then its best and the defaults on fresh seeds; the rows."""
    agent, task = description.agent, description.task
    trials, per_trial, seeds, steps, every = description.quick if quick else description.full
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        space = tune.check_space(description.space, agent, task)
        start = time.perf_counter()
        study = tune.run_tune(agent, task, space, trials, root / 'study', steps=steps,
                              eval_every=every, seed=100, seeds_per_trial=per_trial,
                              metric=description.metric,
                              workers=1 if quick else description.workers)
        seconds = time.perf_counter() - start
        trained = sum(int(row['steps'] or 0) for row in study.trials)
        budget = trials * per_trial * steps
        print(f'study ({agent} on {task}): {len(study.trials)} trials in {seconds:.0f} s '
              f'({study.states["COMPLETE"]} complete, {study.states["PRUNED"]} pruned); '
              f'pruning saved {100 * (1 - trained / budget):.0f} % of {budget:,} steps')
        print(f'best: {json.dumps(study.best)}')
        print(f"{'settings':<10} {'solved':>7} {'median steps':>13} {'steps per seed'}")
        for name, settings in (('defaults', {}), ('tuned', study.best)):
            found = []
            for seed in seeds:
                out = root / f'{name}-{seed}'
                run_experiment(agent, task, out, seed=seed, steps=steps,
                               eval_every=every, hyperparameters=settings, verbose=False,
                               video=False, pictures=False)
                found.append(steps_to_solve(out, *description.solved))
            row = {'settings': name, 'seeds': len(seeds),
                   'solved': sum(s is not None for s in found),
                   'steps': statistics.median(steps if s is None else s for s in found),
                   'budget': steps, 'pruned_share': 1 - trained / budget}
            rows.append(row)
            print(f"{name:<10} {row['solved']:>4}/{len(seeds)} "
                  f"{row['steps']:>13,.0f} {found}")
    return rows


if __name__ == '__main__':
    main()
