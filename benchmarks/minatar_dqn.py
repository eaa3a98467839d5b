"""DQN on MinAtar: gridlab's convolutional DQN beside stable-baselines3's DQN.

    python benchmarks/minatar_dqn.py                          # 500k frames, seeds 0-2
    python benchmarks/minatar_dqn.py --frames 20000 --seeds 0 # frames/s only, roughly
    python benchmarks/minatar_dqn.py --quick                  # a smoke run (the tests)

Both agents train for the same number of frames (environment steps) on the
same games, one seed at a time, torch on one thread, with the same network
and settings: the MinAtar paper's network (Young & Tian, 2019) as gridlab
builds it (a 3x3 convolution with 16 channels, stride 1, no padding; 128
units; inputs scaled from 0/1 to -1/+1), replay 100k from 5k transitions on, batch
32, one learning step per frame, target copy every 1,000 steps, Huber loss,
Adam 2.5e-4, epsilon 1 -> 0.1 over the first 100k frames: gridlab's DQN with
its tuned settings (agents/hyperparams.toml, double DQN as gridlab's default),
SB3's DQN (plain DQN, its only kind) with `CnnPolicy` given a features
extractor of the same layers (SB3's NatureCNN cannot take a 10x10 input) on
MinAtar's own Gymnasium environment. Each is then judged greedily on
gridlab's MinAtar environment, `--eval-episodes` episodes from a separately
seeded copy (seed + 10,000), with the same step cap per episode.

Printed per game and agent: training frames per second (medians over the
seeds, wall and process-CPU clocks; CPU time is steadier on a shared
machine), the greedy mean return (median over seeds) and each seed's.

Measured (seed 0, 2-core machine shared with other jobs, torch 2.13 CPU,
SB3 2.9.2): Breakout-v1, 500k frames, the two runs side by side: gridlab
greedy mean 10.13 (5.50, 6.60, 8.67, 13.73 at 100k-400k), SB3 9.90 (6.47,
7.80, 8.77, 11.03); frames/s on the CPU clock 449 against 356 (1.26x), wall
189 against 194 (they shared the cores). 30k frames each, one after the
other on a quiet machine: Breakout 725 against 628 frames/s (1.15x),
SpaceInvaders 694 against 605 (1.15x; greedy 27.6 against 26.7 at 30k). A
learning step (batch 32, forward and backward) costs about 2.5 ms of CPU in
both (gridlab 2.57 double / 2.29 plain, SB3 2.82): that, not the
environment (about 360k steps/s), bounds both near the same rate.

Reference (not a measurement of this file): the MinAtar paper's DQN after
5M frames, a moving average of 100 training episodes (epsilon 0.1, all six
actions, centred RMSProp), read off the learning-curve plot of
github.com/kenjyoung/MinAtar (README, img/learning_curves.gif; Young & Tian
2019, arXiv:1903.03176): Breakout about 10, Space Invaders about 43, and about
9 and 25-30 at 0.5M frames. The plot is all the paper and README give; these
are readings of it, not published numbers.
"""

import argparse
import statistics

import numpy as np
import torch
from torch import nn

import _common  # benchmarks/_common.py, beside this file
import gridlab
from agents.dqn import DQN
from agents.entries import AGENTS
from gridlab.envs.adapters import minatar as adapter
from gridlab.envs.catalogue import evaluation_seed
from gridlab.loops.loggers import NoOpLogger

GAMES = ('Breakout', 'SpaceInvaders')
EVAL_STEP_CAP = 20_000  # Per greedy episode: a good Breakout player can go on for long.
REFERENCE_5M = {'Breakout': '~10', 'SpaceInvaders': '~43'}  # Read off the paper's plot.


def tuned(task: str) -> dict:
    """gridlab's DQN settings for `task` (agents/hyperparams.toml)."""
    return dict(AGENTS['dqn'].tuned[task]['hyperparameters'])


def greedy_mean(act, task: str, seed: int, episodes: int) -> float:
    """Mean return of `act(observation) -> action` over `episodes` episodes."""
    env = adapter.make_environment(task, seed=evaluation_seed(seed))
    returns = []
    for _ in range(episodes):
        timestep, total, steps = env.reset(), 0., 0
        while not timestep.last() and steps < EVAL_STEP_CAP:
            timestep = env.step(int(act(timestep.observation)))
            total += timestep.reward
            steps += 1
        returns.append(total)
    return float(np.mean(returns))


def checkpoint(name: str, seed: int, done: int, clock, score: float) -> None:
    """One line of a run in progress (long runs report as they go)."""
    print(f'  {name} seed {seed}: {done:>9,} frames  greedy mean {score:6.2f}  frames/s '
          f'wall {done / clock.wall:,.0f}  CPU {done / clock.cpu:,.0f}', flush=True)


