"""Hostile input to `gridlab train` and `run_experiment`: one clear line each.

Every message names the parameter, shows the value and says what was
expected; nothing is trained or written when the input is refused. Most of
these fail before an environment is built, so the tests are fast.
"""

import json

import numpy as np
import pytest
import torch

import gridlab
from agents import DQN, NeuralFittedQAgent, PolicyGradientAgent, QLearning, RandomAgent
from agents.common import networks
from agents.ppo import PPO
from gridlab import cli, registry
from gridlab.core import validation
from gridlab.core.errors import ExperimentError
from gridlab.experiments import hyperparameters as hp
from gridlab.experiments.config import RunConfig

OBS = gridlab.ObservationType


@pytest.fixture
def register(monkeypatch):
    """Registers agents for one test only."""
    monkeypatch.setattr(registry, '_REGISTERED_HERE', {})
    return registry.register


def train(capsys, tmp_path, *argv):
    """(exit code, stderr) of `gridlab train ... --out tmp_path/run`."""
    code = cli.main(['train', '--no-progress', '--out', str(tmp_path / 'run'), *argv])
    err = capsys.readouterr().err
    return code, err


def refused(capsys, tmp_path, *argv) -> str:
    """stderr of a `gridlab train` that must be refused in one line, writing nothing."""
    code, err = train(capsys, tmp_path, *argv)
    assert code == 2, err
    assert err.count('\n') == 1 and 'Traceback' not in err, err
    assert not (tmp_path / 'run').exists()
    return err


def spec_of(observation=OBS.STATE_INDEX):
    return gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=observation))[1]


# ------------------------------------------- 1. seed is a run setting, not --set

def test_seed_given_with_set_points_to_the_seed_flag(capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'q-learning', '--task', 'simple',
                  '--steps', '10', '--set', 'seed=5')
    assert '--seed' in err and 'AgentEntry' not in err
    err = refused(capsys, tmp_path, '--agent', 'dqn', '--task', 'simple',
                  '--steps', '10', '--set', 'device=cpu')
    assert '--device' in err
    with pytest.raises(ExperimentError, match='seed is not a hyperparameter'):
        RunConfig.create('q-learning', 'simple', hyperparameters={'seed': 1})


def test_the_hyperparameters_offered_on_a_typo_leave_out_seed_and_device(capsys,
                                                                         tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'dqn', '--task', 'simple',
                  '--steps', '10', '--set', 'step_sise=0.1')
    offered = err.split('it takes ')[1]
    assert 'learning_rate' in offered
    assert 'seed' not in offered.split(', ') and 'device' not in offered.split(', ')
    err = refused(capsys, tmp_path, '--agent', 'q-learning', '--task', 'simple',
                  '--steps', '10', '--set', 'step_sise=0.1')
    assert "did you mean 'step_size'?" in err


# --------------------------------------------------------- 2. unreadable config

def test_a_config_file_of_random_bytes_is_named_and_said_to_need_text(capsys, tmp_path):
    for name, kind in (('random.toml', 'TOML'), ('random.yaml', 'YAML')):
        path = tmp_path / name
        path.write_bytes(bytes(np.random.default_rng(0).integers(128, 256, 200,
                                                                 dtype=np.uint8)))
        err = refused(capsys, tmp_path, '--config', str(path))
        assert name in err and f'expected {kind} text' in err and 'codec' not in err
    nul = tmp_path / 'nul.toml'
    nul.write_bytes(b'agent = "random"\x00\x00')
    assert 'NUL' in refused(capsys, tmp_path, '--config', str(nul))
    folder = tmp_path / 'folder.toml'
    folder.mkdir()
    assert 'is a folder' in refused(capsys, tmp_path, '--config', str(folder))


# ------------------------------------- 3. one seed check, duplicate YAML keys

@pytest.mark.parametrize('seed', [-3, 2 ** 64, 1.5, '3', True])
def test_a_bad_seed_in_a_config_file_is_one_line_naming_seed(capsys, tmp_path, seed):
    path = tmp_path / 'run.yaml'
    path.write_text(f'agent: dqn\ntask: simple\nsteps: 10\nseed: {json.dumps(seed)}\n')
    err = refused(capsys, tmp_path, '--config', str(path))
    assert 'seed must be an integer in [0, 2**63 - 1]' in err


