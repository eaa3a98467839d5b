"""Reading a GridWorld layout: rows of numbers, or an ASCII picture.

Numbers: 0 empty, -1 wall, > 0 the goal, any other negative value a cliff
cell with that penalty. ASCII: '#' wall, '.' empty, 'S' start, 'G' goal,
'C' cliff.
"""

import textwrap
from typing import Sequence

import numpy as np

_ASCII = {'#': -1, '.': 0, 'S': 0, 'G': 0, 'C': None}


def parse_layout(layout, penalty_for_cliff: float = -100.):
    """Turns a numeric or ASCII layout into arrays.

    Returns:
      A tuple (cells, start, goal): cells is a float (H, W) array (-1 wall,
      0 free, other negative values cliff penalties), start and goal are the
      (y, x) marked in an ASCII picture (or a positive numeric cell for the
      goal), else None.
    """
    if isinstance(layout, str):
        rows = [row for row in textwrap.dedent(layout).splitlines() if row.strip()]
        return _parse_ascii([row.strip() for row in rows], penalty_for_cliff)
    if (isinstance(layout, Sequence) and layout and
            all(isinstance(row, str) for row in layout)):
        return _parse_ascii(list(layout), penalty_for_cliff)
    return _parse_numeric(layout)


def _parse_ascii(rows, penalty_for_cliff):
    if not rows:
        raise ValueError('layout is empty: expected at least one row')
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(
            f'layout is ragged: rows have lengths {[len(r) for r in rows]}, '
            'expected all rows to have the same length')
    cells = np.zeros((len(rows), len(rows[0])), dtype=np.float64)
    marks = {'S': [], 'G': []}
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            if char not in _ASCII:
                raise ValueError(
                    f'layout has unknown character {char!r} at (y={y}, x={x}); '
                    "expected one of '#' (wall), '.' (empty), 'S' (start), "
                    "'G' (goal), 'C' (cliff)")
            value = _ASCII[char]
            cells[y, x] = penalty_for_cliff if value is None else value
            if char in marks:
                marks[char].append((y, x))
    for char, found in marks.items():
        if len(found) > 1:
            raise ValueError(
                f'layout marks {char!r} {len(found)} times, at {found}; '
                'expected at most once')
    start = marks['S'][0] if marks['S'] else None
    goal = marks['G'][0] if marks['G'] else None
    return cells, start, goal


def _parse_numeric(layout):
    if (isinstance(layout, Sequence) and layout and
            all(isinstance(row, Sequence) for row in layout)):
        lengths = [len(row) for row in layout]
        if len(set(lengths)) > 1:
            raise ValueError(
                f'layout is ragged: rows have lengths {lengths}, expected all '
                'rows to have the same length')
    try:
        cells = np.array(layout, dtype=np.float64)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f'layout must be a rectangular grid of numbers or an ASCII picture; '
            f'could not read it as numbers ({error})') from None
    if cells.ndim != 2 or cells.size == 0:
        raise ValueError(
            f'layout must be 2-D (rows of cells), got shape {cells.shape}')
    if not np.all(np.isfinite(cells)):
        raise ValueError('layout contains NaN or infinite values')
    goals = [tuple(int(i) for i in cell) for cell in np.argwhere(cells > 0)]
    if len(goals) > 1:
        raise ValueError(
            f'layout has {len(goals)} goal cells (values > 0) at {goals}; '
            'expected at most one')
    cells[cells > 0] = 0
    return cells, None, (goals[0] if goals else None)
