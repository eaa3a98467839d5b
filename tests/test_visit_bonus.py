"""The count bonus of the policy agents (`VisitCountBonus`): what it pays,
that it survives a checkpoint, and that PPO, the actor-critic and REINFORCE
learn from it."""

import warnings

import dm_env
import numpy as np
import pytest
from dm_env import specs

import gridlab
from agents.actor_critic import ActorCriticAgent
from agents.common.exploration import VisitCountBonus
from agents.policy_gradient import PolicyGradientAgent
from agents.populations.ppo import PopulationPPO
from agents.ppo import PPO
from gridlab.envs.batched import BatchedGridWorld

FIRST, MID, LAST = (int(t) for t in (dm_env.StepType.FIRST, dm_env.StepType.MID,
                                     dm_env.StepType.LAST))
CELLS = specs.DiscreteArray(90, name='cell')


def test_rarely_visited_cells_pay_more():
    bonus = VisitCountBonus(CELLS, 2.)
    # Cell 22 reached four times (three in one step), cell 23 once: 2 / sqrt(n),
    # and nothing for a restart.
    first = bonus(np.array([22, 22, 22]), np.array([MID, LAST, MID]), 0)
    second = bonus(np.array([22, 23, 22]), np.array([MID, MID, FIRST]), 0)
    np.testing.assert_allclose(first, [2 / np.sqrt(3)] * 3, rtol=1e-6)
    np.testing.assert_allclose(second, [1., 2., 0.], rtol=1e-6)
    assert first.dtype == np.float32


def test_the_bonus_fades_to_nothing_over_its_decay_steps():
    bonus = VisitCountBonus(CELLS, 2., decay_steps=1000)
    # A first visit pays 2 / sqrt(1) at the start, half of it halfway, then 0.
    np.testing.assert_allclose(bonus(np.array([22]), np.array([MID]), 0), [2.])
    np.testing.assert_allclose(bonus(np.array([23]), np.array([MID]), 500), [1.])
    np.testing.assert_allclose(bonus(np.array([24]), np.array([MID]), 1000), [0.])


def test_views_are_counted_by_their_bytes_and_the_counts_survive_a_checkpoint():
    views = specs.Array((2, 2), np.uint8)
    bonus = VisitCountBonus(views, 1.)
    a, b = np.zeros((2, 2), np.uint8), np.eye(2, dtype=np.uint8)
    bonus(np.stack([a, a, b]), np.array([MID, MID, MID]), 0)
    again = VisitCountBonus(views, 1.)
    again.load_state_dict(bonus.state_dict())
    # a seen twice before, b once: now 3 and 2 visits.
    np.testing.assert_allclose(again(np.stack([a, b]), np.array([MID, MID]), 0),
                               [1 / np.sqrt(3), 1 / np.sqrt(2)], rtol=1e-6)
    cells = VisitCountBonus(CELLS, 1.)
    cells(np.array([5, 5]), np.array([MID, MID]), 0)
    restored = VisitCountBonus(CELLS, 1.)
    restored.load_state_dict(cells.state_dict())
    np.testing.assert_allclose(restored(np.array([5]), np.array([MID]), 0), [1 / np.sqrt(3)])
    with pytest.raises(ValueError, match='visit counts for 90 states; this agent has 4'):
        VisitCountBonus(specs.DiscreteArray(4), 1.).load_state_dict(cells.state_dict())


def test_float_observations_are_refused_and_no_bonus_is_falsy():
    floats = specs.Array((4,), np.float32)
    with pytest.raises(ValueError, match='count_bonus needs discrete observations'):
        VisitCountBonus(floats, 1.)
    assert not VisitCountBonus(floats, 0.)
    with pytest.raises(ValueError, match='count_bonus_decay_steps'):
        VisitCountBonus(CELLS, 1., decay_steps=0)
    with pytest.raises(ValueError, match='count_bonus'):
        VisitCountBonus(CELLS, -1.)


AGENTS = {
    'ppo': lambda spec, **kw: PPO(spec, rollout_length=8, seed=3, **kw),
    'actor-critic': lambda spec, **kw: ActorCriticAgent(spec, n_steps=8, seed=3, **kw),
    'reinforce': lambda spec, **kw: PolicyGradientAgent(spec, baseline=True, seed=3, **kw),
}


def _cells(task='simple'):
    return gridlab.build_gridworld_task(
        task, observation_type=gridlab.ObservationType.STATE_INDEX, seed=0)


@pytest.mark.parametrize('name', sorted(AGENTS))
def test_one_environment_learns_from_the_bonus(name):
    # On one environment (the run loop) as on many, the agent learns from the
    # task's reward plus the bonus: the same seed with and without the bonus
    # diverges, and the first move, to a new cell, is learned as reward + c.
    runs = {}
    for bonus in (0., 5.):
        environment = _cells()
        agent = AGENTS[name](gridlab.make_environment_spec(environment), count_bonus=bonus)
        timestep = environment.reset()
        agent.observe_first(timestep)
        action = agent.select_action(timestep.observation)
        step = environment.step(action)
        agent.observe(action, step)
        learned = (agent._stream.rewards[0] if name == 'ppo' else agent._trajectory[0][2])
        assert learned == pytest.approx(step.reward + bonus)
        gridlab.run_loop(environment, agent, num_steps=200, progress=False,
                         logger=gridlab.loops.loggers.NoOpLogger())
        runs[bonus] = agent.action_probabilities(timestep.observation)
    assert not np.allclose(runs[0.], runs[5.])


