"""Pictures of a grid: heatmaps of values, the grid itself, policies as arrows.

Every function works on plain arrays (it knows nothing about `GridWorld`, which
calls these with its own layout, see `world_pictures`) and returns the
`matplotlib.figure.Figure` it drew on. Figures are made with pyplot, so
tutorial code that calls `plt.title(...)` or `plt.show()` right after a plot
keeps working; nothing here calls `plt.show()` or changes the backend, so the
module is safe on a headless machine.

Conventions: arrays are indexed `[y, x]` (row, column), positions are
`(y, x)` tuples, and actions are 0 up, 1 right, 2 down, 3 left. Cells have
the world's colours (`palette`: the same as video frames and RGB
observations). Colour bars end at the data's range, a few extreme values are
clipped rather than allowed to flatten everything else (`figures.robust_limits`),
and whatever was clipped is said on the figure. Start and goal are marked on
every grid picture. Which actions are optimal is judging's rule
(`gridlab.evaluation.judging.optimal_actions`); this module only draws it.
"""

from typing import Optional, Tuple

import matplotlib
import matplotlib.patheffects as patheffects
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FormatStrFormatter

from gridlab.core import validation
from gridlab.envs.actions import ACTION_NAMES, DELTAS
from gridlab.evaluation.judging import optimal_actions
from gridlab.viz import palette
from gridlab.viz.figures import (Position, as_action_values, as_array, as_mask,
                                 check_position, clip_note, finite_range,
                                 robust_limits, with_names)

__all__ = [
    'greedy_policy',
    'plot_action_values',
    'plot_greedy_policy',
    'plot_grid',
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


# ---------------------------------------------------------------------------
# Value heatmaps.


def _epsilon_greedy_values(q: np.ndarray, epsilon: float) -> np.ndarray:
    """v(s) = (1 - eps) max_a q(s, a) + eps mean_a q(s, a), ignoring NaNs.

    Cells whose action values are all NaN (walls) stay NaN. NaN-reductions run
    only on the other cells, so numpy emits no "All-NaN slice" warnings.
    """
    epsilon = validation.check_probability('epsilon', epsilon)
    all_nan = np.all(np.isnan(q), axis=-1)
    v = np.full(q.shape[:-1], np.nan)
    known = q[~all_nan]
    if known.size:
        v[~all_nan] = ((1 - epsilon) * np.nanmax(known, axis=-1) +
                       epsilon * np.nanmean(known, axis=-1))
    return v


def plot_values(values, colormap='pink', vmin: float = -1, vmax: float = 10,
                ax: Optional[Axes] = None, extend: str = 'neither') -> Figure:
    """Draws a 2-D array of values as a heatmap with a colour bar.

    This draws into the current axes, so it can be used inside
    `plt.subplot(...)` calls; pass `ax` to choose the axes instead. The colour
    bar is ticked at `vmin` and `vmax` (three significant digits).

    Args:
        values: (H, W) array. NaN cells (walls) are drawn in a neutral grey.
        colormap: matplotlib colormap name or object.
        vmin: value mapped to the bottom of the colormap.
        vmax: value mapped to the top of the colormap.
        ax: axes to draw into; defaults to `plt.gca()`.
        extend: 'min', 'max' or 'both' draws a pointed end on the colour bar
            to show that values beyond `vmin`/`vmax` were clipped.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `values` is not 2-D or `extend` is unknown.
    """
    values = as_array(values, 'values', 2, '(H, W)').astype(np.float64)
    vmin = validation.check_finite('vmin', vmin)
    vmax = validation.check_finite('vmax', vmax)
    if not vmin < vmax:
        raise ValueError(f'vmin must be below vmax, got vmin={vmin!r}, vmax={vmax!r}')
    if extend not in ('neither', 'min', 'max', 'both'):
        raise ValueError(f"extend must be 'neither', 'min', 'max' or 'both', "
                         f'got {extend!r}')
    if ax is None:
        ax = plt.gca()
    # with_extremes returns a copy, leaving the registered colormap alone.
    cmap = matplotlib.colormaps.get_cmap(colormap).with_extremes(
        bad=palette.NAN)
    image = ax.imshow(np.ma.masked_invalid(values), interpolation='nearest',
                      cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(image, ax=ax, ticks=[vmin, vmax], extend=extend,
                       format=FormatStrFormatter('%.3g'))
    return ax.figure


def _outlined(**kwargs) -> dict:
    """Text keywords for a letter readable on any colour: black on white."""
    return dict(fontweight='bold', color='black', path_effects=[
        patheffects.withStroke(linewidth=2.5, foreground='white')], **kwargs)


def _mark_cells(ax: Axes, shape: Tuple[int, int], walls, cliffs, start,
                goal) -> None:
    """Draws walls, cliffs (hatched, unlike walls) and S/G onto a heatmap."""
    if walls is not None and walls.any():
        overlay = np.zeros(shape + (4,))
        overlay[walls] = palette.WALL + (1.,)
        ax.imshow(overlay, interpolation='nearest')
    if cliffs is not None:
        for y, x in np.argwhere(cliffs):
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1,
                                   facecolor=palette.HAZARD, hatch='xx',
                                   edgecolor=palette.HAZARD_EDGE, linewidth=0))
    fontsize = min(12., 0.55 * _cell_points(ax, shape))
    for letter, cell in (('S', start), ('G', goal)):
        if cell is not None:
            ax.text(cell[1], cell[0], letter, fontsize=fontsize, ha='center',
                    va='center', **_outlined())