def gridlab_dqn(task: str, seed: int, frames: int, settings: dict):
    env = adapter.make_environment(task, seed=seed)
    agent = DQN(gridlab.make_environment_spec(env), seed=seed, **settings)
    clock, done, every = _common.Clock(), 0, ARGS.report_every or frames
    while done < frames:
        # Chunks of training: each starts a new episode (the agent's own
        # counters, epsilon's schedule among them, carry on).
        chunk = min(every, frames - done)
        with clock:
            gridlab.run_loop(env, agent, num_steps=chunk, logger=NoOpLogger(),
                             progress=False)
        done += chunk
        with gridlab.evaluation_mode(agent):
            score = greedy_mean(agent.select_action, task, seed, ARGS.eval_episodes)
        if done < frames:
            checkpoint('gridlab DQN', seed, done, clock, score)
    return frames / clock.wall, frames / clock.cpu, score


def sb3_dqn(task: str, seed: int, frames: int, settings: dict):
    """SB3's DQN with the same network and settings; None if SB3 is absent."""
    try:
        import gymnasium
        import stable_baselines3 as sb3
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    except ImportError:
        return None
    from minatar.gym import register_envs
    if task not in gymnasium.registry:
        register_envs()

    class MinAtarTorso(BaseFeaturesExtractor):
        """gridlab's MinAtar torso: 0/1 -> -1/+1, conv, ReLU, linear, ReLU."""

        def __init__(self, observation_space, channels, kernel, stride, padding, hidden):
            super().__init__(observation_space, hidden)
            height, width, depth = observation_space.shape
            side = lambda n: (n + 2 * padding - kernel) // stride + 1  # noqa: E731
            self.layers = nn.Sequential(
                nn.Conv2d(depth, channels, kernel, stride=stride, padding=padding),
                nn.ReLU(), nn.Flatten(),
                nn.Linear(channels * side(height) * side(width), hidden), nn.ReLU())

        def forward(self, observations):
            return self.layers(observations.permute(0, 3, 1, 2) * 2. - 1.)

    env = gymnasium.make(task)
    torso = {name: settings[key][0] for name, key in (
        ('channels', 'conv_channels'), ('kernel', 'conv_kernels'),
        ('stride', 'conv_strides'), ('padding', 'conv_padding'),
        ('hidden', 'hidden_sizes'))}
    model = sb3.DQN(
        'CnnPolicy', env, learning_rate=settings['learning_rate'],
        buffer_size=settings['replay_capacity'],
        learning_starts=settings['min_replay_size'], batch_size=settings['batch_size'],
        tau=1., gamma=0.99, train_freq=1, gradient_steps=1,
        target_update_interval=settings['target_update_frequency'],
        exploration_initial_eps=settings['epsilon'],
        exploration_final_eps=settings['final_epsilon'],
        exploration_fraction=min(1., settings['decay_steps'] / frames),
        max_grad_norm=10., seed=seed, device='cpu', verbose=0,
        policy_kwargs=dict(features_extractor_class=MinAtarTorso, net_arch=[],
                           normalize_images=False,
                           features_extractor_kwargs=torso))
    clock = _common.Clock()

    def score():
        return greedy_mean(lambda obs: model.predict(obs.astype(bool), deterministic=True)[0],
                           task, seed, ARGS.eval_episodes)

    class Checkpoints(BaseCallback):
        """Greedy checks every --report-every frames, off the clock (one
        learn() call, so that SB3's epsilon schedule spans the whole run)."""

        def _on_step(self):
            done = self.num_timesteps
            if ARGS.report_every and done % ARGS.report_every == 0 and done < frames:
                clock.stop()
                checkpoint('SB3 DQN', seed, done, clock, score())
                clock.start()
            return True

    clock.start()
    model.learn(frames, callback=Checkpoints())
    clock.stop()
    return frames / clock.wall, frames / clock.cpu, score()


