"""Bandit agents: four ways to trade exploring arms against exploiting the best.

Each keeps its statistics per context (the observation is a context index; a
plain multi-armed bandit has one), learns from the reward of every pull, and
can say how likely it is to pull each arm (`action_probabilities`), which is
what off-policy evaluation needs from a behaviour policy.

- `EpsilonGreedy`: the best estimate, or a random arm with probability epsilon.
- `UCB`: the best upper confidence bound, Q + c * sqrt(ln t / N) (UCB1).
- `Softmax`: Boltzmann exploration, probabilities proportional to exp(Q / T).
- `GradientBandit`: preferences H moved by (R - baseline) * (1[a] - pi(a)),
  the seeds' "reinforcement comparison" and policy-gradient bandit.

Sample averages by default (`step_size=None`); a constant step size tracks
arms whose means drift. Ties are broken at random.
"""

import abc
from typing import Optional

import numpy as np

import gridlab
from gridlab.core import validation
from agents.common.exploration import linear_schedule, random_argmax, restored_generator
from agents.common.observations import discrete_specs
from gridlab.core.checkpoints import Checkpointing


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


class BanditAgent(Checkpointing, gridlab.Actor):
    """Shared bookkeeping: estimates Q and counts N per (context, arm)."""

    def __init__(self, environment_spec: gridlab.EnvironmentSpec,
                 step_size: Optional[float] = None, initial_value: float = 0.,
                 seed: Optional[int] = None):
        observations, actions = discrete_specs(environment_spec, type(self).__name__,
                                               'a context index, an arm')
        if step_size is not None:
            step_size = validation.check_in_range('step_size', step_size, 0., 1.,
                                                  low_open=True)
        initial_value = validation.check_finite('initial_value', initial_value)
        shape = (observations.num_values, actions.num_values)
        self._q = np.full(shape, float(initial_value))
        self._counts = np.zeros(shape, dtype=np.int64)
        self._steps = 0
        self._step_size = step_size
        self._rng = np.random.default_rng(validation.check_optional_seed('seed', seed))
        self._context = 0
        self._pending = None  # (context, arm, reward) awaiting update().

    def q_values(self, observation) -> np.ndarray:
        return self._q[int(observation)].copy()

    @abc.abstractmethod
    def action_probabilities(self, observation) -> np.ndarray:
        """The probability of pulling each arm in this context."""

    def select_action(self, observation) -> int:
        context = int(observation)
        if self.greedy:
            return random_argmax(self._greedy_values(context), self._rng)
        probabilities = self.action_probabilities(context)
        if not np.isfinite(probabilities).all():
            validation.check_all_finite('arm probabilities', probabilities,
                                        f'{type(self).__name__}.select_action')
        arm = int(np.searchsorted(np.cumsum(probabilities), self._rng.random(),
                                  side='right'))
        return min(arm, len(probabilities) - 1)

    def _greedy_values(self, context: int) -> np.ndarray:
        return self._q[context]

    def observe_first(self, timestep) -> None:
        self._context = int(timestep.observation)

    def observe(self, action, next_timestep) -> None:
        self._pending = (self._context, int(action), float(next_timestep.reward))

    def update(self, wait: bool = False) -> None:
        if self._pending is None:
            return
        context, arm, reward = self._pending
        self._pending = None
        self._steps += 1
        self._counts[context, arm] += 1
        self._learn(context, arm, reward)

    def _learn(self, context: int, arm: int, reward: float) -> None:
        step = self._step_size or 1. / self._counts[context, arm]
        self._q[context, arm] += step * (reward - self._q[context, arm])

    def _state(self) -> dict:
        return {'q': self._q.tolist(), 'counts': self._counts.tolist(),
                'steps': self._steps, 'rng': self._rng.bit_generator.state}

    def _load_state(self, state: dict) -> None:
        q = np.asarray(state['q'], dtype=np.float64)
        counts = np.asarray(state['counts'], dtype=np.int64)
        if q.shape != self._q.shape or counts.shape != self._q.shape:
            raise ValueError(f'estimates of shape {q.shape}; this agent needs '
                             f'{self._q.shape}')
        rng = restored_generator(state['rng'])
        self._q, self._counts, self._steps, self._rng = q, counts, state['steps'], rng


