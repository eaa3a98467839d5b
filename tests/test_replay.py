"""Tests for gridlab.core.replay."""

import dm_env
import numpy as np
import pytest
import torch

from gridlab.core.replay import ReplayBuffer, Transitions


def fill(buffer, num_transitions, first=0):
    """Adds one episode whose observation at step t is [t, -t] (float32).

    The transition for step t has action t % 4, reward t and discount 0.9, so a
    stored row can be recognised from its next_state.
    """
    buffer.add_first(dm_env.restart(np.array([first, -first], np.float32)))
    for t in range(first + 1, first + num_transitions + 1):
        buffer.add(t % 4, dm_env.transition(
            reward=float(t), observation=np.array([t, -t], np.float32), discount=0.9))


def assert_real_transitions(batch):
    """Each row must be a transition `fill` made: fields agree with each other."""
    t = batch.next_state[:, 0]
    np.testing.assert_array_equal(batch.next_state[:, 1], -t)
    np.testing.assert_array_equal(batch.state[:, 0], t - 1)
    np.testing.assert_array_equal(batch.action, t.astype(np.int64) % 4)
    np.testing.assert_array_equal(batch.reward, t)
    np.testing.assert_allclose(batch.discount, 0.9)


def test_transitions_has_the_tutorial_field_names():
    assert Transitions._fields == ('state', 'action', 'reward', 'discount', 'next_state')


def test_sample_shapes_dtypes_and_content():
    buffer = ReplayBuffer(capacity=100, seed=0)
    fill(buffer, 50)
    batch = buffer.sample(40)
    assert isinstance(batch, Transitions)
    assert batch.state.shape == batch.next_state.shape == (40, 2)
    assert batch.state.dtype == np.float32
    assert batch.action.shape == batch.reward.shape == batch.discount.shape == (40,)
    assert batch.action.dtype == np.int64
    assert batch.reward.dtype == batch.discount.dtype == np.float32
    assert_real_transitions(batch)
    # Uniform over all 50 stored: many different ones in a batch of 40.
    assert len(np.unique(batch.next_state[:, 0])) > 15


def test_sample_is_deterministic_given_the_seed():
    buffers = [ReplayBuffer(seed=7), ReplayBuffer(seed=7), ReplayBuffer(seed=8)]
    for buffer in buffers:
        fill(buffer, 100)
    same_a, same_b, other = (buffer.sample(16).next_state for buffer in buffers)
    np.testing.assert_array_equal(same_a, same_b)
    assert not np.array_equal(same_a, other)


def test_sample_does_not_use_global_numpy_random():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    buffer = ReplayBuffer(seed=0)
    fill(buffer, 10)
    buffer.sample(4)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize('batch_size', [0, -1, 11])
def test_sample_rejects_bad_batch_size(batch_size):
    buffer = ReplayBuffer()
    fill(buffer, 10)
    with pytest.raises(ValueError, match=f'got {batch_size}'):
        buffer.sample(batch_size)


def test_ring_overwrites_oldest_and_flush_is_oldest_first():
    buffer = ReplayBuffer(capacity=5)
    fill(buffer, 8)  # Steps 1..8; steps 1..3 are overwritten.
    assert len(buffer) == 5
    batch = buffer.flush()
    np.testing.assert_array_equal(batch.next_state[:, 0], [4, 5, 6, 7, 8])
    assert_real_transitions(batch)
    assert len(buffer) == 0


def test_flush_empties_and_the_episode_goes_on():
    buffer = ReplayBuffer(capacity=4)
    fill(buffer, 3)
    np.testing.assert_array_equal(buffer.flush().next_state[:, 0], [1, 2, 3])
    buffer.add(0, dm_env.transition(4.0, np.array([4, -4], np.float32)))
    batch = buffer.flush()
    np.testing.assert_array_equal(batch.state, [[3, -3]])
    np.testing.assert_array_equal(batch.next_state, [[4, -4]])
    with pytest.raises(ValueError, match='empty'):
        buffer.flush()


def test_flush_returns_copies():
    buffer = ReplayBuffer(capacity=4)
    fill(buffer, 2)
    batch = buffer.flush()
    fill(buffer, 2, first=10)  # Reuses the same slots.
    np.testing.assert_array_equal(batch.next_state[:, 0], [1, 2])


def test_unbounded_buffer_grows_and_keeps_everything():
    buffer = ReplayBuffer(capacity=None)
    assert buffer.capacity is None
    fill(buffer, 3000)  # More than the initial allocation, so it doubles.
    assert len(buffer) == 3000
    batch = buffer.flush()
    np.testing.assert_array_equal(batch.next_state[:, 0], np.arange(1, 3001))
    assert_real_transitions(batch)


def test_bounded_buffer_grows_up_to_capacity_then_wraps():
    buffer = ReplayBuffer(capacity=1500)
    fill(buffer, 2000)
    assert len(buffer) == 1500
    np.testing.assert_array_equal(buffer.flush().next_state[:, 0], np.arange(501, 2001))


def test_is_ready_and_len():
    buffer = ReplayBuffer(capacity=10)
    assert len(buffer) == 0 and not buffer.is_ready(1)
    fill(buffer, 4)
    assert len(buffer) == 4
    assert buffer.is_ready(4) and not buffer.is_ready(5)
    assert buffer.capacity == 10


@pytest.mark.parametrize('capacity', [0, -3, 2.5, True, '10'])
def test_capacity_must_be_a_positive_int(capacity):
    with pytest.raises(ValueError, match='capacity'):
        ReplayBuffer(capacity=capacity)


