"""Diagnostic figures of the small experiments the tutorials run.

    plot_bandit_comparison(results)     bandit agents side by side (experiments.bandits)
    plot_q_convergence(history, ...)    Q-value iteration beside Q-learning, one (s, a)
    plot_rewards(environment, reward)   the true and the recovered reward of inverse RL

Each returns the pyplot figure it drew.
"""

from typing import Optional

import matplotlib.pyplot as plt
import numpy as np

from gridlab.core import validation
from gridlab.planning import irl


def _mean_and_band(curves: np.ndarray, z: float = 1.96):
    """Mean over runs and the half-width of its normal-approximation interval."""
    mean = curves.mean(axis=0)
    runs = curves.shape[0]
    if runs < 2:
        return mean, np.zeros_like(mean)
    return mean, z * curves.std(axis=0, ddof=1) / np.sqrt(runs)


def plot_bandit_comparison(results, smooth: Optional[int] = None):
    """Best-arm frequency, average reward, cumulative reward and regret.

    `results` is a `gridlab.experiments.bandits.BanditResults`: per agent,
    [runs, steps] arrays of rewards, best-arm pulls and regret.

    Each line is the mean over runs with a shaded 95% confidence band (mean
    +- 1.96 standard errors over the runs); every panel has a legend. The
    per-step panels (best arm, average reward) are also averaged over a
    moving window of `smooth` steps (default: a fiftieth of the run), which
    the panel titles state, so that several noisy agents do not merge into
    one smear.
    """
    first = next(iter(results.rewards.values()))
    runs, steps = first.shape
    if smooth is None:
        smooth = max(1, steps // 50)
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)) \
            or not 1 <= smooth <= steps:
        raise ValueError(f'smooth must be an int between 1 and {steps} (the '
                         f'steps per run), got {smooth!r}')
    window = '' if smooth == 1 else f'mean of {smooth} steps'
    figure, axes = plt.subplots(2, 2, figsize=(11, 7))
    panels = [(axes[0, 0], results.best_arm, False, 'best arm pulled (fraction' +
               (f', {window})' if window else ')')),
              (axes[0, 1], results.rewards, False, 'average reward' +
               (f' ({window})' if window else '')),
              (axes[1, 0], results.rewards, True, 'cumulative reward'),
              (axes[1, 1], results.regret, True, 'cumulative regret')]
    kernel = np.full(smooth, 1. / smooth)
    for ax, series, cumulative, title in panels:
        for name, values in series.items():
            if cumulative:
                curve, x = values.cumsum(axis=1), np.arange(1, steps + 1)
            else:  # Smoothed per run, so the band is over runs as well.
                curve = np.stack([np.convolve(row, kernel, mode='valid')
                                  for row in values])
                x = np.arange(smooth, steps + 1)
            mean, half = _mean_and_band(curve)
            line, = ax.plot(x, mean, label=name, linewidth=1.5)
            ax.fill_between(x, mean - half, mean + half,
                            color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(title)
        ax.set_xlabel('step')
        ax.legend(title=f'mean of {runs} runs, 95% band', fontsize=8,
                  title_fontsize=8)
    figure.tight_layout()
    return figure


def plot_q_convergence(history: np.ndarray, learned: np.ndarray, state: int,
                       action: int, exact: float):
    """Q-value iteration against Q-learning for one (state, action).

    Args:
      history: [iterations, S, A], from `planning.value_iteration_history`.
      learned: Q-learning's estimate of Q(state, action) after each step.
      exact: the converged Q*(state, action).
    """
    history = np.asarray(history)
    if history.ndim != 3:
        raise ValueError(f'history must be [iterations, S, A], got shape {history.shape}')
    state = validation.check_int('state', state, 0, history.shape[1] - 1)
    action = validation.check_int('action', action, 0, history.shape[2] - 1)
    exact = validation.check_finite('exact', exact)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5), sharey=True)
    left.plot(history[:, state, action], label=f'Q({state}, {action})')
    left.set_title('Q-value iteration')
    left.set_xlabel('iteration')
    right.plot(learned, label=f'Q({state}, {action})')
    right.set_title('Q-learning')
    right.set_xlabel('step')
    for ax in (left, right):
        ax.axhline(exact, color='grey', linestyle=':', label='exact Q*')
    right.legend()
    figure.tight_layout()
    return figure


def plot_rewards(environment, recovered: np.ndarray, true: Optional[np.ndarray] = None,
                 title: str = 'Recovered reward'):
    """True (entry) reward and recovered reward side by side as heatmaps; a Figure.

    Each panel has its own colour scale: IRL recovers a reward only up to
    shifts and scales that leave the optimal policy unchanged.
    """
    if true is None:
        true = irl.entry_rewards(environment)
    recovered = np.asarray(recovered, dtype=np.float64).reshape(environment.shape)
    recovered = np.where(environment.walls, np.nan, recovered)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, values, name in ((axes[0], np.asarray(true), 'True reward (on entering)'),
                               (axes[1], recovered, title)):
        image = axis.imshow(values, cmap='viridis', interpolation='nearest')
        axis.set_title(name)
        axis.set_xticks([])
        axis.set_yticks([])
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
        goal_y, goal_x = environment.goal_state
        axis.text(goal_x, goal_y, 'G', ha='center', va='center', color='white')
    figure.tight_layout()
    return figure
