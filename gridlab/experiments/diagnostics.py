"""Diagnostics for bandit experiments and for watching values converge.

    results = run_bandit_experiment(lambda seed: MultiArmedBandit(means, seed=seed),
                                    {'UCB': lambda spec, seed: UCB(spec, seed=seed)},
                                    steps=1000, runs=20)
    plot_bandit_comparison(results)       # four panels, every agent on each

`run_bandit_experiment` averages over independent runs (a fresh bandit and a
fresh agent per run, seeded by run number), as bandit results always need.
"""

from typing import Callable, Dict, NamedTuple, Optional

import matplotlib.pyplot as plt
import numpy as np

from gridlab.core import validation
from gridlab.envs.wrappers import setup_environment
from gridlab.loops.loggers import NoOpLogger
from gridlab.loops.environment_loop import EnvironmentLoop


class BanditResults(NamedTuple):
    """Per agent, arrays of shape [runs, steps]."""
    rewards: Dict[str, np.ndarray]
    best_arm: Dict[str, np.ndarray]  # 1 where the pull was a best arm.
    regret: Dict[str, np.ndarray]  # Expected reward lost by each pull.


def run_bandit_experiment(make_bandit: Callable, agents: Dict[str, Callable],
                          steps: int = 1_000, runs: int = 20) -> BanditResults:
    """Runs every agent on fresh bandits; `make_bandit(seed)`, `agent(spec, seed)`."""
    steps = validation.check_positive_int('steps', steps)
    runs = validation.check_positive_int('runs', runs)
    results = BanditResults({}, {}, {})
    for name, make_agent in agents.items():
        rewards = np.zeros((runs, steps))
        best = np.zeros((runs, steps))
        regret = np.zeros((runs, steps))
        for run in range(runs):
            bandit = make_bandit(run)
            environment, spec = setup_environment(bandit)
            agent = make_agent(spec, run)
            pulls = []
            recorder = _RecordPulls(agent, bandit, pulls)
            loop = EnvironmentLoop(environment, recorder, logger=NoOpLogger(),
                                   progress=False)
            for t in range(steps):
                rewards[run, t] = loop.run_episode()['episode_return']
            best[run] = [regret_of == 0. for regret_of in pulls]
            regret[run] = pulls
        results.rewards[name], results.best_arm[name] = rewards, best
        results.regret[name] = regret
    return results


class _RecordPulls:
    """Passes every call to `agent`, noting the regret of each pull."""

    def __init__(self, agent, bandit, regrets):
        self._agent, self._bandit, self._regrets = agent, bandit, regrets

    def select_action(self, observation):
        arm = self._agent.select_action(observation)
        self._regrets.append(self._bandit.regret(arm))
        return arm

    def observe_first(self, timestep):
        self._agent.observe_first(timestep)

    def observe(self, action, next_timestep):
        self._agent.observe(action, next_timestep)

    def update(self, wait=False):
        self._agent.update(wait)


def _mean_and_band(curves: np.ndarray, z: float = 1.96):
    """Mean over runs and the half-width of its normal-approximation interval."""
    mean = curves.mean(axis=0)
    runs = curves.shape[0]
    if runs < 2:
        return mean, np.zeros_like(mean)
    return mean, z * curves.std(axis=0, ddof=1) / np.sqrt(runs)


def plot_bandit_comparison(results: BanditResults, smooth: Optional[int] = None):
    """Best-arm frequency, average reward, cumulative reward and regret.

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
