"""Environments: each a `dm_env.Environment`, one per file.

    base.py        the auto-reset base class and the one action check
    actions.py     the four grid moves (order, names, directions)
    layout.py      reading numeric and ASCII layouts
    model.py       TabularModel, the dynamics of any finite MDP as arrays
    gridworld.py   GridWorld          tasks.py      the named tasks
    tabular_mdp.py TabularMDP, MarkovChain          bandits.py    bandits
    wrappers.py    wrappers, setup_environment
    gymnasium_adapters.py  Gymnasium both ways (imports gymnasium: not loaded here)
    multiagent.py  MultiAgentGridWorld, several agents on one grid, and its joint model
    pettingzoo_adapter.py  as a PettingZoo ParallelEnv (imports pettingzoo: not loaded here)
"""

from gridlab.envs.actions import ACTION_NAMES, Action
from gridlab.envs.bandits import ContextualBandit, MultiArmedBandit
from gridlab.envs.base import Environment
from gridlab.envs.gridworld import GridWorld, ObservationType
from gridlab.envs.layout import parse_layout
from gridlab.envs.model import TabularModel
from gridlab.envs.multiagent import (MultiAgentGridWorld,
                                             build_multiagent_task)
from gridlab.envs.tabular_mdp import MarkovChain, TabularMDP
from gridlab.envs.tasks import TASKS, build_gridworld_task
from gridlab.envs.wrappers import (EnvironmentWrapper,
                                           SinglePrecisionWrapper,
                                           setup_environment)
