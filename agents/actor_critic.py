"""Advantage actor-critic: a policy (actor) and a state-value critic.

Every `n_steps` steps, or at the end of an episode, the agent computes
returns bootstrapped from the critic, G_t = r_t + d_t * ... + d * V(s_T) (the
bootstrap vanishes after termination, where d = 0, and counts after a
truncation), and takes one gradient step on

    actor:  -mean( log pi(a_t | s_t) * (G_t - V(s_t)) ) - entropy_cost * entropy
    critic: value_cost * mean( (G_t - V(s_t))^2 )

With `n_steps=None` it learns from whole episodes. The actor and critic have
separate MLPs, or one shared body with two heads (`shared_body=True`).
"""

from typing import Optional, Sequence

import torch
from torch import nn

import gridlab
from gridlab.core import validation
from agents.common import networks
from agents.common.policy_agent import PolicyAgent


class ActorCriticAgent(PolicyAgent):
    """Advantage actor-critic (A2C, one environment)."""

    def __init__(self,
                 environment_spec: gridlab.EnvironmentSpec,
                 learning_rate: float = 3e-3,
                 discount: float = 1.,
                 n_steps: Optional[int] = None,
                 hidden_sizes: Sequence[int] = (64, 64),
                 shared_body: bool = False,
                 entropy_cost: float = 0.01,
                 value_cost: float = 0.5,
                 normalize_advantages: bool = True,
                 device: Optional[str] = 'cpu',
                 seed: Optional[int] = None):
        """Builds the agent.

        Args:
          environment_spec: vector observations, discrete actions.
          learning_rate: Adam's step size (actor and critic together).
          discount: the agent's discount, multiplied onto the TimeStep's (which
            carries the task's: 0.9 on the GridWorld tasks, 0.99 on Gymnasium).
          n_steps: learn every this many steps (bootstrapping from the
            critic); None for once per episode.
          hidden_sizes: widths of the hidden layers.
          shared_body: one body with a policy head and a value head.
          entropy_cost: weight of the entropy bonus.
          value_cost: weight of the critic's loss.
          normalize_advantages: scale advantages to mean 0, std 1 per update.
          device: 'cpu' (default), 'cuda' or 'auto'.
          seed: seeds the weights and the action sampling.
        """
        self._n_steps = validation.check_optional_positive_int('n_steps', n_steps)
        self._hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes)
        self._shared_body = shared_body
        self._value_cost = validation.check_nonnegative('value_cost', value_cost)
        self._normalize = normalize_advantages
        super().__init__(environment_spec, discount, learning_rate, entropy_cost,
                         device, seed)

    def _build(self, scaling, input_size):
        def body():
            return nn.Sequential(scaling, networks.mlp((input_size,) + self._hidden_sizes),
                                 nn.ReLU())
        width = self._hidden_sizes[-1]
        actor_body = body()
        critic_body = actor_body if self._shared_body else body()
        self._policy = nn.Sequential(actor_body, nn.Linear(width, self._num_actions))
        self._value = nn.Sequential(critic_body, nn.Linear(width, 1))
        self._policy.to(self._device)
        self._value.to(self._device)

    def _modules(self):
        return {'policy': self._policy, 'value': self._value}

    def _ready_to_learn(self, last: bool) -> bool:
        return last or (self._n_steps is not None and
                        len(self._trajectory) >= self._n_steps)

    def _learn(self, observations, actions, rewards, discounts, next_observation,
               last):
        with torch.no_grad():
            bootstrap = self._value(next_observation)[0, 0]
        returns = self.discounted_returns(rewards, discounts, bootstrap)
        values = self._value(observations)[:, 0]
        advantages = returns - values.detach()
        if self._normalize and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        value_loss = nn.functional.mse_loss(values, returns)
        return (self._policy_loss(observations, actions, advantages) +
                self._value_cost * value_loss)
