"""Compiled (numba) steps of agents/batched_tabular.py: one loop over learners.

The numpy path of `BatchedQLearning` spends most of its time gathering and
scattering table rows scattered across memory, a dozen whole-array passes per
step; here each learner's step is a few scalar operations in one compiled
loop. Imported only when numba is installed (`pip install gridlab[fast]`).

Bit-identity with the single agents rests on two things:

  * Each learner's generator is numpy's PCG64, stepped here in place of
    `np.random.default_rng(seed)`: the 128-bit LCG step, the XSL-RR output,
    and the draws built on it exactly as numpy builds them (`random()` is
    (w >> 11) * 2**-53; `integers(k)` and `choice` of k items are Lemire's
    bounded 32-bit draw on buffered 32-bit halves).
  * The arithmetic is the numpy path's, operation for operation, in float64
    (no fast-math, so nothing is fused or reordered).
"""

import numba
import numpy as np

_FIRST, _LAST = 0, 2
_M_HIGH = np.uint64(2549297995355413924)  # PCG64's 128-bit multiplier.
_M_LOW = np.uint64(4865540595714422341)
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_TWO53 = float(2 ** 53)


def lanes(generators) -> np.ndarray:
    """The PCG64 states of N generators as a (6, N) array, a column per learner.

    Rows: state (high, low 64 bits), increment (high, low), numpy's buffered
    32-bit half and whether it holds one (`has_uint32`, `uinteger`).
    """
    out = np.zeros((6, len(generators)), np.uint64)
    mask = (1 << 64) - 1
    for i, generator in enumerate(generators):
        bit_state = generator.bit_generator.state
        if bit_state['bit_generator'] != 'PCG64':
            raise ValueError(f'learner {i} has a {bit_state["bit_generator"]} '
                             f'generator; the compiled path steps PCG64 only')
        state, inc = bit_state['state']['state'], bit_state['state']['inc']
        out[:, i] = (state >> 64, state & mask, inc >> 64, inc & mask,
                     bit_state['uinteger'], bit_state['has_uint32'])
    return out


@numba.njit(inline='always')
def _mulhi(a, b):
    """The high 64 bits of the 128-bit product a * b."""
    a0, a1 = a & _LOW32, a >> _U32
    b0, b1 = b & _LOW32, b >> _U32
    p01, p10 = a0 * b1, a1 * b0
    middle = ((a0 * b0) >> _U32) + (p01 & _LOW32) + (p10 & _LOW32)
    return a1 * b1 + (p01 >> _U32) + (p10 >> _U32) + (middle >> _U32)


@numba.njit(inline='always')
def _next64(lanes, i):
    """numpy's PCG64 next_uint64: step the LCG, then output XSL-RR."""
    high, low = lanes[0, i], lanes[1, i]
    product_low = low * _M_LOW
    product_high = _mulhi(low, _M_LOW) + low * _M_HIGH + high * _M_LOW
    low = product_low + lanes[3, i]
    high = product_high + lanes[2, i] + (np.uint64(1) if low < product_low else np.uint64(0))
    lanes[0, i], lanes[1, i] = high, low
    x, rotation = high ^ low, high >> np.uint64(58)
    return (x >> rotation) | (x << ((np.uint64(64) - rotation) & np.uint64(63)))


@numba.njit(inline='always')
def _next32(lanes, i):
    """numpy's next_uint32: the spare half of the last word, else a new word."""
    if lanes[5, i]:
        lanes[5, i] = 0
        return lanes[4, i]
    word = _next64(lanes, i)
    lanes[5, i] = 1
    lanes[4, i] = word >> _U32
    return word & _LOW32


@numba.njit(inline='always')
def _below(lanes, i, bound):
    """numpy's integers(0, bound) for a 32-bit range: Lemire with rejection.

    As numpy does, the rejection threshold (a division) is computed only when
    the draw's low word could fall below it, a chance of bound / 2**32.
    """
    bound = np.uint64(bound)
    product = _next32(lanes, i) * bound
    if (product & _LOW32) < bound:
        threshold = (np.uint64(1 << 32) - bound) % bound
        while (product & _LOW32) < threshold:
            product = _next32(lanes, i) * bound
    return np.int64(product >> _U32)


