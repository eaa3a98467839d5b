"""Populations as runs: `run_population`, `gridlab train --seeds`, `gridlab
sweep --vectorize-seeds`; each seed an ordinary run folder."""

import csv
import json

import pytest
import torch

from gridlab import cli
from gridlab.experiments import results, run_experiment, run_population, run_sweep
from gridlab.experiments.sweep import SweepError

SETTINGS = dict(steps=512, num_envs=2, eval_every=256)
SMALL = {'rollout_length': 16}


def read_rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def member_folder(root, seed, tag='rollout_length=16'):
    return root / 'CartPole-v1' / 'ppo' / tag / f'seed{seed}'


def test_a_population_of_one_writes_the_single_runs_folder(tmp_path):
    result = run_population('ppo', 'CartPole-v1', '5', tmp_path / 'population', SMALL,
                            progress=False, **SETTINGS)
    assert [row['status'] for row in result.rows] == ['completed']
    single = run_experiment('ppo', 'CartPole-v1', tmp_path / 'single', seed=5,
                            hyperparameters=SMALL, verbose=False, video=False,
                            pictures=False, **SETTINGS)
    member = member_folder(tmp_path / 'population', 5)
    # The same episodes; the population logs each at the step it ended (a
    # single batched run, at the end of the chunk of steps it ran in).
    ours, theirs = (read_rows(folder / 'episodes.csv')
                    for folder in (member, tmp_path / 'single'))
    assert [(r['episode'], r['episode_return']) for r in ours] == [
        (r['episode'], r['episode_return']) for r in theirs]
    steps = [int(r['total_steps']) for r in ours]
    assert steps == sorted(steps) and 0 < steps[0] and steps[-1] <= SETTINGS['steps']
    # Training seconds differ; the steps and the scores do not.
    ours, theirs = (read_rows(folder / 'evaluation.csv')
                    for folder in (member, tmp_path / 'single'))
    for row in ours + theirs:
        row.pop('training_seconds')
    assert ours == theirs and len(ours) == 2
    summary = json.loads((member / 'summary.json').read_text())
    assert summary['config'] == single.summary['config']
    assert summary['evaluation'] == single.summary['evaluation']
    assert summary['population'] == {'seeds': [5], 'member': 0, 'copies_each': 2,
                                     'class': 'PopulationPPO'}
    ours = torch.load(member / 'agent.pt', weights_only=True)
    theirs = torch.load(tmp_path / 'single' / 'agent.pt', weights_only=True)
    assert ours['sha256'] == theirs['sha256']  # The same agent, byte for byte.


def test_population_runs_are_a_sweeps_folders_and_resume_per_seed(tmp_path):
    root = tmp_path / 'seeds'
    first = run_population('ppo', 'CartPole-v1', '0-2', root, SMALL, progress=False,
                           **SETTINGS)
    assert [row['seed'] for row in first.rows] == [0, 1, 2]
    assert all(row['status'] == 'completed' for row in first.rows)
    rows = results.read_results(root / 'results.csv')
    assert [int(row['seed']) for row in rows] == [0, 1, 2]
    assert (root / 'aggregate.csv').is_file()
    for seed in range(3):
        folder = member_folder(root, seed)
        assert {'episodes.csv', 'evaluation.csv', 'agent.pt', 'summary.json',
                'run_state.json', 'report.html'} <= {p.name for p in folder.iterdir()}
    # A seed lost: rerunning trains that seed alone; the others are read.
    kept = member_folder(root, 0) / 'summary.json'
    before = kept.read_text()
    done = member_folder(root, 1) / 'summary.json'
    summary = json.loads(done.read_text())
    summary['status'] = 'interrupted'
    done.write_text(json.dumps(summary))
    again = run_population('ppo', 'CartPole-v1', '0-2', root, SMALL, progress=False,
                           **SETTINGS)
    assert all(row['status'] == 'completed' for row in again.rows)
    assert kept.read_text() == before
    retrained = json.loads(done.read_text())
    assert retrained['status'] == 'completed'
    assert retrained['population']['seeds'] == [1]


