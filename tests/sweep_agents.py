"""Agents for the sweep tests, loaded as `sweep_agents:Class` (tests/ is on the path).

`Fragile` misbehaves on the seeds named in environment variables, which
worker processes inherit: GRIDLAB_TEST_KILL_SEEDS (SIGKILL its own process at
its 50th action, as the OS's out-of-memory killer would) and
GRIDLAB_TEST_SLOW_SEEDS (sleep 10 ms per action, so a test can act mid-run).
"""

import os
import signal
import time

from agents import RandomAgent


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
