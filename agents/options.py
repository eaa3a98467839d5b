"""Learning with options: SMDP Q-learning and intra-option Q-learning.

Both keep a table Q(s, o) over states and options (`gridlab.planning.option_models.Option`;
include `primitive_options` to keep every primitive action available) and act
call-and-return: in state s they pick an option epsilon-greedily among those
whose initiation set holds s, follow its policy one primitive action per
`select_action`, and pick again when it terminates. The bootstrap factor of
each step is d = discount * timestep.discount, as for every gridlab agent.

SMDP Q-learning (Bradtke and Duff; Sutton, Precup and Singh, 1999) updates
once per option, when it ends k steps after starting in s:

    Q(s, o) += step_size * (r_1 + d_1 r_2 + ... + d_1...d_{k-1} r_k
                            + d_1...d_k max_o' Q(s', o') - Q(s, o))

Intra-option Q-learning learns from every primitive step (s, a, r, s') about
every option whose policy would also have taken a in s:

    Q(s, o) += step_size * (r + d U(s', o) - Q(s, o)),
    U(s', o) = (1 - beta_o(s')) Q(s', o) + beta_o(s') max_o' Q(s', o')

so one trip teaches the values of several options at once, including
options it never executed.

`gridlab train --agent smdp-q-learning --task four_rooms` (or
intra-option-q-learning) builds the primitives plus the layout's hallway
options from the task (`hallway_arguments`).
"""

import abc
from typing import Optional, Sequence

import numpy as np

import gridlab
from gridlab.planning import option_models as options_lib
from gridlab.core import validation
from gridlab.core.checkpoints import Checkpointing
from agents.common.exploration import (EpsilonGreedyExplorer, ExploresEpsilonGreedily,
                                       random_argmax, restored_table)
from agents.common.observations import discrete_specs, state_index
from agents.common.tabular_settings import TabularSettings


def hallway_arguments(environment) -> dict:
    """{'options': the primitive actions plus the hallway options} of a GridWorld.

    How the command line builds an option agent for a task.
    """
    if not hasattr(environment, 'walls'):
        raise ValueError(f'hallway options are drawn from a GridWorld layout, got '
                         f'{type(environment).__name__}')
    return {'options': (options_lib.primitive_options(environment.walls.size)
                        + options_lib.hallway_options(environment))}


