"""Populations: many seeds of one neural agent trained as one, in one process.

`PopulationPPO`, `PopulationDQN`, `PopulationNFQ` and `PopulationActorCritic`
hold N ordinary agents, one per seed, and train them together on N x k
copies of a task through `gridlab.loops.BatchedEnvironmentLoop`: one batched
forward pass for all members, each member's data, random streams, gradients
and optimiser state its own. A population of one is the single agent, bit
for bit; `agents.populations.memory` sizes a population for the memory at hand.
"""

from agents.populations.population import Population, check_seeds
from agents.populations.actor_critic import PopulationActorCritic
from agents.populations.dqn import PopulationDQN, PopulationNFQ
from agents.populations.ppo import PopulationPPO

__all__ = ['Population', 'PopulationActorCritic', 'PopulationDQN', 'PopulationNFQ',
           'PopulationPPO', 'check_seeds']
