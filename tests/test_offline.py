"""Off-policy evaluation, checked against true values (bandit means, planning)."""

import numpy as np
import pytest

import gridlab
from gridlab.planning import offline

MEANS = np.array([0.2, 0.5, 1.0])
BEHAVIOUR = np.array([0.5, 0.4, 0.1])
TARGET = np.array([0.1, 0.2, 0.7])
TRUE_VALUE = float(TARGET @ MEANS)  # 0.82


def bandit_log(n, seed):
    rng = np.random.default_rng(seed)
    actions = rng.choice(3, size=n, p=BEHAVIOUR)
    rewards = rng.normal(MEANS[actions], 0.1)
    return dict(rewards=rewards, behaviour_probs=BEHAVIOUR[actions],
                target_probs=TARGET[actions])


@pytest.mark.parametrize('estimator', [offline.importance_sampling,
                                       offline.weighted_importance_sampling])
def test_bandit_estimates_are_within_their_interval_of_the_truth(estimator):
    estimate = estimator(**bandit_log(5_000, seed=0), seed=0)
    low, high = estimate.interval
    assert low < TRUE_VALUE < high and high - low < 0.15
    assert abs(estimate.value - TRUE_VALUE) < 0.05
    assert 100 < estimate.effective_sample_size < 5_000


def test_ordinary_importance_sampling_is_unbiased_and_weighted_has_less_spread():
    ordinary = [offline.importance_sampling(**bandit_log(200, s), resamples=1).value
                for s in range(300)]
    weighted = [offline.weighted_importance_sampling(**bandit_log(200, s),
                                                     resamples=1).value
                for s in range(300)]
    assert abs(np.mean(ordinary) - TRUE_VALUE) < 0.02
    assert np.std(weighted) < np.std(ordinary)


def test_effective_sample_size():
    assert offline.effective_sample_size(np.ones(10)) == pytest.approx(10.)
    assert offline.effective_sample_size([0., 0., 3., 0.]) == pytest.approx(1.)


def _epsilon_greedy(q_star, epsilon):
    """[S, 4] probabilities: epsilon-greedy on Q* (NaN cells get uniform)."""
    q = np.nan_to_num(q_star.reshape(-1, 4), nan=0.)
    policy = np.full(q.shape, epsilon / 4)
    policy[np.arange(len(q)), q.argmax(axis=1)] += 1 - epsilon
    return policy


def test_episode_estimators_recover_the_value_planning_gives():
    env = gridlab.build_gridworld_task('simple', seed=0)
    q_star = gridlab.optimal_q_values(env)
    behaviour, target = _epsilon_greedy(q_star, 0.5), _epsilon_greedy(q_star, 0.2)
    q_target = gridlab.policy_evaluation(env.transition_model(), target)
    start = 2 * 10 + 2
    true_value = float(target[start] @ q_target[start])
    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(3_000):
        timestep, rewards, b, t = env.reset(), [], [], []
        while not timestep.last():
            s = int(timestep.observation)
            action = int(rng.choice(4, p=behaviour[s]))
            b.append(behaviour[s, action])
            t.append(target[s, action])
            timestep = env.step(action)
            rewards.append(float(timestep.reward))
        episodes.append(offline.LoggedEpisode(rewards, b, t))
    for estimate in (offline.per_decision_importance_sampling(episodes, 0.9, seed=0),
                     offline.episode_importance_sampling(episodes, 0.9, weighted=True,
                                                         seed=0)):
        low, high = estimate.interval
        # Within two half-widths of the 95% interval (heavy-tailed weights
        # make one interval a little narrow); and a useful interval at all.
        assert abs(estimate.value - true_value) < high - low < 1.5, (estimate, true_value)
    on_policy = offline.episode_importance_sampling(
        [offline.LoggedEpisode(e.rewards, e.behaviour_probs, e.behaviour_probs)
         for e in episodes], 0.9, resamples=1)
    assert on_policy.effective_sample_size == pytest.approx(len(episodes))


@pytest.mark.parametrize('kwargs, message', [
    (dict(rewards=[1., 2.], behaviour_probs=[0.5, 0.], target_probs=[0.5, 0.5]),
     r'behaviour_probs must be in \(0, 1\]'),
    (dict(rewards=[1., 2.], behaviour_probs=[0.5], target_probs=[0.5]),
     'must be equal'),
    (dict(rewards=[1.], behaviour_probs=[0.5, 0.5], target_probs=[0.5]),
     'same'),
    (dict(rewards=[], behaviour_probs=[], target_probs=[]), 'non-empty'),
])
def test_bad_logs_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        offline.importance_sampling(**kwargs)
    with pytest.raises(ValueError, match='at least one'):
        offline.per_decision_importance_sampling([])
