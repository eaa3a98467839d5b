"""One run as a library call: settings, hyperparameters, evaluation, resume."""

import csv
import json

import numpy as np
import pytest

import gridlab
from gridlab import cli
from gridlab import experiments
from gridlab import registry
from conftest import InterruptOnce


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def greedy_replay(environment, agent, episodes, cap=500):
    """Greedy episodes stepped here, not by gridlab: the argmax of q_values,
    which must be unique (a tie would make the replay draw at random).
    Returns each episode's return and whether it reached the goal."""
    returns, reached = [], []
    for _ in range(episodes):
        timestep, total = environment.reset(), 0.
        for _ in range(cap):
            q = np.asarray(agent.q_values(timestep.observation))
            assert (q == q.max()).sum() == 1, f'tied greedy actions {q}'
            timestep = environment.step(int(q.argmax()))
            total += float(timestep.reward)
            if timestep.last():
                break
        returns.append(total)
        reached.append(bool(timestep.last() and timestep.discount == 0))
    return returns, reached


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_run_is_one_library_call_and_records_what_reproduces_it(tmp_path):
    # The tutorial's optimistic start and no count bonus (not the tuned
    # settings): after 600 steps every greedy action is then unique.
    given = {'step_size': '0.25', 'initial_value': '10', 'count_bonus': '0'}
    result = gridlab.run_experiment('q-learning', 'simple', tmp_path / 'run', seed=2,
                                    steps=600, hyperparameters=given,
                                    verbose=False, video=False)
    summary = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    assert summary == result.summary and summary['status'] == 'completed'
    assert summary['config']['effective_discount'] == 0.9  # The task's, times the agent's 1.
    # Every constructor argument as used: those given, typed, and the defaults.
    assert summary['hyperparameters']['step_size'] == 0.25
    assert summary['hyperparameters']['initial_value'] == 10.
    assert summary['hyperparameters']['count_bonus'] == 0.
    assert summary['hyperparameters']['discount'] == 1.
    assert summary['hyperparameters']['epsilon'] == 0.1
    assert {'python', 'torch', 'numpy', 'gymnasium'} <= set(summary['versions'])
    evaluation = summary['evaluation']
    # The greedy policy of a Q-table from 600 steps: its evaluation agrees
    # with a replay of the same greedy policy stepped by this test.
    _, actor, _ = experiments.load_run(tmp_path / 'run')
    returns, reached = greedy_replay(gridlab.build_gridworld_task('simple'), actor, 5)
    assert evaluation['episodes'] == 5
    assert evaluation['mean_return'] == pytest.approx(np.mean(returns))
    assert evaluation['min_return'] == pytest.approx(min(returns))
    assert evaluation['max_return'] == pytest.approx(max(returns))
    assert evaluation['std_return'] == pytest.approx(np.std(returns))
    assert evaluation['success_rate'] == np.mean(reached)


@pytest.mark.parametrize('task, expected', [('simple', 0.9), ('CartPole-v1', 0.99)])
def test_summary_records_the_effective_discount(task, expected, tmp_path, capsys):
    agent = 'q-learning' if task == 'simple' else 'reinforce'
    code, _, err = run(capsys, 'train', '--agent', agent, '--task', task, '--steps',
                       '50', '--out', str(tmp_path / 'a'), '--eval-episodes', '1')
    assert code == 0, err
    assert json.loads((tmp_path / 'a' / 'summary.json').read_text())[
        'config']['effective_discount'] == expected
    code, _, err = run(capsys, 'train', '--agent', agent, '--task', task, '--steps',
                       '50', '--discount', '0.8', '--set', 'discount=0.5',
                       '--out', str(tmp_path / 'b'), '--eval-episodes', '1')
    assert code == 0, err
    config = json.loads((tmp_path / 'b' / 'summary.json').read_text())['config']
    assert config['environment_discount'] == 0.8 and config['effective_discount'] == 0.4


