"""A numpy renderer for grid worlds: one array copy and one sprite per frame.

Drawing a frame with matplotlib costs tens of milliseconds; here the static
picture (walls, hazards, goal) is drawn once and cached, and a frame is a copy
of it with the agent's disc pasted in. That is fast enough to render every
step, which is what the RGB observation does.
"""

from typing import Optional, Tuple

import numpy as np

from gridlab.core import validation
# The colours are the palette's (one definition for frames and figures);
# importing them here also keeps `rendering.AGENT` and the rest working.
from gridlab.envs.palette import (AGENT, BANNER, BANNER_TEXT, FREE, GOAL, GRID_LINE,
                                  HAZARD, WALL)

Cell = Tuple[int, int]


class GridRenderer:
    """Renders an (H, W) grid at `cell_size` pixels per cell as uint8 RGB."""

    def __init__(self, walls: np.ndarray, hazards: np.ndarray, cell_size: int):
        cell_size = validation.check_positive_int('cell_size', cell_size)
        self._walls = np.asarray(walls, dtype=bool)
        self._hazards = np.asarray(hazards, dtype=bool)
        self._cell = c = int(cell_size)
        self._static = self._draw_static()
        self._background = None
        self._background_goal = None
        # A disc of radius 0.35 cells, centred in the cell.
        centre = (c - 1) / 2
        yy, xx = np.mgrid[:c, :c]
        radius = max(0.35 * c, 0.5)
        self._agent_mask = (yy - centre) ** 2 + (xx - centre) ** 2 <= radius ** 2
        # Goal: the cell minus a margin, so grid lines stay visible.
        margin = c // 8
        self._goal_slice = slice(margin, c - margin)

    @property
    def shape(self) -> Tuple[int, int, int]:
        h, w = self._walls.shape
        return (h * self._cell, w * self._cell, 3)

    def _draw_static(self) -> np.ndarray:
        c = self._cell
        colours = np.empty(self._walls.shape + (3,), dtype=np.uint8)
        colours[...] = FREE
        colours[self._hazards] = HAZARD
        colours[self._walls] = WALL
        image = np.repeat(np.repeat(colours, c, axis=0), c, axis=1)
        if c >= 8:  # Grid lines only where there is room for them.
            free_rows = np.repeat(~self._walls, c, axis=0)
            free = np.repeat(free_rows, c, axis=1)
            lines = np.zeros(free.shape, dtype=bool)
            lines[::c, :] = True
            lines[:, ::c] = True
            image[lines & free] = GRID_LINE
        return image

    def _cell_view(self, image: np.ndarray, cell: Cell) -> np.ndarray:
        y, x = cell
        c = self._cell
        return image[y * c:(y + 1) * c, x * c:(x + 1) * c]

    def frame(self, agent: Optional[Cell], goal: Optional[Cell]) -> np.ndarray:
        """Returns a new (H*c, W*c, 3) uint8 image with agent and goal drawn."""
        if self._background is None or goal != self._background_goal:
            background = self._static.copy()
            if goal is not None:
                view = self._cell_view(background, goal)
                view[self._goal_slice, self._goal_slice] = GOAL
            self._background, self._background_goal = background, goal
        image = self._background.copy()
        if agent is not None:
            self._cell_view(image, agent)[self._agent_mask] = AGENT
        return image


# ---------------------------------------------------------------------------
# Text on frames, for annotated videos.


def _font(size: int):
    """Pillow's bundled font at `size` pixels (Pillow ships with imageio)."""
    from PIL import ImageFont  # pylint: disable=import-outside-toplevel
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font.
        return ImageFont.load_default()


def text_block(width: int, lines, font_size: int,
               background=BANNER, colour=BANNER_TEXT,
               height: Optional[int] = None, centre: bool = False
               ) -> np.ndarray:
    """A (height, width, 3) uint8 image with `lines` of text.

    The default height fits the lines; a given `height` centres them
    vertically, and `centre` horizontally (as on a title card).
    """
    from PIL import Image, ImageDraw  # pylint: disable=import-outside-toplevel
    width = validation.check_positive_int('width', width)
    font_size = validation.check_positive_int('font_size', font_size)
    if height is not None:
        height = validation.check_positive_int('height', height)
    font = _font(font_size)
    line_height = int(round(1.3 * font_size))
    needed = line_height * len(lines) + font_size // 2
    height = needed if height is None else max(int(height), needed)
    image = Image.new('RGB', (int(width), height), tuple(background))
    draw = ImageDraw.Draw(image)
    top = (height - line_height * len(lines)) // 2
    for index, line in enumerate(lines):
        left = max(4, font_size // 2)
        if centre:
            left = max(0, int((width - draw.textlength(line, font=font)) / 2))
        draw.text((left, top + index * line_height), line,
                  fill=tuple(colour), font=font)
    return np.asarray(image, dtype=np.uint8).copy()
