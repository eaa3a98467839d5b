"""Policy search without values: try whole deterministic policies, keep the best.

A candidate is a table that gives one action per state. The agent plays it
for `episodes_per_candidate` episodes, scores it by its mean (undiscounted)
return, keeps the best so far, then draws the next candidate. Acting
greedily (`gridlab.evaluation_mode`) plays the best policy found.

    RandomPolicySearch          every candidate drawn uniformly at random
    ParameterisedPolicySearch   candidates drawn from per-state action
                                probabilities softmax(theta[s]), and theta
                                moved toward candidates that scored well:

        theta[s, a] += step_size * (score - baseline) * (1[a = pi(s)] - p(a | s))

That is the score-function (REINFORCE) gradient of the expected score with
respect to theta, for a policy drawn state by state; `baseline` is a running
mean of the scores. Both need a state index observation (FrozenLake-v1,
Taxi, a GridWorld's STATE_INDEX). A score is an estimate from a few noisy
episodes, so the best score found overstates the best policy's true value;
judge the policy exactly on a model (`gridlab.planning.policy_evaluation`).
"""

from typing import Optional

import numpy as np
from dm_env import specs

import gridlab
from agents.common.exploration import restored_generator
from agents.common.observations import discrete_specs, state_index
from gridlab.core import validation
from gridlab.core.checkpoints import Checkpointing


class RandomPolicySearch(Checkpointing, gridlab.Actor):
    """Scores uniformly random deterministic policies; keeps the best."""

    def __init__(self, environment_spec: gridlab.EnvironmentSpec,
                 episodes_per_candidate: int = 100, seed: Optional[int] = None):
        """Builds the agent.

        Args:
          environment_spec: needs DiscreteArray observations and actions.
          episodes_per_candidate: episodes each candidate is scored on.
          seed: seeds the candidates drawn.
        """
        observations, actions = discrete_specs(environment_spec, type(self).__name__,
                                               'a state index, e.g. FrozenLake-v1')
        if isinstance(episodes_per_candidate, bool) or not isinstance(
                episodes_per_candidate, (int, np.integer)) or episodes_per_candidate < 1:
            raise ValueError('episodes_per_candidate must be a positive integer, got '
                             f'{episodes_per_candidate!r}')
        self._num_states = observations.num_values
        self._num_actions = actions.num_values
        self._episodes_per_candidate = int(episodes_per_candidate)
        self._rng = np.random.default_rng(validation.check_optional_seed('seed', seed))
        self._candidate = self._draw_candidate()
        self._best_policy: Optional[np.ndarray] = None
        self._best_score = -np.inf
        self._returns = []  # Of the current candidate's finished episodes.
        self._episode_return = 0.
        self._candidate_done = False
        self.candidates_scored = 0

    @property
    def best_policy(self) -> Optional[np.ndarray]:
        """The best deterministic policy found, [S] actions (None before any)."""
        return None if self._best_policy is None else self._best_policy.copy()

    @property
    def best_score(self) -> float:
        """Its mean return over the episodes it was scored on (-inf before any)."""
        return float(self._best_score)

    @property
    def candidate(self) -> np.ndarray:
        """The policy being scored now, [S] actions."""
        return self._candidate.copy()

    def _draw_candidate(self) -> np.ndarray:
        return self._rng.integers(self._num_actions, size=self._num_states)

    def _learn(self, candidate: np.ndarray, score: float) -> None:
        """What a scored candidate teaches; pure random search learns nothing."""

    def _index(self, observation) -> int:
        return state_index(observation, self._num_states, type(self).__name__)

    def select_action(self, observation) -> int:
        policy = self._candidate
        if self.greedy and self._best_policy is not None:
            policy = self._best_policy
        return int(policy[self._index(observation)])

    def observe_first(self, timestep) -> None:
        self._episode_return = 0.

    def observe(self, action, next_timestep) -> None:
        self._episode_return += float(next_timestep.reward)
        if next_timestep.last():
            self._returns.append(self._episode_return)
            self._episode_return = 0.
            self._candidate_done = len(self._returns) >= self._episodes_per_candidate

    def update(self, wait: bool = False) -> None:
        if not self._candidate_done:
            return
        score = float(np.mean(self._returns))
        # Strictly better only: the first policy to reach a score keeps it.
        if score > self._best_score:
            self._best_score, self._best_policy = score, self._candidate.copy()
        self._learn(self._candidate, score)
        self.candidates_scored += 1
        self._returns, self._candidate_done = [], False
        self._candidate = self._draw_candidate()

    def _state(self) -> dict:
        return {
            'rng': self._rng.bit_generator.state,
            'candidate': self._candidate.tolist(),
            'best_policy': None if self._best_policy is None else self._best_policy.tolist(),
            'best_score': float(self._best_score),
            'returns': list(self._returns),
            'episode_return': self._episode_return,
            'candidate_done': self._candidate_done,
            'candidates_scored': self.candidates_scored,
        }

    def _load_state(self, state: dict) -> None:
        candidate = np.asarray(state['candidate'], dtype=np.int64)
        if candidate.shape != (self._num_states,):
            raise ValueError(f'a candidate policy of shape {candidate.shape}; this agent '
                             f'needs ({self._num_states},)')
        rng = restored_generator(state['rng'])
        best = state['best_policy']
        self._rng, self._candidate = rng, candidate
        self._best_policy = None if best is None else np.asarray(best, dtype=np.int64)
        self._best_score = float(state['best_score'])
        self._returns = list(state['returns'])
        self._episode_return = float(state['episode_return'])
        self._candidate_done = bool(state['candidate_done'])
        self.candidates_scored = int(state['candidates_scored'])


