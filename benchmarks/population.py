"""Many seeds of one neural agent: a population in one process vs single runs.

    python benchmarks/population.py            # full run (a few minutes)
    python benchmarks/population.py --quick    # a smoke run (used by the tests)
    python benchmarks/population.py --device cuda

PPO on CartPole-v1: N seeds trained as one `PopulationPPO` (stacked
parameters, one batched forward for all members; each member bit for bit
the single agent when alone, and its own data, generators and Adam state)
beside the same N seeds as single `PPO` runs one after another, each for
the same number of steps, on the same copies (k per seed). k = 1 is what
`gridlab train --agent ppo --task CartPole-v1` trains on by default; k = 16
is benchmarks/ppo.py's. Only some of the single runs are timed (`--singles`)
and their median is multiplied by N: the row says so. Medians of the
process's CPU time, which is the steadier clock on a shared machine, and of
wall time.

DQN on `simple` (GRID observations, its default convolutional network):
N seeds as one `PopulationDQN` beside single `DQN` runs, one copy each,
the same steps.

`gridlab sweep` of N PPO seeds on CartPole-v1 (`--steps` given, the rest
what `gridlab sweep` trains: the tuned entry's 8 copies, rollouts of 32, one
minibatch of 256, 20 epochs): with `--vectorize-seeds` (one population, in
one worker) beside the same sweep of separate runs on `--workers 2`; wall
time of the whole sweep, run folders, evaluations, results.csv and
comparison included.

Measured (one full run on this shared 2-core VM, CPU time): PPO, 32 seeds,
1 copy each: 11.0x (27.7k steps/s); 16 copies each: 3.5x (94k steps/s; 2.6x
in another run); DQN on simple, 16 seeds: 2.3x; the sweep, when PPO ran
one copy with its defaults: 82.4 s with --workers 2, 20.0 s with
--vectorize-seeds (4.1x). Peak memory 1-9 MB per member (the smallest
populations carry the process's own growth).

The sweep with the tuned entry (`--sweep-steps 50000`, a quiet machine,
medians of 3): 84.0 s with --workers 2 (82.6, 94.2, 84.0), 71.5 s with
--vectorize-seeds (71.5, 70.5, 72.6): 1.17x. Each
learning step there is a product over 256 rows per member, so the work is
arithmetic, which a population does not save: profiled at 10k steps per
member (cProfile, self time), the stacked products (`bmm`, `baddbmm`) and
autograd's backward took half of the population's time and torch's `tanh`
30 % (not vectorised in this torch build: 1.2 ms for 0.5M floats, where
`sigmoid` takes 0.11 ms); Python's share was small. The separate runs use
both cores, the population one. DQN on `simple` is alike: the members'
convolutions and stacked products took 46 % of the population's time and
autograd's backward another 13 %.

With `--population-size 16` (two populations, one per worker) the sweep
uses both cores too (`--sweep-steps 50000`, medians of 3, a busier day than
the figures above): 127.9 s with --workers 2, 99.5 s with one population
(1.29x), 58.1 s with two (2.20x).

Peak memory per member: the rise of the process's peak resident memory
(VmHWM) while a population trains, divided by N, measured in a fresh forked
process. `agents.populations.memory.members_that_fit` turns such a figure
into a population size for the memory at hand.
"""

import argparse
import multiprocessing
import statistics
import tempfile
import time
from typing import Optional

import torch

import _common  # benchmarks/_common.py, beside this file
from agents.dqn import DQN
from agents.populations import PopulationDQN, PopulationPPO
from agents.ppo import PPO
from gridlab.core.memory import resident_bytes
from gridlab.envs import ObservationType
from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
from gridlab.envs.catalogue import batched_environment, population_environment
from gridlab.experiments import run_sweep

ROLLOUT = 32  # PPO's default rollout_length.


# (single agent, population, task, GridWorld observation, discount) per row kind.
KINDS = {'ppo': (PPO, PopulationPPO, 'CartPole-v1', None, 0.99),
         'dqn': (DQN, PopulationDQN, 'simple', ObservationType.GRID, 0.9)}


def single_runs(kind: str, seeds, copies: int, steps: int, device: str):
    """Each seed trained alone, one after another: (wall s, CPU s) per run."""
    agent_class, _, task, observation, discount = KINDS[kind]
    times = []
    for seed in seeds:
        env = batched_environment(task, observation, copies, seed, discount)
        agent = agent_class(env.single_environment_spec(), seed=seed, device=device)
        with _common.Clock() as clock:
            agent.train(env, steps)
        times.append((clock.wall, clock.cpu))
    return times


def population_run(kind: str, seeds, copies: int, steps: int, device: str):
    _, population_class, task, observation, discount = KINDS[kind]
    env = population_environment(task, observation, copies, list(seeds), discount)
    population = population_class(env.single_environment_spec(), seeds=list(seeds),
                                  device=device)
    with _common.Clock() as clock:
        population.train(env, steps * len(seeds))
    return clock.wall, clock.cpu


