"""Compiled (numba) training for agents/batched_tabular.py: one loop.

The numpy path of `BatchedQLearning` spends most of its time gathering and
scattering table rows scattered across memory, a dozen whole-array passes per
step; here each learner's step is a few scalar operations in one compiled
loop, which also steps the environment's copies when their dynamics are
plain look-ups (`BatchedGridWorld.lockstep`), so that a whole call of
`train` is one call here. Imported only when numba is installed
(`pip install gridlab[fast]`).

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
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

_FIRST, _MID, _LAST = 0, 1, 2
_M_HIGH = np.uint64(2549297995355413924)  # PCG64's 128-bit multiplier.
_M_LOW = np.uint64(4865540595714422341)
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_TWO53 = float(2 ** 53)

# Greedy choice among four actions, by the bit mask of those tied for best:
# how many tie, the first of them, and the k-th of them.
_TIES = np.array([bin(mask).count('1') for mask in range(16)], np.int64)
_KTH_TIED = np.array([[([a for a in range(4) if mask >> a & 1] + [0] * 4)[k]
                       for k in range(4)] for mask in range(16)], np.int64)


def lanes(generators) -> np.ndarray:
    """The PCG64 states of N generators as an (N, 8) array, a row per learner.

    Columns: state (high, low 64 bits), increment (high, low), numpy's
    buffered 32-bit half and whether it holds one (`uinteger`,
    `has_uint32`), and two unused, so that a learner's generator is one
    64-byte cache line (a row per field would spread it over six).
    """
    out = np.zeros((len(generators), 8), np.uint64)
    mask = (1 << 64) - 1
    for i, generator in enumerate(generators):
        bit_state = generator.bit_generator.state
        if bit_state['bit_generator'] != 'PCG64':
            raise ValueError(f'learner {i} has a {bit_state["bit_generator"]} '
                             f'generator; the compiled path steps PCG64 only')
        state, inc = bit_state['state']['state'], bit_state['state']['inc']
        out[i, :6] = (state >> 64, state & mask, inc >> 64, inc & mask,
                      bit_state['uinteger'], bit_state['has_uint32'])
    return out


@intrinsic
def _mulhi(typingctx, a, b):  # pylint: disable=unused-argument
    """The high 64 bits of the 128-bit product a * b: one machine multiply,
    where four 32-bit products and their carries would take a dozen."""
    def codegen(context, builder, signature, args):  # pylint: disable=unused-argument
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))
    return types.uint64(types.uint64, types.uint64), codegen


# A learner's generator, held in registers while it steps: the tuple
# (state high, state low, increment high, increment low, spare 32-bit half,
# whether there is one), its row of `lanes`.

@numba.njit
def _load(lanes, i):
    return (lanes[i, 0], lanes[i, 1], lanes[i, 2], lanes[i, 3], lanes[i, 4], lanes[i, 5])


@numba.njit
def _store(lanes, i, generator):
    lanes[i, 0], lanes[i, 1] = generator[0], generator[1]
    lanes[i, 4], lanes[i, 5] = generator[4], generator[5]


@numba.njit
def _next64(g):
    """numpy's PCG64 next_uint64: step the LCG, then output XSL-RR."""
    high, low = g[0], g[1]
    product_low = low * _M_LOW
    product_high = _mulhi(low, _M_LOW) + low * _M_HIGH + high * _M_LOW
    low = product_low + g[3]
    high = product_high + g[2] + (np.uint64(1) if low < product_low else np.uint64(0))
    x, rotation = high ^ low, high >> np.uint64(58)
    word = (x >> rotation) | (x << ((np.uint64(64) - rotation) & np.uint64(63)))
    return word, (high, low, g[2], g[3], g[4], g[5])


@numba.njit
def _next32(g):
    """numpy's next_uint32: the spare half of the last word, else a new word."""
    if g[5]:
        return g[4], (g[0], g[1], g[2], g[3], g[4], np.uint64(0))
    word, g = _next64(g)
    return word & _LOW32, (g[0], g[1], g[2], g[3], word >> _U32, np.uint64(1))


