"""A GridWorld's own pictures: what `world.plot_grid()` and its siblings draw.

The GridWorld (in gridlab.envs) holds no drawing code; the package root makes
this module its painter (`gridlab.envs.gridworld.set_painter`).
"""

import numpy as np

from gridlab.viz import grid_plots


def plot_world(world, add_start: bool = True, title=None, agent=None):
    """The grid's walls and cliffs, S and G (if `add_start`), and the agent at `agent`."""
    return grid_plots.plot_grid(world.walls, start=world.start_state if add_start else None,
                                goal=world.goal_state if add_start else None,
                                hazards=world.cliffs, title=title, agent=agent)


def plot_world_policy(world, policy, title: str = 'Policy', **options):
    """An arrow per cell for a (H, W) or (S,) array of actions."""
    policy = np.asarray(policy)
    if policy.shape == (world.number_of_states,):
        policy = policy.reshape(world.walls.shape)
    return grid_plots.plot_policy(world.walls, policy, start=world.start_state,
                                  goal=world.goal_state, hazards=world.cliffs, title=title,
                                  **options)


def plot_world_greedy_policy(world, q, **options):
    """The greedy policy of action values q, (H, W, 4) or (S, 4)."""
    q = np.asarray(q)
    if q.shape == (world.number_of_states, q.shape[-1]) and q.ndim == 2:
        q = q.reshape(world.walls.shape + (q.shape[-1],))
    return grid_plots.plot_greedy_policy(world.walls, q, start=world.start_state,
                                         goal=world.goal_state, hazards=world.cliffs,
                                         **options)