class ParameterisedPolicySearch(RandomPolicySearch):
    """Draws candidates from softmax(theta) and moves theta toward good ones."""

    def __init__(self, environment_spec: gridlab.EnvironmentSpec,
                 episodes_per_candidate: int = 100, step_size: float = 5.,
                 baseline_rate: float = 0.1, seed: Optional[int] = None):
        """Builds the agent.

        Args:
          step_size: how far theta moves per scored candidate (scores are
            returns, so it scales with the reward; 5 suits FrozenLake's 0/1).
          baseline_rate: the running mean of scores moves this far toward
            each new score; a candidate beating it is made more likely.
          Others as `RandomPolicySearch`. theta starts at 0 (uniform).
        """
        if not step_size > 0.:
            raise ValueError(f'step_size must be > 0, got {step_size!r}')
        if not 0. < baseline_rate <= 1.:
            raise ValueError(f'baseline_rate must be in (0, 1], got {baseline_rate!r}')
        spec = environment_spec
        if isinstance(spec.observations, specs.DiscreteArray) and isinstance(
                spec.actions, specs.DiscreteArray):
            self.theta = np.zeros((spec.observations.num_values, spec.actions.num_values))
        self._step_size = float(step_size)
        self._baseline_rate = float(baseline_rate)
        self._baseline: Optional[float] = None
        super().__init__(environment_spec, episodes_per_candidate, seed)

    def probabilities(self) -> np.ndarray:
        """p(a | s) = softmax(theta[s]), [S, A]."""
        z = np.exp(self.theta - self.theta.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def action_probabilities(self, observation) -> np.ndarray:
        """The probabilities candidates are drawn with in this state."""
        return self.probabilities()[self._index(observation)]

    def _draw_candidate(self) -> np.ndarray:
        # Inverse-CDF sampling, one uniform per state, so draws are reproducible.
        cumulative = np.cumsum(self.probabilities(), axis=1)
        u = self._rng.random(self._num_states)[:, None]
        return np.minimum((u >= cumulative).sum(axis=1), self._num_actions - 1)

    def _learn(self, candidate: np.ndarray, score: float) -> None:
        if self._baseline is None:
            self._baseline = score  # The first candidate sets the yardstick.
            return
        advantage = score - self._baseline
        chosen = np.eye(self._num_actions)[candidate]
        self.theta += self._step_size * advantage * (chosen - self.probabilities())
        self._baseline += self._baseline_rate * (score - self._baseline)

    def _state(self) -> dict:
        state = super()._state()
        state.update(theta=self.theta.tolist(), baseline=self._baseline)
        return state

    def _load_state(self, state: dict) -> None:
        theta = np.asarray(state['theta'], dtype=np.float64)
        if theta.shape != self.theta.shape:
            raise ValueError(f'theta of shape {theta.shape}; this agent needs '
                             f'{self.theta.shape}')
        super()._load_state(state)
        self.theta = theta
        self._baseline = None if state['baseline'] is None else float(state['baseline'])
