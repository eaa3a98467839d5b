"""DQN on bsuite: catch's score, and deep_sea with and without a count bonus.

    python benchmarks/bsuite_dqn.py            # full run (tens of minutes)
    python benchmarks/bsuite_dqn.py --quick    # a smoke run (used by the tests)

Every figure is bsuite's own score, from the CSV log bsuite writes during
training (`gridlab.experiments.bsuite.score_runs`). bsuite's ids fix each
problem, so the seeds vary the agent (and the environment's random stream:
where catch's balls fall).

- catch/0: DQN with its tuned settings (agents/hyperparams.toml), the median
  score over the seeds after `--catch-episodes` episodes (bsuite's budget is
  10,000; the score is over the episodes run).
- deep_sea, sizes 10 to 50: DQN with the count-based exploration bonus
  (`count_bonus`, agents/common/exploration.py; epsilon 0) beside DQN acting
  epsilon-greedily (epsilon 0.1, no bonus), `--deep-sea-episodes` episodes
  each. A size is solved by bsuite's rule: the running share of bad
  episodes falls below 0.9 before episode 2**size + 100 (for sizes of 14 and
  more that is any time within bsuite's 10,000 episodes, of which this runs
  fewer: a size unsolved here might still be solved later). Each row: the
  seeds that solved it, and the median episodes bsuite's log says it took.
"""

import argparse
import pathlib
import statistics
import tempfile
import time

import gridlab
from gridlab.experiments import bsuite as bsuite_lib

BONUS = {'count_bonus': 1.0, 'epsilon': 0.0}
EPSILON_GREEDY = {'epsilon': 0.1}
SIZES = (10, 20, 30, 40, 50)


def _run(task, seed, episodes, hyperparameters, folder):
    start = time.perf_counter()
    gridlab.run_experiment('dqn', task, folder, seed=seed, episodes=episodes,
                           hyperparameters=hyperparameters, verbose=False, progress=False,
                           video=False, pictures=False, overwrite=True)
    return time.perf_counter() - start


def catch(seeds, episodes, root):
    scores, seconds = [], []
    for seed in seeds:
        folder = root / f'catch-seed{seed}'
        seconds.append(_run('bsuite/catch/0', seed, episodes, None, folder))
        scores.append(bsuite_lib.score_runs([folder])[0]['score'])
    return dict(label='dqn (tuned) on catch/0', seeds=len(seeds), episodes=episodes,
                median_score=statistics.median(scores), min_score=min(scores),
                median_seconds=statistics.median(seconds))


def deep_sea(name, hyperparameters, size, seeds, episodes, root):
    index = (size - 10) // 2  # bsuite's deep_sea ids: sizes 10, 12, ..., 50.
    solved, taken, seconds = 0, [], []
    for seed in seeds:
        folder = root / f'deep_sea-{size}-{name}-seed{seed}'
        seconds.append(_run(f'bsuite/deep_sea/{index}', seed, episodes, hyperparameters,
                            folder))
        frame = bsuite_lib.load_logs(bsuite_lib.log_directories([folder]))
        row = bsuite_lib.score_frame(frame)[0]
        if row['score'] == 1.:
            solved += 1
            ratio = frame.total_bad_episodes / frame.episode
            taken.append(int(frame.episode[ratio < 0.9].min()))
    return dict(label=f'dqn {name} on deep_sea size {size}', size=size, seeds=len(seeds),
                sizes_solved=solved, episodes=episodes,
                median_episodes_to_solve=statistics.median(taken) if taken else episodes,
                median_seconds=statistics.median(seconds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--catch-episodes', type=int, default=3_000)
    parser.add_argument('--deep-sea-episodes', type=int, default=1_000)
    parser.add_argument('--sizes', default=','.join(map(str, SIZES)))
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(1)  # As gridlab train and sweeps run: small networks.
    seeds = range(1 if args.quick else args.seeds)
    catch_episodes = 100 if args.quick else args.catch_episodes
    deep_sea_episodes = 100 if args.quick else args.deep_sea_episodes
    sizes = (10,) if args.quick else tuple(int(s) for s in args.sizes.split(','))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        row = catch(seeds, catch_episodes, root)
        rows.append(row)
        print(f'{"run":<40} {"seeds":>5} {"episodes":>9} {"median score":>13} '
              f'{"min score":>10} {"median s":>9}')
        print(f'{row["label"]:<40} {row["seeds"]:>5} {row["episodes"]:>9,} '
              f'{row["median_score"]:>13.3f} {row["min_score"]:>10.3f} '
              f'{row["median_seconds"]:>9.1f}')
        print()
        print(f'{"run":<40} {"solved":>7} {"episodes":>9} {"median to solve":>16} '
              f'{"median s":>9}')
        for size in sizes:
            for name, settings in (('count bonus', BONUS), ('epsilon-greedy', EPSILON_GREEDY)):
                row = deep_sea(name, settings, size, seeds, deep_sea_episodes, root)
                rows.append(row)
                print(f'{row["label"]:<40} {row["sizes_solved"]:>3}/{row["seeds"]:<3} '
                      f'{row["episodes"]:>9,} {row["median_episodes_to_solve"]:>16,} '
                      f'{row["median_seconds"]:>9.1f}', flush=True)
    print('solved: bsuite\'s rule (bad-episode share below 0.9 before episode '
          '2**size + 100), within the episodes run; bsuite\'s budget is 10,000')
    return rows


if __name__ == '__main__':
    main()