def sweep_seconds(seeds: int, steps: int, vectorize: bool,
                  population_size: Optional[int] = None) -> float:
    """Wall seconds of a whole `gridlab sweep` of PPO seeds on CartPole-v1."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = run_sweep(['ppo'], ['CartPole-v1'], f'0-{seeds - 1}', out, steps=steps,
                           workers=2, progress=False, vectorize_seeds=vectorize,
                           population_size=population_size)
        seconds = time.perf_counter() - started
    if result.failed:
        raise RuntimeError(f'the sweep failed: {result.failed[0]}')
    return seconds


def _peak_child(queue, kind, seeds, copies, steps, device):
    torch.set_num_threads(1)
    before = resident_bytes()['current']
    population_run(kind, seeds, copies, steps, device)
    queue.put(resident_bytes()['peak'] - before)


def peak_bytes_per_member(kind: str, seeds, copies: int, steps: int, device: str) -> float:
    """Peak resident memory a population adds, per member (a forked process)."""
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    child = context.Process(target=_peak_child, args=(queue, kind, seeds, copies, steps, device))
    child.start()
    peak = queue.get(timeout=600)
    child.join()
    return max(peak, 0) / len(seeds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--seeds', type=int, default=32, help='PPO members (N)')
    parser.add_argument('--dqn-seeds', type=int, default=16, help='DQN members')
    parser.add_argument('--singles', type=int, default=4,
                        help='single runs timed (their median is multiplied by N)')
    parser.add_argument('--rollouts', type=int, default=30,
                        help='PPO updates per seed (each ROLLOUT x k steps)')
    parser.add_argument('--dqn-steps', type=int, default=2_000, help='DQN steps per seed')
    parser.add_argument('--repeats', type=int, default=3, help='population runs timed')
    parser.add_argument('--sweep-steps', type=int, default=5_000,
                        help='steps per seed in the sweep rows')
    parser.add_argument('--sweep-repeats', type=int, default=1,
                        help='times each sweep is timed (the median is printed)')
    parser.add_argument('--sweep-only', action='store_true',
                        help='time the sweeps alone, not the populations')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'auto'")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.dqn_seeds, args.singles, args.rollouts, args.repeats = 4, 4, 2, 2, 1
        args.dqn_steps, args.sweep_steps = 100, 256
    torch.set_num_threads(1)
    device = str(PPO(GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec(),
                     device=args.device).device)
    print(f'device {device}; torch threads 1; medians of CPU time (wall beside it)')
    cases = [('ppo', args.seeds, copies, args.rollouts * ROLLOUT * copies, args.rollouts)
             for copies in (1, 16)] + [('dqn', args.dqn_seeds, 1, args.dqn_steps, None)]
    rows = []
    for kind, members, copies, steps, updates in ([] if args.sweep_only else cases):
        seeds = list(range(members))
        singles = single_runs(kind, seeds[:args.singles], copies, steps, device)
        single_cpu = statistics.median(cpu for _, cpu in singles) * members
        single_wall = statistics.median(wall for wall, _ in singles) * members
        runs = [population_run(kind, seeds, copies, steps, device)
                for _ in range(args.repeats)]
        population_cpu = statistics.median(cpu for _, cpu in runs)
        population_wall = statistics.median(wall for wall, _ in runs)
        memory = peak_bytes_per_member(kind, seeds, copies, steps, device)
        task = KINDS[kind][2]
        label = f'{kind.upper()} {task}, {members} seeds, {copies} copies per seed'
        total = steps * members
        print(f'{label}, {steps:,} steps each: {members} single runs in sequence (from '
              f'{args.singles} timed) CPU s {single_cpu:.2f} (wall {single_wall:.2f}); '
              f'population CPU s {population_cpu:.2f} (wall {population_wall:.2f}); '
              f'speedup {single_cpu / population_cpu:.1f}x; '
              f'{total / population_cpu:,.0f} steps/s, '
              f'{members / population_cpu:,.2f} members/s (whole runs); peak memory '
              f'{memory / 1e6:.2f} MB per member')
        rows.append({'benchmark': label, 'device': device, 'members': members,
                     'steps_each': steps, 'singles_timed': args.singles,
                     'single_cpu_s': single_cpu, 'population_cpu_s': population_cpu,
                     'single_wall_s': single_wall, 'population_wall_s': population_wall,
                     'speedup': single_cpu / population_cpu,
                     'steps_per_s': total / population_cpu,
                     'members_per_s': members / population_cpu,
                     'peak_mb_per_member': memory / 1e6})
    # Each repeat times the three sweeps one after another, so that a noisy
    # stretch of the machine falls on all of them alike.
    half = -(-args.seeds // 2)
    timings = [(sweep_seconds(args.seeds, args.sweep_steps, vectorize=False),
                sweep_seconds(args.seeds, args.sweep_steps, vectorize=True),
                sweep_seconds(args.seeds, args.sweep_steps, vectorize=True,
                              population_size=half))
               for _ in range(args.sweep_repeats)]
    separate, together, halves = (statistics.median(column) for column in zip(*timings))
    label = f'gridlab sweep, PPO CartPole-v1, {args.seeds} seeds'
    print(f'{label}, {args.sweep_steps:,} steps each, medians of {args.sweep_repeats} '
          f'(wall s): --workers 2 {separate:.1f}; --vectorize-seeds {together:.1f} '
          f'({separate / together:.2f}x sooner); --vectorize-seeds --population-size '
          f'{half} --workers 2 {halves:.1f} ({separate / halves:.2f}x sooner)')
    rows.append({'benchmark': label, 'device': 'cpu', 'members': args.seeds,
                 'steps_each': args.sweep_steps, 'workers_2_wall_s': separate,
                 'vectorized_wall_s': together, 'speedup': separate / together,
                 'halves_wall_s': halves, 'halves_speedup': separate / halves})
    return rows


if __name__ == '__main__':
    main()
