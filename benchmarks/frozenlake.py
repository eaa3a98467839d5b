"""Random policy search on FrozenLake-v1 4x4 (slippery), judged exactly on its model.

    python benchmarks/frozenlake.py            # full run, several minutes
    python benchmarks/frozenlake.py --quick    # smoke run (used by the tests)

The exact answer comes first: FrozenLake's dynamics table `P` as a
TabularModel, value iteration at discount 1 on its 0/1 reward, gives the
optimal probability of reaching the goal (without a time limit), and the
optimal policy's success within FrozenLake-v1's 100-step limit.

Then each agent gets the same budget of episodes, and the policy it ends
with (the best candidate for the searches, the greedy policy for Q-learning)
is evaluated exactly on the model, unlimited and within 100 steps:

    random search         uniformly random deterministic policies, each scored
                          on 100 episodes; the best score is kept
    parameterised search  candidates drawn from softmax(theta), theta moved
                          toward candidates that beat the running mean score
    Q-learning (peer)     tabular, step size 0.05, epsilon 1 -> 0.05 over
                          4 steps per episode of the budget, optimistic Q 1,
                          agent discount 0.99 (at discount 1 the optimistic
                          value of a move into the edge, which leaves the
                          agent in place, never falls, and the greedy policy
                          bumps forever: exact success 0 on all three seeds)

Also printed: the best score the search measured, which overstates its best
policy's true success (the maximum of many noisy estimates). Medians over
seeds; timings are noisy (the machine is shared).
"""

import argparse
import statistics
import time
from typing import Optional, Sequence

import numpy as np

import gridlab
from agents import ParameterisedPolicySearch, QLearning, RandomPolicySearch
from gridlab import planning
from gridlab.envs.adapters.gymnasium_models import time_limited_values

LIMIT = 100  # FrozenLake-v1's time limit.


def frozen_lake(seed: int):
    return gridlab.GymnasiumWrapper('FrozenLake-v1', seed=seed, discount=1.)


def exact_success(model, policy: np.ndarray):
    """(success without a time limit, success within LIMIT steps) from state 0."""
    unlimited = planning.policy_evaluation(model, policy)[0, policy[0]]
    return float(unlimited), float(time_limited_values(model, policy, LIMIT)[0])


def run(name: str, seed: int, episodes: int, per_candidate: int, model) -> dict:
    env = frozen_lake(seed)
    spec = gridlab.make_environment_spec(env)
    if name == 'random search':
        agent = RandomPolicySearch(spec, episodes_per_candidate=per_candidate, seed=seed)
    elif name == 'parameterised search':
        agent = ParameterisedPolicySearch(spec, episodes_per_candidate=per_candidate,
                                          seed=seed)
    else:
        agent = QLearning(spec, step_size=0.05, epsilon=1., final_epsilon=0.05,
                          decay_steps=episodes * 4, initial_value=1., discount=0.99,
                          seed=seed)
    start = time.perf_counter()
    returns = gridlab.run_loop(env, agent, num_episodes=episodes, progress=False,
                               logger=gridlab.NoOpLogger())
    seconds = time.perf_counter() - start
    if name == 'Q-learning (peer)':
        policy, score = agent.q_table.argmax(axis=1), float('nan')
    else:
        policy, score = agent.best_policy, agent.best_score
    unlimited, limited = exact_success(model, policy)
    return dict(unlimited=unlimited, limited=limited, score=score, seconds=seconds,
                episodes=len(returns))


def main(argv: Optional[Sequence[str]] = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    parser.add_argument('--seeds', type=int, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        seeds, candidates, per_candidate = args.seeds or 1, 10, 10
    else:
        seeds, candidates, per_candidate = args.seeds or 3, 300, 100
    episodes = candidates * per_candidate

    model = gridlab.tabular_model_from_gymnasium(frozen_lake(0))
    q_star = planning.value_iteration(model)
    optimal = q_star.argmax(axis=1)
    best_unlimited, best_limited = exact_success(model, optimal)
    print('FrozenLake-v1 4x4 slippery, exact on its model (value iteration, discount 1):')
    print(f'  optimal (exact): success probability {best_unlimited:.4f} without a time '
          f'limit, {best_limited:.4f} within the {LIMIT}-step limit')
    print(f'\n{episodes} episodes per run ({candidates} candidates x {per_candidate} '
          f'episodes for the searches), seeds 0..{seeds - 1}; medians over seeds')
    print(f'{"agent":>22} {"exact success":>13} {"within 100":>10} '
          f'{"of optimal":>10} {"measured best":>13} {"seconds":>8}')
    rows = [dict(agent='optimal (exact)', success=best_unlimited,
                 within_limit=best_limited)]
    for name in ('random search', 'parameterised search', 'Q-learning (peer)'):
        runs = [run(name, seed, episodes, per_candidate, model) for seed in range(seeds)]
        row = dict(agent=name, episodes=episodes, seeds=seeds)
        for key, label in (('unlimited', 'success'), ('limited', 'within_limit'),
                           ('seconds', 'seconds')):
            row[label] = statistics.median(r[key] for r in runs)
        row['of_optimal'] = row['success'] / best_unlimited
        measured = '-'
        if name != 'Q-learning (peer)':  # Q-learning measures no score.
            row['measured_best'] = statistics.median(r['score'] for r in runs)
            measured = f'{row["measured_best"]:.3f}'
        rows.append(row)
        print(f'{name:>22} {row["success"]:>13.4f} {row["within_limit"]:>10.4f} '
              f'{row["of_optimal"]:>10.1%} {measured:>13} {row["seconds"]:>8.1f}')
        for seed, r in enumerate(runs):
            print(f'{"":>22} seed {seed}: exact {r["unlimited"]:.4f}, within 100 '
                  f'{r["limited"]:.4f}, measured {r["score"]:.3f}, {r["seconds"]:.1f} s'
                  .replace('measured nan, ', ''))
    return rows


if __name__ == '__main__':
    main()
