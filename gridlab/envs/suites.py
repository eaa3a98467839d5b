"""The foreign suites a task id can name: bsuite, MiniGrid and MinAtar.

Each suite is an optional extra. Its ids are recognised by their prefix
(`bsuite/catch/0`, `MiniGrid-DoorKey-5x5-v0`, `MinAtar/Breakout-v1`) whether or
not the extra is installed, so a missing extra is one line naming the
`pip install` to run instead of "unknown task". The suite's library is
imported only when one of its tasks is built, by its adapter module
(`gridlab.envs.adapters.<suite>`), which offers:

    check_task(task) -> None           a ValueError naming the id if unknown
    make_environment(task, observation, seed, discount, log_directory=None)
                                       one dm_env copy (`log_directory`: where
                                       a suite that keeps its own log writes it)
    batched_environment(task, observation, num_envs, seed, discount)
                                       copies stepped as arrays, as
                                       `GymnasiumVectorWrapper` steps them
                                       (a ValueError where the suite cannot)
    num_episodes(task) -> int          optional: the suite's own training budget
                                       (bsuite scores a run by it)
"""

import dataclasses
import importlib
import importlib.util
from types import ModuleType
from typing import Dict, Optional, Tuple

from gridlab.core.errors import ExperimentError


class MissingExtra(ExperimentError):
    """A suite's library is not installed: the message names the extra."""


@dataclasses.dataclass(frozen=True)
class Suite:
    """One foreign suite.

    Attributes:
      name: the suite's name, as `summary.json` and `gridlab tasks` say it.
      prefix: what its ids start with.
      extra: gridlab's optional extra that installs it.
      requires: the module whose presence says the extra is installed.
      observations: the observation choices (`--observation`), the default
        first; empty where the suite has one observation.
      discount: what its TimeSteps carry by default on steps that do not end
        an episode (times the suite's own discount, where it has one).
      listed: ids `gridlab tasks` shows, with one line each.
      example: an id for messages.
    """
    name: str
    prefix: str
    extra: str
    requires: str
    observations: Tuple[str, ...]
    discount: float
    listed: Dict[str, str]
    example: str

    def matches(self, task: str) -> bool:
        return task.startswith(self.prefix)

    @property
    def installed(self) -> bool:
        return importlib.util.find_spec(self.requires) is not None

    @property
    def install_hint(self) -> str:
        return f"pip install 'gridlab[{self.extra}]'"

    def adapter(self) -> ModuleType:
        """The adapter module (which imports the suite's library), or MissingExtra."""
        if not self.installed:
            raise MissingExtra(f'{self.name} tasks need the {self.name} package, which '
                               f'is not installed: {self.install_hint}')
        return importlib.import_module(f'gridlab.envs.adapters.{self.name}')

    def observation(self, choice: Optional[str]) -> Optional[str]:
        """The observation choice called `choice` (default: the suite's first)."""
        if not self.observations:
            if choice is not None:
                raise ExperimentError(f'{self.name} tasks have one observation; got '
                                      f'observation {choice!r}')
            return None
        if choice is None:
            return self.observations[0]
        folded = str(choice).lower().replace('-', '_')
        if folded not in self.observations:
            raise ExperimentError(f'unknown observation {choice!r} for {self.name} '
                                  f'tasks; expected one of {", ".join(self.observations)}')
        return folded


SUITES = {
    'bsuite': Suite(
        name='bsuite', prefix='bsuite/', extra='bsuite', requires='bsuite',
        observations=(), discount=0.99, example='bsuite/catch/0',
        listed={'bsuite/catch/0': 'catch a falling ball (bsuite; any bsuite/EXPERIMENT/ID)',
                'bsuite/deep_sea/10': 'deep-sea exploration, size 30 (bsuite)'}),
    'minigrid': Suite(
        name='minigrid', prefix='MiniGrid-', extra='minigrid', requires='minigrid',
        observations=('symbolic', 'full', 'rgb'), discount=0.99,
        example='MiniGrid-DoorKey-5x5-v0',
        listed={'MiniGrid-Empty-5x5-v0': 'reach the green square (MiniGrid; any MiniGrid-* id)',
                'MiniGrid-DoorKey-5x5-v0': 'fetch the key, open the door, reach the goal '
                                           '(MiniGrid)'}),
    'minatar': Suite(
        name='minatar', prefix='MinAtar/', extra='minatar', requires='minatar',
        observations=(), discount=0.99, example='MinAtar/Breakout-v1',
        listed={'MinAtar/Breakout-v1': 'Atari Breakout on 10x10 binary channels (MinAtar)',
                'MinAtar/SpaceInvaders-v1': 'Space Invaders on 10x10 binary channels '
                                            '(MinAtar; also Asterix, Freeway, Seaquest)'}),
}


def suite_of(task: str) -> Optional[Suite]:
    """The suite whose ids `task` looks like, or None."""
    for suite in SUITES.values():
        if suite.matches(task):
            return suite
    return None