def _prepare_heatmap_cells(shape, walls, cliffs, start, goal):
    """Validates the optional grid arguments of the heatmaps."""
    if walls is not None:
        walls = as_mask(walls, 'walls', shape)
    if cliffs is not None:
        cliffs = as_mask(cliffs, 'cliffs', shape)
    if start is not None:
        start = check_position(start, 'start', shape)
    if goal is not None:
        goal = check_position(goal, 'goal', shape)
    return walls, cliffs, start, goal


def _heatmap_limits(q: np.ndarray, clip: bool):
    """(vmin, vmax, extend, note) for the shared colour scale of q.

    Equal values everywhere (a fresh table, say) get a scale of width 1
    around them, so the heatmap is one colour rather than an error.
    """
    if clip:
        vmin, vmax, below, above = robust_limits(q)
    else:
        (vmin, vmax), below, above = finite_range(q), 0, 0
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    extend = {(False, False): 'neither', (True, False): 'min',
              (False, True): 'max', (True, True): 'both'}[(below > 0,
                                                             above > 0)]
    note = clip_note('values', q, vmin, vmax, below, above)
    if note:
        note += ' are drawn in the end colours.'
    return vmin, vmax, extend, note


def plot_state_value(action_values, epsilon: float = 0.1, *, walls=None,
                     cliffs=None, start: Optional[Position] = None,
                     goal: Optional[Position] = None,
                     title: Optional[str] = None, clip: bool = True
                     ) -> Figure:
    """Plots v(s) of an epsilon-greedy policy from action values, in a new figure.

    Args:
        action_values: (H, W, A) array of q(s, a). Cells whose values are all
            NaN (walls) are drawn grey.
        epsilon: exploration rate of the epsilon-greedy policy.
        walls, cliffs: optional (H, W) bool masks: walls are drawn dark,
            cliffs hatched orange.
        start, goal: optional (y, x) cells, marked 'S' and 'G'.
        title: optional figure title (e.g. naming agent and task).
        clip: keep far-out values (see `robust_limits`) from setting the
            colour range; what was clipped is written under the plot.

    Returns:
        The new figure.

    Raises:
        ValueError: if `action_values` is not 3-D, or a mask or cell does not
            fit it.
    """
    q = as_action_values(action_values)
    walls, cliffs, start, goal = _prepare_heatmap_cells(
        q.shape[:2], walls, cliffs, start, goal)
    vmin, vmax, extend, note = _heatmap_limits(q, clip)
    figure = plt.figure(figsize=(4, 4.4 if note else 4))
    _state_value_panel(figure.gca(), q, epsilon, (vmin, vmax, extend),
                       (walls, cliffs, start, goal))
    return _titled(figure, title, note, fontsize=7)