@pytest.mark.parametrize('agent', ['q-learning', 'dqn'])
def test_run_experiment_applies_the_same_seed_rule(tmp_path, agent):
    for seed in (-3, 2 ** 64, 2 ** 63):
        with pytest.raises(ExperimentError,
                           match=r'seed must be an integer in \[0, 2\*\*63 - 1\]'):
            gridlab.run_experiment(agent, 'simple', tmp_path / 'run', seed=seed,
                                   steps=10, verbose=False)
    assert not (tmp_path / 'run').exists()
    assert RunConfig.create(agent, 'simple', seed=np.int64(7)).seed == 7


def test_a_key_given_twice_in_yaml_is_refused_naming_key_and_file(capsys, tmp_path):
    path = tmp_path / 'twice.yaml'
    path.write_text('agent: q-learning\ntask: simple\nsteps: 10\nsteps: 20\n')
    err = refused(capsys, tmp_path, '--config', str(path))
    assert "'steps' is given twice (lines 3 and 4)" in err and 'twice.yaml' in err
    path.write_text('agent: q-learning\ntask: simple\nhyperparameters:\n'
                    '  step_size: 0.1\n  step_size: 0.2\n')
    assert "'step_size' is given twice" in refused(capsys, tmp_path, '--config', str(path))
    # YAML's merge key is not a duplicate.
    path.write_text('agent: q-learning\ntask: simple\nhyperparameters:\n'
                    '  <<: {step_size: 0.1}\n  epsilon: 0.2\n')
    assert hp.load_config(path)['hyperparameters'] == {'step_size': 0.1, 'epsilon': 0.2}


# ----------------------------------------- 4. agent import paths, constructors

def test_an_import_path_to_nothing_says_so(capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'agents.tabular:Missing', '--task',
                  'simple')
    assert "module 'agents.tabular' has no attribute 'Missing'" in err
    assert 'not a gridlab.Actor' not in err
    err = refused(capsys, tmp_path, '--agent', 'agents.tabular:QLearnin', '--task',
                  'simple')
    assert "did you mean 'QLearning'?" in err
    err = refused(capsys, tmp_path, '--agent', 'agents.tabular:A:B', '--task', 'simple')
    assert "expected 'package.module:Class'" in err and 'not a gridlab.Actor' not in err
    with pytest.raises(ValueError, match='is a function, not a gridlab.Actor subclass'):
        registry.resolve('os.path:join')


class Explodes(RandomAgent):
    def __init__(self, environment_spec, seed=None):
        raise RuntimeError('the GPU driver went away')


def test_an_agent_whose_constructor_raises_is_one_line_keeping_the_cause(
        register, capsys, tmp_path):
    register('explodes', Explodes)
    err = refused(capsys, tmp_path, '--agent', 'explodes', '--task', 'simple',
                  '--episodes', '1')
    assert ('constructing agent Explodes failed: RuntimeError: the GPU driver went '
            'away') in err
    with pytest.raises(registry.AgentConstructionError) as raised:
        registry.resolve('explodes').make(spec_of(), seed=0)
    assert isinstance(raised.value.__cause__, RuntimeError)
    with pytest.raises(ExperimentError) as raised:
        gridlab.run_experiment('explodes', 'simple', tmp_path / 'run', episodes=1,
                               verbose=False)
    causes = []
    error = raised.value
    while error is not None:
        causes.append(error)
        error = error.__cause__
    assert isinstance(causes[-1], RuntimeError)


# ------------------------------------------------------ 5. networks too big

