"""REINFORCE (Williams, 1992): make the actions of good episodes more likely.

After each episode (inside `update()`, so the run loop stays generic) the
agent computes every step's discounted return G_t, normalises them, and takes
one gradient step on

    loss = -mean( log pi(a_t | s_t) * (G_t - b(s_t)) ) - entropy_cost * entropy

where the baseline b is a learned state value if `baseline=True`, else 0.
With a baseline, a truncated episode is bootstrapped from b(last state).

On N copies (`train`, or `gridlab train --num-envs N`) each copy plays its
own episodes and the agent takes one step on the episodes of the copies
once N of them have ended (the batch of episodes of Spinning Up's VPG), its
advantages normalised over the batch. On one copy that is the
one-environment agent, step for step.
"""

from typing import Callable, List, Optional, Sequence

import dm_env
import numpy as np
import torch
from torch import nn

import gridlab
from gridlab.core import validation
from agents.common import networks
from agents.common.exploration import random_argmax
from agents.common.policy_agent import PolicyAgent, policy_mlp
from agents.common.torch_utils import standardized
from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary

_FIRST, _LAST = int(dm_env.StepType.FIRST), int(dm_env.StepType.LAST)


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
                 policy_bias: bool = True,
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
            classic tutorials; `()`: one linear layer, the baseline's too).
            Your own network takes the
            observations as they come (a batch of indices or of arrays in
            their shape), not one-hot or flat.
          learning_rate: Adam's step size.
          discount: the agent's discount, multiplied onto the TimeStep's (which
            carries the task's: 0.9 on the GridWorld tasks, 0.99 on Gymnasium).
          baseline: learn a state value and subtract it from the returns.
          policy_bias: False leaves the bias out of the default policy's last
            layer: with `hidden_sizes=()` on state indices the policy is
            then a table of logits, as PPO's and the actor-critic's, where
            what one cell learns moves no other cell's actions.
          entropy_cost: weight of the entropy bonus.
          normalize_advantages: scale the advantages of each learning step
            (the returns, less the baseline if there is one; one episode's, or
            on N copies the batch's) to mean 0 and standard deviation 1.
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
        self._policy_bias = validation.check_bool('policy_bias', policy_bias)
        if network is not None and not policy_bias:
            raise ValueError('policy_bias=False applies to the default network; build '
                             'your own network without the bias instead')
        self._network = networks.check_network('network', network)
        self._hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes,
                                                  allow_empty=True)
        self._dropout = validation.check_in_range('dropout', dropout, 0., 1.,
                                                  high_open=True)
        self._use_baseline = baseline
        self._normalize = normalize_advantages
        super().__init__(environment_spec, discount, learning_rate, entropy_cost,
                         device, seed, count_bonus=count_bonus,
                         count_bonus_decay_steps=count_bonus_decay_steps,
                         conv=networks.conv_settings(conv_channels, conv_kernels,
                                                     conv_strides, conv_padding, conv_pools))
        # Batched training (`observe_first_batch` starts it): each copy's
        # episode under way, and the finished ones with the observation
        # after their last step, waiting for one learning step.
        self._episodes: Optional[List[list]] = None
        self._finished: List[tuple] = []
        self._last_observations: Optional[np.ndarray] = None

    def _build(self, scaling, input_size):
        policy = self._network
        if policy is None:
            policy = nn.Sequential(scaling, policy_mlp(
                input_size, self._hidden_sizes, self._num_actions, self._dropout,
                self._generator, bias=self._policy_bias))
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
        return self._episodes_loss([(observations, actions, rewards, discounts,
                                     next_observation)])

    def _episodes_loss(self, episodes) -> torch.Tensor:
        """The loss over whole episodes, each `_as_tensors`' (observations,
        actions, rewards, discounts, the observation after its last step)."""
        value_loss = torch.zeros(())
        bootstraps = torch.zeros(len(episodes))
        if self._value is not None:
            with torch.no_grad():  # Counts only if truncated: discount > 0.
                bootstraps = self._value(torch.cat([e[4] for e in episodes]))[:, 0]
        returns = torch.cat([self.discounted_returns(rewards, discounts, bootstrap)
                             for (_, _, rewards, discounts, _), bootstrap
                             in zip(episodes, bootstraps)])
        observations = torch.cat([e[0] for e in episodes])
        advantages = returns
        if self._value is not None:
            values = self._value(observations)[:, 0]
            value_loss = nn.functional.mse_loss(values, returns)
            advantages = returns - values.detach()
        if self._normalize:
            advantages = standardized(advantages)
        return (self._policy_loss(observations, torch.cat([e[1] for e in episodes]),
                                  advantages) + value_loss)

    # -------------------------------------------------- many environments

    batch_steps_per_update = 1  # The loop asks after every batch step.

    def train(self, environment, num_steps: int,
              stop: Optional[Callable[['PolicyGradientAgent', int], bool]] = None
              ) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)

    def _check_batch(self, observations) -> np.ndarray:
        array = np.asarray(observations)
        shape = self._observation_spec.shape
        if array.ndim != len(shape) + 1 or array.shape[1:] != shape:
            raise ValueError(f'a batch of observations of shape {array.shape}; expected '
                             f'(copies,) + {shape} (the environment spec '
                             f'{self._observation_spec.name!r})')
        return array

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """One action per copy, shape (N,): sampled as `select_action` samples
        (the most probable under `evaluation_mode`); copies not `acting` draw
        nothing and get action 0."""
        array = self._check_batch(observations)
        probabilities = self._probabilities(array, 'select_actions')
        actions = np.zeros(len(array), np.int64)
        chosen = np.arange(len(array)) if acting is None else np.flatnonzero(acting)
        if self.greedy:
            actions[chosen] = [random_argmax(probabilities[i], self._rng) for i in chosen]
            return actions
        # `select_action`'s inverse-CDF draw, one uniform per acting copy in order.
        below = np.cumsum(probabilities[chosen], axis=1) <= self._rng.random(len(chosen))[:, None]
        actions[chosen] = np.minimum(below.sum(axis=1), self._num_actions - 1)
        return actions

    def observe_first_batch(self, timestep: dm_env.TimeStep) -> None:
        observations = self._check_batch(timestep.observation)
        self._episodes = [[] for _ in observations]
        self._finished = []
        self._last_observations = observations.copy()

    def observe_batch(self, actions, next_timestep: dm_env.TimeStep) -> None:
        if self._episodes is None:
            raise ValueError('observe_batch() before observe_first_batch(): start '
                             'batched training with observe_first_batch(timestep)')
        observations = self._check_batch(next_timestep.observation)
        if len(observations) != len(self._episodes):
            raise ValueError(f'a batch step of {len(observations)} copies; training '
                             f'started with {len(self._episodes)}')
        step_types = np.asarray(next_timestep.step_type)
        # With the count bonus, as on one copy (a restart is not a visit).
        rewards = self._learned_rewards(next_timestep.reward, observations, step_types,
                                        next_timestep.discount)
        discounts = np.broadcast_to(np.asarray(next_timestep.discount, np.float64),
                                    step_types.shape)
        # A new array each step, never written to: trajectories keep views of it.
        previous, self._last_observations = self._last_observations, observations.copy()
        for i, step_type in enumerate(step_types):
            if step_type != _FIRST:  # A restart is not a transition.
                self._episodes[i].append([previous[i], int(actions[i]), float(rewards[i]),
                                          float(discounts[i])])
            if step_type == _LAST:
                self._finished.append((self._episodes[i], self._last_observations[i]))
                self._episodes[i] = []

    def update_batch(self) -> None:
        """One step on the finished episodes once there are as many as copies."""
        if self._episodes is None or len(self._finished) < len(self._episodes):
            return
        finished, self._finished = self._finished, []
        self._policy_mode(training=True)
        loss = self._episodes_loss([self._as_tensors(trajectory, observation)
                                    for trajectory, observation in finished])
        self._step(loss, sum(len(trajectory) for trajectory, _ in finished), 'update_batch')
