"""A run's pictures and videos: the learning curve, Q heatmaps, the greedy
policy judged by planning, and annotated greedy episodes."""

import pathlib
from typing import Optional

from gridlab.core import HasQValues, agent_discount, files
from gridlab.evaluation import judging
from gridlab.viz import curves, grid_plots, recording
from gridlab.viz import video as video_lib

VIDEO_FRAME_CAP = 300  # A balanced CartPole must not hold a gigabyte of frames.


def save_figure(figure, path: pathlib.Path) -> None:
    """Writes a matplotlib figure atomically and closes it."""
    import matplotlib.pyplot as plt
    try:
        with files.atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100, bbox_inches='tight')
    finally:
        plt.close(figure)


def write_evaluation_video(environment, agent, path, label: Optional[str] = None) -> None:
    """One greedy episode, annotated (step, reward, return; held first and last
    frames), as an MP4 or GIF at the environment's frame rate."""
    frame_rate = getattr(environment, 'render_fps', 8)
    episodes = recording.record_episodes(environment, agent, episodes=1,
                                         max_steps=VIDEO_FRAME_CAP)
    video_lib.save_video(video_lib.annotate_episodes(episodes, frame_rate, label=label),
                         path, frame_rate=frame_rate)


def write_learning_curve(rows, path: pathlib.Path, *, agent: str, task: str,
                         seed: int, evaluations=()) -> None:
    """learning_curve.png from episode rows (those not cut short), with the
    periodic greedy evaluations (evaluation.csv's rows) over them."""
    lengths = [row.get('episode_length') for row in rows]
    known = None not in lengths  # Evaluations are placed by episode lengths.
    save_figure(curves.plot_learning_curve(
        [row['episode_return'] for row in rows],
        episode_lengths=lengths if known else None,
        evaluation_steps=[row['total_steps'] for row in evaluations]
        if evaluations and known else None,
        evaluation_returns=[row['mean_return'] for row in evaluations]
        if evaluations and known else None,
        agent=agent, task=task, seed=seed), path)


def optimal_fraction(environment, actor) -> float:
    """The share of free cells where the actor's greedy choice is optimal."""
    q_star = judging.optimal_q_values(environment, agent_discount(actor))
    if isinstance(actor, HasQValues):
        return judging.optimal_fraction(environment, judging.q_table(actor, environment),
                                        q_star)
    return judging.actions_optimal_fraction(
        environment, judging.greedy_actions(actor, environment), q_star)


def policy_pictures(environment, agent, out: pathlib.Path, name: str, task: str) -> dict:
    """Heatmaps of Q (value agents), the greedy policy with its non-optimal
    cells marked (judged by planning), and how optimal it is."""
    q_star = judging.optimal_q_values(environment, agent_discount(agent))
    if isinstance(agent, HasQValues):
        q = judging.q_table(agent, environment)
        save_figure(grid_plots.plot_action_values(
            q, walls=environment.walls, cliffs=environment.cliffs,
            start=environment.start_state, goal=environment.goal_state,
            title=f'{name} on {task}'), out / 'q_values.png')
        save_figure(environment.plot_greedy_policy(q, q_star=q_star, agent=name,
                                                   task=task), out / 'policy.png')
        return {'optimal_fraction': judging.optimal_fraction(environment, q, q_star)}
    actions = judging.greedy_actions(agent, environment)
    save_figure(environment.plot_policy(
        actions, title='Greedy policy', optimal=judging.optimal_actions(actions, q_star),
        agent=name, task=task), out / 'policy.png')
    return {'optimal_fraction': judging.actions_optimal_fraction(
        environment, actions, q_star)}
