"""Planning: Q* on grid worlds, policy evaluation, and judging agents by it."""

import time

import numpy as np
import pytest

import gridlab
from gridlab.evaluation import judging
from gridlab.evaluation.train_until import train_until

UP, RIGHT, DOWN, LEFT = range(4)


class TableAgent:
    """Answers q_values from a fixed (H, W, A) table, looked up by the cell
    its STATE_INDEX observation names."""

    def __init__(self, env, table):
        self.env, self.table = env, table

    def q_values(self, observation):
        y, x = divmod(int(observation), self.env.shape[1])
        return self.table[y, x]


def test_value_iteration_gives_discounted_goal_reward():
    env = gridlab.build_gridworld_task('simple')
    q = gridlab.optimal_q_values(env)
    # Five steps down from (2, 2): the reward 10 arrives on the fifth.
    assert q[2, 2, DOWN] == pytest.approx(10 * 0.9 ** 4)
    assert q[6, 2, DOWN] == pytest.approx(10.)
    # Bumping costs 5 and wastes a step.
    assert q[1, 1, UP] == pytest.approx(-5 + 0.9 * q[1, 1].max())


def test_policy_iteration_and_evaluation_agree_with_value_iteration():
    for task, kwargs in [('obstacle', {}), ('cliff', {}),
                         ('simple', dict(slip_probability=0.2))]:
        env = gridlab.build_gridworld_task(task, **kwargs)
        model = env.transition_model()
        q_star = gridlab.value_iteration(model)
        q_pi, policy = gridlab.policy_iteration(model)
        np.testing.assert_allclose(q_pi, q_star, atol=1e-6)
        np.testing.assert_allclose(gridlab.policy_evaluation(model, policy),
                                   q_star, atol=1e-6)


def test_policy_evaluation_of_a_stochastic_policy_is_below_optimal():
    env = gridlab.build_gridworld_task('simple')
    model = env.transition_model()
    uniform = np.full((env.number_of_states, 4), 0.25)
    q_uniform = gridlab.policy_evaluation(model, uniform)
    q_star = gridlab.value_iteration(model)
    start = 22
    assert q_uniform[start].max() < q_star[start].max() - 1.
    # Bellman equation for the uniform policy holds at the start.
    v = q_uniform.mean(axis=1)
    expected = [model.rewards[start, a, 0] +
                model.discounts[start, a, 0] * v[model.next_states[start, a, 0]]
                for a in range(4)]
    np.testing.assert_allclose(q_uniform[start], expected, atol=1e-8)


def test_slip_lowers_the_value_of_the_start():
    plain = gridlab.optimal_q_values(gridlab.build_gridworld_task('obstacle'))
    slippery = gridlab.optimal_q_values(
        gridlab.build_gridworld_task('obstacle', slip_probability=0.3))
    assert slippery[2, 2].max() < plain[2, 2].max()


def test_cliff_optimal_path_hugs_the_cliff():
    env = gridlab.build_gridworld_task('cliff')
    q = gridlab.optimal_q_values(env)
    assert np.argmax(q[4, 1]) == UP
    assert all(np.argmax(q[3, x]) == RIGHT for x in range(1, 12))
    assert np.argmax(q[3, 12]) == DOWN


def test_optimal_fraction_judges_greedy_policies():
    env = gridlab.build_gridworld_task('obstacle')
    q_star = gridlab.optimal_q_values(env)
    assert gridlab.optimal_fraction(env, q_star) == 1.
    # The goal is up and to the right: always-down is right only next to it.
    always_down = np.zeros_like(q_star)
    always_down[..., DOWN] = 1.
    fraction = gridlab.optimal_fraction(env, always_down)
    assert 0. < fraction < 0.2
    mask = gridlab.greedy_is_optimal(env, always_down, q_star)
    assert mask[1, 8] and not mask[5, 5]
    assert not mask[env.walls].any() and not mask[env.goal_state]
    # Ties and unknown values earn nothing: the agent could pick any action.
    assert gridlab.optimal_fraction(env, np.zeros_like(q_star)) == 0.
    assert gridlab.optimal_fraction(env, np.full_like(q_star, np.nan)) == 0.
    tied = q_star.copy()
    tied[2, 2] = tied[2, 2].max()
    assert not gridlab.greedy_is_optimal(env, tied, q_star)[2, 2]
    # A flat (S, A) table is accepted too.
    assert gridlab.optimal_fraction(env, q_star.reshape(90, 4)) == 1.
    with pytest.raises(ValueError, match='shape'):
        gridlab.optimal_fraction(env, np.zeros((3, 4)))


def test_q_table_reads_every_free_cell_and_restores_the_state():
    env = gridlab.build_gridworld_task('simple')
    env.reset()
    env.step(RIGHT)
    q_star = gridlab.optimal_q_values(env)
    table = gridlab.q_table(TableAgent(env, q_star), env)
    assert env.state == (2, 3)
    assert np.isnan(table[0, 0]).all()
    free = ~env.walls
    np.testing.assert_array_equal(table[free], q_star[free])


def test_q_table_works_with_a_tabular_agent_on_state_indices():
    env = gridlab.build_gridworld_task('obstacle')
    q_star = gridlab.value_iteration(env.transition_model())

    class Tabular:
        def q_values(self, observation):
            return q_star[observation]
    table = gridlab.q_table(Tabular(), env)
    assert gridlab.optimal_fraction(env, table) == 1.


