"""What every figure of gridlab.viz shares: argument checks, titles, display limits.

The checks turn a wrong array into a ValueError naming the argument and the
shape it should have; `robust_limits` keeps a few far-out values (a cliff's
-100, a first episode of -250) from flattening a colour scale or a curve,
and `clip_note` says on the figure what was left out; `settled_from` finds
where curves have stopped changing, so a view can end there.
"""

from typing import Optional, Tuple

import numpy as np

Position = Tuple[int, int]


def as_array(x, name: str, ndim: int, expected: str) -> np.ndarray:
    """Returns `x` as an array, or raises ValueError if it has the wrong ndim."""
    array = np.asarray(x)
    if array.ndim != ndim:
        raise ValueError(
            f'{name} must have shape {expected}, got shape {array.shape}')
    return array


def as_action_values(action_values, name: str = 'action_values',
                      num_actions: Optional[int] = None) -> np.ndarray:
    """Checks an (H, W, A) array of action values; returns it as float64."""
    expected = '(H, W, A)' if num_actions is None else f'(H, W, {num_actions})'
    q = as_array(action_values, name, 3, expected)
    if num_actions is not None and q.shape[-1] != num_actions:
        raise ValueError(
            f'{name} must have shape {expected}, got shape {q.shape}')
    if q.shape[-1] == 0:
        raise ValueError(f'{name} must have at least one action, got shape '
                         f'{q.shape}')
    return q.astype(np.float64)


def as_mask(x, name: str, shape: Optional[Tuple[int, int]] = None
             ) -> np.ndarray:
    """Checks a 2-D boolean mask, of `shape` if given."""
    expected = '(H, W)' if shape is None else str(tuple(shape))
    mask = as_array(x, name, 2, expected)
    if shape is not None and mask.shape != tuple(shape):
        raise ValueError(
            f'{name} must have shape {expected} (the shape of walls), got '
            f'shape {mask.shape}')
    if mask.size == 0:
        raise ValueError(f'{name} must not be empty, got shape {mask.shape}')
    return mask.astype(bool)


def check_position(position, name: str, shape: Tuple[int, int]) -> Position:
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


def finite_range(values: np.ndarray) -> Tuple[float, float]:
    """The (min, max) of the finite entries; (0, 1) if there are none."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0., 1.
    return float(finite.min()), float(finite.max())


# Values further than this many interquartile ranges outside the middle half
# are outliers (Tukey's far-out fence).
_FENCE = 3.


def robust_limits(values) -> Tuple[float, float, int, int]:
    """Display limits that a few far-out values cannot flatten.

    The limits are the range of the finite values that lie within
    `_FENCE` interquartile ranges of the middle half (Tukey's fences); when
    nothing lies outside them they are the exact (min, max). Where the middle
    half is a single value (IQR 0) nothing is clipped: there is no spread
    for outliers to hide.

    Returns:
        (low, high, clipped_below, clipped_above): the limits and how many
        values lie below and above them. (0, 1, 0, 0) with no finite values.
    """
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0., 1., 0, 0
    q1, q3 = np.percentile(finite, [25, 75])
    spread = q3 - q1
    if spread <= 0:
        return float(finite.min()), float(finite.max()), 0, 0
    inside = finite[(finite >= q1 - _FENCE * spread) &
                    (finite <= q3 + _FENCE * spread)]
    low, high = float(inside.min()), float(inside.max())
    return (low, high, int((finite < low).sum()), int((finite > high).sum()))


def clip_note(what: str, values: np.ndarray, low: float, high: float,
               below: int, above: int) -> Optional[str]:
    """One sentence saying what the limits leave out, or None."""
    parts = []
    if below:
        parts.append(f'{below} {what[:-1] if below == 1 else what} below '
                     f'{low:.3g} (lowest {np.nanmin(values):.4g})')
    if above:
        parts.append(f'{above} {what[:-1] if above == 1 else what} above '
                     f'{high:.3g} (highest {np.nanmax(values):.4g})')
    if not parts:
        return None
    return 'Clipped: ' + '; '.join(parts)


def settled_from(series, tolerance: float) -> int:
    """The first index from which every 1-D series in `series` stays within
    `tolerance` of its own last value (at most the last index). A curve's
    flat, converged end begins there; NaN counts as flat."""
    first = 0
    for values in series:
        values = np.asarray(values, dtype=np.float64)
        away = np.flatnonzero(np.abs(values - values[-1]) > tolerance)
        first = max(first, int(away[-1]) + 1 if away.size else 0)
    return first


def with_names(base: Optional[str], agent: Optional[str] = None,
           task: Optional[str] = None, seed: Optional[int] = None
           ) -> Optional[str]:
    """`base`, followed by 'agent on task, seed N' for whichever are given."""
    who = ' on '.join(str(part) for part in (agent, task) if part is not None)
    if seed is not None:
        who = f'{who}, seed {seed}' if who else f'seed {seed}'
    if not who:
        return base
    return f'{base}: {who}' if base else who
