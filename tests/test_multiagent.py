"""MultiAgentGridWorld: dynamics, collision rules, the joint MDP, learners, PettingZoo."""

import warnings

import numpy as np
import pytest
from conftest import needs

from agents.tabular import QLearning
from gridlab import planning
from gridlab.evaluation import teams
from gridlab.loops import multiagent as multiagent_loop
from gridlab.envs.actions import Action
from gridlab.envs.multiagent import MultiAgentGridWorld, build_multiagent_task

UP, RIGHT, DOWN, LEFT = Action.UP, Action.RIGHT, Action.DOWN, Action.LEFT

# A 2x3 room inside walls.
ROOM = """
    #####
    #...#
    #...#
    #####
"""
CORRIDOR = """
    ######
    #....#
    ######
"""


def pettingzoo_adapter():
    """as_pettingzoo, if PettingZoo is here (gridlab[multiagent])."""
    needs('pettingzoo', 'multiagent')
    from gridlab.envs.adapters.pettingzoo import as_pettingzoo
    return as_pettingzoo


def make(layout, starts, goals, **kwargs):
    environment = MultiAgentGridWorld(layout, starts, goals, **kwargs)
    environment.reset()
    return environment


def step(environment, *actions):
    return environment.step({name: int(a) for name, a in
                             zip(environment.agent_names, actions)})


def cells(environment):
    return tuple(environment.positions.values())


# ------------------------------------------------------------------ dynamics

def test_specs_are_dicts_keyed_by_agent():
    environment = build_multiagent_task('passing_bay')
    names = ('agent_0', 'agent_1')
    assert environment.agent_names == names
    assert set(environment.observation_spec()) == set(names)
    assert environment.observation_spec()['agent_0'].num_values == 7 ** 2  # 6 cells + done.
    assert environment.action_spec()['agent_1'].num_values == 4
    assert set(environment.reward_spec()) == set(names)
    timestep = environment.reset()
    assert timestep.first()
    for name in names:
        environment.observation_spec()[name].validate(timestep.observation[name])
    own = build_multiagent_task('passing_bay', observation='own')
    assert own.observation_spec()['agent_0'].num_values == 7
    # Cells are numbered row by row: the bay (1, 3) is 0, (2, 1) is 1, (2, 5) is 5.
    assert own.reset().observation == {'agent_0': 1, 'agent_1': 5}


def test_moves_walls_and_rewards():
    environment = make(ROOM, [(1, 1), (2, 3)], [(2, 2), (1, 2)])
    timestep = step(environment, UP, DOWN)  # Both bump the outer wall.
    assert cells(environment) == ((1, 1), (2, 3))
    assert timestep.reward == {'agent_0': 0., 'agent_1': 0.}
    assert timestep.mid() and timestep.discount == np.float32(0.9)
    step(environment, RIGHT, LEFT)
    assert cells(environment) == ((1, 2), (2, 2))


def test_wall_and_collision_penalties():
    environment = make(CORRIDOR, [(1, 1), (1, 2)], [(1, 4), (1, 3)],
                       penalty_for_walls=-1., penalty_for_collisions=-3.)
    timestep = step(environment, LEFT, LEFT)  # agent_0 bumps; agent_1 walks into it.
    assert cells(environment) == ((1, 1), (1, 2))
    assert timestep.reward == {'agent_0': -1., 'agent_1': -3.}


# ---------------------------------------------------------- collision rules

def test_two_agents_moving_into_one_cell_both_stay():
    environment = make(CORRIDOR, [(1, 1), (1, 3)], [(1, 4), (1, 2)])
    step(environment, RIGHT, LEFT)  # Both into (1, 2).
    assert cells(environment) == ((1, 1), (1, 3))


def test_swapping_places_is_blocked():
    environment = make(CORRIDOR, [(1, 1), (1, 2)], [(1, 4), (1, 3)])
    step(environment, RIGHT, LEFT)
    assert cells(environment) == ((1, 1), (1, 2))


def test_moving_into_a_staying_agent_is_blocked_and_blocks_propagate():
    three = make(CORRIDOR, [(1, 1), (1, 2), (1, 3)], [(1, 4), (1, 4), (1, 4)], race=True)
    # agent_2 waits (bumps the wall above); the two behind it cannot move up.
    step(three, RIGHT, RIGHT, UP)
    assert cells(three) == ((1, 1), (1, 2), (1, 3))  # The whole queue stays.


