"""Inverse reinforcement learning: recover a reward from an expert's behaviour.

Maximum-entropy IRL (Ziebart, Maas, Bagnell and Dey, 2008), exact on a known
model. The reward is linear in state features, r(s') = phi(s') . w, paid on
entering s' (as the GridWorld pays its goal reward). Among all policies whose
expected discounted feature counts equal the demonstrations', the one of
maximum (causal) entropy is the soft-optimal policy of some w:

    Q(s, a) = sum_k p_k (r(s'_k) + d_k V(s'_k)),  V(s) = log sum_a exp Q(s, a),
    pi(a | s) = exp(Q(s, a) - V(s)),

and the demonstrations' log-likelihood has the gradient

    grad_w = mu_expert - mu_pi,  mu = E[sum_t (prod of discounts so far) phi(s_t+1)],

which gradient ascent follows; mu_pi comes exactly from the discounted state
visitation frequencies of pi on the model, from the demonstrations' start
states. Everything runs on a GridWorld's `transition_model()`, whose
discounts (0.9 per step, 0 on reaching the goal) are the ones used here.

The features are one-hot cells by default (`one_hot_features`): one weight
per cell, so the recovered reward is a map of the grid. Behaviour cloning
(`behaviour_cloning`: the majority action per cell) is the baseline: it
copies the expert where it has seen it act and knows nothing elsewhere,
while the recovered reward, planned on, gives a policy on every cell.
"""

from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from gridlab.planning import dynamic_programming as planning
from gridlab.envs.model import TabularModel


class Trajectory(NamedTuple):
    """One demonstration: states s_0..s_T (indices), actions a_0..a_T-1, and
    the discounts d_1..d_T its TimeSteps carried (0 where it terminated)."""
    states: np.ndarray
    actions: np.ndarray
    discounts: np.ndarray


def expert_demonstrations(environment, starts: Optional[Sequence] = None,
                          per_start: int = 1, seed: Optional[int] = None,
                          max_length: int = 1_000) -> List[Trajectory]:
    """Rolls out an optimal policy of a GridWorld from each start cell.

    The expert acts on Q* from value iteration on the environment's model,
    breaking ties between optimal actions at random (seeded), so where
    several shortest paths exist the demonstrations show them all. Episodes
    are played in the environment itself (STATE_INDEX observations needed);
    its start state is restored afterwards.

    Args:
      environment: a GridWorld with ObservationType.STATE_INDEX.
      starts: (y, x) cells to start from; by default every decision cell.
      per_start: demonstrations from each start.
      seed: for the tie-breaking.
      max_length: an episode still running after this many steps raises.
    """
    from gridlab.envs.gridworld import ObservationType
    if environment.observation_type is not ObservationType.STATE_INDEX:
        raise ValueError('expert_demonstrations needs STATE_INDEX observations, got '
                         f'{environment.observation_type!r}')
    if per_start < 1:
        raise ValueError(f'per_start must be >= 1, got {per_start!r}')
    q_star = planning.value_iteration(environment.transition_model())
    optimal = q_star >= q_star.max(axis=1, keepdims=True) - 1e-9
    if starts is None:
        starts = [tuple(int(i) for i in cell)
                  for cell in np.argwhere(environment.decision_cells())]
    rng = np.random.default_rng(seed)
    original_start = environment.start_state
    trajectories = []
    try:
        for cell in starts:
            environment.start_state = tuple(cell)
            for _ in range(per_start):
                trajectories.append(_rollout(environment, optimal, rng, max_length))
    finally:
        environment.start_state = original_start
    return trajectories


def _rollout(environment, optimal: np.ndarray, rng, max_length: int) -> Trajectory:
    timestep = environment.reset()
    states, actions, discounts = [int(timestep.observation)], [], []
    while not timestep.last():
        if len(actions) >= max_length:
            raise RuntimeError(f'a demonstration ran past max_length={max_length}')
        action = int(rng.choice(np.flatnonzero(optimal[states[-1]])))
        timestep = environment.step(action)
        states.append(int(timestep.observation))
        actions.append(action)
        discounts.append(float(timestep.discount))
    return Trajectory(np.array(states), np.array(actions), np.array(discounts))


