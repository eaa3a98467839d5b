"""Independent Q-learners against joint value iteration on the cooperative tasks.

    python benchmarks/multiagent.py            # full run, several minutes
    python benchmarks/multiagent.py --quick    # smoke run (used by the tests)

Two `QLearning` actors, one per agent, each observing the joint state, learn
together on `t_junction` and `passing_bay` (shared team reward). Every tenth
of the budget the greedy joint policy is evaluated exactly on the joint model
and compared with the optimum from value iteration on that model. "solved"
counts the seeds whose greedy joint policy is optimal at the end; "steps" is
the median step count from which it stayed optimal to the end (the whole
budget for a seed that ended suboptimal). Two settings: "decaying" (step size
0.2, epsilon 0.3 decaying to 0 over three quarters of the budget) and
"constant" (the agents' defaults, step size 0.5 and epsilon 0.1); both start
optimistic (Q0 = 20, above the best team return). Steps/s is training
throughput of the pair (both actors plus the environment), on a shared,
noisy machine.

Measured on 2026-11-21 (2 shared cores, heavily loaded), 10 seeds:
  t_junction   (optimum 15.390)  decaying 9/10, constant 4/10 at 8,000 steps
  passing_bay  (optimum 12.466)  decaying 9/10, constant 3/10 at 40,000 steps
The misses arrive one step later in total than the optimum (14.661,
11.875: an agent waits longer than it needs to), or two or three steps
(11.344, 13.195); none deadlocks at the end.
"""

import argparse
import statistics

from agents import QLearning
from gridlab.evaluation import teams
from gridlab.envs.multiagent import build_multiagent_task

# name: settings, given the budget.
SETTINGS = {
    'decaying': lambda budget: dict(step_size=0.2, epsilon=0.3, final_epsilon=0.,
                                    decay_steps=int(0.75 * budget), initial_value=20.),
    'constant': lambda budget: dict(initial_value=20.),
}
TASKS = {'t_junction': 8_000, 'passing_bay': 40_000}


def run(task, settings, budget, seed):
    environment = build_multiagent_task(task, max_episode_length=100)
    actors = {name: QLearning(environment.agent_spec(name), seed=10 * seed + i, **settings)
              for i, name in enumerate(environment.agent_names)}
    result = teams.train_independent(environment, actors, budget,
                                     check_every=max(1, budget // 10))
    optimal = result['optimal']
    at_optimum = [abs(value - optimal) < 1e-6 for _, value in result['checks']]
    since = budget
    for (steps, _), good in zip(reversed(result['checks']), reversed(at_optimum)):
        if not good:
            break
        since = steps
    return dict(solved=at_optimum[-1], since=min(since, budget), optimal=optimal,
                final=result['checks'][-1][1], rate=budget / result['seconds'])


def main(argv=None):
    parser = argparse.ArgumentParser(description='independent learners vs joint planning')
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--seeds', type=int, default=10)
    args = parser.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    print(f'independent Q-learners, {seeds} seed(s); greedy joint policy judged exactly\n')
    print(f'{"task / setting":<24} {"optimum":>8} {"solved":>7} {"steps":>8} {"budget":>8} '
          f'{"steps/s":>8}  final team return per seed')
    rows = []
    for task, budget in TASKS.items():
        if args.quick:
            budget = 500
        for setting, make_settings in SETTINGS.items():
            results = [run(task, make_settings(budget), budget, seed) for seed in range(seeds)]
            label = f'{task} / {setting}'
            row = dict(label=label, optimum=results[0]['optimal'],
                       solved=sum(r['solved'] for r in results), seeds=seeds, budget=budget,
                       steps=statistics.median(r['since'] for r in results),
                       steps_per_second=statistics.median(r['rate'] for r in results))
            finals = ' '.join(f'{r["final"]:.3f}' for r in results)
            print(f'{label:<24} {row["optimum"]:>8.3f} {row["solved"]:>5}/{seeds} '
                  f'{row["steps"]:>8,.0f} {budget:>8,} {row["steps_per_second"]:>8,.0f}  '
                  f'{finals}', flush=True)
            rows.append(row)
    return rows


if __name__ == '__main__':
    main()
