"""GridWorld: the dm_env contract, dynamics, observations and bad input."""

import unittest

import dm_env
import numpy as np
import pytest
import torch
from dm_env import test_utils

import gridlab
from gridlab.envs import rendering
from gridlab.envs.layout import parse_layout

OBS = gridlab.ObservationType
UP, RIGHT, DOWN, LEFT = range(4)


def optimal_path(env, limit=500):
    """Actions of a greedy walk on Q* from the start to the goal."""
    q = gridlab.value_iteration(env.transition_model())
    y, x = env.start_state
    s = y * env.shape[1] + x
    model = env.transition_model()
    actions = []
    while s != np.ravel_multi_index(env.goal_state, env.shape):
        a = int(np.argmax(q[s]))
        actions.append(a)
        s = int(model.next_states[s, a, 0])
        assert len(actions) < limit, 'no path to the goal'
    return actions


# dm_env's own contract tests, for every task and observation type. -----------

def _make_contract_test(task, observation_type):
    class Test(test_utils.EnvironmentTestMixin, unittest.TestCase):

        def make_object_under_test(self):
            return gridlab.build_gridworld_task(
                task, observation_type=observation_type, max_episode_length=60,
                seed=1)

        def make_action_sequence(self):
            # Reach the goal (LAST, discount 0), one ignored action, the goal
            # again, then wander until truncation (LAST, discount > 0).
            path = optimal_path(self.environment)
            rng = np.random.default_rng(0)
            yield from path
            yield 0
            yield from path
            yield from rng.integers(0, 4, size=130).tolist()

    Test.__name__ = f'TestContract_{task}_{observation_type.name}'
    return Test


for _task in gridlab.TASKS:
    for _observation_type in OBS:
        _test = _make_contract_test(_task, _observation_type)
        globals()[_test.__name__] = _test
del _test


def test_contract_sequences_reach_both_kinds_of_last():
    env = gridlab.build_gridworld_task('obstacle', max_episode_length=60, seed=1)
    test = _make_contract_test('obstacle', OBS.STATE_INDEX)('test_reset')
    test.object_under_test = env
    discounts_at_last = []
    env.reset()
    for action in test.make_action_sequence():
        timestep = env.step(action)
        if timestep.last():
            discounts_at_last.append(float(timestep.discount))
    assert 0. in discounts_at_last  # Reached the goal.
    assert 0.9 in np.round(discounts_at_last, 6)  # Was truncated.


# Dynamics. --------------------------------------------------------------------

def test_reaching_the_goal_pays_and_terminates():
    env = gridlab.build_gridworld_task('simple')
    assert env.reset().first()
    for _ in range(4):
        timestep = env.step(DOWN)
        assert timestep.mid() and timestep.reward == 0. and timestep.discount == np.float32(0.9)
    timestep = env.step(DOWN)
    assert timestep.last()
    assert timestep.reward == 10. and timestep.discount == 0.
    assert env.state == (7, 2)
    # Stepping after LAST starts a new episode and ignores the action.
    timestep = env.step(DOWN)
    assert timestep.first() and env.state == (2, 2)


def test_wall_bump_costs_and_stays():
    env = gridlab.build_gridworld_task('simple', penalty_for_walls=-7)
    env.reset()
    env.set_state(3, 2)  # x=3, y=2: the pillar is at x=4.
    timestep = env.step(RIGHT)
    assert timestep.reward == -7. and timestep.mid()
    assert env.state == (2, 3)


def test_truncation_keeps_the_discount():
    env = gridlab.build_gridworld_task('simple', max_episode_length=3)
    env.reset()
    steps = [env.step(UP) for _ in range(3)]
    assert [s.step_type for s in steps] == [dm_env.StepType.MID] * 2 + [dm_env.StepType.LAST]
    assert steps[-1].discount == np.float32(0.9)


def test_layout_without_border_walls_does_not_wrap():
    env = gridlab.GridWorld('S..\n..G', seed=0)
    env.reset()
    for action in (UP, LEFT):
        timestep = env.step(action)
        assert env.state == (0, 0) and timestep.reward == -5.
    env.set_state(2, 0)
    timestep = env.step(RIGHT)
    assert env.state == (0, 2) and timestep.reward == -5.
    assert env.step(DOWN).last()


def test_cliff_sends_back_to_start_with_penalty():
    env = gridlab.build_gridworld_task('cliff')
    env.reset()
    assert env.start_state == (4, 1)
    timestep = env.step(RIGHT)
    assert timestep.reward == -100. and timestep.mid()
    assert env.state == (4, 1)
    assert env.layout[4, 2] == -100.


