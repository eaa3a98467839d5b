"""gridlab's agents; each is a `gridlab.Actor` built from an environment spec."""

from agents.dqn import DQN
from agents.nfq import NeuralFittedQAgent
from agents.random_agent import RandomAgent
from agents.tabular import SARSA, QLearning
from agents.actor_critic import ActorCriticAgent
from agents.policy_gradient import PolicyGradientAgent