def test_following_an_agent_that_leaves_is_allowed():
    environment = make(CORRIDOR, [(1, 1), (1, 2)], [(1, 4), (1, 3)])
    step(environment, RIGHT, RIGHT)
    assert cells(environment) == ((1, 2), None)  # agent_1 reached its goal (1, 3).
    step(environment, RIGHT, UP)  # The arrived agent's action is ignored.
    assert cells(environment) == ((1, 3), None)


def test_four_agents_rotating_round_a_square_all_move():
    square = """
        ####
        #..#
        #..#
        ####
    """
    environment = make(square, [(1, 1), (1, 2), (2, 2), (2, 1)],
                       [(1, 2), (2, 2), (2, 1), (1, 1)])
    # Each moves into the cell the next one leaves: all arrive at once.
    timestep = step(environment, RIGHT, DOWN, LEFT, UP)
    assert timestep.last() and timestep.discount == 0.
    assert all(cell is None for cell in cells(environment))


def test_an_arrived_agent_frees_its_goal_cell():
    environment = make(CORRIDOR, [(1, 2), (1, 4)], [(1, 3), (1, 1)])
    step(environment, RIGHT, UP)  # agent_0 arrives at (1, 3), agent_1 waits.
    assert cells(environment) == (None, (1, 4))
    step(environment, LEFT, LEFT)
    assert cells(environment) == (None, (1, 3))  # Through the freed goal cell.


# ---------------------------------------------------- episodes and rewards

def test_cooperative_episode_ends_when_all_arrive_with_shared_reward():
    environment = make(CORRIDOR, [(1, 1), (1, 4)], [(1, 2), (1, 3)], shared_reward=True)
    timestep = step(environment, RIGHT, UP)
    assert timestep.mid()
    assert timestep.reward == {'agent_0': 10., 'agent_1': 10.}  # The team's 10.
    timestep = step(environment, RIGHT, LEFT)
    assert timestep.last() and timestep.discount == 0.
    assert timestep.reward == {'agent_0': 10., 'agent_1': 10.}
    assert step(environment, UP, UP).first()  # Auto-reset.


def test_individual_rewards_without_sharing():
    environment = make(CORRIDOR, [(1, 1), (1, 4)], [(1, 2), (1, 3)])
    assert step(environment, RIGHT, UP).reward == {'agent_0': 10., 'agent_1': 0.}


def test_race_first_arrival_wins_and_ties_block():
    environment = build_multiagent_task('race')
    environment.reset()
    for actions in ((DOWN, DOWN), (RIGHT, LEFT)):  # (3, 2) and (3, 4): both next to goal.
        step(environment, *actions)
    assert cells(environment) == ((2, 2), (2, 4))
    step(environment, DOWN, DOWN)
    assert cells(environment) == ((3, 2), (3, 4))
    step(environment, RIGHT, LEFT)  # Both into the goal (3, 3) at once: blocked.
    assert cells(environment) == ((3, 2), (3, 4))
    timestep = step(environment, RIGHT, UP)
    assert timestep.last() and timestep.discount == 0.
    assert timestep.reward == {'agent_0': 10., 'agent_1': -10.}


def test_truncation_keeps_the_discount():
    environment = make(CORRIDOR, [(1, 1), (1, 4)], [(1, 2), (1, 3)], max_episode_length=2)
    step(environment, UP, UP)
    timestep = step(environment, UP, UP)
    assert timestep.last() and timestep.discount == np.float32(0.9)


def test_slips_are_seeded():
    def run(seed):
        environment = build_multiagent_task('race', slip_probability=0.5, seed=seed)
        environment.reset()
        trace = []
        for _ in range(30):
            step(environment, DOWN, DOWN)
            trace.append(cells(environment))
        return trace
    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize('bad, message', [
    ({'agent_0': 0}, "no action for agent 'agent_1'"),
    ({'agent_0': 0, 'agent_1': 0, 'bob': 1}, 'unknown agents'),
    ({'agent_0': 4, 'agent_1': 0}, "action of 'agent_0'"),
    ({'agent_0': 1.5, 'agent_1': 0}, "action of 'agent_0'"),
])
def test_bad_actions_are_refused(bad, message):
    environment = build_multiagent_task('passing_bay')
    environment.reset()
    with pytest.raises(ValueError, match=message):
        environment.step(bad)


