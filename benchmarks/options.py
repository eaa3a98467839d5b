"""Options on four_rooms: SMDP planning sweeps, and learning with options.

    python benchmarks/options.py            # full run, several minutes
    python benchmarks/options.py --quick    # smoke run (used by the tests)

Planning: synchronous value iteration over primitive actions alone, and over
primitives plus the eight hallway options (option models computed exactly
from the GridWorld's model), counting sweeps until every state's value is
within 1e-6 of V* (Sutton, Precup and Singh, 1999, the four-rooms planning
figure). Goals: the task's own, in the corner of the far room (11, 11), and
the hallway (7, 9), as the paper's G1.

Learning: primitive Q-learning, SMDP Q-learning and intra-option Q-learning
(primitives plus hallway options) from the fixed start (1, 1); steps until
the greedy policy's exact value from the start is optimal, checked every 250
steps. Medians over seeds; a seed that does not solve counts with the whole
budget. Two settings: "paper" (Q0 = 0, step size 1 on this deterministic
grid, epsilon 0.1: exploration is random, as in the paper) and "optimistic"
(gridlab's tabular defaults: Q0 = 10, step size 0.5, epsilon 0.1). Seconds
are training time; the machine is shared, so they are noisy.

Measured on 2026-11-21 (2 shared cores, load 8-16; 5 seeds, budget 60,000):
sweeps to V*, primitives vs + options: corner 20 vs 8, hallway 14 vs 2.
Median steps to an optimal greedy policy, Q / SMDP Q / intra-option Q:
  paper settings, corner goal:       14,036 / 24,655 / 20,192
  paper settings, hallway goal:       7,053 /    263 /  1,046
  optimistic settings, corner goal:   7,653 / 15,170 /  8,026
  optimistic settings, hallway goal:  4,743 /  7,472 /  5,564
Options speed learning when the goal is a doorway the options end at, and
only from a non-optimistic start; with the goal in a room's corner they do
not (the last stretch needs primitives, and the options add values to learn).
"""

import argparse
import statistics

import numpy as np

import gridlab
from agents import QLearning
from agents.options import IntraOptionQLearning, SMDPQLearning
from gridlab.evaluation import options as option_judging
from gridlab.planning import option_models as options_lib

GOALS = {'corner (11, 11)': None, 'hallway (7, 9)': (7, 9)}
SETTINGS = {'paper': dict(initial_value=0., step_size=1., epsilon=0.1),
            'optimistic': dict(initial_value=10., step_size=0.5, epsilon=0.1)}


def make_environment(goal, seed=0):
    overrides = {} if goal is None else {'goal_state': goal}
    return gridlab.setup_environment(
        gridlab.build_gridworld_task('four_rooms', seed=seed, **overrides))


def planning_sweeps(goal):
    """Sweeps to V* (within 1e-6) with primitives, and with primitives + options."""
    environment, _ = make_environment(goal)
    model = environment.transition_model()
    decisions = environment.decision_cells().ravel()
    v_star = np.where(decisions, gridlab.value_iteration(model).max(axis=1), 0.)
    primitives = options_lib.primitive_options(environment.number_of_states)
    sweeps = {}
    for name, options in (('primitives', primitives),
                          ('options', primitives + options_lib.hallway_options(environment))):
        option_model = options_lib.option_models(model, options)
        _, sweeps[name] = options_lib.smdp_value_iteration(option_model, reference=v_star)
    return sweeps


def learn(agent_name, goal, settings, seed, budget):
    environment, spec = make_environment(goal, seed)
    if agent_name == 'Q-learning':
        agent = QLearning(spec, seed=seed, **settings)
        return gridlab.train_until_optimal(environment, agent, budget, from_start=True)
    options = (options_lib.primitive_options(environment.number_of_states) +
               options_lib.hallway_options(environment))
    option_model = options_lib.option_models(environment.transition_model(), options)
    agent_class = SMDPQLearning if agent_name == 'SMDP Q' else IntraOptionQLearning
    agent = agent_class(spec, options, seed=seed, **settings)
    return option_judging.train_until_optimal_from_start(environment, agent, option_model,
                                                         budget)


def main(argv=None):
    parser = argparse.ArgumentParser(description='options on four_rooms')
    parser.add_argument('--quick', action='store_true', help='tiny smoke run')
    parser.add_argument('--seeds', type=int, default=5)
    args = parser.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    budget = 500 if args.quick else 60_000
    rows = []

    print('SMDP value iteration on four_rooms: sweeps until within 1e-6 of V*\n')
    print(f'{"planning":<28} {"goal":<16} {"primitives":>10} {"+options":>9}')
    for goal_name, goal in GOALS.items():
        sweeps = planning_sweeps(goal)
        label = f'value iteration {goal_name}'
        print(f'{"value iteration":<28} {goal_name:<16} {sweeps["primitives"]:>10} '
              f'{sweeps["options"]:>9}', flush=True)
        rows.append(dict(label=label, sweeps_primitives=sweeps['primitives'],
                         sweeps_options=sweeps['options']))

    print(f'\nsteps to an optimal greedy policy from the start, medians over {seeds} '
          f'seed(s), budget {budget:,}\n')
    print(f'{"agent":<28} {"goal":<16} {"solved":>7} {"steps":>8} {"seconds":>8}  per seed')
    goals = {'hallway (7, 9)': (7, 9)} if args.quick else GOALS
    settings_used = {'paper': SETTINGS['paper']} if args.quick else SETTINGS
    for setting_name, settings in settings_used.items():
        for goal_name, goal in goals.items():
            for agent_name in ('Q-learning', 'SMDP Q', 'intra-option Q'):
                results = [learn(agent_name, goal, settings, seed, budget)
                           for seed in range(seeds)]
                label = f'{agent_name} ({setting_name})'
                row = dict(agent=label, goal=goal_name,
                           solved=sum(r.solved for r in results), seeds=seeds,
                           budget=budget,
                           steps=statistics.median(r.steps for r in results),
                           seconds=statistics.median(r.seconds for r in results))
                per_seed = ' '.join(f'{r.steps if r.solved else "-"}' for r in results)
                print(f'{label:<28} {goal_name:<16} {row["solved"]:>5}/{seeds} '
                      f'{row["steps"]:>8,.0f} {row["seconds"]:>8.2f}  {per_seed}', flush=True)
                rows.append(row)
    return rows


if __name__ == '__main__':
    main()
