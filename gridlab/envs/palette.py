"""The colours gridlab paints a world in, once, as 8-bit RGB.

The numpy renderer (RGB observations, video frames) paints with these, and
the figures of `gridlab.viz` take the same colours (`gridlab.viz.palette`),
so a picture of a world and a frame of it agree. They live here, in envs,
because the RGB observation is the lowest thing that needs them.
"""

FREE = (238, 238, 238)
WALL = (44, 52, 64)
GRID_LINE = (205, 205, 205)
GOAL = (64, 170, 92)
HAZARD = (230, 120, 60)  # Cliffs.
AGENT = (214, 39, 40)

# The text banners and title cards of annotated videos.
BANNER = (30, 34, 42)
BANNER_TEXT = (245, 245, 245)
