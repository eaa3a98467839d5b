"""PPO: time to solve CartPole-v1 beside SB3's PPO, and shortest paths on GridWorlds.

    python benchmarks/ppo.py            # full run (many minutes on a busy machine)
    python benchmarks/ppo.py --quick    # a smoke run (used by the tests)

(LunarLander-v3 has its own benchmark: benchmarks/lunarlander.py.)

CartPole: gridlab's PPO with its default settings (tuned on this task) on
Gymnasium's vector CartPole (16 copies, the `vector_entry_point`) and, in
the same run, stable-baselines3's PPO (`pip install .[bench]`) with the RL
Zoo's tuned CartPole hyperparameters on 8 copies. Solved means a greedy mean
return >= 475 over 20 episodes on a separately seeded environment, checked
after every update; training time excludes the checks, whose own time is
printed beside it. torch runs on one thread. Medians over 5 seeds, on two
clocks: wall time, and the process's CPU time (steadier on a shared machine).

GridWorlds: PPO on `BatchedGridWorld` copies (STATE_INDEX observations) from
each task's fixed start, until the greedy policy's return from the start
equals max_a Q*(start, a) (gridlab.evaluation.judging, the agent's effective discount).
"""

import argparse
import statistics

import numpy as np
import torch

import _common  # benchmarks/_common.py, beside this file
import gridlab
from agents.ppo import PPO
from gridlab.evaluation import judging
from gridlab.envs.batched import BatchedGridWorld
from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
from gridlab.envs.catalogue import evaluation_seed

SOLVED = 475.
EVAL_EPISODES = 20
# PPO's settings per GridWorld task, beside its defaults (tuned on CartPole).
# All use a count-based exploration bonus, without which PPO settles on a safe
# detour or never finds the goal; visits are counted over all 64 copies, so it
# must be large to outweigh wall bumps (-5) for long. On the cliff and in the
# four rooms it fades to 0 over 200k steps, so that what the policy finally
# maximises is the task's return (a lasting bonus keeps the cliff's policy on
# a detour: 1/5 seeds with the maze's settings below, 1M steps).
# The maze needs a table of logits for a policy (no hidden layer, no bias):
# an MLP, or even a shared bias, carries "moves into walls cost -5" from the
# corridors it knows into cells it has never seen, which stops exploration
# after 34-57 of the maze's 202 cells (measured: bonus 1 to 100, entropy 0.01
# to 0.1, 600k steps).
_FADING_BONUS = dict(count_bonus=10., count_bonus_decay_steps=200_000)
GRID_SETTINGS = {'four_rooms': _FADING_BONUS, 'cliff': _FADING_BONUS,
                 'maze': dict(count_bonus=10., hidden_sizes=(), policy_bias=False,
                              learning_rate=1e-2)}
GRID_BUDGETS = {'four_rooms': 300_000, 'cliff': 300_000, 'maze': 2_000_000}
GRID_COPIES = 64


def greedy_mean(act, seed: int, episodes: int = EVAL_EPISODES) -> float:
    """Mean return of `act(observations) -> actions` over CartPole episodes."""
    return _common.greedy_mean(act, 'CartPole-v1', seed, episodes)


CARTPOLE_COPIES = 16


def gridlab_cartpole(seed: int, budget: int):
    env = GymnasiumVectorWrapper('CartPole-v1', num_envs=CARTPOLE_COPIES, seed=seed)
    agent = PPO(env.single_environment_spec(), seed=seed)
    clock, checking, scores = _common.Clock(), _common.Clock(), [0.]

    def check(agent, steps):
        clock.stop()
        with checking, gridlab.evaluation_mode(agent):
            scores.append(greedy_mean(agent.select_actions, evaluation_seed(seed)))
        clock.start()
        return scores[-1] >= SOLVED

    clock.start()
    summary = agent.train(env, budget, stop=check)
    clock.stop()
    return summary.steps, clock.wall, clock.cpu, scores[-1], checking.cpu


def sb3_cartpole(seed: int, budget: int):
    """SB3 PPO with the RL Zoo's CartPole-v1 hyperparameters; None if absent."""
    try:
        import stable_baselines3 as sb3
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError:
        return None
    clock, checking, scores = _common.Clock(), _common.Clock(), [0.]

    class Check(BaseCallback):
        solved = False

        def _on_rollout_end(self):
            clock.stop()
            with checking:
                scores.append(greedy_mean(
                    lambda obs: self.model.predict(obs, deterministic=True)[0],
                    evaluation_seed(seed)))
            self.solved = scores[-1] >= SOLVED
            clock.start()

        def _on_step(self):
            return not self.solved

    def linear(start):
        return lambda remaining: remaining * start

    env = make_vec_env('CartPole-v1', n_envs=8, seed=seed)
    model = sb3.PPO('MlpPolicy', env, n_steps=32, batch_size=256, gae_lambda=0.8,
                    gamma=0.98, n_epochs=20, ent_coef=0., learning_rate=linear(1e-3),
                    clip_range=linear(0.2), seed=seed, device='cpu', verbose=0)
    callback = Check()
    clock.start()
    model.learn(budget, callback=callback)
    clock.stop()
    return model.num_timesteps, clock.wall, clock.cpu, scores[-1], checking.cpu


