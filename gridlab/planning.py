"""Knowing the right answer: exact planning on a known model.

`value_iteration` gives Q*, `policy_evaluation` gives Q of any policy, and
`policy_iteration` finds an optimal policy the other way round. They work on a
`TabularModel` (arrays [S, A, K] of next states, probabilities, rewards and
discounts), which `GridWorld.transition_model()` provides.

`q_table` reads any agent's action values on every cell of a GridWorld and
`optimal_fraction` says on how many cells its greedy action is optimal. Every
value-based agent's learning test is judged this way.
"""

import time
from typing import NamedTuple, Optional, Tuple

import numpy as np

from gridlab.core import evaluation_mode
from gridlab.environments.gridworld import TabularModel
from gridlab.loggers import NoOpLogger
from gridlab.loop import EnvironmentLoop


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

    The caller has checked the model.
    """
    q = np.where(_allowed(model), 0., -np.inf)
    for _ in range(max_iterations):
        new_q = _backup(model, state_values(q))
        finite = np.isfinite(new_q)
        change = np.max(np.abs(new_q[finite] - q[finite]), initial=0.)
        q = new_q
        if change < tolerance:
            return q
    raise RuntimeError(
        f'{what} did not converge in {max_iterations} iterations (last change '
        f'{change:.3g}); is the discount 1 with a way to never end?')


def value_iteration(model: TabularModel, tolerance: float = 1e-10,
                    max_iterations: int = 100_000) -> np.ndarray:
    """Returns the optimal action values Q*, shape [S, A]."""
    _check_model(model)
    return _iterate(model, lambda q: q.max(axis=1), tolerance, max_iterations,
                    'value iteration')


def value_iteration_history(model: TabularModel, iterations: int) -> np.ndarray:
    """Q after each of `iterations` sweeps of value iteration, [iterations, S, A].

    For watching value iteration converge (`diagnostics.plot_q_convergence`).
    """
    num_states, num_actions = _check_model(model)
    q = np.where(_allowed(model), np.zeros((num_states, num_actions)), -np.inf)
    history = []
    for _ in range(iterations):
        q = _backup(model, q.max(axis=1))
        history.append(q)
    return np.array(history)


def _as_stochastic_policy(policy, num_states: int, num_actions: int) -> np.ndarray:
    policy = np.asarray(policy)
    if policy.shape == (num_states,):
        if not np.issubdtype(policy.dtype, np.integer) or (
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


def optimal_q_values(environment) -> np.ndarray:
    """Q* of a GridWorld as an (H, W, 4) array; NaN on walls and cliffs.

    The goal's values are 0: the episode is over there.
    """
    q = value_iteration(environment.transition_model())
    q = q.reshape(tuple(environment.shape) + (q.shape[-1],))
    q[environment.walls | environment.cliffs] = np.nan
    return q


def _on_every_cell(environment, cells: np.ndarray, read) -> dict:
    """{(y, x): read(observation there)} for the cells marked in `cells`.

    Probes the agent by moving the GridWorld's agent to each cell; its
    position is restored afterwards.
    """
    saved_y, saved_x = environment.state
    results = {}
    try:
        for y, x in np.argwhere(cells):
            environment.set_state(int(x), int(y))
            results[int(y), int(x)] = read(environment.get_obs())
    finally:
        environment.set_state(saved_x, saved_y)
    return results


def q_table(agent, environment) -> np.ndarray:
    """An agent's `q_values` on every cell of a GridWorld, (H, W, A).

    Walls and cliffs, where the agent never acts, get NaN. The environment's
    agent position is restored afterwards.
    """
    values = _on_every_cell(
        environment, ~(environment.walls | environment.cliffs),
        lambda obs: np.asarray(agent.q_values(obs), dtype=np.float64).reshape(-1))
    num_actions = next(iter(values.values())).size
    table = np.full(tuple(environment.shape) + (num_actions,), np.nan)
    for cell, row in values.items():
        table[cell] = row
    return table


def greedy_is_optimal(environment, q, q_star: Optional[np.ndarray] = None,
                      atol: float = 1e-6) -> np.ndarray:
    """(H, W) bool: decision cells where acting greedily on `q` is optimal.

    An action is optimal when its Q* is within `atol` of the best, so any of
    several equally short paths counts. Where `q` ties (within `atol`), the
    agent may take any of the tied actions, so all of them must be optimal; a
    cell with non-finite values never counts. Cells the agent never acts from
    (walls, cliffs, the goal) are False.
    """
    if q_star is None:
        q_star = optimal_q_values(environment)
    q = np.asarray(q, dtype=np.float64)
    if q.shape == (environment.number_of_states, q_star.shape[-1]):
        q = q.reshape(q_star.shape)
    if q.shape != q_star.shape:
        raise ValueError(
            f'q must have shape {q_star.shape} (or (S, A)), got {q.shape}')
    cells = environment.decision_cells()
    finite = np.all(np.isfinite(q), axis=-1)
    q = np.where(finite[..., None], q, 0.)
    greedy = q >= q.max(axis=-1, keepdims=True) - atol
    q_star = np.where(cells[..., None], q_star, 0.)  # Only decision cells count.
    optimal = q_star >= q_star.max(axis=-1, keepdims=True) - atol
    return cells & finite & np.all(optimal | ~greedy, axis=-1)


def greedy_actions(agent, environment) -> np.ndarray:
    """The action a policy takes greedily on every cell, (H, W); -1 off them.

    For agents without Q-values (policy gradient, actor-critic): each decision
    cell's observation goes to `select_action` under `evaluation_mode`.
    """
    actions = np.full(tuple(environment.shape), -1, dtype=np.int64)
    with evaluation_mode(agent):
        chosen = _on_every_cell(environment, environment.decision_cells(),
                                agent.select_action)
    for cell, action in chosen.items():
        actions[cell] = action
    return actions


def actions_optimal_fraction(environment, actions,
                             q_star: Optional[np.ndarray] = None,
                             atol: float = 1e-6) -> float:
    """The fraction of decision cells where `actions` (H, W) are optimal."""
    if q_star is None:
        q_star = optimal_q_values(environment)
    actions = np.asarray(actions)
    cells = environment.decision_cells()
    if actions.shape != cells.shape:
        raise ValueError(f'actions must have shape {cells.shape}, got {actions.shape}')
    safe = np.clip(actions, 0, q_star.shape[-1] - 1)
    chosen = np.take_along_axis(np.nan_to_num(q_star, nan=-np.inf),
                                safe[..., None], axis=-1)[..., 0]
    optimal = cells & (actions >= 0) & (chosen >= np.nanmax(
        np.where(cells[..., None], q_star, 0.), axis=-1) - atol)
    return float(optimal.sum() / cells.sum())


def optimal_fraction(environment, q, q_star: Optional[np.ndarray] = None,
                     atol: float = 1e-6) -> float:
    """The fraction of decision cells where `q`'s greedy action is optimal."""
    optimal = greedy_is_optimal(environment, q, q_star, atol)
    return float(optimal.sum() / environment.decision_cells().sum())


