"""Advantage actor-critic: a policy (actor) and a state-value critic.

On one environment (the run loop), every `n_steps` steps or at the end of an
episode the agent computes returns bootstrapped from the critic,
G_t = r_t + d_t * ... + d * V(s_T) (the bootstrap vanishes after
termination, where d = 0, and counts after a truncation), and takes one
gradient step on

    actor:  -mean( log pi(a_t | s_t) * (G_t - V(s_t)) ) - entropy_cost * entropy
    critic: value_cost * mean( (G_t - V(s_t))^2 )

With `n_steps=None` it learns from whole episodes. The actor and critic have
separate MLPs, or one shared body with two heads (`shared_body=True`);
images (H, W, C) first pass through convolutions that both share.

On N copies (`num_envs`, through `gridlab.loops.BatchedEnvironmentLoop`) it
is A2C as Mnih et al. (2016) synchronised it and Stable-Baselines3 runs it:
every `n_steps` batch steps, one gradient step on the same loss over the
n_steps x N rollout, with n-step returns that run across the copies'
episode ends by the bootstrapping rule above (`agents.common.rollout`).
"""

from typing import Callable, Optional, Sequence

import dm_env
import numpy as np
import torch
from torch import nn

import gridlab
from gridlab.core import validation
from agents.common import networks
from agents.common.policy_agent import PolicyAgent
from agents.common.reward_scaling import ReturnScaler, load_scale, save_scale
from agents.common.rollout import Rollout, SamplesRollouts, gae
from agents.common.torch_utils import standardized
from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary

_LAST = int(dm_env.StepType.LAST)


