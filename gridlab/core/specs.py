"""EnvironmentSpec: the four specs an agent is built from, as in Acme."""

from typing import NamedTuple

import dm_env
from dm_env import specs


class EnvironmentSpec(NamedTuple):
    """Field for field like `acme.specs.EnvironmentSpec`."""
    observations: specs.Array
    actions: specs.Array
    rewards: specs.Array
    discounts: specs.BoundedArray


def make_environment_spec(environment: dm_env.Environment) -> EnvironmentSpec:
    """Collects an environment's specs."""
    return EnvironmentSpec(
        observations=environment.observation_spec(),
        actions=environment.action_spec(),
        rewards=environment.reward_spec(),
        discounts=environment.discount_spec())
