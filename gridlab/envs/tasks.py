"""Named GridWorld tasks: the classic tutorial's three and larger ones.

`simple`, `obstacle` and `random_goal` are the 9x10 grids of the classic tutorial
(start (2, 2); goals (7, 2), (2, 8) and a random one). The larger tasks let
learning and speed be measured as the grid grows.
"""

import dataclasses
from typing import Dict, Optional, Tuple

from gridlab.envs.gridworld import GridWorld, ObservationType

_TWO_PILLARS = """
    ##########
    #........#
    #...##...#
    #...##...#
    #...##...#
    #........#
    #........#
    #........#
    ##########
"""

_OBSTACLE = """
    ##########
    #.....#..#
    #...#....#
    #...##...#
    #...##...#
    #........#
    #........#
    #........#
    ##########
"""

# Sutton, Precup and Singh's four rooms (11x11 inside a border).
_FOUR_ROOMS = """
    #############
    #S....#.....#
    #.....#.....#
    #...........#
    #.....#.....#
    #.....#.....#
    ##.####.....#
    #.....###.###
    #.....#.....#
    #.....#.....#
    #...........#
    #.....#....G#
    #############
"""

# Sutton and Barto's cliff walking (Example 6.6), 4x12 inside a border.
_CLIFF = """
    ##############
    #............#
    #............#
    #............#
    #SCCCCCCCCCCG#
    ##############
"""

# A 21x21 maze (a depth-first-search maze with a few loops opened).
_MAZE = """
    #####################
    #S#.......#.....#...#
    #.#.#.###.#.#.#.###.#
    #.#.#.#.#.#.#.#.....#
    #.#.#.#.#.###.#####.#
    #.#.#.#.#.....#.#...#
    #.###.#.#######.#.###
    #.....#.....#...#.#.#
    #######.#.#.###...#.#
    #.......#.#...#.#...#
    #.###.###.###.#.###.#
    #...#.....#.......#.#
    #.###.###.#######.#.#
    #.#...#.......#...#.#
    #.#.###.#####.#####.#
    #.#.....#.#...#.....#
    #.#######.#.#.#.#####
    #...#.....#.#.#.....#
    ###.#####.#.#######.#
    #.........#........G#
    #####################
"""


@dataclasses.dataclass(frozen=True)
class Task:
    """A named GridWorld: a description, its layout, start and goal."""
    description: str
    layout: str
    start_state: Optional[Tuple[int, int]] = None
    goal_state: Optional[Tuple[int, int]] = None


TASKS: Dict[str, Task] = {
    'simple': Task('9x10, goal at the bottom left, little navigation',
                   _TWO_PILLARS, start_state=(2, 2), goal_state=(7, 2)),
    'obstacle': Task('9x10, goal behind an obstacle the agent must go around',
                     _OBSTACLE, start_state=(2, 2), goal_state=(2, 8)),
    'random_goal': Task('9x10, goal drawn at random once (seeded)',
                        _TWO_PILLARS, start_state=(2, 2)),
    'four_rooms': Task('13x13, four rooms joined by doorways', _FOUR_ROOMS),
    'cliff': Task('6x14 cliff walking: the shortest path runs along a cliff '
                  'that costs -100 and sends the agent back', _CLIFF),
    'maze': Task('21x21 maze with a few loops', _MAZE),
}


DEFAULT_DISCOUNT = 0.9  # The classic tutorial's, carried by every task's TimeSteps.


def build_gridworld_task(task: str,
                         discount: float = DEFAULT_DISCOUNT,
                         penalty_for_walls: float = -5,
                         observation_type: ObservationType = ObservationType.STATE_INDEX,
                         max_episode_length: Optional[int] = 200,
                         **overrides) -> GridWorld:
    """Builds a named task; `overrides` go to `GridWorld` (seed=, slip_probability=, ...)."""
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(
            f'unknown task {task!r}; expected one of {", ".join(TASKS)}')
    spec = TASKS[task]
    kwargs = dict(layout=spec.layout, start_state=spec.start_state,
                  goal_state=spec.goal_state, discount=discount,
                  penalty_for_walls=penalty_for_walls,
                  observation_type=observation_type,
                  max_episode_length=max_episode_length)
    kwargs.update(overrides)
    return GridWorld(**kwargs)
