"""Bad input gets a clear error naming the parameter and the value.

Property-based: for every numeric parameter of the public constructors and
functions below, hypothesis draws values of the wrong kind or out of range
(floats for counts, bools, strings, NaN, infinities, numbers just outside
the range) and each must raise a TypeError or ValueError whose message names
the parameter. Targeted tests follow for values that used to be changed
silently, non-finite training, Gymnasium's episode ends, the optimal-action
judge on a long corridor, and memory on big grids.
"""

import math
import tracemalloc

import dm_env
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gridlab
from agents import (DQN, SARSA, ActorCriticAgent, NeuralFittedQAgent,
                    PolicyGradientAgent, QLearning)
from agents.ppo import PPO
from agents.bandits import UCB, EpsilonGreedy, GradientBandit, Softmax
from agents.common.exploration import EpsilonGreedyExplorer
from gridlab.evaluation import judging
from gridlab.planning import offline
from gridlab import planning
from gridlab.core import validation
from gridlab.envs.wrappers import SinglePrecisionWrapper
from gridlab.core.replay import ReplayBuffer

OBS = gridlab.ObservationType

# ---------------------------------------------------------------- strategies

_NOT_NUMBERS = st.sampled_from(['1', None, [1], True, False])
_NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def bad(kind: str):
    """Values that a parameter of this kind must refuse."""
    if kind == 'positive_int':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE, st.integers(max_value=0),
                         st.floats(0.5, 1e6),
                         st.integers(1, 10 ** 6).map(float))  # Whole floats (4.0) too.
    if kind == 'nonnegative_int':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE, st.integers(max_value=-1),
                         st.floats(0., 1e6))
    if kind == 'probability':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE,
                         st.floats(1., 1e9, exclude_min=True),
                         st.floats(-1e9, 0., exclude_max=True))
    if kind == 'unit_open_low':  # (0, 1]
        return st.one_of(_NOT_NUMBERS, _NON_FINITE, st.floats(-1e9, 0.),
                         st.floats(1., 1e9, exclude_min=True))
    if kind == 'unit_open_high':  # [0, 1)
        return st.one_of(_NOT_NUMBERS, _NON_FINITE, st.floats(1., 1e9),
                         st.floats(-1e9, 0., exclude_max=True))
    if kind == 'positive':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE, st.floats(-1e9, 0.))
    if kind == 'nonnegative':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE,
                         st.floats(-1e9, 0., exclude_max=True))
    if kind == 'nonpositive':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE,
                         st.floats(0., 1e9, exclude_min=True))
    if kind == 'negative':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE, st.floats(0., 1e9))
    if kind == 'finite':
        return st.one_of(_NOT_NUMBERS, _NON_FINITE)
    if kind == 'bool':  # A switch: truthy look-alikes must not pass as True.
        return st.sampled_from(['no', 'True', 0, 1, None, [True]])
    raise AssertionError(kind)


# ---------------------------------------------------------- what is checked

def _grid_spec(observation_type=OBS.STATE_INDEX):
    env = gridlab.build_gridworld_task('simple', observation_type=observation_type)
    return gridlab.setup_environment(env)[1]


TABULAR_SPEC = _grid_spec()
VECTOR_SPEC = _grid_spec(OBS.AGENT_GOAL_POS)
BANDIT_SPEC = gridlab.make_environment_spec(gridlab.MultiArmedBandit([0., 1.]))
CHAIN = [[[0., 1.], [1., 0.]], [[0., 1.], [0., 1.]]]
REWARDS = [[1., 0.], [0., 0.]]
MODEL = gridlab.build_gridworld_task('simple').transition_model()

