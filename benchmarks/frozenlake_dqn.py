"""DQN on slippery FrozenLake-v1 through gridlab's one-hot encoding, judged exactly.

    python benchmarks/frozenlake_dqn.py            # 3 seeds, the tuned budget
    python benchmarks/frozenlake_dqn.py --quick    # smoke run (used by the tests)

FrozenLake's observation is a state index; DQN needs arrays, so a run sees
it one-hot (`gridlab train --agent dqn --task FrozenLake-v1` does the same,
and says so in summary.json). Each seed trains with the tuned settings of
agents/hyperparams.toml through `gridlab.run_experiment`, then its greedy
policy is judged two ways:

    exact      the greedy policy's probability of reaching the goal within
               FrozenLake-v1's 100-step limit, from the lake's own `P` table
    measured   the success rate of 1,000 greedy episodes on the run's
               separately seeded evaluation copy

against the optimal policy's exact success within the limit (value iteration
on the same table). The target: DQN within 0.05 of the optimum. Medians over
seeds; seconds are training's wall time on a shared machine.
"""

import argparse
import pathlib
import statistics
import tempfile
from typing import Optional, Sequence

import numpy as np
import torch

import gridlab
from gridlab import planning
from gridlab.envs.adapters.gymnasium_models import time_limited_values
from gridlab.experiments.resume import load_run

TASK, LIMIT = 'FrozenLake-v1', 100  # FrozenLake-v1's time limit.


def exact_success(model, policy) -> float:
    """The chance that `policy` reaches the goal from the start within LIMIT steps."""
    return float(time_limited_values(model, np.asarray(policy), LIMIT)[0])


def run(seed: int, steps: Optional[int], episodes: int, out: pathlib.Path, model) -> dict:
    """One seed: trained and evaluated (`episodes` greedy episodes) by
    `run_experiment`, then its greedy policy read off the agent's Q-values."""
    result = gridlab.run_experiment('dqn', TASK, seed=seed, steps=steps,
                                    eval_episodes=episodes, out=out / f'seed{seed}',
                                    progress=False, verbose=False, video=False,
                                    pictures=False)
    _, agent, _ = load_run(result.directory)
    states = np.eye(model.num_states, dtype=np.float32)  # What the agent sees.
    policy = [int(np.argmax(agent.q_values(state))) for state in states]
    return dict(exact=exact_success(model, policy),
                measured=result.summary['evaluation']['success_rate'],
                seconds=result.summary['training']['seconds'],
                steps=result.summary['training']['steps'],
                encoding=result.summary.get('observation_encoding'))


def main(argv: Optional[Sequence[str]] = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--seeds', type=int, default=None)
    parser.add_argument('--steps', type=int, default=None,
                        help='training steps (default: the tuned budget)')
    parser.add_argument('--episodes', type=int, default=1_000,
                        help='greedy evaluation episodes per seed')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # As gridlab train runs: a small network.
    seeds = args.seeds or (1 if args.quick else 3)
    steps = args.steps or (2_000 if args.quick else None)
    episodes = 20 if args.quick else args.episodes

    lake = gridlab.GymnasiumWrapper(TASK, seed=0, discount=1.)
    model = gridlab.tabular_model_from_gymnasium(lake)
    optimal = exact_success(model, planning.value_iteration(model).argmax(axis=1))
    print(f'{TASK} 4x4 slippery: the optimal policy reaches the goal within {LIMIT} '
          f'steps with probability {optimal:.4f} (exact, from its P table)')
    with tempfile.TemporaryDirectory() as folder:
        runs = [run(seed, steps, episodes, pathlib.Path(folder), model)
                for seed in range(seeds)]
    row = dict(agent='dqn (one-hot)', seeds=seeds,
               steps=statistics.median(r['steps'] for r in runs),
               exact=statistics.median(r['exact'] for r in runs),
               measured=statistics.median(r['measured'] for r in runs),
               gap=optimal - statistics.median(r['exact'] for r in runs),
               seconds=statistics.median(r['seconds'] for r in runs))
    print(f'{"agent":>14} {"steps":>8} {"exact success":>13} {"measured":>9} '
          f'{"below optimal":>13} {"seconds":>8}')
    print(f'{row["agent"]:>14} {row["steps"]:>8,.0f} {row["exact"]:>13.4f} '
          f'{row["measured"]:>9.3f} {row["gap"]:>13.4f} {row["seconds"]:>8.1f}')
    for seed, r in enumerate(runs):
        print(f'{"":>14} seed {seed}: exact {r["exact"]:.4f}, measured '
              f'{r["measured"]:.3f} over {episodes} episodes, {r["seconds"]:.1f} s, '
              f'observation {r["encoding"]}')
    row['gap'] = abs(row['gap'])
    return [row]


if __name__ == '__main__':
    main()
