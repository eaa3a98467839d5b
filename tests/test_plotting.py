"""Tests for gridlab.viz's grid pictures and curves: every figure is rendered to PNG
and inspected."""

import os

os.environ.setdefault('MPLBACKEND', 'Agg')

# pylint: disable=wrong-import-position
import warnings

import matplotlib

matplotlib.use('Agg')

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import gridlab
from gridlab.envs import rendering
from gridlab.envs.actions import ACTION_NAMES
from gridlab.viz import curves, grid_plots, palette

# A 9x10 room with a wall bar in the middle, like the seed's 'obstacle' task.
WALLS = np.zeros((9, 10), dtype=bool)
WALLS[0, :] = WALLS[-1, :] = WALLS[:, 0] = WALLS[:, -1] = True
WALLS[4, 3:7] = True
START = (2, 2)
GOAL = (7, 2)
HAZARDS = np.zeros_like(WALLS)
HAZARDS[7, 4:7] = True


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


def action_values(seed=0):
    """Random q of shape (9, 10, 4) with NaN on walls."""
    q = np.random.default_rng(seed).normal(size=WALLS.shape + (4,))
    q[WALLS] = np.nan
    return q


def render(figure, tmp_path, name='figure.png'):
    """Saves `figure` to PNG, reads it back and checks its size: (H, W, 3)."""
    path = tmp_path / name
    figure.savefig(path, dpi=figure.dpi)
    pixels = matplotlib.image.imread(path)[..., :3]
    width, height = figure.get_size_inches() * figure.dpi
    assert pixels.shape[:2] == (round(height), round(width))
    return pixels


def distinct_colours(pixels):
    return len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3),
                         axis=0))


def cell_pixels(pixels, ax, y, x, radius=2):
    """The mean colour of a small square at the centre of cell (y, x)."""
    column, row = ax.transData.transform((x, y))
    row = pixels.shape[0] - row  # display y grows upwards, image rows down
    row, column = int(round(row)), int(round(column))
    patch = pixels[row - radius:row + radius + 1,
                   column - radius:column + radius + 1]
    return patch.reshape(-1, 3).mean(axis=0)


# ---------------------------------------------------------------------------
# Heatmaps.


def test_plot_values_draws_into_current_subplot_with_grey_nan(tmp_path):
    values = np.arange(90, dtype=float).reshape(9, 10) / 9. - 1
    values[WALLS] = np.nan
    figure = plt.figure(figsize=(8, 3))
    plt.subplot(1, 2, 1)
    returned = grid_plots.plot_values(values)
    plt.title('left')  # seed-style code keeps working after the call
    assert returned is figure
    ax = figure.axes[0]
    assert ax.get_title() == 'left'
    assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0
    image, = ax.images
    assert image.get_clim() == (-1, 10)
    assert image.get_interpolation() == 'nearest'
    colorbar_ax = figure.axes[1]
    np.testing.assert_allclose(colorbar_ax.get_yticks(), [-1, 10])

    pixels = render(figure, tmp_path)
    assert distinct_colours(pixels) > 20
    wall = cell_pixels(pixels, ax, 0, 0)
    np.testing.assert_allclose(wall, matplotlib.colors.to_rgb('#7f7f7f'),
                               atol=0.01)
    # Low and high values land at opposite ends of the 'pink' colormap.
    assert cell_pixels(pixels, ax, 1, 1).sum() < cell_pixels(pixels, ax, 7,
                                                             8).sum()


def test_plot_values_into_given_axes():
    figure, (left, right) = plt.subplots(1, 2)
    assert grid_plots.plot_values(np.eye(3), ax=right) is figure
    assert not left.images and len(right.images) == 1


def test_plot_values_rejects_wrong_ndim():
    with pytest.raises(ValueError, match=r'\(H, W\).*\(2, 3, 4\)'):
        grid_plots.plot_values(np.zeros((2, 3, 4)))


