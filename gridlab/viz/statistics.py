"""Pictures of the aggregate statistics: intervals, profiles, learning curves with bands.

The estimates come from `gridlab.analysis.stats` (numpy only); these draw
them. Figures are made with `matplotlib.figure.Figure`, not pyplot, so
nothing global changes.
"""

from typing import Any, Dict, Mapping, Optional, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from gridlab.analysis.stats import (DEFAULT_CURVE_REPS, Interval, Profile,
                                    learning_curve_intervals)

_METRIC_LABELS = {'mean': 'Mean', 'median': 'Median', 'iqm': 'IQM',
                  'optimality_gap': 'Optimality gap'}


def _colours(agents: Sequence[str]) -> Dict[str, Any]:
    """One colour per agent, in order, the same in every plot."""
    cycle = matplotlib.colormaps['tab10'].colors
    return {agent: cycle[i % len(cycle)] for i, agent in enumerate(agents)}


def plot_learning_curves(curves: Mapping[str, Any], steps: Any,
                         metric: str = 'iqm', *,
                         reps: int = DEFAULT_CURVE_REPS,
                         confidence: float = 0.95, seed: int = 0,
                         xlabel: str = 'Environment steps',
                         ylabel: str = 'Score',
                         title: Optional[str] = None):
    """Per agent, `metric` over runs at each step with a confidence band.

    Args:
        curves: agent -> array [num_runs, num_points] on the grid `steps`.
        steps: the common step grid.
        metric, reps, confidence, seed: as in `learning_curve_intervals`.

    Returns:
        The matplotlib Figure (made without pyplot, so nothing global).
    """
    bands = learning_curve_intervals(curves, steps, metric, reps=reps,
                                     confidence=confidence, seed=seed)
    colours = _colours(list(bands))
    figure = Figure(figsize=(6, 4), layout='constrained')
    ax = figure.subplots()
    for agent, band in bands.items():
        runs = len(curves[agent])
        ax.plot(band.steps, band.estimate, color=colours[agent],
                label=f'{agent} ({runs} runs)')
        ax.fill_between(band.steps, band.low, band.high,
                        color=colours[agent], alpha=0.25, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f'{_METRIC_LABELS[metric]} {ylabel.lower()}'
                  if ylabel else _METRIC_LABELS[metric])
    ax.set_title(title or f'{_METRIC_LABELS[metric]} over runs, '
                 f'{confidence:.0%} bootstrap band')
    ax.legend()
    ax.grid(alpha=0.3)
    return figure


def plot_interval_estimates(intervals: Mapping[str, Mapping[str, Interval]],
                            *, confidence: Optional[float] = 0.95,
                            xlabel: str = 'Score',
                            title: Optional[str] = None):
    """One panel per metric: each agent's estimate and interval as a bar.

    Args:
        intervals: agent -> metric -> Interval, e.g. from
            `interval_estimates`; every agent must have the same metrics.
        confidence: the intervals' coverage, shown in the title.

    Returns:
        The matplotlib Figure.
    """
    if not isinstance(intervals, Mapping) or not intervals:
        raise ValueError('intervals must be a non-empty dict agent -> metric '
                         f'-> Interval, got {intervals!r:.80}')
    agents = list(intervals)
    metrics = list(intervals[agents[0]])
    for agent in agents:
        if list(intervals[agent]) != metrics:
            raise ValueError(f'intervals[{agent!r}] has metrics '
                             f'{list(intervals[agent])}, expected {metrics} '
                             f'like {agents[0]!r}')
    if not metrics:
        raise ValueError('intervals hold no metrics')
    colours = _colours(agents)
    figure = Figure(figsize=(2.6 * len(metrics) + 1.2,
                             0.45 * len(agents) + 1.2),
                    layout='constrained')
    axes = np.atleast_1d(figure.subplots(1, len(metrics), sharey=True))
    y = np.arange(len(agents))
    for ax, metric in zip(axes, metrics):
        for i, agent in enumerate(agents):
            interval = intervals[agent][metric]
            ax.barh(i, interval.high - interval.low, left=interval.low,
                    height=0.6, color=colours[agent], alpha=0.75)
            ax.vlines(interval.estimate, i - 0.3, i + 0.3, color='black',
                      linewidth=2)
        ax.set_title(_METRIC_LABELS.get(metric, metric))
        ax.set_xlabel(xlabel)
        ax.grid(axis='x', alpha=0.3)
    axes[0].set_yticks(y, agents)
    axes[0].invert_yaxis()  # The first agent on top.
    figure.suptitle(title or ('Estimates (black) with '
                              + (f'{confidence:.0%} ' if confidence else '')
                              + 'stratified bootstrap intervals'))
    return figure


def plot_performance_profiles(profiles: Mapping[str, Profile], *,
                              xlabel: str = 'Score threshold τ',
                              ylabel: str = 'Fraction of runs with score > τ',
                              title: Optional[str] = None):
    """Per agent, the fraction of runs above each tau, with its band.

    Args:
        profiles: agent -> Profile, e.g. from `performance_profiles`.

    Returns:
        The matplotlib Figure.
    """
    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError('profiles must be a non-empty dict agent -> Profile, '
                         f'got {profiles!r:.80}')
    colours = _colours(list(profiles))
    figure = Figure(figsize=(6, 4), layout='constrained')
    ax = figure.subplots()
    for agent, profile in profiles.items():
        ax.plot(profile.taus, profile.fraction, color=colours[agent],
                label=agent)
        ax.fill_between(profile.taus, profile.low, profile.high,
                        color=colours[agent], alpha=0.25, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or 'Performance profiles')
    ax.legend()
    ax.grid(alpha=0.3)
    return figure