def plot_action_values(action_values, epsilon: float = 0.1, *, walls=None,
                       cliffs=None, start: Optional[Position] = None,
                       goal: Optional[Position] = None,
                       title: Optional[str] = None, clip: bool = True
                       ) -> Figure:
    """Plots q(s, a) for each of the four actions around v(s), in a new figure.

    Each action's heatmap sits on the side it moves the agent to (up above,
    right to the right, ...), with v(s) of the epsilon-greedy policy in the
    centre. All five share one colour range: the data's own (min, max), or,
    when a few values lie far outside the rest (the -100 of stepping into a
    cliff), the range of the rest; the clipped values are drawn in the end
    colours, the colour bars get pointed ends, and a line under the figure
    says what was clipped.

    Args:
        action_values: (H, W, 4) array of q(s, a). Cells whose values are all
            NaN (walls, cliffs) are drawn grey unless a mask says what they are.
        epsilon: exploration rate used for v(s).
        walls, cliffs: optional (H, W) bool masks: walls are drawn dark,
            cliffs hatched orange, so the two are not confused.
        start, goal: optional (y, x) cells, marked 'S' and 'G' on every map.
        title: optional figure title (e.g. naming agent and task).
        clip: False shows the full range, however extreme.

    Returns:
        The new figure.

    Raises:
        ValueError: if `action_values` does not have shape (H, W, 4), or a
            mask or cell does not fit it.
    """
    q = as_action_values(action_values, num_actions=len(ACTION_NAMES))
    walls, cliffs, start, goal = _prepare_heatmap_cells(
        q.shape[:2], walls, cliffs, start, goal)
    vmin, vmax, extend, note = _heatmap_limits(q, clip)
    # Wide grids (the 6x14 cliff) get a shorter figure, not white bands.
    h, w = q.shape[:2]
    height = float(np.clip(8 * h / w + 2.5, 4.5, 8))
    figure = plt.figure(figsize=(8, height + (0.4 if note else 0)))
    figure.subplots_adjust(wspace=0.3, hspace=0.45)
    for action, name in enumerate(ACTION_NAMES):
        ax = plt.subplot(3, 3, _ACTION_TO_SUBPLOT[action])
        plot_values(q[..., action], vmin=vmin, vmax=vmax, ax=ax,
                    extend=extend)
        _mark_cells(ax, q.shape[:2], walls, cliffs, start, goal)
        ax.set_title(r'$q(s, \mathrm{' + name + r'})$')
    # Made last so that a following plt.title(...) lands on v(s).
    _state_value_panel(plt.subplot(3, 3, _CENTRE_SUBPLOT), q, epsilon,
                       (vmin, vmax, extend), (walls, cliffs, start, goal))
    return _titled(figure, title, note, fontsize=9)


def _state_value_panel(ax, q, epsilon, limits, cells) -> None:
    """v(s) under epsilon-greedy, as both heatmap figures draw it."""
    vmin, vmax, extend = limits
    plot_values(_epsilon_greedy_values(q, epsilon), colormap='summer',
                vmin=vmin, vmax=vmax, ax=ax, extend=extend)
    _mark_cells(ax, q.shape[:2], *cells)
    ax.set_title('$v(s)$')


def _titled(figure, title, note, fontsize: int):
    """The figure's title, and its clip note along the bottom."""
    if title:
        figure.suptitle(title)
    if note:
        figure.text(0.5, 0.01, note, ha='center', va='bottom', fontsize=fontsize,
                    wrap=True)
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
               title, start_in_corner: bool = False, agent=None) -> None:
    """Draws walls, hazards, grid lines, S/G letters and the agent into `ax`.

    The start and goal cells are tinted (yellow, green) as well as lettered,
    so they stay visible under an arrow or the agent.
    """
    shape = walls.shape
    h, w = shape
    image = np.empty(shape + (3,))
    image[:] = palette.FREE
    if start is not None:
        image[start] = palette.START
    if goal is not None:
        image[goal] = palette.GOAL
    if hazards is not None:
        image[hazards] = palette.HAZARD
    image[walls] = palette.WALL
    ax.imshow(image, interpolation='nearest')
    ax.hlines(np.arange(0.5, h - 1), -0.5, w - 0.5, colors=palette.GRID_LINE,
              linewidth=2)
    ax.vlines(np.arange(0.5, w - 1), -0.5, h - 0.5, colors=palette.GRID_LINE,
              linewidth=2)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)

    fontsize = min(16., 0.6 * _cell_points(ax, shape))
    for letter, cell in (('S', start), ('G', goal)):
        if cell is None:
            continue
        y, x = cell
        if start_in_corner or cell == agent:
            # An arrow or the agent fills the centre; keep both readable.
            ax.text(x - 0.45, y - 0.45, letter, fontsize=0.75 * fontsize,
                    ha='left', va='top', **_outlined())
        else:
            ax.text(x, y, letter, fontsize=fontsize, ha='center',
                    va='center', **_outlined())
    if agent is not None:
        y, x = agent
        ax.add_patch(matplotlib.patches.Circle(
            (x, y), 0.33, facecolor=palette.AGENT, edgecolor='black',
            linewidth=1, zorder=3, label='agent'))
    if title is not None:
        ax.set_title(title)


