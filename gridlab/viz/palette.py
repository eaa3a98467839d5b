"""The figures' colours: the world's own (`gridlab.envs.palette`) and a few of their own.

A cell is the same colour in `plot_grid` as in a video frame or an RGB
observation of the same world, because both take it from the envs palette;
here it is only converted to matplotlib's 0-1 floats. What a frame never
shows (the start's tint, a heatmap's cells without a value, the marks of a
judged policy) has its colour here.
"""

from gridlab.envs import palette as _world


def _floats(rgb):
    """An 8-bit RGB triple as matplotlib's (r, g, b) in [0, 1]."""
    return tuple(channel / 255. for channel in rgb)


# The world, as the renderer paints it.
FREE = _floats(_world.FREE)
WALL = _floats(_world.WALL)
GRID_LINE = _floats(_world.GRID_LINE)
GOAL = _floats(_world.GOAL)
HAZARD = _floats(_world.HAZARD)
AGENT = _floats(_world.AGENT)

# Only in figures.
START = (0.99, 0.93, 0.60)  # A yellow tint: RGB observations do not mark the start.
HAZARD_EDGE = (0.45, 0.2, 0.1)  # The hatching of cliffs on heatmaps.
NAN = '#7f7f7f'  # Heatmap cells with no value (walls): a grey no colormap here uses.
NOT_OPTIMAL = AGENT  # Arrows and frames of actions that planning says are not optimal.
ARROW = (0.1, 0.1, 0.1)
