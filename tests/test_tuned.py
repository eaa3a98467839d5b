"""Every agent x task pair in agents/hyperparams.toml learns at its tuned budget."""

import pytest

import gridlab
from gridlab import registry

# Pairs whose tuned budget is far too long for CI: their full runs are
# benchmarks (which print steps, seconds and the greedy mean), and a quick run
# of each benchmark is in tests/test_benchmarks.py.
MEASURED_IN_BENCHMARKS = {('ppo', 'LunarLander-v3'): 'benchmarks/lunarlander.py',
                          # Judged by bsuite's score in tests/test_bsuite.py.
                          ('dqn', 'bsuite/catch/0'): 'benchmarks/bsuite_dqn.py',
                          ('dqn', 'MinAtar/Breakout-v1'): 'benchmarks/minatar_dqn.py',
                          ('dqn', 'MinAtar/SpaceInvaders-v1'): 'benchmarks/minatar_dqn.py'}
PAIRS = [(name, task) for name, entry in registry.agents().items()
         for task in entry.tuned if (name, task) not in MEASURED_IN_BENCHMARKS]
# What "learned" means per task: greedy success rate over 200 episodes.
# FrozenLake-v1's optimum is about 0.74 (the ice is slippery).
SUCCESS = {'FrozenLake-v1': 0.65}


def test_every_tuned_task_has_a_criterion():
    assert PAIRS and {task for _, task in PAIRS} <= set(SUCCESS)


@pytest.mark.slow
@pytest.mark.parametrize('agent, task', PAIRS)
@pytest.mark.parametrize('seed', [0, 1])
def test_tuned_pair_learns_at_its_default_budget(agent, task, seed, tmp_path):
    result = gridlab.run_experiment(agent, task, tmp_path / 'run', seed=seed,
                                    eval_episodes=200, verbose=False, video=False)
    assert result.summary['training']['steps'] == registry.agents()[agent].tuned[
        task]['steps']
    assert result.summary['evaluation']['success_rate'] >= SUCCESS[task]
