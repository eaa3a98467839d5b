"""A2C beside Stable-Baselines3's A2C: greedy returns and steps per second.

    python benchmarks/a2c.py                       # LunarLander-v3 and Acrobot-v1, seeds 0-2
    python benchmarks/a2c.py --tasks CartPole-v1   # any of the tasks below
    python benchmarks/a2c.py --quick               # a smoke run (used by the tests)

gridlab's actor-critic trains as `gridlab train --agent actor-critic --task
T --seed S` does, with its tuned settings (agents/hyperparams.toml: many
copies, so A2C). In the same run, SB3's A2C (`pip install -e '.[bench]'`)
trains with the RL Zoo's settings for the task (rl-baselines3-zoo
hyperparams/a2c.yml; VecNormalize where the Zoo normalises, as it does for
Acrobot), on the same number of steps as gridlab's entry. Both are judged
alike: the mean return of 30 greedy episodes on Gymnasium's copies of the
task seeded with gridlab's evaluation seed (observations normalised by SB3's
frozen statistics where it trained with them). Each side runs on one torch
thread, one process at a time; steps per second count training only.
LunarLander needs Gymnasium's Box2D (`.[box2d]`).

Measured on this 2-core machine (one process at a time, seeds 0-2):

  LunarLander-v3, 200k steps   gridlab -17.8, -18.3, 60.2 at 10,477 steps/s
                               SB3      12.9, -43.7, 60.8 at  2,917 steps/s
  Acrobot-v1, 300k steps       gridlab -81.5, -81.1, -86.1 at 25,903 steps/s
                               SB3     -84.5, -80.5, -83.7 at 15,274 steps/s

The RL Zoo's benchmark.md quotes 155.8 +- 80.4 (LunarLander-v2, 200k) and
-83.4 +- 17.2 (Acrobot, 500k), each one trained agent's episodes. SB3's
Acrobot normalises observations by their running statistics, which gridlab's
agents do not; without that SB3 reached -83.8, -82.6, -80.2 on Acrobot (and
-200 on every seed of MountainCar, where gridlab maps the bounds to [-1, 1]).
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

import _common  # benchmarks/_common.py, beside this file
import gridlab
from gridlab import registry
from gridlab.envs.catalogue import evaluation_seed

EPISODES = 30
# The RL Zoo's A2C settings (hyperparams/a2c.yml); SB3's defaults otherwise
# (5-step rollouts, RMSprop 7e-4, gradients clipped to 0.5, GAE lambda 1).
ZOO = {
    'CartPole-v1': dict(n_envs=8, normalize=False, kwargs=dict(ent_coef=0.0)),
    'Acrobot-v1': dict(n_envs=16, normalize=True, kwargs=dict(ent_coef=0.0)),
    'MountainCar-v0': dict(n_envs=16, normalize=True, kwargs=dict(ent_coef=0.0)),
    'LunarLander-v3': dict(n_envs=8, normalize=False, linear_rate=8.3e-4,
                           kwargs=dict(gamma=0.995, n_steps=5, ent_coef=1e-5)),
}


def ours(task: str, seed: int, steps: int = None) -> dict:
    """gridlab's actor-critic as `gridlab train` runs it; its greedy mean."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        run = gridlab.run_experiment('actor-critic', task, out, seed=seed, steps=steps,
                                     eval_episodes=EPISODES, overwrite=True, progress=False,
                                     verbose=False, video=False, pictures=False,
                                     checkpoint_seconds=None)
    training = run.summary['training']
    return dict(value=run.summary['evaluation']['mean_return'], steps=training['steps'],
                rate=training['steps'] / training['seconds'])


def sb3(task: str, seed: int, steps: int):
    """SB3's A2C with the Zoo's settings for `task`; None without SB3."""
    try:
        import stable_baselines3 as sb3_module
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import VecNormalize
    except ImportError:
        return None
    torch.set_num_threads(1)
    zoo = ZOO[task]
    env = make_vec_env(task, n_envs=zoo['n_envs'], seed=seed)
    if zoo['normalize']:
        env = VecNormalize(env, gamma=zoo['kwargs'].get('gamma', 0.99))
    rate = zoo.get('linear_rate')
    learning_rate = (lambda left: left * rate) if rate else 7e-4
    model = sb3_module.A2C('MlpPolicy', env, learning_rate=learning_rate, seed=seed,
                           device='cpu', **zoo['kwargs'])
    start = time.perf_counter()
    model.learn(steps)
    seconds = time.perf_counter() - start

    def act(observations):
        if zoo['normalize']:
            observations = env.normalize_obs(observations)  # Its frozen statistics.
        return model.predict(observations, deterministic=True)[0]
    value = _common.greedy_mean(act, task, evaluation_seed(seed), EPISODES)
    return dict(value=value, steps=steps, rate=steps / seconds)


def report(label: str, runs: list) -> dict:
    values = [r['value'] for r in runs]
    row = {'agent': label, 'seeds': len(runs),
           'steps': statistics.median(r['steps'] for r in runs),
           'steps_per_s': statistics.median(r['rate'] for r in runs)}
    print(f'{label:<40} greedy means {[round(v, 1) for v in values]}  '
          f'median {statistics.median(values):.1f}  steps {row["steps"]:,.0f}  '
          f'steps/s {row["steps_per_s"]:,.0f}')
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', default='LunarLander-v3,Acrobot-v1',
                        help=f'comma-separated, of {sorted(ZOO)}')
    parser.add_argument('--seeds', type=int, default=3, help='seeds 0..N-1 (default 3)')
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    args = parser.parse_args(argv)
    tasks = ['CartPole-v1'] if args.quick else args.tasks.split(',')
    seeds = range(1 if args.quick else args.seeds)
    rows = []
    for task in tasks:
        if task not in ZOO:
            parser.error(f'--tasks: {task!r} is not one of {sorted(ZOO)}')
        steps = 2_000 if args.quick else registry.agents()['actor-critic'].tuned[task]['steps']
        print(f'{task}: {steps:,} steps each, greedy mean of {EPISODES} episodes')
        gridlab_runs = [ours(task, s, steps if args.quick else None) for s in seeds]
        rows.append(report(f'gridlab actor-critic on {task}', gridlab_runs))
        peer = [sb3(task, s, gridlab_runs[0]['steps']) for s in seeds]
        if peer[0] is None:
            print('SB3 A2C: not installed (pip install -e ".[bench]")')
            continue
        rows.append(report(f'SB3 A2C (Zoo settings) on {task}', peer))
    return rows


if __name__ == '__main__':
    main()
