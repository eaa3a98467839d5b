"""The figures' old address, kept so that code written against it keeps running.

The figures now live in modules with one job each: `grid_plots` (heatmaps,
grids, policies), `curves` (learning curves) and `figures` (what they share);
which actions are optimal is judging's rule (`gridlab.evaluation.judging`).
New code imports from those (or uses the names on `gridlab` itself).
"""

from gridlab.envs.actions import ACTION_NAMES
from gridlab.evaluation.judging import optimal_actions
from gridlab.viz.curves import moving_average, plot_learning_curve
from gridlab.viz.figures import robust_limits
from gridlab.viz.grid_plots import (greedy_policy, plot_action_values, plot_greedy_policy,
                                    plot_grid, plot_policy, plot_state_value, plot_values)

__all__ = [
    'ACTION_NAMES',
    'greedy_policy',
    'moving_average',
    'optimal_actions',
    'plot_action_values',
    'plot_greedy_policy',
    'plot_grid',
    'plot_learning_curve',
    'plot_policy',
    'plot_state_value',
    'plot_values',
    'robust_limits',
]
