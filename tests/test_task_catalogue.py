"""The task catalogue: which kind of task an id names, missing extras, and
state-index observations seen one-hot by the agents that need arrays."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from dm_env import specs

import gridlab
from gridlab import registry
from gridlab.core.errors import ExperimentError
from gridlab.envs import catalogue, suites
from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
from gridlab.envs.observation_wrappers import BatchedOneHotObservation, OneHotObservation
from gridlab.experiments.config import RunConfig


@pytest.mark.parametrize('task, kind', [
    ('simple', 'gridworld'), ('CartPole-v1', 'gymnasium'), ('FrozenLake-v1', 'gymnasium'),
    ('bsuite/catch/0', 'bsuite'), ('MiniGrid-DoorKey-5x5-v0', 'minigrid'),
    ('MinAtar/Breakout-v1', 'minatar')])
def test_each_id_names_its_kind(task, kind):
    assert catalogue.check_task(task) == kind
    assert catalogue.is_gymnasium_task(task) == (kind == 'gymnasium')


@pytest.mark.parametrize('task', ['bsuite/catch/0', 'MiniGrid-DoorKey-5x5-v0',
                                  'MinAtar/Breakout-v1'])
def test_a_missing_extra_is_one_line_naming_the_install(monkeypatch, task):
    suite = suites.suite_of(task)
    absent = dataclasses.replace(suite, requires='gridlab_test_no_such_module')
    monkeypatch.setitem(suites.SUITES, suite.name, absent)
    with pytest.raises(suites.MissingExtra) as raised:
        catalogue.check_task(task)
    message = str(raised.value)
    assert '\n' not in message
    assert f"pip install 'gridlab[{suite.extra}]'" in message
    listed = catalogue.task_descriptions()
    assert all(f"gridlab[{suite.extra}]" in listed[name] for name in suite.listed)
    with pytest.raises(ExperimentError, match=r"gridlab\[" + suite.extra):
        RunConfig.create('dqn', task)


def test_an_unknown_task_suggests_and_names_the_suites():
    with pytest.raises(ExperimentError) as raised:
        catalogue.check_task('cartpole-v1')
    assert "did you mean 'CartPole-v1'" in str(raised.value)
    with pytest.raises(ExperimentError) as raised:
        catalogue.check_task('no-such-task')
    for suite in suites.SUITES.values():
        assert suite.example in str(raised.value)


def test_observation_choices_belong_to_their_kind_of_task():
    with pytest.raises(ExperimentError, match='not to the Gymnasium environment'):
        RunConfig.create('dqn', 'CartPole-v1', observation='grid')
    with pytest.raises(ExperimentError, match='one observation'):
        RunConfig.create('dqn', 'bsuite/catch/0', observation='grid')
    with pytest.raises(ExperimentError, match='symbolic, full, rgb'):
        RunConfig.create('ppo', 'MiniGrid-Empty-5x5-v0', observation='grid')
    assert RunConfig.create('ppo', 'MiniGrid-Empty-5x5-v0').observation == 'symbolic'
    assert RunConfig.create('ppo', 'MiniGrid-Empty-5x5-v0',
                            observation='Full').observation == 'full'


@pytest.mark.parametrize('agent, one_hot', [
    ('dqn', True), ('nfq', True), ('reinforce', True), ('actor-critic', True),
    ('q-learning', False), ('sarsa', False), ('ppo', False)])
def test_state_indices_are_one_hot_for_the_agents_that_need_arrays(agent, one_hot):
    config = RunConfig.create(agent, 'FrozenLake-v1', steps=100)
    assert config.one_hot_states is one_hot
    environment = config.environment()
    spec = environment.observation_spec()
    if one_hot:
        assert isinstance(environment, OneHotObservation)
        assert spec.shape == (16,) and spec.dtype == np.float32
        observation = environment.reset().observation
        assert observation.sum() == 1. and observation[0] == 1.  # The lake starts at 0.
    else:
        assert isinstance(spec, specs.DiscreteArray) and spec.num_values == 16


def test_one_hot_leaves_array_observations_alone():
    config = RunConfig.create('dqn', 'CartPole-v1', steps=100)
    assert config.one_hot_states
    environment = config.environment()
    assert isinstance(environment, GymnasiumWrapper)
    assert environment.observation_spec().shape == (4,)
    batched = catalogue.batched_environment('CartPole-v1', None, 2, 0, 0.99,
                                            one_hot_states=True)
    assert isinstance(batched, GymnasiumVectorWrapper)


def test_batched_one_hot_rows_are_the_indices_of_the_plain_copies():
    plain = GymnasiumVectorWrapper('Taxi-v4', 3, seed=7)
    one_hot = BatchedOneHotObservation(GymnasiumVectorWrapper('Taxi-v4', 3, seed=7))
    spec = one_hot.single_environment_spec()
    assert spec.observations.shape == (500,) and spec.actions.num_values == 6
    rng = np.random.default_rng(0)
    for timestep in range(30):
        step = (lambda env, a: env.reset() if timestep == 0 else env.step(a))
        actions = rng.integers(0, 6, size=3)
        a, b = step(plain, actions), step(one_hot, actions)
        assert b.observation.shape == (3, 500)
        np.testing.assert_array_equal(b.observation.argmax(axis=1), a.observation)
        np.testing.assert_array_equal(b.observation.sum(axis=1), np.ones(3))
        np.testing.assert_array_equal(a.reward, b.reward)
        np.testing.assert_array_equal(a.step_type, b.step_type)
    with pytest.raises(ValueError, match='DiscreteArray observations'):
        BatchedOneHotObservation(GymnasiumVectorWrapper('CartPole-v1', 2))


def test_dqn_trains_on_frozenlake_and_the_summary_says_one_hot(tmp_path):
    result = gridlab.run_experiment('dqn', 'FrozenLake-v1', steps=300, out=tmp_path / 'a',
                                    progress=False, verbose=False, video=False)
    assert result.summary['observation_encoding'] == 'one_hot'
    again = gridlab.run_experiment('dqn', 'FrozenLake-v1', steps=400, num_envs=4,
                                   out=tmp_path / 'b', progress=False, verbose=False,
                                   video=False)
    assert again.summary['observation_encoding'] == 'one_hot'
    assert again.summary['training']['steps'] == 400
    tabular = gridlab.run_experiment('q-learning', 'FrozenLake-v1', steps=300,
                                     out=tmp_path / 'c', progress=False, verbose=False,
                                     video=False)
    assert 'observation_encoding' not in tabular.summary
    # `gridlab evaluate` rebuilds the run's environment the same way.
    completed = subprocess.run(
        [sys.executable, '-m', 'gridlab.cli', 'evaluate', str(tmp_path / 'a'),
         '--episodes', '3'], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    summary = json.loads((tmp_path / 'a' / 'summary.json').read_text())
    assert summary['config']['observation'] == 'gymnasium'


def test_a_bsuite_task_trains_for_bsuites_own_budget_by_default():
    from bsuite import sweep
    # Independent of gridlab: bsuite's sweep says how long each id is run.
    assert RunConfig.create('dqn', 'bsuite/deep_sea/3').episodes == sweep.EPISODES[
        'deep_sea/3']
    assert RunConfig.create('random', 'bsuite/cartpole/0').episodes == sweep.EPISODES[
        'cartpole/0']
    assert RunConfig.create('dqn', 'bsuite/deep_sea/3', steps=100).episodes is None
    # GridWorlds without a tuned entry: the agent's own budget.
    assert 'maze' not in registry.agents()['reinforce'].tuned
    assert RunConfig.create('reinforce', 'maze').steps == 30_000
