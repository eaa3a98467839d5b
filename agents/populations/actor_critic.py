"""PopulationActorCritic: N actor-critic agents, one per seed.

Each member learns in its own agent, with its own networks, Adam and
trajectory or rollout (the single agent's own code, so a member is its
single agent bit for bit however many members there are). Two ways, as the
single agent trains:

  * one copy per member (k = 1): member m drives copy m and learns as the
    one-environment run loop would have it learn (at the end of each
    episode, or every `n_steps`). Members end episodes at different steps,
    so their learning steps rarely coincide; what the population does at
    once is acting: every member's policy runs in one batched forward pass
    (a stacked copy of the members' policies, refreshed from a member each
    time it learns), then each member samples its action from its own
    generator, as `select_action` would.
  * k > 1 copies per member (`copies_per_member`, needs `n_steps`): each
    member is A2C on its own k copies, as the single agent's batched run
    (`num_envs=k`), acting and learning through its own batched methods.
"""

from typing import Optional, Sequence

import dm_env
import numpy as np
import torch

from agents.actor_critic import ActorCriticAgent
from agents.common.exploration import random_argmax
from agents.common.policy_agent import checked_probabilities
from agents.populations.population import Population
from agents.populations.stacked import StackedNetwork
from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary

_FIRST = int(dm_env.StepType.FIRST)


class PopulationActorCritic(Population):
    """N independent actor-critic agents; acting batched, learning each its own."""

    agent_class = ActorCriticAgent
    trained_networks = ()  # Each member learns in its own agent.

    def __init__(self, environment_spec, seeds: Sequence[int], device: Optional[str] = 'cpu',
                 **hyperparameters):
        if hyperparameters.get('shared_body'):
            raise ValueError('shared_body=True: a population of ActorCriticAgent stacks '
                             'separate actor and critic networks; leave shared_body out')
        super().__init__(environment_spec, seeds, device, **hyperparameters)
        self._policies = StackedNetwork([m._policy for m in self.members], 'the policy',
                                        trainable=False)
        # k > 1: each member trains batched on its own copies (A2C).
        self._batched = (self.copies_per_member or 1) > 1
        if self._batched:
            self.members[0].check_batched()
        # Rounds of n_steps batch steps, as each member's single batched run has
        # them; one step on one copy each.
        self.batch_steps_per_update = (self.members[0].batch_steps_per_update
                                       if self._batched else 1)

    def _write_extra(self, m: int, agent) -> None:
        """The member's own networks are the trained ones: nothing to write."""

    def _read_extra(self, m: int, agent) -> None:
        self._policies.read_member(m, agent._policy)

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """Member m's action for copy m, sampled from its own generator (the
        most probable under `evaluation_mode`); copies not `acting` get 0
        and draw nothing."""
        batch = np.asarray(observations)
        if self._batched and batch.ndim:
            self._check_batch(batch.shape[0])
            for member in self.members:  # Greedy while the population is.
                member.greedy = self.greedy
            return np.concatenate([
                member.select_actions(batch[own], None if acting is None else acting[own])
                for member, own in zip(self.members, self._slices(batch.shape[0]))])
        if batch.ndim == 0 or batch.shape[0] != self.size:
            raise ValueError(f'a population of {self.size} actor-critic members acts on '
                             f'one copy each; got a batch of shape {batch.shape} (for k copies '
                             f'each, build it with copies_per_member=k)')
        with torch.inference_mode():
            inputs = torch.tensor(batch, dtype=torch.float32, device=self._device)
            logits = self._policies(inputs[:, None])[:, 0]
            probabilities = torch.softmax(logits, dim=-1).cpu().numpy()
        actions = np.zeros(self.size, np.int64)
        for m, member in enumerate(self.members):
            if acting is not None and not acting[m]:
                continue
            p = checked_probabilities(probabilities[m], 'PopulationActorCritic.select_actions')
            if self.greedy:
                actions[m] = random_argmax(p, member._rng)
            else:  # SamplesFromPolicy's inverse-CDF draw.
                action = int(np.searchsorted(np.cumsum(p), member._rng.random(),
                                             side='right'))
                actions[m] = min(action, self._num_actions - 1)
        return actions

    def observe_first_batch(self, timestep: dm_env.TimeStep) -> None:
        if self._batched:
            self._check_batch(len(np.asarray(timestep.step_type)))
            for member, own in zip(self.members, self._slices(self.size *
                                                              self.copies_per_member)):
                member.observe_first_batch(_part(timestep, own))
            return
        observations = np.array(timestep.observation)
        if observations.shape[0] != self.size:
            raise ValueError(f'a population of {self.size} actor-critic members trains on '
                             f'one copy each; got {observations.shape[0]} copies (for k copies '
                             f'each, build it with copies_per_member=k)')
        for member, observation in zip(self.members, observations):
            member.observe_first(dm_env.restart(observation))

    def observe_batch(self, actions, next_timestep: dm_env.TimeStep) -> None:
        """Each member's step, and its learning when due, as the run loop's
        `observe` then `update` (a restart is its `observe_first`)."""
        timestep = next_timestep
        if self._batched:
            for member, own in zip(self.members, self._slices(len(actions))):
                member.observe_batch(actions[own], _part(timestep, own))
            return
        # Copies: the trajectory keeps them, and batched environments reuse
        # their observation arrays.
        observations = np.array(timestep.observation)
        for m, member in enumerate(self.members):
            step_type = int(timestep.step_type[m])
            own = dm_env.TimeStep(dm_env.StepType(step_type), timestep.reward[m],
                                  timestep.discount[m], observations[m])
            if step_type == _FIRST:
                member.observe_first(own)
                continue
            member.observe(actions[m], own)
            member.update()
            if not member._trajectory:  # It learned: acting uses its new policy.
                self._policies.read_member(m, member._policy)

    def update_batch(self) -> None:
        """k > 1: each member's A2C update when its rollout is full. k = 1:
        nothing left, each member learned in `observe_batch` when due."""
        if self._batched:
            for member in self.members:
                member.update_batch()

    def train(self, environment, num_steps: int, stop=None) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)


def _part(timestep: dm_env.TimeStep, copies: slice) -> dm_env.TimeStep:
    """The batched `timestep` of `copies` only."""
    return dm_env.TimeStep(*(np.asarray(field)[copies] for field in timestep))
