"""Running one `Actor` per agent in a `MultiAgentGridWorld`.

Independent learners: each agent's actor sees only its own view of each
TimeStep (its observation, its reward, the episode's discount) and learns as
if it were alone; the other agents are part of its environment, one that
changes as they learn. `MultiAgentLoop` drives them:

    observe_first(view)                      # every actor, at FIRST
    loop: actions = {name: actor.select_action(view.observation)}
          timestep = environment.step(actions)
          actor.observe(action, view); actor.update()   # every actor

Actors whose agent has arrived keep acting and observing (the environment
ignores their actions) until the episode ends, so a shared team reward reaches
every learner.

`greedy_episode` traces the agents' greedy positions along one episode.
Judging the team exactly on the joint MDP, and training until it is judged,
is `gridlab.evaluation.teams` (a layer up: it needs planning).
"""

from typing import Dict, Mapping, Optional

import dm_env
import numpy as np


def agent_view(timestep: dm_env.TimeStep, name: str) -> dm_env.TimeStep:
    """One agent's TimeStep: its observation and reward, the shared discount."""
    reward = None if timestep.reward is None else timestep.reward[name]
    return timestep._replace(observation=timestep.observation[name], reward=reward)


class MultiAgentLoop:
    """Runs a dict of actors (one per agent name) in a multi-agent environment."""

    def __init__(self, environment, actors: Mapping[str, object], learn: bool = True):
        names = tuple(environment.agent_names)
        if set(actors) != set(names):
            raise ValueError(f'actors must have one actor per agent {list(names)}, '
                             f'got {sorted(actors)}')
        self._environment = environment
        self._actors = dict(actors)
        self._names = names
        self._learn = learn

    def run_episode(self, max_steps: Optional[int] = None) -> Dict:
        """One episode; returns its length and each agent's (undiscounted) return."""
        timestep = self._environment.reset()
        if self._learn:
            for name in self._names:
                self._actors[name].observe_first(agent_view(timestep, name))
        returns = dict.fromkeys(self._names, 0.)
        steps = 0
        while not timestep.last() and (max_steps is None or steps < max_steps):
            actions = {name: self._actors[name].select_action(timestep.observation[name])
                       for name in self._names}
            timestep = self._environment.step(actions)
            steps += 1
            for name in self._names:
                returns[name] += float(timestep.reward[name])
                if self._learn:
                    actor = self._actors[name]
                    actor.observe(actions[name], agent_view(timestep, name))
                    actor.update()
        return {'episode_length': steps, 'episode_returns': returns,
                'terminated': bool(timestep.last() and timestep.discount == 0.)}

    def run(self, num_episodes: Optional[int] = None,
            num_steps: Optional[int] = None) -> list:
        """Episodes until either budget is spent; returns their results."""
        if num_episodes is None and num_steps is None:
            raise ValueError('give num_episodes or num_steps (or both)')
        results, steps = [], 0
        while ((num_episodes is None or len(results) < num_episodes) and
               (num_steps is None or steps < num_steps)):
            remaining = None if num_steps is None else num_steps - steps
            results.append(self.run_episode(max_steps=remaining))
            steps += results[-1]['episode_length']
        return results


def greedy_episode(environment, actors: Mapping[str, object], max_steps: int = 30) -> list:
    """The agents' positions ({name: (y, x) or None}) along one greedy episode.

    Actions are the first best of each actor's `q_values`, as in
    `gridlab.evaluation.teams.greedy_joint_policy`; nothing is learned.
    """
    timestep = environment.reset()
    trace = [environment.positions]
    for _ in range(max_steps):
        actions = {name: int(np.argmax(actors[name].q_values(timestep.observation[name])))
                   for name in environment.agent_names}
        timestep = environment.step(actions)
        trace.append(environment.positions)
        if timestep.last():
            break
    return trace

