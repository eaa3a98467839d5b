"""The `gridlab` command: a run leaves everything behind; bad input is one line."""

import csv
import json
import pathlib
import re
import statistics
import subprocess
import sys

import pytest
import torch

import gridlab
from gridlab import cli
from gridlab import registry


@pytest.fixture
def register(monkeypatch):
    """Registers agents for one test only."""
    monkeypatch.setattr(registry, '_REGISTERED_HERE', {})
    return registry.register


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_leaves_a_complete_run(tmp_path, capsys):
    out_dir = tmp_path / 'run'
    code, out, err = run(capsys, 'train', '--agent', 'random', '--task', 'obstacle',
                         '--episodes', '4', '--seed', '3', '--out', str(out_dir),
                         '--eval-episodes', '2')
    assert code == 0, err
    with open(out_dir / 'episodes.csv') as f:
        rows = list(csv.DictReader(f))
    assert [int(r['episode']) for r in rows] == [0, 1, 2, 3]
    assert {'episode_length', 'episode_return', 'steps_per_second'} <= set(rows[0])
    summary = json.loads((out_dir / 'summary.json').read_text())
    assert summary['config']['seed'] == 3 and summary['config']['task'] == 'obstacle'
    assert summary['training']['episodes'] == 4
    assert summary['training']['steps'] == sum(int(r['episode_length']) for r in rows)
    assert summary['evaluation']['episodes'] == 2
    assert (out_dir / 'learning_curve.png').stat().st_size > 1000
    video = gridlab.read_video(out_dir / 'evaluation.mp4')
    assert video.ndim == 4 and video.shape[0] >= 2
    assert (out_dir / 'agent.pt').is_file()
    assert not [p for p in out_dir.iterdir() if p.name.startswith('.')]


def test_same_seed_same_run(tmp_path, capsys):
    def returns(name):
        run(capsys, 'train', '--agent', 'random', '--task', 'simple', '--episodes',
            '5', '--seed', '1', '--out', str(tmp_path / name))
        with open(tmp_path / name / 'episodes.csv') as f:
            return [r['episode_return'] for r in csv.DictReader(f)]
    assert returns('a') == returns('b')


def test_evaluate_reloads_a_run(tmp_path, capsys):
    out_dir = tmp_path / 'run'
    run(capsys, 'train', '--agent', 'random', '--task', 'simple', '--episodes', '2',
        '--out', str(out_dir))
    code, out, err = run(capsys, 'evaluate', str(out_dir), '--episodes', '3',
                         '--video', str(tmp_path / 'again.gif'))
    assert code == 0, err
    assert '3 greedy episodes' in out
    assert gridlab.read_video(tmp_path / 'again.gif').shape[0] > 1


def test_tasks_and_show(tmp_path, capsys):
    code, out, _ = run(capsys, 'tasks')
    assert code == 0 and all(name in out for name in gridlab.TASKS)
    code, _, _ = run(capsys, 'show', 'maze', '--out', str(tmp_path / 'maze.png'))
    assert code == 0 and (tmp_path / 'maze.png').stat().st_size > 1000


