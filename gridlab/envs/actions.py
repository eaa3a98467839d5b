"""The four grid moves, defined once: their order, names and directions.

Everything that needs to know what action 2 means (the GridWorld's dynamics,
planning's models, the policy arrows and the action-value heatmaps) reads it
from here, as MiniGrid does with its one `Actions` enum.
"""

import enum
from typing import Tuple


class Action(enum.IntEnum):
    """A move on the grid. The values are the actions agents choose."""
    UP = 0
    RIGHT = 1
    DOWN = 2
    LEFT = 3

    @property
    def delta(self) -> Tuple[int, int]:
        """(dy, dx) of the move; rows grow downwards, so UP is (-1, 0)."""
        return DELTAS[self]


NUM_ACTIONS = len(Action)
ACTION_NAMES = tuple(action.name.lower() for action in Action)  # ('up', 'right', ...)
DELTAS = ((-1, 0), (0, 1), (1, 0), (0, -1))  # (dy, dx), indexed by action.


def turned(action: int, quarter_turns: int) -> int:
    """The action `quarter_turns` clockwise turns from `action` (slips use +-1)."""
    return (action + quarter_turns) % NUM_ACTIONS