CASES = {
    # Environments.
    'GridWorld': (lambda **kw: gridlab.GridWorld(
        '#####\n#S.G#\n#####', **kw), {
            'discount': 'probability', 'slip_probability': 'probability',
            'pixels_per_cell': 'positive_int', 'max_episode_length': 'positive_int',
            'penalty_for_walls': 'nonpositive', 'reward_goal': 'finite',
            'penalty_for_cliff': 'negative'}),
    'build_gridworld_task': (lambda **kw: gridlab.build_gridworld_task('simple', **kw), {
        'discount': 'probability', 'max_episode_length': 'positive_int'}),
    'TabularMDP': (lambda **kw: gridlab.TabularMDP(CHAIN, REWARDS, terminal_states=[1], **kw), {
        'discount': 'probability', 'max_episode_length': 'positive_int',
        'impossible_action_reward': 'finite', 'start_state': 'nonnegative_int'}),
    'MultiArmedBandit': (lambda **kw: gridlab.MultiArmedBandit([0., 1.], **kw), {
        'scale': 'nonnegative'}),
    # Agents.
    'QLearning': (lambda **kw: QLearning(TABULAR_SPEC, **kw), {
        'step_size': 'unit_open_low', 'discount': 'probability',
        'initial_value': 'finite', 'epsilon': 'probability',
        'final_epsilon': 'probability', 'decay_steps': 'nonnegative_int'}),
    'SARSA': (lambda **kw: SARSA(TABULAR_SPEC, **kw), {
        'step_size': 'unit_open_low', 'epsilon': 'probability'}),
    'NeuralFittedQAgent': (lambda **kw: NeuralFittedQAgent(VECTOR_SPEC, **kw), {
        'batch_size': 'positive_int', 'learning_rate': 'positive',
        'discount': 'probability', 'replay_capacity': 'positive_int',
        'min_replay_size': 'positive_int', 'max_grad_norm': 'positive',
        'epsilon': 'probability', 'decay_steps': 'nonnegative_int',
        'update_every': 'positive_int', 'learning_steps': 'positive_int',
        'scale_observations': 'bool'}),
    'DQN': (lambda **kw: DQN(VECTOR_SPEC, **kw), {
        'target_update_frequency': 'positive_int', 'target_update_rate': 'unit_open_low',
        'max_grad_norm': 'positive', 'batch_size': 'positive_int'}),
    'PolicyGradientAgent': (lambda **kw: PolicyGradientAgent(VECTOR_SPEC, **kw), {
        'learning_rate': 'positive', 'discount': 'probability',
        'dropout': 'unit_open_high', 'entropy_cost': 'nonnegative'}),
    'ActorCriticAgent': (lambda **kw: ActorCriticAgent(VECTOR_SPEC, **kw), {
        'n_steps': 'positive_int', 'value_cost': 'nonnegative',
        'learning_rate': 'positive', 'entropy_cost': 'nonnegative',
        'max_grad_norm': 'positive', 'learning_rate_decay_steps': 'positive_int',
        'gae_lambda': 'probability', 'normalize_advantages': 'bool',
        'normalize_rewards': 'bool', 'orthogonal_init': 'bool',
        'scale_observations': 'bool'}),
    'PPO': (lambda **kw: PPO(TABULAR_SPEC, **kw), {
        'learning_rate': 'positive', 'discount': 'probability',
        'gae_lambda': 'probability', 'rollout_length': 'positive_int',
        'num_minibatches': 'positive_int', 'update_epochs': 'positive_int',
        'clip': 'unit_open_low', 'value_cost': 'nonnegative',
        'entropy_cost': 'nonnegative', 'max_grad_norm': 'positive',
        'count_bonus': 'nonnegative', 'learning_rate_decay_steps': 'positive_int',
        'count_bonus_decay_steps': 'positive_int', 'scale_observations': 'bool',
        'normalize_rewards': 'bool'}),
    'EpsilonGreedy': (lambda **kw: EpsilonGreedy(BANDIT_SPEC, **kw), {
        'epsilon': 'probability', 'decay_steps': 'nonnegative_int',
        'step_size': 'unit_open_low', 'initial_value': 'finite'}),
    'UCB': (lambda **kw: UCB(BANDIT_SPEC, **kw), {'confidence': 'nonnegative'}),
    'Softmax': (lambda **kw: Softmax(BANDIT_SPEC, **kw), {'temperature': 'positive'}),
    'GradientBandit': (lambda **kw: GradientBandit(BANDIT_SPEC, **kw), {
        'step_size': 'unit_open_low'}),
    'EpsilonGreedyExplorer': (lambda **kw: EpsilonGreedyExplorer(**{'num_actions': 4, **kw}), {
        'num_actions': 'positive_int', 'epsilon': 'probability',
        'decay_steps': 'nonnegative_int'}),
    # Toolkit functions.
    'ReplayBuffer': (ReplayBuffer, {'capacity': 'positive_int'}),
    'value_iteration': (lambda **kw: planning.value_iteration(MODEL, **kw), {
        'tolerance': 'positive', 'max_iterations': 'positive_int'}),
    'policy_iteration': (lambda **kw: planning.policy_iteration(MODEL, **kw), {
        'max_iterations': 'positive_int'}),
    'importance_sampling': (lambda **kw: offline.importance_sampling(
        [1., 0.], [.5, .5], [1., 0.], **kw), {
            'confidence': 'unit_open_low', 'resamples': 'positive_int'}),
    'evaluate': (lambda **kw: gridlab.evaluate(
        gridlab.build_gridworld_task('simple'), None,
        **{'evaluation_episodes': 1, **kw}), {
            'evaluation_episodes': 'positive_int',
            'max_steps_per_episode': 'positive_int'}),
}
PARAMETERS = [(case, name, kind) for case, (_, names) in CASES.items()
              for name, kind in names.items()]


