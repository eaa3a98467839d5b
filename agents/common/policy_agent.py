"""What the policy-based agents share: a softmax policy, a trajectory, checkpoints.

The agent acts by sampling from the policy network's softmax (its own seeded
generator, so runs repeat) and records the trajectory; subclasses decide when
to learn from it (`_ready_to_learn`) and how (`_learn`). Under
`evaluation_mode` it takes the most probable action instead.
"""

import abc
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from dm_env import specs
from torch import nn

import gridlab
from gridlab.core import validation
from agents.common import networks
from agents.common.exploration import VisitCountBonus, random_argmax
from agents.common.reward_scaling import LearnsShapedRewards
from agents.common.torch_utils import (check_observation, clip_grad_norm_, decay_learning_rate,
                                       resolve_device, seeded)
from gridlab.core.checkpoints import Checkpointing


def seeded_generators(seed: Optional[int]) -> Tuple[int, torch.Generator,
                                                   np.random.Generator]:
    """(torch seed, torch Generator, numpy Generator), independent streams from `seed`.

    The torch stream builds the weights (under `seeded`) and draws what
    torch draws; the numpy one samples `select_action`'s actions.
    """
    seed = validation.check_optional_seed('seed', seed)
    torch_seed, numpy_seed = np.random.SeedSequence(seed).generate_state(2)
    return (int(torch_seed), torch.Generator().manual_seed(int(torch_seed)),
            np.random.default_rng(numpy_seed))


def checked_probabilities(probabilities: np.ndarray, where: str) -> np.ndarray:
    """`probabilities`, or a FloatingPointError saying where they went non-finite."""
    if not np.isfinite(probabilities).all():
        validation.check_all_finite('action probabilities', probabilities, where)
    return probabilities


class SamplesFromPolicy:
    """`select_action` for agents with a stochastic policy.

    Needs `action_probabilities(observation)`, `_rng` (a numpy Generator),
    `_num_actions` and `greedy`: samples an action (the most probable one
    under `evaluation_mode`).
    """

    def select_action(self, observation) -> int:
        probabilities = self.action_probabilities(observation)
        if self.greedy:
            return random_argmax(probabilities, self._rng)
        # Inverse-CDF sampling: one uniform draw, much cheaper than rng.choice.
        action = int(np.searchsorted(np.cumsum(probabilities), self._rng.random(),
                                     side='right'))  # Never a probability-0 action.
        return min(action, self._num_actions - 1)


def policy_mlp(input_size: int, hidden_sizes: Sequence[int], outputs: int,
               dropout: float, generator: torch.Generator,
               bias: bool = True) -> nn.Sequential:
    """Linear-ReLU layers (with dropout after each, if asked) and a linear
    head (without a bias if `bias` is False)."""
    return networks.mlp((input_size,) + tuple(hidden_sizes) + (outputs,),
                        dropout, generator, output_bias=bias)