def test_hidden_sizes_too_big_are_refused_before_anything_is_allocated(capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'dqn', '--task', 'simple', '--steps',
                  '10', '--set', 'hidden_sizes=100000,100000')
    assert 'hidden_sizes' in err and '10,072,200,000 parameters' in err
    assert 'cap is 50,000,000' in err and 'allocate' not in err
    for agent in (DQN, NeuralFittedQAgent):
        with pytest.raises(ValueError, match='hidden_sizes make a network'):
            agent(spec_of(OBS.AGENT_GOAL_POS), hidden_sizes=(10 ** 5, 10 ** 5))
    with pytest.raises(ValueError, match='hidden_sizes make a network'):
        PPO(spec_of(), hidden_sizes=(10 ** 5, 10 ** 5))
    with pytest.raises(ValueError, match='hidden_sizes make a network'):
        PolicyGradientAgent(spec_of(OBS.AGENT_GOAL_POS), hidden_sizes=(10 ** 5, 10 ** 5))
    assert networks.mlp_parameters((4, 64, 64, 4)) == 5 * 64 + 65 * 64 + 65 * 4


# --------------------------------------------------------- 6. network=foo

def test_a_network_cannot_be_given_as_text(capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'dqn', '--task', 'simple', '--steps',
                  '10', '--set', 'network=foo')
    assert "network='foo'" in err and 'torch.nn.Module' in err and 'Python' in err
    with pytest.raises(TypeError, match="network must be a torch.nn.Module.*'foo'"):
        DQN(spec_of(OBS.AGENT_GOAL_POS), network='foo')
    with pytest.raises(TypeError, match='network must be a torch.nn.Module'):
        PolicyGradientAgent(spec_of(OBS.AGENT_GOAL_POS), network=42)


# ----------------------------------------------------------- 7. one seed rule

