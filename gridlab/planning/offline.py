"""Off-policy evaluation: a target policy's value from another policy's logs.

Each logged step carries the probability the behaviour policy gave to the
action it took, and the probability the target policy would give it; their
ratio re-weights what happened into what the target would have seen.

One-step logs (bandits):
    importance_sampling(rewards=..., behaviour_probs=..., target_probs=...)
    weighted_importance_sampling(rewards=..., behaviour_probs=..., target_probs=...)
Logged episodes (`LoggedEpisode`: per-step arrays), with a discount:
    episode_importance_sampling(episodes, discount, weighted=False)
    per_decision_importance_sampling(episodes, discount)

Every estimator returns an `OffPolicyEstimate`: the value, the effective
sample size of its weights, and a bootstrap confidence interval. Ordinary
importance sampling is unbiased with large variance; the weighted version is
biased (consistent) with far smaller variance; per-decision importance
sampling weights each reward only by the ratios of the steps before it.
"""

from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from gridlab.core import bootstrap, validation


class OffPolicyEstimate(NamedTuple):
    """An estimate of the target policy's value."""
    value: float
    effective_sample_size: float  # (sum w)^2 / sum w^2 of the weights used.
    interval: Tuple[float, float]  # Bootstrap percentile confidence interval.


class LoggedEpisode(NamedTuple):
    """One logged episode: per-step rewards and both policies' probabilities."""
    rewards: Sequence[float]
    behaviour_probs: Sequence[float]
    target_probs: Sequence[float]


def effective_sample_size(weights) -> float:
    """(sum w)^2 / sum w^2: how many equally weighted samples these are worth."""
    weights = validation.check_finite_array('weights', weights)
    total = np.sum(weights ** 2)
    return float(np.sum(weights) ** 2 / total) if total > 0 else 0.


def _ratios(behaviour_probs, target_probs, name: str = '') -> np.ndarray:
    behaviour = validation.check_finite_array(f'{name}behaviour_probs', behaviour_probs)
    target = validation.check_finite_array(f'{name}target_probs', target_probs)
    if behaviour.shape != target.shape:
        raise ValueError(f'{name}behaviour_probs has shape {behaviour.shape} but '
                         f'target_probs has {target.shape}; expected the same')
    if np.any(behaviour <= 0) or np.any(behaviour > 1):
        raise ValueError(f'{name}behaviour_probs must be in (0, 1]: the behaviour '
                         'policy must have given every logged action a chance')
    if np.any(target < 0) or np.any(target > 1):
        raise ValueError(f'{name}target_probs must be in [0, 1]')
    return target / behaviour


def _interval(estimate: Callable[[np.ndarray], float], count: int,
              confidence: float, resamples: int, seed: Optional[int]
              ) -> Tuple[float, Tuple[float, float]]:
    """`estimate` of all `count` samples, and its bootstrap percentile interval.

    `estimate(indices)` is the estimator on the samples at `indices`; each
    resample draws `count` indices with replacement (`gridlab.core.bootstrap`).
    """
    confidence = validation.check_in_range('confidence', confidence, 0., 1.,
                                           low_open=True, high_open=True)
    resamples = validation.check_positive_int('resamples', resamples)

    def statistic(strata):  # [batch, count] index arrays -> [batch] estimates.
        return np.array([estimate(indices) for indices in strata[0]])

    value, low, high = bootstrap.bootstrap([np.arange(count)], statistic, resamples,
                                           confidence, np.random.default_rng(seed))
    return float(value), (float(low), float(high))


def _one_step(rewards, behaviour_probs, target_probs, weighted: bool,
              confidence: float, resamples: int, seed: Optional[int]
              ) -> OffPolicyEstimate:
    rewards = validation.check_finite_array('rewards', rewards)
    weights = _ratios(behaviour_probs, target_probs)
    if rewards.shape != weights.shape or rewards.ndim != 1 or not rewards.size:
        raise ValueError(f'rewards (shape {rewards.shape}) and the probabilities '
                         f'(shape {weights.shape}) must be equal, non-empty 1-D arrays')

    def estimate(indices):
        w, r = weights[indices], rewards[indices]
        if weighted:
            return float(np.sum(w * r) / np.sum(w)) if np.sum(w) > 0 else 0.
        return float(np.mean(w * r))

    value, interval = _interval(estimate, rewards.size, confidence, resamples, seed)
    return OffPolicyEstimate(value, effective_sample_size(weights), interval)


