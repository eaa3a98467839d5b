"""Pictures of the aggregate statistics: intervals, profiles, learning curves with bands.

The estimates come from `gridlab.analysis.stats` (numpy only); these draw
them. Figures are made with `matplotlib.figure.Figure`, not pyplot, so
nothing global changes. They are meant to be read on a page as drawn:
legends sit below the axes (a sweep's agent names are long), names too
long for a label wrap, agents with equal profiles each stay visible, and a
learning curve's flat converged end is cut from the view, saying so.
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gridlab.analysis.stats import (DEFAULT_CURVE_REPS, Interval, Profile,
                                    learning_curve_intervals)
from gridlab.viz.figures import settled_from

_METRIC_LABELS = {'mean': 'Mean', 'median': 'Median', 'iqm': 'IQM',
                  'optimality_gap': 'Optimality gap'}


def _colours(agents: Sequence[str]) -> Dict[str, Any]:
    """One colour per agent, in order, the same in every plot."""
    cycle = matplotlib.colormaps['tab10'].colors
    return {agent: cycle[i % len(cycle)] for i, agent in enumerate(agents)}


# Inches per character of a legend or tick label, and per legend row, at
# the sizes used here (DejaVu Sans): enough to size a figure to its labels.
_CHAR_INCHES = {'small': 0.062, 'medium': 0.075}
_ROW_INCHES = 0.2


def _legend_below(figure, ax, width: float, height: float, handles=None) -> None:
    """The legend under the axes (never over the data), in two columns when
    they fit; the figure grows to hold it. `handles` stand in for the axes'
    own lines (which then give only the labels)."""
    lines, labels = ax.get_legend_handles_labels()
    handles = lines if handles is None else handles
    if not handles:
        return
    column = max(len(label) for label in labels) * _CHAR_INCHES['small'] + 0.6
    columns = 2 if len(labels) > 3 and 2 * column <= max(width, 9.) else 1
    rows = -(-len(labels) // columns)
    figure.set_size_inches(max(width, columns * column + 0.3),
                           height + rows * _ROW_INCHES + 0.2)
    figure.legend(handles, labels, loc='outside lower center', ncols=columns,
                  fontsize='small', frameon=False)


def _wrapped(name: str, width: int = 28) -> str:
    """`name` on lines of about `width` characters, broken after a comma or
    an opening bracket (hyperparameters), never inside a word."""
    lines, line = [], ''
    for piece in name.replace(',', ',\0').replace('[', '[\0').split('\0'):
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ''
        line += piece
    return '\n'.join(lines + [line])


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
    figure = Figure(figsize=(6.4, 4), layout='constrained')
    ax = figure.subplots()
    for agent, band in bands.items():
        runs = len(curves[agent])
        ax.plot(band.steps, band.estimate, color=colours[agent],
                label=f'{agent} ({runs} runs)')
        ax.fill_between(band.steps, band.low, band.high,
                        color=colours[agent], alpha=0.25, linewidth=0)
    ax.set_xlabel(xlabel + _cut_at_convergence(ax, bands))
    ax.set_ylabel(f'{_METRIC_LABELS[metric]} {ylabel.lower()}'
                  if ylabel else _METRIC_LABELS[metric])
    ax.set_title(title or f'{_METRIC_LABELS[metric]} over runs, '
                 f'{confidence:.0%} bootstrap band')
    ax.grid(alpha=0.3)
    _legend_below(figure, ax, 6.4, 4)
    return figure


_FLAT = 0.02  # Within 2% of the curves' range of its last value, a curve is flat.


def _cut_at_convergence(ax, bands) -> str:
    """Ends the view a little after every curve has settled, when that cuts
    off at least a quarter of the steps; returns the note for the x label.

    Every run of a sweep trains to the same budget, and after convergence
    the curves are one flat band that takes most of the width while the
    learning, which tells the agents apart, is squeezed to the left. The
    curves are still drawn whole; only the view ends.
    """
    estimates = [band.estimate for band in bands.values()]
    steps = next(iter(bands.values())).steps
    finite = np.concatenate(estimates)
    finite = finite[np.isfinite(finite)]
    spread = np.ptp(finite) if finite.size else 0.
    if len(steps) < 4 or spread <= 0:
        return ''
    tolerance = _FLAT * spread
    settled = settled_from(estimates, tolerance)
    if settled == 0:  # Flat from the start (at different heights): nothing to cut.
        return ''
    # Some of the flat part, so that it reads as flat, and a few points at least.
    end = max(1.5 * steps[settled], steps[3])
    if end > 0.75 * steps[-1]:
        return ''
    ax.set_xlim(right=end)
    # Short lines: the label fits the figure at a larger style's font too.
    return (f'\n(steps {end:,.0f} to {steps[-1]:,.0f} not shown: every curve\n'
            f'stays within {tolerance:.2g} of its last value there)')


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
    # Sized to its labels: the panels keep their width beside long names.
    names = [_wrapped(agent) for agent in agents]
    longest = max(len(line) for name in names for line in name.split('\n'))
    lines = sum(name.count('\n') + 1 for name in names)
    figure = Figure(figsize=(2.6 * len(metrics) + 0.5 +
                             longest * _CHAR_INCHES['medium'],
                             0.3 * len(agents) + 0.17 * lines + 1.3),
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
        # Few ticks: five labels of '0.975' fill a panel edge to edge.
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.grid(axis='x', alpha=0.3)
    # One label for every panel: each its own ran into its neighbours'.
    figure.supxlabel(xlabel, fontsize='medium')
    axes[0].set_yticks(y, names)
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
    figure = Figure(figsize=(6.4, 4), layout='constrained')
    ax = figure.subplots()
    groups = _equal_profiles(profiles)
    for group in groups:
        for turn, agent in enumerate(group):
            profile = profiles[agent]
            label = agent if turn == 0 else f'{agent} (same profile as {group[0]})'
            # Equal profiles are one line: the first solid, the others dashed
            # over it in turn, so each colour shows along it.
            style = '-' if turn == 0 else (
                (turn - 1) * _DASH, (_DASH, (len(group) - 1) * _DASH))
            single = np.ptp(profile.taus) == 0  # One threshold: a point, not a line.
            ax.plot(profile.taus, profile.fraction, color=colours[agent], label=label,
                    linestyle=style, drawstyle='steps-post',
                    marker='o' if single else None)
            ax.fill_between(profile.taus, profile.low, profile.high, step='post',
                            color=colours[agent], alpha=0.25 / len(group),
                            linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or 'Performance profiles')
    ax.grid(alpha=0.3)
    # Solid samples: a dashed line's own, offset, can show no dash at all.
    _legend_below(figure, ax, 6.4, 4, handles=[
        Line2D([], [], color=colours[agent]) for group in groups for agent in group])
    return figure


_DASH = 4.  # In line widths.


def _equal_profiles(profiles: Mapping[str, Profile]) -> List[List[str]]:
    """The agents in groups of equal profiles, each group in drawing order."""
    groups: List[List[str]] = []
    for agent, profile in profiles.items():
        for group in groups:
            first = profiles[group[0]]
            if (first.taus.shape == profile.taus.shape and
                    np.array_equal(first.taus, profile.taus) and
                    np.array_equal(first.fraction, profile.fraction, equal_nan=True)):
                group.append(agent)
                break
        else:
            groups.append([agent])
    return groups
