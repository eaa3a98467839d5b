"""Environments: each a `dm_env.Environment`, one per file."""

from gridlab.environments.bandits import ContextualBandit, MultiArmedBandit
from gridlab.environments.base import Environment
from gridlab.environments.gridworld import (ACTION_NAMES, GridWorld,
                                            ObservationType, TabularModel)
from gridlab.environments.gymnasium_adapters import (DmEnvAsGymnasium,
                                                    GymnasiumWrapper,
                                                    as_gymnasium)
from gridlab.environments.tabular_mdp import MarkovChain, TabularMDP
from gridlab.environments.tasks import TASKS, build_gridworld_task
from gridlab.environments.wrappers import (EnvironmentWrapper,
                                           SinglePrecisionWrapper,
                                           setup_environment)
