"""gridlab: dm_env grid worlds, Acme-style actors and PyTorch agents.

The public names, in the order a tutorial meets them:

    env = gridlab.build_gridworld_task('simple')        # a dm_env.Environment
    env, spec = gridlab.setup_environment(env)          # float32 + specs
    returns = gridlab.run_loop(env, agent, num_episodes=100)
    frames = gridlab.evaluate(env, agent, evaluation_episodes=2)

Each name lives in one layer, lowest first (see `__all__` and the README's
map): core < envs < loops, planning < evaluation < registry < agents <
analysis < viz < experiments < cli. `import gridlab` is light: names whose
layer needs matplotlib, torch, Gymnasium or imageio (pictures, video, the
Gymnasium adapters, experiments) and the subpackages themselves load on
first use.
"""

import importlib as _importlib

from gridlab.core import (Actor, Checkpointable, EnvironmentSpec,
                          HasActionProbabilities, HasDiscount, HasQValues,
                          PassiveActor, ReportsLoss, TrainsOnBatches, agent_discount,
                          evaluation_mode, make_environment_spec)
from gridlab.envs import (ACTION_NAMES, TASKS, Action, ContextualBandit, Environment,
                          EnvironmentWrapper, GridWorld, MarkovChain, MultiArmedBandit,
                          ObservationType, SinglePrecisionWrapper, TabularMDP,
                          TabularModel, build_gridworld_task, setup_environment)
from gridlab.envs import gridworld as _gridworld
from gridlab.envs.adapters import gymnasium_ids as _gymnasium_ids
from gridlab.envs.observation_wrappers import DiscretisedObservation, OneHotObservation
from gridlab.evaluation import (TrainingResult, actions_optimal_fraction, greedy_actions,
                                greedy_is_optimal, greedy_return_from_start,
                                optimal_fraction, optimal_q_values, q_table,
                                train_until_optimal)
from gridlab.loops import (CSVLogger, Dispatcher, EnvironmentLoop, EpisodeObserver,
                           InMemoryLogger, Logger, NoOpLogger, TerminalLogger, TimeFilter,
                           evaluate, run_loop)
from gridlab.planning import (policy_evaluation, policy_iteration, value_iteration,
                              value_iteration_history)
from gridlab.planning.irl import behaviour_cloning, expert_demonstrations, maxent_irl

__version__ = '0.1.0'

# name -> the module that defines it; imported on first use (PEP 562).
_LAZY = {
    'ReplayBuffer': 'gridlab.core.replay',  # dm-tree: 80 ms of import time.
    'Transitions': 'gridlab.core.replay',
    'tabular_model_from_gymnasium': 'gridlab.envs.adapters.gymnasium_models',
    'DmEnvAsGymnasium': 'gridlab.envs.adapters.gymnasium',
    'GymnasiumWrapper': 'gridlab.envs.adapters.gymnasium',
    'as_gymnasium': 'gridlab.envs.adapters.gymnasium',
    'BatchedGridWorld': 'gridlab.envs.batched',
    'GymnasiumVectorWrapper': 'gridlab.envs.adapters.gymnasium_vector',
    'as_gymnasium_vector': 'gridlab.envs.adapters.gymnasium_vector',
    'TensorBoardLogger': 'gridlab.loops.tensorboard_logger',
    'greedy_policy': 'gridlab.viz.grid_plots',
    'moving_average': 'gridlab.viz.curves',
    'plot_action_values': 'gridlab.viz.grid_plots',
    'plot_greedy_policy': 'gridlab.viz.grid_plots',
    'plot_grid': 'gridlab.viz.grid_plots',
    'plot_learning_curve': 'gridlab.viz.curves',
    'plot_policy': 'gridlab.viz.grid_plots',
    'plot_state_value': 'gridlab.viz.grid_plots',
    'plot_values': 'gridlab.viz.grid_plots',
    'display_video': 'gridlab.viz.video',
    'read_video': 'gridlab.viz.video',
    'save_video': 'gridlab.viz.video',
    'run_experiment': 'gridlab.experiments.run',
    'RunResult': 'gridlab.experiments.run',
}
# The layers, importable as attributes (`gridlab.viz`) without an import first.
_SUBPACKAGES = ('analysis', 'cli', 'core', 'envs', 'evaluation', 'experiments', 'loops',
                'planning', 'registry', 'viz')

__all__ = sorted([
    'ACTION_NAMES', 'Action', 'Actor', 'CSVLogger', 'Checkpointable', 'ContextualBandit',
    'DiscretisedObservation', 'Dispatcher', 'Environment', 'EnvironmentLoop',
    'EnvironmentSpec', 'EnvironmentWrapper', 'EpisodeObserver', 'GridWorld',
    'HasActionProbabilities', 'HasDiscount', 'HasQValues', 'InMemoryLogger', 'Logger',
    'MarkovChain', 'MultiArmedBandit', 'NoOpLogger', 'ObservationType',
    'OneHotObservation', 'PassiveActor', 'ReportsLoss',
    'SinglePrecisionWrapper', 'TASKS', 'TabularMDP', 'TabularModel', 'TerminalLogger',
    'TimeFilter', 'TrainingResult', 'TrainsOnBatches',
    'actions_optimal_fraction', 'agent_discount', 'behaviour_cloning',
    'build_gridworld_task', 'evaluate', 'evaluation_mode', 'expert_demonstrations',
    'greedy_actions', 'greedy_is_optimal', 'greedy_return_from_start',
    'make_environment_spec', 'maxent_irl', 'optimal_fraction', 'optimal_q_values',
    'policy_evaluation', 'policy_iteration', 'q_table', 'run_loop', 'setup_environment',
    'train_until_optimal', 'value_iteration', 'value_iteration_history', *_LAZY])

# The root is where the layers meet: it tells the GridWorld (envs) which
# module draws it (viz), so that `world.plot_grid()` works without envs
# importing a layer above it.
_gridworld.set_painter(lambda: _importlib.import_module('gridlab.viz.world_pictures'))

# gymnasium.make('gridlab/simple-v0') works once gridlab is imported, without
# gridlab importing Gymnasium (see gridlab/envs/adapters/gymnasium_ids.py).
_gymnasium_ids.register_with_gymnasium()


def __getattr__(name):
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
    elif name in _SUBPACKAGES:
        value = _importlib.import_module(f'gridlab.{name}')
    else:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    globals()[name] = value  # Later look-ups skip this function.
    return value


def __dir__():
    return sorted(set(__all__) | set(_SUBPACKAGES))
