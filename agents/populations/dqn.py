"""PopulationNFQ and PopulationDQN: N value-based agents, one per seed, as one.

Member m is the ordinary `NeuralFittedQAgent` / `DQN` built with seeds[m]
and drives copies m*k .. m*k + k - 1. The single agent, on k copies, takes
each copy's transition in copy order: into replay, one exploration step, one
learning step (a minibatch sampled from replay, one gradient step, the
target network's update). The population does the same, copy slot j of
every member at once: each member's transition goes into its own replay
(stacked arrays, sampled with the member's own generator, so the member's
minibatches are the ones its single agent would draw), and one batched
gradient step moves every member that learns at that moment (a member whose
copy was restarting, or whose replay is not yet ready, takes no step, as
on its own). Acting is one batched forward pass, then each member's own
epsilon-greedy draws in its own copy order.

A population of one is its single agent bit for bit; members of larger
populations agree with theirs to float rounding, and each member's
arithmetic runs at shapes that do not depend on the others' data.
Not supported (refused by name): a custom `network` (the members' default
networks are stacked), `count_bonus` and `learning_rate_decay_steps`.
"""

from typing import Optional, Sequence

import dm_env
import numpy as np
import torch
import torch.nn.functional as F

from agents.dqn import DQN
from agents.nfq import NeuralFittedQAgent
from agents.populations.population import Population
from agents.populations.stacked import StackedNetwork, clip_grad_norms_
from gridlab.core import validation
from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary

_FIRST = int(dm_env.StepType.FIRST)


class StackedReplay:
    """N members' replay buffers as stacked arrays, one ring per member.

    Member m's ring fills and wraps exactly as its own `ReplayBuffer` would
    (the same slots in the same order), and `sample` draws member m's
    indices from `generators[m]` as `ReplayBuffer.sample` draws them, so
    each member samples the minibatches its single agent would. Arrays start
    small and double as the fullest member needs (up to `capacity`).
    """

    def __init__(self, capacity: int, generators: Sequence[np.random.Generator],
                 observation_shape, observation_dtype):
        self.capacity = validation.check_positive_int('capacity', capacity)
        self._generators = list(generators)
        n = len(self._generators)
        self.size = np.zeros(n, np.int64)
        self._head = np.zeros(n, np.int64)
        slots = min(1024, self.capacity)
        self._states = np.zeros((n, slots) + tuple(observation_shape), observation_dtype)
        self._next_states = np.zeros_like(self._states)
        self._actions = np.zeros((n, slots), np.int64)
        self._rewards = np.zeros((n, slots), np.float32)
        self._discounts = np.zeros((n, slots), np.float32)

    def add(self, members: np.ndarray, states, actions, rewards, discounts,
            next_states) -> None:
        """One transition for each of `members` (indices), into their rings."""
        if not len(members):
            return
        slots = self._head[members]
        if slots.max() >= self._actions.shape[1]:
            self._grow()
        self._states[members, slots] = states
        self._next_states[members, slots] = next_states
        self._actions[members, slots] = actions
        self._rewards[members, slots] = rewards
        self._discounts[members, slots] = discounts
        self.size[members] = np.maximum(self.size[members], slots + 1)
        head = slots + 1
        head[head == self.capacity] = 0  # Full: the next overwrites the oldest.
        self._head[members] = head

    def _grow(self) -> None:
        slots = min(2 * self._actions.shape[1], self.capacity)
        for name in ('_states', '_next_states', '_actions', '_rewards', '_discounts'):
            old = getattr(self, name)
            new = np.zeros((old.shape[0], slots) + old.shape[2:], old.dtype)
            new[:, :old.shape[1]] = old
            setattr(self, name, new)

    def sample(self, members: Sequence[int], batch_size: int):
        """(states, actions, rewards, discounts, next_states), each
        (len(members), B, ...): row i member members[i]'s minibatch, drawn
        from its generator."""
        index = np.zeros((len(members), batch_size), np.int64)
        for i, m in enumerate(members):
            index[i] = self._generators[m].integers(self.size[m], size=batch_size)
        rows = np.asarray(members, np.int64)[:, None]
        return (self._states[rows, index], self._actions[rows, index],
                self._rewards[rows, index], self._discounts[rows, index],
                self._next_states[rows, index])


