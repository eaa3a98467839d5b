"""Any finite MDP given as arrays, as a dm_env environment; and Markov chains.

    mdp = TabularMDP(transitions, rewards, discount=0.9)   # [S][A][S'] each

`transitions[s][a]` is a list of next-state probabilities, or None where
state s does not offer action a (the classic tutorial's 3-state MDP has such
actions). Observations are state indices (int32), like a GridWorld's
STATE_INDEX, so the tabular agents run on it unchanged. Taking an action a
state does not offer raises ValueError, unless `impossible_action_reward` is
given: then the agent stays where it is and receives that reward, which lets
agents that do not know the rule learn it (planning still values those
actions at -inf, so Q* is the true optimum).

Entering a terminal state ends the episode (discount 0); otherwise every step
carries `discount`, and `max_episode_length` truncates continuing MDPs.
"""

from typing import Optional, Sequence

import dm_env
import numpy as np
from dm_env import specs

from gridlab.core import validation
from gridlab.envs import base
from gridlab.envs.model import TabularModel

_MID, _LAST = dm_env.StepType.MID, dm_env.StepType.LAST


def _as_arrays(transitions, rewards):
    """[S, A, S'] probabilities and rewards, and the [S, A] allowed mask."""
    try:
        rows = [[None if row is None else list(row) for row in state]
                for state in transitions]
    except TypeError:
        raise ValueError('transitions must be nested as [state][action][next '
                         'state] (None for an action a state does not offer)') from None
    num_states = len(rows)
    num_actions = {len(state) for state in rows}
    if num_states == 0 or len(num_actions) != 1:
        raise ValueError(f'every state needs the same number of actions, got '
                         f'{[len(state) for state in rows]}')
    num_actions = num_actions.pop()
    probabilities = np.zeros((num_states, num_actions, num_states))
    allowed = np.zeros((num_states, num_actions), dtype=bool)
    for s, state in enumerate(rows):
        for a, row in enumerate(state):
            if row is None:
                continue
            row = validation.check_finite_array(f'transitions[{s}][{a}]', row)
            if row.shape != (num_states,):
                raise ValueError(f'transitions[{s}][{a}] has {row.size} entries, '
                                 f'expected {num_states} (one per next state)')
            if not row.any():
                continue  # An all-zero row also means "not offered".
            if np.any(row < 0) or not np.isclose(row.sum(), 1.):
                raise ValueError(f'transitions[{s}][{a}] = {row.tolist()} must be '
                                 'non-negative and sum to 1')
            probabilities[s, a] = row / row.sum()
            allowed[s, a] = True
    reward_array = np.zeros_like(probabilities)
    try:
        given = np.array([[np.zeros(num_states) if r is None else r for r in state]
                          for state in rewards], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError('rewards must be nested like transitions: [S][A][S\'] '
                         'or [S][A]') from None
    if given.shape == (num_states, num_actions):
        given = np.repeat(given[..., None], num_states, axis=-1)
    if given.shape != probabilities.shape:
        raise ValueError(f'rewards have shape {given.shape}, expected '
                         f'{probabilities.shape} or {probabilities.shape[:2]}')
    validation.check_finite_array('rewards', given)
    reward_array[:] = given
    return probabilities, reward_array, allowed


class TabularMDP(base.Environment):
    """A finite MDP as a `dm_env.Environment` with state-index observations."""

    def __init__(self, transitions, rewards, discount: float = 0.9,
                 start_state: int = 0, terminal_states: Sequence[int] = (),
                 impossible_action_reward: Optional[float] = None,
                 max_episode_length: Optional[int] = None,
                 seed: Optional[int] = None):
        super().__init__()
        self._probabilities, self._rewards, self._allowed = _as_arrays(
            transitions, rewards)
        num_states, num_actions = self._allowed.shape
        discount = validation.check_probability('discount', discount)
        self._terminal = np.zeros(num_states, dtype=bool)
        for i, state in enumerate(terminal_states):
            state = validation.check_int(f'terminal_states[{i}]', state, 0, num_states - 1)
            self._terminal[state] = True
        start_state = validation.check_int('start_state', start_state, 0, num_states - 1)
        if impossible_action_reward is not None:
            impossible_action_reward = validation.check_finite(
                'impossible_action_reward', impossible_action_reward)
        max_episode_length = validation.check_optional_positive_int(
            'max_episode_length', max_episode_length)
        if self._terminal[start_state]:
            raise ValueError(f'start_state {start_state!r} must be a non-terminal '
                             f'state in [0, {num_states})')
        stuck = [s for s in range(num_states)
                 if not self._terminal[s] and not self._allowed[s].any()]
        if stuck:
            raise ValueError(f'states {stuck} offer no action and are not terminal')
        self._discount = np.float32(discount)
        self._start = start_state
        self._impossible_reward = (None if impossible_action_reward is None
                                   else np.float32(impossible_action_reward))
        self._max_episode_length = max_episode_length
        self._rng = np.random.default_rng(seed)
        self._cumulative = np.cumsum(self._probabilities, axis=-1)
        self._observations = [np.int32(s) for s in range(num_states)]
        self._state, self._steps = start_state, 0

    @property
    def number_of_states(self) -> int:
        return self._allowed.shape[0]

    @property
    def state(self) -> int:
        return self._state

    def allowed_actions(self, state: int) -> np.ndarray:
        """The actions `state` offers."""
        return np.flatnonzero(self._allowed[state])

    def reseed(self, seed: Optional[int]) -> None:
        self._rng = np.random.default_rng(seed)

    def observation_spec(self):
        return specs.DiscreteArray(self.number_of_states, dtype=np.int32,
                                   name='observation_state_index')

    def action_spec(self):
        return specs.DiscreteArray(self._allowed.shape[1], dtype=np.int32, name='action')

    def _reset(self) -> dm_env.TimeStep:
        self._state, self._steps = self._start, 0
        return dm_env.restart(self._observations[self._start])

    def _step(self, action) -> dm_env.TimeStep:
        action = base.discrete_action(action, self._allowed.shape[1])
        s = self._state
        self._steps += 1
        if self._allowed[s, action]:
            next_state = int(np.searchsorted(self._cumulative[s, action],
                                             self._rng.random(), side='right'))
            next_state = min(next_state, self.number_of_states - 1)
            reward = np.float32(self._rewards[s, action, next_state])
        elif self._impossible_reward is not None:
            next_state, reward = s, self._impossible_reward
        else:
            raise ValueError(f'state {s} does not offer action {action}; it offers '
                             f'{self.allowed_actions(s).tolist()}')
        self._state = next_state
        if self._terminal[next_state]:
            return dm_env.TimeStep(_LAST, reward, np.float32(0.),
                                   self._observations[next_state])
        truncated = (self._max_episode_length is not None and
                     self._steps >= self._max_episode_length)
        return dm_env.TimeStep(_LAST if truncated else _MID, reward, self._discount,
                               self._observations[next_state])

    def transition_model(self) -> TabularModel:
        """The dynamics for `gridlab.planning` (K = S outcomes per action)."""
        num_states, num_actions = self._allowed.shape
        next_states = np.broadcast_to(np.arange(num_states),
                                      (num_states, num_actions, num_states)).copy()
        discounts = np.where(self._terminal, 0., float(self._discount))
        discounts = np.broadcast_to(discounts, next_states.shape).copy()
        probabilities = self._probabilities.copy()
        # Actions a state does not offer: a harmless self-loop, masked out.
        for s, a in np.argwhere(~self._allowed):
            probabilities[s, a, s] = 1.
        allowed = self._allowed.copy()
        allowed[self._terminal] = True  # The episode is over there; value 0.
        probabilities[self._terminal] = np.eye(num_states)[self._terminal][:, None]
        discounts[self._terminal] = 0.
        rewards = self._rewards.copy()
        rewards[self._terminal] = 0.
        return TabularModel(next_states, probabilities, rewards, discounts, allowed)


class MarkovChain:
    """A Markov chain over states 0..S-1 that samples runs until a terminal state."""

    def __init__(self, transitions, terminal_states: Sequence[int] = (),
                 seed: Optional[int] = None):
        self.transitions = validation.check_finite_array('transitions', transitions)
        num_states = len(self.transitions)
        if self.transitions.shape != (num_states, num_states):
            raise ValueError(f'transitions must be square [S, S], got '
                             f'{self.transitions.shape}')
        if np.any(self.transitions < 0) or not np.allclose(self.transitions.sum(1), 1.):
            raise ValueError('each row of transitions must be non-negative and sum to 1')
        self.terminal_states = frozenset(
            validation.check_int(f'terminal_states[{i}]', s, 0, num_states - 1)
            for i, s in enumerate(terminal_states))
        self._rng = np.random.default_rng(seed)

    def run(self, start: int = 0, max_steps: int = 1_000) -> list:
        """States visited from `start` until a terminal state (or `max_steps`)."""
        start = validation.check_int('start', start, 0, len(self.transitions) - 1)
        max_steps = validation.check_nonnegative_int('max_steps', max_steps)
        states = [start]
        while states[-1] not in self.terminal_states and len(states) <= max_steps:
            states.append(int(self._rng.choice(len(self.transitions),
                                               p=self.transitions[states[-1]])))
        return states