def greedy_return_from_start(environment, agent, max_steps: int = 500) -> float:
    """The discounted return of one greedy episode from the start state.

    Discounts come from the TimeSteps, so on a deterministic GridWorld this
    equals max_a Q*(start, a) exactly when the path taken is optimal.
    """
    total, scale = 0., 1.
    with evaluation_mode(agent):
        timestep = environment.reset()
        for _ in range(max_steps):
            timestep = environment.step(agent.select_action(timestep.observation))
            total += scale * float(timestep.reward)
            scale *= float(timestep.discount)
            if timestep.last():
                break
    return total


class TrainingResult(NamedTuple):
    """How `train_until_optimal` went."""
    solved: bool  # The greedy policy met the criterion.
    steps: int  # Environment steps taken (until solved, or all of them).
    seconds: float  # Training time; the checks are excluded.
    optimal_fraction: float  # At the last check (1 or 0 with from_start).


def train_until_optimal(environment, agent, max_steps: int,
                        check_every: int = 250,
                        exploring_starts: bool = False,
                        from_start: bool = False) -> TrainingResult:
    """Trains `agent` until its greedy policy is optimal (judged by planning).

    Runs whole episodes; after every `check_every` steps (at the end of the
    episode that crosses the mark) the greedy policy is judged against Q* from
    value iteration, and the time spent judging is not counted in `seconds`.
    The criterion is optimality on every decision cell, read through the
    agent's `q_values`; with `from_start`, only that the greedy episode from
    the start state earns the optimal return (for agents without Q-values,
    or learning from pixels).

    With `exploring_starts`, episodes start from every decision cell in turn
    (and the check runs after each such round). A tabular agent learns only
    the cells it visits; from one fixed start next to the goal it seldom
    visits the far side, so "optimal everywhere" needs starts everywhere.
    The environment's start state is restored at the end.
    """
    q_star = optimal_q_values(environment)
    best_from_start = float(np.nanmax(q_star[environment.start_state]))
    loop = EnvironmentLoop(environment, agent, logger=NoOpLogger(), progress=False)
    starts = [environment.start_state]
    if exploring_starts:
        starts = [tuple(int(i) for i in cell)
                  for cell in np.argwhere(environment.decision_cells())]
    original_start = environment.start_state

    def judge() -> float:
        if from_start:
            achieved = greedy_return_from_start(environment, agent)
            return float(achieved >= best_from_start - 1e-4)
        return optimal_fraction(environment, q_table(agent, environment), q_star)

    steps, seconds, next_check, fraction = 0, 0., check_every, 0.
    try:
        while steps < max_steps:
            start = time.perf_counter()
            for cell in starts:
                environment.start_state = cell
                result = loop.run_episode(max_steps=max_steps - steps)
                steps += result['episode_length']
                if steps >= max_steps:
                    break
            seconds += time.perf_counter() - start
            if steps >= next_check or steps >= max_steps or exploring_starts:
                next_check = steps + check_every
                environment.start_state = original_start
                fraction = judge()
                if fraction == 1.:
                    return TrainingResult(True, steps, seconds, fraction)
    finally:
        environment.start_state = original_start
    return TrainingResult(False, steps, seconds, fraction)