class PopulationNFQ(Population):
    """N independent NFQ agents trained together on N x k environment copies."""

    agent_class = NeuralFittedQAgent
    trained_networks = ('_q_network',)

    def __init__(self, environment_spec, seeds: Sequence[int], device: Optional[str] = 'cpu',
                 **hyperparameters):
        """Builds one `agent_class(environment_spec, seed=s, device=device,
        **hyperparameters)` per seed in `seeds` (distinct integers)."""
        for name, lacks in (('network', 'stacks the default networks'),
                            ('count_bonus', 'has no count-based exploration'),
                            ('learning_rate_decay_steps', 'keeps one step size')):
            if hyperparameters.get(name):
                raise ValueError(f'{name}={hyperparameters[name]!r}: a population of '
                                 f'{self.agent_class.__name__} {lacks}; leave {name} out')
        super().__init__(environment_spec, seeds, device, **hyperparameters)
        first = self.members[0]
        self._q = self.stacks['_q_network']
        spec = first._observation_spec
        self._replay = StackedReplay(first._replay.capacity,
                                     [m._replay._rng for m in self.members],
                                     spec.shape, spec.dtype)
        self._unlearned = np.zeros(self.size, np.int64)
        self._observations = None
        self._learning_rate = first._optimizer.defaults['lr']
        self._loss = F.mse_loss if first._loss_fn is F.mse_loss else F.smooth_l1_loss

    # ---------------------------------------------------------------- acting

    batch_steps_per_update = 1

    def _q_values(self, observations: np.ndarray) -> np.ndarray:
        """(N, B, actions) from (N * B, ...) observations, member-major."""
        with torch.inference_mode():
            inputs = torch.as_tensor(observations, dtype=torch.float32, device=self._device)
            q = self._q(inputs.reshape((self.size, -1) + tuple(inputs.shape[1:])))
            q = q.cpu().numpy()
        validation.check_all_finite('Q-values', q, f'{type(self).__name__}.select_actions')
        return q

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """Each member's epsilon-greedy actions for its own copies, drawn
        from its own explorer in copy order (as `select_actions` of the single
        agent draws them); copies not `acting` get action 0."""
        batch = np.asarray(observations)
        self._check_batch(batch.shape[0] if batch.ndim else 1)
        spec_shape = self.members[0]._observation_spec.shape
        if batch.ndim == 0 or batch.shape[1:] != spec_shape:
            raise ValueError(f'observations must have shape (N,) + {spec_shape}, got '
                             f'{batch.shape}')
        k = batch.shape[0] // self.size
        acting = (np.ones(batch.shape[0], bool) if acting is None
                  else np.asarray(acting, bool))
        if self.size == 1:  # The single agent's own forward pass: on the acting rows.
            q_rows = np.zeros((batch.shape[0], self._num_actions), np.float32)
            if acting.any():
                q_rows[acting] = self._q_values(batch[acting])[0]
            q = q_rows[None]
        else:
            q = self._q_values(batch)
        actions = np.zeros(batch.shape[0], np.int64)
        for m, member in enumerate(self.members):
            explorer = member._explorer
            for i in np.flatnonzero(acting[m * k:(m + 1) * k]):
                if not self.greedy and explorer.rng.random() < explorer.epsilon:
                    actions[m * k + i] = explorer.rng.integers(self._num_actions)
                else:
                    actions[m * k + i] = explorer.argmax(q[m, i])
        return actions

    # ------------------------------------------------------------- batches

    def observe_first_batch(self, timestep: dm_env.TimeStep) -> None:
        self._check_batch(len(np.asarray(timestep.step_type)))
        self._observations = np.array(timestep.observation)
        self._unlearned[:] = 0

    def observe_batch(self, actions, next_timestep: dm_env.TimeStep) -> None:
        """Copy slot j of every member, in order: transitions into replay, an
        exploration step, a learning step (each member as its own agent would)."""
        if self._observations is None:
            raise ValueError('observe_batch() before observe_first_batch(): start '
                             'batched training with observe_first_batch(timestep)')
        timestep = next_timestep
        step_types = np.asarray(timestep.step_type)
        k = len(step_types) // self.size
        first = self.members[0]
        for j in range(k):
            columns = np.arange(self.size) * k + j
            members = np.flatnonzero(step_types[columns] != _FIRST)
            if not len(members):
                continue
            chosen = columns[members]
            self._replay.add(members, self._observations[chosen], np.asarray(actions)[chosen],
                             np.asarray(timestep.reward)[chosen],
                             np.asarray(timestep.discount)[chosen],
                             np.asarray(timestep.observation)[chosen])
            for m in members:
                self.members[m]._explorer.step()
            self._unlearned[members] += 1
            while True:
                due = np.flatnonzero(self._unlearned >= first._update_every)
                if not len(due):
                    break
                self._unlearned[due] -= first._update_every
                ready = [int(m) for m in due
                         if self._replay.size[m] >= self.members[m]._min_replay_size]
                for _ in range(first._learning_steps if ready else 0):
                    self._learn(ready)
        self._observations = np.array(timestep.observation)

    def update_batch(self) -> None:
        """Nothing left: `observe_batch` took each learning step as it fell due."""

    def train(self, environment, num_steps: int,
              stop=None) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`:
        `num_steps` counts every member's copies together."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)

    # ------------------------------------------------------------- learning

    def _td_targets(self, rewards, discounts, next_states, active) -> torch.Tensor:
        """r + d * max_b Q(s', b), with the `active` members' online networks."""
        return rewards + discounts * self._q(next_states, active).max(dim=-1).values

    def _learn(self, active: Sequence[int]) -> None:
        """One gradient step of each `active` member on its own minibatch
        (only theirs: members fall due at different steps, as their episodes
        end at different steps and `update_every` counts each one's own)."""
        first, device = self.members[0], self._device
        states, actions, rewards, discounts, next_states = self._replay.sample(
            active, first._batch_size)
        states = torch.as_tensor(states, dtype=torch.float32, device=device)
        actions = torch.as_tensor(actions, dtype=torch.int64, device=device)
        rewards = torch.as_tensor(rewards, device=device)
        discounts = torch.as_tensor(discounts, device=device) * first.discount
        next_states = torch.as_tensor(next_states, dtype=torch.float32, device=device)
        with torch.no_grad():
            targets = self._td_targets(rewards, discounts, next_states, active)
        q = self._q(states, active).gather(-1, actions[..., None])[..., 0]
        chosen = self._loss(q, targets, reduction='none').mean(dim=1)
        if not bool(torch.isfinite(chosen).all()):
            validation.check_all_finite('loss', chosen.detach().cpu().numpy(),
                                        f'{type(self).__name__} learning step')
        self._optimizer.zero_grad()
        chosen.sum().backward()  # A sum of members' own losses: each gradient its own.
        if first._max_grad_norm is not None:
            clip_grad_norms_(self._parameters(), first._max_grad_norm)
        self._optimizer.step(self._learning_rate, active)
        for m, loss in zip(active, chosen.detach().tolist()):
            self.members[m]._learner_steps += 1
            self.members[m].last_loss = loss
        self._after_learning_step(active)

    def _after_learning_step(self, active: Sequence[int]) -> None:
        """After each gradient step (DQN updates its target networks)."""


class PopulationDQN(PopulationNFQ):
    """N independent DQN agents (double, dueling, conv, Polyak) trained together."""

    agent_class = DQN

    def __init__(self, environment_spec, seeds: Sequence[int], device: Optional[str] = 'cpu',
                 **hyperparameters):
        super().__init__(environment_spec, seeds, device, **hyperparameters)
        self._target = StackedNetwork([m._target_network for m in self.members],
                                      'the target network', trainable=False)

    def _td_targets(self, rewards, discounts, next_states, active) -> torch.Tensor:
        """r + d * Q_target(s', b): b the target's best, or (double) the online one's."""
        target_q = self._target(next_states, active)
        if self.members[0]._double:
            best = self._q(next_states, active).argmax(dim=-1, keepdim=True)
            return rewards + discounts * target_q.gather(-1, best)[..., 0]
        return rewards + discounts * target_q.max(dim=-1).values

    def _after_learning_step(self, active: Sequence[int]) -> None:
        first = self.members[0]
        if first._target_update_rate is not None:
            with torch.no_grad():
                for target, online in zip(self._target.parameters(), self._q.parameters()):
                    target[active] = target[active].lerp(online[active],
                                                         first._target_update_rate)
            return
        due = [m for m in active
               if self.members[m]._learner_steps % first._target_update_frequency == 0]
        if due:
            self._target.copy_from(self._q, due)

    def _write_extra(self, m: int, agent) -> None:
        self._target.write_member(m, agent._target_network)

    def _read_extra(self, m: int, agent) -> None:
        self._target.read_member(m, agent._target_network)
