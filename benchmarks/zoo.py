"""The tuned zoo, reproduced: every pair of agents/hyperparams.toml, rerun.

    python benchmarks/zoo.py                              # every pair this file reproduces
    python benchmarks/zoo.py --pairs ppo:CartPole-v1,dqn:Acrobot-v1 --workers 2
    python benchmarks/zoo.py --quick                      # smoke run (used by the tests)

Each entry of agents/hyperparams.toml states, in its `result` table, the
result it reaches: the evaluation column judged (`metric`: the greedy mean
return, the success rate, or on a GridWorld the fraction of states where the
greedy action is optimal by exact planning; on a bsuite task, bsuite's own
score of the run's log, computed by bsuite's analysis), the number of greedy
episodes (`eval_episodes`, on the run's separately seeded evaluation copy),
the seeds, the value on each seed, and the bar every seed clears
(`at_least`). An entry whose figure comes with a peer library in the same
run names the benchmark that reproduces it instead; this file reproduces the
rest, exactly as `gridlab train --agent A --task T --seed S` trains them
(through `gridlab.run_experiment`, tuned settings and all).

For each pair it prints the claimed values beside the measured ones, their
medians, whether every seed cleared the bar, and the median training
seconds (wall, on whatever else the machine is doing). The same seed gives
the same run, so on the machine the figures came from the values repeat;
elsewhere floating point may differ in the last bits and a neural run can
drift a little, which is why the bar, not the exact values, is the promise.
"""

import argparse
import concurrent.futures
import pathlib
import statistics
import tempfile
import time
from typing import Optional, Sequence

import torch

import gridlab
from gridlab import registry

THIS = 'benchmarks/zoo.py'
QUICK_PAIR, QUICK_STEPS = ('q-learning', 'FrozenLake-v1'), 2_000


def tuned_pairs(benchmark: Optional[str] = THIS) -> list:
    """[(agent, task, settings)] of every tuned pair whose figure `benchmark`
    reproduces (every pair when None)."""
    return [(agent, task, settings)
            for agent, entry in registry.agents().items()
            for task, settings in entry.tuned.items()
            if benchmark is None or settings['result']['benchmark'] == benchmark]


def _run(agent: str, task: str, seed: int, steps: Optional[int], out: str) -> dict:
    """One seed, trained and judged as `gridlab train` would; torch on one thread."""
    torch.set_num_threads(1)
    result = registry.agents()[agent].tuned[task]['result']
    folder = pathlib.Path(out) / f'{seed}'
    run = gridlab.run_experiment(agent, task, folder, seed=seed,
                                 steps=steps, eval_episodes=result['eval_episodes'],
                                 progress=False, verbose=False, video=False,
                                 pictures=False, checkpoint_seconds=None)
    if result['metric'] == 'bsuite_score':  # bsuite's analysis reads the run's own log.
        from gridlab.experiments import bsuite
        value = bsuite.score_runs([folder])[0]['score']
    else:
        value = run.summary['evaluation'][result['metric']]
    return dict(value=float(value),
                steps=run.summary['training']['steps'],
                seconds=run.summary['training']['seconds'])


def reproduce(agent: str, task: str, settings: dict, workers: int,
              steps: Optional[int] = None, seeds: Optional[Sequence[int]] = None) -> dict:
    """Reruns one pair's seeds (its own unless `seeds`); a row for the table."""
    result = settings['result']
    seeds = list(result['seeds'] if seeds is None else seeds)
    with tempfile.TemporaryDirectory() as out:
        if workers > 1:
            with concurrent.futures.ProcessPoolExecutor(workers) as pool:
                runs = list(pool.map(_run, *zip(*[(agent, task, s, steps, out)
                                                   for s in seeds])))
        else:
            runs = [_run(agent, task, s, steps, out) for s in seeds]
    values = [r['value'] for r in runs]
    claimed = dict(zip(result['seeds'], result['values']))
    return dict(pair=f'{agent} on {task}', metric=result['metric'], seeds=len(seeds),
                steps=statistics.median(r['steps'] for r in runs),
                seconds=statistics.median(r['seconds'] for r in runs),
                median=statistics.median(values),
                claimed=statistics.median(result['values']),
                cleared=sum(v >= result['at_least'] for v in values),
                values=values, claimed_values=[claimed.get(s) for s in seeds],
                at_least=result['at_least'])


def _figures(values) -> str:
    return ', '.join('-' if v is None else f'{v:.4g}' for v in values)


def main(argv: Optional[Sequence[str]] = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--pairs', default=None,
                        help='AGENT:TASK,... (default: every pair this file reproduces)')
    parser.add_argument('--workers', type=int, default=1,
                        help='seeds trained at once, one process each')
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f'--workers must be at least 1, got {args.workers}')
    torch.set_num_threads(1)
    pairs = tuned_pairs()
    if args.pairs:
        wanted = [tuple(p.split(':', 1)) for p in args.pairs.split(',')]
        known = {(a, t): s for a, t, s in tuned_pairs(None)}
        for pair in wanted:
            if pair not in known:
                parser.error(f'--pairs: {":".join(pair)} is not a tuned pair')
        pairs = [(a, t, known[(a, t)]) for a, t in wanted]
    steps, seeds = None, None
    if args.quick:  # One cheap pair, one seed, a cut budget: the figures are not claims.
        pairs = [p for p in pairs if p[:2] == QUICK_PAIR]
        steps, seeds = QUICK_STEPS, [0]
        print(f'quick: {QUICK_PAIR[0]} on {QUICK_PAIR[1]}, seed 0, {QUICK_STEPS:,} steps '
              f'(not its tuned budget)')
    others = sorted({s['result']['benchmark'] for _, _, s in tuned_pairs(None)} - {THIS})
    print(f'{"pair":<38} {"metric":<16} {"steps":>9} {"seconds":>8} {"median":>9} '
          f'{"claimed":>9} {"cleared":>7}')
    rows, start = [], time.perf_counter()
    for agent, task, settings in pairs:
        row = reproduce(agent, task, settings, args.workers, steps, seeds)
        print(f'{row["pair"]:<38} {row["metric"]:<16} {row["steps"]:>9,.0f} '
              f'{row["seconds"]:>8.1f} {row["median"]:>9.4g} {row["claimed"]:>9.4g} '
              f'{row["cleared"]:>3}/{row["seeds"]:<3}', flush=True)
        print(f'{"":<6}measured {_figures(row["values"])}; claimed '
              f'{_figures(row["claimed_values"])}; bar {row["at_least"]:g}', flush=True)
        rows.append({k: v for k, v in row.items() if not isinstance(v, list)})
    print(f'{len(rows)} pairs in {time.perf_counter() - start:.0f} s. Reproduced elsewhere: '
          f'{", ".join(others)}')
    return rows


if __name__ == '__main__':
    main()
