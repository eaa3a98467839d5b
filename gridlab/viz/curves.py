"""Learning curves: episode returns, their moving average, and steps on a second axis.

`plot_learning_curve` returns the `matplotlib.figure.Figure` it drew on
(made with pyplot, as in `grid_plots`); call it again on the same axes to
compare agents. A few far-out returns do not set the y-limits
(`figures.robust_limits`), and a legend entry says what was left out.
Periodic greedy evaluations, if given, are drawn over the training returns,
which an exploring agent earns while it explores.
"""

from typing import Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gridlab.viz.figures import as_array, clip_note, finite_range, robust_limits, with_names

__all__ = ['moving_average', 'plot_learning_curve']


def moving_average(x, window: int) -> np.ndarray:
    """Means of every `window` consecutive values of a 1-D sequence.

    Args:
        x: 1-D sequence of numbers.
        window: number of values per mean, between 1 and len(x).

    Returns:
        float64 array of length len(x) - window + 1; entry i is the mean of
        x[i:i + window].

    Raises:
        ValueError: if `x` is not 1-D or `window` is out of range.
    """
    x = as_array(x, 'x', 1, '(N,)').astype(np.float64)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise ValueError(f'window must be an int, got {window!r}')
    if not 1 <= window <= len(x):
        raise ValueError(
            f'window must be between 1 and len(x) = {len(x)}, got {window}')
    return np.convolve(x, np.full(window, 1. / window), mode='valid')


def _default_window(n: int) -> int:
    """About a twentieth of the run, between 1 and 100 episodes."""
    return int(np.clip(round(n / 20), 1, 100))


def _interpolate(x, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp, continued linearly past both ends (axes have margins)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.interp(x, xp, fp)
    low_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
    high_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    y = np.where(x < xp[0], fp[0] + (x - xp[0]) * low_slope, y)
    return np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * high_slope, y)


def _episodes_and_steps(lengths: np.ndarray):
    """(episodes, steps at their ends): the map between the two x-axes."""
    # Episode -1 "ends" at step 0, so even one episode gives two points.
    ends = np.r_[0., np.cumsum(lengths, dtype=np.float64)]
    episodes = np.arange(-1., len(lengths))
    # Episodes of no steps would make the map flat, with no inverse.
    ends += np.arange(len(ends)) * 1e-9
    return episodes, ends


def _steps_axis(ax: Axes, lengths: np.ndarray) -> None:
    """A second x-axis, on top, in environment steps at the end of an episode."""
    episodes, ends = _episodes_and_steps(lengths)
    top = ax.secondary_xaxis(
        'top', functions=(lambda x: _interpolate(x, episodes, ends),
                          lambda s: _interpolate(s, ends, episodes)))
    top.set_xlabel('Environment steps')
    top.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


def plot_learning_curve(returns: Union[Sequence[float], np.ndarray],
                        window: Optional[int] = None,
                        ax: Optional[Axes] = None, label: Optional[str] = None,
                        xlabel: str = 'Episode', ylabel: str = 'Return', *,
                        episode_lengths=None, agent: Optional[str] = None,
                        task: Optional[str] = None, seed: Optional[int] = None,
                        clip: bool = True, evaluation_steps=None,
                        evaluation_returns=None) -> Figure:
    """Plots episode returns faintly and their moving average boldly.

    Call it again with the same `ax` and a different `label` to compare
    agents: each call gets its own colour and a legend entry; the legend's
    title gives the moving-average window. The y-limits ignore a few far-out
    returns (see `robust_limits`; a first episode of -250 among returns near
    -20), and a note on the axes says how many were left out and how low or
    high they went. Episode ticks are whole numbers.

    Args:
        returns: 1-D sequence of episode returns (as from `run_loop`).
        window: episodes per moving-average point; defaults to about
            len(returns) / 20, clipped to [1, 100]. A window longer than the
            run is shortened to the run's length.
        ax: axes to draw into; defaults to a new figure.
        label: legend label for this curve.
        xlabel: x-axis label.
        ylabel: y-axis label.
        episode_lengths: optional steps of every episode; adds an axis on top
            in environment steps.
        agent, task, seed: optional; name the run in the title.
        clip: False keeps every return inside the y-limits.
        evaluation_steps, evaluation_returns: optional, together: the
            environment step of each periodic greedy evaluation and its mean
            return (a run's evaluation.csv), drawn as markers at the episode
            that step falls in; needs `episode_lengths`. The legend then says
            the training returns are exploratory.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `returns` is empty or not 1-D, `window` < 1,
            `episode_lengths` does not match `returns`, or the evaluations
            do not pair up or come without `episode_lengths`.
    """
    returns = as_array(returns, 'returns', 1, '(N,)').astype(np.float64)
    n = len(returns)
    if n == 0:
        raise ValueError('returns is empty: there is no episode to plot')
    if window is None:
        window = _default_window(n)
    elif isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise ValueError(f'window must be an int, got {window!r}')
    elif window < 1:
        raise ValueError(f'window must be at least 1, got {window}')
    if episode_lengths is not None:
        episode_lengths = as_array(episode_lengths, 'episode_lengths', 1,
                                    f'({n},)')
        if len(episode_lengths) != n or np.any(episode_lengths < 0):
            raise ValueError(
                f'episode_lengths must hold {n} non-negative step counts (one '
                f'per return), got {len(episode_lengths)} values with minimum '
                f'{episode_lengths.min() if len(episode_lengths) else None}')
    evaluations = _check_evaluations(evaluation_steps, evaluation_returns,
                                     episode_lengths)
    window = int(min(window, n))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.4 if episode_lengths is not None
                                      else 4))

    # The mean of episodes [i, i + window) is drawn at its last episode.
    episodes = np.arange(n)
    smooth_label, raw_label = label, None
    if label is None and window > 1:
        smooth_label, raw_label = f'mean of {window} episodes', 'each episode'
    if evaluations is not None and label is None:
        # Beside greedy evaluations, training returns need saying what they
        # are: an exploring agent's (epsilon = 0.6 looks unstable).
        smooth_label = ('training episodes (exploratory)' if window == 1 else
                        f'training (exploratory), mean of {window} episodes')
        raw_label = 'each training episode' if window > 1 else None
    smooth, = ax.plot(episodes[window - 1:], moving_average(returns, window),
                      linewidth=2, label=smooth_label)
    ax.plot(episodes, returns, color=smooth.get_color(), alpha=0.25,
            linewidth=1, zorder=smooth.get_zorder() - 0.5, label=raw_label)
    shown = moving_average(returns, window)
    if evaluations is not None:
        where = _evaluation_episodes(evaluations[0], episode_lengths)
        ax.plot(where, evaluations[1], color=smooth.get_color(), linestyle='--',
                linewidth=1.2, marker='o', markersize=5, markerfacecolor='white',
                zorder=smooth.get_zorder() + 1, clip_on=False,  # The last sits on the edge.
                label='greedy evaluation' if label is None else
                f'{label}: greedy evaluation')
        shown = np.r_[shown, evaluations[1]]  # Never clipped: few, and the point.
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    title = with_names(None, agent, task, seed)
    if title:
        ax.set_title(title, pad=24 if episode_lengths is not None else 6)
    if episode_lengths is not None:
        if n > 1:  # No margins: they would show steps before the first.
            low, high = 0, n - 1
            if evaluations is not None and len(evaluations[0]):
                low = min(low, where.min())
                high = max(high, where.max())
            ax.set_xlim(low, high)
        _steps_axis(ax, episode_lengths)
    note = _limit_returns(ax, returns, shown, clip)
    _legend(ax, window if label is not None and window > 1 else None, note)
    return ax.figure