def one_hot_features(environment) -> np.ndarray:
    """phi(s) = the indicator of cell s: [S, S] (one weight per cell)."""
    return np.eye(environment.number_of_states)


def feature_expectations(trajectories: Sequence[Trajectory],
                         features: np.ndarray) -> np.ndarray:
    """The demonstrations' mean discounted feature counts, [F].

    mu = mean over trajectories of sum_t (d_1 ... d_t) phi(s_t+1): the feature
    of each state entered, weighted by the discount accumulated before it.
    """
    if not trajectories:
        raise ValueError('need at least one demonstration')
    total = np.zeros(features.shape[1])
    for trajectory in trajectories:
        weights = np.concatenate([[1.], np.cumprod(trajectory.discounts)[:-1]])
        total += weights @ features[trajectory.states[1:]]
    return total / len(trajectories)


def _with_state_rewards(model: TabularModel, state_rewards: np.ndarray,
                        acting: np.ndarray) -> TabularModel:
    """The model paying state_rewards[s'] on entering s' from an acting state."""
    rewards = np.where(acting[:, None, None], state_rewards[model.next_states], 0.)
    return model._replace(rewards=rewards)


def soft_value_iteration(model: TabularModel, tolerance: float = 1e-10,
                         max_iterations: int = 100_000,
                         initial: Optional[np.ndarray] = None):
    """(Q_soft, V_soft) with V(s) = log sum_a exp Q(s, a); the soft Bellman fixed point."""
    values = np.zeros(model.num_states) if initial is None else initial
    for _ in range(max_iterations):
        q = np.sum(model.probabilities *
                   (model.rewards + model.discounts * values[model.next_states]), axis=-1)
        top = q.max(axis=1)
        new_values = top + np.log(np.exp(q - top[:, None]).sum(axis=1))
        change = np.max(np.abs(new_values - values))
        values = new_values
        if change < tolerance:
            return q, values
    raise RuntimeError(f'soft value iteration did not converge in {max_iterations} '
                       f'iterations (last change {change:.3g})')


def visitation_frequencies(model: TabularModel, policy: np.ndarray,
                           start: np.ndarray) -> np.ndarray:
    """Discounted visits D(s) = E[sum_t (d_1 ... d_t) 1(s_t = s)] of a stochastic policy.

    Solves D = start + P_pi^T D exactly, where P_pi carries each transition's
    discount (0 into termination, so terminal states are never visited).
    """
    num_states = model.num_states
    weight = policy[:, :, None] * model.probabilities * model.discounts  # [S, A, K]
    transitions = np.zeros((num_states, num_states))
    np.add.at(transitions, (np.broadcast_to(np.arange(num_states)[:, None, None],
                                            model.next_states.shape), model.next_states),
              weight)
    return np.linalg.solve(np.eye(num_states) - transitions.T, start)


def expected_feature_counts(model: TabularModel, policy: np.ndarray, start: np.ndarray,
                            features: np.ndarray) -> np.ndarray:
    """mu_pi = sum_s D(s) sum_a pi(a | s) sum_k p_k phi(s'_k), [F]."""
    visits = visitation_frequencies(model, policy, start)
    entered = np.zeros(model.num_states)  # Expected (undiscounted-step) entries.
    weight = visits[:, None, None] * policy[:, :, None] * model.probabilities
    np.add.at(entered, model.next_states, weight)
    return entered @ features


class IRLResult(NamedTuple):
    """What `maxent_irl` recovered."""
    weights: np.ndarray  # w, [F].
    state_rewards: np.ndarray  # r(s) = phi(s) . w, [S].
    policy: np.ndarray  # The soft-optimal policy pi(a | s) under r, [S, A].
    feature_gap: float  # max_f |mu_expert - mu_pi| at the end.
    iterations: int
    converged: bool  # feature_gap <= tolerance.


