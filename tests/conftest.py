"""Test-session settings, and the stub actors several test files share.

Test files import the stubs with `from conftest import ConstantActor`.
"""

import importlib
import signal
import subprocess
import time

import dm_env
import numpy as np
import pytest
import torch

import gridlab
from gridlab import registry

# The agents' networks are tiny: one thread is faster than two, and on a busy
# machine threads that wait on each other make tests crawl.
torch.set_num_threads(1)


# ------------------------------------------------------------- test tiers
# `pip install -e '.[test]'` is the light tier: a test that needs an optional
# library is skipped, naming it. `.[test-full]` with `pytest --full` (CI's
# and the README's command) is the full one: there a missing library is a
# failure, never a quiet skip.

def pytest_addoption(parser):
    parser.addoption('--full', action='store_true',
                     help="the full test tier (pip install -e '.[test-full]'): a test "
                          'that needs a missing optional library fails instead of '
                          'being skipped')


def pytest_configure(config):
    global FULL
    FULL = config.getoption('--full')


FULL = False


def pytest_collection_modifyitems(config, items):
    """The long tests first: the learning checks marked slow, then the
    tutorials (up to a minute each), each group in pytest's order. With
    `--maxschedchunk 1` (setup.cfg) pytest-xdist gives each worker the next
    test as it finishes one, so the short tests at the end fill both cores
    evenly, where a long one at the end would run on one core alone."""
    def rank(item):
        if item.get_closest_marker('slow'):
            return 0
        return 1 if item.path.name == 'test_tutorials.py' else 2
    items.sort(key=rank)  # Stable: the order within each rank is pytest's.


def needs(module: str, extra: str = 'test-full'):
    """`module`, imported; in the light tier a skip naming it if it is missing."""
    if FULL:
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"needs {module} (pip install -e "
                                              f"'.[{extra}]'; pytest --full runs it)")


class ConstantActor(gridlab.PassiveActor):
    """Always the same action; learns nothing and reports no loss."""

    def __init__(self, action=int(gridlab.Action.DOWN)):
        self.action = int(action)

    def select_action(self, observation):
        return self.action


class TableActor(gridlab.PassiveActor):
    """Greedy on a fixed (H, W, 4) table of action values, on STATE_INDEX
    observations of `env`; counts the steps it is shown."""

    def __init__(self, env, table):
        self.env, self.table = env, np.asarray(table)
        self.steps_seen = 0

    def q_values(self, observation):
        y, x = divmod(int(observation), self.env.shape[1])
        return self.table[y, x]

    def select_action(self, observation):
        return int(np.nanargmax(self.q_values(observation)))

    def observe(self, action, next_timestep):
        self.steps_seen += 1


def planned_actor(env) -> TableActor:
    """Greedy on Q* from planning: the optimal policy."""
    return TableActor(env, gridlab.optimal_q_values(env))


class InterruptOnce(registry.resolve('q-learning').load()):
    """Q-learning that is interrupted (Ctrl-C) once, at the start of its 40th episode."""
    interrupted = False
    episodes = 0

    def observe_first(self, timestep):
        type(self).episodes += 1
        if type(self).episodes == 40 and not type(self).interrupted:
            type(self).interrupted = True
            raise KeyboardInterrupt
        super().observe_first(timestep)


@pytest.fixture
def flaky(monkeypatch):
    """The name of InterruptOnce as a registered agent, its count reset."""
    monkeypatch.setattr(registry, '_REGISTERED_HERE', {})
    registry.register('flaky', InterruptOnce)
    InterruptOnce.interrupted, InterruptOnce.episodes = False, 0
    return 'flaky'


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs: a real file system that fills up (mounting needs root, as CI has)."""
    mount = tmp_path / 'disk'
    mount.mkdir()
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=512k', 'tmpfs',
                             str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f'mounting a tmpfs needs root, as CI has: {result.stderr.strip()}')
    yield mount
    subprocess.run(['umount', '-l', str(mount)], check=False)


def interruptible():
    """A `preexec_fn` for a gridlab process a test starts: the default Ctrl-C handler.

    A test run started in the background (`pytest &`) inherits an ignored
    SIGINT, and Python then installs no Ctrl-C handler: give the process the
    default one, as a terminal would.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition, process, seconds=120):
    """Polls `condition()` until it holds; fails if `process` ends first or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f'gridlab exited early: {process.communicate()}')
        time.sleep(0.1)
    process.kill()
    raise AssertionError('timed out waiting for gridlab')


def greedy_cartpole_mean(agent, episodes: int = 20, seed: int = 10_000) -> float:
    """Greedy mean return over `episodes` CartPole episodes (its own seed),
    of an agent with `select_actions`."""
    from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
    env = GymnasiumVectorWrapper('CartPole-v1', num_envs=episodes, seed=seed)
    timestep = env.reset()
    total, done = np.zeros(episodes), np.zeros(episodes, bool)
    with gridlab.evaluation_mode(agent):
        while not done.all():
            timestep = env.step(agent.select_actions(timestep.observation))
            total += np.where(done, 0., timestep.reward)
            done |= timestep.step_type == int(dm_env.StepType.LAST)
    return float(total.mean())