def test_add_needs_add_first_including_after_last():
    buffer = ReplayBuffer()
    step = dm_env.transition(1.0, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match='add_first'):
        buffer.add(0, step)
    buffer.add_first(dm_env.restart(np.zeros(2, np.float32)))
    buffer.add(0, dm_env.termination(1.0, np.ones(2, np.float32)))
    with pytest.raises(ValueError, match='add_first'):
        buffer.add(0, step)
    assert len(buffer) == 1


def test_termination_discount_is_stored():
    buffer = ReplayBuffer()
    buffer.add_first(dm_env.restart(np.zeros(2, np.float32)))
    buffer.add(1, dm_env.termination(10.0, np.ones(2, np.float32)))
    batch = buffer.flush()
    assert batch.reward[0] == 10.0 and batch.discount[0] == 0.0


def test_add_rejects_first_timestep():
    buffer = ReplayBuffer()
    buffer.add_first(dm_env.restart(np.zeros(2)))
    with pytest.raises(ValueError, match='FIRST'):
        buffer.add(0, dm_env.restart(np.zeros(2)))


def test_shape_mismatch_names_both_shapes_and_stores_nothing():
    buffer = ReplayBuffer()
    fill(buffer, 2)
    with pytest.raises(ValueError, match=r'expected \(2,\), received \(3,\)'):
        buffer.add(0, dm_env.transition(1.0, np.zeros(3, np.float32)))
    # A (2, 1) observation would broadcast into a (2,) slot without the check.
    with pytest.raises(ValueError, match=r'received \(2, 1\)'):
        buffer.add(0, dm_env.transition(1.0, np.zeros((2, 1), np.float32)))
    assert len(buffer) == 2


def test_add_first_is_checked_against_the_first_observation():
    buffer = ReplayBuffer()
    fill(buffer, 2)
    with pytest.raises(ValueError, match=r'expected \(2,\), received \(\)'):
        buffer.add_first(dm_env.restart(0.0))


def test_nested_observations_round_trip():
    def observation(t):
        return {'grid': np.full((3, 4), t, np.float32), 'pos': (t, np.array([t, t + 1]))}

    buffer = ReplayBuffer(seed=1)
    buffer.add_first(dm_env.restart(observation(0)))
    for t in range(1, 4):
        buffer.add(t, dm_env.transition(0.0, observation(t)))
    # Sampled rows keep the leaves of one transition together.
    sample = buffer.sample(3)
    np.testing.assert_array_equal(sample.next_state['grid'][:, 2, 3], sample.action)
    np.testing.assert_array_equal(sample.state['pos'][0], sample.action - 1)
    batch = buffer.flush()
    assert batch.state['grid'].shape == (3, 3, 4)
    assert batch.state['grid'].dtype == np.float32
    np.testing.assert_array_equal(batch.state['grid'][:, 0, 0], [0, 1, 2])
    np.testing.assert_array_equal(batch.next_state['pos'][0], [1, 2, 3])
    np.testing.assert_array_equal(batch.next_state['pos'][1], [[1, 2], [2, 3], [3, 4]])
    assert isinstance(batch.next_state['pos'], tuple)


def test_nested_structure_mismatch_is_rejected():
    buffer = ReplayBuffer()
    buffer.add_first(dm_env.restart({'a': np.zeros(2), 'b': 0}))
    buffer.add(0, dm_env.transition(0.0, {'a': np.zeros(2), 'b': 1}))
    with pytest.raises(ValueError, match='structure'):
        buffer.add(0, dm_env.transition(0.0, {'a': np.zeros(2), 'c': 1}))
    with pytest.raises(ValueError, match=r"expected \{'a': \(2,\), 'b': \(\)\}"):
        buffer.add(0, dm_env.transition(0.0, {'a': np.zeros(5), 'b': 1}))


def test_actions_of_any_kind():
    buffer = ReplayBuffer()
    buffer.add_first(dm_env.restart(0))
    for action in (1, np.int32(2), np.array(3), torch.tensor(4)):
        buffer.add(action, dm_env.transition(0.0, 0))
    batch = buffer.flush()
    assert batch.action.dtype == np.int64
    np.testing.assert_array_equal(batch.action, [1, 2, 3, 4])
    assert batch.state.dtype == np.int64  # A STATE_INDEX-like observation.

    continuous = ReplayBuffer()
    continuous.add_first(dm_env.restart(0))
    continuous.add(np.array([0.5, -1.0]), dm_env.transition(0.0, 1))
    assert continuous.flush().action.dtype == np.float32


def test_stored_observation_is_a_copy():
    # Some environments update one observation array in place.
    observation = np.zeros(2, np.float32)
    buffer = ReplayBuffer()
    buffer.add_first(dm_env.restart(observation))
    observation += 1
    buffer.add(0, dm_env.transition(0.0, observation))
    observation += 1
    buffer.add(0, dm_env.transition(0.0, observation))
    batch = buffer.flush()
    np.testing.assert_array_equal(batch.state[:, 0], [0, 1])
    np.testing.assert_array_equal(batch.next_state[:, 0], [1, 2])


def test_sample_draws_with_replacement():
    buffer = ReplayBuffer(seed=0)
    fill(buffer, 10)
    batch = buffer.sample(10)
    assert len(np.unique(batch.next_state[:, 0])) < 10
    assert_real_transitions(batch)