def maxent_irl(environment, trajectories: Sequence[Trajectory],
               features: Optional[np.ndarray] = None, learning_rate: float = 0.5,
               tolerance: float = 1e-2, max_iterations: int = 2_000) -> IRLResult:
    """Maximum-entropy IRL: gradient ascent on w until the feature counts match.

    Args:
      environment: a GridWorld (its `transition_model()` supplies the
        dynamics and discounts; its own rewards are ignored).
      trajectories: demonstrations (`expert_demonstrations`); their start
        states are the start distribution.
      features: [S, F]; one-hot cells by default.
      learning_rate: the gradient step (plain ascent; the gradient is a
        difference of discounted visit counts, at most 1 / (1 - discount)).
      tolerance: stop once max_f |mu_expert - mu_pi| <= tolerance.
      max_iterations: gradient steps at most.
    """
    if features is None:
        features = one_hot_features(environment)
    features = np.asarray(features, dtype=np.float64)
    model = environment.transition_model()
    if features.ndim != 2 or features.shape[0] != model.num_states:
        raise ValueError(f'features must have shape ({model.num_states}, F), got '
                         f'{features.shape}')
    if not learning_rate > 0.:
        raise ValueError(f'learning_rate must be > 0, got {learning_rate!r}')
    if max_iterations < 1:
        raise ValueError(f'max_iterations must be >= 1, got {max_iterations!r}')
    acting = environment.decision_cells().ravel()
    expert = feature_expectations(trajectories, features)
    start = np.bincount([int(t.states[0]) for t in trajectories],
                        minlength=model.num_states) / len(trajectories)
    weights = np.zeros(features.shape[1])
    values = None
    for iteration in range(1, max_iterations + 1):
        rewards = features @ weights
        q, values = soft_value_iteration(_with_state_rewards(model, rewards, acting),
                                         initial=values)
        policy = np.exp(q - values[:, None])
        gradient = expert - expected_feature_counts(model, policy, start, features)
        gap = float(np.max(np.abs(gradient)))
        if gap <= tolerance:
            break
        weights = weights + learning_rate * gradient
    rewards = features @ weights
    return IRLResult(weights, rewards, policy, gap, iteration, gap <= tolerance)


def recovered_q_values(environment, state_rewards: np.ndarray) -> np.ndarray:
    """Q* of the GridWorld's dynamics under a state reward, as (H, W, A).

    The recovered reward is paid on entering each cell in place of the
    environment's own; comparing its greedy policy with the expert's
    (`gridlab.optimal_fraction`) says whether the reward explains the
    behaviour.
    """
    model = environment.transition_model()
    acting = environment.decision_cells().ravel()
    q = planning.value_iteration(_with_state_rewards(model, np.asarray(state_rewards),
                                                     acting))
    return q.reshape(tuple(environment.shape) + (q.shape[-1],))


def behaviour_cloning(trajectories: Sequence[Trajectory], num_states: int,
                      num_actions: int = 4, seed: Optional[int] = None) -> np.ndarray:
    """The majority action of the demonstrations in each state, [S]; -1 if unseen.

    Ties between equally frequent actions are broken at random (seeded).
    """
    counts = np.zeros((num_states, num_actions))
    for trajectory in trajectories:
        np.add.at(counts, (trajectory.states[:-1], trajectory.actions), 1.)
    rng = np.random.default_rng(seed)
    actions = np.full(num_states, -1, dtype=np.int64)
    for s in np.flatnonzero(counts.sum(axis=1)):
        actions[s] = rng.choice(np.flatnonzero(counts[s] == counts[s].max()))
    return actions


def entry_rewards(environment) -> np.ndarray:
    """The environment's own reward for entering each cell, (H, W); NaN on walls.

    Read from the model: the reward of any move that enters the cell from
    another (the goal's reward, cliffs' penalty, 0 on plain floor). Wall
    bumps, which cost without entering anything, are not a cell's reward.
    """
    model = environment.transition_model()
    rewards = np.full(model.num_states, np.nan)
    acting = environment.decision_cells().ravel()
    for s, a, k in np.argwhere((model.probabilities > 0) & acting[:, None, None]):
        t = model.next_states[s, a, k]
        if t != s and np.isnan(rewards[t]):
            rewards[t] = model.rewards[s, a, k]
    rewards[environment.walls.ravel()] = np.nan
    return rewards.reshape(environment.shape)
