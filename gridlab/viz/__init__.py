"""Seeing what happened: pictures, video and reports (matplotlib, imageio).

    plotting.py   grid pictures, heatmaps of Q, policies, learning curves
    video.py      frames to MP4/GIF, annotated episodes
    recording.py  recording greedy episodes as frames
    report.py     report.html for a run or a sweep
"""