def test_the_table_covers_many_parameters():
    assert len(PARAMETERS) >= 60


@pytest.mark.parametrize('case,name,kind', PARAMETERS,
                         ids=[f'{c}-{n}' for c, n, _ in PARAMETERS])
@settings(max_examples=15, deadline=None, database=None)  # No .hypothesis/ folder.
@given(data=st.data())
def test_every_parameter_refuses_bad_values_by_name(case, name, kind, data):
    value = data.draw(bad(kind), label=name)
    if kind == 'unit_open_low' and name == 'confidence':
        value = data.draw(st.one_of(_NOT_NUMBERS, _NON_FINITE, st.floats(-1e9, 0.),
                                    st.floats(1., 1e9)), label='confidence')
    if value is None and name in ('max_episode_length', 'min_replay_size',
                                  'max_grad_norm', 'n_steps', 'final_epsilon',
                                  'target_update_rate', 'step_size', 'capacity',
                                  'impossible_action_reward', 'max_steps_per_episode',
                                  'learning_rate_decay_steps',
                                  'count_bonus_decay_steps'):
        return  # None means "not given" for these.
    factory = CASES[case][0]
    with pytest.raises((TypeError, ValueError)) as error:
        factory(**{name: value})
    message = str(error.value)
    assert name in message, message
    if isinstance(value, float) and not math.isnan(value):
        assert repr(value) in message or f'{value:g}' in message, message


@pytest.mark.parametrize('value', [1, 3, np.int64(5), np.int32(2)])
def test_counts_accept_ints_and_numpy_ints(value):
    assert validation.check_positive_int('n', value) == int(value)
    assert type(validation.check_positive_int('n', value)) is int


@pytest.mark.parametrize('value', [4.0, True, np.float64(4.), '4'])
def test_counts_refuse_floats_bools_and_strings(value):
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer, got"):
        validation.check_positive_int('batch_size', value)


def test_numpy_floats_are_accepted_as_numbers():
    assert validation.check_probability('p', np.float32(0.25)) == 0.25


@pytest.mark.parametrize('name, value, message', [
    ('entropy_cost', -1., 'entropy_cost must be a finite number >= 0, got -1.0'),
    ('value_cost', -5., 'value_cost must be a finite number >= 0, got -5.0'),
    ('discount', True, 'discount must be a number in [0, 1], got True'),
    ('rollout_length', True, 'rollout_length must be a positive integer, got True'),
    ('count_bonus', math.nan, 'count_bonus must be a finite number >= 0, got nan')])
def test_ppo_refuses_what_the_actor_critic_refuses_alike(name, value, message):
    with pytest.raises((TypeError, ValueError)) as error:
        PPO(TABULAR_SPEC, **{name: value})
    assert str(error.value) == message
    if name in ('entropy_cost', 'value_cost'):
        with pytest.raises(ValueError) as same:
            ActorCriticAgent(VECTOR_SPEC, **{name: value})
        assert str(same.value) == message


@pytest.mark.parametrize('old, new', [('exploration_bonus', 'count_bonus'),
                                      ('anneal_steps', 'learning_rate_decay_steps'),
                                      ('bonus_anneal_steps', 'count_bonus_decay_steps'),
                                      ('q_network', 'network')])