class PolicyAgent(LearnsShapedRewards, SamplesFromPolicy, Checkpointing, gridlab.Actor):
    """Base of REINFORCE and actor-critic: acting, the trajectory, the count
    bonus, checkpoints.

    Returns bootstrap with `discount * timestep.discount` (the one rule of
    every gridlab agent); `discount` defaults to 1 because environments carry
    their own (0.9 on the GridWorld tasks, 0.99 for Gymnasium tasks).
    """

    _max_grad_norm: Optional[float] = None  # Subclasses may clip gradients
    _learning_rate_decay_steps: Optional[int] = None  # and decay the step size.

    _return_scaler = None  # Subclasses may scale the rewards they learn from.

    def __init__(self, environment_spec: gridlab.EnvironmentSpec,
                 discount: float, learning_rate: float, entropy_cost: float,
                 device: Optional[str], seed: Optional[int], optimizer: str = 'adam',
                 scale_observations: bool = True, count_bonus: float = 0.,
                 count_bonus_decay_steps: Optional[int] = None,
                 conv: Optional[dict] = None):
        # `conv`: `networks.conv_settings` for (H, W, C) observations, whose
        # convolutions then come first, shared by every network built on
        # `scaling` (Stable-Baselines3's CnnPolicy shares its features so).
        actions, observations = environment_spec.actions, environment_spec.observations
        if not hasattr(actions, 'num_values'):
            raise ValueError(f'{type(self).__name__} needs discrete actions (a '
                             f'DiscreteArray action spec), got {actions!r}')
        num_states = (getattr(observations, 'num_values', None)
                      if isinstance(observations, specs.Array) and observations.shape == ()
                      else None)
        if num_states is None and (not isinstance(observations, specs.Array)
                                   or observations.shape == ()):
            raise ValueError(
                f'{type(self).__name__} needs array observations or a state index (a '
                f'DiscreteArray), got {observations!r}')
        discount = validation.check_probability('discount', discount)
        learning_rate = validation.check_positive('learning_rate', learning_rate)
        entropy_cost = validation.check_nonnegative('entropy_cost', entropy_cost)
        self._observation_spec = observations
        self._num_actions = actions.num_values
        self.discount = float(discount)
        self._entropy_cost = entropy_cost
        self._device = resolve_device(device)
        torch_seed, self._generator, self._rng = seeded_generators(seed)
        scale = validation.check_bool('scale_observations', scale_observations)
        with seeded(torch_seed):
            if num_states:  # A state index feeds the networks as a one-hot row.
                self._build(networks.OneHot(num_states), int(num_states))
            else:  # Arrays (a board, a view) feed them flat or through convolutions.
                scaling = networks.input_scaling(observations) if scale else nn.Identity()
                if conv is not None and len(observations.shape) == 3:
                    scaling = nn.Sequential(scaling,
                                            *networks.conv_torso(observations, **conv))
                    self._build(scaling, networks.feature_count(scaling, observations.shape))
                else:
                    if len(observations.shape) > 1:
                        scaling = nn.Sequential(scaling, nn.Flatten())
                    self._build(scaling, int(np.prod(observations.shape)))
        self._policy_has_modes = networks.has_modes(self._policy)
        # foreach: torch's multi-tensor steps, which on the CPU run the same
        # kernels as its default one-tensor loop (the same bits) without the
        # loop's Python overhead per parameter.
        if optimizer == 'adam':
            self._optimizer = torch.optim.Adam(self._parameters(), lr=learning_rate,
                                               foreach=True)
        elif optimizer == 'rmsprop':  # Stable-Baselines3's A2C: TensorFlow's constants.
            self._optimizer = torch.optim.RMSprop(self._parameters(), lr=learning_rate,
                                                  alpha=0.99, eps=1e-5, foreach=True)
        else:
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {optimizer!r}")
        self._learning_rate = learning_rate
        self._visit_bonus = VisitCountBonus(observations, count_bonus, count_bonus_decay_steps)
        self.steps = 0  # Environment steps learned from (all copies).
        self._trajectory: List[list] = []  # [observation, action, reward, discount]
        self._last_observation = None
        self._episode_over = False
        self.last_loss = 0.

    # --------------------------------------------------------- for subclasses

    @abc.abstractmethod
    def _build(self, scaling: nn.Module, input_size: int) -> None:
        """Creates the networks; `self._policy` maps observations to logits."""

    def _parameters(self):
        # Each parameter once, even where networks share a body.
        return list(dict.fromkeys(p for module in self._modules().values()
                                  for p in module.parameters()))

    @abc.abstractmethod
    def _ready_to_learn(self, last: bool) -> bool:
        """Whether to learn now; `last` says the episode just ended."""

    @abc.abstractmethod
    def _learn(self, observations, actions, rewards, discounts, next_observation,
               last: bool) -> torch.Tensor:
        """Returns the loss for the recorded trajectory (as tensors)."""

    # ---------------------------------------------------------------- acting

    @property
    def device(self) -> torch.device:
        return self._device

    def action_probabilities(self, observation) -> np.ndarray:
        """The policy's probability of each action (without dropout)."""
        array = check_observation(observation, self._observation_spec)
        return self._probabilities(array[None], 'action_probabilities')[0]

    def _probabilities(self, observations: np.ndarray, where: str) -> np.ndarray:
        """pi(. | s) for a batch of observations (without dropout), rows of
        probabilities; non-finite ones refused, naming `where`."""
        self._policy_mode(training=False)  # Acting needs no dropout.
        with torch.inference_mode():
            logits = self._policy(torch.tensor(observations, dtype=torch.float32,
                                               device=self._device))
        return checked_probabilities(torch.softmax(logits, dim=-1).cpu().numpy(),
                                     f'{type(self).__name__}.{where}')

    def _policy_mode(self, training: bool) -> None:
        """The policy in training mode (dropout on, for a loss) or evaluation
        mode (acting). Switched once per change, not twice per action, and
        only a policy that has modes: `train()`/`eval()` walk every submodule,
        a tenth of REINFORCE's time per step."""
        if self._policy_has_modes and self._policy.training != training:
            self._policy.train(training)

    def state_value(self, observation) -> float:
        """The critic's V(observation) (the actor-critic's, or REINFORCE's baseline)."""
        if self._value is None:
            raise ValueError(f'{type(self).__name__} has no value network: build it '
                             f'with baseline=True')
        array = check_observation(observation, self._observation_spec)
        with torch.inference_mode():
            batch = torch.tensor(array, dtype=torch.float32, device=self._device)
            return float(self._value(batch[None])[0, 0])

    def observe_first(self, timestep) -> None:
        self._trajectory = []
        self._last_observation = check_observation(timestep.observation,
                                                   self._observation_spec)

    def observe(self, action, next_timestep) -> None:
        if self._last_observation is None:
            raise ValueError('observe() before observe_first(): start each '
                             'episode with observe_first(timestep)')
        observation = check_observation(next_timestep.observation, self._observation_spec)
        self._trajectory.append([self._last_observation, int(action),
                                 self._learned_reward(next_timestep),
                                 float(next_timestep.discount)])
        self._last_observation = observation
        self._episode_over = next_timestep.last()

    def update(self, wait: bool = False) -> None:
        if not self._trajectory:
            return
        last = self._episode_over
        if not self._ready_to_learn(last):
            return
        self._policy_mode(training=True)
        loss = self._learn(*self._as_tensors(self._trajectory, self._last_observation), last)
        self._step(loss, len(self._trajectory), 'update')
        self._trajectory = []

    def _as_tensors(self, trajectory: List[list], next_observation: np.ndarray):
        """A trajectory's observations, actions, rewards and discounts (the
        agent's times the TimeStep's), and the observation after its last
        step as a batch of one: `_learn`'s arguments, as tensors."""
        observations, actions, rewards, discounts = zip(*trajectory)
        device = self._device
        return (torch.tensor(np.stack(observations), dtype=torch.float32, device=device),
                torch.tensor(actions, dtype=torch.int64, device=device),
                torch.tensor(rewards, dtype=torch.float32, device=device),
                torch.tensor(discounts, dtype=torch.float32, device=device) * self.discount,
                torch.tensor(next_observation, dtype=torch.float32, device=device)[None])

    def _step(self, loss: torch.Tensor, steps: int, where: str) -> None:
        """One optimiser step on `loss`, learned from `steps` more environment
        steps (gradients clipped to `_max_grad_norm`'s global norm when set;
        the step size falling linearly to 0 over `_learning_rate_decay_steps`
        when set); a non-finite loss is refused, naming `where`."""
        if not torch.isfinite(loss):
            validation.check_all_finite('loss', loss.item(), f'{type(self).__name__}.{where}')
        self.steps += steps
        decay_learning_rate(self._optimizer, self._learning_rate, self.steps,
                            self._learning_rate_decay_steps)
        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self._max_grad_norm is not None:
            clip_grad_norm_(self._parameters(), self._max_grad_norm)
        self._optimizer.step()
        self.last_loss = loss.item()

    # -------------------------------------------------------------- helpers

    @staticmethod
    def discounted_returns(rewards: torch.Tensor, discounts: torch.Tensor,
                           bootstrap: torch.Tensor) -> torch.Tensor:
        """G_t = r_t + discount_t * G_{t+1}, starting from G_T = bootstrap.

        `discounts` are the agent's discount times the TimeStep's: 0 after
        termination, so nothing is bootstrapped past the end of the task.
        """
        returns = torch.empty_like(rewards)
        future = bootstrap
        for t in range(len(rewards) - 1, -1, -1):
            future = rewards[t] + discounts[t] * future
            returns[t] = future
        return returns

    def _policy_loss(self, observations, actions, advantages) -> torch.Tensor:
        """-E[log pi(a|s) * advantage] - entropy_cost * entropy."""
        log_probabilities = torch.log_softmax(self._policy(observations), dim=-1)
        chosen = log_probabilities.gather(1, actions[:, None])[:, 0]
        entropy = -(log_probabilities.exp() * log_probabilities).sum(dim=-1)
        return -(chosen * advantages).mean() - self._entropy_cost * entropy.mean()

    # ---------------------------------------------------------- checkpoints

    def _modules(self) -> dict:
        return {'policy': self._policy}

    def _state(self) -> dict:
        state = {name: module.state_dict() for name, module in self._modules().items()}
        state.update(optimizer=self._optimizer.state_dict(), steps=self.steps,
                     rng=self._rng.bit_generator.state,
                     generator=self._generator.get_state())
        if self._visit_bonus:
            state['visits'] = self._visit_bonus.state_dict()
        return state

    def _load_state(self, state: dict) -> None:
        for name, module in self._modules().items():
            module.load_state_dict(state[name])
        self._optimizer.load_state_dict(state['optimizer'])
        for group in self._optimizer.param_groups:  # Saved before steps were foreach.
            if not group.get('fused'):
                group['foreach'] = True
        self.steps = int(state.get('steps', 0))  # Older checkpoints did not count.
        self._rng.bit_generator.state = state['rng']
        self._generator.set_state(state['generator'])
        self._visit_bonus.restore(state, type(self).__name__)

