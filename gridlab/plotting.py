"""Plots of values, policies, grids and learning curves.

Every function works on plain arrays (it knows nothing about `GridWorld`, which
calls these with its own layout) and returns the `matplotlib.figure.Figure` it
drew on. Figures are made with pyplot, so tutorial code that calls
`plt.title(...)` or `plt.show()` right after a plot keeps working; nothing here
calls `plt.show()` or changes the backend, so the module is safe on a headless
machine.

Conventions shared with the seed tutorial: arrays are indexed `[y, x]`
(row, column), positions are `(y, x)` tuples, and actions are 0 up, 1 right,
2 down, 3 left.
"""

from typing import Optional, Sequence, Tuple, Union

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridlab.environments.actions import ACTION_NAMES, DELTAS

__all__ = [
    'ACTION_NAMES',
    'greedy_policy',
    'moving_average',
    'plot_action_values',
    'plot_greedy_policy',
    'plot_grid',
    'plot_learning_curve',
    'plot_policy',
    'plot_state_value',
    'plot_values',
]

# Where each action's heatmap goes in the 3x3 grid of `plot_action_values`:
# the compass direction it moves the agent, around v(s) in the centre (5).
_ACTION_TO_SUBPLOT = tuple(3 * (1 + dy) + (1 + dx) + 1 for dy, dx in DELTAS)
_CENTRE_SUBPLOT = 5

# (dx, dy) in data coordinates; y grows downwards in an image as in the grid.
_ACTION_TO_DXDY = tuple((float(dx), float(dy)) for dy, dx in DELTAS)

# Cells with no value (walls) in a heatmap: a grey that no colormap here uses.
_NAN_COLOUR = '#7f7f7f'

# Colours of plot_grid, close to the seed's 'Blues' look.
_FREE_COLOUR = (0.87, 0.92, 0.97)
_WALL_COLOUR = (0.12, 0.23, 0.42)
_HAZARD_COLOUR = (0.96, 0.55, 0.38)
_GRID_LINE_COLOUR = 'white'
_ARROW_COLOUR = (0.1, 0.1, 0.1)

Position = Tuple[int, int]


# ---------------------------------------------------------------------------
# Input checks.


def _as_array(x, name: str, ndim: int, expected: str) -> np.ndarray:
    """Returns `x` as an array, or raises ValueError if it has the wrong ndim."""
    array = np.asarray(x)
    if array.ndim != ndim:
        raise ValueError(
            f'{name} must have shape {expected}, got shape {array.shape}')
    return array


def _as_action_values(action_values, name: str = 'action_values',
                      num_actions: Optional[int] = None) -> np.ndarray:
    """Checks an (H, W, A) array of action values; returns it as float64."""
    expected = '(H, W, A)' if num_actions is None else f'(H, W, {num_actions})'
    q = _as_array(action_values, name, 3, expected)
    if num_actions is not None and q.shape[-1] != num_actions:
        raise ValueError(
            f'{name} must have shape {expected}, got shape {q.shape}')
    if q.shape[-1] == 0:
        raise ValueError(f'{name} must have at least one action, got shape '
                         f'{q.shape}')
    return q.astype(np.float64)


def _as_mask(x, name: str, shape: Optional[Tuple[int, int]] = None
             ) -> np.ndarray:
    """Checks a 2-D boolean mask, of `shape` if given."""
    expected = '(H, W)' if shape is None else str(tuple(shape))
    mask = _as_array(x, name, 2, expected)
    if shape is not None and mask.shape != tuple(shape):
        raise ValueError(
            f'{name} must have shape {expected} (the shape of walls), got '
            f'shape {mask.shape}')
    if mask.size == 0:
        raise ValueError(f'{name} must not be empty, got shape {mask.shape}')
    return mask.astype(bool)


