"""Exact answers from a model: what the agents are judged against.

    dynamic_programming.py  value iteration, policy iteration, policy evaluation on a TabularModel
    option_models.py        options, their SMDP models and SMDP value iteration
    irl.py                  maximum-entropy inverse RL and behaviour cloning
    offline.py              off-policy evaluation by importance sampling
"""

from gridlab.planning.dynamic_programming import (policy_evaluation, policy_iteration,
                                                  value_iteration,
                                                  value_iteration_history)

__all__ = ['policy_evaluation', 'policy_iteration', 'value_iteration',
           'value_iteration_history']
