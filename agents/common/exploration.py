"""Epsilon-greedy action selection with an optional linear decay."""

from typing import Callable, Optional

import numpy as np

from gridlab import validation


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
        """Sets a constant epsilon (as the seed tutorial does with agent._epsilon)."""
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
        rng = np.random.default_rng()
        rng.bit_generator.state = state['rng']  # Checked before anything changes.
        self.initial, self.final = state['initial'], state['final']
        self.decay_steps, self.steps = state['decay_steps'], state['steps']
        self.rng = rng


class ExploresEpsilonGreedily:
    """For agents whose `_explorer` is an `EpsilonGreedyExplorer`: exposes `epsilon`.

    The seed tutorial evaluates by setting `agent._epsilon = 0`; that works too.
    """

    @property
    def epsilon(self) -> float:
        return self._explorer.epsilon

    @epsilon.setter
    def epsilon(self, value: float):
        self._explorer.epsilon = value

    _epsilon = epsilon