def test_renamed_parameters_are_refused_with_their_new_name(old, new):
    from agents.common.renamed import RENAMED
    assert RENAMED[old] == new
    builders = {'exploration_bonus': [lambda **kw: QLearning(TABULAR_SPEC, **kw),
                                      lambda **kw: DQN(VECTOR_SPEC, **kw)],
                'anneal_steps': [lambda **kw: PPO(TABULAR_SPEC, **kw)],
                'bonus_anneal_steps': [lambda **kw: PPO(TABULAR_SPEC, **kw)],
                'q_network': [lambda **kw: NeuralFittedQAgent(VECTOR_SPEC, **kw)]}
    for build in builders[old]:
        with pytest.raises(TypeError, match=f'{old} was renamed {new}'):
            build(**{old: 1})
    with pytest.raises(TypeError, match="unexpected keyword argument.*'colour'"):
        PPO(TABULAR_SPEC, colour=1)


def test_a_count_given_as_a_float_names_itself():
    with pytest.raises(TypeError, match=r'batch_size must be a positive integer, got 4\.0'):
        DQN(VECTOR_SPEC, batch_size=4.0)


def test_max_grad_norm_of_zero_is_refused():
    # Clipping to 0 silently stopped DQN learning (its loss climbed).
    with pytest.raises(ValueError, match=r'max_grad_norm must be a finite number > 0, got 0'):
        DQN(VECTOR_SPEC, max_grad_norm=0)


def test_layer_sizes_must_be_positive():
    # hidden_sizes=() is a linear map (a table on one-hot cells) in every agent.
    with pytest.raises(ValueError, match=r'hidden_sizes\[0\] must be a positive integer'):
        PolicyGradientAgent(VECTOR_SPEC, hidden_sizes=(0,))
    with pytest.raises(ValueError, match=r'hidden_sizes\[1\] must be a positive integer'):
        ActorCriticAgent(VECTOR_SPEC, hidden_sizes=(8, 0))
    with pytest.raises(ValueError, match=r'hidden_sizes\[0\] must be a positive integer'):
        DQN(VECTOR_SPEC, hidden_sizes=(0,))


def test_cliff_penalty_must_be_negative_and_not_the_wall_marker():
    with pytest.raises(ValueError, match='penalty_for_cliff must be a finite number < 0, got 5'):
        gridlab.build_gridworld_task('cliff', penalty_for_cliff=5)
    with pytest.raises(ValueError, match='marks a wall'):
        gridlab.build_gridworld_task('cliff', penalty_for_cliff=-1)


def test_bandit_means_and_transitions_must_be_finite():
    with pytest.raises(ValueError, match='means must be an array of finite numbers, got nan'):
        gridlab.MultiArmedBandit([0., math.nan])
    with pytest.raises(ValueError, match=r'transitions\[0\]\[0\]'):
        gridlab.TabularMDP([[[math.inf, 0.]], [[0., 1.]]], [[0.], [0.]])


# --------------------------------------------- values that were silently changed

def test_replay_refuses_a_float_action_in_an_integer_slot():
    env = gridlab.build_gridworld_task('simple')
    buffer = ReplayBuffer(10)
    buffer.add_first(env.reset())
    buffer.add(1, env.step(1))
    with pytest.raises(ValueError, match=r'action 1\.7.* int64 slots'):
        buffer.add(1.7, env.step(1))
    with pytest.raises(ValueError, match=r'observation .* int32 slots'):
        buffer.add(1, env.step(1)._replace(observation=np.float64(3.5)))
    with pytest.raises(ValueError, match=r'does not fit .* int32'):
        buffer.add(1, env.step(1)._replace(observation=np.int64(2**40)))
    assert len(buffer) == 1  # Nothing half-written.


class _BigIndices(dm_env.Environment):
    """Emits int64 observations; the second does not fit int32."""

    def __init__(self):
        self._t = 0

    def reset(self):
        self._t = 0
        return dm_env.restart(np.int64(7))

    def step(self, action):
        self._t += 1
        return dm_env.transition(0., np.int64(2**31 + 5))

    def observation_spec(self):
        return dm_env.specs.Array((), np.int64, name='index')

    def action_spec(self):
        return dm_env.specs.DiscreteArray(2)


def test_single_precision_refuses_an_int64_that_does_not_fit_int32():
    env = SinglePrecisionWrapper(_BigIndices())
    assert env.reset().observation == 7  # What fits passes through.
    with pytest.raises(ValueError, match=r'index .*2147483653.* does not fit int32'):
        env.step(0)


