"""Tabular Q-learning and SARSA: one table of Q(s, a), one TD update per step.

Both work on any environment whose observations are a `DiscreteArray` (a
GridWorld's STATE_INDEX, a TabularMDP, FrozenLake through the Gymnasium
adapter). The bootstrap factor is d = discount * timestep.discount (the
rule of every gridlab agent): the TimeStep's is 0 when the episode
terminated and the environment's discount otherwise (including truncation,
where bootstrapping is right); the agent's own `discount` is 1 by default.

    Q-learning:  Q(s, a) += step_size * (r + d * max_b Q(s', b) - Q(s, a))
    SARSA:       Q(s, a) += step_size * (r + d * Q(s', a') - Q(s, a))

SARSA's a' is the action it will take next, so it chooses a' during
`update()` and returns it from the next `select_action()`.
"""

import abc
from typing import Optional

import numpy as np
from dm_env import specs

import gridlab
from agents.common.exploration import EpsilonGreedyExplorer, ExploresEpsilonGreedily
from gridlab import validation
from gridlab.checkpoints import Checkpointing


class _TabularAgent(ExploresEpsilonGreedily, Checkpointing, gridlab.Actor):
    """What Q-learning and SARSA share: the table, exploration, bookkeeping."""

    def __init__(self,
                 environment_spec: gridlab.EnvironmentSpec,
                 step_size: float = 0.5,
                 epsilon: float = 0.1,
                 final_epsilon: Optional[float] = None,
                 decay_steps: int = 0,
                 initial_value: float = 10.,
                 discount: float = 1.,
                 seed: Optional[int] = None):
        """Builds the agent.

        Args:
          environment_spec: needs DiscreteArray observations and actions.
          step_size: how far each TD update moves Q(s, a) toward its target.
          epsilon: chance of a random action; with `final_epsilon` and
            `decay_steps` it decays linearly to `final_epsilon`.
          initial_value: the table's starting value. An optimistic one (at
            least the best return; 10 is the GridWorld goal reward) makes the
            greedy agent try every action before it settles.
          discount: multiplied onto each TimeStep's discount (which carries
            the task's own); 1 learns the task's discounted values.
          seed: seeds exploration and tie-breaking.
        """
        observations, actions = environment_spec.observations, environment_spec.actions
        for name, spec in (('observation', observations), ('action', actions)):
            if not isinstance(spec, specs.DiscreteArray):
                raise ValueError(
                    f'{type(self).__name__} needs a DiscreteArray {name} spec (a state '
                    f'index, e.g. ObservationType.STATE_INDEX), got {spec!r}')
        step_size = validation.check_in_range('step_size', step_size, 0., 1., low_open=True)
        self.discount = validation.check_probability('discount', discount)
        initial_value = validation.check_finite('initial_value', initial_value)
        self._num_states = observations.num_values
        self._step_size = step_size
        self._q = np.full((observations.num_values, actions.num_values),
                          float(initial_value))
        self._explorer = EpsilonGreedyExplorer(actions.num_values, epsilon, final_epsilon,
                                               decay_steps, seed=seed)
        self._current = None  # The state index being acted in.
        self._transition = None  # (s, a, r, d, s', last) awaiting update().
        self.last_loss = 0.

    @property
    def q_table(self) -> np.ndarray:
        """The table, shape [number of states, number of actions] (a copy)."""
        return self._q.copy()

    def _index(self, observation) -> int:
        try:
            index = int(observation)
        except (TypeError, ValueError):
            raise ValueError(
                f'{type(self).__name__} needs a state index, got '
                f'{observation!r}') from None
        if not 0 <= index < self._num_states or index != observation:
            raise ValueError(
                f'observation {observation!r} is not a state index in '
                f'[0, {self._num_states})')
        return index

    def q_values(self, observation) -> np.ndarray:
        return self._q[self._index(observation)].copy()

    def select_action(self, observation) -> int:
        row = self._q[self._index(observation)]
        return self._explorer.select(lambda: row, greedy=self.greedy)

    def observe_first(self, timestep) -> None:
        self._current = self._index(timestep.observation)

    def observe(self, action, next_timestep) -> None:
        if self._current is None:
            raise ValueError('observe() before observe_first(): start each '
                             'episode with observe_first(timestep)')
        next_state = self._index(next_timestep.observation)
        self._transition = (self._current, int(action), float(next_timestep.reward),
                            self.discount * float(next_timestep.discount), next_state,
                            next_timestep.last())
        self._current = None if next_timestep.last() else next_state
        self._explorer.step()  # Every agent: once per observed step.

    def update(self, wait: bool = False) -> None:
        if self._transition is None:
            return
        s, a, r, d, next_s, last = self._transition
        self._transition = None
        target = r + d * self._bootstrap(next_s, last)
        td_error = target - self._q[s, a]
        new_value = self._q[s, a] + self._step_size * td_error
        if not np.isfinite(new_value):
            validation.check_all_finite(
                'Q-values', new_value,
                f'{type(self).__name__}.update (state {s}, action {a})')
        self._q[s, a] = new_value
        self.last_loss = td_error * td_error

    @abc.abstractmethod
    def _bootstrap(self, next_state: int, last: bool) -> float:
        """The value of the next state that the TD target discounts."""

    def _state(self) -> dict:
        return {'q': self._q.tolist(), 'explorer': self._explorer.state_dict()}

    def _load_state(self, state: dict) -> None:
        q = np.asarray(state['q'], dtype=np.float64)
        if q.shape != self._q.shape:
            raise ValueError(f'a Q-table of shape {q.shape}; this agent needs '
                             f'{self._q.shape}')
        explorer = EpsilonGreedyExplorer(self._q.shape[1])
        explorer.load_state_dict(state['explorer'])
        self._q, self._explorer = q, explorer


class QLearning(_TabularAgent):
    """Off-policy: bootstraps on the best next action, whatever it does next."""

    def _bootstrap(self, next_state: int, last: bool) -> float:
        return self._q[next_state].max()


class SARSA(_TabularAgent):
    """On-policy: bootstraps on the action it actually takes next.

    It learns the values of the policy it follows, exploration included, so
    epsilon decays to 0 by default (over 1,000 steps; optimism does the rest
    of the exploring) and the values become those of the greedy policy.
    """

    def __init__(self, environment_spec, step_size: float = 0.5,
                 epsilon: float = 0.1, final_epsilon: Optional[float] = 0.,
                 decay_steps: int = 1_000, **kwargs):
        super().__init__(environment_spec, step_size=step_size, epsilon=epsilon,
                         final_epsilon=final_epsilon, decay_steps=decay_steps,
                         **kwargs)
        self._next_action = None  # (state, action) chosen during update().

    def _bootstrap(self, next_state: int, last: bool) -> float:
        # After termination d = 0 and a' is never taken; after truncation a'
        # is drawn from the policy, as it would have been.
        action = self._explorer.select(lambda: self._q[next_state])
        self._next_action = None if last else (next_state, action)
        return self._q[next_state, action]

    def select_action(self, observation) -> int:
        pending, self._next_action = self._next_action, None
        if (pending is not None and not self.greedy and
                pending[0] == self._index(observation)):
            return pending[1]
        return super().select_action(observation)
