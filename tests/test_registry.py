"""Finding agents: the entry-point group, import paths, and in-process names."""

import subprocess
import sys

import pytest

import gridlab
from gridlab import registry


@pytest.fixture
def clean(monkeypatch):
    monkeypatch.setattr(registry, '_REGISTERED_HERE', {})


def test_gridlabs_agents_arrive_through_the_entry_point_group():
    from importlib import metadata
    points = {p.name: p.value for p in metadata.entry_points(group=registry.GROUP)}
    assert points.get('gridlab') == 'agents.entries:AGENTS'
    names = set(registry.agents())
    assert {'random', 'q-learning', 'sarsa', 'nfq', 'dqn', 'reinforce',
            'actor-critic'} <= names
    from agents import DQN
    assert registry.resolve('dqn').load() is DQN


def test_an_import_path_names_any_actor_class():
    from agents import QLearning
    entry = registry.resolve('agents.tabular:QLearning')
    assert entry.load() is QLearning
    with pytest.raises(ValueError, match='not a gridlab.Actor subclass'):
        registry.resolve('os.path:join')
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        registry.resolve('no_such_module:Agent')
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        registry.resolve('nope')


def test_make_passes_seed_and_device_through_kwargs_and_names_unknown_ones():
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=gridlab.ObservationType.GRID))
    # DQN passes **kwargs on to NFQ, where `device` and `seed` live.
    assert {'device', 'seed', 'target_update_frequency'} <= set(
        registry.constructor_parameters(registry.resolve('dqn').load()))
    agent = registry.resolve('dqn').make(spec, seed=3, device='cpu', batch_size=8)
    assert agent.batch_size == 8
    with pytest.raises(ValueError, match="no argument 'batch_sise'"):
        registry.resolve('dqn').make(spec, seed=0, batch_sise=8)
    # RandomAgent takes no device: it is simply not passed.
    registry.resolve('random').make(spec, seed=0, device='cpu')


def test_register_adds_a_name_for_this_process(clean):
    from agents import RandomAgent

    class Mine(RandomAgent):
        pass
    registry.register('mine', Mine)
    assert registry.resolve('mine').load() is Mine
    registry.unregister('mine')
    with pytest.raises(ValueError, match='unknown agent'):
        registry.resolve('mine')
    with pytest.raises(TypeError, match='expected an AgentEntry'):
        registry.register('bad', 42)


def test_the_command_line_trains_an_agent_given_by_import_path(tmp_path):
    out = tmp_path / 'run'
    result = subprocess.run(
        [sys.executable, '-m', 'gridlab.cli', 'train', '--agent',
         'agents.random_agent:RandomAgent', '--task', 'simple', '--episodes', '2',
         '--out', str(out), '--no-progress'], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (out / 'summary.json').is_file() and (out / 'agent.pt').is_file()
