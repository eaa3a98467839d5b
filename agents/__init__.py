"""gridlab's agents; each is a `gridlab.Actor` built from an environment spec."""

from agents.actor_critic import ActorCriticAgent
from agents.bandits import UCB, EpsilonGreedy, GradientBandit, Softmax
from agents.dqn import DQN
from agents.nfq import NeuralFittedQAgent
from agents.policy_gradient import PolicyGradientAgent
from agents.random_agent import RandomAgent
from agents.tabular import SARSA, QLearning