@pytest.mark.parametrize('name', sorted(AGENTS))
def test_a_restored_agent_goes_on_as_the_original_with_the_bonus(name, tmp_path):
    # The visit counts are in the checkpoint: a restored agent pays the same
    # bonuses as the one that kept going, so their training stays identical.
    def train(agent):  # On 4 copies; REINFORCE, which learns from one, on one.
        if name == 'reinforce':
            gridlab.run_loop(_cells('obstacle'), agent, num_steps=400, progress=False,
                             logger=None)
        else:
            agent.train(BatchedGridWorld.from_task(
                'obstacle', 4, seed=1,
                observation_type=gridlab.ObservationType.STATE_INDEX), 400)
    spec = gridlab.make_environment_spec(_cells('obstacle'))
    original = AGENTS[name](spec, count_bonus=2., count_bonus_decay_steps=5_000)
    train(original)
    original.save(tmp_path / 'agent.pt')
    restored = AGENTS[name](spec, count_bonus=2., count_bonus_decay_steps=5_000)
    restored.restore(tmp_path / 'agent.pt')
    for agent in (original, restored):
        train(agent)
    observations = np.arange(spec.observations.num_values)
    np.testing.assert_array_equal(original._visit_bonus.state_dict()['visits'],
                                  restored._visit_bonus.state_dict()['visits'])
    for cell in observations[:20]:
        np.testing.assert_array_equal(original.action_probabilities(cell),
                                      restored.action_probabilities(cell))


@pytest.mark.parametrize('name', sorted(AGENTS))
def test_a_checkpoint_without_counts_says_the_bonus_starts_from_zero(name, tmp_path):
    # Saved without a bonus (or by a gridlab that did not keep the counts):
    # the weights load, and a warning says every state pays as new again.
    spec = gridlab.make_environment_spec(_cells('obstacle'))
    AGENTS[name](spec).save(tmp_path / 'agent.pt')
    restored = AGENTS[name](spec, count_bonus=2.)
    with pytest.warns(UserWarning, match='no visit counts.*from zero'):
        restored.restore(tmp_path / 'agent.pt')
    assert restored._visit_bonus.state_dict()['visits'] == [0.] * 90
    # Without a bonus there is nothing to count, and nothing to say.
    quiet = AGENTS[name](spec)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        quiet.restore(tmp_path / 'agent.pt')


@pytest.mark.parametrize('name', sorted(AGENTS))
def test_what_is_not_a_state_index_is_refused_before_it_is_counted(name):
    environment = _cells()
    agent = AGENTS[name](gridlab.make_environment_spec(environment), count_bonus=1.)
    agent.observe_first(environment.reset())
    for bad in (-1, 90, 3.7, True):
        with pytest.raises(ValueError, match=rf'observation {bad!r} is not a state index: '
                                             r'expected an integer in \[0, 90\)'):
            agent.observe(0, dm_env.transition(0., np.asarray(bad)))
        with pytest.raises(ValueError, match='is not a state index'):
            agent.action_probabilities(np.asarray(bad))
    assert not agent._visit_bonus.state_dict()['visits'][-1]  # -1 was not cell 89.


@pytest.mark.parametrize('name', ['ppo', 'actor-critic', 'ppo-population'])
def test_a_batch_step_of_the_wrong_size_is_refused_before_it_is_counted(name):
    batch = BatchedGridWorld.from_task('simple', 2, seed=0,
                                       observation_type=gridlab.ObservationType.STATE_INDEX)
    spec = batch.single_environment_spec()
    if name == 'ppo-population':  # Two members, one copy each.
        agent = PopulationPPO(spec, seeds=[0, 1], count_bonus=1., rollout_length=8)
        counts = lambda: sum(sum(m._visit_bonus.state_dict()['visits'])  # noqa: E731
                             for m in agent.members)
    else:
        agent = AGENTS[name](spec, count_bonus=1.)
        counts = lambda: sum(agent._visit_bonus.state_dict()['visits'])  # noqa: E731
    agent.observe_first_batch(batch.reset())
    three = dm_env.TimeStep(np.ones(3, np.uint8), np.zeros(3, np.float32),
                            np.ones(3, np.float32), np.full(3, 2, np.int32))
    with pytest.raises(ValueError, match=r'observations of shape \(3,\); this rollout holds '
                                         r'2 copies'):
        agent.observe_batch(np.zeros(3, np.int64), three)
    assert counts() == 0


@pytest.mark.parametrize('agent', ['reinforce', 'actor-critic'])
def test_the_bonus_counts_the_index_of_a_gymnasium_task(agent, tmp_path):
    # One-hot vectors are floats the bonus cannot count: with a bonus these
    # agents keep CliffWalking's index (and feed it one-hot themselves).
    run = gridlab.run_experiment(agent, 'CliffWalking-v1', tmp_path / 'run', steps=300,
                                 hyperparameters={'count_bonus': '1'}, verbose=False,
                                 video=False, pictures=False)
    assert run.summary['status'] == 'completed'
    _, actor, _ = gridlab.experiments.load_run(tmp_path / 'run')
    assert sum(actor._visit_bonus.state_dict()['visits']) > 0
    plain = gridlab.experiments.RunConfig.create(agent, 'CliffWalking-v1')
    assert plain.one_hot_states  # Without a bonus, the one-hot vector as before.
