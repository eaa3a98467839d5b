"""Judging an agent against the exact answer that planning gives.

`q_table` reads an agent's action values on every cell of a GridWorld,
`optimal_fraction` says on how many cells acting greedily on them is optimal,
and `greedy_return_from_start` is the exact value of the agent's greedy policy
from the start. Every value-based agent's learning test is judged this way.

Judging never steps, reseeds or redraws the goal of the environment it
judges: observations come from `GridWorld.observation_at` and returns from
the environment's model. Q* is computed at the agent's effective discount,
the model's discounts times the agent's own (`gridlab.core.agent_discount`).
"""

from typing import Optional

import numpy as np

from gridlab import planning
from gridlab.core import validation
from gridlab.core import agent_discount, evaluation_mode
from gridlab.envs.base import discrete_action
from gridlab.loops.loggers import NoOpLogger
from gridlab.loops.environment_loop import EnvironmentLoop
from gridlab.evaluation.train_until import TrainingResult, train_until


def optimal_q_values(environment, discount: float = 1.) -> np.ndarray:
    """Q* of a GridWorld as an (H, W, 4) array; NaN on walls and cliffs.

    `discount` multiplies the environment's own (an agent's discount, 1 for
    every gridlab agent by default). The goal's values are 0: the episode is
    over there.
    """
    discount = validation.check_probability('discount', discount)
    q = planning.value_iteration(environment.transition_model().with_discount(discount))
    q = q.reshape(tuple(environment.shape) + (q.shape[-1],))
    q[environment.walls | environment.cliffs] = np.nan
    return q


def _on_every_cell(environment, cells: np.ndarray, read) -> dict:
    """{(y, x): read(observation there)} for the cells marked in `cells`."""
    return {(int(y), int(x)): read(environment.observation_at((int(y), int(x))))
            for y, x in np.argwhere(cells)}


class NonFiniteValues(ValueError):
    """An agent's action values are NaN or infinite where it acts."""


def q_table(agent, environment) -> np.ndarray:
    """An agent's `q_values` on every cell of a GridWorld, (H, W, A).

    Walls and cliffs, where the agent never acts, get NaN. Raises
    `NonFiniteValues` if the agent's own values anywhere else are not finite.
    """
    values = _on_every_cell(
        environment, ~(environment.walls | environment.cliffs),
        lambda obs: np.asarray(agent.q_values(obs), dtype=np.float64).reshape(-1))
    num_actions = next(iter(values.values())).size
    table = np.full(tuple(environment.shape) + (num_actions,), np.nan)
    for cell, row in values.items():
        table[cell] = row
    bad = [cell for cell, row in values.items() if not np.isfinite(row).all()]
    if bad:
        raise NonFiniteValues(f'{type(agent).__name__}.q_values are NaN or infinite on '
                              f'{len(bad)} of {len(values)} cells (first {bad[0]}): the '
                              'agent has no greedy policy to judge (training diverged?)')
    return table


# Actions count as equally good when their values are this close, relative to
# the best. Relative, because on a long corridor the values far from the goal
# are tiny (10 * 0.9^200 is 7e-9) and an absolute 1e-6 would call every
# action there optimal.
RTOL = 1e-6