@numba.njit
def _below(g, bound):
    """numpy's integers(0, bound) for a 32-bit range: Lemire with rejection.

    As numpy does, the rejection threshold (a division) is computed only when
    the draw's low word could fall below it, a chance of bound / 2**32.
    """
    bound = np.uint64(bound)
    half, g = _next32(g)
    product = half * bound
    if (product & _LOW32) < bound:
        threshold = (np.uint64(1 << 32) - bound) % bound
        while (product & _LOW32) < threshold:
            half, g = _next32(g)
            product = half * bound
    return np.int64(product >> _U32), g


@numba.njit
def _epsilon(initial, final, decay, steps):
    """linear_schedule, as the numpy path computes it."""
    if initial == final:
        return initial
    if steps >= decay:
        return final
    return initial + (final - initial) * steps / max(decay, 1)


@numba.njit(inline='always')
def _select(q, row, num_actions, epsilon, g):
    """EpsilonGreedyExplorer.select on the Q row starting at `row`, drawing
    from generator g: (action, g after the draws)."""
    word, g = _next64(g)
    # (w >> 11) < 2**53 converts exactly, and faster as a signed integer.
    if float(np.int64(word >> np.uint64(11))) < epsilon * _TWO53:
        return _below(g, num_actions)
    if num_actions == 4:  # A GridWorld's: compare all four without branches.
        q0, q1, q2, q3 = q[row], q[row + 1], q[row + 2], q[row + 3]
        best = max(max(q0, q1), max(q2, q3))
        tied = (np.int64(q0 == best) | np.int64(q1 == best) << 1
                | np.int64(q2 == best) << 2 | np.int64(q3 == best) << 3)
        count = _TIES[tied]
        if count == 1:
            return _KTH_TIED[tied, 0], g
        k, g = _below(g, count)
        return _KTH_TIED[tied, k], g
    best, first, count = q[row], 0, 1  # The first greedy action, and its ties.
    for a in range(1, num_actions):
        value = q[row + a]
        if value > best:
            best, first, count = value, a, 1
        elif value == best:
            count += 1
    if count == 1:
        return first, g
    k, g = _below(g, count)  # choice among the tied actions
    for a in range(first, num_actions):
        if q[row + a] == best:
            if k == 0:
                return a, g
            k -= 1
    return first, g


# sizes = (num_states, num_actions, decay_steps);
# settings = (agent discount, step_size, initial epsilon, final epsilon).

@numba.njit(inline='always')
def _act(q, sizes, settings, steps, i, row, g):
    """Learner i's epsilon-greedy action in the state whose Q row is at `row`."""
    epsilon = _epsilon(settings[2], settings[3], sizes[2], steps[i])
    return _select(q, row, sizes[1], epsilon, g)


@numba.njit(cache=True)
def first_actions(q, sizes, settings, state, action, steps, lanes):
    """Every learner's first action, in state[i]."""
    for i in range(state.size):
        action[i], g = _act(q, sizes, settings, steps, i,
                            (i * sizes[0] + state[i]) * sizes[1], _load(lanes, i))
        _store(lanes, i, g)


