"""gridlab: dm_env grid worlds, Acme-style actors and PyTorch agents.

The public names, in the order a tutorial meets them:

    env = gridlab.build_gridworld_task('simple')        # a dm_env.Environment
    env, spec = gridlab.setup_environment(env)          # float32 + specs
    returns = gridlab.run_loop(env, agent, num_episodes=100)
    frames = gridlab.evaluate(env, agent, evaluation_episodes=2)
"""

from gridlab.core import Actor, evaluation_mode
from gridlab.environments import (ACTION_NAMES, ContextualBandit, DmEnvAsGymnasium,
                                  Environment, MultiArmedBandit,
                                  EnvironmentWrapper, GridWorld,
                                  GymnasiumWrapper, MarkovChain,
                                  ObservationType, TabularMDP,
                                  SinglePrecisionWrapper, TASKS, TabularModel,
                                  as_gymnasium, build_gridworld_task,
                                  setup_environment)
from gridlab.loggers import (CSVLogger, Dispatcher, InMemoryLogger, Logger,
                             NoOpLogger, TerminalLogger, TimeFilter)
from gridlab.loop import EnvironmentLoop, evaluate, run_loop
from gridlab import diagnostics, offline  # Bandit experiments; off-policy evaluation.
from gridlab.planning import (actions_optimal_fraction, greedy_actions,
                              greedy_is_optimal, greedy_return_from_start,
                              optimal_fraction,
                              optimal_q_values, policy_evaluation,
                              policy_iteration, q_table, train_until_optimal,
                              value_iteration, value_iteration_history)
from gridlab.plotting import (greedy_policy, moving_average, plot_action_values,
                              plot_greedy_policy, plot_grid, plot_learning_curve,
                              plot_policy, plot_state_value, plot_values)
from gridlab.replay import ReplayBuffer, Transitions
from gridlab.specs import EnvironmentSpec, make_environment_spec
from gridlab.video import display_video, read_video, save_video

__version__ = '0.1.0'
