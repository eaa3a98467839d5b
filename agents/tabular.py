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

import gridlab
from agents.common.exploration import (EpsilonGreedyExplorer, ExploresEpsilonGreedily,
                                       restored_table)
from agents.common.observations import discrete_specs, state_index
from agents.common.renamed import refuse_renamed
from agents.common.tabular_settings import TabularSettings
from gridlab.core import validation
from gridlab.core.checkpoints import Checkpointing


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
                 seed: Optional[int] = None,
                 count_bonus: float = 0.,
                 bonus_discount: float = 0.99,
                 **renamed):
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
          count_bonus: c > 0 turns on count-based exploration. A second
            table E(s, a) learns, by Q-learning at `bonus_discount`, the
            discounted sum of bonuses c / sqrt(N(s, a)) that acting from
            (s, a) leads to (N counts the tries of each pair), and the agent
            explores by acting (epsilon-)greedily on Q + E: rarely tried pairs,
            and the paths toward them, look better than they are. The bonus
            never enters Q, so `q_table`, `q_values` and greedy (evaluation)
            actions are those of Q alone. With it (and initial_value=0,
            step_size=1), Q-learning's greedy policy becomes optimal on every
            cell of the GridWorld tasks from their fixed start
            (benchmarks/exploration.py). SARSA, which learns the values of the
            policy it follows, uses the bonus differently: see `SARSA`.
          bonus_discount: E's discount; near 1 so that pairs far away still
            pull the agent toward them.
        """
        refuse_renamed(type(self).__name__, renamed)
        seed = validation.check_optional_seed('seed', seed)
        observations, actions = discrete_specs(
            environment_spec, type(self).__name__,
            'a state index, e.g. ObservationType.STATE_INDEX')
        settings = TabularSettings(step_size, epsilon, final_epsilon, decay_steps,
                                   initial_value, discount)
        self.discount = settings.discount
        self._num_states = observations.num_values
        self._step_size = settings.step_size
        self._q = np.full((observations.num_values, actions.num_values),
                          settings.initial_value)
        self._explorer = EpsilonGreedyExplorer(actions.num_values, *settings.epsilon_schedule,
                                               seed=seed)
        self._bonus = validation.check_nonnegative('count_bonus', count_bonus)
        self._bonus_discount = validation.check_probability('bonus_discount', bonus_discount)
        # Tries of each pair and the exploration values E (only with a bonus).
        self._counts = np.zeros_like(self._q) if self._bonus else None
        self._exploration = np.zeros_like(self._q) if self._bonus else None
        self._current = None  # The state index being acted in.
        self._transition = None  # (s, a, r, d, s', last) awaiting update().
        self.last_loss = 0.

    @property
    def q_table(self) -> np.ndarray:
        """The table, shape [number of states, number of actions] (a copy)."""
        return self._q.copy()

    @property
    def exploration_table(self) -> Optional[np.ndarray]:
        """E(s, a), the exploration values (a copy); None without `count_bonus`."""
        return None if self._exploration is None else self._exploration.copy()

    @property
    def count_table(self) -> Optional[np.ndarray]:
        """N(s, a), the tries of each pair (a copy); None without `count_bonus`."""
        return None if self._counts is None else self._counts.copy()

    def _index(self, observation) -> int:
        return state_index(observation, self._num_states, type(self).__name__)

    def q_values(self, observation) -> np.ndarray:
        return self._q[self._index(observation)].copy()

    def _behaviour_values(self, state: int) -> np.ndarray:
        """What exploring acts on: Q, plus E with an exploration bonus."""
        if self._exploration is None:
            return self._q[state]
        return self._q[state] + self._exploration[state]

    def select_action(self, observation) -> int:
        state = self._index(observation)
        row = self._q[state] if self.greedy else self._behaviour_values(state)
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
        if self._exploration is not None:
            self._learn_exploration(s, a, d, next_s)
        target = self._td_target(r, d, next_s, last)
        td_error = target - self._q[s, a]
        new_value = self._q[s, a] + self._step_size * td_error
        if not np.isfinite(new_value):
            validation.check_all_finite(
                'Q-values', new_value,
                f'{type(self).__name__}.update (state {s}, action {a})')
        self._q[s, a] = new_value
        self.last_loss = td_error * td_error

    def _learn_exploration(self, s: int, a: int, d: float, next_s: int) -> None:
        """E(s, a) += step_size * (c / sqrt(N(s, a)) + d_E * max_b E(s', b) - E(s, a)).

        d_E is `bonus_discount`, 0 after a termination (as for Q).
        """
        self._counts[s, a] += 1.
        bootstrap = self._bonus_discount * self._exploration[next_s].max() if d else 0.
        target = self._bonus / np.sqrt(self._counts[s, a]) + bootstrap
        self._exploration[s, a] += self._step_size * (target - self._exploration[s, a])

    def _td_target(self, reward: float, discount: float, next_state: int,
                   last: bool) -> float:
        """r + d * (the next state's value, `_next_value`): what Q(s, a) moves toward."""
        return reward + discount * self._next_value(next_state, last)

    @abc.abstractmethod
    def _next_value(self, next_state: int, last: bool) -> float:
        """The value of the next state that the TD target discounts."""

    def _state(self) -> dict:
        state = {'q': self._q.tolist(), 'explorer': self._explorer.state_dict()}
        if self._exploration is not None:
            state['counts'] = self._counts.tolist()
            state['exploration'] = self._exploration.tolist()
        return state

    def _load_state(self, state: dict) -> None:
        q, explorer = restored_table(state, self._q.shape)
        self._q, self._explorer = q, explorer
        if self._exploration is not None:
            self._counts = np.asarray(state['counts'], dtype=np.float64).reshape(q.shape)
            self._exploration = np.asarray(state['exploration'],
                                           dtype=np.float64).reshape(q.shape)


class QLearning(_TabularAgent):
    """Off-policy: bootstraps on the best next action, whatever it does next."""

    def _next_value(self, next_state: int, last: bool) -> float:
        return self._q[next_state].max()


class SARSA(_TabularAgent):
    """On-policy: bootstraps on the action it actually takes next.

    It learns the values of the policy it follows, exploration included, so
    epsilon decays to 0 by default (over 1,000 steps; optimism does the rest
    of the exploring) and the values become those of the greedy policy.

    With an exploration bonus, SARSA explores by *exploring starts that the
    bonus picks*, not by following Q + E. Acting on Q + E would make Q the
    value of the bonus-seeking policy, which is not Q* on the cells it only
    passes through (measured: about 5% of the cells of `simple` optimal after
    200k steps). Instead, each episode alternates two kinds of segment:

      * travelling: the agent acts (epsilon-)greedily on the exploration
        values E alone, toward rarely tried pairs. E learns from these steps
        (and from every other); Q does not, as they are not its policy's.
      * following its policy: after each travelling step, with probability
        `start_probability`, the pair just taken becomes an exploring start.
        From the next state on, the agent acts by its policy (epsilon-greedy
        on Q), and SARSA learns the start pair and every pair after it, each
        bootstrapping on the policy's next action, which is then taken.
        After each such step, with probability `travel_probability`, the
        segment ends once the next action (drawn from the policy, and
        bootstrapped on, as at a time limit) is taken; that action's own
        transition is not learned, and the agent travels again.

    So every SARSA update is on-policy, from a start that the counts choose,
    which is how exploring starts let SARSA learn Q* on every cell; with the
    table's optimistic start (`initial_value`, 10 by default) the policy
    segments also try what they have not tried. Untried pairs' E starts at
    c / (1 - bonus_discount), the most E can be, so travelling heads for
    pairs never tried. Measured with c = 10 and step_size = 1: optimal on
    every cell of all six GridWorld tasks from their fixed start, 5 seeds of
    5, in a median of 6k (cliff) to 18k (four_rooms) steps, 206k on `maze`
    (benchmarks/exploration.py; Q-learning with the bonus took 28k to 126k,
    and 777k on `maze`).
    """

    def __init__(self, environment_spec, step_size: float = 0.5,
                 epsilon: float = 0.1, final_epsilon: Optional[float] = 0.,
                 decay_steps: int = 1_000, start_probability: float = 0.1,
                 travel_probability: float = 0.15, **kwargs):
        """Builds the agent; see `_TabularAgent` for the shared arguments.

        Args:
          start_probability: with an exploration bonus, the chance after each
            travelling step that the pair just taken becomes an exploring
            start (a mean of 1 / p travelling steps).
          travel_probability: with an exploration bonus, the chance after each
            step by the policy that its segment ends after the next action.
            Short segments (about 7 steps) learned fastest on `maze`: with
            0.05 one seed took 452k steps, with 0.15 200k.
        """
        super().__init__(environment_spec, step_size=step_size, epsilon=epsilon,
                         final_epsilon=final_epsilon, decay_steps=decay_steps,
                         **kwargs)
        self._next_action = None  # (state, action) chosen during update().
        self._start_probability = validation.check_in_range(
            'start_probability', start_probability, 0., 1., low_open=True)
        self._travel_probability = validation.check_probability(
            'travel_probability', travel_probability)
        if self._exploration is not None:
            if self._bonus_discount >= 1.:
                raise ValueError(f'bonus_discount must be below 1 for SARSA with an '
                                 f'exploration bonus, got {self._bonus_discount!r}')
            self._exploration[:] = self._bonus / (1. - self._bonus_discount)
        self._travelling = True  # Acting on E, not learning Q (bonus only).
        self._learn_q = True  # Whether the pending transition trains Q.
        self._segment_ends = False  # The policy's next action is its last.

    def _behaviour_values(self, state: int) -> np.ndarray:
        if self._exploration is not None and self._travelling:
            return self._exploration[state]
        return self._q[state]

    def _next_value(self, next_state: int, last: bool) -> float:
        # After termination d = 0 and a' is never taken; after truncation a'
        # is drawn from the policy, as it would have been.
        action = self._explorer.select(lambda: self._behaviour_values(next_state))
        self._next_action = None if last else (next_state, action)
        return self._q[next_state, action]

    def select_action(self, observation) -> int:
        pending, self._next_action = self._next_action, None
        if (pending is not None and not self.greedy and
                pending[0] == self._index(observation)):
            return pending[1]
        return super().select_action(observation)

    def observe_first(self, timestep) -> None:
        super().observe_first(timestep)
        self._travelling, self._segment_ends = True, False

    def observe(self, action, next_timestep) -> None:
        if self._exploration is not None:
            self._choose_segment()
        super().observe(action, next_timestep)

    def _choose_segment(self) -> None:
        """Decides, after an action, whether its transition trains Q and what acts next."""
        rng = self._explorer.rng
        self._learn_q = True
        if self._segment_ends:  # The policy's last action: travel from here.
            self._segment_ends, self._travelling, self._learn_q = False, True, False
        elif self._travelling:
            if rng.random() < self._start_probability:
                self._travelling = False  # The pair just taken is an exploring start.
            else:
                self._learn_q = False
        elif rng.random() < self._travel_probability:
            self._segment_ends = True

    def update(self, wait: bool = False) -> None:
        if self._exploration is None or self._learn_q or self._transition is None:
            super().update(wait)
            return
        # A travelling step: E learns; Q does not; the next action is chosen.
        s, a, _, d, next_s, last = self._transition
        self._transition = None
        self._learn_exploration(s, a, d, next_s)
        action = self._explorer.select(lambda: self._behaviour_values(next_s))
        self._next_action = None if last else (next_s, action)