def _prepare_grid(walls, start, goal, hazards):
    """Validates the arguments shared by the grid plots."""
    walls = as_mask(walls, 'walls')
    shape = walls.shape
    if start is not None:
        start = check_position(start, 'start', shape)
    if goal is not None:
        goal = check_position(goal, 'goal', shape)
    if hazards is not None:
        hazards = as_mask(hazards, 'hazards', shape)
    return walls, start, goal, hazards


def plot_grid(walls, start: Optional[Position] = None,
              goal: Optional[Position] = None, hazards=None,
              ax: Optional[Axes] = None, title: Optional[str] = None,
              agent: Optional[Position] = None) -> Figure:
    """Draws a grid world: walls dark, free cells light, hazards orange.

    Args:
        walls: (H, W) bool array, True where there is a wall.
        start: (y, x) of the start cell, tinted yellow and marked 'S'.
        goal: (y, x) of the goal cell, tinted green and marked 'G'.
        hazards: optional (H, W) bool array of cells to tint (e.g. a cliff).
        ax: axes to draw into; defaults to a new figure about 4 inches wide.
        title: optional axes title.
        agent: optional (y, x) of the agent, drawn as a red disc (S or G
            move to the cell's corner when the agent stands on them).

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: on a non-2-D `walls`, a `hazards` of another shape, or a
            start/goal/agent outside the grid.
    """
    walls, start, goal, hazards = _prepare_grid(walls, start, goal, hazards)
    if agent is not None:
        agent = check_position(agent, 'agent', walls.shape)
    if ax is None:
        ax = _grid_figure(walls.shape).gca()
    _draw_grid(ax, walls, start, goal, hazards, title, agent=agent)
    return ax.figure


