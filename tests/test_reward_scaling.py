"""ReturnScaler: rewards divided by the running spread of discounted returns,
checked against the returns and their variance computed directly."""

import dm_env
import numpy as np
import pytest

from agents.common.reward_scaling import ReturnScaler

FIRST, MID, LAST = (int(t) for t in (dm_env.StepType.FIRST, dm_env.StepType.MID,
                                     dm_env.StepType.LAST))


def direct(rewards, step_types, discount):
    """Each step's expected scaled reward from the definition: G = discount * G + r
    through an episode, every moving copy's G so far in one list, the reward
    over the square root of that list's variance."""
    copies = rewards.shape[1]
    returns, history, expected = np.zeros(copies), [], []
    for r, types in zip(rewards, step_types):
        row = np.zeros(copies)
        for i in range(copies):
            if types[i] == FIRST:
                returns[i] = 0.
                continue
            returns[i] = discount * returns[i] + r[i]
            history.append(returns[i])
        spread = np.sqrt(np.var(history)) if len(history) > 1 else np.inf
        for i in range(copies):
            if types[i] != FIRST:
                row[i] = np.clip(r[i] / spread, -10, 10)
            if types[i] == LAST:
                returns[i] = 0.
        expected.append(row)
    return np.array(expected)


def run(scaler, rewards, step_types, discount):
    # The discount into the next step: 0 after a termination.
    return np.array([scaler(r, types, np.where(types == LAST, 0., discount))
                     for r, types in zip(rewards, step_types)])


def test_one_copy_matches_the_returns_variance_and_restarts_at_episode_ends():
    rng = np.random.default_rng(0)
    rewards = rng.normal(-1., 1., size=(40, 1))
    types = np.full((40, 1), MID)
    types[12], types[13], types[30], types[31] = LAST, FIRST, LAST, FIRST
    rewards[types == FIRST] = 0.
    scaled = run(ReturnScaler(), rewards, types, 0.9)
    expected = direct(rewards, types, 0.9)
    # The scaler starts from variance 1 held by a count of 1e-4: from the third
    # step the data decide the scale (within 1e-3).
    np.testing.assert_allclose(scaled[3:], expected[3:], rtol=1e-3)
    assert np.all(scaled[types == FIRST] == 0.)
    assert np.all(np.sign(scaled[types != FIRST]) == np.sign(rewards[types != FIRST]))


def test_copies_pool_their_returns_but_each_keeps_its_own_episode():
    rng = np.random.default_rng(1)
    rewards = rng.exponential(2., size=(30, 3))
    types = np.full((30, 3), MID)
    types[5, 0], types[6, 0], types[17, 2], types[18, 2] = LAST, FIRST, LAST, FIRST
    rewards[types == FIRST] = 0.
    scaled = run(ReturnScaler(), rewards, types, 0.99)
    np.testing.assert_allclose(scaled[2:], direct(rewards, types, 0.99)[2:], rtol=1e-3)


def test_a_reward_far_outside_the_spread_is_clipped():
    scaler = ReturnScaler(clip=5.)
    for _ in range(50):
        scaler(np.array([1., -1.]), np.array([MID, MID]), np.array([0., 0.]))
    # Returns of +1 and -1 (discount 0): variance 1, so 1000 would be 1000.
    out = scaler(np.array([1000., -0.5]), np.array([MID, MID]), np.array([0., 0.]))
    assert out[0] == 5.
    assert out[1] == pytest.approx(-0.5 / np.sqrt(scaler.var), rel=1e-6)


def test_a_reset_starts_every_return_afresh_and_keeps_the_statistics():
    rng = np.random.default_rng(4)
    rewards, types = rng.normal(1., 1., size=(20, 2)), np.full((20, 2), MID)
    scaler = ReturnScaler()
    before = run(scaler, rewards[:10], types[:10], 0.9)
    scaler.reset()  # The environment was reset: new episodes, no restart step seen.
    after = run(scaler, rewards[10:], types[10:], 0.9)
    # The same as a restart row between the two halves.
    restart = np.full((1, 2), FIRST)
    expected = direct(np.concatenate([rewards[:10], np.zeros((1, 2)), rewards[10:]]),
                      np.concatenate([types[:10], restart, types[10:]]), 0.9)
    np.testing.assert_allclose(np.concatenate([before, after])[2:],
                               np.delete(expected, 10, axis=0)[2:], rtol=1e-3)


def test_a_restored_scaler_goes_on_as_the_original_after_a_reset():
    rng = np.random.default_rng(2)
    rewards, types = rng.normal(size=(20, 2)), np.full((20, 2), MID)
    original = ReturnScaler()
    run(original, rewards[:10], types[:10], 0.95)
    copy = ReturnScaler()
    copy.load_state(original.state())
    original.reset()  # Training resumes from a reset environment.
    np.testing.assert_array_equal(run(copy, rewards[10:], types[10:], 0.95),
                                  run(original, rewards[10:], types[10:], 0.95))


def test_a_truncated_episode_does_not_carry_its_return_into_the_next():
    # The run loop's one copy has no restart step: a LAST step is followed by
    # the next episode's first transition. A truncation keeps its discount.
    rng = np.random.default_rng(3)
    rewards, types = rng.normal(1., 1., size=(30, 1)), np.full((30, 1), MID)
    types[9] = types[19] = LAST
    scaler = ReturnScaler()
    scaled = np.array([scaler(r, t, [0.9]) for r, t in zip(rewards, types)])
    np.testing.assert_allclose(scaled[2:], direct(rewards, types, 0.9)[2:], rtol=1e-3)
