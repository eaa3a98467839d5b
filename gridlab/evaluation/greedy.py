"""How well an agent does when it stops exploring: greedy episodes, summarised.

This is the figure every run reports (summary.json's "evaluation"), what
`gridlab evaluate` reproduces, and what the periodic evaluation writes to
evaluation.csv.
"""

import math
from typing import Any, Dict, List, Optional

from gridlab.envs.gridworld import GridWorld
from gridlab.loops.environment_loop import evaluate
from gridlab.loops.loggers import InMemoryLogger

# A greedy policy can walk in circles forever; a run's evaluation episode
# ends after this many steps (the GridWorld tasks truncate at 200 anyway).
GREEDY_EPISODE_STEP_CAP = 500


def is_gridworld(environment) -> bool:
    """Whether `environment` is a GridWorld, wrapped or not."""
    while not isinstance(environment, GridWorld):
        environment = getattr(environment, 'environment', None)
        if environment is None:
            return False
    return True


def success_threshold(environment) -> Optional[float]:
    """The return that counts as solving a Gymnasium task (its reward_threshold)."""
    gymnasium_env = getattr(environment, 'gymnasium_environment', None)
    spec = getattr(gymnasium_env, 'spec', None)
    return getattr(spec, 'reward_threshold', None)


def _greedy_episodes(environment, agent, episodes: int) -> List[dict]:
    log = InMemoryLogger()
    evaluate(environment, agent, episodes, logger=log, render=False,
             max_steps_per_episode=GREEDY_EPISODE_STEP_CAP)
    return log.data


def evaluation_statistics(environment, agent, episodes: int) -> Dict[str, Any]:
    """Greedy episodes: mean, std, min, max of the returns and the success rate.

    Success is reaching the goal on a GridWorld (the episode terminated
    there), and a return at the Gymnasium task's `reward_threshold` (CartPole
    475, FrozenLake 0.7) on a Gymnasium task that has one.
    """
    rows = _greedy_episodes(environment, agent, episodes)
    returns = [row['episode_return'] for row in rows]
    mean = sum(returns) / len(returns)
    statistics = {'episodes': len(returns), 'mean_return': mean,
                  'std_return': math.sqrt(sum((r - mean) ** 2 for r in returns) /
                                          len(returns)),
                  'min_return': min(returns), 'max_return': max(returns)}
    threshold = success_threshold(environment)
    if threshold is not None:
        statistics['success_rate'] = sum(r >= threshold for r in returns) / len(returns)
    elif is_gridworld(environment):  # The goal is what ends an episode there.
        statistics['success_rate'] = sum(row['terminated'] for row in rows) / len(returns)
    return statistics