def test_sweep_vectorize_seeds_groups_each_cells_seeds(tmp_path):
    result = run_sweep(['ppo'], ['CartPole-v1'], '0-1', tmp_path,
                       {'rollout_length': [16, 32]}, workers=2, progress=False,
                       vectorize_seeds=True, steps=512, num_envs=2)
    assert len(result.rows) == 4 and not result.failed
    for tag in ('rollout_length=16', 'rollout_length=32'):
        summary = json.loads((member_folder(tmp_path, 1, tag) / 'summary.json').read_text())
        assert summary['population']['seeds'] == [0, 1]


def test_population_size_cuts_a_cells_seeds_the_same_on_any_worker_count(tmp_path):
    # Seeds 0-2 in populations of at most 2: (0, 1) and (2). A population of
    # one is its single run bit for bit; the grouping, not the workers, sets
    # the numbers, so one worker and two write the same agents.
    def sweep(out, workers):
        result = run_sweep(['ppo'], ['CartPole-v1'], '0-2', out, {'rollout_length': [16]},
                           workers=workers, progress=False, vectorize_seeds=True,
                           population_size=2, steps=512, num_envs=2)
        assert len(result.rows) == 3 and not result.failed
        return {seed: torch.load(member_folder(out, seed) / 'agent.pt',
                                 weights_only=True)['sha256'] for seed in range(3)}
    two_workers = sweep(tmp_path / 'two', 2)
    for seed, members in ((0, [0, 1]), (1, [0, 1]), (2, [2])):
        summary = json.loads((member_folder(tmp_path / 'two', seed) /
                              'summary.json').read_text())
        assert summary['population']['seeds'] == members
    single = run_experiment('ppo', 'CartPole-v1', tmp_path / 'single', seed=2,
                            hyperparameters=SMALL, steps=512, num_envs=2, verbose=False,
                            video=False, pictures=False)
    assert two_workers[2] == torch.load(single.directory / 'agent.pt', weights_only=True)['sha256']
    assert sweep(tmp_path / 'one', 1) == two_workers
    with pytest.raises(SweepError, match='population_size=2 sizes the populations of '
                                         'vectorize_seeds'):
        run_sweep(['ppo'], ['CartPole-v1'], '0-2', tmp_path / 'no', population_size=2,
                  steps=512, progress=False)
    with pytest.raises(ValueError, match='population_size'):
        run_sweep(['ppo'], ['CartPole-v1'], '0-2', tmp_path / 'no', population_size=0,
                  vectorize_seeds=True, steps=512, progress=False)


def test_vectorize_seeds_refuses_agents_without_a_population(tmp_path):
    with pytest.raises(SweepError, match="agent 'reinforce' has no population class"):
        run_sweep(['reinforce'], ['simple'], '0-1', tmp_path, vectorize_seeds=True,
                  steps=100, progress=False)
    with pytest.raises(SweepError, match='budget in steps, not episodes'):
        run_sweep(['ppo'], ['CartPole-v1'], '0-1', tmp_path, vectorize_seeds=True,
                  episodes=3, progress=False)


def test_dqn_population_runs_on_a_gridworld(tmp_path):
    result = run_population('dqn', 'simple', '0-1', tmp_path, steps=300, progress=False)
    assert [row['status'] for row in result.rows] == ['completed', 'completed']
    assert all(row['optimal_fraction'] is not None for row in result.rows)