@pytest.mark.filterwarnings('error')
def test_plot_state_value_matches_formula_and_ignores_nan(tmp_path):
    q = action_values()
    q[1, 1, 2] = np.nan  # a partly unknown cell uses the remaining actions
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        figure = grid_plots.plot_state_value(q, epsilon=0.2)
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert ax.get_title() == '$v(s)$'
    image, = ax.images
    expected = 0.8 * np.nanmax(q[~WALLS], -1) + 0.2 * np.nanmean(q[~WALLS], -1)
    data = image.get_array()
    np.testing.assert_allclose(data[~WALLS], expected)
    assert data.mask[WALLS].all()
    finite = q[np.isfinite(q)]
    assert image.get_clim() == (finite.min(), finite.max())
    assert distinct_colours(render(figure, tmp_path)) > 20


def test_plot_state_value_all_nan_uses_default_range(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        figure = grid_plots.plot_state_value(np.full((2, 3, 4), np.nan))
    assert figure.axes[0].images[0].get_clim() == (0, 1)
    render(figure, tmp_path)


@pytest.mark.parametrize('clip', [False, True])
def test_a_table_of_equal_values_is_drawn_not_refused(tmp_path, clip):
    q = np.zeros((2, 3, 4))  # A fresh Q-table that started at 0.
    for draw in (grid_plots.plot_state_value, grid_plots.plot_action_values):
        figure = draw(q, clip=clip)
        low, high = figure.axes[0].images[0].get_clim()
        assert low < 0. < high
        render(figure, tmp_path)


def test_plot_action_values_layout_titles_and_range(tmp_path):
    q = action_values()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        figure = grid_plots.plot_action_values(q)
    image_axes = [ax for ax in figure.axes if ax.images]
    assert len(image_axes) == 5
    by_title = {ax.get_title(): ax for ax in image_axes}
    assert set(by_title) == {
        r'$q(s, \mathrm{up})$', r'$q(s, \mathrm{right})$',
        r'$q(s, \mathrm{down})$', r'$q(s, \mathrm{left})$', '$v(s)$'}
    # Each action's heatmap sits on its side of v(s): up above, right to the
    # right, ... (the colour bars move the axes, so compare their centres).
    def centre(title):
        box = by_title[title].get_position()
        return np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])

    middle = centre('$v(s)$')
    for name, (dx, dy) in [('up', (0, 1)), ('right', (1, 0)),
                           ('down', (0, -1)), ('left', (-1, 0))]:
        offset = centre(r'$q(s, \mathrm{' + name + r'})$') - middle
        assert np.allclose(np.sign(np.round(offset, 2)), (dx, dy)), name
    # A following plt.title() lands on v(s), as in the seed.
    assert plt.gca() is by_title['$v(s)$']

    # The colour bars end at the data's own range, not a padded one.
    lo, hi = np.nanmin(q), np.nanmax(q)
    for action, name in enumerate(ACTION_NAMES):
        image = by_title[r'$q(s, \mathrm{' + name + r'})$'].images[0]
        np.testing.assert_allclose(image.get_clim(), (lo, hi))
        np.testing.assert_allclose(image.get_array()[~WALLS],
                                   q[..., action][~WALLS])
    np.testing.assert_allclose(by_title['$v(s)$'].images[0].get_clim(),
                               (lo, hi))
    assert distinct_colours(render(figure, tmp_path)) > 50


@pytest.mark.parametrize('shape', [(9, 10, 3), (9, 10), (2, 9, 10, 4)])
def test_plot_action_values_rejects_bad_shape(shape):
    with pytest.raises(ValueError, match=r'\(H, W, 4\).*' +
                       str(shape).replace('(', r'\(').replace(')', r'\)')):
        grid_plots.plot_action_values(np.zeros(shape))


# ---------------------------------------------------------------------------
# Grids and policies.