@pytest.mark.parametrize('action', [torch.tensor([1]), np.array([1]),
                                    torch.tensor([[2]])])
def test_a_one_element_array_is_not_an_action(action):
    env = gridlab.build_gridworld_task('simple')
    env.reset()
    with pytest.raises(ValueError, match='as a scalar, got an array of shape'):
        env.step(action)


def test_zero_dimensional_tensors_are_still_actions():
    env = gridlab.build_gridworld_task('simple')
    env.reset()
    assert env.step(torch.tensor(1)).mid()
    assert env.step(np.int64(1)).mid()


# ------------------------------------------------------------ non-finite training

def test_a_nan_initial_value_is_refused():
    with pytest.raises(ValueError, match='initial_value must be a finite number, got nan'):
        QLearning(TABULAR_SPEC, initial_value=math.nan)


def test_non_finite_tabular_values_raise_a_training_error():
    env = gridlab.build_gridworld_task('simple')
    agent = QLearning(gridlab.setup_environment(env)[1], seed=0)
    agent.observe_first(env.reset())
    agent.observe(1, env.step(1)._replace(reward=np.float32(math.inf)))
    with pytest.raises(FloatingPointError, match=r'training produced non-finite '
                       r'Q-values in QLearning.update \(state 22, action 1\)'):
        agent.update()
    assert np.isfinite(agent.q_table).all()  # The table was left as it was.


def test_nan_network_values_say_where_instead_of_an_empty_argmax():
    agent = DQN(VECTOR_SPEC, seed=0, epsilon=0.)
    with torch.no_grad():
        for parameter in agent.network.parameters():
            parameter.fill_(math.nan)
    observation = np.zeros(4, np.float32)
    with pytest.raises(FloatingPointError,
                       match=r'non-finite Q-values in DQN.q_values'):
        agent.select_action(observation)


def test_a_nan_loss_is_reported_by_the_update():
    env, spec = gridlab.setup_environment(
        gridlab.build_gridworld_task('simple', observation_type=OBS.AGENT_GOAL_POS))
    agent = DQN(spec, seed=0, batch_size=2, epsilon=1.)
    timestep = env.reset()
    agent.observe_first(timestep)
    for _ in range(3):
        timestep = env.step(0)
        agent.observe(0, timestep._replace(reward=np.float32(math.nan)))
    with pytest.raises(FloatingPointError,
                       match=r'non-finite loss in DQN.update \(learner step 1\)'):
        agent.update()


def test_random_argmax_of_nan_names_the_problem():
    from agents.common.exploration import random_argmax
    with pytest.raises(FloatingPointError, match='greedy action selection'):
        random_argmax(np.array([math.nan, math.nan]), np.random.default_rng(0))


# ------------------------------------------------------------- as_gymnasium

def test_as_gymnasium_step_before_reset_is_a_clear_error():
    env = gridlab.as_gymnasium(gridlab.build_gridworld_task('simple'))
    with pytest.raises(RuntimeError, match=r'call reset\(\) first'):
        env.step(0)


def _corridor(**kwargs):
    return gridlab.GridWorld(['######', '#S..G#', '######'], **kwargs)


def test_as_gymnasium_truncation_is_not_termination_even_at_discount_zero():
    # With discount 0 a time limit's LAST carries discount 0 too.
    env = gridlab.as_gymnasium(_corridor(discount=0., max_episode_length=2))
    env.reset()
    assert env.step(1)[2:4] == (False, False)  # A MID step with discount 0.
    _, _, terminated, truncated, _ = env.step(1)
    assert (terminated, truncated) == (False, True)
    with pytest.raises(RuntimeError, match='again after terminated or truncated'):
        env.step(1)


def test_as_gymnasium_reaching_the_goal_is_termination():
    env = gridlab.as_gymnasium(_corridor(discount=0., max_episode_length=3))
    env.reset()
    env.step(1)
    env.step(1)
    _, reward, terminated, truncated, _ = env.step(1)
    assert (reward, terminated, truncated) == (10., True, False)


# -------------------------------------------------------------- the judge

