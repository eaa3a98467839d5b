"""The tuned zoo (agents/hyperparams.toml): every entry says what it reaches, a
benchmark reproduces it, and the pairs that fit CI's time learn to their bar."""

import math
import pathlib
import sys

import pytest

import gridlab
from gridlab import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
import zoo  # noqa: E402  benchmarks/zoo.py

PAIRS = [(agent, task) for agent, task, _ in zoo.tuned_pairs(None)]
METRICS = {'mean_return', 'success_rate', 'optimal_fraction', 'bsuite_score'}
# Pairs whose tuned budget is too long for CI (minutes of training per seed);
# their figures are reproduced by the benchmark each entry names.
TOO_LONG_FOR_CI = {('ppo', 'LunarLander-v3'), ('dqn', 'MinAtar/Breakout-v1'),
                   ('dqn', 'MinAtar/SpaceInvaders-v1'), ('dqn', 'bsuite/catch/0'),
                   ('ppo', 'MiniGrid-DoorKey-5x5-v0'), ('dqn', 'Acrobot-v1'),
                   ('dqn', 'MountainCar-v0'), ('dqn', 'LunarLander-v3'),
                   ('ppo', 'Acrobot-v1'), ('ppo', 'MountainCar-v0'),
                   ('dqn', 'simple'), ('dqn', 'obstacle'), ('dqn', 'cliff'),
                   ('dqn', 'random_goal'), ('dqn', 'four_rooms'), ('dqn', 'CartPole-v1'),
                   ('nfq', 'simple'), ('nfq', 'obstacle'), ('nfq', 'random_goal'),
                   ('ppo', 'FrozenLake-v1'), ('actor-critic', 'MountainCar-v0'),
                   ('actor-critic', 'LunarLander-v3'), ('ppo', 'MinAtar/Breakout-v1'),
                   ('ppo', 'bsuite/catch/0'), ('ppo', 'four_rooms'), ('ppo', 'obstacle'),
                   ('nfq', 'FrozenLake-v1'), ('reinforce', 'Acrobot-v1'),
                   ('reinforce', 'cliff'), ('dqn', 'MiniGrid-DoorKey-5x5-v0'),
                   ('reinforce', 'FrozenLake-v1'), ('reinforce', 'four_rooms'),
                   ('nfq', 'CartPole-v1'), ('nfq', 'bsuite/catch/0'),
                   ('nfq', 'MiniGrid-DoorKey-5x5-v0'),
                   ('actor-critic', 'MiniGrid-DoorKey-5x5-v0'),
                   ('actor-critic', 'MinAtar/Breakout-v1'),
                   ('reinforce', 'MiniGrid-DoorKey-5x5-v0'), ('nfq', 'MinAtar/Breakout-v1'),
                   # tests/test_ppo.py walks PPO's maze path (stopping when found);
                   # tests/test_a2c.py checks the actor-critic's table policy.
                   ('ppo', 'maze'), ('actor-critic', 'maze'),
                   ('reinforce', 'bsuite/catch/0'),  # ~50 s; A2C's catch runs in CI.
                   ('reinforce', 'MinAtar/Breakout-v1'), ('nfq', 'Acrobot-v1'),
                   ('nfq', 'MountainCar-v0')}


def _settings(agent, task):
    return registry.agents()[agent].tuned[task]


@pytest.mark.parametrize('agent, task', PAIRS)
def test_every_entry_states_what_it_reaches_and_where_it_is_reproduced(agent, task):
    result = _settings(agent, task)['result']
    assert result['metric'] in METRICS
    assert isinstance(result['eval_episodes'], int) and result['eval_episodes'] > 0
    seeds, values = result['seeds'], result['values']
    assert len(seeds) >= 3 and len(set(seeds)) == len(seeds)  # Medians over >= 3.
    assert len(values) == len(seeds) and all(math.isfinite(v) for v in values)
    if result['metric'] != 'mean_return':
        assert all(0 <= v <= 1 for v in values)
    # The bar is one every claimed seed clears.
    assert min(values) >= result['at_least']
    benchmark = ROOT / result['benchmark']
    assert benchmark.is_file(), result['benchmark']
    if result['benchmark'] != zoo.THIS:  # Another benchmark runs this pair.
        assert task.split('/')[0].split('-')[0] in benchmark.read_text()


def test_the_zoo_benchmark_reproduces_the_entries_that_name_it():
    own = {(a, t) for a, t, _ in zoo.tuned_pairs()}
    named = {(a, t) for a, t in PAIRS if _settings(a, t)['result']['benchmark'] ==
             'benchmarks/zoo.py'}
    assert own == named and own
    assert zoo.QUICK_PAIR in own


def test_the_zoo_covers_the_tasks_users_reach_for():
    tasks = {task for _, task in PAIRS}
    assert {'CartPole-v1', 'Acrobot-v1', 'MountainCar-v0', 'LunarLander-v3',
            'FrozenLake-v1', 'MiniGrid-DoorKey-5x5-v0', 'bsuite/catch/0',
            'MinAtar/Breakout-v1'} <= tasks
    # Every GridWorld task, by DQN. The tabular agents keep the tutorial's
    # defaults on the GridWorld (no entries: an entry would change them).
    assert set(gridlab.TASKS) <= tasks


def test_the_readme_table_says_what_the_entries_say():
    """One README row per tuned pair, with its budget, median and bar."""
    import statistics
    rows = {}
    for line in (ROOT / 'README.md').read_text().splitlines():
        cells = [c.strip() for c in line.strip('|').split('|')]
        if len(cells) == 7 and cells[1].startswith('`'):
            rows[(cells[0], cells[1].strip('`'))] = cells
    assert set(rows) == set(PAIRS)
    for pair, cells in rows.items():
        settings = _settings(*pair)
        result = settings['result']
        budget = (f'{settings["steps"]:,} steps' if 'steps' in settings
                  else f'{settings["episodes"]:,} episodes')
        assert cells[2:4] == [budget, result['metric']], pair
        assert cells[4].startswith(f'{statistics.median(result["values"]):g} ('), pair
        assert cells[5] == f'{result["at_least"]:g}', pair


@pytest.mark.slow
@pytest.mark.parametrize('agent, task', [p for p in PAIRS if p not in TOO_LONG_FOR_CI])
def test_tuned_pair_clears_its_bar_at_its_budget(agent, task, tmp_path):
    settings = _settings(agent, task)
    result = settings['result']
    seed = result['seeds'][0]
    run = zoo._run(agent, task, seed, None, str(tmp_path))
    budget = settings.get('steps')
    if budget is not None:  # Copies round the budget up to whole rounds.
        assert budget <= run['steps'] < budget + 10_000
    assert run['value'] >= result['at_least'], (agent, task, run['value'])
