"""Exploration: epsilon-greedy action selection, and count-based bonuses."""

import warnings
from typing import Callable, Optional

import dm_env
import numpy as np

from gridlab.core import validation

_FIRST = int(dm_env.StepType.FIRST)


def random_argmax(values: np.ndarray, rng: np.random.Generator) -> int:
    """The index of the largest value, ties broken uniformly at random.

    A fresh all-equal table then does not always pick action 0. Every
    agent's greedy choice goes through here.
    """
    best = np.flatnonzero(values == values.max())
    if best.size == 0:  # Only NaN compares unequal to the maximum.
        validation.check_all_finite('action values', values, 'greedy action selection')
        raise ValueError(f'cannot choose among no action values: {values!r}')
    return int(best[0] if best.size == 1 else rng.choice(best))


def linear_schedule(initial: float, final: float, steps: int, t: int) -> float:
    """From `initial` to `final` linearly over `steps` steps, then `final`."""
    if t >= steps:
        return final
    return initial + (final - initial) * t / steps


class EpsilonGreedyExplorer:
    """Picks a random action with probability epsilon, else a greedy one.

    Epsilon goes linearly from `epsilon` to `final_epsilon` over `decay_steps`
    calls of `step()` and stays there; with no `final_epsilon` it is constant.
    Ties between greedy actions are broken at random, so a fresh all-zero
    Q-table does not always pick action 0.
    """

    def __init__(self, num_actions: int, epsilon: float = 0.1,
                 final_epsilon: Optional[float] = None, decay_steps: int = 0,
                 seed=None):
        num_actions = validation.check_positive_int('num_actions', num_actions)
        epsilon = validation.check_probability('epsilon', epsilon)
        if final_epsilon is not None:
            final_epsilon = validation.check_probability('final_epsilon', final_epsilon)
        decay_steps = validation.check_nonnegative_int('decay_steps', decay_steps)
        self.num_actions = num_actions
        self.initial = float(epsilon)
        self.final = float(epsilon if final_epsilon is None else final_epsilon)
        self.decay_steps = int(decay_steps)
        self.steps = 0
        self.rng = np.random.default_rng(seed)

    @property
    def epsilon(self) -> float:
        return linear_schedule(self.initial, self.final, self.decay_steps, self.steps)

    @epsilon.setter
    def epsilon(self, value: float):
        """Sets a constant epsilon (as older scripts do with agent._epsilon)."""
        self.initial = self.final = validation.check_probability('epsilon', value)

    def step(self) -> None:
        """Advances the decay schedule by one step."""
        self.steps += 1

    def select(self, q_values: Callable[[], np.ndarray], greedy: bool = False) -> int:
        """Returns an action; `q_values()` is called only when acting greedily."""
        if not greedy and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.num_actions))
        return self.argmax(q_values())

    def argmax(self, values: np.ndarray) -> int:
        """The index of the largest value, ties broken at random."""
        return random_argmax(values, self.rng)

    def state_dict(self) -> dict:
        return {'initial': self.initial, 'final': self.final,
                'decay_steps': self.decay_steps, 'steps': self.steps,
                'rng': self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        rng = restored_generator(state['rng'])  # Checked before anything changes.
        self.initial, self.final = state['initial'], state['final']
        self.decay_steps, self.steps = state['decay_steps'], state['steps']
        self.rng = rng


def restored_generator(bit_generator_state: dict) -> np.random.Generator:
    """A new Generator in a saved `bit_generator.state` (numpy checks the state)."""
    generator = np.random.default_rng()
    generator.bit_generator.state = bit_generator_state
    return generator


def restored_table(state: dict, shape, what: str = 'Q-table'):
    """(table, explorer) from a checkpoint's 'q' and 'explorer', or a ValueError.

    Nothing is assigned here: the caller swaps both in only once both loaded.
    """
    table = np.asarray(state['q'], dtype=np.float64)
    if table.shape != tuple(shape):
        raise ValueError(f'a {what} of shape {table.shape}; this agent needs '
                         f'{tuple(shape)}')
    explorer = EpsilonGreedyExplorer(table.shape[1])
    explorer.load_state_dict(state['explorer'])
    return table, explorer


class ExploresEpsilonGreedily:
    """For agents whose `_explorer` is an `EpsilonGreedyExplorer`: exposes `epsilon`.

    Older scripts evaluate by setting `agent._epsilon = 0`; that works too.
    """

    @property
    def epsilon(self) -> float:
        return self._explorer.epsilon

    @epsilon.setter
    def epsilon(self, value: float):
        self._explorer.epsilon = value

    _epsilon = epsilon


class CountBasedExploration:
    """Exploration values E(s, a) from visit counts, kept apart from Q.

    States are any hashable keys (a state index, an observation's bytes).
    Each observed transition counts its pair, N(s, a) += 1, and E learns by
    Q-learning the discounted sum of the bonuses c / sqrt(N) that acting
    from (s, a) leads to:

        E(s, a) += step_size * (c / sqrt(N(s, a)) + d * max_b E(s', b) - E(s, a))

    with d = `discount`, or 0 after a termination. An agent explores by
    acting on Q + E, so rarely tried pairs and the paths toward them look
    better than they are; E never enters Q. Pairs never tried start at
    `initial_value` (by default c / (1 - discount), the most E can be), so
    the agent heads for what it has not tried yet.

    One update per step moves E's pull back along a path one step per
    traversal, slow on a deep maze. `plan()` instead runs value iteration on
    E over every pair tried so far, with the last next state seen from each
    (the model is exact on deterministic grids, an approximation with slips),
    so that the pull of the nearest untried pair reaches the agent at once.
    """

    def __init__(self, num_actions: int, bonus: float, discount: float = 0.99,
                 step_size: float = 1., initial_value: Optional[float] = None):
        self.num_actions = validation.check_positive_int('num_actions', num_actions)
        self.bonus = validation.check_positive('count_bonus', bonus)
        self.discount = validation.check_in_range('bonus_discount', discount, 0., 1.,
                                                  high_open=True)
        self.step_size = validation.check_in_range('step_size', step_size, 0., 1.,
                                                   low_open=True)
        if initial_value is None:
            initial_value = self.bonus / (1. - self.discount)
        self.initial_value = validation.check_finite('initial_value', initial_value)
        self._counts = {}  # key -> N(key, .), float64 (A,)
        self._values = {}  # key -> E(key, .), float64 (A,)
        self._next = {}  # key -> [last next key seen after each action (or None)]
        self._bootstraps = {}  # key -> (A,) bool: whether that step bootstrapped

    @property
    def total_count(self) -> float:
        """The transitions counted so far, over every state and action."""
        return float(sum(counts.sum() for counts in self._counts.values()))

    def __len__(self) -> int:
        """How many states have been seen."""
        return len(self._values)

    def values(self, key) -> np.ndarray:
        """E(key, .) (read-only: a fresh row for an unseen state)."""
        row = self._values.get(key)
        if row is None:
            return np.full(self.num_actions, self.initial_value)
        return row

    def counts(self, key) -> np.ndarray:
        row = self._counts.get(key)
        return np.zeros(self.num_actions) if row is None else row.copy()

    def observe(self, key, action: int, next_key, bootstrap: bool) -> None:
        """Counts (key, action) and moves E(key, action) toward its target."""
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = np.zeros(self.num_actions)
            self._values[key] = np.full(self.num_actions, self.initial_value)
            self._next[key] = [None] * self.num_actions
            self._bootstraps[key] = np.zeros(self.num_actions, bool)
        counts[action] += 1.
        self._next[key][action] = next_key
        self._bootstraps[key][action] = bootstrap
        target = self.bonus / np.sqrt(counts[action])
        if bootstrap:
            target += self.discount * self.values(next_key).max()
        row = self._values[key]
        row[action] += self.step_size * (target - row[action])

    def plan(self, tolerance: float = 1e-3) -> int:
        """Value iteration on E over the pairs tried; returns the sweeps made.

        Sweeps until no value moves by more than `tolerance` (at most one
        sweep per state seen, the longest a path among them can be).
        """
        keys = list(self._values)
        if not keys:
            return 0
        index = {key: i for i, key in enumerate(keys)}
        unseen = len(keys)  # The row standing for states never acted in.
        counts = np.array([self._counts[key] for key in keys])
        successors = np.full(counts.shape, unseen)
        for i, key in enumerate(keys):
            for a, next_key in enumerate(self._next[key]):
                if next_key is not None:
                    successors[i, a] = index.get(next_key, unseen)
        bootstraps = np.array([self._bootstraps[key] for key in keys])
        tried = counts > 0
        bonus = np.where(tried, self.bonus / np.sqrt(np.maximum(counts, 1.)), 0.)
        values = np.vstack([np.array([self._values[key] for key in keys]),
                            np.full((1, self.num_actions), self.initial_value)])
        discount = self.discount * bootstraps
        sweeps = 0
        for sweeps in range(1, len(keys) + 1):
            best = values.max(axis=1)
            new = np.where(tried, bonus + discount * best[successors], self.initial_value)
            change = np.abs(new - values[:unseen]).max()
            values[:unseen] = new
            if change <= tolerance:
                break
        for i, key in enumerate(keys):
            self._values[key] = values[i].copy()
        return sweeps

    def state_dict(self) -> dict:
        keys = list(self._values)
        return {'keys': keys,
                'counts': [self._counts[k].tolist() for k in keys],
                'values': [self._values[k].tolist() for k in keys]}

    def load_state_dict(self, state: dict) -> None:
        counts = np.asarray(state['counts'], np.float64).reshape(-1, self.num_actions)
        values = np.asarray(state['values'], np.float64).reshape(-1, self.num_actions)
        keys = list(state['keys'])
        if not len(keys) == len(counts) == len(values):
            raise ValueError(f'exploration state: {len(keys)} keys, {len(counts)} count '
                             f'rows and {len(values)} value rows; expected equal numbers')
        self._counts = {k: c.copy() for k, c in zip(keys, counts)}
        self._values = {k: v.copy() for k, v in zip(keys, values)}
        # The model is not saved: planning picks it up again from new steps.
        self._next = {k: [None] * self.num_actions for k in keys}
        self._bootstraps = {k: np.zeros(self.num_actions, bool) for k in keys}


class VisitCountBonus:
    """A reward bonus for reaching rarely visited states (as in MBIE-EB).

    Each state reached pays `scale / sqrt(n)`, n its visits so far, counted
    over every copy; a restart (a FIRST step) is no transition and pays
    nothing. States are state indices (a DiscreteArray spec) or the bytes of
    integer array observations (a MiniGrid view); float observations are
    refused, since each of CartPole's is new and counting them says nothing.
    With `decay_steps` the scale falls linearly to 0 over that many of the
    agent's learned steps (its `steps`, which grow as it learns), so
    that what a policy finally maximises is the task's own return (a lasting
    bonus pulls it toward rarely visited dead ends).

    The policy agents (PPO, the actor-critic, REINFORCE) add it to the
    rewards they learn from; the counts belong in their checkpoints
    (`state_dict`), or a resumed run would pay every state as new again.
    """

    def __init__(self, spec, scale: float, decay_steps: Optional[int] = None):
        self.scale = validation.check_nonnegative('count_bonus', scale)
        self.decay_steps = validation.check_optional_positive_int(
            'count_bonus_decay_steps', decay_steps)
        num_values = getattr(spec, 'num_values', None) if spec.shape == () else None
        if self.scale and num_values is None and np.dtype(spec.dtype).kind not in 'iub':
            raise ValueError(f'count_bonus needs discrete observations, a state index '
                             f'or an integer array (a MiniGrid view); got '
                             f'count_bonus={scale!r} with {spec!r}')
        # Visits per state index, or per distinct observation's bytes.
        self._visits = np.zeros(num_values) if num_values else {}

    def __bool__(self) -> bool:
        return bool(self.scale)

    def __call__(self, observations: np.ndarray, step_types: np.ndarray,
                 steps: int) -> np.ndarray:
        """The bonus (float32) of each state reached, after counting them;
        `steps` so far sets the decayed scale."""
        reached = np.asarray(step_types) != _FIRST
        if isinstance(self._visits, dict):
            keys = [np.ascontiguousarray(o).tobytes() for o in observations]
            for key, counted in zip(keys, reached):
                if counted:
                    self._visits[key] = self._visits.get(key, 0) + 1
            visits = np.array([self._visits.get(key, 0) for key in keys], np.float64)
        else:
            observations = np.asarray(observations, np.int64).reshape(-1)
            np.add.at(self._visits, observations[reached], 1)
            visits = self._visits[observations]
        scale = self.scale
        if self.decay_steps:
            scale *= max(0., 1. - steps / self.decay_steps)
        bonus = scale / np.sqrt(np.maximum(visits, 1))
        return np.where(reached, bonus, 0.).astype(np.float32)

    def state_dict(self) -> dict:
        if isinstance(self._visits, dict):
            return {'keys': list(self._visits), 'visits': list(self._visits.values())}
        return {'visits': self._visits.tolist()}

    def restore(self, checkpoint: dict, owner: str) -> None:
        """Loads the counts kept under 'visits' in an agent's `checkpoint`.

        A checkpoint without them (saved by `owner` without a bonus, or by a
        gridlab older than the counts in checkpoints) leaves them at zero,
        which pays every state as new again: said in a warning, not silently.
        """
        if not self:
            return
        if 'visits' in checkpoint:
            self.load_state_dict(checkpoint['visits'])
            return
        warnings.warn(f'this {owner} checkpoint has no visit counts (saved without '
                      f'count_bonus, or by an older gridlab): the count bonus starts '
                      f'counting from zero, paying every state as new', stacklevel=3)

    def load_state_dict(self, state: dict) -> None:
        if isinstance(self._visits, dict):
            keys, visits = list(state.get('keys', [])), list(state['visits'])
            if len(keys) != len(visits):
                raise ValueError(f'visit counts: {len(keys)} observations and '
                                 f'{len(visits)} counts; expected equal numbers')
            self._visits = dict(zip(keys, (int(v) for v in visits)))
            return
        visits = np.asarray(state['visits'], np.float64)
        if visits.shape != self._visits.shape:
            raise ValueError(f'visit counts for {visits.shape[0]} states; this agent '
                             f'has {self._visits.shape[0]}')
        self._visits = visits
