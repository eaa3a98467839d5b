"""PPO: proximal policy optimisation with a clipped surrogate (Schulman et al., 2017).

The agent collects `rollout_length` steps from N copies of an environment,
then takes `update_epochs` passes over the batch in `num_minibatches`
shuffled minibatches, minimising

    -min(ratio * A, clip(ratio, 1 - clip, 1 + clip) * A)        (policy)
    + value_cost * (V(s) - (A + V_old(s)))^2 / 2                  (critic)
    - entropy_cost * entropy(pi(. | s))

with ratio = pi(a | s) / pi_old(a | s) and A the generalised advantage
estimate (GAE, lambda), normalised over the whole batch. Bootstrapping uses
the one rule of every gridlab agent, `discount * timestep.discount`: 0 after
a termination, the ordinary discount after a truncation (the final
observation's value is bootstrapped).

Batches come from `gridlab.loops.BatchedEnvironmentLoop` (or `train`, which
runs it) on a batched environment (`BatchedGridWorld`,
`GymnasiumVectorWrapper` over Gymnasium's vector CartPole), whose copies
restart on the step after a LAST step; those restart "transitions" are
masked out. The agent is also an ordinary `gridlab.Actor`:
the run loop drives it one step at a time (a batch of one copy), and
`evaluate` / judging use `select_action` and `action_probabilities`.

The defaults are those that solve CartPole-v1 fastest on 16 copies (tanh
MLPs, Adam 1e-3, rollouts of 32 steps, 2 minibatches x 4 epochs; measured in
benchmarks/ppo.py); agents/hyperparams.toml holds LunarLander-v3's.
"""

from typing import Callable, Optional, Sequence

import dm_env
import numpy as np
import torch
from dm_env import specs
from torch import nn

import gridlab
from agents.common import networks
from agents.common.exploration import VisitCountBonus
from agents.common.policy_agent import (SamplesFromPolicy, checked_probabilities,
                                        seeded_generators)
from agents.common.renamed import refuse_renamed
from agents.common.reward_scaling import (LearnsShapedRewards, ReturnScaler, load_scale,
                                          save_scale)
from agents.common.rollout import Rollout, SamplesRollouts, gae
from agents.common.torch_utils import (check_observation, clip_grad_norm_, decay_learning_rate,
                                       resolve_device, seeded, standardized)
from gridlab.core import validation
from gridlab.core.checkpoints import Checkpointing
from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary

_FIRST, _MID, _LAST = (int(t) for t in (dm_env.StepType.FIRST, dm_env.StepType.MID,
                                        dm_env.StepType.LAST))


class Encoder(nn.Module):
    """Observations to network inputs: one-hot for a state index; arrays
    scaled, then flat, or for (H, W, C) images with `conv` (the keyword
    arguments of `networks.conv_torso`) through convolutions, which the
    actor and the critic share."""

    def __init__(self, spec: specs.Array, scale: bool = True,
                 conv: Optional[dict] = None):
        super().__init__()
        self.num_values = getattr(spec, 'num_values', None) if spec.shape == () else None
        if spec.shape == () and self.num_values is None:
            raise ValueError(f'PPO needs array observations or a state index '
                             f'(DiscreteArray), got {spec!r}')
        self.one_hot = networks.OneHot(self.num_values) if self.num_values else None
        self.scale = (networks.input_scaling(spec) if scale else nn.Identity()
                      ) if self.num_values is None else None
        self.conv = None
        if conv is not None and conv['channels'] and len(spec.shape) == 3:
            self.conv = nn.Sequential(*networks.conv_torso(spec, **conv))
            self.size = networks.feature_count(self.conv, spec.shape)
        else:
            self.size = self.num_values or int(np.prod(spec.shape))

    def forward(self, x):
        if self.one_hot is not None:
            return self.one_hot(x)
        if self.conv is not None:
            return self.conv(self.scale(x))
        return self.scale(x).flatten(1)