def _check_position(position, name: str, shape: Tuple[int, int]) -> Position:
    """Checks that a (y, x) position lies inside a grid of `shape`."""
    try:
        y, x = (int(v) for v in position)
    except (TypeError, ValueError):
        raise ValueError(
            f'{name} must be a (y, x) pair of ints, got {position!r}') from None
    if not (0 <= y < shape[0] and 0 <= x < shape[1]):
        raise ValueError(
            f'{name} {(y, x)} is outside the grid of shape {tuple(shape)}')
    return y, x


def _finite_range(values: np.ndarray) -> Tuple[float, float]:
    """The (min, max) of the finite entries; (0, 1) if there are none."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0., 1.
    return float(finite.min()), float(finite.max())


# ---------------------------------------------------------------------------
# Value heatmaps.


def _epsilon_greedy_values(q: np.ndarray, epsilon: float) -> np.ndarray:
    """v(s) = (1 - eps) max_a q(s, a) + eps mean_a q(s, a), ignoring NaNs.

    Cells whose action values are all NaN (walls) stay NaN. NaN-reductions run
    only on the other cells, so numpy emits no "All-NaN slice" warnings.
    """
    all_nan = np.all(np.isnan(q), axis=-1)
    v = np.full(q.shape[:-1], np.nan)
    known = q[~all_nan]
    if known.size:
        v[~all_nan] = ((1 - epsilon) * np.nanmax(known, axis=-1) +
                       epsilon * np.nanmean(known, axis=-1))
    return v


def plot_values(values, colormap='pink', vmin: float = -1, vmax: float = 10,
                ax: Optional[Axes] = None) -> Figure:
    """Draws a 2-D array of values as a heatmap with a colour bar.

    As in the seed tutorial this draws into the current axes, so it can be used
    inside `plt.subplot(...)` calls; pass `ax` to choose the axes instead.

    Args:
        values: (H, W) array. NaN cells (walls) are drawn in a neutral grey.
        colormap: matplotlib colormap name or object.
        vmin: value mapped to the bottom of the colormap.
        vmax: value mapped to the top of the colormap.
        ax: axes to draw into; defaults to `plt.gca()`.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `values` is not 2-D.
    """
    values = _as_array(values, 'values', 2, '(H, W)').astype(np.float64)
    if ax is None:
        ax = plt.gca()
    # with_extremes returns a copy, leaving the registered colormap alone.
    cmap = matplotlib.colormaps.get_cmap(colormap).with_extremes(
        bad=_NAN_COLOUR)
    image = ax.imshow(np.ma.masked_invalid(values), interpolation='nearest',
                      cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(image, ax=ax, ticks=[vmin, vmax])
    return ax.figure


def plot_state_value(action_values, epsilon: float = 0.1) -> Figure:
    """Plots v(s) of an epsilon-greedy policy from action values, in a new figure.

    Args:
        action_values: (H, W, A) array of q(s, a). Cells whose values are all
            NaN (walls) are drawn grey.
        epsilon: exploration rate of the epsilon-greedy policy.

    Returns:
        The new figure.

    Raises:
        ValueError: if `action_values` is not 3-D.
    """
    q = _as_action_values(action_values)
    vmin, vmax = _finite_range(q)
    figure = plt.figure(figsize=(4, 4))
    ax = figure.gca()
    plot_values(_epsilon_greedy_values(q, epsilon), colormap='summer',
                vmin=vmin, vmax=vmax, ax=ax)
    ax.set_title('$v(s)$')
    return figure


def plot_action_values(action_values, epsilon: float = 0.1) -> Figure:
    """Plots q(s, a) for each of the four actions around v(s), in a new figure.

    Each action's heatmap sits on the side it moves the agent to (up above,
    right to the right, ...), with v(s) of the epsilon-greedy policy in the
    centre. The four q heatmaps share one colour range, padded by 5%.

    Args:
        action_values: (H, W, 4) array of q(s, a). Cells whose values are all
            NaN (walls) are drawn grey.
        epsilon: exploration rate used for v(s).

    Returns:
        The new figure.

    Raises:
        ValueError: if `action_values` does not have shape (H, W, 4).
    """
    q = _as_action_values(action_values, num_actions=len(ACTION_NAMES))
    vmin, vmax = _finite_range(q)
    pad = 0.05 * (vmax - vmin)
    figure = plt.figure(figsize=(8, 8))
    figure.subplots_adjust(wspace=0.3, hspace=0.3)
    for action, name in enumerate(ACTION_NAMES):
        ax = plt.subplot(3, 3, _ACTION_TO_SUBPLOT[action])
        plot_values(q[..., action], vmin=vmin - pad, vmax=vmax + pad, ax=ax)
        ax.set_title(r'$q(s, \mathrm{' + name + r'})$')
    # Made last so that a following plt.title(...) lands on v(s), as in the seed.
    ax = plt.subplot(3, 3, _CENTRE_SUBPLOT)
    plot_values(_epsilon_greedy_values(q, epsilon), colormap='summer',
                vmin=vmin, vmax=vmax, ax=ax)
    ax.set_title('$v(s)$')
    return figure


# ---------------------------------------------------------------------------
# Grids and policies.


def _grid_figure(shape: Tuple[int, int]) -> Figure:
    """A new figure about 4 inches on its longer side, shaped like the grid."""
    h, w = shape
    scale = 4. / max(h, w)
    # A floor keeps long thin grids (and their title) readable.
    size = (max(w * scale, 1.5), max(h * scale + 0.4, 1.5))
    figure = plt.figure(figsize=size)
    # Narrow margins: the grid, not white space, should fill the 4 inches.
    figure.subplots_adjust(left=0.04, right=0.96, bottom=0.04, top=0.9)
    return figure


def _cell_points(ax: Axes, shape: Tuple[int, int]) -> float:
    """Side of one grid cell in points, to size letters so they fit."""
    h, w = shape
    width, height = ax.figure.get_size_inches()
    box = ax.get_position()
    return 72. * min(box.width * width / w, box.height * height / h)


def _draw_grid(ax: Axes, walls: np.ndarray, start, goal, hazards,
               title, start_in_corner: bool = False) -> None:
    """Draws walls, hazards, grid lines and S/G letters into `ax`."""
    shape = walls.shape
    h, w = shape
    image = np.empty(shape + (3,))
    image[:] = _FREE_COLOUR
    if hazards is not None:
        image[hazards] = _HAZARD_COLOUR
    image[walls] = _WALL_COLOUR
    ax.imshow(image, interpolation='nearest')
    ax.hlines(np.arange(0.5, h - 1), -0.5, w - 0.5, colors=_GRID_LINE_COLOUR,
              linewidth=2)
    ax.vlines(np.arange(0.5, w - 1), -0.5, h - 0.5, colors=_GRID_LINE_COLOUR,
              linewidth=2)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)

    fontsize = min(16., 0.6 * _cell_points(ax, shape))
    if start is not None:
        y, x = start
        if start_in_corner:
            # An arrow fills the centre of the start cell; keep both readable.
            ax.text(x - 0.45, y - 0.45, 'S', fontsize=0.7 * fontsize,
                    fontweight='bold', ha='left', va='top')
        else:
            ax.text(x, y, 'S', fontsize=fontsize, fontweight='bold',
                    ha='center', va='center')
    if goal is not None:
        y, x = goal
        ax.text(x, y, 'G', fontsize=fontsize, fontweight='bold',
                ha='center', va='center')
    if title is not None:
        ax.set_title(title)


def _prepare_grid(walls, start, goal, hazards):
    """Validates the arguments shared by the grid plots."""
    walls = _as_mask(walls, 'walls')
    shape = walls.shape
    if start is not None:
        start = _check_position(start, 'start', shape)
    if goal is not None:
        goal = _check_position(goal, 'goal', shape)
    if hazards is not None:
        hazards = _as_mask(hazards, 'hazards', shape)
    return walls, start, goal, hazards


def plot_grid(walls, start: Optional[Position] = None,
              goal: Optional[Position] = None, hazards=None,
              ax: Optional[Axes] = None, title: Optional[str] = None
              ) -> Figure:
    """Draws a grid world: walls dark, free cells light, hazards orange.

    Args:
        walls: (H, W) bool array, True where there is a wall.
        start: (y, x) of the start cell, marked 'S'.
        goal: (y, x) of the goal cell, marked 'G'.
        hazards: optional (H, W) bool array of cells to tint (e.g. a cliff).
        ax: axes to draw into; defaults to a new figure about 4 inches wide.
        title: optional axes title.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: on a non-2-D `walls`, a `hazards` of another shape, or a
            start/goal outside the grid.
    """
    walls, start, goal, hazards = _prepare_grid(walls, start, goal, hazards)
    if ax is None:
        ax = _grid_figure(walls.shape).gca()
    _draw_grid(ax, walls, start, goal, hazards, title)
    return ax.figure


def plot_policy(walls, policy, start: Optional[Position] = None,
                goal: Optional[Position] = None, hazards=None,
                title: Optional[str] = 'Policy', ax: Optional[Axes] = None
                ) -> Figure:
    """Draws the grid with an arrow for the chosen action in every free cell.

    Wall cells, hazard cells, the goal cell and cells whose action is negative
    ("no action") get no arrow.

    Args:
        walls: (H, W) bool array, True where there is a wall.
        policy: (H, W) int array of actions: 0 up, 1 right, 2 down, 3 left, or
            a negative number for none. NaN in a float array also means none.
        start: (y, x) of the start cell, marked 'S' in its corner.
        goal: (y, x) of the goal cell, marked 'G'.
        hazards: optional (H, W) bool array of cells to tint (e.g. a cliff).
        title: axes title; None for none.
        ax: axes to draw into; defaults to a new figure.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `policy` does not have the shape of `walls`, or holds
            an action above 3 or a non-integer value.
    """
    walls, start, goal, hazards = _prepare_grid(walls, start, goal, hazards)
    actions = _as_policy(policy, walls.shape)
    if ax is None:
        ax = _grid_figure(walls.shape).gca()
    _draw_grid(ax, walls, start, goal, hazards, title, start_in_corner=True)

    show = (actions >= 0) & ~walls
    if hazards is not None:
        show &= ~hazards  # The agent never acts from a hazard cell.
    if goal is not None:
        show[goal] = False
    ys, xs = np.nonzero(show)
    if ys.size:
        dxdy = np.asarray(_ACTION_TO_DXDY)[actions[ys, xs]]
        # Arrows 0.55 cells long, drawn in data units so they scale with cells.
        ax.quiver(xs, ys, 0.55 * dxdy[:, 0], 0.55 * dxdy[:, 1],
                  angles='xy', scale_units='xy', scale=1, pivot='middle',
                  units='xy', width=0.07, headwidth=3.5, headlength=3.5,
                  headaxislength=3, color=_ARROW_COLOUR)
    return ax.figure


def _as_policy(policy, shape: Tuple[int, int]) -> np.ndarray:
    """Checks a policy array against the grid; NaN becomes -1 (no action)."""
    policy = np.asarray(policy)
    if policy.shape != tuple(shape):
        raise ValueError(
            f'policy must have shape {tuple(shape)} (the shape of walls), got '
            f'shape {policy.shape}')
    if policy.dtype.kind == 'f':
        policy = np.where(np.isnan(policy), -1., policy)
        if np.any(policy != np.round(policy)):
            raise ValueError('policy must hold integer actions, got '
                             'non-integer values')
    elif policy.dtype.kind not in 'iub':
        raise ValueError(
            f'policy must hold integer actions, got dtype {policy.dtype}')
    policy = policy.astype(np.int64)
    if policy.size and policy.max() >= len(ACTION_NAMES):
        raise ValueError(
            f'policy actions must be 0 up, 1 right, 2 down, 3 left or negative '
            f'for none, got {policy.max()}')
    return policy


def greedy_policy(action_values) -> np.ndarray:
    """The greedy action of every cell: argmax over the last axis.

    NaN values are ignored; cells whose values are all NaN (walls) get -1.
    Ties go to the lowest action, as with `np.argmax`.

    Args:
        action_values: (H, W, A) array of q(s, a).

    Returns:
        (H, W) int64 array of actions.

    Raises:
        ValueError: if `action_values` is not 3-D.
    """
    q = _as_action_values(action_values)
    nan = np.isnan(q)
    # -inf never wins against a real value, and argmax of it raises no warning.
    actions = np.argmax(np.where(nan, -np.inf, q), axis=-1).astype(np.int64)
    actions[np.all(nan, axis=-1)] = -1
    return actions


def plot_greedy_policy(walls, action_values, start: Optional[Position] = None,
                       goal: Optional[Position] = None, hazards=None,
                       ax: Optional[Axes] = None) -> Figure:
    """Draws the greedy policy of `action_values` on the grid.

    Args:
        walls: (H, W) bool array, True where there is a wall.
        action_values: (H, W, A) array of q(s, a).
        start: (y, x) of the start cell.
        goal: (y, x) of the goal cell.
        hazards: optional (H, W) bool array of cells to tint.
        ax: axes to draw into; defaults to a new figure.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `action_values` is not 3-D, its first two dimensions
            differ from the shape of `walls`, or it has more than 4 actions.
    """
    walls = _as_mask(walls, 'walls')
    q = _as_action_values(action_values)
    h, w = walls.shape
    if q.shape[:2] != walls.shape or q.shape[-1] > len(ACTION_NAMES):
        raise ValueError(
            f'action_values must have shape ({h}, {w}, A) with A <= '
            f'{len(ACTION_NAMES)} to match walls of shape {walls.shape}, got '
            f'shape {q.shape}')
    return plot_policy(walls, greedy_policy(q), start=start,
                       goal=goal, hazards=hazards, title='Greedy policy', ax=ax)


# ---------------------------------------------------------------------------
# Learning curves.


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
    x = _as_array(x, 'x', 1, '(N,)').astype(np.float64)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise ValueError(f'window must be an int, got {window!r}')
    if not 1 <= window <= len(x):
        raise ValueError(
            f'window must be between 1 and len(x) = {len(x)}, got {window}')
    return np.convolve(x, np.full(window, 1. / window), mode='valid')


def _default_window(n: int) -> int:
    """About a twentieth of the run, between 1 and 100 episodes."""
    return int(np.clip(round(n / 20), 1, 100))


def plot_learning_curve(returns: Union[Sequence[float], np.ndarray],
                        window: Optional[int] = None,
                        ax: Optional[Axes] = None, label: Optional[str] = None,
                        xlabel: str = 'Episode', ylabel: str = 'Return'
                        ) -> Figure:
    """Plots episode returns faintly and their moving average boldly.

    Call it again with the same `ax` and a different `label` to compare
    agents: each call gets its own colour and a legend entry.

    Args:
        returns: 1-D sequence of episode returns (as from `run_loop`).
        window: episodes per moving-average point; defaults to about
            len(returns) / 20, clipped to [1, 100]. A window longer than the
            run is shortened to the run's length.
        ax: axes to draw into; defaults to a new figure.
        label: legend label for this curve.
        xlabel: x-axis label.
        ylabel: y-axis label.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `returns` is empty or not 1-D, or `window` < 1.
    """
    returns = _as_array(returns, 'returns', 1, '(N,)').astype(np.float64)
    n = len(returns)
    if n == 0:
        raise ValueError('returns is empty: there is no episode to plot')
    if window is None:
        window = _default_window(n)
    elif isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise ValueError(f'window must be an int, got {window!r}')
    elif window < 1:
        raise ValueError(f'window must be at least 1, got {window}')
    window = int(min(window, n))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))

    # The mean of episodes [i, i + window) is drawn at its last episode.
    episodes = np.arange(n)
    smooth, = ax.plot(episodes[window - 1:], moving_average(returns, window),
                      linewidth=2, label=label)
    ax.plot(episodes, returns, color=smooth.get_color(), alpha=0.25,
            linewidth=1, zorder=smooth.get_zorder() - 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if label is not None:
        ax.legend()
    return ax.figure