def test_set_is_typed_from_the_signature_and_bad_names_are_one_line(tmp_path, capsys):
    code, _, err = run(capsys, 'train', '--agent', 'dqn', '--task', 'simple', '--steps',
                       '40', '--set', 'hidden_sizes=16,16', '--set', 'double=false',
                       '--set', 'target_update_rate=none', '--out', str(tmp_path / 'a'),
                       '--eval-episodes', '1')
    assert code == 0, err
    used = json.loads((tmp_path / 'a' / 'summary.json').read_text())['hyperparameters']
    assert used['hidden_sizes'] == [16, 16] and used['double'] is False
    assert used['target_update_rate'] is None
    for setting, message in [('batch_sise=8', "no hyperparameter 'batch_sise'"),
                             ('batch_size=eight', 'batch_size=\'eight\': expected an integer'),
                             ('double=maybe', 'expected true or false'),
                             ('nonsense', 'expected NAME=VALUE')]:
        code, _, err = run(capsys, 'train', '--agent', 'dqn', '--task', 'simple',
                           '--set', setting, '--out', str(tmp_path / 'b'))
        assert code == 2 and message in err and err.count('\n') == 1, err
        assert not (tmp_path / 'b').exists()  # Checked before anything is written.


@pytest.mark.parametrize('suffix', ['toml', 'yaml'])
def test_config_files_and_flags_that_win_over_them(suffix, tmp_path, capsys):
    path = tmp_path / f'run.{suffix}'
    if suffix == 'toml':
        path.write_text('agent = "sarsa"\ntask = "obstacle"\nsteps = 300\nseed = 4\n'
                        '[hyperparameters]\nstep_size = 0.2\nepsilon = 0.3\n')
    else:
        path.write_text('agent: sarsa\ntask: obstacle\nsteps: 300\nseed: 4\n'
                        'hyperparameters:\n  step_size: 0.2\n  epsilon: 0.3\n')
    code, _, err = run(capsys, 'train', '--config', str(path), '--set', 'epsilon=0.05',
                       '--steps', '200', '--out', str(tmp_path / 'r'),
                       '--eval-episodes', '1')
    assert code == 0, err
    summary = json.loads((tmp_path / 'r' / 'summary.json').read_text())
    assert summary['config']['agent'] == 'sarsa' and summary['config']['seed'] == 4
    assert summary['training']['steps'] == 200
    assert summary['hyperparameters']['step_size'] == 0.2
    assert summary['hyperparameters']['epsilon'] == 0.05


def test_malformed_config_files_are_one_line(tmp_path, capsys):
    bad = tmp_path / 'bad.toml'
    bad.write_text('agent = "sarsa\n')
    unknown = tmp_path / 'unknown.yaml'
    unknown.write_text('agent: sarsa\nlearning_rat: 3\n')
    ini = tmp_path / 'run.ini'
    ini.write_text('[run]\n')
    for path, message in [(bad, 'is malformed'), (unknown, "unknown setting(s) 'learning_rat'"),
                          (tmp_path / 'missing.toml', 'does not exist'),
                          (ini, 'expected a .toml, .yaml or .yml file')]:
        code, _, err = run(capsys, 'train', '--config', str(path), '--out',
                           str(tmp_path / 'x'))
        assert code == 2 and message in err and err.count('\n') == 1, err


def test_tuned_settings_apply_unless_overridden(tmp_path):
    tuned = registry.agents()['q-learning'].tuned['FrozenLake-v1']
    config = experiments.RunConfig.create('q-learning', 'FrozenLake-v1')
    assert config.steps == tuned['steps']
    assert config.hyperparameters['initial_value'] == tuned['hyperparameters'][
        'initial_value'] != 10.  # Not the constructor's default.
    overridden = experiments.RunConfig.create('q-learning', 'FrozenLake-v1', steps=10,
                                              hyperparameters={'initial_value': '2'})
    assert overridden.steps == 10
    assert overridden.hyperparameters['initial_value'] == 2.
    # Elsewhere the constructor's own default stays.
    assert 'initial_value' not in experiments.RunConfig.create(
        'q-learning', 'CliffWalking-v1').hyperparameters


