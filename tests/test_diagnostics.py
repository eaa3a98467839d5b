"""Bandit experiments and convergence plots."""

import os

os.environ.setdefault('MPLBACKEND', 'Agg')

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import gridlab  # noqa: E402
from gridlab.experiments import bandits  # noqa: E402
from gridlab.viz import diagnostics  # noqa: E402
from agents import UCB, EpsilonGreedy  # noqa: E402

MEANS = [0.2, 0.5, 1.0, 0.4]


def test_bandit_experiment_and_comparison_plot(tmp_path):
    results = bandits.run_bandit_experiment(
        lambda seed: gridlab.MultiArmedBandit(MEANS, scale=0.5, seed=seed),
        {'epsilon-greedy': lambda spec, seed: EpsilonGreedy(spec, seed=seed),
         'UCB': lambda spec, seed: UCB(spec, seed=seed)},
        steps=400, runs=5)
    for series in results:
        assert set(series) == {'epsilon-greedy', 'UCB'}
        assert all(values.shape == (5, 400) for values in series.values())
    for name in ('epsilon-greedy', 'UCB'):
        best = results.best_arm[name]
        assert best[:, -100:].mean() > best[:, :20].mean()
        regret = results.regret[name]
        assert np.all(regret >= 0) and np.all((regret == 0) == (best == 1))
    figure = diagnostics.plot_bandit_comparison(results)
    assert len(figure.axes) == 4
    assert all(len(ax.lines) == 2 for ax in figure.axes)
    cumulative = figure.axes[3].lines[1].get_ydata()
    np.testing.assert_allclose(cumulative, results.regret['UCB'].cumsum(1).mean(0))
    figure.savefig(tmp_path / 'bandits.png')
    assert (tmp_path / 'bandits.png').stat().st_size > 10_000
    plt.close('all')
    with pytest.raises(ValueError, match='positive'):
        bandits.run_bandit_experiment(lambda s: None, {}, steps=0)


def test_value_iteration_history_converges_to_q_star():
    env = gridlab.build_gridworld_task('simple')
    model = env.transition_model()
    history = gridlab.value_iteration_history(model, 120)
    q_star = gridlab.value_iteration(model)
    assert history.shape == (120,) + q_star.shape
    errors = [np.max(np.abs(q - q_star)) for q in history]
    assert errors[-1] < 1e-3 < errors[5] and errors[-1] <= errors[60]
    figure = diagnostics.plot_q_convergence(history, np.linspace(0, 6, 50),
                                                    22, 2, q_star[22, 2])
    assert len(figure.axes) == 2 and figure.axes[0].get_title() == 'Q-value iteration'
    plt.close('all')


def test_bandit_comparison_has_bands_and_a_legend_on_every_panel():
    rng = np.random.default_rng(0)
    rewards = {'a': rng.normal(1., 1., (8, 100)), 'b': rng.normal(0., 1., (8, 100))}
    best = {name: (values > 0.5).astype(float) for name, values in rewards.items()}
    regret = {name: np.abs(values) for name, values in rewards.items()}
    results = bandits.BanditResults(rewards, best, regret)
    figure = diagnostics.plot_bandit_comparison(results, smooth=10)
    for ax in figure.axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ['a', 'b']
        assert len(ax.collections) == 2  # one band per agent
    # The reward panel's band is the 95% interval of the smoothed runs' mean.
    reward_ax = figure.axes[1]
    assert reward_ax.get_title() == 'average reward (mean of 10 steps)'
    smoothed = np.stack([np.convolve(row, np.full(10, 0.1), 'valid')
                         for row in rewards['a']])
    half = 1.96 * smoothed.std(axis=0, ddof=1) / np.sqrt(8)
    band = reward_ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx((smoothed.mean(0) + half).max())
    assert band[:, 1].min() == pytest.approx((smoothed.mean(0) - half).min())
    with pytest.raises(ValueError, match='smooth.*101'):
        diagnostics.plot_bandit_comparison(results, smooth=101)
    plt.close('all')
