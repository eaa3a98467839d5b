"""REINFORCE (Williams, 1992): make the actions of good episodes more likely.

After each episode (inside `update()`, so the run loop stays generic) the
agent computes every step's discounted return G_t, normalises them, and takes
one gradient step on

    loss = -mean( log pi(a_t | s_t) * (G_t - b(s_t)) ) - entropy_cost * entropy

where the baseline b is a learned state value if `baseline=True`, else 0.
With a baseline, a truncated episode is bootstrapped from b(last state).
"""

from typing import Optional, Sequence

import torch
from torch import nn

import gridlab
from gridlab.core import validation
from agents.common import networks
from agents.common.policy_agent import PolicyAgent, policy_mlp
from agents.common.torch_utils import standardized


class PolicyGradientAgent(PolicyAgent):
    """Monte Carlo policy gradient with a softmax policy."""

    def __init__(self,
                 environment_spec: gridlab.EnvironmentSpec,
                 network: Optional[nn.Module] = None,
                 learning_rate: float = 1e-2,
                 discount: float = 1.,
                 hidden_sizes: Sequence[int] = (128,),
                 dropout: float = 0.,
                 baseline: bool = False,
                 entropy_cost: float = 0.,
                 normalize_advantages: bool = True,
                 count_bonus: float = 0.,
                 count_bonus_decay_steps: Optional[int] = None,
                 conv_channels: Sequence[int] = (16, 32, 64),
                 conv_kernels: Sequence[int] = (2,),
                 conv_strides: Optional[Sequence[int]] = None,
                 conv_padding: Optional[Sequence[int]] = (0,),
                 conv_pools: Sequence[int] = (2, 1, 1),
                 device: Optional[str] = 'cpu',
                 seed: Optional[int] = None):
        """Builds the agent.

        Args:
          environment_spec: discrete actions; array observations (fed flat,
            or images through convolutions) or a state index (fed one-hot).
          network: maps observations to action logits; default an MLP
            with `hidden_sizes` (and `dropout` after each hidden layer, 0.6 in
            classic tutorials). Your own network takes the
            observations as they come (a batch of indices or of arrays in
            their shape), not one-hot or flat.
          learning_rate: Adam's step size.
          discount: the agent's discount, multiplied onto the TimeStep's (which
            carries the task's: 0.9 on the GridWorld tasks, 0.99 on Gymnasium).
          baseline: learn a state value and subtract it from the returns.
          entropy_cost: weight of the entropy bonus.
          normalize_advantages: scale each episode's advantages (the returns,
            less the baseline if there is one) to mean 0 and standard deviation 1.
          count_bonus: each step's reward gains count_bonus / sqrt(visits
            of the observation reached), PPO's and the actor-critic's count
            bonus (`agents.common.exploration.VisitCountBonus`); it needs
            discrete observations, such as a GridWorld's STATE_INDEX. 0 turns
            it off.
          count_bonus_decay_steps: if set, the bonus falls linearly to 0
            over this many environment steps, counted as the agent learns
            (at the end of each episode).
          conv_channels: image observations (H, W, C) pass through
            convolutions of these channels before the default network's MLP
            (the baseline's too, sharing them); `()` feeds images flat.
            conv_kernels, conv_strides, conv_padding, conv_pools: as PPO's
            (`agents.common.networks.conv_torso`), whose defaults these are.
          device: 'cpu' (default), 'cuda' or 'auto'.
          seed: seeds the weights, the dropout masks and the action sampling.
        """
        if network is not None and dropout:
            raise ValueError('dropout applies to the default network; add it to '
                             'your own network instead')
        self._network = networks.check_network('network', network)
        self._hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes)
        self._dropout = validation.check_in_range('dropout', dropout, 0., 1.,
                                                  high_open=True)
        self._use_baseline = baseline
        self._normalize = normalize_advantages
        super().__init__(environment_spec, discount, learning_rate, entropy_cost,
                         device, seed, count_bonus=count_bonus,
                         count_bonus_decay_steps=count_bonus_decay_steps,
                         conv=networks.conv_settings(conv_channels, conv_kernels,
                                                     conv_strides, conv_padding, conv_pools))

    def _build(self, scaling, input_size):
        policy = self._network
        if policy is None:
            policy = nn.Sequential(scaling, policy_mlp(
                input_size, self._hidden_sizes, self._num_actions, self._dropout,
                self._generator))
        self._policy = policy.to(self._device)
        self._value = None
        if self._use_baseline:
            self._value = nn.Sequential(scaling, policy_mlp(
                input_size, self._hidden_sizes, 1, 0., self._generator)).to(self._device)

    def _modules(self):
        modules = {'policy': self._policy}
        if self._value is not None:
            modules['value'] = self._value
        return modules

    def _ready_to_learn(self, last: bool) -> bool:
        return last  # Monte Carlo: the whole episode, once it is over.

    def _learn(self, observations, actions, rewards, discounts, next_observation,
               last):
        bootstrap = torch.zeros(())
        value_loss = torch.zeros(())
        if self._value is not None:
            with torch.no_grad():  # Counts only if truncated: discount > 0.
                bootstrap = self._value(next_observation)[0, 0]
        returns = self.discounted_returns(rewards, discounts, bootstrap)
        advantages = returns
        if self._value is not None:
            values = self._value(observations)[:, 0]
            value_loss = nn.functional.mse_loss(values, returns)
            advantages = returns - values.detach()
        if self._normalize:
            advantages = standardized(advantages)
        return self._policy_loss(observations, actions, advantages) + value_loss