def test_actions_must_be_a_dict():
    environment = build_multiagent_task('passing_bay')
    environment.reset()
    with pytest.raises(TypeError, match='actions must be a dict'):
        environment.step([0, 1])


@pytest.mark.parametrize('kwargs, message', [
    (dict(starts=[(1, 1)], goals=[(1, 2)]), 'at least two agents'),
    (dict(starts=[(1, 1), (1, 1)], goals=[(1, 2), (1, 3)]), 'distinct'),
    (dict(starts=[(1, 1), (1, 2)], goals=[(1, 3), (1, 3)]), 'unless race'),
    (dict(starts=[(1, 1), (0, 0)], goals=[(1, 3), (1, 4)]), r'starts\[1\] \(0, 0\)'),
    (dict(starts=[(1, 1), (1, 2)], goals=[(1, 1), (1, 4)]), 'starts on its goal'),
    (dict(starts=[(1, 1), (1, 2)], goals=[(1, 3), (1, 4)], observation='pixels'),
     'observation must be one of'),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiAgentGridWorld(CORRIDOR, **kwargs)


# --------------------------------------------------------------- joint MDP

def test_joint_value_iteration_matches_a_hand_solved_t_junction():
    # agent_0 (2, 1) -> (2, 3), agent_1 (2, 3) -> (2, 1), a bay above (2, 2).
    # Best: agent_0 steps to (2, 2) while agent_1 waits, then into the bay
    # while agent_1 follows to (2, 2); agent_1 arrives at step 3 and agent_0,
    # leaving the bay behind it, at step 4: 10 * 0.9**2 + 10 * 0.9**3.
    environment = build_multiagent_task('t_junction')
    q = planning.value_iteration(environment.joint_model())
    assert q[environment.start_index].max() == pytest.approx(8.1 + 7.29)


def test_joint_value_of_independent_one_step_goals():
    environment = make(CORRIDOR, [(1, 1), (1, 4)], [(1, 2), (1, 3)])
    q = planning.value_iteration(environment.joint_model())
    start = environment.start_index
    assert q[start].max() == pytest.approx(20.)  # Both arrive on the first step.
    assert q[start, environment.joint_action((RIGHT, UP))] == pytest.approx(10. + 9.)


def test_joint_model_agrees_with_stepping():
    environment = build_multiagent_task('passing_bay')
    model = environment.joint_model()
    rng = np.random.default_rng(0)
    timestep = environment.reset()
    for _ in range(300):
        s = int(timestep.observation['agent_0'])
        actions = rng.integers(4, size=2)
        a = environment.joint_action(actions)
        timestep = step(environment, *actions)
        if timestep.first():
            continue
        assert timestep.observation['agent_0'] == model.next_states[s, a, 0]
        assert timestep.reward['agent_0'] == pytest.approx(model.rewards[s, a, 0])
        if timestep.last():
            assert model.discounts[s, a, 0] == 0.


def test_slippery_joint_model_matches_sampled_frequencies():
    environment = build_multiagent_task('race', slip_probability=0.4, seed=1)
    model = environment.joint_model()
    start, a = environment.start_index, environment.joint_action((DOWN, DOWN))
    counts = {}
    for _ in range(4_000):
        environment.reset()
        timestep = step(environment, DOWN, DOWN)
        nxt = int(timestep.observation['agent_0'])
        counts[nxt] = counts.get(nxt, 0) + 1
    expected = {}
    for k in range(model.next_states.shape[-1]):
        nxt = int(model.next_states[start, a, k])
        expected[nxt] = expected.get(nxt, 0.) + model.probabilities[start, a, k]
    assert set(counts) == {s for s, p in expected.items() if p > 0}
    for nxt, p in expected.items():
        assert counts.get(nxt, 0) / 4_000 == pytest.approx(p, abs=0.03)


# --------------------------------------------------- independent learners

def make_learners(environment, seed, **kwargs):
    return {name: QLearning(environment.agent_spec(name), seed=seed * 10 + i, **kwargs)
            for i, name in enumerate(environment.agent_names)}


def test_loop_needs_one_actor_per_agent():
    environment = build_multiagent_task('passing_bay')
    with pytest.raises(ValueError, match='one actor per agent'):
        multiagent_loop.MultiAgentLoop(environment, {'agent_0': None})


def test_loop_is_deterministic_under_a_seed():
    def run():
        environment = build_multiagent_task('passing_bay', max_episode_length=50)
        actors = make_learners(environment, seed=1)
        results = multiagent_loop.MultiAgentLoop(environment, actors).run(num_steps=2_000)
        return [r['episode_length'] for r in results], actors['agent_0'].q_table
    (lengths_a, q_a), (lengths_b, q_b) = run(), run()
    assert lengths_a == lengths_b
    np.testing.assert_array_equal(q_a, q_b)


def test_independent_q_learners_solve_the_t_junction():
    environment = build_multiagent_task('t_junction', max_episode_length=50)
    actors = make_learners(environment, seed=0, step_size=0.2, epsilon=0.3,
                           final_epsilon=0., decay_steps=6_000, initial_value=20.)
    result = teams.train_independent(environment, actors, num_steps=8_000)
    assert result['optimal'] == pytest.approx(15.39)
    assert result['checks'][-1][1] == pytest.approx(result['optimal'])
    trace = multiagent_loop.greedy_episode(environment, actors)
    assert len(trace) == 5 and trace[-1] == {'agent_0': None, 'agent_1': None}


def test_untrained_learners_fall_short_of_the_joint_optimum():
    environment = build_multiagent_task('passing_bay')
    actors = make_learners(environment, seed=0)  # All values equal: action 0 (up).
    policy = teams.greedy_joint_policy(environment, actors)
    # Both press up against the wall forever: the team never scores.
    assert teams.team_return(environment, policy) == 0.
    assert teams.optimal_team_return(environment) == pytest.approx(
        10 * 0.9 ** 4 + 10 * 0.9 ** 5)


@pytest.mark.slow
def test_independent_q_learners_reach_the_passing_bay_optimum_on_most_seeds():
    solved = 0
    for seed in range(5):
        environment = build_multiagent_task('passing_bay', max_episode_length=100)
        actors = make_learners(environment, seed, step_size=0.2, epsilon=0.3,
                               final_epsilon=0., decay_steps=30_000, initial_value=20.)
        result = teams.train_independent(environment, actors, num_steps=40_000)
        solved += result['checks'][-1][1] == pytest.approx(result['optimal'])
    assert solved >= 4


# ---------------------------------------------------------------- PettingZoo

@pytest.mark.parametrize('task', ['passing_bay', 'race'])
@pytest.mark.parametrize('max_episode_length', [None, 20])
def test_pettingzoo_parallel_api_test_passes(task, max_episode_length):
    as_pettingzoo = pettingzoo_adapter()
    parallel_api_test = needs('pettingzoo.test', 'multiagent').parallel_api_test
    environment = as_pettingzoo(build_multiagent_task(task, max_episode_length=max_episode_length))
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # Its warnings are API violations too.
        parallel_api_test(environment, num_cycles=300)


def test_pettingzoo_adapter_reports_termination_and_truncation():
    as_pettingzoo = pettingzoo_adapter()
    environment = as_pettingzoo(MultiAgentGridWorld(CORRIDOR, [(1, 1), (1, 4)],
                                                    [(1, 2), (1, 3)], max_episode_length=3))
    observations, infos = environment.reset(seed=0)
    assert set(observations) == {'agent_0', 'agent_1'}
    _, rewards, terminations, truncations, _ = environment.step({'agent_0': 1, 'agent_1': 3})
    assert rewards == {'agent_0': 10., 'agent_1': 10.}
    assert terminations == {'agent_0': True, 'agent_1': True}
    assert not any(truncations.values()) and environment.agents == []
    environment.reset()
    for _ in range(3):
        _, _, terminations, truncations, _ = environment.step({'agent_0': 0, 'agent_1': 0})
    assert truncations == {'agent_0': True, 'agent_1': True}
    assert not any(terminations.values())
