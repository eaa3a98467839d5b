"""Knowing the right answer: exact dynamic programming on a known model.

`value_iteration` gives Q*, `policy_evaluation` gives Q of any policy, and
`policy_iteration` finds an optimal policy the other way round. They work on a
`TabularModel` (arrays [S, A, K] of next states, probabilities, rewards and
discounts), which `GridWorld.transition_model()` and `TabularMDP.model()`
provide. Nothing here runs an agent: `gridlab.evaluation.judging` compares agents with
these answers.
"""

from typing import Tuple

import numpy as np

from gridlab.core import validation
from gridlab.envs.model import TabularModel


def _check_model(model: TabularModel) -> Tuple[int, int]:
    arrays = model._asdict()
    allowed = arrays.pop('allowed')
    shapes = {name: np.shape(array) for name, array in arrays.items()}
    if len(set(shapes.values())) != 1 or len(shapes['next_states']) != 3:
        raise ValueError(
            f'model arrays must all have one shape [S, A, K], got {shapes}')
    num_states, num_actions, _ = shapes['next_states']
    if allowed is not None and np.shape(allowed) != (num_states, num_actions):
        raise ValueError(f'allowed must have shape {(num_states, num_actions)}, '
                         f'got {np.shape(allowed)}')
    totals = np.sum(model.probabilities, axis=-1)
    wrong = ~np.isclose(totals, 1.) & _allowed(model)
    if wrong.any():
        s, a = np.argwhere(wrong)[0]
        raise ValueError(
            f'probabilities of state {s}, action {a} sum to {totals[s, a]}, '
            'expected 1')
    return num_states, num_actions


def _allowed(model: TabularModel) -> np.ndarray:
    if model.allowed is None:
        return np.ones(np.shape(model.next_states)[:2], dtype=bool)
    return np.asarray(model.allowed, dtype=bool)


def _backup(model: TabularModel, values: np.ndarray) -> np.ndarray:
    """Q(s, a) = sum_k p_k * (r_k + d_k * values[s'_k]); -inf if not allowed."""
    q = np.sum(model.probabilities *
               (model.rewards + model.discounts * values[model.next_states]),
               axis=-1)
    return np.where(_allowed(model), q, -np.inf)


def _iterate(model: TabularModel, state_values, tolerance: float,
             max_iterations: int, what: str) -> np.ndarray:
    """Repeats Q <- backup(state_values(Q)) until Q stops changing.

    The stopping rule is relative: every value must have settled to within
    `tolerance` of its own size. An absolute rule stops while values far from
    any reward (10 * 0.9^240 on a long corridor) are still 0 or inexact, and
    judging compares those values with each other. Values below 1e-30 of the
    largest count as settled. The caller has checked the model.
    """
    tolerance = validation.check_positive('tolerance', tolerance)
    max_iterations = validation.check_positive_int('max_iterations', max_iterations)
    q = np.where(_allowed(model), 0., -np.inf)
    for _ in range(max_iterations):
        new_q = _backup(model, state_values(q))
        finite = np.isfinite(new_q)
        values = np.abs(new_q[finite])
        floor = 1e-30 * np.max(values, initial=0.)
        difference = np.abs(new_q[finite] - q[finite])
        change = np.max(difference, initial=0.)
        q = new_q
        if np.all(difference <= tolerance * values + floor):
            return q
    raise RuntimeError(
        f'{what} did not converge in {max_iterations} iterations (last change '
        f'{change:.3g}); is the discount 1 with a way to never end?')


def value_iteration(model: TabularModel, tolerance: float = 1e-10,
                    max_iterations: int = 100_000) -> np.ndarray:
    """Returns the optimal action values Q*, shape [S, A].

    `tolerance` is relative: each value is accurate to about that fraction.
    """
    _check_model(model)
    return _iterate(model, lambda q: q.max(axis=1), tolerance, max_iterations,
                    'value iteration')


def value_iteration_history(model: TabularModel, iterations: int) -> np.ndarray:
    """Q after each of `iterations` sweeps of value iteration, [iterations, S, A].

    For watching value iteration converge (`gridlab.viz.diagnostics.plot_q_convergence`).
    """
    num_states, num_actions = _check_model(model)
    iterations = validation.check_positive_int('iterations', iterations)
    q = np.where(_allowed(model), np.zeros((num_states, num_actions)), -np.inf)
    history = []
    for _ in range(iterations):
        q = _backup(model, q.max(axis=1))
        history.append(q)
    return np.array(history)


def _as_stochastic_policy(policy, num_states: int, num_actions: int) -> np.ndarray:
    policy = np.asarray(policy)
    if policy.shape == (num_states,):
        if not np.issubdtype(policy.dtype, np.integer) or policy.size and (
                policy.min() < 0 or policy.max() >= num_actions):
            raise ValueError(
                f'a deterministic policy must hold actions 0..{num_actions - 1}')
        return np.eye(num_actions)[policy]
    if policy.shape != (num_states, num_actions):
        raise ValueError(
            f'policy must have shape ({num_states},) (actions) or '
            f'({num_states}, {num_actions}) (probabilities), got {policy.shape}')
    if np.any(policy < 0) or not np.allclose(policy.sum(axis=1), 1.):
        raise ValueError('policy probabilities must be >= 0 and sum to 1 per state')
    return policy


def policy_evaluation(model: TabularModel, policy, tolerance: float = 1e-10,
                      max_iterations: int = 100_000) -> np.ndarray:
    """Returns Q of `policy` ([S] actions or [S, A] probabilities), shape [S, A]."""
    policy = _as_stochastic_policy(policy, *_check_model(model))
    if np.any(policy[~_allowed(model)] > 0):
        raise ValueError('policy gives probability to actions a state does not allow')
    # Actions the policy never takes may be worth -inf; 0 * -inf must not be NaN.
    return _iterate(model, lambda q: np.sum(policy * np.where(policy > 0, q, 0.), axis=1),
                    tolerance, max_iterations, 'policy evaluation')


def policy_iteration(model: TabularModel,
                     max_iterations: int = 1_000) -> Tuple[np.ndarray, np.ndarray]:
    """Returns (Q*, optimal deterministic policy [S])."""
    num_states, _ = _check_model(model)
    max_iterations = validation.check_positive_int('max_iterations', max_iterations)
    policy = np.argmax(_allowed(model), axis=1)  # A first allowed action each.
    for _ in range(max_iterations):
        q = policy_evaluation(model, policy)
        # Keep the current action on ties, so the loop cannot cycle.
        best = q.max(axis=1)
        current = q[np.arange(num_states), policy]
        improved = np.where(current >= best - 1e-9, policy, q.argmax(axis=1))
        if np.array_equal(improved, policy):
            return q, policy
        policy = improved
    raise RuntimeError(f'policy iteration did not settle in {max_iterations} rounds')