class _OptionAgent(ExploresEpsilonGreedily, Checkpointing, gridlab.Actor):
    """Table Q(s, o), call-and-return execution and epsilon-greedy choice."""

    def __init__(self,
                 environment_spec: gridlab.EnvironmentSpec,
                 options: Sequence,
                 step_size: float = 0.5,
                 epsilon: float = 0.1,
                 final_epsilon: Optional[float] = None,
                 decay_steps: int = 0,
                 initial_value: float = 10.,
                 discount: float = 1.,
                 seed: Optional[int] = None):
        """Builds the agent.

        Args:
          environment_spec: needs DiscreteArray observations (state indices)
            and actions.
          options: `gridlab.planning.option_models.Option`s over those states; every state
            the agent acts in must be in some option's initiation set.
          step_size, epsilon, final_epsilon, decay_steps, initial_value,
            discount, seed: as for `agents.tabular.QLearning` (epsilon is the
            chance of a random available option when choosing one).
        """
        seed = validation.check_optional_seed('seed', seed)
        observations, actions = discrete_specs(environment_spec, type(self).__name__,
                                               'a state index')
        if not options:
            raise ValueError('options must hold at least one Option, got none')
        for option in options:
            if np.shape(option.policy) != (observations.num_values,):
                raise ValueError(
                    f'option {option.name!r} covers {np.shape(option.policy)[0]} states; '
                    f'the observations have {observations.num_values}')
            if np.any((option.policy < 0) | (option.policy >= actions.num_values)):
                raise ValueError(f'option {option.name!r} takes actions outside '
                                 f'[0, {actions.num_values})')
        settings = TabularSettings(step_size, epsilon, final_epsilon, decay_steps,
                                   initial_value, discount)
        self.options = list(options)
        self.discount = settings.discount
        self._num_states = observations.num_values
        self._step_size = settings.step_size
        self._available = np.stack([o.initiation for o in options], axis=1).astype(bool)
        self._policies = np.stack([o.policy for o in options], axis=1).astype(np.int64)
        self._beta = np.stack([o.termination for o in options], axis=1).astype(float)
        self._q = np.full((self._num_states, len(options)), settings.initial_value)
        # An option's decision is always its own first action; but the explorer
        # counts options, not actions.
        self._explorer = EpsilonGreedyExplorer(len(options), *settings.epsilon_schedule,
                                               seed=seed)
        self._option = None  # The option being executed, or None.
        self._acting_state = None  # The state the last primitive action was taken in.
        self.last_loss = 0.

    @property
    def q_table(self) -> np.ndarray:
        """Q(s, o), shape [states, options] (a copy)."""
        return self._q.copy()

    def _index(self, observation) -> int:
        return state_index(observation, self._num_states, type(self).__name__)

    def option_values(self, observation) -> np.ndarray:
        """Q(s, o) of every option; -inf where it cannot start."""
        s = self._index(observation)
        return np.where(self._available[s], self._q[s], -np.inf)

    def _best_value(self, s: int) -> float:
        available = self._available[s]
        return float(self._q[s, available].max()) if available.any() else 0.

    def _choose_option(self, s: int) -> int:
        available = np.flatnonzero(self._available[s])
        if available.size == 0:
            raise ValueError(f'no option can start in state {s}: add primitive_options')
        rng = self._explorer.rng
        if not self.greedy and rng.random() < self._explorer.epsilon:
            return int(rng.choice(available))
        return int(available[random_argmax(self._q[s, available], rng)])

    def greedy_option_policy(self) -> np.ndarray:
        """[S] the first best available option in each state (-1 where none)."""
        values = np.where(self._available, self._q, -np.inf)
        return np.where(self._available.any(axis=1), values.argmax(axis=1), -1)

    def select_action(self, observation) -> int:
        s = self._index(observation)
        # Acting greedily (as in evaluation, where nothing is observed and so
        # no termination is drawn) the agent picks the best option afresh at
        # every step: Sutton, Precup and Singh's interruption, which follows
        # greedy_option_policy and is never worse than waiting for the end.
        if self._option is None or self.greedy:
            self._option = self._choose_option(s)
            self._started(s)
        self._acting_state = s
        return int(self._policies[s, self._option])

    def observe_first(self, timestep) -> None:
        self._option, self._acting_state = None, None
        self._index(timestep.observation)
        self._episode_start()

    def observe(self, action, next_timestep) -> None:
        if self._acting_state is None:
            raise ValueError('observe() before select_action(): start each episode '
                             'with observe_first(timestep), then act')
        next_state = self._index(next_timestep.observation)
        d = self.discount * float(next_timestep.discount)
        reward = float(next_timestep.reward)
        ends = next_timestep.last()
        option = self._option
        stops = ends or self._explorer.rng.random() < self._beta[next_state, option]
        self._learn_step(self._acting_state, int(action), reward, d, next_state, ends, stops)
        if stops:
            self._option = None
        self._explorer.step()

    def update(self, wait: bool = False) -> None:
        """Learning happens in `observe`: each rule knows when it has a target."""

    def _state(self) -> dict:
        # Between episodes, as checkpoints are taken: no option is running.
        return {'q': self._q.tolist(), 'explorer': self._explorer.state_dict()}

    def _load_state(self, state: dict) -> None:
        self._q, self._explorer = restored_table(state, self._q.shape,
                                                 'Q-table (states, options)')
        self._option, self._acting_state = None, None

    def _started(self, s: int) -> None:
        """Called when an option starts in state s."""

    def _episode_start(self) -> None:
        """Called at the first step of every episode."""

    @abc.abstractmethod
    def _learn_step(self, s, a, reward, d, next_state, ends, stops) -> None:
        """Learns from one primitive step of the running option."""


class SMDPQLearning(_OptionAgent):
    """Q-learning over options as temporally extended actions: one update per option."""

    def _episode_start(self) -> None:
        self._origin, self._return, self._factor = None, 0., 1.

    def _started(self, s: int) -> None:
        self._origin, self._return, self._factor = s, 0., 1.

    def _learn_step(self, s, a, reward, d, next_state, ends, stops) -> None:
        self._return += self._factor * reward
        self._factor *= d
        if not stops:
            return
        o = self._option
        target = self._return + self._factor * self._best_value(next_state)
        error = target - self._q[self._origin, o]
        self._q[self._origin, o] += self._step_size * error
        self.last_loss = error * error


class IntraOptionQLearning(_OptionAgent):
    """Learns about every option consistent with each primitive step."""

    def _learn_step(self, s, a, reward, d, next_state, ends, stops) -> None:
        # Options that could be running in s (started there, or continuing
        # through it) and would have taken a.
        running = self._available[s] | (self._beta[s] < 1.)
        consistent = np.flatnonzero(running & (self._policies[s] == a))
        beta = self._beta[next_state, consistent]
        best = self._best_value(next_state)
        u = (1. - beta) * self._q[next_state, consistent] + beta * best
        errors = reward + d * u - self._q[s, consistent]
        self._q[s, consistent] += self._step_size * errors
        self.last_loss = float(np.mean(errors ** 2))