def whole_rollouts(budget: int, rollout: int) -> int:
    """The steps a run takes without solving: training stops after whole rollouts."""
    return -(-budget // rollout) * rollout


def report(name: str, runs, budget: int) -> dict:
    steps, walls, cpus, scores, checks = zip(*runs)
    solved = sum(score >= SOLVED for score in scores)
    print(f'{name:<26} solved {solved}/{len(runs)}  median steps {statistics.median(steps):>9,.0f}'
          f'  wall s {statistics.median(walls):>7.2f}  CPU s {statistics.median(cpus):>7.2f}'
          f'  (greedy checks, not counted: CPU s {statistics.median(checks):.2f})'
          f'\n{"":<26} steps {list(steps)}  CPU s {[round(c, 2) for c in cpus]}'
          f'  last greedy means {[round(s) for s in scores]}')
    return {'agent': name, 'solved': solved, 'seeds': len(runs),
            'steps': statistics.median(steps), 'budget': budget,
            'wall_s': statistics.median(walls), 'cpu_s': statistics.median(cpus)}


def gridworld(task: str, seed: int, budget: int):
    batch = BatchedGridWorld.from_task(task, GRID_COPIES, seed=seed)
    single = batch.environment
    target = float(np.nanmax(judging.optimal_q_values(single)[single.start_state]))
    agent = PPO(batch.single_environment_spec(), seed=seed, **GRID_SETTINGS[task])
    clock, value = _common.Clock(), [None]

    def check(agent, steps):
        clock.stop()
        value[0] = judging.greedy_return_from_start(single, agent)
        clock.start()
        return abs(value[0] - target) < 1e-6

    clock.start()
    summary = agent.train(batch, budget, stop=check)
    clock.stop()
    return summary.steps, clock.wall, clock.cpu, abs(value[0] - target) < 1e-6, value[0], target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = range(1) if args.quick else range(5)
    cartpole_budget = 2_048 if args.quick else 150_000

    print(f'CartPole-v1: solved = greedy mean >= {SOLVED:g} over {EVAL_EPISODES} episodes '
          f'(separately seeded); medians over {len(seeds)} seeds; torch threads 1')
    rows = [report(f'gridlab PPO ({CARTPOLE_COPIES} copies)',
                   [gridlab_cartpole(s, cartpole_budget) for s in seeds],
                   whole_rollouts(cartpole_budget, CARTPOLE_COPIES * 32))]
    sb3_runs = [sb3_cartpole(s, cartpole_budget) for s in seeds]
    if sb3_runs[0] is None:
        print('stable-baselines3 PPO: not installed (pip install .[bench])')
    else:
        rows.append(report('SB3 PPO (8 copies, Zoo)', sb3_runs,
                           whole_rollouts(cartpole_budget, 8 * 32)))

    print(f'\nGridWorld shortest path from the fixed start ({GRID_COPIES} copies, '
          f'STATE_INDEX)')
    for task in ('four_rooms', 'cliff', 'maze'):
        grid_budget = 4_096 if args.quick else GRID_BUDGETS[task]
        print(f'{task}: {GRID_SETTINGS[task]}, budget {grid_budget:,} steps')
        runs = [gridworld(task, s, grid_budget) for s in seeds]
        steps, walls, cpus, solved, values, target = zip(*runs)
        print(f'{task:<11} solved {sum(solved)}/{len(runs)}  steps {list(steps)}  '
              f'wall s {[round(w, 1) for w in walls]}  CPU s {[round(c, 1) for c in cpus]}  '
              f'greedy return {[round(v, 3) for v in values]} vs max Q* {target[0]:.3f}')
        rows.append({'task': task, 'solved': sum(solved), 'seeds': len(runs),
                     'steps': statistics.median(steps),
                     'budget': whole_rollouts(grid_budget, GRID_COPIES * 32),
                     'wall_s': statistics.median(walls), 'cpu_s': statistics.median(cpus)})
    return rows


if __name__ == '__main__':
    main()