@numba.njit(inline='always')
def _epsilon(initial, final, decay, steps):
    """linear_schedule, as the numpy path computes it."""
    if initial == final:
        return initial
    if steps >= decay:
        return final
    return initial + (final - initial) * steps / max(decay, 1)


@numba.njit(inline='always')
def _select(q, row, num_actions, epsilon, lanes, i):
    """EpsilonGreedyExplorer.select for learner i on the Q row starting at `row`."""
    # (w >> 11) < 2**53 converts exactly, and faster as a signed integer.
    if float(np.int64(_next64(lanes, i) >> np.uint64(11))) < epsilon * _TWO53:
        return _below(lanes, i, num_actions)
    best, first, count = q[row], 0, 1  # The first greedy action, and its ties.
    for a in range(1, num_actions):
        value = q[row + a]
        if value > best:
            best, first, count = value, a, 1
        elif value == best:
            count += 1
    if count == 1:
        return first
    k = _below(lanes, i, count)  # choice among the tied actions
    for a in range(first, num_actions):
        if q[row + a] == best:
            if k == 0:
                return a
            k -= 1
    return first


# The kernels take arrays only: numba checks the type of every argument on
# each call, and a Python scalar costs several times an array there.
# sizes = (num_states, num_actions, decay_steps);
# settings = (agent discount, step_size, initial epsilon, final epsilon).

@numba.njit(inline='always')
def _act(q, sizes, settings, steps, lanes, i, row):
    epsilon = _epsilon(settings[2], settings[3], sizes[2], steps[i])
    return _select(q, row, sizes[1], epsilon, lanes, i)


@numba.njit(cache=True)
def first_actions(q, sizes, settings, state, action, steps, lanes):
    """Every learner's first action, in state[i]."""
    for i in range(state.size):
        action[i] = _act(q, sizes, settings, steps, lanes, i,
                         (i * sizes[0] + state[i]) * sizes[1])


@numba.njit(cache=True)
def q_learning_step(q, sizes, settings, state, action, steps, lanes,
                    step_type, reward, discount, observation):
    """One batch step of N Q-learners: learn from the transition, then act."""
    num_states, num_actions = sizes[0], sizes[1]
    for i in range(state.size):
        kind = step_type[i]
        next_state = np.int64(observation[i])
        row = (i * num_states + next_state) * num_actions
        if kind != _FIRST:
            best = q[row]
            for a in range(1, num_actions):
                if q[row + a] > best:
                    best = q[row + a]
            index = (i * num_states + state[i]) * num_actions + action[i]
            old = q[index]
            target = np.float64(reward[i]) + settings[0] * np.float64(discount[i]) * best
            q[index] = old + settings[1] * (target - old)
            steps[i] += 1
        state[i] = next_state
        # The single agent is not asked to act on a LAST step.
        action[i] = _act(q, sizes, settings, steps, lanes, i, row) if kind != _LAST else 0


@numba.njit(cache=True)
def sarsa_step(q, sizes, settings, state, action, steps, lanes,
               step_type, reward, discount, observation):
    """One batch step of N SARSA learners: choose the next action, then learn."""
    num_states, num_actions = sizes[0], sizes[1]
    for i in range(state.size):
        valid = step_type[i] != _FIRST
        next_state = np.int64(observation[i])
        row = (i * num_states + next_state) * num_actions
        if valid:
            steps[i] += 1
        next_action = _act(q, sizes, settings, steps, lanes, i, row)
        if valid:
            index = (i * num_states + state[i]) * num_actions + action[i]
            old = q[index]
            target = (np.float64(reward[i])
                      + settings[0] * np.float64(discount[i]) * q[row + next_action])
            q[index] = old + settings[1] * (target - old)
        state[i] = next_state
        action[i] = next_action