def test_one_seed_rule_for_every_agent_and_the_command_line(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(['train', '--agent', 'dqn', '--task', 'simple', '--seed', str(2 ** 64)])
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'expected an integer in [0, 2**63 - 1]' in err
    assert 'Overflow' not in err
    for make in (lambda seed: QLearning(spec_of(), seed=seed),
                 lambda seed: DQN(spec_of(OBS.AGENT_GOAL_POS), seed=seed),
                 lambda seed: PPO(spec_of(), seed=seed),
                 lambda seed: PolicyGradientAgent(spec_of(OBS.AGENT_GOAL_POS), seed=seed),
                 lambda seed: RandomAgent(spec_of(), seed=seed)):
        for bad in (2 ** 64, 2 ** 63, -1, 1.5):
            with pytest.raises(ValueError, match=r'seed must be an integer in \[0, 2\*\*63'):
                make(bad)
        make(validation.MAX_SEED)  # The largest seed works everywhere.
        make(None)


# ------------------------------------------------------------------ 8. device

def test_a_device_is_refused_for_an_agent_without_networks_and_recorded_as_used(
        capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'q-learning', '--task', 'simple',
                  '--steps', '10', '--device', 'cuda')
    assert "no network to put on 'cuda'" in err
    assert RunConfig.create('q-learning', 'simple').to_record()['device'] is None
    assert RunConfig.create('q-learning', 'simple', device='auto').device is None
    assert RunConfig.create('dqn', 'simple').to_record()['device'] == 'cpu'
    if not torch.cuda.is_available():
        assert RunConfig.create('dqn', 'simple', device='auto').device == 'cpu'
        with pytest.raises(ExperimentError, match='no CUDA GPU here'):
            RunConfig.create('dqn', 'simple', device='cuda')
    with pytest.raises(ExperimentError, match="device must be 'cpu'.*got 'gpu'"):
        RunConfig.create('dqn', 'simple', device='gpu')


def test_a_tabular_run_records_no_device(capsys, tmp_path):
    code, err = train(capsys, tmp_path, '--agent', 'q-learning', '--task', 'simple',
                      '--steps', '10', '--eval-episodes', '1')
    assert code == 0, err
    summary = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    assert summary['config']['device'] is None


# ------------------------------------------------------- 9. batched budgets

@pytest.mark.parametrize('agent, num_envs, steps, round_steps', [
    ('ppo', 64, 300, '2,048'), ('ppo', 100_000, 300, '3,200,000'),
    ('dqn', 64, 30, '64'), ('nfq', 1000, 999, '1,000')])
def test_a_budget_below_one_round_of_batched_training_is_refused(
        capsys, tmp_path, agent, num_envs, steps, round_steps):
    err = refused(capsys, tmp_path, '--agent', agent, '--task', 'simple', '--steps',
                  str(steps), '--num-envs', str(num_envs))
    assert f'steps={steps:,}' in err and f'num_envs={num_envs:,}' in err
    assert f'= {round_steps} steps' in err
    if agent == 'ppo':
        assert 'rollout_length' in err


def test_a_single_copy_budget_below_one_update_is_refused(tmp_path):
    with pytest.raises(ExperimentError, match='steps=100 is less than one update of '
                                              'ppo.*rollout_length'):
        gridlab.run_experiment('ppo', 'simple', tmp_path / 'run', steps=100, num_envs=1,
                               hyperparameters={'rollout_length': 1000}, verbose=False)
    assert not (tmp_path / 'run').exists()


# ---------------------------------------------------- 10. config file keys

@pytest.mark.parametrize('key', ['agents', 'tasks', 'seeds'])
def test_a_sweep_setting_in_a_train_config_file_is_refused(capsys, tmp_path, key):
    path = tmp_path / 'run.toml'
    path.write_text(f'agent = "q-learning"\ntask = "simple"\nsteps = 10\n{key} = ["x"]\n')
    err = refused(capsys, tmp_path, '--config', str(path))
    assert f"'{key}' is a setting of `gridlab sweep`, not of `gridlab train`" in err


def test_config_keys_are_checked_per_command(tmp_path):
    path = tmp_path / 'sweep.yaml'
    path.write_text('agent: q-learning\nagents: [sarsa]\n')
    with pytest.raises(ValueError, match="'agent' is a setting of `gridlab train`"):
        hp.load_config(path, 'sweep')
    path.write_text('agents: [sarsa]\ntasks: [simple]\nseeds: 0-2\n')
    assert hp.load_config(path, 'sweep')['agents'] == ['sarsa']
    path.write_text('agent: q-learning\nstpes: 3\n')
    with pytest.raises(ValueError, match=r"unknown setting\(s\) 'stpes' \(did you "
                                         r"mean 'steps'\?\); expected agent, task"):
        hp.load_config(path)


def test_num_envs_and_video_every_may_come_from_a_config_file(tmp_path):
    path = tmp_path / 'run.toml'
    path.write_text('agent = "dqn"\ntask = "simple"\nnum_envs = 4\nvideo_every = 50\n')
    args = cli.build_parser().parse_args(['train', '--config', str(path)])
    settings = cli._run_settings(args)
    assert settings['num_envs'] == 4 and settings['video_every'] == 50
    args = cli.build_parser().parse_args(['train', '--config', str(path),
                                          '--num-envs', '2'])
    assert cli._run_settings(args)['num_envs'] == 2  # The flag wins.


# ------------------------------------------------------ more hostile inputs

def test_a_task_or_agent_typo_suggests_the_nearest(capsys, tmp_path):
    assert "did you mean 'simple'?" in refused(capsys, tmp_path, '--agent', 'random',
                                               '--task', 'simpel')
    assert "did you mean 'CartPole-v1'?" in refused(capsys, tmp_path, '--agent', 'random',
                                                    '--task', 'cartpole-v1')
    assert "did you mean 'q-learning'?" in refused(capsys, tmp_path, '--agent',
                                                   'q-lerning', '--task', 'simple')


@pytest.mark.parametrize('content, message', [
    ('agent: [q-learning]\ntask: simple\n', "agent must be a registered name"),
    ('agent: q-learning\ntask: 5\n', 'task must be a task name'),
    ('agent: q-learning\ntask: simple\ndiscount: .nan\n', 'discount must be a number in'),
    ('agent: q-learning\ntask: simple\ndiscount: 1.5\n', 'discount must be a number in'),
    ('agent: q-learning\ntask: simple\nsteps: 1e9\n', "steps must be a positive integer"),
    ('agent: q-learning\ntask: simple\ndevice: gpu\n', "device must be 'cpu'"),
])
def test_bad_values_in_a_config_file_are_one_line(capsys, tmp_path, content, message):
    path = tmp_path / 'run.yaml'
    path.write_text(content)
    assert message in refused(capsys, tmp_path, '--config', str(path))


def test_set_values_that_are_numbers_in_words_reach_the_agents_check(capsys, tmp_path):
    for value in ('nan', 'inf'):
        err = refused(capsys, tmp_path, '--agent', 'q-learning', '--task', 'simple',
                      '--steps', '10', '--set', f'step_size={value}')
        assert f'step_size must be a number in (0, 1], got {value}' in err


def test_a_batch_larger_than_replay_would_never_learn(capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'dqn', '--task', 'simple', '--steps',
                  '10', '--set', 'batch_size=1e9')
    assert 'batch_size=1,000,000,000 is more than replay_capacity=100,000' in err
    with pytest.raises(ValueError, match='min_replay_size=50 is more than '
                                         'replay_capacity=10'):
        NeuralFittedQAgent(spec_of(OBS.AGENT_GOAL_POS), replay_capacity=10,
                           batch_size=4, min_replay_size=50)


def test_batched_copies_that_cannot_fit_in_memory_are_refused_before_any_is_built(
        capsys, tmp_path, monkeypatch):
    from gridlab.experiments import config
    monkeypatch.setattr(config, 'available_memory', lambda: 10 ** 7)  # 10 MB.
    err = refused(capsys, tmp_path, '--agent', 'ppo', '--task', 'simple', '--steps',
                  '320000', '--num-envs', '10000')
    assert 'num_envs=10,000 copies of simple would need about 24.5 MB' in err
    assert '10.0 MB available' in err and 'give a smaller num_envs' in err


def test_conv_channels_too_big_are_refused_by_name(capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'dqn', '--task', 'simple', '--steps',
                  '10', '--set', 'conv_channels=100000,100000')
    assert 'conv_channels make a network with channels (3, 100000, 100000)' in err
    assert 'allocate' not in err


def test_an_empty_observation_or_a_name_set_twice_is_refused(capsys, tmp_path):
    err = refused(capsys, tmp_path, '--agent', 'q-learning', '--task', 'simple',
                  '--steps', '10', '--observation', '')
    assert "unknown observation type ''" in err
    err = refused(capsys, tmp_path, '--agent', 'q-learning', '--task', 'simple',
                  '--steps', '10', '--set', 'step_size=0.1', '--set', 'step_size=0.2')
    assert '--set step_size is given twice (step_size=0.1 and step_size=0.2)' in err


def test_numpy_numbers_are_numbers_and_hyperparameters_must_be_a_mapping():
    config = RunConfig.create('q-learning', 'simple', steps=np.int64(10),
                              discount=np.float32(0.5), eval_episodes=np.int64(2))
    assert (config.steps, config.eval_episodes) == (10, 2)
    assert type(config.steps) is int and config.environment_discount == 0.5
    with pytest.raises(ExperimentError, match="hyperparameters must be a mapping.*"
                                              "got 'step_size=0.1'"):
        RunConfig.create('q-learning', 'simple', hyperparameters='step_size=0.1')


def test_a_byte_order_mark_and_an_empty_hyperparameters_table_are_fine(tmp_path):
    path = tmp_path / 'bom.toml'
    path.write_bytes(b'\xef\xbb\xbfagent = "q-learning"\n')
    assert hp.load_config(path) == {'agent': 'q-learning'}
    path = tmp_path / 'empty.yaml'
    path.write_text('agent: q-learning\nhyperparameters:\n')
    assert hp.load_config(path)['hyperparameters'] == {}


def test_an_agent_module_that_fails_to_import_is_one_line(capsys, tmp_path, monkeypatch):
    (tmp_path / 'broken_agents.py').write_text("raise RuntimeError('half-written file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    err = refused(capsys, tmp_path, '--agent', 'broken_agents:Agent', '--task', 'simple')
    assert "importing 'broken_agents' failed: RuntimeError: half-written file" in err