def test_an_a2c_population_writes_each_seeds_single_batched_run(tmp_path):
    settings = dict(steps=480, num_envs=3)  # 32 rounds of 5 steps of 3 copies.
    a2c = {'n_steps': 5, 'normalize_rewards': True}
    result = run_population('actor-critic', 'CartPole-v1', '1-2', tmp_path / 'population',
                            a2c, progress=False, **settings)
    assert [row['status'] for row in result.rows] == ['completed', 'completed']
    for seed in (1, 2):
        member = (tmp_path / 'population' / 'CartPole-v1' / 'actor-critic' /
                  'n_steps=5,normalize_rewards=True' / f'seed{seed}')
        single = run_experiment('actor-critic', 'CartPole-v1', tmp_path / f'single{seed}',
                                seed=seed, hyperparameters=a2c, verbose=False, video=False,
                                pictures=False, **settings)
        ours, theirs = (read_rows(folder / 'episodes.csv')
                        for folder in (member, tmp_path / f'single{seed}'))
        assert [r['episode_return'] for r in ours] == [r['episode_return'] for r in theirs]
        summary = json.loads((member / 'summary.json').read_text())
        assert summary['evaluation'] == single.summary['evaluation']
        assert summary['population']['copies_each'] == 3
        ours = torch.load(member / 'agent.pt', weights_only=True)
        theirs = torch.load(tmp_path / f'single{seed}' / 'agent.pt', weights_only=True)
        assert ours['sha256'] == theirs['sha256']


def test_cli_train_seeds(tmp_path, capsys):
    out = tmp_path / 'cli'
    assert cli.main(['train', '--agent', 'ppo', '--task', 'CartPole-v1', '--seeds', '0-1',
                     '--steps', '256', '--num-envs', '2', '--set', 'rollout_length=16',
                     '--out', str(out), '--no-progress']) == 0
    assert '2/2 seeds completed as one population' in capsys.readouterr().out
    assert len(results.read_results(out / 'results.csv')) == 2
    assert cli.main(['train', '--agent', 'ppo', '--task', 'CartPole-v1', '--seeds', '0-1',
                     '--seed', '3']) == 2
    assert 'cannot take --seed' in capsys.readouterr().err
    # At most two seeds a population: (0, 1), then (2), one after another.
    out = tmp_path / 'pairs'
    assert cli.main(['train', '--agent', 'ppo', '--task', 'CartPole-v1', '--seeds', '0-2',
                     '--steps', '256', '--num-envs', '2', '--set', 'rollout_length=16',
                     '--population-size', '2', '--out', str(out), '--no-progress']) == 0
    assert '3/3 seeds completed as populations of at most 2' in capsys.readouterr().out
    for seed, members in ((0, [0, 1]), (1, [0, 1]), (2, [2])):
        summary = json.loads((member_folder(out, seed) / 'summary.json').read_text())
        assert summary['population']['seeds'] == members
    assert cli.main(['train', '--agent', 'ppo', '--task', 'CartPole-v1',
                     '--population-size', '2']) == 2
    assert '--population-size sizes the populations of --seeds' in capsys.readouterr().err


def test_cli_sweep_vectorize_seeds(tmp_path, capsys):
    out = tmp_path / 'sweep'
    assert cli.main(['sweep', '--agents', 'ppo', '--tasks', 'CartPole-v1', '--seeds', '0-1',
                     '--steps', '256', '--num-envs', '2', '--set', 'rollout_length=16',
                     '--vectorize-seeds', '--out', str(out), '--workers', '1']) == 0
    assert '2/2 runs completed' in capsys.readouterr().out
    summary = json.loads((member_folder(out, 0) / 'summary.json').read_text())
    assert summary['population']['seeds'] == [0, 1]
    assert summary['config']['num_envs'] == 2
    out = tmp_path / 'halves'
    assert cli.main(['sweep', '--agents', 'ppo', '--tasks', 'CartPole-v1', '--seeds', '0-1',
                     '--steps', '256', '--num-envs', '2', '--set', 'rollout_length=16',
                     '--vectorize-seeds', '--population-size', '1', '--out', str(out)]) == 0
    summary = json.loads((member_folder(out, 1) / 'summary.json').read_text())
    assert summary['population']['seeds'] == [1]