def plot_policy(walls, policy, start: Optional[Position] = None,
                goal: Optional[Position] = None, hazards=None,
                title: Optional[str] = 'Policy', ax: Optional[Axes] = None,
                *, optimal=None, agent: Optional[str] = None,
                task: Optional[str] = None) -> Figure:
    """Draws the grid with an arrow for the chosen action in every free cell.

    Wall cells, hazard cells, the goal cell and cells whose action is negative
    ("no action") get no arrow. With `optimal`, every arrow cell where the
    action is not optimal gets a red frame and a red arrow, and a line under
    the grid counts them.

    Args:
        walls: (H, W) bool array, True where there is a wall.
        policy: (H, W) int array of actions: 0 up, 1 right, 2 down, 3 left, or
            a negative number for none. NaN in a float array also means none.
        start: (y, x) of the start cell, tinted and marked 'S' in its corner.
        goal: (y, x) of the goal cell, marked 'G'.
        hazards: optional (H, W) bool array of cells to tint (e.g. a cliff).
        title: axes title; None for none.
        ax: axes to draw into; defaults to a new figure.
        optimal: optional (H, W) bool array, True where the action is optimal
            (e.g. `gridlab.evaluation.judging.greedy_is_optimal`).
        agent, task: optional names, appended to the title.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `policy` or `optimal` does not have the shape of
            `walls`, or `policy` holds an action above 3 or a non-integer value.
    """
    walls, start, goal, hazards = _prepare_grid(walls, start, goal, hazards)
    actions = _as_policy(policy, walls.shape)
    if optimal is not None:
        optimal = as_mask(optimal, 'optimal', walls.shape)
    if ax is None:
        ax = _grid_figure(walls.shape).gca()
    _draw_grid(ax, walls, start, goal, hazards, with_names(title, agent, task),
               start_in_corner=True)

    show = (actions >= 0) & ~walls
    if hazards is not None:
        show &= ~hazards  # The agent never acts from a hazard cell.
    if goal is not None:
        show[goal] = False
    wrong = np.zeros_like(show) if optimal is None else show & ~optimal
    for y, x in np.argwhere(wrong):
        ax.add_patch(Rectangle((x - 0.44, y - 0.44), 0.88, 0.88, fill=False,
                               edgecolor=palette.NOT_OPTIMAL, linewidth=2,
                               label='not optimal'))
    ys, xs = np.nonzero(show)
    if ys.size:
        dxdy = np.asarray(_ACTION_TO_DXDY)[actions[ys, xs]]
        colours = [palette.NOT_OPTIMAL if wrong[y, x] else palette.ARROW
                   for y, x in zip(ys, xs)]
        # Arrows 0.55 cells long, drawn in data units so they scale with cells.
        ax.quiver(xs, ys, 0.55 * dxdy[:, 0], 0.55 * dxdy[:, 1],
                  angles='xy', scale_units='xy', scale=1, pivot='middle',
                  units='xy', width=0.07, headwidth=3.5, headlength=3.5,
                  headaxislength=3, color=colours)
    if optimal is not None:
        count = int(wrong.sum())
        ax.set_xlabel(f'{count} of {int(show.sum())} cells not optimal '
                      '(red)' if count else 'every action optimal',
                      color=palette.NOT_OPTIMAL if count else 'black')
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
    q = as_action_values(action_values)
    nan = np.isnan(q)
    # -inf never wins against a real value, and argmax of it raises no warning.
    actions = np.argmax(np.where(nan, -np.inf, q), axis=-1).astype(np.int64)
    actions[np.all(nan, axis=-1)] = -1
    return actions


def plot_greedy_policy(walls, action_values, start: Optional[Position] = None,
                       goal: Optional[Position] = None, hazards=None,
                       ax: Optional[Axes] = None, *, q_star=None,
                       optimal=None, agent: Optional[str] = None,
                       task: Optional[str] = None,
                       title: str = 'Greedy policy') -> Figure:
    """Draws the greedy policy of `action_values` on the grid.

    Args:
        walls: (H, W) bool array, True where there is a wall.
        action_values: (H, W, A) array of q(s, a).
        start: (y, x) of the start cell.
        goal: (y, x) of the goal cell.
        hazards: optional (H, W) bool array of cells to tint.
        ax: axes to draw into; defaults to a new figure.
        q_star: optional (H, W, A) optimal action values (from planning, e.g.
            `gridlab.evaluation.judging.optimal_q_values`); greedy actions that are not
            optimal under it are drawn red and framed.
        optimal: instead of `q_star`, an (H, W) bool mask of the cells whose
            greedy action is optimal (`gridlab.evaluation.judging.greedy_is_optimal`).
        agent, task: optional names, appended to the title.
        title: the title's first part.

    Returns:
        The figure that holds the axes.

    Raises:
        ValueError: if `action_values` is not 3-D, its first two dimensions
            differ from the shape of `walls`, or it has more than 4 actions;
            or if both `q_star` and `optimal` are given.
    """
    walls = as_mask(walls, 'walls')
    q = as_action_values(action_values)
    h, w = walls.shape
    if q.shape[:2] != walls.shape or q.shape[-1] > len(ACTION_NAMES):
        raise ValueError(
            f'action_values must have shape ({h}, {w}, A) with A <= '
            f'{len(ACTION_NAMES)} to match walls of shape {walls.shape}, got '
            f'shape {q.shape}')
    actions = greedy_policy(q)
    if q_star is not None:
        if optimal is not None:
            raise ValueError('give q_star or optimal, not both')
        optimal = optimal_actions(actions, q_star)
    return plot_policy(walls, actions, start=start, goal=goal,
                       hazards=hazards, title=title, ax=ax, optimal=optimal,
                       agent=agent, task=task)
