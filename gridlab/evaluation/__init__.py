"""Judging agents against planning's answer, and training until they pass.

    judging.py      Q on every cell, which actions are optimal, the optimal fraction,
                    the greedy return from the start; train_until_optimal
    train_until.py  the one train-until driver (train, judge every check_every steps)
    greedy.py       greedy evaluation episodes of a run, summarised
    options.py      an option agent's greedy option policy, judged from the start
    teams.py        independent learners judged as a team on the joint MDP
"""

from gridlab.evaluation.judging import (actions_optimal_fraction, greedy_actions,
                                        greedy_is_optimal, greedy_return_from_start,
                                        optimal_fraction, optimal_q_values, q_table,
                                        train_until_optimal)
from gridlab.evaluation.train_until import TrainingResult, train_until

__all__ = ['TrainingResult', 'actions_optimal_fraction', 'greedy_actions',
           'greedy_is_optimal', 'greedy_return_from_start', 'optimal_fraction',
           'optimal_q_values', 'q_table', 'train_until', 'train_until_optimal']
