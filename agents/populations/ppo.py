"""PopulationPPO: N PPO agents, one per seed, trained as one in one process.

    env = ConcatenatedEnvironments([GymnasiumVectorWrapper('CartPole-v1', 16, seed=s)
                                    for s in seeds])
    population = PopulationPPO(env.single_environment_spec(), seeds=seeds)
    population.train(env, 32 * 16 * 100_000)   # every member 100k steps
    population.member(3)                       # an ordinary agents.ppo.PPO

Member m is the ordinary `agents.ppo.PPO` built with `seeds[m]` (the same
weights, optimiser and random generators), and it drives copies
m*k .. m*k + k - 1 of the batched environment (k copies each). Each rollout
is one batched forward pass for all members (stacked weights,
`agents.populations.stacked`); each member's data, advantages,
normalisation, minibatch order (drawn from its own generator), gradient
clipping and Adam state stay its own, so members never share data or
gradients. A population of one computes what `PPO(seed=s).train(env)` does
on the same copies, bit for bit; a member of a larger population agrees with
its single agent to float rounding (a batched product adds up in another
order for some layer sizes).

Members' minibatches differ in size (their rollouts ended different numbers
of episodes, and restarts are not transitions): they are padded to one
width, and the padding is masked out of every mean. A member with fewer
minibatches than another takes no optimiser step while it waits.
"""

from typing import Callable, List, Optional, Sequence

import dm_env
import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from agents.populations.population import Population
from agents.populations.stacked import clip_grad_norms_
from agents.common.rollout import Rollout, gae
from agents.common.torch_utils import decay_learning_rate, standardized
from agents.ppo import PPO
from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary

_LAST = int(dm_env.StepType.LAST)