class PPO(LearnsShapedRewards, SamplesFromPolicy, SamplesRollouts, Checkpointing,
          gridlab.Actor):
    """PPO with separate actor and critic MLPs (after a shared conv torso on
    images), on one or many environment copies."""

    def __init__(self,
                 environment_spec: gridlab.EnvironmentSpec,
                 learning_rate: float = 1e-3,
                 discount: float = 1.,
                 gae_lambda: float = 0.95,
                 rollout_length: int = 32,
                 num_minibatches: int = 2,
                 update_epochs: int = 4,
                 clip: float = 0.2,
                 value_cost: float = 0.5,
                 entropy_cost: float = 0.01,
                 max_grad_norm: float = 0.5,
                 hidden_sizes: Sequence[int] = (64, 64),
                 activation: str = 'tanh',
                 conv_channels: Sequence[int] = (16, 32, 64),
                 conv_kernels: Sequence[int] = (2,),
                 conv_strides: Optional[Sequence[int]] = None,
                 conv_padding: Optional[Sequence[int]] = (0,),
                 conv_pools: Sequence[int] = (2, 1, 1),
                 scale_observations: bool = True,
                 normalize_advantages: bool = True,
                 normalize_rewards: bool = False,
                 policy_bias: bool = True,
                 learning_rate_decay_steps: Optional[int] = None,
                 count_bonus: float = 0.,
                 count_bonus_decay_steps: Optional[int] = None,
                 device: Optional[str] = 'cpu',
                 seed: Optional[int] = None,
                 **renamed):
        """Builds the agent; every hyperparameter is here.

        Args:
          environment_spec: one copy's spec (a batched environment's
            `single_environment_spec()`); discrete actions; observations a
            state index (one-hot encoded) or arrays (scaled, flattened).
          learning_rate: Adam's step size.
          discount: the agent's discount, multiplied onto the TimeStep's (the
            task's: 0.9 on GridWorld tasks, 0.99 on Gymnasium ones).
          gae_lambda: GAE's lambda.
          rollout_length: steps per copy between updates (T).
          num_minibatches: minibatches per epoch over the T x N batch.
          update_epochs: passes over each batch.
          clip: the surrogate's clipping range epsilon.
          value_cost: weight of the critic's squared error.
          entropy_cost: weight of the entropy bonus.
          max_grad_norm: gradients are clipped to this global norm.
          hidden_sizes: widths of the hidden layers of both MLPs.
          activation: 'relu' or 'tanh', between the hidden layers.
          conv_channels: image observations (H, W, C: a MiniGrid view, a
            GRID) pass through convolutions of these channels, ReLUs between,
            shared by the actor and the critic, before the MLPs; () flattens
            them into the MLPs instead. Other observations ignore the conv
            options.
          conv_kernels, conv_strides, conv_padding, conv_pools: kernel sizes,
            strides (None: 2 on large pictures, else 1), zero padding (None:
            kernel // 2) and max-pool sizes (1: none), one value for every
            convolution or one per convolution (see
            `agents.common.networks.conv_torso`). The defaults are
            rl-starter-files' MiniGrid torso: 2x2 convolutions of 16, 32 and
            64 channels, unpadded, a 2x2 max-pool after the first.
          scale_observations: map array observations with finite bounds to
            [-1, 1]; False feeds them as they are.
          normalize_advantages: scale each batch's advantages to mean 0 and
            standard deviation 1. Where rewards are sparse (MiniGrid) a
            batch without any is all value-estimate noise, which this would
            blow up to full-size policy steps that wear the entropy down
            before the goal is found; False keeps them as they are (as
            rl-starter-files do).
          normalize_rewards: divide the rewards learned from (the task's
            plus any count bonus) by the running standard deviation of the
            discounted returns, clipped to [-10, 10]
            (`agents.common.reward_scaling`; Stable-Baselines3's
            `VecNormalize` rewards, which the RL Zoo's MountainCar settings
            use). Evaluation and the logged returns stay the task's own.
          policy_bias: False leaves the bias out of the policy's last layer.
            With `hidden_sizes=()` on state indices the policy is then a
            table of logits, one row per cell: nothing learned in visited
            cells (such as "moves into walls cost -5") leaks into cells never
            visited, which stay uniform, so exploration can reach them.
          learning_rate_decay_steps: if set, the learning rate falls
            linearly to 0 over this many environment steps (counted over all
            copies).
          count_bonus: each step's reward gains count_bonus / sqrt(visits
            of the observation reached), counted over all copies
            (`agents.common.exploration.VisitCountBonus`): of each state
            index, or of each distinct integer array observation (a MiniGrid
            view; counted by its bytes). 0 turns it off.
          count_bonus_decay_steps: if set, the count bonus falls linearly to
            0 over this many environment steps, so that what the policy
            finally maximises is the task's own return (a lasting bonus pulls
            it toward rarely visited dead ends).
          device: 'cpu' (default), 'cuda' or 'auto'.
          seed: seeds the weights, the action sampling and the minibatches.
        """
        refuse_renamed(type(self).__name__, renamed)
        actions, observations = environment_spec.actions, environment_spec.observations
        if not hasattr(actions, 'num_values'):
            raise ValueError(f'PPO needs discrete actions (a DiscreteArray action '
                             f'spec), got {actions!r}')
        self._observation_spec = observations
        self._num_actions = int(actions.num_values)
        self.discount = validation.check_probability('discount', discount)
        self.gae_lambda = validation.check_probability('gae_lambda', gae_lambda)
        scale_observations = validation.check_bool('scale_observations', scale_observations)
        self.rollout_length = validation.check_positive_int('rollout_length', rollout_length)
        self.num_minibatches = validation.check_positive_int('num_minibatches',
                                                             num_minibatches)
        self.update_epochs = validation.check_positive_int('update_epochs', update_epochs)
        # A clip of 0 would freeze the policy: every ratio is clipped at once.
        self.clip = validation.check_in_range('clip', clip, 0., 1., low_open=True)
        self.value_cost = validation.check_nonnegative('value_cost', value_cost)
        self.entropy_cost = validation.check_nonnegative('entropy_cost', entropy_cost)
        self.max_grad_norm = validation.check_positive('max_grad_norm', max_grad_norm)
        self.learning_rate = validation.check_positive('learning_rate', learning_rate)
        self.normalize_advantages = validation.check_bool('normalize_advantages',
                                                          normalize_advantages)
        self._return_scaler = (ReturnScaler() if validation.check_bool(
            'normalize_rewards', normalize_rewards) else None)
        hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes, allow_empty=True)
        self.learning_rate_decay_steps = validation.check_optional_positive_int(
            'learning_rate_decay_steps', learning_rate_decay_steps)
        self._visit_bonus = VisitCountBonus(observations, count_bonus,
                                            count_bonus_decay_steps)
        self.count_bonus = self._visit_bonus.scale
        self.count_bonus_decay_steps = self._visit_bonus.decay_steps
        self._device = resolve_device(device)
        torch_seed, self._generator, self._rng = seeded_generators(seed)
        with seeded(torch_seed):
            conv = networks.conv_settings(conv_channels, conv_kernels, conv_strides,
                                          conv_padding, conv_pools)
            self._encoder = Encoder(observations, scale_observations, conv)
            sizes = (self._encoder.size,) + tuple(hidden_sizes)
            self._actor = networks.with_activation(
                networks.mlp(sizes + (self._num_actions,)), activation)
            self._critic = networks.with_activation(networks.mlp(sizes + (1,)), activation)
            if not policy_bias:
                last = self._actor[-1]
                self._actor[-1] = nn.Linear(last.in_features, last.out_features,
                                            bias=False)
            # CleanRL's initialisation: orthogonal, a near-uniform first policy.
            networks.orthogonal_init(self._actor, 0.01)
            networks.orthogonal_init(self._critic, 1.)
            networks.orthogonal_init_convs(self._encoder)
        self._encoder.to(self._device)
        self._actor.to(self._device)
        self._critic.to(self._device)
        self._parameter_list = (list(self._encoder.parameters())
                                + list(self._actor.parameters())
                                + list(self._critic.parameters()))
        # Fused on the CPU: one kernel per step for all parameters, not one per tensor.
        self._optimizer = torch.optim.Adam(self._parameters(), lr=learning_rate, eps=1e-5,
                                           fused=True)
        self.steps = 0  # Environment steps learned from (all copies).
        self.last_loss = 0.
        self._stream = _Stream()
        self._rollout = None  # Batched training's rollout, from observe_first_batch.

    # ------------------------------------------------------------- networks

    def _parameters(self):
        return self._parameter_list

    def _as_inputs(self, observations) -> torch.Tensor:
        """A batch of observations (any array) as the encoder's input tensor."""
        dtype = torch.int64 if self._encoder.num_values else torch.float32
        return torch.as_tensor(np.asarray(observations), device=self._device).to(dtype)

    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._actor(self._encoder(inputs))

    def _logits_and_values(self, inputs: torch.Tensor):
        features = self._encoder(inputs)
        return self._actor(features), self._critic(features)[..., 0]

    # ---------------------------------------------------------------- acting

    @property
    def device(self) -> torch.device:
        return self._device

    def action_probabilities(self, observation) -> np.ndarray:
        """pi(a | observation) for every action a."""
        array = check_observation(observation, self._observation_spec)
        with torch.inference_mode():
            logits = self._actor(self._encoder(self._as_inputs(array[None])))[0]
        return checked_probabilities(torch.softmax(logits, dim=-1).cpu().numpy(),
                                     'PPO.action_probabilities')

    def batch_actions(self, observations):
        """Refused: the name of the batched-actions method of every agent is select_actions."""
        raise AttributeError('PPO.batch_actions was renamed select_actions')

    # ------------------------------------------- one environment: the run loop

    def observe_first(self, timestep: dm_env.TimeStep) -> None:
        self._stream.first(check_observation(timestep.observation, self._observation_spec))
        self._restart_returns()

    def observe(self, action, next_timestep: dm_env.TimeStep) -> None:
        if not self._stream.observations:
            raise ValueError('observe() before observe_first(): start each episode '
                             'with observe_first(timestep)')
        observation = check_observation(next_timestep.observation, self._observation_spec)
        self._stream.add(int(action), self._learned_reward(next_timestep),
                         self.discount * float(next_timestep.discount), observation,
                         _LAST if next_timestep.last() else _MID)

    def update(self, wait: bool = False) -> None:
        """Learns once `rollout_length` steps have been observed."""
        if len(self._stream.actions) < self.rollout_length:
            return
        s = self._stream
        self._learn(self._as_inputs(np.stack(s.observations))[:, None],
                    torch.tensor(s.actions)[:, None],
                    torch.tensor(s.rewards, dtype=torch.float32)[:, None],
                    torch.tensor(s.discounts, dtype=torch.float32)[:, None],
                    torch.tensor(s.step_types)[:, None])
        self._stream.keep_last()

    # -------------------------------------------- many environments: batches

    @property
    def batch_steps_per_update(self) -> int:
        """A rollout: the batched loop's budget and `stop` come in whole rollouts."""
        return self.rollout_length

    def observe_first_batch(self, timestep: dm_env.TimeStep) -> None:
        dtype = np.int64 if self._encoder.num_values else np.float32
        self._rollout = Rollout(timestep, self.rollout_length, dtype)
        self._restart_returns()

    def observe_batch(self, actions, next_timestep: dm_env.TimeStep) -> None:
        rollout = self._rollout
        if rollout is None:
            raise ValueError('observe_batch() before observe_first_batch(): start '
                             'batched training with observe_first_batch(timestep)')
        timestep = next_timestep
        rollout.check(timestep)  # Before the bonus counts its visits.
        rollout.record(actions, timestep,
                       self._learned_rewards(timestep.reward, timestep.observation,
                                             timestep.step_type, timestep.discount),
                       self.discount)

    def update_batch(self) -> None:
        """Learns once the rollout holds `rollout_length` batch steps."""
        rollout = self._rollout
        if rollout is None or rollout.t < self.rollout_length:
            return
        self._learn(*(tensor.to(self._device) for tensor in rollout.tensors))
        rollout.start_next()

    def train(self, environment, num_steps: int,
              stop: Optional[Callable[['PPO', int], bool]] = None) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)

    def _restart_returns(self) -> None:
        """New episodes from a reset: the reward scale carries no return over."""
        if self._return_scaler is not None:
            self._return_scaler.reset()

    # ------------------------------------------------------------- learning

    def _learn(self, observations, actions, rewards, discounts, step_types) -> None:
        """One PPO update from a rollout: T steps of N copies (T + 1 observations)."""
        length, n = actions.shape
        with torch.no_grad():
            flat = observations.reshape((-1,) + tuple(observations.shape[2:]))
            logits, values = self._logits_and_values(flat)
            values = values.reshape(length + 1, n)
            log_pi = torch.log_softmax(logits.reshape(length + 1, n, -1)[:-1], dim=-1)
            old_log_probs = log_pi.gather(-1, actions[..., None])[..., 0]
            advantages = gae(rewards, discounts, values, step_types, self.gae_lambda)
            targets = advantages + values[:-1]
        valid = (step_types[:-1] != _LAST).reshape(-1)
        index = torch.nonzero(valid)[:, 0]
        inputs = observations[:-1].reshape((-1,) + tuple(observations.shape[2:]))[index]
        actions = actions.reshape(-1)[index]
        old_log_probs = old_log_probs.reshape(-1)[index]
        advantages = advantages.reshape(-1)[index]
        targets = targets.reshape(-1)[index]
        if self.normalize_advantages:  # Over the whole batch, once, not per minibatch.
            advantages = standardized(advantages)
        self.steps += length * n
        decay_learning_rate(self._optimizer, self.learning_rate, self.steps,
                            self.learning_rate_decay_steps)
        size = index.numel()
        if not size:  # Every copy restarting throughout: no transition to learn from.
            return
        minibatch = max(1, size // self.num_minibatches)
        for _ in range(self.update_epochs):
            order = torch.randperm(size, generator=self._generator)
            for start in range(0, size - minibatch + 1, minibatch):
                chosen = order[start:start + minibatch]
                loss = self._loss(inputs[chosen], actions[chosen], old_log_probs[chosen],
                                  advantages[chosen], targets[chosen])
                self._optimizer.zero_grad(set_to_none=True)
                loss.backward()
                clip_grad_norm_(self._parameters(), self.max_grad_norm)
                self._optimizer.step()
        self.last_loss = loss.item()

    def _loss(self, inputs, actions, old_log_probs, advantages, targets) -> torch.Tensor:
        logits, values = self._logits_and_values(inputs)
        log_pi = torch.log_softmax(logits, dim=-1)
        ratio = torch.exp(log_pi.gather(-1, actions[:, None])[:, 0] - old_log_probs)
        surrogate = torch.min(ratio * advantages,
                              ratio.clamp(1. - self.clip, 1. + self.clip) * advantages)
        entropy = -(log_pi.exp() * log_pi).sum(-1)
        value_loss = 0.5 * (values - targets).pow(2).mean()
        return (-surrogate.mean() + self.value_cost * value_loss
                - self.entropy_cost * entropy.mean())

    # ---------------------------------------------------------- checkpoints

    def _state(self) -> dict:
        state = {'actor': self._actor.state_dict(), 'critic': self._critic.state_dict(),
                 'optimizer': self._optimizer.state_dict(), 'steps': self.steps,
                 'rng': self._rng.bit_generator.state,
                 'generator': self._generator.get_state()}
        if self._encoder.conv is not None:  # Only a conv encoder learns.
            state['encoder'] = self._encoder.state_dict()
        save_scale(self._return_scaler, state)
        if self._visit_bonus:
            state['visits'] = self._visit_bonus.state_dict()
        return state

    def _load_state(self, state: dict) -> None:
        if self._encoder.conv is not None:
            if 'encoder' not in state:
                raise ValueError('this checkpoint has no convolutional encoder, '
                                 'which this PPO agent has: it was saved by an agent '
                                 'with another network')
            self._encoder.load_state_dict(state['encoder'])
        self._actor.load_state_dict(state['actor'])
        self._critic.load_state_dict(state['critic'])
        self._optimizer.load_state_dict(state['optimizer'])
        self.steps = int(state['steps'])
        self._rng.bit_generator.state = state['rng']
        self._generator.set_state(state['generator'])
        load_scale(self._return_scaler, state, 'PPO agent')
        self._visit_bonus.restore(state, 'PPO')


class _Stream:
    """The run loop's steps, one copy, in the layout `_learn` takes."""

    def __init__(self):
        self.observations, self.step_types = [], []
        self.actions, self.rewards, self.discounts = [], [], []

    def first(self, observation) -> None:
        if self.observations:
            # A restart after the stream's last observation: not a transition.
            self.step_types[-1] = _LAST
            self.add(0, 0., 0., observation, _FIRST)
        else:
            self.observations.append(observation)
            self.step_types.append(_FIRST)

    def add(self, action, reward, discount, observation, step_type) -> None:
        self.actions.append(action)
        self.rewards.append(reward)
        self.discounts.append(discount)
        self.observations.append(observation)
        self.step_types.append(step_type)

    def keep_last(self) -> None:
        self.observations, self.step_types = self.observations[-1:], self.step_types[-1:]
        self.actions, self.rewards, self.discounts = [], [], []