def test_bad_models_and_policies_are_rejected():
    env = gridlab.build_gridworld_task('simple')
    model = env.transition_model()
    broken = model._replace(probabilities=model.probabilities * 0.5)
    with pytest.raises(ValueError, match='sum to'):
        gridlab.value_iteration(broken)
    with pytest.raises(ValueError, match='policy must have shape'):
        gridlab.policy_evaluation(model, np.zeros((3, 4)))
    with pytest.raises(ValueError, match='actions 0..3'):
        gridlab.policy_evaluation(model, np.full(90, 7))


def test_greedy_return_from_start_recognises_the_optimal_path():
    env = gridlab.build_gridworld_task('simple')
    q_star = gridlab.optimal_q_values(env)
    assert gridlab.greedy_return_from_start(env, TableActor(env, q_star)) == (
        pytest.approx(np.nanmax(q_star[2, 2])))
    always_up = np.zeros_like(q_star)
    always_up[..., UP] = 1.
    # Up from (2, 2) reaches the wall at row 0 and bumps it forever:
    # 0.9 * (-5) / (1 - 0.9) = -45, exactly, from the model.
    assert gridlab.greedy_return_from_start(env, TableActor(env, always_up)) == (
        pytest.approx(-45.))


class TableActor(gridlab.Actor):
    """Greedy on a fixed table; learns nothing (for train_until_optimal)."""

    def __init__(self, env, table):
        self.env, self.table = env, table

    def q_values(self, observation):
        y, x = divmod(int(observation), self.env.shape[1])
        return self.table[y, x]

    def select_action(self, observation):
        return int(np.nanargmax(self.q_values(observation)))

    def observe_first(self, timestep):
        pass

    def observe(self, action, next_timestep):
        pass

    def update(self, wait=False):
        pass


def test_train_until_optimal_reports_both_criteria():
    env = gridlab.build_gridworld_task('simple')
    q_star = gridlab.optimal_q_values(env)
    solved = gridlab.train_until_optimal(env, TableActor(env, q_star), 300)
    assert solved.solved and solved.optimal_fraction == 1.
    # Optimal from the start but not elsewhere: only from_start is met.
    partial = q_star.copy()
    partial[1, 8] = [1., 0., 0., 0.]
    agent = TableActor(env, partial)
    assert not gridlab.train_until_optimal(env, agent, 300).solved
    assert gridlab.train_until_optimal(env, agent, 300, from_start=True).solved


def test_train_until_judges_at_each_mark_and_stops_when_the_judge_says_1():
    judged_at, steps = [], [0]

    def train(budget):  # Episodes of 30 steps, the last one cut by the budget.
        taken = min(30, budget)
        steps[0] += taken
        return taken

    def judge():
        judged_at.append(steps[0])
        return 1. if len(judged_at) == 3 else 0.5

    result = train_until(train, judge, max_steps=1_000, check_every=100)
    # At the end of the episode crossing each mark; the next mark counts from there.
    assert judged_at == [120, 240, 360]
    assert result == (True, 360, result.seconds, 1.)


def test_train_until_can_train_on_after_solving_and_judges_the_last_steps():
    judged_at, steps = [], [0]

    def train(budget):
        steps[0] += min(30, budget)
        return min(30, budget)

    def judge():
        judged_at.append(steps[0])
        return 1.

    result = train_until(train, judge, 250, 100, stop_when_solved=False)
    assert judged_at == [120, 240, 250] and result.solved and result.steps == 250
    with pytest.raises(ValueError, match='check_every'):
        train_until(train, judge, 250, 0)


def test_train_until_leaves_the_judging_time_out():
    def judge():
        time.sleep(0.2)
        return 0.

    result = train_until(lambda budget: 10, judge, 40, 10)
    assert result.steps == 40 and not result.solved
    assert result.seconds < 0.1  # Four checks took 0.8 s.


def test_optimal_actions_is_relative_to_the_best_and_refuses_other_shapes():
    q_star = np.array([[[1e-8, 1e-8 * (1 - 1e-7), 0., np.nan]],
                       [[np.nan, np.nan, np.nan, np.nan]]])  # (2, 1, 4)
    # Tiny values: 0 is far from 1e-8 relative to it, 1e-8 * (1 - 1e-7) is not.
    np.testing.assert_array_equal(
        judging.optimal_actions(np.array([[1], [0]]), q_star), [[True], [False]])
    np.testing.assert_array_equal(
        judging.optimal_actions(np.array([[2], [0]]), q_star), [[False], [False]])
    np.testing.assert_array_equal(
        judging.optimal_actions(np.array([[-1], [0]]), q_star), [[False], [False]])
    np.testing.assert_array_equal(  # The NaN action is never optimal.
        judging.optimal_actions(np.array([[3], [0]]), q_star), [[False], [False]])
    assert judging.optimal_actions(np.array([[2], [0]]), q_star, atol=1e-7)[0, 0]
    with pytest.raises(ValueError, match='to match the policy'):
        judging.optimal_actions(np.zeros((3, 1), int), q_star)
    with pytest.raises(ValueError, match=r'shape \(H, W, A\)'):
        judging.optimal_actions(np.zeros((2, 1), int), q_star[..., 0])


def test_actions_optimal_fraction_follows_the_same_rule():
    env = gridlab.build_gridworld_task('simple')
    q_star = gridlab.optimal_q_values(env)
    best = np.where(env.decision_cells(), np.nanargmax(
        np.where(np.isnan(q_star), -np.inf, q_star), axis=-1), -1)
    assert gridlab.actions_optimal_fraction(env, best) == 1.
    down = np.full_like(best, DOWN)  # The goal is below the start: optimal on some cells.
    expected = judging.optimal_actions(down, q_star)[env.decision_cells()].mean()
    assert gridlab.actions_optimal_fraction(env, down) == pytest.approx(expected)
    assert 0. < expected < 1.
