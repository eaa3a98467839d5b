"""Neural Fitted Q (Riedmiller, 2005), modernised: Q-learning with a network.

Every step: act epsilon-greedily, store the transition in replay, sample a
minibatch and take one gradient step on the squared TD error

    loss = mean( (r + d * max_b Q(s', b) - Q(s, a))^2 )

where d = discount * timestep.discount, the rule of every gridlab agent: the
TimeStep's is 0 after termination (no bootstrap) and the ordinary discount
after truncation (the agent does bootstrap); the agent's own `discount` is 1
by default, as environments carry theirs. The target uses the same network,
without gradient; `DQN` adds a target network.
"""

import math
from typing import Callable, Optional, Sequence

import dm_env
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import gridlab
from agents.common import networks
from agents.common.exploration import (CountBasedExploration, EpsilonGreedyExplorer,
                                       ExploresEpsilonGreedily)
from agents.common.renamed import refuse_renamed
from agents.common.torch_utils import (check_observation, clip_grad_norm_, decay_learning_rate,
                                       resolve_device, seeded)
from gridlab.core import validation
from gridlab.core.checkpoints import Checkpointing
from gridlab.core.replay import ReplayBuffer
from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary


class NeuralFittedQAgent(ExploresEpsilonGreedily, Checkpointing, gridlab.Actor):
    """Q-learning with a neural network, replay and epsilon-greedy exploration."""

    def __init__(self,
                 environment_spec: gridlab.EnvironmentSpec,
                 network: Optional[nn.Module] = None,
                 replay_capacity: int = 100_000,
                 epsilon: float = 0.8,
                 batch_size: int = 32,
                 learning_rate: float = 3e-3,
                 learning_rate_decay_steps: Optional[int] = None,
                 final_epsilon: Optional[float] = None,
                 decay_steps: int = 0,
                 discount: float = 1.,
                 hidden_sizes: Sequence[int] = (64, 64),
                 conv_channels: Sequence[int] = (8,),
                 conv_kernels: Sequence[int] = (3,),
                 conv_strides: Optional[Sequence[int]] = None,
                 conv_padding: Optional[Sequence[int]] = None,
                 conv_pools: Sequence[int] = (1,),
                 min_replay_size: Optional[int] = None,
                 loss: str = 'mse',
                 max_grad_norm: Optional[float] = None,
                 device: Optional[str] = 'cpu',
                 seed: Optional[int] = None,
                 count_bonus: float = 0.,
                 bonus_discount: float = 0.99,
                 bonus_planning_every: int = 100,
                 optimizer: str = 'adam',
                 update_every: int = 1,
                 learning_steps: int = 1,
                 scale_observations: bool = True,
                 **renamed):
        """Builds the agent.

        Args:
          environment_spec: the environment's specs (discrete actions).
          network: maps a batch of observations to Q-values, one per action
            (older scripts pass it second, by position); default: an
            MLP (vector observations) or a conv net (images), see
            `agents.common.networks.make_q_network`.
          replay_capacity: transitions kept for sampling.
          epsilon: chance of a random action while training (decays linearly
            to `final_epsilon` over `decay_steps` if those are given).
            Q-learning is off-policy, so a high epsilon costs the greedy policy
            nothing and lets it see every cell; 0.8 learned fastest (see
            benchmarks/value_agents.py).
          batch_size: transitions per gradient step.
          learning_rate: the optimizer's step size.
          learning_rate_decay_steps: if set, the step size falls linearly to
            0 over this many environment steps (transitions observed), as
            with SB3's linear schedules: the last learning steps are small,
            so the greedy policy at the end of a run no longer swings with
            each minibatch.
          discount: multiplied onto each TimeStep's discount (which carries
            the task's own: 0.9 on the GridWorld tasks, 0.99 on Gymnasium).
          hidden_sizes: widths of the default network's hidden layers; ()
            for none, which on vector observations makes the default network
            linear, and on one-hot ones (`AGENT_ONEHOT`) a table of Q-values
            (see `make_q_network`).
          conv_channels: channels of its convolutions (image observations).
          conv_kernels, conv_strides, conv_padding, conv_pools: their kernel
            sizes, strides (None: 2 on large pictures, else 1), zero padding
            (None: kernel // 2) and max-pool sizes (1: none), each one value
            for every convolution or one per convolution (see
            `agents.common.networks.conv_torso`). The MinAtar paper's network
            is conv_channels=16, conv_kernels=3, conv_strides=1,
            conv_padding=0, hidden_sizes=128.
          min_replay_size: transitions to collect before learning starts
            (default: `batch_size`).
          loss: 'mse' (squared TD error) or 'huber'.
          max_grad_norm: clip the gradient's norm to this, if given.
          device: 'cpu' (default), 'cuda' or 'auto'.
          seed: seeds the network's initial weights, exploration and replay.
          count_bonus: c > 0 turns on count-based exploration (off by
            default). Each distinct observation is a state (its bytes are the
            key, so this suits environments with few distinct observations,
            such as a GridWorld's); `CountBasedExploration` learns exploration
            values E(s, a) from the counts of every transition, and the agent
            acts epsilon-greedily on Q + E while training: toward pairs it has
            not tried, and the far parts of a task. E never enters the network
            or its targets (Q-learning stays off-policy and learns Q*), and
            greedy (evaluation) actions and `q_values` are Q's alone.
          bonus_discount: E's discount; near 1 so that untried pairs far away
            still pull the agent toward them.
          bonus_planning_every: with a bonus, every this many transitions E
            is recomputed by value iteration over the pairs tried so far
            (`CountBasedExploration.plan`), so the pull of untried pairs
            reaches back along the whole path at once; 0 leaves E to its
            one update per step.
          optimizer: 'adam' (the default) or 'sgd' (plain gradient descent).
            Adam moves each weight by about `learning_rate` per step however
            small its gradient, so its Q-values never settle closer than that
            noise; plain gradient descent's steps shrink with the TD errors,
            which suits a table (`hidden_sizes=()` on one-hot observations),
            whose Bellman fixed point it can reach exactly. With the mean
            squared error (`loss='mse'`), a transition sampled once then moves
            its own Q-value by 2 * learning_rate / batch_size of its TD error,
            so a table's learning rate is of the order of the batch size.
          update_every: `learning_steps` learning steps (one by default)
            per this many `update()` calls, which come one per transition
            (the run loop's, and batched training's: a batch step of N
            copies brings up to N).
          learning_steps: learning steps taken back to back each time
            `update_every` falls due (the RL Zoo's `gradient_steps`). Acting
            on one network for `update_every` steps, then learning in a
            burst, keeps exploration's actions consistent for a while; the RL
            Zoo's MountainCar setting (16 and 8) needs it.
          scale_observations: map observations with finite bounds to [-1, 1]
            before the default network (the default); False feeds them in
            as they are. On MountainCar-v0 (position in [-1.2, 0.6], velocity
            in [-0.07, 0.07]) DQN with the RL Zoo's settings reached the goal
            greedily on 3 of 3 seeds unscaled, 1 of 3 scaled (see
            agents/hyperparams.toml).
        """
        refuse_renamed(type(self).__name__, renamed)
        seed = validation.check_optional_seed('seed', seed)
        actions = environment_spec.actions
        if not hasattr(actions, 'num_values'):
            raise ValueError(f'{type(self).__name__} needs discrete actions '
                             f'(a DiscreteArray action spec), got {actions!r}')
        if loss not in ('mse', 'huber'):
            raise ValueError(f"loss must be 'mse' or 'huber', got {loss!r}")
        if optimizer not in ('adam', 'sgd'):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        batch_size = validation.check_positive_int('batch_size', batch_size)
        learning_rate = validation.check_positive('learning_rate', learning_rate)
        self._learning_rate = learning_rate
        self._learning_rate_decay_steps = validation.check_optional_positive_int(
            'learning_rate_decay_steps', learning_rate_decay_steps)
        discount = validation.check_probability('discount', discount)
        replay_capacity = validation.check_positive_int('replay_capacity', replay_capacity)
        min_replay_size = validation.check_optional_positive_int(
            'min_replay_size', min_replay_size)
        # Learning waits for max(min_replay_size, batch_size) transitions in
        # replay: more than it holds, and the agent would never learn.
        for name, needed in (('batch_size', batch_size), ('min_replay_size',
                                                          min_replay_size or 0)):
            if needed > replay_capacity:
                raise ValueError(f'{name}={needed:,} is more than replay_capacity='
                                 f'{replay_capacity:,} transitions: the agent would never '
                                 f'learn; give {name} <= replay_capacity')
        if max_grad_norm is not None:
            # Clipping to a norm <= 0 would silently turn learning around.
            max_grad_norm = validation.check_positive('max_grad_norm', max_grad_norm)
        hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes,
                                              allow_empty=True)
        conv_channels = validation.check_sizes('conv_channels', conv_channels,
                                               allow_empty=True)
        self._update_every = validation.check_positive_int('update_every', update_every)
        self._learning_steps = validation.check_positive_int('learning_steps',
                                                             learning_steps)
        scale_observations = validation.check_bool('scale_observations', scale_observations)
        self._unlearned = 0  # update() calls since the last learning step.
        q_network = networks.check_network('network', network)
        self.discount = float(discount)
        self._observation_spec = environment_spec.observations
        self._num_actions = actions.num_values
        self._device = resolve_device(device)
        self._batch_size = batch_size
        self._min_replay_size = max(min_replay_size or batch_size, batch_size)
        self._loss_fn = F.mse_loss if loss == 'mse' else F.smooth_l1_loss
        self._max_grad_norm = max_grad_norm

        with seeded(seed):
            if q_network is None:
                q_network = networks.make_q_network(
                    self._observation_spec, self._num_actions, hidden_sizes,
                    conv_channels, conv_kernels=conv_kernels, conv_strides=conv_strides,
                    conv_padding=conv_padding, conv_pools=conv_pools,
                    scale_observations=scale_observations,
                    **self._network_options())
            self._q_network = q_network.to(self._device)
        # The fused kernel does Adam's arithmetic for all parameters in one
        # call; with networks this small the per-tensor calls would dominate.
        self._optimizer_name = optimizer
        if optimizer == 'adam':
            self._optimizer = torch.optim.Adam(self._q_network.parameters(),
                                               lr=learning_rate, fused=True)
        else:
            self._optimizer = torch.optim.SGD(self._q_network.parameters(),
                                              lr=learning_rate, foreach=True)
        # Independent streams for replay sampling and exploration.
        replay_seed, explorer_seed = np.random.SeedSequence(seed).spawn(2)
        self._replay = ReplayBuffer(replay_capacity, seed=replay_seed)
        self._explorer = EpsilonGreedyExplorer(self._num_actions, epsilon, final_epsilon,
                                               decay_steps, seed=explorer_seed)
        self._learner_steps = 0
        self.last_loss = 0.
        bonus = validation.check_nonnegative('count_bonus', count_bonus)
        bonus_discount = validation.check_in_range('bonus_discount', bonus_discount,
                                                   0., 1., high_open=True)
        self._exploration = (CountBasedExploration(self._num_actions, bonus, bonus_discount)
                             if bonus else None)
        self._last_observation = None  # Only tracked with a bonus.
        self._planning_every = validation.check_nonnegative_int(
            'bonus_planning_every', bonus_planning_every)
        self._unplanned = 0  # Transitions since E was last planned.

    @staticmethod
    def _state_key(observation) -> bytes:
        return np.ascontiguousarray(observation).tobytes()

    def _behaviour_values(self, q: np.ndarray, observation) -> np.ndarray:
        """What exploring acts on: Q, plus E with an exploration bonus."""
        if self._exploration is None:
            return q
        return q + self._exploration.values(self._state_key(observation))

    def _observe_exploration(self, observation, action, timestep) -> None:
        self._exploration.observe(
            self._state_key(observation), int(action),
            self._state_key(timestep.observation),
            bootstrap=float(timestep.discount) * self.discount > 0.)
        self._unplanned += 1
        if self._planning_every and self._unplanned >= self._planning_every:
            self._exploration.plan()
            self._unplanned = 0

    def _network_options(self) -> dict:
        """Extra arguments for the default network (DQN adds `dueling`)."""
        return {}

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def network(self) -> nn.Module:
        """The Q-network being learned: the `network` argument, or the default one."""
        return self._q_network

    @property
    def batch_size(self) -> int:
        """Transitions per gradient step (the `batch_size` argument)."""
        return self._batch_size

    @property
    def learner_steps(self) -> int:
        """Gradient steps taken so far (kept by checkpoints)."""
        return self._learner_steps

    @property
    def exploration(self) -> Optional[CountBasedExploration]:
        """The count-based exploration values E (None without `count_bonus`)."""
        return self._exploration

    def exploration_values(self, observation) -> np.ndarray:
        """E(observation, a) for every action a (needs `count_bonus` > 0)."""
        return self._explored('exploration_values').values(self._state_key(observation))

    def exploration_counts(self, observation) -> np.ndarray:
        """N(observation, a): the transitions counted from each pair (needs `count_bonus` > 0)."""
        return self._explored('exploration_counts').counts(self._state_key(observation))

    def _explored(self, what: str) -> CountBasedExploration:
        if self._exploration is None:
            raise ValueError(f'{type(self).__name__}.{what} needs count-based '
                             f'exploration: build the agent with count_bonus > 0')
        return self._exploration

    def _q_values(self, array: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            batch = torch.tensor(array, dtype=torch.float32, device=self._device)[None]
            q = self._q_network(batch)[0].cpu().numpy()
        if not np.isfinite(q).all():
            validation.check_all_finite('Q-values', q, f'{type(self).__name__}.q_values')
        return q

    def q_values(self, observation) -> np.ndarray:
        """Q(observation, a) for every action a."""
        return self._q_values(check_observation(observation, self._observation_spec))

    def select_action(self, observation) -> int:
        array = check_observation(observation, self._observation_spec)
        if self._exploration is not None and not self.greedy:
            return self._explorer.select(
                lambda: self._behaviour_values(self._q_values(array), array))
        # The network runs only when the agent acts greedily.
        return self._explorer.select(lambda: self._q_values(array), greedy=self.greedy)

    # ------------------------------------------- many copies: TrainsOnBatches

    batch_steps_per_update = 1  # It learns as transitions arrive.

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """Epsilon-greedy actions for a batch of N observations, shape (N,).

        One network call for the batch (those of `acting`, a boolean (N,),
        if given; the others get action 0). The random draws are those of
        `select_action` calls in copy order, so with N = 1 it acts exactly as
        `select_action` does.
        """
        batch = np.asarray(observations)
        if batch.ndim == 0 or batch.shape[1:] != self._observation_spec.shape:
            raise ValueError(f'observations must have shape (N,) + '
                             f'{self._observation_spec.shape}, got {batch.shape}')
        if acting is not None:
            actions = np.zeros(batch.shape[0], np.int64)
            actions[acting] = self.select_actions(batch[acting])
            return actions
        q = None
        actions = np.empty(batch.shape[0], np.int64)
        for i in range(batch.shape[0]):
            if not self.greedy and self._explorer.rng.random() < self._explorer.epsilon:
                actions[i] = self._explorer.rng.integers(self._num_actions)
                continue
            if q is None:
                with torch.inference_mode():
                    q = self._q_network(torch.as_tensor(
                        batch, dtype=torch.float32, device=self._device)).cpu().numpy()
                validation.check_all_finite('Q-values', q, f'{type(self).__name__}.select_actions')
            values = q[i] if self.greedy else self._behaviour_values(q[i], batch[i])
            actions[i] = self._explorer.argmax(values)
        return actions

    def observe_first_batch(self, timestep) -> None:
        # A copy: the environment may update its observation arrays in place.
        self._batch_observations = np.array(timestep.observation)
        self._unlearned = 0

    def observe_batch(self, actions, next_timestep) -> None:
        """Each copy's transition, as `observe` then `update` would take it.

        Learning steps fall between the copies' transitions (one per
        `update_every`), so that one copy trains exactly as the run loop
        does; a copy's restart step after a LAST one is not a transition.
        """
        observations, timestep = self._batch_observations, next_timestep
        step_types = np.asarray(timestep.step_type)
        for i in np.flatnonzero(step_types != int(dm_env.StepType.FIRST)):
            self._replay.add_first(dm_env.restart(observations[i]))
            self._replay.add(actions[i], dm_env.TimeStep(
                dm_env.StepType(int(step_types[i])), timestep.reward[i],
                timestep.discount[i], timestep.observation[i]))
            if self._exploration is not None:
                self._observe_exploration(observations[i], actions[i], dm_env.TimeStep(
                    None, None, timestep.discount[i], timestep.observation[i]))
            self._explorer.step()
            self.update()
        self._batch_observations = np.array(timestep.observation)

    def update_batch(self) -> None:
        """Nothing left to learn: `observe_batch` took each learning step as it fell due."""

    def train(self, environment, num_steps: int,
              stop: Optional[Callable[['NeuralFittedQAgent', int], bool]] = None
              ) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)

    def observe_first(self, timestep) -> None:
        check_observation(timestep.observation, self._observation_spec)
        self._replay.add_first(timestep)
        if self._exploration is not None:
            self._last_observation = np.array(timestep.observation)

    def observe(self, action, next_timestep) -> None:
        self._replay.add(action, next_timestep)
        if self._exploration is not None:
            if self._last_observation is None:
                raise ValueError('observe() before observe_first(): start each '
                                 'episode with observe_first(timestep)')
            self._observe_exploration(self._last_observation, action, next_timestep)
            self._last_observation = np.array(next_timestep.observation)
        self._explorer.step()

    def _td_targets(self, rewards: torch.Tensor, discounts: torch.Tensor,
                    next_states: torch.Tensor) -> torch.Tensor:
        """r + d * max_b Q(s', b), with the online network (call without gradient)."""
        return rewards + discounts * self._q_network(next_states).max(dim=1).values

    def _after_learning_step(self) -> None:
        """Called after each gradient step (DQN updates its target network)."""

    def update(self, wait: bool = False) -> None:
        """`learning_steps` learning steps every `update_every` calls (once
        replay has enough)."""
        self._unlearned += 1
        while self._unlearned >= self._update_every:
            self._unlearned -= self._update_every
            for _ in range(self._learning_steps):
                self._learn()

    def _learn(self) -> None:
        if not self._replay.is_ready(self._min_replay_size):
            return
        batch = self._replay.sample(self._batch_size)
        device = self._device
        states = torch.as_tensor(batch.state, dtype=torch.float32, device=device)
        actions = torch.as_tensor(batch.action, dtype=torch.int64, device=device)
        rewards = torch.as_tensor(batch.reward, device=device)
        discounts = torch.as_tensor(batch.discount, device=device) * self.discount
        next_states = torch.as_tensor(batch.next_state, dtype=torch.float32,
                                      device=device)

        with torch.no_grad():
            targets = self._td_targets(rewards, discounts, next_states)
        q = self._q_network(states).gather(1, actions[:, None])[:, 0]
        loss = self._loss_fn(q, targets)
        loss_value = loss.item()  # One read of the loss: the check and last_loss.
        if not math.isfinite(loss_value):
            validation.check_all_finite(
                'loss', loss_value, f'{type(self).__name__}.update (learner step '
                f'{self._learner_steps + 1})')

        self._optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self._max_grad_norm is not None:
            clip_grad_norm_(self._q_network.parameters(), self._max_grad_norm)
        decay_learning_rate(self._optimizer, self._learning_rate, self._explorer.steps,
                            self._learning_rate_decay_steps)
        self._optimizer.step()
        self._learner_steps += 1
        self._after_learning_step()
        self.last_loss = loss_value

    # ------------------------------------------------------------ checkpoints

    def _state(self) -> dict:
        return {'q_network': self._q_network.state_dict(),
                'optimizer': self._optimizer.state_dict(),
                'optimizer_name': self._optimizer_name,
                'explorer': self._explorer.state_dict(),
                'learner_steps': self._learner_steps,
                **({'exploration': self._exploration.state_dict()}
                   if self._exploration is not None else {})}

    def _load_state(self, state: dict) -> None:
        # Checkpoints from before the option was added are Adam's.
        saved = state.get('optimizer_name', 'adam')
        if saved != self._optimizer_name:
            raise ValueError(f"this checkpoint's optimizer is {saved!r}; the agent was "
                             f"built with optimizer={self._optimizer_name!r}")
        self._q_network.load_state_dict(state['q_network'])
        self._optimizer.load_state_dict(state['optimizer'])
        self._explorer.load_state_dict(state['explorer'])
        self._learner_steps = state['learner_steps']
        if self._exploration is not None:
            if 'exploration' not in state:
                raise ValueError('this checkpoint has no exploration values; the agent '
                                 'was built with count_bonus > 0')
            self._exploration.load_state_dict(state['exploration'])
