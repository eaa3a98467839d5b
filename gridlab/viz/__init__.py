"""Seeing what happened: pictures, video and reports (matplotlib, imageio).

    palette.py         the figures' colours: the world's (gridlab.envs.palette) and their own
    figures.py         what every figure shares: argument checks, titles, robust limits
    grid_plots.py      heatmaps of values, grids, policies (arrows; not-optimal marks)
    curves.py          learning curves of episode returns
    statistics.py      interval estimates, performance profiles, curves with bands
    diagnostics.py     bandit comparisons, value-iteration convergence, recovered rewards
    world_pictures.py  a GridWorld's own pictures (world.plot_grid() and siblings)
    video.py           frames to MP4/GIF, annotated episodes
    recording.py       recording greedy episodes as frames
    report.py          report.html for a run or a sweep
"""
