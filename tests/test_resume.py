"""Coming back to a run: checkpoints that survive kill -9, resume that loses and
repeats nothing, and the folder's files that stay what they say they are."""

import csv
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import gridlab
from gridlab import cli, experiments, registry
from gridlab.core import files, specs
from gridlab.evaluation import judging
from gridlab.experiments import periodic, pictures, run_folder
from gridlab.experiments import run as run_lib
from conftest import InterruptOnce

GRIDLAB = [sys.executable, '-m', 'gridlab.cli']
TESTS = pathlib.Path(__file__).resolve().parent

def rows(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def summary(out):
    return json.loads((out / 'summary.json').read_text())


@pytest.fixture
def killers():
    """Runs gridlab in a process whose faulty_agents agents SIGKILL it at `kill_at`."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(TESTS), os.environ.get('PYTHONPATH')])))

    def gridlab_cli(*argv, kill_at=0):
        return subprocess.run(GRIDLAB + list(argv),
                              env=dict(env, GRIDLAB_TEST_KILL_AT=str(kill_at)),
                              capture_output=True, text=True, timeout=600)
    return gridlab_cli


def key(row):
    return (row['episode'], row.get('episode_length'), row['episode_return'],
            row['total_steps'])


@pytest.mark.parametrize('checkpointing', [
    ['--checkpoint-every', '500', '--checkpoint-seconds', '0'],  # No --eval-every.
    ['--eval-every', '500', '--checkpoint-seconds', '0'],
])
def test_a_run_killed_by_the_os_resumes_without_losing_or_repeating_an_episode(
        killers, tmp_path, checkpointing):
    common = ['train', '--agent', 'faulty_agents:KilledQLearning', '--task', 'obstacle',
              '--seed', '3', '--steps', '3000', '--no-progress', *checkpointing]
    killed = killers(*common, '--out', str(tmp_path / 'killed'), kill_at=40)
    assert killed.returncode == -signal.SIGKILL
    assert summary(tmp_path / 'killed')['status'] == 'running'  # Nothing ran on exit.
    resumed = killers('train', '--resume', str(tmp_path / 'killed'), '--no-progress')
    assert resumed.returncode == 0, resumed.stderr
    whole = killers(*common, '--out', str(tmp_path / 'whole'))
    assert whole.returncode == 0, whole.stderr
    after, expected = (rows(tmp_path / name / 'episodes.csv') for name in ('killed',
                                                                          'whole'))
    assert [key(r) for r in after] == [key(r) for r in expected]
    done = summary(tmp_path / 'killed')
    assert done['training']['episodes'] == len(after)
    assert done['training']['steps'] == 3000 and done['resumed_from_step'] > 0


def test_a_batched_run_killed_by_the_os_resumes_from_its_last_checkpoint(killers,
                                                                         tmp_path):
    out = tmp_path / 'ppo'
    common = ['--no-progress', '--checkpoint-every', '1000', '--checkpoint-seconds', '0']
    killed = killers('train', '--agent', 'faulty_agents:KilledPPO', '--task', 'simple',
                     '--num-envs', '4', '--steps', '6000', '--set', 'rollout_length=16',
                     '--out', str(out), *common, kill_at=700)  # 700 x 4 copies: 2,800 steps
    assert killed.returncode == -signal.SIGKILL
    state = json.loads((out / 'run_state.json').read_text())
    assert state['total_steps'] >= 1000
    # The rows on disk are exactly those the checkpoint counts.
    kept = [r for r in rows(out / 'episodes.csv')
            if int(r['total_steps']) <= state['total_steps']]
    assert len(kept) == state['episodes']
    resumed = killers('train', '--resume', str(out), *common)
    assert resumed.returncode == 0, resumed.stderr
    done, logged = summary(out), rows(out / 'episodes.csv')
    assert done['training']['steps'] == 6016  # Whole rounds of 4 copies x 16 steps.
    assert [int(r['episode']) for r in logged] == list(range(len(logged)))
    assert done['training']['episodes'] == len(logged)


@pytest.fixture
def interrupted_run(tmp_path, flaky):
    """A run folder of q-learning on obstacle, interrupted at its 40th episode."""
    def make(name='stopped', seed=3, **settings):
        out = tmp_path / name
        InterruptOnce.episodes, InterruptOnce.interrupted = 0, False
        with pytest.raises(KeyboardInterrupt):
            gridlab.run_experiment(flaky, 'obstacle', out, seed=seed, steps=3_000,
                                   verbose=False, video=False, **settings)
        return out
    return make


def test_best_pt_is_replaced_after_a_resume_only_by_a_better_agent(interrupted_run,
                                                                   monkeypatch):
    out = interrupted_run(eval_every=100)
    best_before = max(float(r['mean_return']) for r in rows(out / 'evaluation.csv'))
    saved = (out / 'best.pt').read_bytes()
    evaluated = len(rows(out / 'evaluation.csv'))
    real = run_lib.evaluation_statistics

    def worse(*args, **kwargs):  # Every evaluation after the resume scores less.
        statistics = real(*args, **kwargs)
        statistics['mean_return'] = best_before - 1.
        return statistics
    monkeypatch.setattr(run_lib, 'evaluation_statistics', worse)
    experiments.resume_experiment(out, verbose=False, video=False)
    assert len(rows(out / 'evaluation.csv')) > evaluated  # It did evaluate.
    assert (out / 'best.pt').read_bytes() == saved


def test_the_learning_curve_of_a_resumed_run_is_drawn_from_every_episode(
        interrupted_run, monkeypatch):
    out = interrupted_run()
    drawn = []
    monkeypatch.setattr(pictures, 'write_learning_curve',
                        lambda rows, path, **kwargs: drawn.append(rows))
    experiments.resume_experiment(out, verbose=False, video=False)
    logged = rows(out / 'episodes.csv')
    assert [r['episode_return'] for r in drawn[0]] == [
        float(r['episode_return']) for r in logged if r['cut_short'] == 'False']
    assert len(logged) > 39  # The 39 episodes before the interruption, and more.


def test_a_checkpoint_and_its_run_state_are_one_unit(tmp_path):
    out = tmp_path
    write = lambda text: lambda path: path.write_text(text)
    run_folder.commit_checkpoint(out, write('old agent'), {'episodes': 1,
                                                           'total_steps': 10})
    # Killed after writing the next agent, before run_state.json: the old pair.
    write('new agent')(out / run_folder.PENDING_AGENT)
    assert run_folder.checkpoint_state(out)['total_steps'] == 10
    assert (out / 'agent.pt').read_text() == 'old agent'
    assert not (out / run_folder.PENDING_AGENT).exists()
    # Killed after run_state.json, before the agent's rename: the new pair.
    write('new agent')(out / run_folder.PENDING_AGENT)
    files.atomic_write_text(out / 'run_state.json', json.dumps(
        {'episodes': 2, 'total_steps': 20,
         'agent_sha256': files.sha256(out / run_folder.PENDING_AGENT)}))
    assert run_folder.checkpoint_state(out)['total_steps'] == 20
    assert (out / 'agent.pt').read_text() == 'new agent'
    # An agent.pt from another checkpoint is refused.
    (out / 'agent.pt').write_text('another agent')
    with pytest.raises(experiments.ExperimentError, match='mismatched pair'):
        run_folder.checkpoint_state(out)


def test_resume_refuses_an_agent_pt_from_another_checkpoint(interrupted_run):
    out, other = interrupted_run(), interrupted_run('other', seed=4)
    shutil.copy(other / 'agent.pt', out / 'agent.pt')
    before = (out / 'episodes.csv').read_text()
    with pytest.raises(experiments.ExperimentError, match='mismatched pair'):
        experiments.resume_experiment(out, verbose=False, video=False)
    assert (out / 'episodes.csv').read_text() == before


def test_a_checkpoint_from_another_task_is_refused(tmp_path):
    for task in ('simple', 'obstacle'):  # Both 9 x 10: tables of one shape.
        gridlab.run_experiment('q-learning', task, tmp_path / task, steps=300,
                               verbose=False, video=False, pictures=False)
    shutil.copy(tmp_path / 'obstacle' / 'agent.pt', tmp_path / 'simple' / 'agent.pt')
    with pytest.raises(experiments.ExperimentError,
                       match="trained on .*task 'obstacle', not 'simple'"):
        experiments.evaluate_run(tmp_path / 'simple')
    agent = registry.resolve('q-learning').load()(
        specs.make_environment_spec(gridlab.build_gridworld_task('simple')))
    agent.save(tmp_path / 'a.pt', trained_on={'task': 'simple', 'observation': 'grid'})
    with pytest.raises(ValueError, match="observation 'grid', not 'state_index'"):
        agent.restore(tmp_path / 'a.pt', trained_on={'task': 'simple',
                                                     'observation': 'state_index'})
    agent.restore(tmp_path / 'a.pt', trained_on={'task': 'simple', 'observation': 'grid'})


def test_resume_takes_a_new_budget_and_refuses_what_it_cannot_honour(interrupted_run,
                                                                     capsys):
    out = interrupted_run()
    for flags in (['--seed', '7'], ['--out', 'elsewhere'], ['--eval-every', '7'],
                  ['--discount', '0.5'], ['--num-envs', '2'], ['--seeds', '0-3'],
                  ['--population-size', '2']):
        assert cli.main(['train', '--resume', str(out), *flags]) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and flags[0] in err, err
    assert cli.main(['train', '--resume', str(out), '--steps', '100']) == 2
    assert 'not more than the' in capsys.readouterr().err
    assert cli.main(['train', '--resume', str(out), '--steps', '4000', '--no-progress',
                     '--log-every', '100']) == 0
    done = summary(out)
    assert done['config']['steps'] == done['training']['steps'] == 4000


def test_overwrite_replaces_only_a_gridlab_run_and_only_what_gridlab_wrote(tmp_path,
                                                                          capsys):
    users = tmp_path / 'mine'
    for name in ('videos', 'tensorboard'):
        (users / name).mkdir(parents=True)
        (users / name / 'holiday.mp4').write_text('keep me')
    argv = ['train', '--agent', 'random', '--task', 'simple', '--episodes', '2',
            '--no-progress']
    assert cli.main(argv + ['--out', str(users), '--overwrite']) == 2
    assert 'no gridlab run' in capsys.readouterr().err
    assert sorted(p.name for p in users.rglob('*')) == [
        'holiday.mp4', 'holiday.mp4', 'tensorboard', 'videos']
    run = tmp_path / 'run'
    assert cli.main(argv + ['--out', str(run), '--video-every', '5']) == 0
    assert list((run / 'videos').glob('step_*.mp4'))
    (run / 'videos' / 'notes.txt').write_text('my notes')
    assert cli.main(argv + ['--out', str(run), '--overwrite']) == 0
    assert [p.name for p in (run / 'videos').iterdir()] == ['notes.txt']
    assert summary(run)['status'] == 'completed'


class NaNQLearning(registry.resolve('q-learning').load()):
    def q_values(self, observation):
        return np.full(4, np.nan)


def test_an_agent_with_nan_values_is_not_judged_silently(tmp_path, capsys):
    environment = gridlab.build_gridworld_task('simple')
    agent = NaNQLearning(specs.make_environment_spec(environment))
    with pytest.raises(judging.NonFiniteValues,
                       match=r'NaN or infinite on (\d+) of \1 cells'):
        judging.optimal_fraction(environment, judging.q_table(agent, environment))
    result = gridlab.run_experiment(f'{__name__}:NaNQLearning', 'simple', tmp_path / 'r',
                                    steps=200, eval_every=100, video=False, verbose=False)
    assert result.summary['evaluation']['optimal_fraction'] is None
    assert 'NaN or infinite' in result.summary['warnings'][0]
    assert 'warning' in capsys.readouterr().err
    assert not (tmp_path / 'r' / 'q_values.png').exists()
    assert [r['optimal_fraction'] for r in rows(tmp_path / 'r' / 'evaluation.csv')] == \
        ['', '']


def test_a_checkpoint_with_code_in_it_is_refused_without_torchs_advice(tmp_path):
    import torch

    class Code:
        def __reduce__(self):
            return (print, ('ran',))
    torch.save({'format': 'gridlab-checkpoint', 'x': Code()}, tmp_path / 'agent.pt')
    environment = gridlab.build_gridworld_task('simple')
    agent = registry.resolve('q-learning').load()(specs.make_environment_spec(environment))
    with pytest.raises(ValueError) as error:
        agent.restore(tmp_path / 'agent.pt')
    message = str(error.value)
    assert 'could run code' in message
    assert 'weights_only' not in message and 'can still be loaded' not in message


def test_periodic_checkpoints_by_steps_and_by_time():
    class FakeRun:
        steps_done = 0
    clock = [0.]
    by_steps = periodic.PeriodicCheckpoint(FakeRun(), 100, None, clock=lambda: clock[0])
    assert [by_steps.due(s) for s in (50, 100, 150, 199, 250)] == [
        False, True, False, False, True]
    by_time = periodic.PeriodicCheckpoint(FakeRun(), None, 60., clock=lambda: clock[0])
    clock[0] = 59.
    assert not by_time.due(1)
    clock[0] = 61.
    assert by_time.due(2) and not by_time.due(3)
    with pytest.raises(experiments.ExperimentError, match='checkpoint_seconds'):
        run_lib.check_checkpointing(None, float('nan'))
    with pytest.raises(experiments.ExperimentError, match='checkpoint_every'):
        run_lib.check_checkpointing(0, None)


def test_init_from_starts_a_new_run_from_a_saved_agent(tmp_path, capsys):
    # The tutorial's settings, which reach the goal within 5,000 steps.
    common = dict(verbose=False, video=False, pictures=False, hyperparameters={
        'initial_value': '10', 'count_bonus': '0', 'step_size': '0.5'})
    trained = gridlab.run_experiment('q-learning', 'simple', tmp_path / 'trained',
                                     steps=5_000, **common)
    reached = trained.summary['evaluation']['mean_return']
    assert reached == 10.  # The goal's reward: the greedy policy reaches it.
    fresh = gridlab.run_experiment('q-learning', 'simple', tmp_path / 'fresh', steps=1,
                                   seed=1, **common)
    started = gridlab.run_experiment('q-learning', 'simple', tmp_path / 'started',
                                     steps=1, seed=1, init_from=tmp_path / 'trained',
                                     **common)
    assert fresh.summary['evaluation']['mean_return'] < reached
    assert started.summary['evaluation']['mean_return'] == reached
    assert started.summary['init_from'] == {
        'run': str(tmp_path / 'trained'), 'task': 'simple', 'observation': 'state_index',
        'status': 'completed', 'steps': 5_000}
    assert cli.main(['train', '--agent', 'sarsa', '--task', 'simple', '--out',
                     str(tmp_path / 'other'), '--init-from', str(tmp_path / 'trained')]) == 2
    assert "holds a 'q-learning' run" in capsys.readouterr().err
    assert not (tmp_path / 'other').exists()
    assert cli.main(['train', '--resume', str(tmp_path / 'started'), '--init-from',
                     str(tmp_path / 'trained')]) == 2
    assert '--init-from' in capsys.readouterr().err


def test_sigterm_during_the_evaluation_of_a_run_from_python_keeps_what_there_is(
        tmp_path, monkeypatch):
    # A script's run (no command line, so no handlers of its own) gets SIGTERM
    # while it evaluates the trained agent: the run's handlers cover it too,
    # so it ends as an interruption that says so (before, the process died
    # with the folder still saying "evaluating"), with the trained agent's
    # checkpoint in place, and the handlers before it are back.
    from gridlab.core.errors import Terminated
    from gridlab.experiments import run as run_module
    original = run_module.evaluation_statistics

    def evaluation(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)
    monkeypatch.setattr(run_module, 'evaluation_statistics', evaluation)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / 'run'
    with pytest.raises(Terminated):
        gridlab.run_experiment('q-learning', 'simple', out, seed=0, steps=500,
                               video=False, pictures=False, progress=False, verbose=False)
    assert signal.getsignal(signal.SIGTERM) == before
    assert summary(out)['status'] == 'interrupted'
    assert summary(out)['training']['steps'] == 500
    assert (out / 'agent.pt').exists()


@pytest.mark.parametrize('handlers', ['command line', 'none'])
def test_a_signal_mid_call_ends_a_batched_run_at_a_round_it_counts(tmp_path, monkeypatch,
                                                                   handlers):
    # SIGTERM arrives while PPO learns from its third rollout, inside one call
    # of the batched loop: the round finishes, its episodes are logged and its
    # steps counted, and only then does the run stop. The checkpoint's agent
    # learned from exactly the steps the run state counts.
    from agents.ppo import PPO
    from gridlab.core.errors import Terminated
    from gridlab.experiments import signals
    learned = []
    original = PPO._learn

    def learn(self, *tensors):
        original(self, *tensors)
        learned.append(self.steps)
        if len(learned) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(PPO, '_learn', learn)
    # 'none': a script, not the command line, started the run, which then
    # sets its own handlers for the training (before, the signal landed
    # mid-round) and puts back afterwards the ones that were there.
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    restore = signals.stop_on_signals() if handlers == 'command line' else (lambda: None)
    out = tmp_path / 'ppo'
    try:
        with pytest.raises(Terminated):
            gridlab.run_experiment('ppo', 'CartPole-v1', out, seed=0, steps=20_000,
                                   num_envs=2, hyperparameters={'rollout_length': 16},
                                   video=False, pictures=False, progress=False,
                                   verbose=False)
    finally:
        restore()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    state = json.loads((out / 'run_state.json').read_text())
    assert learned == [32, 64, 96] and state['total_steps'] == 96
    spec = gridlab.make_environment_spec(
        gridlab.GymnasiumWrapper('CartPole-v1', seed=0))
    agent = PPO(spec, rollout_length=16)
    agent.restore(out / 'agent.pt')
    assert agent.steps == state['total_steps']
    logged = rows(out / 'episodes.csv')
    assert len(logged) == state['episodes'] and logged
    assert all(int(r['total_steps']) <= 96 for r in logged)
    assert summary(out)['status'] == 'interrupted'