class EpsilonGreedy(BanditAgent):
    """The best estimate, or with probability epsilon a random arm.

    Epsilon decays linearly to `final_epsilon` over `decay_steps` pulls if
    those are given.
    """

    def __init__(self, environment_spec, epsilon: float = 0.1,
                 final_epsilon: Optional[float] = None, decay_steps: int = 0,
                 **kwargs):
        super().__init__(environment_spec, **kwargs)
        epsilon = validation.check_probability('epsilon', epsilon)
        if final_epsilon is not None:
            final_epsilon = validation.check_probability('final_epsilon', final_epsilon)
        decay_steps = validation.check_nonnegative_int('decay_steps', decay_steps)
        self._initial = epsilon
        self._final = epsilon if final_epsilon is None else final_epsilon
        self._decay_steps = decay_steps

    @property
    def epsilon(self) -> float:
        return linear_schedule(self._initial, self._final, self._decay_steps, self._steps)

    def action_probabilities(self, observation) -> np.ndarray:
        values = self._q[int(observation)]
        best = values == values.max()
        return self.epsilon / len(values) + (1. - self.epsilon) * best / best.sum()


class UCB(BanditAgent):
    """UCB1: argmax Q + c * sqrt(ln t / N); every arm is tried once first."""

    def __init__(self, environment_spec, confidence: float = 2., **kwargs):
        super().__init__(environment_spec, **kwargs)
        self._confidence = validation.check_nonnegative('confidence', confidence)

    def upper_bounds(self, observation) -> np.ndarray:
        context = int(observation)
        counts = self._counts[context]
        with np.errstate(divide='ignore', invalid='ignore'):
            bonus = self._confidence * np.sqrt(np.log(max(self._steps, 1)) / counts)
        return np.where(counts == 0, np.inf, self._q[context] + bonus)

    def action_probabilities(self, observation) -> np.ndarray:
        bounds = self.upper_bounds(observation)
        best = bounds == bounds.max()
        return best / best.sum()  # Deterministic but for ties.


class Softmax(BanditAgent):
    """Boltzmann exploration: pi(a) proportional to exp(Q(a) / temperature).

    The temperature anneals linearly to `final_temperature` over
    `decay_steps` pulls if those are given.
    """

    def __init__(self, environment_spec, temperature: float = 0.1,
                 final_temperature: Optional[float] = None, decay_steps: int = 0,
                 **kwargs):
        super().__init__(environment_spec, **kwargs)
        temperature = validation.check_positive('temperature', temperature)
        if final_temperature is not None:
            final_temperature = validation.check_positive('final_temperature',
                                                          final_temperature)
        decay_steps = validation.check_nonnegative_int('decay_steps', decay_steps)
        self._initial = temperature
        self._final = temperature if final_temperature is None else final_temperature
        self._decay_steps = decay_steps

    @property
    def temperature(self) -> float:
        return linear_schedule(self._initial, self._final, self._decay_steps, self._steps)

    def action_probabilities(self, observation) -> np.ndarray:
        return _softmax(self._q[int(observation)] / self.temperature)


class GradientBandit(BanditAgent):
    """Preferences H; pi = softmax(H); H += step_size * (R - baseline) * (1[a] - pi).

    The baseline is the average reward so far (per context), unless
    `baseline=False`. `q_values` reports the preferences.
    """

    def __init__(self, environment_spec, step_size: float = 0.1,
                 baseline: bool = True, **kwargs):
        super().__init__(environment_spec, step_size=step_size, **kwargs)
        self._use_baseline = baseline
        self._average_reward = np.zeros(self._q.shape[0])

    def action_probabilities(self, observation) -> np.ndarray:
        return _softmax(self._q[int(observation)])

    def _learn(self, context: int, arm: int, reward: float) -> None:
        probabilities = self.action_probabilities(context)
        baseline = self._average_reward[context] if self._use_baseline else 0.
        chosen = np.zeros_like(probabilities)
        chosen[arm] = 1.
        self._q[context] += self._step_size * (reward - baseline) * (chosen - probabilities)
        pulls = self._counts[context].sum()
        self._average_reward[context] += (reward - self._average_reward[context]) / pulls

    def _state(self) -> dict:
        return dict(super()._state(), average_reward=self._average_reward.tolist())

    def _load_state(self, state: dict) -> None:
        average_reward = np.asarray(state['average_reward'], dtype=np.float64)
        if average_reward.shape != self._average_reward.shape:
            raise ValueError(f'average rewards of shape {average_reward.shape}; '
                             f'this agent needs {self._average_reward.shape}')
        super()._load_state(state)
        self._average_reward = average_reward
