"""Agents that misbehave on purpose, for the fault tests of runs and sweeps.

Loaded as `faulty_agents:Class` by gridlab processes the tests start (with
tests/ on PYTHONPATH), they take their orders from environment variables,
which worker processes inherit:

- `Fragile` (a random agent), on the seeds in GRIDLAB_TEST_KILL_SEEDS, SIGKILLs
  its own process at its 50th action, as the OS's out-of-memory killer would,
  and on those in GRIDLAB_TEST_SLOW_SEEDS sleeps 10 ms per action, so that a
  test can act mid-run.
- `KilledQLearning` and `KilledPPO` SIGKILL their process at their
  GRIDLAB_TEST_KILL_AT-th episode (Q-learning) or batch of actions (PPO).
"""

import os
import signal
import time

from agents import RandomAgent
from agents.ppo import PPO
from agents.tabular import QLearning


def _seeds(name):
    return os.environ.get(name, '').split(',')


class Fragile(RandomAgent):
    """A random agent that can be made to die, or to dawdle, on some seeds."""

    def __init__(self, environment_spec, seed=None):
        super().__init__(environment_spec, seed=seed)
        self._actions = 0
        self._kill = str(seed) in _seeds('GRIDLAB_TEST_KILL_SEEDS')
        self._slow = str(seed) in _seeds('GRIDLAB_TEST_SLOW_SEEDS')

    def select_action(self, observation):
        self._actions += 1
        if self._kill and self._actions == 50:
            os.kill(os.getpid(), signal.SIGKILL)
        if self._slow:
            time.sleep(0.01)
        return super().select_action(observation)


class Labelled(RandomAgent):
    """A random agent with a free-text setting, to name folders with."""

    def __init__(self, environment_spec, seed=None, label: str = 'plain'):
        super().__init__(environment_spec, seed=seed)
        self.label = label


def _count(agent) -> None:
    """SIGKILLs the process at the agent's GRIDLAB_TEST_KILL_AT-th call."""
    agent.calls = getattr(agent, 'calls', 0) + 1
    if agent.calls == int(os.environ.get('GRIDLAB_TEST_KILL_AT') or 0):
        os.kill(os.getpid(), signal.SIGKILL)


class KilledQLearning(QLearning):
    def observe_first(self, timestep):
        _count(self)
        super().observe_first(timestep)


class KilledPPO(PPO):
    def select_actions(self, observations, acting=None):
        _count(self)
        return super().select_actions(observations, acting)