@pytest.mark.parametrize('argv, message', [
    (['train', '--agent', 'nope', '--task', 'simple'], "unknown agent 'nope'"),
    (['train', '--agent', 'random', '--task', 'nope'], "unknown task 'nope'"),
    (['train', '--agent', 'random', '--task', 'simple', '--observation', 'xyz'],
     "unknown observation type 'xyz'"),
    (['evaluate', 'no/such/run'], 'not a gridlab run directory'),
    (['show', 'nope', '--out', 'x.png'], "unknown task 'nope'"),
])
def test_bad_arguments_give_one_line_and_nonzero_exit(tmp_path, capsys,
                                                      monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count('\n') == 1 and message in err and 'Traceback' not in err


def test_argparse_errors_are_one_line_too(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['train', '--agent', 'random', '--steps', 'many'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--steps' in err
    # A missing --task (it may come from --config instead) is one line too.
    assert cli.main(['train', '--agent', 'random']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--task' in err


def test_agent_that_cannot_use_an_observation_is_refused(register, capsys, tmp_path):
    register('picky', registry.AgentEntry(
        'agents.random_agent:RandomAgent', gridlab.ObservationType.STATE_INDEX,
        episodes=1, accepts=(gridlab.ObservationType.STATE_INDEX,)))
    code, _, err = run(capsys, 'train', '--agent', 'picky', '--task', 'simple',
                       '--observation', 'rgb', '--out', str(tmp_path / 'r'))
    assert code == 2 and 'cannot learn from rgb observations' in err


def test_interrupted_run_keeps_its_log_and_a_checkpoint(register, capsys, tmp_path):
    from agents import RandomAgent

    class Interrupted(RandomAgent):
        steps = 0

        def update(self, wait=False):
            self.steps += 1
            if self.steps == 450:
                raise KeyboardInterrupt

    register('flaky', registry.AgentEntry(Interrupted, episodes=100))
    out_dir = tmp_path / 'run'
    code, _, err = run(capsys, 'train', '--agent', 'flaky', '--task', 'simple',
                       '--out', str(out_dir))
    assert code == 130 and 'interrupted' in err
    with open(out_dir / 'episodes.csv') as f:
        assert len(list(csv.DictReader(f))) >= 1
    assert (out_dir / 'agent.pt').is_file()
    assert json.loads((out_dir / 'summary.json').read_text())['interrupted'] is True


def test_console_script_is_installed():
    script = pathlib.Path(sys.executable).with_name('gridlab')
    assert script.is_file(), 'the gridlab entry point is not installed'
    result = subprocess.run([str(script), 'tasks'], capture_output=True, text=True,
                            check=True)
    assert 'four_rooms' in result.stdout


@pytest.mark.parametrize('agent', ['q-learning', 'sarsa', 'nfq', 'dqn'])
def test_value_agents_leave_heatmaps_policy_and_optimality(agent, tmp_path, capsys):
    out_dir = tmp_path / agent
    code, _, err = run(capsys, 'train', '--agent', agent, '--task', 'simple',
                       '--steps', '600', '--out', str(out_dir), '--eval-episodes', '1')
    assert code == 0, err
    for name in ('q_values.png', 'policy.png', 'learning_curve.png', 'evaluation.mp4'):
        assert (out_dir / name).stat().st_size > 1000
    summary = json.loads((out_dir / 'summary.json').read_text())
    assert summary['training']['steps'] == 600
    with open(out_dir / 'episodes.csv') as f:
        assert 'loss_avg' in next(csv.reader(f))
    # The reported optimality is that of the saved agent, judged by planning.
    entry = registry.agents()[agent]
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(
        'simple', observation_type=entry.observation))
    restored = entry.make(spec, 0, 'cpu')
    restored.restore(out_dir / 'agent.pt')
    expected = gridlab.optimal_fraction(env, gridlab.q_table(restored, env))
    assert summary['evaluation']['optimal_fraction'] == pytest.approx(expected)


def test_an_existing_run_is_not_overwritten_silently(tmp_path, capsys):
    out_dir = tmp_path / 'run'
    argv = ['train', '--agent', 'random', '--task', 'simple', '--episodes', '2',
            '--out', str(out_dir)]
    assert run(capsys, *argv)[0] == 0
    before = (out_dir / 'episodes.csv').read_text()
    code, _, err = run(capsys, *argv)
    assert code == 2 and 'already holds a run' in err
    assert (out_dir / 'episodes.csv').read_text() == before
    (out_dir / 'q_values.png').write_text('stale')  # As from an older agent.
    assert run(capsys, *argv, '--overwrite')[0] == 0
    assert not (out_dir / 'q_values.png').exists()
    (tmp_path / 'file').write_text('')
    code, _, err = run(capsys, 'train', '--agent', 'random', '--task', 'simple',
                       '--out', str(tmp_path / 'file'))
    assert code == 2 and 'is a file' in err


def test_a_missing_device_is_a_usage_error_and_leaves_no_folder(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU')
    code, _, err = run(capsys, 'train', '--agent', 'dqn', '--task', 'simple',
                       '--device', 'cuda', '--out', str(tmp_path / 'run'))
    assert code == 2 and 'CUDA' in err and err.count('\n') == 1
    assert not (tmp_path / 'run').exists()


def test_evaluate_rejects_a_damaged_run(tmp_path, capsys):
    (tmp_path / 'summary.json').write_text('{"config": {"agent": "nope"}}')
    code, _, err = run(capsys, 'evaluate', str(tmp_path))
    assert code == 2 and 'not a gridlab run directory' in err


def test_a_negative_seed_is_named(capsys):
    with pytest.raises(SystemExit):
        cli.main(['train', '--agent', 'random', '--task', 'simple', '--seed', '-3'])
    err = capsys.readouterr().err
    assert '--seed' in err and "'-3'" in err


@pytest.mark.parametrize('agent, task', [('reinforce', 'CartPole-v1'),
                                         ('actor-critic', 'CartPole-v1'),
                                         ('actor-critic', 'simple'),
                                         ('q-learning', 'FrozenLake-v1')])
def test_policy_agents_and_gymnasium_tasks(agent, task, tmp_path, capsys):
    out_dir = tmp_path / 'run'
    # One copy (a tuned entry may train more, whose rounds would round 400 up).
    code, _, err = run(capsys, 'train', '--agent', agent, '--task', task, '--steps',
                       '400', '--num-envs', '1', '--out', str(out_dir),
                       '--eval-episodes', '1')
    assert code == 0, err
    summary = json.loads((out_dir / 'summary.json').read_text())
    assert summary['training']['steps'] == 400
    assert gridlab.read_video(out_dir / 'evaluation.mp4').shape[0] >= 2
    if task in gridlab.TASKS:  # A GridWorld: the greedy policy is judged too.
        assert (out_dir / 'policy.png').stat().st_size > 1000
        # The reported share is that of the saved agent's greedy actions.
        env, agent, _ = gridlab.experiments.load_run(out_dir)
        actions = gridlab.greedy_actions(agent, env)
        assert summary['evaluation']['optimal_fraction'] == pytest.approx(
            gridlab.actions_optimal_fraction(env, actions))
    else:
        assert 'optimal_fraction' not in summary['evaluation']
        assert not (out_dir / 'policy.png').exists()
    code, out, err = run(capsys, 'evaluate', str(out_dir), '--episodes', '2')
    assert code == 0 and '2 greedy episodes' in out, err


def test_mismatched_agent_and_gymnasium_task_is_a_usage_error(tmp_path, capsys):
    code, _, err = run(capsys, 'train', '--agent', 'q-learning', '--task',
                       'CartPole-v1', '--out', str(tmp_path / 'a'))
    assert code == 2 and 'DiscreteArray observation' in err and err.count('\n') == 1
    code, _, err = run(capsys, 'train', '--agent', 'dqn', '--task', 'CartPole-v1',
                       '--observation', 'grid', '--out', str(tmp_path / 'b'))
    assert code == 2 and 'observation applies to GridWorld' in err


def test_policy_agent_optimality_is_that_of_its_greedy_actions(tmp_path, capsys):
    out_dir = tmp_path / 'run'
    code, _, err = run(capsys, 'train', '--agent', 'reinforce', '--task', 'simple',
                       '--steps', '3000', '--out', str(out_dir))
    assert code == 0, err
    summary = json.loads((out_dir / 'summary.json').read_text())
    env, agent, _ = gridlab.experiments.load_run(out_dir)  # Its tuned observation and settings.
    expected = gridlab.actions_optimal_fraction(env, gridlab.greedy_actions(agent, env))
    assert summary['evaluation']['optimal_fraction'] == pytest.approx(expected)
    assert expected > 0.5


@pytest.mark.parametrize('argv, message', [
    (['train', '--agent', 'dqn', '--task', 'MountainCarContinuous-v0'],
     'needs discrete actions'),
    (['train', '--agent', 'random', '--task', 'simple', '--out', 'afile/run'],
     'cannot create the run folder'),
    (['show', 'simple', '--out', 'x.txt'], 'expected a .png'),
    (['train', '--agent', 'q-learning', '--task', 'CartPole-v1', '--observation', 'grid'],
     'observation applies to GridWorld'),
])
def test_more_bad_arguments(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'afile').write_text('')
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count('\n') == 1, err


def test_evaluate_checks_the_video_path_before_evaluating(tmp_path, capsys):
    out_dir = tmp_path / 'run'
    run(capsys, 'train', '--agent', 'random', '--task', 'simple', '--episodes', '1',
        '--out', str(out_dir))
    code, _, err = run(capsys, 'evaluate', str(out_dir), '--video',
                       str(tmp_path / 'missing' / 'v.mp4'))
    assert code == 2 and 'existing folder' in err


def test_version_is_the_installed_packages(capsys):
    from importlib import metadata
    with pytest.raises(SystemExit) as exit_:
        cli.main(['--version'])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f'gridlab {metadata.version("gridlab")}'


def _subcommands(parser):
    import argparse
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_argument_of_every_command_says_what_it_is_and_its_default():
    parser = cli.build_parser()
    for name, command in {'gridlab': parser, **_subcommands(parser)}.items():
        for action in command._actions:
            if action.dest in ('help', 'command'):
                continue
            where = f'gridlab {name} {action.option_strings or action.dest}'
            assert action.help and len(action.help) > 10, where
            # A default other than None/False is stated in the help.
            if action.default not in (None, False, True) and action.dest != 'version':
                shown = (f'{action.default:g}' if isinstance(action.default, float)
                         else str(action.default))
                assert f'default {shown}' in action.help, (where, action.default)


def test_train_help_lists_every_tuned_pair_with_its_budget(capsys):
    try:
        import tomllib
    except ImportError:  # Python 3.10.
        import tomli as tomllib
    tuned = tomllib.loads((pathlib.Path(__file__).parents[1] / 'agents' /
                           'hyperparams.toml').read_text())
    with pytest.raises(SystemExit):
        cli.main(['train', '--help'])
    text = ' '.join(capsys.readouterr().out.split())
    for agent, tasks in tuned.items():
        for task, settings in tasks.items():
            budget = (f'{settings["steps"]:,} steps' if 'steps' in settings
                      else f'{settings["episodes"]:,} episodes')
            assert f'{agent} on {task} {budget}' in text, (agent, task)
            # And what it reaches: the median of the seeds the entry claims.
            line = text.split(f'{agent} on {task} {budget}')[1].split(')')[0]
            result = settings['result']
            assert f'{result["metric"]} {statistics.median(result["values"]):g}' in line
            assert f'>= {result["at_least"]:g}' in line
            # What the entry changes: the observation it learns from, its settings.
            if 'observation' in settings:
                assert f'observation {settings["observation"]}' in line
            count = len(settings.get('hyperparameters', {}))
            assert re.search(rf'\b{count} settings?\b' if count else 'its defaults', line)
    # The per-agent defaults no longer look tuned for a task they are not for.
    assert 'tuned for' not in text


def test_the_help_names_every_agent_that_trains_as_a_population(capsys):
    from gridlab import registry
    with_one = {name for name, entry in registry.agents().items() if entry.population}
    for command in (['train', '--help'], ['sweep', '--help']):
        with pytest.raises(SystemExit):
            cli.main(command)
        # argparse may wrap a line after a hyphen ('actor-' / 'critic').
        text = ' '.join(capsys.readouterr().out.split()).replace('- ', '-')
        named = text.split('agents with one: ')[1].split(')')[0]
        assert set(named.split(', ')) == with_one, command


def test_ctrl_c_before_a_command_takes_charge_is_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt  # As while torch is still being imported.
    monkeypatch.setattr(cli, '_configure_heavy_libraries', interrupted)
    assert cli.main(['tasks']) == 130
    assert capsys.readouterr().err == 'gridlab: interrupted by SIGINT\n'


def test_compare_on_one_run_folder_writes_beside_it_not_into_it(tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / 'runs' / 'one'
    assert cli.main(['train', '--agent', 'random', '--task', 'simple', '--episodes', '2',
                     '--out', str(run_dir), '--no-progress']) == 0
    assert cli.main(['compare', str(run_dir), '--metric', 'mean_return']) == 0
    assert not (run_dir / 'aggregate.csv').exists()
    assert (tmp_path / 'aggregate.csv').is_file()