def _check_evaluations(steps, mean_returns, episode_lengths):
    """(steps, returns) as float arrays, or None if neither is given."""
    if steps is None and mean_returns is None:
        return None
    if steps is None or mean_returns is None:
        given = 'evaluation_steps' if mean_returns is None else 'evaluation_returns'
        raise ValueError('evaluation_steps and evaluation_returns go together: '
                         f'got only {given}')
    steps = as_array(steps, 'evaluation_steps', 1, '(E,)').astype(np.float64)
    mean_returns = as_array(mean_returns, 'evaluation_returns', 1,
                            f'({len(steps)},)').astype(np.float64)
    if len(mean_returns) != len(steps):
        raise ValueError(f'evaluation_returns must hold one mean return per '
                         f'evaluation step ({len(steps)}), got {len(mean_returns)}')
    if episode_lengths is None:
        raise ValueError('evaluations need episode_lengths, to place their steps '
                         'on the episode axis')
    return steps, mean_returns


def _evaluation_episodes(steps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Where on the episode axis each evaluation's step falls (fractional)."""
    episodes, ends = _episodes_and_steps(lengths)
    return _interpolate(steps, ends, episodes)


def _legend(ax: Axes, window: Optional[int], note: Optional[str]) -> None:
    """The curves' legend, with the window as its title and the clip note last.

    The note is a legend entry (with no line) rather than loose text, so
    matplotlib places it with the legend, clear of the curves.
    """
    handles, labels = [], []
    for line in ax.get_lines():
        label = line.get_label()
        if label and not label.startswith('_'):
            handles.append(line)
            labels.append(label)
    if note:
        handles.append(Line2D([], [], linestyle='none'))
        labels.append(note)
    if not handles:
        return
    legend = ax.legend(handles, labels, fontsize=8, title_fontsize=8,
                       title=None if window is None else
                       f'moving average over {window} episodes')
    if note:  # The note is not a curve: grey.
        legend.get_texts()[-1].set_color('0.3')


def _limit_returns(ax: Axes, returns: np.ndarray, smooth: np.ndarray,
                   clip: bool) -> Optional[str]:
    """y-limits that cover every moving average on `ax` and every return but
    the far-out ones; returns a note of what was left out, or None."""
    # Every call on the same axes adds its curves, so a comparison's limits
    # cover all of them.
    seen = getattr(ax, '_gridlab_returns', [])
    seen.append((returns, smooth))
    ax._gridlab_returns = seen  # pylint: disable=protected-access
    every = np.concatenate([raw for raw, _ in seen])
    smooth_low, smooth_high = finite_range(
        np.concatenate([mean for _, mean in seen]))
    if clip:
        low, high, _, _ = robust_limits(every)
        low, high = min(low, smooth_low), max(high, smooth_high)
        below, above = int((every < low).sum()), int((every > high).sum())
    else:
        (low, high), below, above = finite_range(every), 0, 0
    margin = 0.05 * (high - low) or 0.5
    ax.set_ylim(low - margin, high + margin)
    note = clip_note('episodes', every, low, high, below, above)
    return None if note is None else note + ' not shown'