def test_slip_goes_sideways_with_the_given_probability():
    env = gridlab.GridWorld('.....\n..S..\n.....\n....G', slip_probability=0.3,
                            seed=3)
    counts = {UP: 0, RIGHT: 0, LEFT: 0}
    moves = {(0, 2): UP, (1, 3): RIGHT, (1, 1): LEFT}
    for _ in range(4000):
        env.reset()
        env.step(UP)
        counts[moves[env.state]] += 1
    assert abs(counts[UP] / 4000 - 0.7) < 0.03
    assert abs(counts[RIGHT] / 4000 - 0.15) < 0.02
    assert abs(counts[LEFT] / 4000 - 0.15) < 0.02


def test_same_seed_same_run_and_different_seed_different_goals():
    def trajectory(seed):
        env = gridlab.build_gridworld_task(
            'random_goal', slip_probability=0.2, randomize_goals=True, seed=seed)
        rng = np.random.default_rng(0)
        states, goals = [], []
        for _ in range(300):
            timestep = env.step(int(rng.integers(4)))
            states.append(env.state)
            if timestep.first():
                goals.append(env.goal_state)
        return states, goals
    assert trajectory(5) == trajectory(5)
    goals = {trajectory(seed)[1][0] for seed in range(6)}
    assert len(goals) > 1


def test_randomize_goals_draws_reachable_goals_and_updates_observations():
    env = gridlab.build_gridworld_task('random_goal', randomize_goals=True,
                                       observation_type=OBS.AGENT_GOAL_POS, seed=0)
    goals = set()
    for _ in range(30):
        timestep = env.reset()
        goals.add(env.goal_state)
        assert tuple(timestep.observation[2:]) == env.goal_state
        assert not env.walls[env.goal_state] and env.goal_state != env.start_state
    assert len(goals) > 10