class ActorCriticAgent(SamplesRollouts, PolicyAgent):
    """Advantage actor-critic, on one environment or N copies (A2C)."""

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
                 normalize_rewards: bool = False,
                 max_grad_norm: Optional[float] = None,
                 activation: str = 'relu',
                 orthogonal_init: bool = False,
                 policy_bias: bool = True,
                 optimizer: str = 'adam',
                 learning_rate_decay_steps: Optional[int] = None,
                 scale_observations: bool = True,
                 gae_lambda: float = 1.,
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
          learning_rate: Adam's step size (actor and critic together).
          discount: the agent's discount, multiplied onto the TimeStep's (which
            carries the task's: 0.9 on the GridWorld tasks, 0.99 on Gymnasium).
          n_steps: learn every this many steps (bootstrapping from the
            critic); None for once per episode. Batched training (N copies)
            needs it: each update learns from n_steps steps of every copy.
          hidden_sizes: widths of the hidden layers; `()` maps the features
            (a one-hot cell, say) straight to the logits and the value.
          shared_body: one body with a policy head and a value head.
          entropy_cost: weight of the entropy bonus.
          value_cost: weight of the critic's loss.
          normalize_advantages: scale advantages to mean 0, std 1 per update.
          normalize_rewards: divide the rewards learned from by the running
            standard deviation of the discounted returns, clipped to
            [-10, 10] (`agents.common.reward_scaling`, Stable-Baselines3's
            `VecNormalize` rewards, which the RL Zoo's A2C settings for
            Acrobot and MountainCar use). Evaluation and the logged returns
            stay the task's own.
          max_grad_norm: if set, gradients are clipped to this global norm
            (Stable-Baselines3's A2C clips to 0.5).
          activation: 'relu' or 'tanh' (Stable-Baselines3's), after each
            hidden layer.
          orthogonal_init: Stable-Baselines3's and CleanRL's initialisation
            (orthogonal weights, zero biases, a policy head of gain 0.01, so
            the first policy is near uniform) instead of torch's default.
          policy_bias: False leaves the bias out of the policy's last layer;
            with `hidden_sizes=()` on state indices the policy is a table of
            logits, as PPO's (nothing learned in visited cells leaks into
            unvisited ones, which keep their first logits, so exploration
            reaches them).
          optimizer: 'adam' or 'rmsprop' (Stable-Baselines3's A2C: alpha
            0.99, epsilon 1e-5).
          learning_rate_decay_steps: if set, the learning rate falls
            linearly to 0 over this many environment steps (all copies).
          scale_observations: map observations with finite bounds to
            [-1, 1]; False feeds them as they are (LunarLander's bounds are
            far wider than its usual values).
          gae_lambda: batched training's advantages are GAE(lambda)
            estimates; 1 (the default) makes them the n-step returns minus
            V(s_t), as above. The one-environment path always takes 1.
          count_bonus: each step's reward gains count_bonus / sqrt(visits
            of the observation reached), counted over all copies, as PPO's
            (`agents.common.exploration.VisitCountBonus`); it needs discrete
            observations, such as a GridWorld's STATE_INDEX. 0 turns it off.
          count_bonus_decay_steps: if set, the bonus falls linearly to 0
            over this many environment steps (all copies).
          conv_channels: image observations (H, W, C: a MiniGrid view, a
            MinAtar board, a GRID) pass through convolutions of these
            channels, which the actor and the critic share, before their
            MLPs; `()` feeds images flat. Other observations ignore the conv
            options. conv_kernels, conv_strides, conv_padding, conv_pools:
            as PPO's (`agents.common.networks.conv_torso`); the defaults
            are PPO's, rl-starter-files' MiniGrid torso.
          device: 'cpu' (default), 'cuda' or 'auto'.
          seed: seeds the weights and the action sampling.
        """
        self._n_steps = validation.check_optional_positive_int('n_steps', n_steps)
        self._hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes,
                                                    allow_empty=True)
        self._policy_bias = validation.check_bool('policy_bias', policy_bias)
        self._shared_body = validation.check_bool('shared_body', shared_body)
        self._value_cost = validation.check_nonnegative('value_cost', value_cost)
        self._normalize = validation.check_bool('normalize_advantages',
                                                normalize_advantages)
        self._max_grad_norm = (None if max_grad_norm is None else
                               validation.check_positive('max_grad_norm', max_grad_norm))
        self._rollout = None  # Batched training's rollout, from observe_first_batch.
        self._return_scaler = (ReturnScaler() if validation.check_bool(
            'normalize_rewards', normalize_rewards) else None)
        self._activation = networks.check_activation(activation)
        self._gae_lambda = validation.check_probability('gae_lambda', gae_lambda)
        self._learning_rate_decay_steps = validation.check_optional_positive_int(
            'learning_rate_decay_steps', learning_rate_decay_steps)
        self._orthogonal = validation.check_bool('orthogonal_init', orthogonal_init)
        super().__init__(environment_spec, discount, learning_rate, entropy_cost,
                         device, seed, optimizer, scale_observations, count_bonus,
                         count_bonus_decay_steps,
                         networks.conv_settings(conv_channels, conv_kernels, conv_strides,
                                                conv_padding, conv_pools))

    def _build(self, scaling, input_size):
        def body():
            if not self._hidden_sizes:  # The heads read the features themselves.
                return scaling
            hidden = networks.mlp((input_size,) + self._hidden_sizes)
            return nn.Sequential(scaling, networks.with_activation(hidden, self._activation),
                                 networks.ACTIVATIONS[self._activation]())
        width = self._hidden_sizes[-1] if self._hidden_sizes else input_size
        actor_body = body()
        critic_body = actor_body if self._shared_body else body()
        self._policy = nn.Sequential(actor_body, nn.Linear(width, self._num_actions,
                                                           bias=self._policy_bias))
        self._value = nn.Sequential(critic_body, nn.Linear(width, 1))
        if self._orthogonal:
            networks.orthogonal_init(self._value, 1.)
            networks.orthogonal_init(self._policy, 0.01)  # Last: a shared body keeps its gain.
            networks.orthogonal_init_convs(scaling)
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
        return self._loss(observations, actions, returns - values.detach(), values, returns)

    def _loss(self, inputs, actions, advantages, values, returns) -> torch.Tensor:
        """The actor's loss on `advantages` (normalised if asked) plus the
        critic's on `values` against `returns`: one rule, one environment or N."""
        if self._normalize:
            advantages = standardized(advantages)
        value_loss = nn.functional.mse_loss(values, returns)
        return self._policy_loss(inputs, actions, advantages) + self._value_cost * value_loss

    # --------------------------------------------------- rewards, checkpoints

    def observe_first(self, timestep) -> None:
        super().observe_first(timestep)
        if self._return_scaler is not None:
            self._return_scaler.reset()

    def _state(self) -> dict:
        state = super()._state()
        save_scale(self._return_scaler, state)
        return state

    def _load_state(self, state: dict) -> None:
        super()._load_state(state)
        load_scale(self._return_scaler, state, 'actor-critic agent')

    # -------------------------------------------- many environments: A2C

    @property
    def batch_steps_per_update(self) -> int:
        """A rollout of n_steps batch steps: the batched loop's rounds (1 for
        n_steps=None, which batched training refuses)."""
        return self._n_steps or 1

    def check_batched(self) -> None:
        """Refuses batched training without n_steps."""
        if self._n_steps is None:
            raise ValueError('batched training of ActorCriticAgent (num_envs copies) learns '
                             'every n_steps steps of each copy; got n_steps=None (whole '
                             'episodes), which only the one-environment run loop takes. '
                             'Set n_steps (A2C usually takes 5)')

    def _as_inputs(self, observations) -> torch.Tensor:
        return torch.as_tensor(np.asarray(observations), dtype=torch.float32,
                               device=self._device)

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._policy(inputs)

    def observe_first_batch(self, timestep: dm_env.TimeStep) -> None:
        self.check_batched()
        self._rollout = Rollout(timestep, self.batch_steps_per_update, np.float32)
        if self._return_scaler is not None:
            self._return_scaler.reset()

    def observe_batch(self, actions, next_timestep: dm_env.TimeStep) -> None:
        if self._rollout is None:
            raise ValueError('observe_batch() before observe_first_batch(): start '
                             'batched training with observe_first_batch(timestep)')
        self._rollout.check(next_timestep)  # Before the bonus counts its visits.
        rewards = self._learned_rewards(next_timestep.reward, next_timestep.observation,
                                        next_timestep.step_type, next_timestep.discount)
        self._rollout.record(actions, next_timestep, rewards, self.discount)

    def update_batch(self) -> None:
        """Learns once the rollout holds n_steps batch steps."""
        rollout = self._rollout
        if rollout is None or not rollout.full:
            return
        if (rollout.step_types[:-1] != _LAST).any():
            self._step(self._rollout_loss(*(t.to(self._device) for t in rollout.tensors)),
                       rollout.actions.size, 'update_batch')
        else:  # Every copy restarting throughout (n_steps=1): no transition to learn from.
            self.steps += rollout.actions.size
        rollout.start_next()

    def train(self, environment, num_steps: int,
              stop: Optional[Callable[['ActorCriticAgent', int], bool]] = None
              ) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)

    def _rollout_loss(self, observations, actions, rewards, discounts, step_types):
        """The loss of `_learn` over a rollout of T steps of N copies (T + 1
        observations), its n-step returns bootstrapped from the critic's
        value of the last observations (with gae_lambda < 1, the critic's
        targets are GAE's advantages plus V(s_t)); restarts are not
        transitions."""
        length, n = actions.shape
        shape = tuple(observations.shape[2:])  # One observation's.
        values = self._value(observations.reshape(((length + 1) * n,) + shape))[:, 0]
        values = values.reshape(length + 1, n)
        with torch.no_grad():  # lambda 1: the n-step return minus V(s_t).
            advantages = gae(rewards, discounts, values, step_types, self._gae_lambda)
            returns = advantages + values[:-1]
        index = torch.nonzero((step_types[:-1] != _LAST).reshape(-1))[:, 0]
        return self._loss(observations[:-1].reshape((length * n,) + shape)[index],
                          actions.reshape(-1)[index], advantages.reshape(-1)[index],
                          values[:-1].reshape(-1)[index], returns.reshape(-1)[index])
