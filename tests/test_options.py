"""Options: hallway options, exact option models, SMDP planning and the two learners."""

import numpy as np
import pytest

import gridlab
from agents.options import IntraOptionQLearning, SMDPQLearning
from gridlab import experiments
from gridlab.evaluation import options as option_judging
from gridlab.planning import option_models as options_lib
from gridlab.loops.environment_loop import EnvironmentLoop

HALLWAYS = [(3, 6), (6, 2), (7, 9), (10, 6)]


@pytest.fixture(scope='module')
def four_rooms():
    environment = gridlab.build_gridworld_task('four_rooms', max_episode_length=None)
    return environment


def index(environment, cell):
    return int(np.ravel_multi_index(cell, environment.shape))


def test_four_rooms_has_four_hallways_and_four_rooms(four_rooms):
    hallways, rooms = options_lib.hallways_and_rooms(four_rooms.walls)
    assert hallways == HALLWAYS
    # Counted on the picture: 5x5, 6x5 (top right, down to row 6), 5x5, 4x5.
    assert sorted(room.sum() for room in rooms) == [20, 25, 25, 30]


def test_eight_hallway_options_lead_to_their_hallway_by_a_shortest_path(four_rooms):
    options = options_lib.hallway_options(four_rooms)
    assert len(options) == 8
    moves = four_rooms.transition_model().next_states[:, :, 0]
    for option in options:
        target = [h for h in HALLWAYS if option.name.endswith(str(h))][0]
        for start in np.flatnonzero(option.initiation):
            s, steps = start, 0
            while True:
                s, steps = moves[s, option.policy[s]], steps + 1
                if option.termination[s] == 1.:
                    break
            assert s == index(four_rooms, target), option.name
            y, x = divmod(int(start), four_rooms.shape[1])
            # Rooms are rectangles: the shortest path is the Manhattan distance.
            assert steps == abs(y - target[0]) + abs(x - target[1]), option.name


def test_option_checks_its_arrays():
    with pytest.raises(ValueError, match='one length'):
        options_lib.Option('bad', np.ones(3, bool), np.zeros(4, int), np.ones(3))
    with pytest.raises(ValueError, match=r'termination must lie in \[0, 1\]'):
        options_lib.Option('bad', np.ones(3, bool), np.zeros(3, int), np.full(3, 2.))


def test_primitive_and_hallway_models_by_hand(four_rooms):
    model = four_rooms.transition_model()
    options = (options_lib.primitive_options(four_rooms.number_of_states) +
               options_lib.hallway_options(four_rooms))
    rewards, transitions, available = options_lib.option_models(model, options)
    start = index(four_rooms, (1, 1))
    # Up from (1, 1) bumps the wall: -5, and the agent is still there a step later.
    assert rewards[start, 0] == pytest.approx(-5.)
    assert transitions[start, 0, start] == pytest.approx(0.9)
    assert transitions[start, 0].sum() == pytest.approx(0.9)
    # To hallway (3, 6): 2 down and 5 right, 7 steps of reward 0.
    to_east = [o.name for o in options].index('room 0 to hallway (3, 6)')
    assert available[start, to_east]
    assert rewards[start, to_east] == pytest.approx(0.)
    assert transitions[start, to_east, index(four_rooms, (3, 6))] == pytest.approx(0.9 ** 7)
    assert not available[index(four_rooms, (11, 11)), to_east]


def test_option_models_match_sampled_rollouts():
    environment = gridlab.build_gridworld_task('four_rooms', slip_probability=0.2, seed=0,
                                               max_episode_length=None,
                                               goal_state=(7, 9))
    model = environment.transition_model()
    options = options_lib.hallway_options(environment)
    option = [o for o in options if o.name == 'room 1 to hallway (7, 9)'][0]
    rewards, transitions, _ = options_lib.option_models(model, [option])
    rng = np.random.default_rng(1)
    start_cell = (2, 8)
    start = index(environment, start_cell)
    returns, ends = [], np.zeros(environment.number_of_states)
    runs = 3_000
    for _ in range(runs):
        environment.reset()
        environment.set_state(x=start_cell[1], y=start_cell[0])
        s, total, factor = start, 0., 1.
        while True:
            timestep = environment.step(int(option.policy[s]))
            total += factor * float(timestep.reward)
            factor *= float(timestep.discount)
            s = int(timestep.observation)
            if timestep.last() or rng.random() < option.termination[s]:
                break
        returns.append(total)
        ends[s] += factor
    # The goal is the target hallway here: slips bump walls (-5) on the way.
    assert np.mean(returns) == pytest.approx(rewards[start, 0], abs=0.15)
    np.testing.assert_allclose(ends / runs, transitions[start, 0], atol=0.02)
    assert rewards[start, 0] < 10 * 0.9 ** 5  # Slower and bumpier than the 6-step path.