class PopulationPPO(Population):
    """N independent PPO agents trained together on N x k environment copies."""

    agent_class = PPO
    trained_networks = ('_actor', '_critic')  # PPO's optimiser: actor's, then critic's.

    def __init__(self, environment_spec, seeds: Sequence[int], device: Optional[str] = 'cpu',
                 **hyperparameters):
        """Builds one `agents.ppo.PPO(environment_spec, seed=s, device=device,
        **hyperparameters)` per seed in `seeds` (distinct integers)."""
        super().__init__(environment_spec, seeds, device, **hyperparameters)
        if any(True for _ in self.members[0]._encoder.parameters()):
            # The encoder runs once for every member: it must be a fixed map.
            raise ValueError('PopulationPPO shares one observation encoder between its '
                             'members, which needs an encoder without parameters (one-'
                             'hot, scaling); this PPO encoder learns: train its seeds '
                             'one by one')
        self._actor, self._critic = self.stacks['_actor'], self.stacks['_critic']
        self.rollout_length = self.members[0].rollout_length
        self._rollout = None

    # ---------------------------------------------------------------- acting

    def _features(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N * B, ...) inputs, member-major, as (N, B, features).

        The encoder is the same fixed map for every member (one-hot, or the
        spec's rescaling), elementwise, so it runs once on the whole batch."""
        features = self.members[0]._encoder(inputs)
        return features.reshape(self.size, -1, features.shape[-1])

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """One action per copy, member m acting for copies m*k .. m*k + k - 1.

        Sampled with each member's rollout noise, as `PPO.select_actions`;
        greedy under `evaluation_mode`."""
        first = self.members[0]
        inputs = first._as_inputs(observations).to(self._device)
        self._check_batch(inputs.shape[0])
        with torch.inference_mode():
            logits = self._actor(self._features(inputs))
            logits = logits.reshape(inputs.shape[0], -1)
            if not self.greedy:
                logits = logits + self._noise(inputs.shape[0]).to(self._device)
            return logits.argmax(dim=-1).cpu().numpy()

    def _noise(self, batch: int) -> torch.Tensor:
        """Each member's Gumbel noise, drawn from its own generator as it would."""
        rollout, k = self._rollout, batch // self.size
        if rollout is not None and rollout.awaiting and batch == rollout.num_envs:
            if rollout.noise is None:
                shape = (self.rollout_length, k, self._num_actions)
                rollout.noise = torch.cat([m._gumbel_noise(shape) for m in self.members],
                                          dim=1)
            rollout.awaiting = False
            return rollout.noise[rollout.t]
        return torch.cat([m._gumbel_noise((k, self._num_actions)) for m in self.members])

    # ------------------------------------------------------------- batches

    @property
    def batch_steps_per_update(self) -> int:
        return self.rollout_length

    def observe_first_batch(self, timestep: dm_env.TimeStep) -> None:
        self._check_batch(len(np.asarray(timestep.step_type)))
        dtype = np.int64 if self.members[0]._encoder.num_values else np.float32
        self._rollout = Rollout(timestep, self.rollout_length, dtype)
        for member in self.members:
            member._restart_returns()

    def observe_batch(self, actions, next_timestep: dm_env.TimeStep) -> None:
        rollout = self._rollout
        if rollout is None:
            raise ValueError('observe_batch() before observe_first_batch(): start '
                             'batched training with observe_first_batch(timestep)')
        timestep, first = next_timestep, self.members[0]
        rollout.check(timestep)  # Before the members' bonuses count its visits.
        reward = np.asarray(timestep.reward, np.float32)
        if first.count_bonus or first._return_scaler is not None:
            # Each member counts its own copies' visits and scales by their returns.
            observations, step_types, discounts = (np.asarray(a) for a in (
                timestep.observation, timestep.step_type, timestep.discount))
            reward = np.concatenate([
                m._learned_rewards(reward[s], observations[s], step_types[s], discounts[s])
                for m, s in zip(self.members, self._slices(len(reward)))])
        rollout.record(actions, timestep, reward, first.discount)

    # PPO's own: learn once the rollout is full (here `_learn` is the population's).
    update_batch = PPO.update_batch

    def train(self, environment, num_steps: int,
              stop: Optional[Callable[['PopulationPPO', int], bool]] = None
              ) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`:
        `num_steps` counts every member's copies together."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)

    # ------------------------------------------------------------- learning

    def _learn(self, observations, actions, rewards, discounts, step_types) -> None:
        """One PPO update of every member from a rollout of T steps of N x k copies."""
        length, copies = actions.shape
        n, k = self.size, copies // self.size
        shape = tuple(observations.shape[2:])
        # Member-major, each member's rows in the single agent's order (t, copy).
        member_major = observations.reshape((length + 1, n, k) + shape).transpose(0, 1)
        with torch.no_grad():
            features = self._features(member_major.reshape((-1,) + shape))
            logits = self._actor(features).reshape(n, length + 1, k, -1)
            values = self._critic(features)[..., 0].reshape(n, length + 1, k)
            # Back to the rollout's layout (t, member * k + copy): GAE is columnwise.
            logits = logits.transpose(0, 1).reshape(length + 1, copies, -1)
            values = values.transpose(0, 1).reshape(length + 1, copies)
            log_pi = torch.log_softmax(logits[:-1], dim=-1)
            old_log_probs = log_pi.gather(-1, actions[..., None])[..., 0]
            advantages = gae(rewards, discounts, values, step_types,
                             self.members[0].gae_lambda)
            targets = advantages + values[:-1]
        data = [self._member_batch(m, columns, observations, actions, old_log_probs,
                                   advantages, targets, step_types)
                for m, columns in zip(self.members, self._slices(copies))]
        sizes = [len(d[1]) for d in data]
        # Each member's data padded to the largest: (N, S, ...).
        padded = [pad_sequence([d[i] for d in data], batch_first=True) for i in range(5)]
        first = self.members[0]
        for member in self.members:  # Every member has the same steps, and so rate.
            member.steps += length * k
            lr = decay_learning_rate(member._optimizer, member.learning_rate, member.steps,
                                     member.learning_rate_decay_steps)
        minibatches = [max(1, size // first.num_minibatches) for size in sizes]
        counts = [len(range(0, size - mb + 1, mb)) for size, mb in zip(sizes, minibatches)]
        # Minibatches are padded to one width. For a population of one, its
        # own (no padding: the single agent's figures, bit for bit); for
        # more, the widest minibatch any member could have, so that no
        # member's arithmetic (the shapes its products and sums run at)
        # depends on how many transitions the others had: members are
        # independent bit for bit, not only to rounding.
        width = minibatches[0] if n == 1 else max(1, length * k // first.num_minibatches)
        rows = torch.arange(n, device=self._device)[:, None]
        parameters = self._parameters()
        losses = None
        for _ in range(first.update_epochs):
            # A member with no transition (only restarts) draws nothing, as PPO.
            orders = [torch.randperm(size, generator=m._generator) if size else
                      torch.empty(0, dtype=torch.int64)
                      for m, size in zip(self.members, sizes)]
            for j in range(max(counts)):
                chosen = [order[j * mb:(j + 1) * mb] if j < count else order[:0]
                          for order, mb, count in zip(orders, minibatches, counts)]
                lengths = [len(c) for c in chosen]
                index = pad_sequence(chosen, batch_first=True)
                index = torch.nn.functional.pad(index, (0, width - index.shape[1]))
                index = index.to(self._device)
                step_losses = self._losses(*(tensor[rows, index] for tensor in padded),
                                           lengths)
                active = [m for m, count in enumerate(counts) if j < count]
                self._optimizer.zero_grad()
                # A sum of each member's own loss: each gradient is its member's.
                step_losses[active].sum().backward()
                clip_grad_norms_(parameters, first.max_grad_norm)
                self._optimizer.step(lr, active)
                step_losses = step_losses.detach()
                # Each member's last loss is that of its own last minibatch.
                losses = step_losses if losses is None else torch.where(
                    torch.tensor([j < c for c in counts], device=self._device),
                    step_losses, losses)
        if losses is None:  # No member had a transition to learn from.
            return
        for member, loss, count in zip(self.members, losses.tolist(), counts):
            if count:  # A member that learned nothing keeps its last loss, as PPO.
                member.last_loss = loss

    def _member_batch(self, member: PPO, columns: slice, observations, actions,
                      old_log_probs, advantages, targets, step_types):
        """A member's valid transitions and normalised advantages, computed
        with the single agent's own operations on its own columns."""
        valid = (step_types[:-1, columns] != _LAST).reshape(-1)
        index = torch.nonzero(valid)[:, 0]
        shape = tuple(observations.shape[2:])
        inputs = observations[:-1, columns].reshape((-1,) + shape)[index]
        advantages = advantages[:, columns].reshape(-1)[index]
        if member.normalize_advantages:
            advantages = standardized(advantages)
        return (inputs, actions[:, columns].reshape(-1)[index],
                old_log_probs[:, columns].reshape(-1)[index], advantages,
                targets[:, columns].reshape(-1)[index])

    def _losses(self, inputs, actions, old_log_probs, advantages, targets,
                lengths: List[int]) -> torch.Tensor:
        """Each member's PPO loss on its own minibatch, shape (N,).

        `PPO._loss`'s operations with a member dimension in front; where
        members' minibatches differ in length, means are over each member's
        own entries (the padding weighs 0)."""
        first = self.members[0]
        n, width = actions.shape
        features = self._features(inputs.reshape((n * width,) + tuple(inputs.shape[2:])))
        logits, values = self._actor(features), self._critic(features)[..., 0]
        log_pi = torch.log_softmax(logits, dim=-1)
        ratio = torch.exp(log_pi.gather(-1, actions[..., None])[..., 0] - old_log_probs)
        surrogate = torch.min(ratio * advantages,
                              ratio.clamp(1. - first.clip, 1. + first.clip) * advantages)
        entropy = -(log_pi.exp() * log_pi).sum(-1)
        mean = self._mean(lengths, width)
        value_loss = 0.5 * mean((values - targets).pow(2))
        return (-mean(surrogate) + first.value_cost * value_loss
                - first.entropy_cost * mean(entropy))

    def _mean(self, lengths: List[int], width: int):
        """The mean over each member's own entries of an (N, width) tensor."""
        if self.size == 1:  # Never padded: the single agent's own mean.
            return lambda x: x.mean(dim=1)
        mask = (torch.arange(width)[None] < torch.tensor(lengths)[:, None]).to(self._device)
        # An idle member (length 0) divides by 1: its loss is left out anyway.
        counts = torch.tensor([max(length, 1) for length in lengths], dtype=torch.float32,
                              device=self._device)
        return lambda x: torch.where(mask, x, torch.zeros_like(x)).sum(dim=1) / counts
