"""gridlab's agents; each is a `gridlab.Actor` built from an environment spec.

    entries.py         the names the `gridlab` command knows them by
    common/            what they share: exploration, networks, the policy base
    random_agent.py    RandomAgent
    tabular.py         QLearning, SARSA
    nfq.py, dqn.py     NeuralFittedQAgent, DQN
    policy_gradient.py PolicyGradientAgent (REINFORCE)
    actor_critic.py    ActorCriticAgent
    ppo.py             PPO (one environment, or batches of many)
    bandits.py         EpsilonGreedy, UCB, Softmax, GradientBandit
    random_search.py   RandomPolicySearch, ParameterisedPolicySearch
    options.py         SMDPQLearning, IntraOptionQLearning (gridlab.planning.option_models)

Classes are imported on first use, so looking at the registry loads no torch.
"""

import importlib

_CLASSES = {
    'ActorCriticAgent': 'agents.actor_critic',
    'BatchedQLearning': 'agents.batched_tabular',
    'BatchedSARSA': 'agents.batched_tabular',
    'DQN': 'agents.dqn',
    'EpsilonGreedy': 'agents.bandits',
    'GradientBandit': 'agents.bandits',
    'IntraOptionQLearning': 'agents.options',
    'NeuralFittedQAgent': 'agents.nfq',
    'PolicyGradientAgent': 'agents.policy_gradient',
    'ParameterisedPolicySearch': 'agents.random_search',
    'PPO': 'agents.ppo',
    'QLearning': 'agents.tabular',
    'RandomAgent': 'agents.random_agent',
    'RandomPolicySearch': 'agents.random_search',
    'SARSA': 'agents.tabular',
    'SMDPQLearning': 'agents.options',
    'Softmax': 'agents.bandits',
    'UCB': 'agents.bandits',
}

__all__ = sorted(_CLASSES)


def __getattr__(name):
    if name not in _CLASSES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(_CLASSES[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_CLASSES))