def environment_speed(task: str, steps: int) -> list:
    """Random-action steps/s of one game: gridlab's adapter (MinAtar's game
    classes stepped directly), MinAtar's Gymnasium env behind gridlab's
    `GymnasiumWrapper`, and `BatchedMinAtar` (steps of all copies counted)."""
    import gymnasium
    from minatar.gym import register_envs
    from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
    if task not in gymnasium.registry:
        register_envs()
    num_actions = adapter.make_environment(task).action_spec().num_values
    rng = np.random.default_rng(0)
    rows = []

    def single(name, env):
        actions = rng.integers(num_actions, size=steps).tolist()
        env.reset()
        with _common.Clock() as clock:
            for action in actions:
                env.step(action)
        return name, steps, clock

    timings = [single('adapter (direct)', adapter.make_environment(task, seed=0)),
               single('GymnasiumWrapper', GymnasiumWrapper(gymnasium.make(task), seed=0))]
    for copies in (8,):
        batch = adapter.batched_environment(task, None, copies, 0, 0.99)
        actions = rng.integers(num_actions, size=(steps // copies, copies))
        batch.reset()
        with _common.Clock() as clock:
            for row in actions:
                batch.step(row)
        timings.append((f'BatchedMinAtar x{copies}', len(actions) * copies, clock))
    for name, count, clock in timings:
        label = f'{task} {name}'
        print(f'{label:<45} env steps/s wall {count / clock.wall:>9,.0f}  CPU '
              f'{count / clock.cpu:>9,.0f}', flush=True)
        rows.append({'run': label, 'steps_per_s_wall': count / clock.wall,
                     'steps_per_s_cpu': count / clock.cpu})
    return rows


def random_mean(task: str, seed: int, episodes: int) -> float:
    env = adapter.make_environment(task, seed=0)
    rng = np.random.default_rng(seed)
    return greedy_mean(lambda _: rng.integers(env.action_spec().num_values), task, seed,
                       episodes)


def report(game: str, name: str, runs, frames: int) -> dict:
    walls, cpus, scores = zip(*runs)
    label = f'{game:<13} {name:<12}'
    print(f'{label} frames/s wall {statistics.median(walls):>7,.0f}  CPU '
          f'{statistics.median(cpus):>7,.0f}   greedy mean {statistics.median(scores):6.2f}'
          f'   per seed {[round(s, 2) for s in scores]}', flush=True)
    return {'run': label, 'frames': frames, 'seeds': len(runs),
            'frames_per_s_wall': statistics.median(walls),
            'frames_per_s_cpu': statistics.median(cpus),
            'greedy_mean': statistics.median(scores)}


def seeds_option(text: str):
    """'0-2' or '0,3,5' -> a list of seeds."""
    if '-' in text:
        low, high = (int(part) for part in text.split('-'))
        return list(range(low, high + 1))
    return [int(part) for part in text.split(',')]


ARGS = None


def main(argv=None):
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--frames', type=int, default=500_000,
                        help='training frames per run (default 500,000)')
    parser.add_argument('--seeds', type=seeds_option, default=[0, 1, 2],
                        help="seeds, '0-2' or '0,1,2' (default 0-2)")
    parser.add_argument('--games', default=','.join(GAMES),
                        help=f'MinAtar games (default {",".join(GAMES)})')
    parser.add_argument('--agents', default='gridlab,sb3',
                        help='gridlab, sb3 or both (default)')
    parser.add_argument('--eval-episodes', type=int, default=30)
    parser.add_argument('--no-env-speed', dest='env_speed', action='store_false',
                        help='skip the environment speed rows')
    parser.add_argument('--report-every', type=int, default=100_000,
                        help='greedy checks every this many frames (0: at the end only)')
    ARGS = args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.seeds, args.eval_episodes, args.report_every = 600, [0], 2, 300
        args.games = 'Breakout'
    torch.set_num_threads(1)
    games = [game.strip() for game in args.games.split(',')]
    agents = [name.strip() for name in args.agents.split(',')]
    print(f'MinAtar DQN, {args.frames:,} frames per run, seeds {args.seeds}, torch '
          f'threads 1; greedy mean over {args.eval_episodes} episodes (seed + 10,000)',
          flush=True)
    rows = []
    if ARGS.env_speed:
        rows += environment_speed(f'MinAtar/{games[0]}-v1', 2_000 if args.quick else 100_000)
    for game in games:
        task = f'MinAtar/{game}-v1'
        adapter.check_task(task)
        settings = tuned(task)
        if args.quick:  # Learn within the smoke run's few frames.
            settings.update(min_replay_size=100, decay_steps=300)
        print(f'{task}: random policy {random_mean(task, 0, args.eval_episodes):.2f}; '
              f'paper DQN at 5M frames {REFERENCE_5M.get(game, "n/a")} (see docstring)',
              flush=True)
        if 'gridlab' in agents:
            rows.append(report(game, 'gridlab DQN', [
                gridlab_dqn(task, seed, args.frames, settings) for seed in args.seeds],
                args.frames))
        if 'sb3' in agents:
            runs = [sb3_dqn(task, seed, args.frames, settings) for seed in args.seeds]
            if runs[0] is None:
                print('stable-baselines3: not installed (pip install .[bench])')
            else:
                rows.append(report(game, 'SB3 DQN', runs, args.frames))
    return rows


if __name__ == '__main__':
    main()
