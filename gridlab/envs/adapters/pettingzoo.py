"""A `MultiAgentGridWorld` as a PettingZoo `ParallelEnv`.

PettingZoo is the ecosystem's multi-agent API: with this adapter a gridlab
world runs under any PettingZoo-compatible trainer, and PettingZoo's own
`parallel_api_test` checks it. Imports pettingzoo, so it is not loaded by
`import gridlab` (install the `multiagent` extra).

Every agent stays in `agents` until the episode ends (an agent that has
arrived at its goal idles, its actions ignored), then all leave at once:
terminated if the episode ended, truncated if `max_episode_length` cut it.
"""

import functools
from typing import Optional

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv


class MultiAgentParallelEnv(ParallelEnv):
    """PettingZoo's parallel API over a `MultiAgentGridWorld`."""

    metadata = {'name': 'gridlab_multiagent_gridworld_v0', 'render_modes': ['rgb_array'],
                'is_parallelizable': True}

    def __init__(self, environment, render_mode: Optional[str] = None):
        if render_mode not in (None, 'rgb_array'):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.environment = environment
        self.render_mode = render_mode
        self.possible_agents = list(environment.agent_names)
        self.agents = []
        self._observation_specs = environment.observation_spec()

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return spaces.Discrete(int(self._observation_specs[agent].num_values))

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return spaces.Discrete(int(self.environment.action_spec()[agent].num_values))

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None:
            self.environment.reseed(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_space(agent).seed(seed + i)
        timestep = self.environment.reset()
        self.agents = list(self.possible_agents)
        observations = {a: int(timestep.observation[a]) for a in self.agents}
        return observations, {a: {} for a in self.agents}

    def step(self, actions):
        if not self.agents:
            raise RuntimeError('step() after the episode ended: call reset() first')
        timestep = self.environment.step({a: int(np.asarray(actions[a])) for a in actions})
        names = list(self.agents)
        observations = {a: int(timestep.observation[a]) for a in names}
        rewards = {a: float(timestep.reward[a]) for a in names}
        ended = timestep.last()
        terminated = ended and float(timestep.discount) == 0.
        terminations = {a: terminated for a in names}
        truncations = {a: ended and not terminated for a in names}
        positions = self.environment.positions
        infos = {a: {'cell': positions[a]} for a in names}
        if ended:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self):
        if self.render_mode == 'rgb_array':
            return self.environment.render()
        return None

    def close(self):
        pass


def as_pettingzoo(environment, render_mode: Optional[str] = None) -> MultiAgentParallelEnv:
    """Wraps a `MultiAgentGridWorld` as a PettingZoo `ParallelEnv`."""
    return MultiAgentParallelEnv(environment, render_mode)