def test_plot_grid_walls_dark_hazards_tinted_and_letters(tmp_path):
    figure = grid_plots.plot_grid(WALLS, start=START, goal=GOAL,
                                  hazards=HAZARDS, title='Room')
    ax = figure.axes[0]
    assert ax.get_title() == 'Room'
    texts = {text.get_text(): text.get_position() for text in ax.texts}
    assert texts == {'S': (2, 2), 'G': (2, 7)}  # text positions are (x, y)
    np.testing.assert_allclose(figure.get_size_inches(), (4, 4), atol=0.5)

    pixels = render(figure, tmp_path)
    wall = cell_pixels(pixels, ax, 0, 0)
    free = cell_pixels(pixels, ax, 5, 5)
    hazard = cell_pixels(pixels, ax, 7, 5)
    assert wall.mean() < free.mean() - 0.4
    assert hazard[0] > hazard[2] + 0.3  # red/orange, unlike the blue cells
    assert free[2] >= free[0]
    # A grid line runs between two free cells, in the renderer's line colour
    # (figures and video frames share one palette; it used to be white on blue).
    column, row = ax.transData.transform((5.5, 5))
    line = pixels[pixels.shape[0] - int(round(row)), int(round(column))]
    np.testing.assert_allclose(line, palette.GRID_LINE, atol=0.05)
    assert line.mean() < free.mean() - 0.05