def _near_best(values: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Which of the last axis's values are within atol + rtol * |best| of the best."""
    best = values.max(axis=-1, keepdims=True)
    return values >= best - (atol + rtol * np.abs(best))


def _check_tolerances(atol, rtol):
    return (validation.check_nonnegative('atol', atol),
            validation.check_in_range('rtol', rtol, 0., 1., high_open=True))


def greedy_is_optimal(environment, q, q_star: Optional[np.ndarray] = None,
                      atol: float = 0., rtol: float = RTOL) -> np.ndarray:
    """(H, W) bool: decision cells where acting greedily on `q` is optimal.

    An action is optimal when its Q* is within `atol + rtol * |best|` of the
    best, so any of several equally short paths counts. Where `q` ties (by
    the same rule), the agent may take any of the tied actions, so all of
    them must be optimal; a cell with non-finite values never counts. Cells
    the agent never acts from (walls, cliffs, the goal) are False.
    """
    atol, rtol = _check_tolerances(atol, rtol)
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
    greedy = _near_best(q, atol, rtol)
    q_star = np.where(cells[..., None], q_star, 0.)  # Only decision cells count.
    optimal = _near_best(q_star, atol, rtol)
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
    num_actions = environment.action_spec().num_values
    for cell, action in chosen.items():
        actions[cell] = discrete_action(action, num_actions,
                                        what=f'greedy action on cell {cell}')
    return actions


def actions_optimal_fraction(environment, actions,
                             q_star: Optional[np.ndarray] = None,
                             atol: float = 0., rtol: float = RTOL) -> float:
    """The fraction of decision cells where `actions` (H, W) are optimal.

    Actions are those `greedy_actions` returns: an action index in [0, A),
    or -1 (any negative) for "no action", which on a decision cell counts as
    not optimal (behaviour cloning has none where it saw no demonstration);
    off decision cells anything is ignored. An index of A or more is refused.
    Optimal is within `atol + rtol * |best|` of the best Q*.
    """
    atol, rtol = _check_tolerances(atol, rtol)
    if q_star is None:
        q_star = optimal_q_values(environment)
    actions = np.asarray(actions)
    cells = environment.decision_cells()
    if actions.shape != cells.shape:
        raise ValueError(f'actions must have shape {cells.shape}, got {actions.shape}')
    num_actions = q_star.shape[-1]
    if actions.dtype.kind not in 'iu':
        raise ValueError(f'actions must be integer action indices, got dtype '
                         f'{actions.dtype}')
    invalid = cells & (actions >= num_actions)
    if invalid.any():
        y, x = np.argwhere(invalid)[0]
        raise ValueError(
            f'actions[{y}, {x}] = {actions[y, x].item()!r} is not an action: expected an '
            f'integer in [0, {num_actions}), or -1 for none, on every decision cell '
            f'({int(invalid.sum())} invalid)')
    # Only decision cells count: elsewhere the action is "none".
    optimal = cells & optimal_actions(np.where(cells, actions, -1), q_star, atol, rtol)
    return float(optimal.sum() / cells.sum())


def optimal_actions(actions, q_star, atol: float = 0.,
                    rtol: float = RTOL) -> np.ndarray:
    """(H, W) bool: True where `actions` is within `atol + rtol * |best|` of the best Q*.

    The one rule of which actions are optimal, on plain arrays (the policy
    pictures draw it). Relative, as `greedy_is_optimal` judges: far from any
    reward the values are tiny and an absolute tolerance would call every
    action optimal. Cells with a negative action or no finite Q* are False.
    """
    atol, rtol = _check_tolerances(atol, rtol)
    q_star = np.asarray(q_star, dtype=np.float64)
    if q_star.ndim != 3 or q_star.shape[-1] == 0:
        raise ValueError(f'q_star must have shape (H, W, A) with at least one action, '
                         f'got shape {q_star.shape}')
    actions = np.asarray(actions)
    if actions.shape != q_star.shape[:2]:
        raise ValueError(f'q_star must have shape {actions.shape + ("A",)} to '
                         f'match the policy, got shape {q_star.shape}')
    known = ~np.all(np.isnan(q_star), axis=-1)
    filled = np.where(np.isnan(q_star), -np.inf, q_star)
    chosen = np.take_along_axis(filled, np.clip(actions, 0, None)[..., None],
                                axis=-1)[..., 0]
    best = filled.max(axis=-1)
    with np.errstate(invalid='ignore'):  # -inf best on unknown cells.
        near = chosen >= best - (atol + rtol * np.abs(best))
    return known & (actions >= 0) & near


def optimal_fraction(environment, q, q_star: Optional[np.ndarray] = None,
                     atol: float = 0., rtol: float = RTOL) -> float:
    """The fraction of decision cells where `q`'s greedy action is optimal."""
    optimal = greedy_is_optimal(environment, q, q_star, atol, rtol)
    return float(optimal.sum() / environment.decision_cells().sum())


def greedy_return_from_start(environment, agent,
                             discount: Optional[float] = None) -> float:
    """The expected discounted return of the agent's greedy policy from the start.

    Exact: the greedy action of every cell is read (as `greedy_actions` does)
    and that policy is evaluated on the environment's model, at the agent's
    effective discount unless `discount` is given. On a deterministic grid it
    is the discounted return of the greedy episode from the start, and it
    equals max_a Q*(start, a) exactly when that episode is optimal; with
    slips it is the expectation over them. The environment is not stepped.
    """
    if discount is None:
        discount = agent_discount(agent)
    discount = validation.check_probability('discount', discount)
    actions = greedy_actions(agent, environment).ravel()
    model = environment.transition_model().with_discount(discount)
    # Off the decision cells the agent never acts; any action will do there.
    policy = np.where(actions >= 0, actions, 0)
    q = planning.policy_evaluation(model, policy)
    start = np.ravel_multi_index(environment.start_state, environment.shape)
    return float(q[start, policy[start]])


def train_until_optimal(environment, agent, max_steps: int,
                        check_every: int = 250,
                        exploring_starts: bool = False,
                        from_start: bool = False) -> TrainingResult:
    """Trains `agent` until its greedy policy is optimal (judged by planning).

    Runs whole episodes; after every `check_every` steps (at the end of the
    episode that crosses the mark) the greedy policy is judged against Q* from
    value iteration at the agent's effective discount, and the time spent
    judging is not counted in `seconds` (`train_until.train_until` drives it).
    The criterion is optimality on every decision cell, read through the
    agent's `q_values`; with `from_start`, only that the greedy policy's value
    from the start state is optimal (for agents without Q-values, or learning
    from pixels).

    With `exploring_starts`, episodes start from every decision cell in turn
    (and the check runs after each such round). A tabular agent learns only
    the cells it visits; from one fixed start next to the goal it seldom
    visits the far side, so "optimal everywhere" needs starts everywhere.
    The environment's start state is restored at the end.
    """
    discount = agent_discount(agent)
    max_steps = validation.check_positive_int('max_steps', max_steps)
    check_every = validation.check_positive_int('check_every', check_every)
    loop = EnvironmentLoop(environment, agent, logger=NoOpLogger(), progress=False)
    starts = [environment.start_state]
    if exploring_starts:
        starts = [tuple(int(i) for i in cell)
                  for cell in np.argwhere(environment.decision_cells())]
        # A round visits every cell: judge after each one, whatever check_every says.
        check_every = 1
    original_start = environment.start_state

    def train(budget: int) -> int:
        """One episode from each start in turn, within `budget` steps."""
        taken = 0
        for cell in starts:
            environment.start_state = cell
            taken += loop.run_episode(max_steps=budget - taken)['episode_length']
            if taken >= budget:
                break
        return taken

    solved_for = {}  # Q* per goal: random goals move between episodes.

    def judge() -> float:
        environment.start_state = original_start
        goal = environment.goal_state
        if goal not in solved_for:
            solved_for[goal] = optimal_q_values(environment, discount)
        q_star = solved_for[goal]
        if from_start:
            best = float(np.nanmax(q_star[environment.start_state]))
            achieved = greedy_return_from_start(environment, agent, discount)
            return float(achieved >= best - 1e-4 * max(1., abs(best)))
        return optimal_fraction(environment, q_table(agent, environment), q_star)

    try:
        return train_until(train, judge, max_steps, check_every)
    finally:
        environment.start_state = original_start