@pytest.mark.parametrize('goal', [(11, 11), (7, 9)])
def test_smdp_value_iteration_with_options_reaches_v_star_in_fewer_sweeps(goal):
    environment = gridlab.build_gridworld_task('four_rooms', goal_state=goal)
    model = environment.transition_model()
    v_star = gridlab.value_iteration(model).max(axis=1)
    v_star[~environment.decision_cells().ravel()] = 0.
    primitives = options_lib.primitive_options(environment.number_of_states)
    both = primitives + options_lib.hallway_options(environment)
    values = {}
    sweeps = {}
    for name, options in (('primitives', primitives), ('options', both)):
        option_model = options_lib.option_models(model, options)
        v, _ = options_lib.smdp_value_iteration(option_model)
        values[name] = np.where(environment.decision_cells().ravel(), v, 0.)
        _, sweeps[name] = options_lib.smdp_value_iteration(option_model, reference=v_star)
        greedy = np.where(option_model.available, option_model.rewards +
                          option_model.transitions @ v, -np.inf).argmax(axis=1)
        greedy[~environment.decision_cells().ravel()] = -1
        policy_values = options_lib.option_policy_values(option_model, greedy)
        np.testing.assert_allclose(policy_values[environment.decision_cells().ravel()],
                                   v_star[environment.decision_cells().ravel()], atol=1e-8)
    np.testing.assert_allclose(values['options'], v_star, atol=1e-8)
    np.testing.assert_allclose(values['primitives'], v_star, atol=1e-8)
    # One primitive sweep carries the goal's reward one cell further, so
    # primitives need at least as many sweeps as the farthest cell is away.
    assert sweeps['primitives'] >= farthest_distance(environment.walls, goal)
    assert sweeps['options'] * 2 <= sweeps['primitives']


def farthest_distance(walls, goal):
    """Breadth-first search over the free cells: the most steps to `goal`."""
    distance = {goal: 0}
    frontier = [goal]
    while frontier:
        y, x = frontier.pop(0)
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if not walls[ny, nx] and (ny, nx) not in distance:
                distance[(ny, nx)] = distance[(y, x)] + 1
                frontier.append((ny, nx))
    return max(distance.values())


def test_option_policy_values_refuses_unavailable_options(four_rooms):
    option_model = options_lib.option_models(four_rooms.transition_model(),
                                              options_lib.hallway_options(four_rooms))
    with pytest.raises(ValueError, match='not available'):
        options_lib.option_policy_values(option_model, np.zeros(four_rooms.number_of_states))


# ---------------------------------------------------------------- learners

CORRIDOR = """
    ######
    #S..G#
    ######
"""


def corridor_option(environment):
    """'Right until the end': may start anywhere free, never stops by itself."""
    free = ~environment.walls.ravel()
    return options_lib.Option('right', free, np.full(free.size, 1),
                              np.where(free, 0., 1.))


@pytest.mark.parametrize('agent_class, expected', [
    # SMDP: one update when the option ends, at the state it started in:
    # 0.5 * (0 + 0.9 * 0 + 0.81 * 10) = 4.05.
    (SMDPQLearning, {(1, 1): 4.05, (1, 2): 0., (1, 3): 0.}),
    # Intra-option: one update per step; only the last step sees the reward.
    (IntraOptionQLearning, {(1, 1): 0., (1, 2): 0., (1, 3): 5.}),
])
def test_one_episode_updates_by_hand(agent_class, expected):
    environment, spec = gridlab.setup_environment(gridlab.GridWorld(CORRIDOR))
    agent = agent_class(spec, [corridor_option(environment)], initial_value=0., epsilon=0.,
                        seed=0)
    result = EnvironmentLoop(environment, agent, logger=gridlab.NoOpLogger(),
                             progress=False).run_episode()
    assert result['episode_length'] == 3
    for cell, value in expected.items():
        assert agent.q_table[index(environment, cell), 0] == pytest.approx(value)


def test_agents_check_their_options():
    environment, spec = gridlab.setup_environment(gridlab.build_gridworld_task('simple'))
    with pytest.raises(ValueError, match='covers 3 states'):
        SMDPQLearning(spec, [options_lib.Option('x', np.ones(3, bool), np.zeros(3, int),
                                                np.ones(3))])
    with pytest.raises(ValueError, match='at least one Option'):
        IntraOptionQLearning(spec, [])


def steps_to_optimal(environment, agent, option_model, max_steps, check_every=100):
    """Steps until the greedy option policy is optimal from the start."""
    v_star = gridlab.value_iteration(environment.transition_model()).max(axis=1)
    start = index(environment, environment.start_state)
    loop = EnvironmentLoop(environment, agent, logger=gridlab.NoOpLogger(), progress=False)
    steps = 0
    while steps < max_steps:
        steps += loop.run_episode()['episode_length']
        values = options_lib.option_policy_values(option_model, agent.greedy_option_policy())
        if values[start] >= v_star[start] - 1e-6:
            return steps
    return None


