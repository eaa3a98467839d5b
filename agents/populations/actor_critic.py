"""PopulationActorCritic: N actor-critic agents, one per seed, one copy each.

The single `ActorCriticAgent` trains on one environment, learning at the
end of each episode (or every `n_steps`) from its own trajectory. Members
end episodes at different steps, so their learning steps rarely coincide
and their trajectories differ in length: each member learns in its own
agent, with its own networks, Adam and trajectory (the single agent's own
code, so a member is its single agent bit for bit however many members
there are). What the population does at once is acting: every member's
policy runs in one batched forward pass (a stacked copy of the members'
policies, refreshed from a member each time it learns), then each member
samples its action from its own generator, as `select_action` would.

Member m drives copy m (k = 1), so its episodes are those of the single
agent in the one-environment loop on the same task.
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

    batch_steps_per_update = 1

    def _write_extra(self, m: int, agent) -> None:
        """The member's own networks are the trained ones: nothing to write."""

    def _read_extra(self, m: int, agent) -> None:
        self._policies.read_member(m, agent._policy)

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """Member m's action for copy m, sampled from its own generator (the
        most probable under `evaluation_mode`); copies not `acting` get 0
        and draw nothing."""
        batch = np.asarray(observations)
        if batch.ndim == 0 or batch.shape[0] != self.size:
            raise ValueError(f'a population of {self.size} actor-critic members acts on '
                             f'one copy each; got a batch of shape {batch.shape}')
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
        observations = np.array(timestep.observation)
        if observations.shape[0] != self.size:
            raise ValueError(f'a population of {self.size} actor-critic members trains on '
                             f'one copy each; got {observations.shape[0]} copies')
        for member, observation in zip(self.members, observations):
            member.observe_first(dm_env.restart(observation))

    def observe_batch(self, actions, next_timestep: dm_env.TimeStep) -> None:
        """Each member's step, and its learning when due, as the run loop's
        `observe` then `update` (a restart is its `observe_first`)."""
        timestep = next_timestep
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
        """Nothing left: each member learned in `observe_batch` when due."""

    def train(self, environment, num_steps: int, stop=None) -> TrainingSummary:
        """`BatchedEnvironmentLoop(environment, self, stop).run(num_steps)`."""
        return BatchedEnvironmentLoop(environment, self, stop).run(num_steps)