def test_evaluation_during_training_leaves_training_unchanged(tmp_path):
    # The tutorial's settings, whose greedy actions are unique for the replay.
    common = dict(seed=1, steps=2_000, verbose=False, video=False,
                  hyperparameters={'initial_value': '10', 'count_bonus': '0',
                                   'step_size': '0.5'})
    gridlab.run_experiment('q-learning', 'obstacle', tmp_path / 'plain', **common)
    gridlab.run_experiment('q-learning', 'obstacle', tmp_path / 'judged',
                           eval_every=500, **common)
    plain, judged = rows(tmp_path / 'plain' / 'episodes.csv'), rows(
        tmp_path / 'judged' / 'episodes.csv')
    assert [r['episode_return'] for r in plain] == [r['episode_return'] for r in judged]
    evaluations = rows(tmp_path / 'judged' / 'evaluation.csv')
    # One evaluation at the end of the episode that crosses each 500-step mark.
    marks = [int(r['total_steps']) for r in evaluations]
    assert len(marks) == 4 and all(500 * (i + 1) <= m < 500 * (i + 1) + 200
                                   for i, m in enumerate(marks[:3]))
    best = max(float(r['mean_return']) for r in evaluations)
    environment, _, _ = experiments.load_run(tmp_path / 'judged')
    best_agent = registry.resolve('q-learning').make(
        gridlab.make_environment_spec(environment), seed=1)
    best_agent.restore(tmp_path / 'judged' / 'best.pt')
    returns, _ = greedy_replay(gridlab.build_gridworld_task('obstacle'), best_agent, 5)
    assert np.mean(returns) == pytest.approx(best)



def test_the_learning_curve_shows_the_periodic_evaluations(tmp_path, monkeypatch):
    from gridlab.experiments import pictures
    drawn = {}

    def keep(figure, path):  # The figure itself, not its pixels.
        drawn[path.name] = figure
    monkeypatch.setattr(pictures, 'save_figure', keep)
    out = tmp_path / 'evaluated'
    experiments.run_experiment('q-learning', 'simple', out, seed=0, steps=1_500,
                               eval_every=500, verbose=False, progress=False, video=False)
    evaluations = rows(out / 'evaluation.csv')
    assert len(evaluations) >= 2
    labels = {line.get_label(): line for line in drawn['learning_curve.png'].axes[0].lines}
    greedy = next(line for label, line in labels.items() if 'greedy evaluation' in label)
    np.testing.assert_allclose(greedy.get_ydata(),
                               [float(row['mean_return']) for row in evaluations])
    # Without periodic evaluations there is no such series.
    drawn.clear()
    experiments.run_experiment('q-learning', 'simple', tmp_path / 'plain', seed=0,
                               steps=1_500, verbose=False, progress=False, video=False)
    assert not any('evaluation' in line.get_label()
                   for line in drawn['learning_curve.png'].axes[0].lines)

def test_resume_continues_exactly_where_the_run_stopped(flaky, tmp_path):
    common = dict(seed=3, steps=3_000, eval_every=100, verbose=False, video=False)
    with pytest.raises(KeyboardInterrupt):
        gridlab.run_experiment(flaky, 'obstacle', tmp_path / 'stopped', **common)
    summary = json.loads((tmp_path / 'stopped' / 'summary.json').read_text())
    assert summary['status'] == 'interrupted'
    assert len(rows(tmp_path / 'stopped' / 'episodes.csv')) == 39
    experiments.resume_experiment(tmp_path / 'stopped', verbose=False, video=False)
    InterruptOnce.interrupted = True  # The uninterrupted run, for comparison.
    gridlab.run_experiment(flaky, 'obstacle', tmp_path / 'whole', **common)
    resumed, whole = (rows(tmp_path / name / 'episodes.csv') for name in ('stopped',
                                                                          'whole'))
    key = lambda r: (r['episode'], r['episode_length'], r['episode_return'],
                     r['total_steps'])
    assert [key(r) for r in resumed] == [key(r) for r in whole]
    resumed_summary = json.loads((tmp_path / 'stopped' / 'summary.json').read_text())
    assert resumed_summary['status'] == 'completed'
    assert resumed_summary['training']['steps'] == 3_000
    with pytest.raises(experiments.ExperimentError, match='completed run'):
        experiments.resume_experiment(tmp_path / 'stopped', verbose=False)


