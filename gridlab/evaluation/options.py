"""Judging an option agent: is its greedy option policy optimal from the start?

The option models and their exact values live in `gridlab.planning.option_models`;
training until that value is V*(start) is here, one layer up, because it runs
the agent in a loop (`train_until.train_until` drives it).
"""

import numpy as np

from gridlab.core import agent_discount
from gridlab.evaluation.train_until import TrainingResult, train_until
from gridlab.loops.environment_loop import EnvironmentLoop
from gridlab.loops.loggers import NoOpLogger
from gridlab.planning import dynamic_programming
from gridlab.planning.option_models import OptionModel, option_policy_values


def train_until_optimal_from_start(environment, agent, option_model: OptionModel,
                                   max_steps: int, check_every: int = 250
                                   ) -> TrainingResult:
    """Trains an option agent until its greedy option policy is optimal from the start.

    The agent needs `greedy_option_policy()` ([S] option indices, -1 where
    it never acts), and `option_model` must hold the same options, built at
    the agent's effective discount. The greedy policy is judged exactly
    (`option_policy_values`) against V* from value iteration on the
    primitive model; time spent judging is not counted. Returns a
    `TrainingResult` (optimal_fraction 1 or 0).
    """
    model = environment.transition_model().with_discount(agent_discount(agent))
    start = int(np.ravel_multi_index(environment.start_state, environment.shape))
    best = float(dynamic_programming.value_iteration(model)[start].max())
    loop = EnvironmentLoop(environment, agent, logger=NoOpLogger(), progress=False)

    def train(budget: int) -> int:
        return loop.run_episode(max_steps=budget)['episode_length']

    def judge() -> float:
        value = option_policy_values(option_model, agent.greedy_option_policy())[start]
        return float(value >= best - 1e-4 * max(1., abs(best)))

    return train_until(train, judge, max_steps, check_every)
