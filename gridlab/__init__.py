"""gridlab: dm_env grid worlds, Acme-style actors and PyTorch agents.

The public names, in the order a tutorial meets them:

    env = gridlab.build_gridworld_task('simple')        # a dm_env.Environment
    env, spec = gridlab.setup_environment(env)          # float32 + specs
    returns = gridlab.run_loop(env, agent, num_episodes=100)
    frames = gridlab.evaluate(env, agent, evaluation_episodes=2)

`import gridlab` is light: names whose modules need matplotlib, torch,
Gymnasium or imageio (plots, video, checkpoints, the Gymnasium adapters,
experiments) are imported the first time they are used.
"""

import importlib

from gridlab.core import (Actor, Checkpointable, HasActionProbabilities,
                          HasDiscount, HasQValues, ReportsLoss, agent_discount,
                          evaluation_mode)
from gridlab.environments import (ACTION_NAMES, Action, ContextualBandit,
                                  Environment, EnvironmentWrapper, GridWorld,
                                  MarkovChain, MultiArmedBandit, ObservationType,
                                  SinglePrecisionWrapper, TASKS, TabularMDP,
                                  TabularModel, build_gridworld_task,
                                  setup_environment)
from gridlab.environments.gymnasium_models import tabular_model_from_gymnasium
from gridlab.environments.observation_wrappers import (DiscretisedObservation,
                                                       OneHotObservation)
from gridlab.irl import behaviour_cloning, expert_demonstrations, maxent_irl
from gridlab.judging import (TrainingResult, actions_optimal_fraction,
                             greedy_actions, greedy_is_optimal,
                             greedy_return_from_start, optimal_fraction,
                             optimal_q_values, q_table, train_until_optimal)
from gridlab.loggers import (CSVLogger, Dispatcher, InMemoryLogger, Logger,
                             NoOpLogger, TerminalLogger, TimeFilter)
from gridlab.loop import (EnvironmentLoop, EpisodeObserver, evaluate, run_loop)
from gridlab.planning import (policy_evaluation, policy_iteration,
                              value_iteration, value_iteration_history)
from gridlab.replay import ReplayBuffer, Transitions
from gridlab.specs import EnvironmentSpec, make_environment_spec

__version__ = '0.1.0'

# name -> module that defines it; imported on first use (PEP 562).
_LAZY = {
    'DmEnvAsGymnasium': 'gridlab.environments.gymnasium_adapters',
    'GymnasiumWrapper': 'gridlab.environments.gymnasium_adapters',
    'as_gymnasium': 'gridlab.environments.gymnasium_adapters',
    'BatchedGridWorld': 'gridlab.environments.batched',
    'GymnasiumVectorWrapper': 'gridlab.environments.vector_adapters',
    'as_gymnasium_vector': 'gridlab.environments.vector_adapters',
    'greedy_policy': 'gridlab.plotting',
    'moving_average': 'gridlab.plotting',
    'plot_action_values': 'gridlab.plotting',
    'plot_greedy_policy': 'gridlab.plotting',
    'plot_grid': 'gridlab.plotting',
    'plot_learning_curve': 'gridlab.plotting',
    'plot_policy': 'gridlab.plotting',
    'plot_state_value': 'gridlab.plotting',
    'plot_values': 'gridlab.plotting',
    'display_video': 'gridlab.video',
    'read_video': 'gridlab.video',
    'save_video': 'gridlab.video',
    'run_experiment': 'gridlab.experiment',
    'RunResult': 'gridlab.experiment',
    'TensorBoardLogger': 'gridlab.tensorboard_logger',
}
_SUBMODULES = ('checkpoints', 'cli', 'diagnostics', 'experiment', 'offline',
               'plotting', 'recording', 'registry', 'rendering', 'report', 'video')


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f'gridlab.{name}')
    else:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    globals()[name] = value  # Later look-ups skip this function.
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