def importance_sampling(rewards, behaviour_probs, target_probs,
                        confidence: float = 0.95, resamples: int = 1000,
                        seed: Optional[int] = None) -> OffPolicyEstimate:
    """Ordinary importance sampling on one-step logs: mean(w * r)."""
    return _one_step(rewards, behaviour_probs, target_probs, False, confidence,
                     resamples, seed)


def weighted_importance_sampling(rewards, behaviour_probs, target_probs,
                                 confidence: float = 0.95, resamples: int = 1000,
                                 seed: Optional[int] = None) -> OffPolicyEstimate:
    """Weighted importance sampling on one-step logs: sum(w * r) / sum(w)."""
    return _one_step(rewards, behaviour_probs, target_probs, True, confidence,
                     resamples, seed)


def _episode_arrays(episodes: Sequence[LoggedEpisode], discount: float):
    """Per episode: discounted rewards and cumulative ratios, padded to [N, T]."""
    if not episodes:
        raise ValueError('episodes is empty: expected at least one logged episode')
    validation.check_probability('discount', discount)
    length = max(len(episode.rewards) for episode in episodes)
    discounted = np.zeros((len(episodes), length))
    cumulative = np.ones((len(episodes), length))
    for i, episode in enumerate(episodes):
        rewards = validation.check_finite_array(f'episode {i}: rewards', episode.rewards)
        ratios = _ratios(episode.behaviour_probs, episode.target_probs,
                         f'episode {i}: ')
        if ratios.shape != rewards.shape or rewards.ndim != 1:
            raise ValueError(f'episode {i}: rewards and probabilities must be 1-D '
                             f'arrays of one length, got {rewards.shape} and '
                             f'{ratios.shape}')
        steps = rewards.size
        discounted[i, :steps] = rewards * discount ** np.arange(steps)
        cumulative[i, :steps] = np.cumprod(ratios)
        cumulative[i, steps:] = cumulative[i, steps - 1] if steps else 1.
    return discounted, cumulative


def episode_importance_sampling(episodes: Sequence[LoggedEpisode], discount: float = 1.,
                                weighted: bool = False, confidence: float = 0.95,
                                resamples: int = 1000, seed: Optional[int] = None
                                ) -> OffPolicyEstimate:
    """Whole-episode importance sampling: each return times its episode's ratio."""
    discounted, cumulative = _episode_arrays(episodes, discount)
    returns, weights = discounted.sum(axis=1), cumulative[:, -1]

    def estimate(indices):
        w, g = weights[indices], returns[indices]
        if weighted:
            return float(np.sum(w * g) / np.sum(w)) if np.sum(w) > 0 else 0.
        return float(np.mean(w * g))

    value, interval = _interval(estimate, len(episodes), confidence, resamples, seed)
    return OffPolicyEstimate(value, effective_sample_size(weights), interval)


def per_decision_importance_sampling(episodes: Sequence[LoggedEpisode], discount: float = 1.,
                                     confidence: float = 0.95, resamples: int = 1000,
                                     seed: Optional[int] = None) -> OffPolicyEstimate:
    """Per-decision importance sampling: reward t weighted by ratios up to t."""
    discounted, cumulative = _episode_arrays(episodes, discount)
    per_episode = np.sum(cumulative * discounted, axis=1)

    def estimate(indices):
        return float(np.mean(per_episode[indices]))

    value, interval = _interval(estimate, len(episodes), confidence, resamples, seed)
    return OffPolicyEstimate(value, effective_sample_size(cumulative[:, -1]), interval)