def test_transition_model_matches_the_dynamics():
    for task in ('simple', 'obstacle', 'cliff', 'four_rooms'):
        env = gridlab.build_gridworld_task(task)
        model = env.transition_model()
        height, width = env.shape
        for s in np.flatnonzero(env.decision_cells().ravel()):
            for a in range(4):
                env.reset()
                env.set_state(s % width, s // width)
                timestep = env.step(a)
                y, x = env.state
                assert model.next_states[s, a, 0] == y * width + x
                assert model.rewards[s, a, 0] == timestep.reward
                assert np.isclose(model.discounts[s, a, 0], timestep.discount)


def test_slippery_model_has_three_outcomes():
    env = gridlab.build_gridworld_task('simple', slip_probability=0.2)
    model = env.transition_model()
    s = 2 * 10 + 2
    np.testing.assert_allclose(model.probabilities[s, UP], [0.8, 0.1, 0.1])
    assert list(model.next_states[s, UP]) == [12, 23, 21]


# Observations. -----------------------------------------------------------------

def test_observations_describe_the_state():
    kwargs = dict(task='obstacle', seed=0)
    env = gridlab.build_gridworld_task(observation_type=OBS.STATE_INDEX, **kwargs)
    assert env.reset().observation == 22
    assert env.observation_spec().num_values == 90

    env = gridlab.build_gridworld_task(observation_type=OBS.AGENT_ONEHOT, **kwargs)
    obs = env.reset().observation
    assert obs.dtype == np.float32 and obs.sum() == 1 and obs[2, 2] == 1

    env = gridlab.build_gridworld_task(observation_type=OBS.GRID, **kwargs)
    obs = env.step(UP).observation
    np.testing.assert_array_equal(obs[..., 0], env.walls)
    assert obs[2, 2, 1] == 1 and obs[..., 1].sum() == 1
    assert obs[2, 8, 2] == 1 and obs[..., 2].sum() == 1

    env = gridlab.build_gridworld_task(observation_type=OBS.AGENT_GOAL_POS, **kwargs)
    env.reset()
    obs = env.step(RIGHT).observation
    np.testing.assert_array_equal(obs, [2, 3, 2, 8])


def test_rgb_observation_shows_agent_goal_and_walls():
    env = gridlab.build_gridworld_task('simple', observation_type=OBS.RGB,
                                       pixels_per_cell=6)
    obs = env.reset().observation
    assert obs.shape == (54, 60, 3) and obs.dtype == np.uint8

    def centre(y, x):
        return tuple(obs[y * 6 + 3, x * 6 + 3])
    assert centre(2, 2) == rendering.AGENT
    assert centre(7, 2) == rendering.GOAL
    assert centre(0, 0) == rendering.WALL
    assert centre(5, 5) == rendering.FREE


def test_observations_are_read_only():
    env = gridlab.build_gridworld_task('simple', observation_type=OBS.GRID)
    obs = env.reset().observation
    with pytest.raises(ValueError, match='read-only'):
        obs[0, 0, 0] = 5.


def test_render_draws_the_agent_where_it_is():
    env = gridlab.build_gridworld_task('simple')
    env.reset()
    frame = env.render()
    assert frame.shape == (9 * 32, 10 * 32, 3)
    assert tuple(frame[2 * 32 + 16, 2 * 32 + 16]) == rendering.AGENT
    env.step(DOWN)
    moved = env.render()
    assert tuple(moved[2 * 32 + 16, 2 * 32 + 16]) != rendering.AGENT
    assert tuple(moved[3 * 32 + 16, 2 * 32 + 16]) == rendering.AGENT
    np.testing.assert_array_equal(env.plot_state(return_rgb=True), moved)


# Bad input. ---------------------------------------------------------------------

@pytest.mark.parametrize('action', [4, -1, 1.0, '1', True, np.float32(1),
                                    np.array([1]), None])
def test_invalid_actions_are_rejected_by_name(action):
    env = gridlab.build_gridworld_task('simple')
    env.reset()
    with pytest.raises(ValueError, match='invalid action'):
        env.step(action)


@pytest.mark.parametrize('action', [np.int64(2), np.int32(2), np.array(2),
                                    torch.tensor(2)])
def test_integer_like_actions_are_accepted(action):
    env = gridlab.build_gridworld_task('simple')
    env.reset()
    env.step(action)
    assert env.state == (3, 2)


@pytest.mark.parametrize('layout, message', [
    ('#..\n#.', 'ragged'),
    ('#S.\n#?G', "unknown character '\\?'"),
    ([[0, 0], [0]], r'ragged: rows have lengths \[2, 1\]'),
    ([[0, 'a'], [0, 0]], 'rectangular grid of numbers'),
    ([[0, 0], [0, 7], [9, 0]], '2 goal cells'),
    ('', 'empty'),
    ('S.G\nS..', "'S' 2 times"),
])
def test_malformed_layouts_are_rejected(layout, message):
    with pytest.raises(ValueError, match=message):
        gridlab.GridWorld(layout, start_state=(0, 0))


@pytest.mark.parametrize('kwargs, message', [
    (dict(start_state=(0, 0)), r'start_state \(0, 0\) is on a wall'),
    (dict(start_state=(2, 2), goal_state=(0, 5)), r'goal_state \(0, 5\) is on a wall'),
    (dict(start_state=(9, 2)), r'start_state \(9, 2\) is off the grid'),
    (dict(start_state=(2, 2), goal_state=(2, -1)), 'off the grid'),
    (dict(start_state=(2, 2), goal_state=(2, 2)), 'is the start state'),
    (dict(start_state='ab'), 'pair of integers'),
])
def test_bad_start_and_goal_are_rejected(kwargs, message):
    layout = gridlab.TASKS['simple'].layout
    with pytest.raises(ValueError, match=message):
        gridlab.GridWorld(layout, **kwargs)


def test_unreachable_goal_is_rejected():
    layout = '#####\n#S#G#\n#####'
    with pytest.raises(ValueError, match=r'goal_state \(1, 3\) cannot be reached'):
        gridlab.GridWorld(layout)
    env = gridlab.build_gridworld_task('simple')
    with pytest.raises(ValueError, match='on a wall'):
        env.goal_state = (3, 4)
    env.goal_state = (1, 8)
    assert env.goal_state == (1, 8) and env.layout[1, 8] == 10


def test_other_bad_arguments():
    layout = gridlab.TASKS['simple'].layout
    with pytest.raises(ValueError, match='observation_type'):
        gridlab.GridWorld(layout, start_state=(2, 2), observation_type=9)
    with pytest.raises(ValueError, match='slip_probability'):
        gridlab.GridWorld(layout, start_state=(2, 2), slip_probability=1.5)
    with pytest.raises(ValueError, match='unknown task'):
        gridlab.build_gridworld_task('nope')
    with pytest.raises(ValueError, match='discount must be a number'):
        gridlab.GridWorld(layout, start_state=(2, 2), discount='x')
    with pytest.raises(ValueError, match='pixels_per_cell'):
        gridlab.GridWorld(layout, start_state=(2, 2), pixels_per_cell=0)
    env = gridlab.build_gridworld_task('simple')
    with pytest.raises(ValueError, match='off the grid'):
        env.set_state(10, 0)
    with pytest.raises(ValueError, match='integer coordinates'):
        env.set_state(1.5, 2)


def test_numeric_and_ascii_layouts_agree():
    numeric = [[-1, -1, -1, -1], [-1, 0, 5, -1], [-1, -1, -1, -1]]
    cells, start, goal = parse_layout(numeric)
    ascii_cells, ascii_start, ascii_goal = parse_layout('####\n#SG#\n####')
    np.testing.assert_array_equal(cells, ascii_cells)
    assert goal == ascii_goal == (1, 2) and ascii_start == (1, 1) and start is None


# Specs and wrappers. ---------------------------------------------------------------

class _DoublePrecisionEnv(dm_env.Environment):
    """A minimal float64/int64 environment to check the wrapper converts."""

    def reset(self):
        return dm_env.restart(np.zeros(2, dtype=np.float64))

    def step(self, action):
        return dm_env.transition(1.5, np.ones(2, dtype=np.float64), 0.5)

    def observation_spec(self):
        return dm_env.specs.Array((2,), np.float64)

    def action_spec(self):
        return dm_env.specs.DiscreteArray(3, dtype=np.int64)


def test_single_precision_wrapper_converts_specs_and_values():
    env, spec = gridlab.setup_environment(_DoublePrecisionEnv())
    assert spec.observations.dtype == np.float32
    assert spec.actions.dtype == np.int32 and spec.actions.num_values == 3
    assert spec.rewards.dtype == np.float32
    timestep = env.step(0)
    assert timestep.observation.dtype == np.float32
    assert np.asarray(timestep.reward).dtype == np.float32
    spec.rewards.validate(timestep.reward)
    spec.discounts.validate(timestep.discount)


def test_setup_environment_keeps_the_gridworld_reachable():
    grid = gridlab.build_gridworld_task('simple', observation_type=OBS.GRID)
    env, spec = gridlab.setup_environment(grid)
    assert spec.observations.shape == (9, 10, 3)
    assert spec.actions.num_values == 4
    timestep = env.reset()
    assert env.step(DOWN).observation is grid.get_obs()  # No copy per step.
    env.set_state(3, 4)
    assert grid.state == (4, 3)
    assert env.goal_state == (7, 2)
    env.goal_state = (1, 8)  # Setting through the wrapper reaches the grid.
    assert grid.goal_state == (1, 8)
    with pytest.raises(ValueError, match='on a wall'):
        env.start_state = (0, 0)
    assert timestep.first()


def test_a_wrapper_keeps_its_own_attributes():
    class Counting(gridlab.EnvironmentWrapper):
        def __init__(self, environment):
            super().__init__(environment)
            self.count = 0

        def step(self, action):
            self.count += 1
            return super().step(action)

    grid = gridlab.build_gridworld_task('simple')
    inner = Counting(grid)
    outer = Counting(inner)
    outer.reset()
    outer.step(0)
    assert (outer.count, inner.count) == (1, 1)
    assert not hasattr(grid, 'count')


def test_slippery_model_matches_sampled_transitions_for_every_outcome():
    # Every (cell, action) of a slippery grid, stepped many times, lands on
    # each next cell about as often as the model says: within five standard
    # deviations of the binomial count, for every outcome of every pair.
    env = gridlab.build_gridworld_task('obstacle', slip_probability=0.3, seed=0)
    model = env.transition_model()
    height, width = env.shape
    samples = 300
    for s in np.flatnonzero(env.decision_cells().ravel()):
        for a in range(4):
            expected = {}
            for t, p in zip(model.next_states[s, a], model.probabilities[s, a]):
                expected[int(t)] = expected.get(int(t), 0.) + p
            counts = {}
            for _ in range(samples):
                env.reset()
                env.set_state(int(s % width), int(s // width))
                env.step(a)
                y, x = env.state
                counts[y * width + x] = counts.get(y * width + x, 0) + 1
            assert set(counts) <= set(expected), (s, a, counts, expected)
            for t, p in expected.items():
                sd = np.sqrt(samples * p * (1 - p))
                assert abs(counts.get(t, 0) - samples * p) <= 5 * sd + 1e-9, (s, a, t)


def test_observation_at_leaves_the_environment_alone():
    env = gridlab.build_gridworld_task('simple', slip_probability=0.5,
                                       observation_type=OBS.AGENT_GOAL_POS, seed=3)
    env.reset()
    env.step(1)
    state, rng = env.state, env._rng.bit_generator.state
    np.testing.assert_array_equal(env.observation_at((5, 7)), [5, 7, 7, 2])
    assert env.state == state and env._rng.bit_generator.state == rng
    with pytest.raises(ValueError, match='off the grid'):
        env.observation_at((9, 0))