def test_the_judge_is_right_on_a_long_corridor():
    # Goal 50 cells from the left end of a 1x250 corridor: walking right
    # everywhere is optimal on the 50 cells left of the goal only.
    env = gridlab.GridWorld(np.zeros((1, 250)), start_state=(0, 0), goal_state=(0, 50))
    right = np.full((1, 250), gridlab.Action.RIGHT)
    assert judging.actions_optimal_fraction(env, right) == pytest.approx(50 / 249)
    assert judging.optimal_fraction(env, np.eye(4)[right]) == pytest.approx(50 / 249)
    left = np.full((1, 250), gridlab.Action.LEFT)
    assert judging.actions_optimal_fraction(env, left) == pytest.approx(199 / 249)


def test_value_iteration_is_exact_far_from_the_goal():
    env = gridlab.GridWorld(np.zeros((1, 250)), start_state=(0, 0), goal_state=(0, 249))
    q = gridlab.value_iteration(env.transition_model())
    # From cell 0 the goal is 249 steps away: 10 * 0.9^248.
    assert q[0, gridlab.Action.RIGHT] == pytest.approx(10 * 0.9 ** 248, rel=1e-9)


def test_the_judge_refuses_invalid_actions():
    env = gridlab.build_gridworld_task('simple')
    actions = np.zeros(env.shape, dtype=np.int64)
    actions[2, 2] = 7
    with pytest.raises(ValueError, match=r'actions\[2, 2\] = 7 is not an action'):
        judging.actions_optimal_fraction(env, actions)
    with pytest.raises(ValueError, match='integer action indices'):
        judging.actions_optimal_fraction(env, actions.astype(float))
    # -1 means "no action" (behaviour cloning where it saw nothing): it is
    # accepted, and a decision cell without an action is not optimal.
    q_star = gridlab.optimal_q_values(env)
    best = np.where(env.decision_cells(), np.nanargmax(
        np.nan_to_num(q_star, nan=-np.inf), axis=-1), -1)
    assert judging.actions_optimal_fraction(env, best) == 1.
    best[2, 2] = -1
    cells = int(env.decision_cells().sum())
    assert judging.actions_optimal_fraction(env, best) == pytest.approx((cells - 1) / cells)


# ----------------------------------------------------------------- memory

def _probe_peak(size: int) -> float:
    env = gridlab.GridWorld(np.zeros((size, size)), start_state=(0, 0),
                            goal_state=(size - 1, size - 1), observation_type=OBS.GRID)
    tracemalloc.start()
    try:
        for y in range(size):
            for x in range(size):
                env.observation_at((y, x))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_probing_every_cell_takes_memory_linear_in_the_grid():
    small, large = _probe_peak(30), _probe_peak(60)
    # 4x the cells: linear is 4x; the old cache of every observation was 16x
    # (9.8 MB then 156 MB).
    assert large / small < 6, (small, large)
    assert large < 64 * 2**20


def test_render_keeps_a_big_grid_within_a_few_thousand_pixels():
    env = gridlab.GridWorld(np.zeros((300, 300)), start_state=(0, 0), goal_state=(1, 1))
    frame = env.render()
    assert max(frame.shape[:2]) <= gridlab.envs.gridworld.MAX_RENDER_PIXELS
    assert frame.shape[:2] == (300 * 6, 300 * 6)  # 2048 // 300 = 6 pixels a cell.
    small = gridlab.build_gridworld_task('simple')
    assert small.render().shape == (9 * 32, 10 * 32, 3)  # Small grids unchanged.


def test_evaluate_stops_an_endless_episode_and_bounds_its_frames():
    class Stuck(gridlab.Actor):
        def select_action(self, observation):
            return int(gridlab.Action.UP)  # Into the wall, forever.

        def observe_first(self, timestep):
            pass

        def observe(self, action, next_timestep):
            pass

        def update(self, wait=False):
            pass

    env = gridlab.build_gridworld_task('simple', max_episode_length=None)
    log = gridlab.InMemoryLogger()
    frame_bytes = env.render().nbytes
    with pytest.warns(UserWarning, match='left out'):
        frames = gridlab.evaluate(env, Stuck(), 1, logger=log, max_steps_per_episode=50,
                                  max_frame_bytes=10 * frame_bytes)
    assert len(frames) == 10
    assert log.data[-1]['episode_length'] == 50
    frames = gridlab.evaluate(env, Stuck(), 1, logger=log, render=False)
    assert log.data[-1]['episode_length'] == gridlab.loops.environment_loop.EVALUATE_STEP_CAP
