"""Judging an agent against planning's answer.

    judging.py   Q on every cell, the optimal fraction, the greedy return from the start
"""

from gridlab.evaluation.judging import (TrainingResult, actions_optimal_fraction,
                                        greedy_actions, greedy_is_optimal,
                                        greedy_return_from_start, optimal_fraction,
                                        optimal_q_values, q_table, train_until_optimal)

__all__ = ['TrainingResult', 'actions_optimal_fraction', 'greedy_actions',
           'greedy_is_optimal', 'greedy_return_from_start', 'optimal_fraction',
           'optimal_q_values', 'q_table', 'train_until_optimal']
