"""PPO on MiniGrid-DoorKey-5x5-v0: gridlab's beside SB3's, on the same frames.

    python benchmarks/minigrid_ppo.py            # 100k frames x 3 seeds each (minutes)
    python benchmarks/minigrid_ppo.py --quick    # a smoke run (used by the tests)
    python benchmarks/minigrid_ppo.py --task MiniGrid-DoorKey-8x8-v0 --frames 1000000 --seeds 1

gridlab: PPO with the settings `gridlab train --agent ppo --task
MiniGrid-DoorKey-5x5-v0` uses (agents/hyperparams.toml: 8 copies, the
`symbolic` view through its conv torso), on `batched_environment`'s copies.

SB3 (`pip install .[bench]`): PPO with the RL Zoo's MiniGrid settings, as
hyperparams/ppo.yml of DLR-RM/rl-baselines3-zoo (commit 208b6fd) gives them
for MiniGrid-DoorKey-5x5-v0 (its `minigrid-defaults`, "following
rl-starter-files"): env_wrapper minigrid.wrappers.FlatObsWrapper, normalize
true (VecNormalize, observations and rewards), n_envs 8, MlpPolicy, n_steps
128, batch_size 64, gae_lambda 0.95, gamma 0.99, n_epochs 10, ent_coef 0.0,
learning_rate 2.5e-4, clip_range 0.2, n_timesteps 1e5.

Each trains for the same frames; then its greedy policy plays EPISODES
episodes of a separately seeded copy (`evaluation_seed`: the same layouts for
both), each capped by MiniGrid's own step limit. Printed: frames, wall and
CPU seconds of training, greedy mean return; medians over the seeds. torch
runs on one thread.

Another task (`--task`) runs with DoorKey-5x5's settings on both sides.
Measured on DoorKey-8x8 (1,000,448 frames, seed 0, one run, shared
machine): gridlab greedy 0.000 in 237 s, SB3 greedy 0.000 in 650 s. Neither
finds the key and the door by chance often enough at 8x8. gridlab PPO
with a count bonus (on the 7x7 views: count_bonus 0.01 and 0.05, fading
over 800k steps; on the full grid: 0.02 and 0.1, fading over 900k) scored
0.000 too, each 1M frames, seed 0: DoorKey-8x8 needs settings of its own.

(Not benchmarks/minigrid.py: benchmarks run with this folder first on
sys.path, where a minigrid.py would shadow the minigrid package.)
"""

import argparse
import statistics

import numpy as np
import torch

import _common  # benchmarks/_common.py, beside this file

TASK = 'MiniGrid-DoorKey-5x5-v0'  # Whose tuned settings both sides use.
EPISODES = 20


def greedy_mean(make_env, act, seed: int, episodes: int = EPISODES) -> float:
    """Mean return of `act(observation) -> action` over `episodes` episodes of
    the Gymnasium env `make_env()`, its first reset seeded with `seed`."""
    env = make_env()
    total, observation = 0., env.reset(seed=seed)[0]
    for _ in range(episodes):
        done = False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(act(observation))
            total += reward
            done = terminated or truncated
        observation = env.reset()[0]
    env.close()
    return total / episodes


def gridlab_ppo(seed: int, frames: int, task: str = TASK):
    import gymnasium
    from agents.entries import TUNED
    from agents.ppo import PPO
    from gridlab.core.actor import evaluation_mode
    from gridlab.envs.adapters import minigrid
    from gridlab.envs.catalogue import evaluation_seed
    tuned = TUNED['ppo'][TASK]
    observation = tuned.get('observation')
    env = minigrid.batched_environment(task, observation, tuned['num_envs'], seed,
                                       tuned.get('discount', 0.99))
    agent = PPO(env.single_environment_spec(), seed=seed, **tuned['hyperparameters'])
    with _common.Clock() as clock:
        summary = agent.train(env, frames)
    with evaluation_mode(agent):
        score = greedy_mean(lambda: minigrid.MiniGridEncoding(gymnasium.make(task),
                                                              observation or 'symbolic'),
                            agent.select_action, evaluation_seed(seed))
    return summary.steps, clock.wall, clock.cpu, score


def sb3_ppo(seed: int, frames: int, task: str = TASK):
    """SB3 PPO with the RL Zoo's settings (see above); None if SB3 is absent."""
    try:
        import stable_baselines3 as sb3
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import VecNormalize
    except ImportError:
        return None
    import gymnasium
    from minigrid.wrappers import FlatObsWrapper
    from gridlab.envs.catalogue import evaluation_seed

    env = VecNormalize(make_vec_env(task, n_envs=8, seed=seed,
                                    wrapper_class=FlatObsWrapper))
    model = sb3.PPO('MlpPolicy', env, n_steps=128, batch_size=64, gae_lambda=0.95,
                    gamma=0.99, n_epochs=10, ent_coef=0.0, learning_rate=2.5e-4,
                    clip_range=0.2, seed=seed, device='cpu', verbose=0)
    with _common.Clock() as clock:
        model.learn(frames)
    env.training = False  # Greedy play: the normalisation as learned, frozen.

    def act(observation):
        normalised = env.normalize_obs(observation[None].astype(np.float32))
        return int(model.predict(normalised, deterministic=True)[0][0])

    score = greedy_mean(lambda: FlatObsWrapper(gymnasium.make(task)), act,
                        evaluation_seed(seed))
    return model.num_timesteps, clock.wall, clock.cpu, score


def report(name: str, runs, budget: int) -> dict:
    frames, walls, cpus, scores = zip(*runs)
    print(f'{name:<30} frames {statistics.median(frames):>9,.0f}  '
          f'wall s {statistics.median(walls):>7.1f}  CPU s {statistics.median(cpus):>7.1f}  '
          f'greedy mean return {statistics.median(scores):.3f}'
          f'\n{"":<30} per seed: greedy {[round(s, 3) for s in scores]}  '
          f'wall s {[round(w, 1) for w in walls]}')
    return {'agent': name, 'frames': statistics.median(frames), 'budget': budget,
            'wall_s': statistics.median(walls), 'cpu_s': statistics.median(cpus),
            'greedy_mean_return': statistics.median(scores)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--task', default=TASK, help='a MiniGrid-* id (default %(default)s)')
    parser.add_argument('--frames', type=int, default=100_000)
    args = parser.parse_args(argv)
    task = args.task
    torch.set_num_threads(1)
    seeds = range(1) if args.quick else range(args.seeds)
    frames = 2_048 if args.quick else args.frames
    print(f'{task}: {frames:,} frames; greedy mean return over {EPISODES} episodes '
          f'(separately seeded); medians over {len(seeds)} seeds; torch threads 1')
    rows = [report('gridlab PPO (8 copies, conv)', [gridlab_ppo(s, frames, task) for s in seeds],
                   frames)]
    sb3_runs = [sb3_ppo(s, frames, task) for s in seeds]
    if sb3_runs[0] is None:
        print('stable-baselines3 PPO: not installed (pip install .[bench])')
    else:
        rows.append(report('SB3 PPO (8 copies, Zoo, flat)', sb3_runs, frames))
    return rows


if __name__ == '__main__':
    main()
