"""gridlab's own agents, by the names the `gridlab` command knows them by.

Registered with gridlab through the `gridlab.agents` entry-point group (see
setup.cfg); classes are named by import path so that listing them imports
no torch. Each entry also says which GridWorld observation the agent learns
from by default and how long it trains, and `hyperparams.toml` beside this
file holds the settings tuned per agent and task (like rl-zoo's
hyperparams/), which `gridlab train` uses unless told otherwise.
"""

import pathlib

from gridlab.envs.gridworld import ObservationType
from gridlab.registry import AgentEntry

try:
    import tomllib
except ImportError:  # Python 3.10.
    import tomli as tomllib

TUNED = tomllib.loads((pathlib.Path(__file__).with_name('hyperparams.toml'))
                      .read_text(encoding='utf-8'))

_ARRAYS = tuple(t for t in ObservationType if t is not ObservationType.STATE_INDEX)
_INDEX = (ObservationType.STATE_INDEX,)

_AGENTS = {
    'random': AgentEntry('agents.random_agent:RandomAgent', ObservationType.STATE_INDEX,
                         episodes=20, description='uniform random actions'),
    'q-learning': AgentEntry('agents.tabular:QLearning', ObservationType.STATE_INDEX,
                             steps=20_000, accepts=_INDEX, logs_loss=False,
                             description='tabular Q-learning'),
    'sarsa': AgentEntry('agents.tabular:SARSA', ObservationType.STATE_INDEX,
                        steps=20_000, accepts=_INDEX, logs_loss=False,
                        description='tabular SARSA'),
    'nfq': AgentEntry('agents.nfq:NeuralFittedQAgent', ObservationType.AGENT_GOAL_POS,
                      steps=5_000, accepts=_ARRAYS,
                      description='neural fitted Q-learning with replay',
                      population='agents.populations.dqn:PopulationNFQ'),
    'dqn': AgentEntry('agents.dqn:DQN', ObservationType.GRID, steps=5_000,
                      accepts=_ARRAYS, description='DQN: target network, double',
                      population='agents.populations.dqn:PopulationDQN'),
    'reinforce': AgentEntry('agents.policy_gradient:PolicyGradientAgent',
                            ObservationType.AGENT_GOAL_POS, steps=30_000,
                            description='REINFORCE policy gradient'),
    'actor-critic': AgentEntry('agents.actor_critic:ActorCriticAgent',
                               ObservationType.AGENT_GOAL_POS, steps=60_000,
                               description='advantage actor-critic',
                               population='agents.populations.actor_critic:'
                                          'PopulationActorCritic'),
    'random-search': AgentEntry('agents.random_search:RandomPolicySearch',
                                ObservationType.STATE_INDEX, episodes=2_000,
                                accepts=_INDEX,
                                description='random deterministic policies, keep the best'),
    'parameterised-search': AgentEntry(
        'agents.random_search:ParameterisedPolicySearch', ObservationType.STATE_INDEX,
        episodes=2_000, accepts=_INDEX,
        description='policies drawn from softmax(theta), theta moved toward good ones'),
    'smdp-q-learning': AgentEntry(
        'agents.options:SMDPQLearning', ObservationType.STATE_INDEX, steps=20_000,
        accepts=_INDEX, logs_loss=False,
        environment_arguments='agents.options:hallway_arguments',
        description='SMDP Q-learning over primitives + hallway options'),
    'intra-option-q-learning': AgentEntry(
        'agents.options:IntraOptionQLearning', ObservationType.STATE_INDEX, steps=20_000,
        accepts=_INDEX, logs_loss=False,
        environment_arguments='agents.options:hallway_arguments',
        description='intra-option Q-learning over primitives + hallway options'),
    'ppo': AgentEntry('agents.ppo:PPO', ObservationType.STATE_INDEX, steps=100_000,
                      description='PPO: clipped surrogate, GAE, minibatch epochs',
                      population='agents.populations.ppo:PopulationPPO'),
}

# Each entry with its tuned settings, task by task.
AGENTS = {name: AgentEntry(**{**entry.__dict__, 'tuned': TUNED.get(name, {})})
          for name, entry in _AGENTS.items()}