@pytest.mark.parametrize('agent_class', [SMDPQLearning, IntraOptionQLearning])
def test_option_learners_find_the_optimal_route_to_a_hallway_goal(agent_class):
    environment, spec = gridlab.setup_environment(
        gridlab.build_gridworld_task('four_rooms', goal_state=(7, 9), seed=0))
    options = (options_lib.primitive_options(environment.number_of_states) +
               options_lib.hallway_options(environment))
    option_model = options_lib.option_models(environment.transition_model(), options)
    agent = agent_class(spec, options, step_size=1., initial_value=0., seed=1)
    steps = steps_to_optimal(environment, agent, option_model, max_steps=5_000)
    assert steps is not None



def test_train_until_optimal_from_start_stops_once_the_greedy_option_policy_is_optimal():
    environment, spec = gridlab.setup_environment(
        gridlab.build_gridworld_task('four_rooms', goal_state=(7, 9), seed=0))
    options = (options_lib.primitive_options(environment.number_of_states) +
               options_lib.hallway_options(environment))
    option_model = options_lib.option_models(environment.transition_model(), options)
    v_star = gridlab.value_iteration(environment.transition_model()).max(axis=1)
    start = index(environment, environment.start_state)

    agent = SMDPQLearning(spec, options, step_size=1., initial_value=0., seed=1)
    result = option_judging.train_until_optimal_from_start(
        environment, agent, option_model, 5_000, check_every=100)
    assert result.solved and result.optimal_fraction == 1. and result.steps < 5_000
    values = options_lib.option_policy_values(option_model, agent.greedy_option_policy())
    assert values[start] == pytest.approx(v_star[start], rel=1e-4)

    untrained = SMDPQLearning(spec, options, step_size=1., initial_value=0., seed=1)
    short = option_judging.train_until_optimal_from_start(
        environment, untrained, option_model, 10)
    assert short == (False, 10, short.seconds, 0.)


# ------------------------------------------------------- from the command line

@pytest.mark.parametrize('agent', ['smdp-q-learning', 'intra-option-q-learning'])
def test_option_agents_train_from_the_registry_and_reach_the_goal(agent, tmp_path):
    result = gridlab.run_experiment(agent, 'four_rooms', tmp_path / 'run', seed=0,
                                    verbose=False, video=False)
    evaluation = result.summary['evaluation']
    # four_rooms pays 10 at the goal; walls cost 5: only a route to it scores 10.
    assert evaluation['mean_return'] == 10.
    assert evaluation['success_rate'] == 1.
    # The checkpoint holds the learned table: the restored agent walks there too.
    environment, restored, _ = experiments.load_run(tmp_path / 'run')
    timestep, total = environment.reset(), 0.
    with gridlab.evaluation_mode(restored):
        while not timestep.last():
            timestep = environment.step(restored.select_action(timestep.observation))
            total += timestep.reward
    assert total == 10.


def test_greedy_acting_follows_the_greedy_option_policy(four_rooms):
    options = (options_lib.primitive_options(four_rooms.walls.size)
               + options_lib.hallway_options(four_rooms))
    env, spec = gridlab.setup_environment(
        gridlab.build_gridworld_task('four_rooms', seed=0))
    agent = SMDPQLearning(spec, options, seed=0, initial_value=0.)
    agent._q = np.random.default_rng(0).random(agent._q.shape)  # no ties
    policy = agent.greedy_option_policy()
    timestep = env.reset()
    agent.observe_first(timestep)
    with gridlab.evaluation_mode(agent):
        for _ in range(30):  # No observe(): as in evaluation.
            s = int(timestep.observation)
            action = agent.select_action(timestep.observation)
            assert action == options[policy[s]].policy[s]
            timestep = env.step(action)
            if timestep.last():
                break


def test_option_agents_need_a_gridworld_and_a_matching_checkpoint(tmp_path, four_rooms):
    with pytest.raises(experiments.ExperimentError, match='GridWorld layout'):
        gridlab.run_experiment('smdp-q-learning', 'CartPole-v1', tmp_path / 'cart',
                               steps=10, verbose=False, video=False)
    spec = gridlab.setup_environment(four_rooms)[1]
    primitives = options_lib.primitive_options(four_rooms.walls.size)
    small = SMDPQLearning(spec, primitives, seed=0)
    small.save(tmp_path / 'small.pt')
    large = SMDPQLearning(spec, primitives + options_lib.hallway_options(four_rooms), seed=0)
    before = large.q_table
    with pytest.raises(ValueError, match=r'Q-table \(states, options\)'):
        large.restore(tmp_path / 'small.pt')
    np.testing.assert_array_equal(large.q_table, before)