def test_a_population_that_fails_says_so_in_every_unfinished_folder(tmp_path, monkeypatch):
    from gridlab.experiments import population as population_lib

    def broken(run, video):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(population_lib, 'conclude', broken)
    result = run_population('ppo', 'CartPole-v1', '0-1', tmp_path, SMALL, progress=False,
                            steps=64, num_envs=2)
    assert [row['status'] for row in result.rows] == ['failed', 'failed']
    assert 'No space left on device' in result.rows[0]['error']
    for seed in (0, 1):
        summary = json.loads((member_folder(tmp_path, seed) / 'summary.json').read_text())
        assert summary['status'] == 'failed'
        assert (member_folder(tmp_path, seed) / 'agent.pt').is_file()


def test_an_interrupted_population_continues_from_its_checkpoints(tmp_path, monkeypatch):
    from agents.populations.ppo import PopulationPPO
    learn, calls = PopulationPPO._learn, [0]

    def interrupted(self, *args):
        calls[0] += 1
        if calls[0] == 40:
            raise KeyboardInterrupt
        learn(self, *args)
    monkeypatch.setattr(PopulationPPO, '_learn', interrupted)
    monkeypatch.setattr('gridlab.experiments.population.BATCHED_CHUNK_STEPS', 128)
    settings = dict(steps=2048, num_envs=2)
    with pytest.raises(KeyboardInterrupt):
        run_population('ppo', 'CartPole-v1', '0-1', tmp_path, SMALL, progress=False,
                       **settings)
    stopped = [json.loads((member_folder(tmp_path, seed) / 'summary.json').read_text())
               for seed in (0, 1)]
    assert [s['status'] for s in stopped] == ['interrupted', 'interrupted']
    monkeypatch.setattr(PopulationPPO, '_learn', learn)
    result = run_population('ppo', 'CartPole-v1', '0-1', tmp_path, SMALL, progress=False,
                            **settings)
    assert [row['status'] for row in result.rows] == ['completed', 'completed']
    for seed in (0, 1):
        folder = member_folder(tmp_path, seed)
        summary = json.loads((folder / 'summary.json').read_text())
        assert 0 < summary['resumed_from_step'] < 2048
        assert summary['training']['steps'] == 2048
        steps = [int(row['total_steps']) for row in read_rows(folder / 'episodes.csv')]
        assert steps == sorted(steps) and steps[-1] <= 2048


@pytest.mark.parametrize('handlers', ['command line', 'none'])
def test_a_signal_mid_call_ends_a_population_at_a_round_each_member_counts(
        tmp_path, monkeypatch, handlers):
    # SIGTERM while the population learns from its third rollout: the round
    # finishes and is counted, then the run stops; each member's checkpoint
    # holds an agent that learned from exactly the steps its run state counts.
    import os
    import signal
    from agents.populations.ppo import PopulationPPO
    from agents.ppo import PPO
    from gridlab.core.errors import Terminated
    from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
    from gridlab.experiments import signals
    learn, calls = PopulationPPO._learn, [0]

    def signalled(self, *args):
        learn(self, *args)
        calls[0] += 1
        if calls[0] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(PopulationPPO, '_learn', signalled)
    # 'none': a script, not the command line, started the run, which then
    # sets its own handlers for the training (before, the signal landed
    # mid-round) and puts back afterwards the ones that were there.
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    restore = signals.stop_on_signals() if handlers == 'command line' else (lambda: None)
    try:
        with pytest.raises(Terminated):
            run_population('ppo', 'CartPole-v1', '0-1', tmp_path, SMALL, progress=False,
                           steps=20_000, num_envs=2)
    finally:
        restore()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    for seed in (0, 1):
        folder = member_folder(tmp_path, seed)
        state = json.loads((folder / 'run_state.json').read_text())
        assert state['total_steps'] == 3 * 2 * 16  # Three rollouts of 2 copies x 16.
        spec = GymnasiumVectorWrapper('CartPole-v1', 1).single_environment_spec()
        agent = PPO(spec, rollout_length=16)
        agent.restore(folder / 'agent.pt')
        assert agent.steps == state['total_steps']
        assert len(read_rows(folder / 'episodes.csv')) == state['episodes']