@numba.njit(cache=True)
def train(sarsa, q, sizes, settings, state, action, steps, lanes,
          table, clock, rows, deadline, last, tally, num_steps, block):
    """`num_steps` steps of N Q-learners (`sarsa` False) or SARSA learners.

    The data of a step come from the environment's tables at `index`, and
    the kernel steps the copies itself by the rules of
    `gridlab.envs.batched.Lockstep`: `table` = (next_row,
    observation, reward, discount, step_type), `clock` = (ended,
    max_episode_length, time); `rows` and `deadline` are the environment's
    own, and `last` receives the last step's (observation, reward,
    discount, step_type). Learners are independent, so a block of `block`
    learners runs all its steps before the next: the block's tables stay in
    cache, where a step of every learner at a time would sweep all the
    tables once per step. With ended < 0 the data are instead one batched
    TimeStep's arrays, read at i, for one step (an environment with slips
    or random goals steps itself).

    When the kernel steps the copies it also keeps the episodes' tally (the
    batched loop's bookkeeping, which cannot see these steps): `tally` =
    (running, ends, count): running[i] is copy i's running return and the
    value of steps[i] when its episode began (so a length costs no work per
    step: it is steps[i] less that, at the end); each episode that ends
    appends (t * N + copy, return, length) to `ends` at row count[0]. Three
    arrays, all float64 but the count (integers below 2**53 are exact):
    each array the loop reads costs a register or two, and six of them cost
    half the speed (measured).
    Unused (may be empty) when ended < 0.

    The environment's step and the learning rules are written out in this
    one loop: moved into an inlined helper that takes the arrays, they
    cost twice as much (measured).
    """
    n, num_states, num_actions = state.size, sizes[0], sizes[1]
    next_row, observation, reward, discount, step_type = table
    ended, horizon, time = clock
    running, ends, count = tally
    tallying = ended >= 0
    finished = 0  # Episodes ended (rows of `ends` written), kept in a register.
    for start in range(0, n, block):
        for t in range(num_steps):
            now = time + t + 1
            for i in range(start, min(n, start + block)):
                if ended < 0:
                    index, kind = i, np.int64(step_type[i])
                else:
                    index = rows[i] + action[i]
                    kind = np.int64(step_type[index])
                    following = next_row[index]
                    if index >= ended:  # A restart.
                        deadline[i] = now + horizon
                    elif horizon and kind == _MID and deadline[i] == now:
                        kind = _LAST  # A truncation.
                        following += ended
                    rows[i] = following
                next_state = np.int64(observation[index])
                row = (i * num_states + next_state) * num_actions
                learns = kind != _FIRST
                if sarsa:
                    # SARSA chooses its next action first (after counting the
                    # step) and bootstraps on it.
                    steps[i] += learns
                    next_action, g = _act(q, sizes, settings, steps, i, row,
                                          _load(lanes, i))
                    _store(lanes, i, g)
                    bootstrap = q[row + next_action]
                elif num_actions == 4:  # Without branches (a GridWorld's four).
                    bootstrap = max(max(q[row], q[row + 1]), max(q[row + 2], q[row + 3]))
                else:
                    bootstrap = q[row]
                    for a in range(1, num_actions):
                        if q[row + a] > bootstrap:
                            bootstrap = q[row + a]
                if learns:
                    update = (i * num_states + state[i]) * num_actions + action[i]
                    old = q[update]
                    r = np.float64(reward[index])
                    target = r + settings[0] * np.float64(discount[index]) * bootstrap
                    q[update] = old + settings[1] * (target - old)
                    if tallying:
                        episode_return = running[i, 0] + r
                        if kind == _LAST:
                            # Q-learning counts this step just below.
                            learned = np.float64(steps[i] + (not sarsa))
                            ends[finished, 0] = t * n + i  # Orders by step, then copy.
                            ends[finished, 1] = episode_return
                            ends[finished, 2] = learned - running[i, 1]
                            finished += 1
                            episode_return = 0.
                            running[i, 1] = learned
                        running[i, 0] = episode_return
                if not sarsa:
                    # Q-learning acts after its update, and is not asked to
                    # act on a LAST step.
                    steps[i] += learns
                    next_action = 0
                    if kind != _LAST:
                        next_action, g = _act(q, sizes, settings, steps, i, row,
                                              _load(lanes, i))
                        _store(lanes, i, g)
                state[i] = next_state
                action[i] = next_action
                if t == num_steps - 1 and ended >= 0:
                    last[0][i] = observation[index]
                    last[1][i] = reward[index]
                    last[2][i] = discount[index]
                    last[3][i] = kind
    count[0] = finished