def test_a_figure_of_a_world_has_the_colours_of_its_rendered_frame(tmp_path):
    world = gridlab.build_gridworld_task('cliff', seed=0)
    frame = world.render()  # What RGB observations and videos show.
    cell = frame.shape[0] // world.shape[0]
    figure = world.plot_grid(add_start=False)
    ax = figure.axes[0]
    pixels = render(figure, tmp_path)
    cliff = tuple(int(i) for i in np.argwhere(world.cliffs)[0])
    free = tuple(int(i) for i in np.argwhere(~world.walls & ~world.cliffs)[0])
    for (y, x), colour in ((free, rendering.FREE), ((0, 0), rendering.WALL),
                           (cliff, rendering.HAZARD)):
        in_frame = frame[y * cell + cell // 2, x * cell + cell // 2]
        np.testing.assert_array_equal(in_frame, colour)
        np.testing.assert_allclose(cell_pixels(pixels, ax, y, x), np.divide(colour, 255.),
                                   atol=0.02)


def test_the_facade_names_the_figures_where_they_live():
    assert gridlab.plot_grid is grid_plots.plot_grid
    assert gridlab.plot_learning_curve is curves.plot_learning_curve


def test_plot_grid_figure_follows_aspect():
    width, height = grid_plots.plot_grid(np.zeros((4, 12), bool)
                                         ).get_size_inches()
    assert width == pytest.approx(4) and height < 2.5
    width, height = grid_plots.plot_grid(np.zeros((12, 6), bool)
                                         ).get_size_inches()
    assert height < 4.5 and width == pytest.approx(2)


def test_plot_grid_into_axes_without_start_or_goal():
    figure, ax = plt.subplots()
    assert grid_plots.plot_grid(WALLS, ax=ax) is figure
    assert not ax.texts and len(ax.images) == 1


@pytest.mark.parametrize('kwargs, match', [
    (dict(walls=np.zeros(5, bool)), r'walls.*\(H, W\).*\(5,\)'),
    (dict(walls=WALLS, hazards=np.zeros((3, 3), bool)),
     r'hazards.*\(9, 10\).*\(3, 3\)'),
    (dict(walls=WALLS, start=(9, 0)), r'start \(9, 0\).*\(9, 10\)'),
    (dict(walls=WALLS, goal=(1,)), r'goal.*\(y, x\)'),
])
def test_plot_grid_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grid_plots.plot_grid(**kwargs)


def arrows(ax):
    """{(y, x): (dx, dy)} of the quiver in `ax`, in data coordinates."""
    quiver, = [c for c in ax.collections
               if isinstance(c, matplotlib.quiver.Quiver)]
    return {(int(y), int(x)): (np.sign(u), np.sign(v))
            for (x, y), u, v in zip(quiver.XY, quiver.U, quiver.V)}


def test_plot_policy_arrows_everywhere_but_walls_hazards_goal_and_none(tmp_path):
    policy = np.zeros(WALLS.shape, dtype=int)
    policy[:, 5:] = 1
    policy[6, :] = 2
    policy[1, 8] = 3
    policy[3, 3] = -1  # no action here
    figure = grid_plots.plot_policy(WALLS, policy, start=START, goal=GOAL,
                                    hazards=HAZARDS)
    ax = figure.axes[0]
    assert ax.get_title() == 'Policy'
    drawn = arrows(ax)
    expected_cells = {(y, x) for y, x in zip(*np.nonzero(~WALLS & ~HAZARDS))}
    expected_cells -= {GOAL, (3, 3)}
    assert set(drawn) == expected_cells
    # Screen directions: up is -y in image coordinates.
    direction = {0: (0, -1), 1: (1, 0), 2: (0, 1), 3: (-1, 0)}
    for cell, dxdy in drawn.items():
        assert dxdy == direction[policy[cell]], cell
    assert sorted(t.get_text() for t in ax.texts) == ['G', 'S']

    pixels = render(figure, tmp_path)
    # The arrow's dark shaft crosses the middle of a free cell.
    assert cell_pixels(pixels, ax, 5, 5, radius=1).mean() < 0.5
    assert distinct_colours(pixels) > 10


def test_plot_policy_accepts_float_nan_as_no_action():
    policy = np.ones(WALLS.shape)
    policy[2, 5] = np.nan
    figure = grid_plots.plot_policy(WALLS, policy, title=None)
    assert (2, 5) not in arrows(figure.axes[0])
    assert figure.axes[0].get_title() == ''


@pytest.mark.parametrize('policy, match', [
    (np.zeros((9, 9), int), r'\(9, 10\).*\(9, 9\)'),
    (np.full((9, 10), 4), r'got 4'),
    (np.full((9, 10), 0.5), r'integer'),
])
def test_plot_policy_rejects_bad_policy(policy, match):
    with pytest.raises(ValueError, match=match):
        grid_plots.plot_policy(WALLS, policy)


@pytest.mark.filterwarnings('error')
def test_greedy_policy_argmax_with_minus_one_on_walls():
    q = np.zeros((2, 3, 4))
    q[0, 0] = [0, 3, 1, 2]
    q[0, 1] = [np.nan, np.nan, 5, 1]
    q[0, 2] = np.nan
    q[1, 0] = [1, 1, 1, 1]  # ties go to the first action
    q[1, 1] = [0, 0, 0, 9]
    q[1, 2] = [-5, -1, -2, -3]
    np.testing.assert_array_equal(grid_plots.greedy_policy(q),
                                  [[1, 2, -1], [0, 3, 1]])
    assert grid_plots.greedy_policy(q).dtype == np.int64
    with pytest.raises(ValueError, match=r'\(H, W, A\).*\(3, 4\)'):
        grid_plots.greedy_policy(np.zeros((3, 4)))


def test_plot_greedy_policy(tmp_path):
    q = action_values()
    figure = grid_plots.plot_greedy_policy(WALLS, q, start=START, goal=GOAL)
    ax = figure.axes[0]
    assert ax.get_title() == 'Greedy policy'
    greedy = grid_plots.greedy_policy(q)
    direction = {0: (0, -1), 1: (1, 0), 2: (0, 1), 3: (-1, 0)}
    drawn = arrows(ax)
    assert len(drawn) == (~WALLS).sum() - 1
    for cell, dxdy in drawn.items():
        assert dxdy == direction[greedy[cell]]
    render(figure, tmp_path)
    with pytest.raises(ValueError, match=r'\(9, 10, A\).*\(9, 9, 4\)'):
        grid_plots.plot_greedy_policy(WALLS, np.zeros((9, 9, 4)))
    with pytest.raises(ValueError, match=r'A <= 4.*\(9, 10, 5\)'):
        grid_plots.plot_greedy_policy(WALLS, np.zeros((9, 10, 5)))


# ---------------------------------------------------------------------------
# Learning curves.


def test_moving_average():
    x = np.array([1., 2., 3., 4., 10.])
    np.testing.assert_allclose(curves.moving_average(x, 2),
                               [1.5, 2.5, 3.5, 7])
    np.testing.assert_allclose(curves.moving_average(x, 1), x)
    np.testing.assert_allclose(curves.moving_average(x, 5), [4])
    for window in (0, 6, 2.5):
        with pytest.raises(ValueError, match='window'):
            curves.moving_average(x, window)
    with pytest.raises(ValueError, match=r'\(N,\).*\(2, 2\)'):
        curves.moving_average(np.zeros((2, 2)), 1)


def test_plot_learning_curve_lines_match_hand_computed_average(tmp_path):
    returns = np.random.default_rng(1).normal(size=200).cumsum()
    figure = curves.plot_learning_curve(returns, label='q-learning')
    ax = figure.axes[0]
    smooth, raw = ax.lines
    window = 10  # 200 / 20
    expected = [returns[i:i + window].mean() for i in range(200 - window + 1)]
    np.testing.assert_allclose(smooth.get_ydata(), expected)
    np.testing.assert_array_equal(smooth.get_xdata(), np.arange(9, 200))
    np.testing.assert_array_equal(raw.get_ydata(), returns)
    assert raw.get_alpha() < 0.5 < smooth.get_linewidth() - raw.get_linewidth()
    assert raw.get_color() == smooth.get_color()
    assert ax.get_xlabel() == 'Episode' and ax.get_ylabel() == 'Return'
    assert distinct_colours(render(figure, tmp_path)) > 10


def test_plot_learning_curve_compares_agents_on_one_axes(tmp_path):
    figure = curves.plot_learning_curve(np.arange(50.), window=5, label='a')
    ax = figure.axes[0]
    assert curves.plot_learning_curve(np.arange(30.)[::-1], window=5,
                                      ax=ax, label='b') is figure
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['a', 'b']
    assert ax.lines[0].get_color() != ax.lines[2].get_color()
    render(figure, tmp_path)


def test_plot_learning_curve_short_and_bad_input():
    figure = curves.plot_learning_curve([1., 2., 6.], window=10)
    smooth = figure.axes[0].lines[0]
    np.testing.assert_allclose(smooth.get_ydata(), [3.])
    np.testing.assert_array_equal(smooth.get_xdata(), [2])
    # The default window of a short run is one episode.
    figure = curves.plot_learning_curve([5.], xlabel='Step', ylabel='R')
    np.testing.assert_allclose(figure.axes[0].lines[0].get_ydata(), [5.])
    assert figure.axes[0].get_xlabel() == 'Step'
    assert figure.axes[0].get_legend() is None
    with pytest.raises(ValueError, match='empty'):
        curves.plot_learning_curve([])
    with pytest.raises(ValueError, match='window'):
        curves.plot_learning_curve([1., 2.], window=0)
    with pytest.raises(ValueError, match=r'\(N,\).*\(2, 2\)'):
        curves.plot_learning_curve(np.zeros((2, 2)))


def test_default_window_is_clipped():
    for n, window in [(1, 1), (30, 2), (200, 10), (10_000, 100)]:
        figure = curves.plot_learning_curve(np.zeros(n))
        assert len(figure.axes[0].lines[0].get_xdata()) == n - window + 1
        plt.close(figure)


# ---------------------------------------------------------------------------
# Pictures that tell the truth: ranges, clipping, marks, highlights.


def colour_bar_labels(figure):
    """Tick labels of every colour bar in the figure."""
    return [[t.get_text() for t in ax.get_yticklabels()]
            for ax in figure.axes if ax.get_label() == '<colorbar>']


def test_colour_bar_ends_at_the_data_range_with_short_labels():
    q = np.zeros((3, 4, 4))
    q[..., 0] = np.linspace(-1.91, 9.99, 12).reshape(3, 4)
    q[..., 1:] = 0.5
    figure = grid_plots.plot_action_values(q)
    for ax in figure.axes:
        if ax.images:
            np.testing.assert_allclose(ax.images[0].get_clim(), (-1.91, 9.99))
    figure.canvas.draw()
    labels = colour_bar_labels(figure)
    assert len(labels) == 5
    assert all(ticks == ['-1.91', '9.99'] for ticks in labels)
    assert not figure.texts  # nothing clipped, nothing said


def cliff_q():
    """Values 0..9 across a 4x6 grid; stepping down from row 2 costs -100."""
    q = np.tile(np.linspace(0, 9, 24).reshape(4, 6)[..., None], (1, 1, 4))
    q[2, 1:5, 2] = -100.
    q[3, 1:5] = np.nan  # the cliff cells themselves
    q[3, 0] = np.nan  # a wall
    return q


def test_cliff_values_are_clipped_and_the_figure_says_so(tmp_path):
    q = cliff_q()
    cliffs = np.zeros((4, 6), bool)
    cliffs[3, 1:5] = True
    walls = np.zeros((4, 6), bool)
    walls[3, 0] = True
    figure = grid_plots.plot_action_values(q, walls=walls, cliffs=cliffs,
                                           start=(3, 5), goal=(0, 5),
                                           title='q-learning on cliff')
    down = next(ax for ax in figure.axes
                if ax.get_title() == r'$q(s, \mathrm{down})$')
    rest = q[np.isfinite(q) & (q > -100)]
    # Without clipping the bottom would be -100 and 0..9 one colour.
    np.testing.assert_allclose(down.images[0].get_clim(),
                               (rest.min(), rest.max()))
    note, = [t.get_text() for t in figure.texts if t is not figure._suptitle]
    assert note.startswith('Clipped: 4 values below 0 ') and '-100' in note
    assert figure._suptitle.get_text() == 'q-learning on cliff'
    colour_bar = next(ax for ax in figure.axes if ax.get_label() == '<colorbar>')
    assert colour_bar._colorbar.extend == 'min'
    assert sorted(t.get_text() for t in down.texts) == ['G', 'S']

    pixels = render(figure, tmp_path)
    # Two ordinary cells of different value still get different colours.
    assert np.abs(cell_pixels(pixels, down, 0, 0) -
                  cell_pixels(pixels, down, 2, 0)).sum() > 0.2
    # A cliff cell is orange; a wall cell is dark blue: never the same.
    cliff = cell_pixels(pixels, down, 3, 2, radius=3)
    wall = cell_pixels(pixels, down, 3, 0)
    assert cliff[0] > cliff[2] + 0.2 and wall.mean() < 0.35
    hatches = [p for p in down.patches if p.get_hatch()]
    assert len(hatches) == 4

    unclipped = grid_plots.plot_action_values(q, clip=False)
    assert unclipped.axes[0].images[0].get_clim()[0] == -100
    assert not unclipped.texts


def test_state_value_marks_start_goal_and_clips():
    figure = grid_plots.plot_state_value(cliff_q(), start=(3, 5), goal=(0, 5))
    ax = figure.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ['G', 'S']
    assert ax.images[0].get_clim()[0] == 0
    with pytest.raises(ValueError, match=r'cliffs.*\(4, 6\).*\(2, 2\)'):
        grid_plots.plot_state_value(cliff_q(), cliffs=np.zeros((2, 2), bool))


def test_grid_with_agent_keeps_start_and_goal_marked(tmp_path):
    figure = grid_plots.plot_grid(WALLS, start=START, goal=GOAL, agent=START)
    ax = figure.axes[0]
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert set(texts) == {'S', 'G'}
    assert texts['S'] != (START[1], START[0])  # moved to the corner
    disc, = [p for p in ax.patches if p.get_label() == 'agent']
    assert disc.center == (START[1], START[0])
    pixels = render(figure, tmp_path)
    assert cell_pixels(pixels, ax, *START)[0] > 0.7  # red agent on the start
    goal = cell_pixels(pixels, ax, GOAL[0], GOAL[1] + 0.3)
    assert goal[1] > goal[0] and goal[1] > goal[2]  # tinted green


def test_policy_highlights_cells_where_the_action_is_not_optimal(tmp_path):
    policy = np.ones(WALLS.shape, dtype=int)
    optimal = np.ones(WALLS.shape, dtype=bool)
    optimal[2, 5] = optimal[6, 7] = False
    optimal[0, 0] = False  # a wall: never highlighted
    figure = grid_plots.plot_policy(WALLS, policy, start=START, goal=GOAL,
                                    optimal=optimal, agent='sarsa',
                                    task='obstacle')
    ax = figure.axes[0]
    assert ax.get_title() == 'Policy: sarsa on obstacle'
    frames = {(int(p.get_y() + 0.44 + 0.5), int(p.get_x() + 0.44 + 0.5))
              for p in ax.patches if p.get_label() == 'not optimal'}
    assert frames == {(2, 5), (6, 7)}
    free = (~WALLS).sum() - 1  # every free cell but the goal has an arrow
    assert ax.get_xlabel() == f'2 of {free} cells not optimal (red)'
    pixels = render(figure, tmp_path)
    column, row = ax.transData.transform((5 - 0.44, 2))
    edge = pixels[pixels.shape[0] - int(round(row)), int(round(column))]
    assert edge[0] > 0.6 and edge[1] < 0.4  # a red frame


def test_greedy_policy_judged_against_q_star():
    q = action_values()
    q_star = q.copy()
    greedy = grid_plots.greedy_policy(q)
    # Make the greedy action of two cells worse than another under Q*.
    for y, x in [(1, 1), (5, 5)]:
        q_star[y, x, greedy[y, x]] = np.nanmin(q) - 10
    figure = grid_plots.plot_greedy_policy(WALLS, q, start=START, goal=GOAL,
                                           q_star=q_star, agent='dqn')
    ax = figure.axes[0]
    assert ax.get_title() == 'Greedy policy: dqn'
    frames = {(round(p.get_y() + 0.44), round(p.get_x() + 0.44))
              for p in ax.patches if p.get_label() == 'not optimal'}
    assert frames == {(1, 1), (5, 5)}
    with pytest.raises(ValueError, match='not both'):
        grid_plots.plot_greedy_policy(WALLS, q, q_star=q, optimal=~WALLS)


def test_learning_curve_clips_a_first_disaster_and_says_so():
    returns = np.r_[-250., np.linspace(-30, -12, 99)]
    figure = curves.plot_learning_curve(returns, agent='q-learning',
                                        task='cliff', seed=3)
    ax = figure.axes[0]
    assert ax.get_title() == 'q-learning on cliff, seed 3'
    # The first moving-average point, (-250 - 30 - ... ) / 5, sets the bottom.
    first_mean = returns[:5].mean()
    low, high = ax.get_ylim()
    assert first_mean - 5 < low < first_mean and -12 < high < -8
    # What was clipped is said in the legend, after the curves.
    *legend, note = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ['mean of 5 episodes', 'each episode']
    assert note.startswith(f'Clipped: 1 episode below {first_mean:.3g}')
    assert note.endswith('(lowest -250) not shown')
    figure.canvas.draw()
    ticks = ax.get_xticks()
    np.testing.assert_array_equal(ticks, np.round(ticks))

    full = curves.plot_learning_curve(returns, clip=False)
    assert full.axes[0].get_ylim()[0] < -250
    assert len(full.axes[0].get_legend().get_texts()) == 2  # no note


def test_learning_curve_has_a_steps_axis_and_window_in_the_legend_title(tmp_path):
    returns = np.arange(40.)
    lengths = np.full(40, 10)
    lengths[:20] = 30  # long early episodes
    figure = curves.plot_learning_curve(returns, window=4, label='sarsa',
                                        episode_lengths=lengths)
    ax = figure.axes[0]
    assert ax.get_legend().get_title().get_text() == \
        'moving average over 4 episodes'
    top, = ax.child_axes
    assert top.get_xlabel() == 'Environment steps'
    # Episode 19 ends after 20 * 30 steps, episode 39 after 600 + 200.
    to_steps = top._functions[0]
    np.testing.assert_allclose(to_steps(np.array([0, 19, 39])), [30, 600, 800])
    render(figure, tmp_path)
    with pytest.raises(ValueError, match='episode_lengths.*40'):
        curves.plot_learning_curve(returns, episode_lengths=lengths[:5])



def test_learning_curve_overlays_the_greedy_evaluations_when_there_are_some():
    returns = np.r_[np.full(20, -5.), np.full(20, 2.)]  # exploratory, noisy later
    lengths = np.full(40, 10)  # episode i ends at step 10 * (i + 1)
    plain = curves.plot_learning_curve(returns, episode_lengths=lengths).axes[0]
    assert len(plain.lines) == 2
    assert not any('evaluation' in t.get_text() for t in plain.get_legend().get_texts())

    figure = curves.plot_learning_curve(returns, episode_lengths=lengths,
                                        evaluation_steps=[100, 250, 400],
                                        evaluation_returns=[3., 9., 10.])
    ax = figure.axes[0]
    smooth, raw, greedy = ax.lines
    np.testing.assert_allclose(greedy.get_ydata(), [3., 9., 10.])
    # At the episodes that end at those steps: the evaluations' place in training.
    np.testing.assert_allclose(greedy.get_xdata(), [9., 24., 39.])
    assert greedy.get_marker() not in (None, '', 'None')
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [smooth.get_label(), raw.get_label(), greedy.get_label()]
    assert 'exploratory' in smooth.get_label() and 'training' in raw.get_label()
    assert 'greedy evaluation' in greedy.get_label()
    # Every evaluation is inside the axes, above the training returns too.
    low, high = ax.get_ylim()
    assert low < -5 and high > 10
    assert ax.get_xlim()[0] <= 9 and ax.get_xlim()[1] >= 39

    # Comparisons on one axes: each agent's evaluations say whose they are.
    figure = curves.plot_learning_curve(returns, label='dqn', episode_lengths=lengths,
                                        evaluation_steps=[400], evaluation_returns=[1.])
    assert figure.axes[0].lines[-1].get_label() == 'dqn: greedy evaluation'
    assert figure.axes[0].lines[-1].get_color() == figure.axes[0].lines[0].get_color()
    with pytest.raises(ValueError, match='evaluation_returns'):
        curves.plot_learning_curve(returns, episode_lengths=lengths,
                                   evaluation_steps=[100, 200], evaluation_returns=[1.])
    with pytest.raises(ValueError, match='episode_lengths'):
        curves.plot_learning_curve(returns, evaluation_steps=[100],
                                   evaluation_returns=[1.])

def test_gridworld_pictures_mark_start_and_goal_and_judge_the_policy():
    import gridlab  # pylint: disable=import-outside-toplevel
    env = gridlab.build_gridworld_task('obstacle')
    env.reset()
    ax = env.plot_state().axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ['G', 'S']
    assert [p.get_label() for p in ax.patches] == ['agent']
    q_star = gridlab.optimal_q_values(env)
    wrong = q_star.copy()
    y, x = env.start_state
    wrong[y, x] = -q_star[y, x]  # the start's greedy action is now the worst
    ax = env.plot_greedy_policy(wrong, q_star=q_star, agent='planner',
                                task='obstacle').axes[0]
    assert ax.get_title() == 'Greedy policy: planner on obstacle'
    frames = [p for p in ax.patches if p.get_label() == 'not optimal']
    assert [(round(p.get_y() + 0.44), round(p.get_x() + 0.44))
            for p in frames] == [env.start_state]