@pytest.mark.parametrize('name', ['eval_episodes', 'eval_every', 'video_every', 'num_envs'])
def test_a_bad_count_is_refused_by_its_own_name(tmp_path, name):
    with pytest.raises(experiments.ExperimentError,
                       match=f'^{name} must be a positive integer, got 0$'):
        gridlab.run_experiment('ppo', 'simple', tmp_path / 'run', verbose=False,
                               **{name: 0})
    assert not (tmp_path / 'run').exists()  # Refused before anything is written.


def test_tuned_copies_and_discount_apply_unless_given(tmp_path):
    tuned = {'simple': {'steps': 256, 'num_envs': 4, 'discount': 0.5,
                        'hyperparameters': {'rollout_length': 8}}}
    registry.register('tuned-ppo', registry.AgentEntry('agents.ppo:PPO', tuned=tuned))
    try:
        run = gridlab.run_experiment('tuned-ppo', 'simple', tmp_path / 'tuned',
                                     verbose=False, video=False)
        config = run.summary['config']
        assert (config['num_envs'], config['environment_discount']) == (4, 0.5)
        assert config['steps'] == 256
        given = gridlab.run_experiment('tuned-ppo', 'simple', tmp_path / 'given',
                                       num_envs=2, discount=0.8, verbose=False,
                                       video=False)
        config = given.summary['config']
        assert (config['num_envs'], config['environment_discount']) == (2, 0.8)
        # A budget in episodes is one copy's: the tuned copies stand aside.
        episodes = gridlab.run_experiment('tuned-ppo', 'simple', tmp_path / 'episodes',
                                          episodes=2, verbose=False, video=False)
        assert episodes.summary['config']['num_envs'] is None
        registry.register('tuned-ppo', registry.AgentEntry(
            'agents.ppo:PPO', tuned={'simple': {'num_envs': 0}}))
        with pytest.raises(experiments.ExperimentError, match='tuned num_envs .* got 0'):
            gridlab.run_experiment('tuned-ppo', 'simple', tmp_path / 'bad', verbose=False)
    finally:
        registry.unregister('tuned-ppo')


def test_a_seeded_goal_is_where_training_had_it_when_the_run_is_judged(tmp_path):
    # random_goal draws its goal from the seed; the evaluation copy, seeded
    # apart, must still be the task trained on, not another goal.
    from gridlab.envs.catalogue import evaluation_seed
    from gridlab.experiments.config import RunConfig
    from gridlab.experiments.run import evaluation_copy
    goals = {seed: gridlab.build_gridworld_task('random_goal', seed=seed).goal_state
             for seed in range(3)}
    elsewhere = {seed: gridlab.build_gridworld_task(
        'random_goal', seed=evaluation_seed(seed)).goal_state for seed in range(3)}
    assert goals[2] != elsewhere[2]  # Without care, seed 2 is judged on another goal.
    for seed in range(3):
        config = RunConfig.create('q-learning', 'random_goal', seed=seed)
        copy = evaluation_copy(config)
        assert copy.goal_state == goals[seed]
    # Seed 2 learned its own goal: greedy, it reaches it every time.
    result = gridlab.run_experiment('q-learning', 'random_goal', tmp_path / 'run', seed=2,
                                    steps=50_000, eval_episodes=5, verbose=False,
                                    video=False, pictures=False)
    assert result.summary['evaluation']['success_rate'] == 1.0
