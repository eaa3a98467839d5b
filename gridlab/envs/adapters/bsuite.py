"""bsuite's experiments as gridlab tasks: `bsuite/EXPERIMENT/ID`.

DeepMind's behaviour suite (Osband et al., 2020) is a set of experiments,
each a sweep of settings (`bsuite.sweep`): `catch/0` ... `catch/19`,
`deep_sea/0` (size 10) ... `deep_sea/20` (size 50), and so on. A gridlab task
names one setting as `bsuite/catch/0`. bsuite's environments already speak
dm_env; this module builds them with bsuite's own loader (`bsuite.load` with
the id's settings from `bsuite.sweep.SETTINGS`, as `bsuite.load_from_id`
does, without its banner on stdout) and, when given a `log_directory`, wraps
them with bsuite's own CSV logger (`csv_logging.wrap_environment`, as
`bsuite.load_and_record_to_csv` does), so a run writes the log that bsuite's
analysis reads unchanged (`bsuite.logging.csv_load.load_bsuite`).

What gridlab adds on top, and why:

- Discounting (gridlab's one rule): TimeSteps carry bsuite's own discount
  (1 on every step that does not end an episode, 0 on the last) times
  `discount` (0.99 by default), so an agent whose own discount is 1 still
  has a horizon. Rewards and discounts are float32 scalars.
- Seeding: a bsuite id fixes the problem (a deep_sea size and its action
  mapping, a bandit's arms); the environment's own random stream (where
  the ball falls in catch, cartpole's start, the noise of the *_noise
  experiments) is, in bsuite's sweep, unseeded (`seed=None`: a fresh stream
  every time). Here it is seeded from gridlab's `seed` (folded into the 32
  bits numpy's RandomState takes), so a run is reproducible and its
  evaluation copy (another seed) sees other balls. bsuite's analysis joins
  its logs with the sweep's settings by id, never by seed, so scores are
  unchanged by this. Where an id fixes the seed itself, or bsuite's
  environment is deterministic (bandit, discounting_chain), `seed` changes
  nothing. deep_sea_stochastic's loader takes no seed; its transition noise
  generator is seeded directly.
- `render()`: the observation drawn as a picture (dark = 1), for the
  evaluation video every run writes.
- `batched_environment`: copies stepped one by one, as arrays (bsuite has no
  vector API); they write no bsuite log.

Everything bsuite-specific is imported here, never by `import gridlab`.
"""

import difflib
import inspect
import os
import pathlib
from typing import List, Optional, Sequence

import dm_env
import numpy as np
from dm_env import specs

import bsuite
from bsuite import bsuite as bsuite_loading
from bsuite import sweep
from bsuite.logging import csv_logging

from gridlab.core.specs import EnvironmentSpec
from gridlab.envs import base
from gridlab.envs.palette import FREE, WALL

PREFIX = 'bsuite/'
ID_FORMAT = ('bsuite/EXPERIMENT/ID, where EXPERIMENT is a bsuite experiment '
             '(catch, deep_sea, cartpole, ...) and ID an index into its sweep, '
             'e.g. bsuite/catch/0')
DEFAULT_DISCOUNT = 0.99
RENDER_CELL = 16  # Pixels per observation entry in `render()`.

# Experiments whose loader drops the seed, and the attribute of bsuite's
# environment holding the generator that the seed would have made.
_SEED_ATTRIBUTE = {'deep_sea_stochastic': '_rng'}


# ------------------------------------------------------------------- ids

def experiments() -> List[str]:
    """bsuite's experiment names, in bsuite's order."""
    return list(bsuite_loading.EXPERIMENT_NAME_TO_ENVIRONMENT)


def bsuite_id(task: str) -> str:
    """The bsuite id ('catch/0') of a gridlab task ('bsuite/catch/0').

    Raises ValueError naming `task` when it is not a known id, with the
    closest known id and the format.
    """
    if not isinstance(task, str) or not task.startswith(PREFIX):
        raise ValueError(f'task {task!r} is not a bsuite task; expected {ID_FORMAT}')
    identifier = task[len(PREFIX):]
    if identifier in sweep.SETTINGS:
        return identifier
    known = [PREFIX + name for name in sweep.SWEEP]
    close = difflib.get_close_matches(task, known, n=1, cutoff=0.6)
    experiment, _, index = identifier.partition(sweep.SEPARATOR)
    if experiment in bsuite_loading.EXPERIMENT_NAME_TO_ENVIRONMENT:
        count = len(ids_of(experiment))
        reason = f'{experiment} has ids 0 to {count - 1}'
        if not index.isdigit():
            reason = f'ID {index!r} is not a whole number; {reason}'
    else:
        reason = f'no bsuite experiment is called {experiment!r}'
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    raise ValueError(f'unknown bsuite task {task!r}{hint}: {reason}; expected {ID_FORMAT}')


def check_task(task: str) -> None:
    """Raises ValueError naming `task` unless it is a bsuite id (`bsuite_id`)."""
    bsuite_id(task)


def ids_of(experiment: str) -> List[str]:
    """The bsuite ids of one experiment ('catch' -> ['catch/0', ...])."""
    if experiment not in bsuite_loading.EXPERIMENT_NAME_TO_ENVIRONMENT:
        close = difflib.get_close_matches(str(experiment), experiments(), n=1)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise ValueError(f'unknown bsuite experiment {experiment!r}{hint}; expected one '
                         f'of {", ".join(experiments())}')
    return [name for name in sweep.SWEEP
            if name.split(sweep.SEPARATOR)[0] == experiment]


def num_episodes(task: str) -> int:
    """bsuite's episode budget for the task's experiment (`bsuite.sweep.EPISODES`)."""
    return int(sweep.EPISODES[bsuite_id(task)])


def _folded_seed(seed: int) -> int:
    """`seed` as the 32-bit seed numpy's RandomState takes; gridlab seeds go to 2**63."""
    return int(np.random.SeedSequence(int(seed)).generate_state(1)[0])


def load(task: str, seed: Optional[int] = None):
    """bsuite's own environment for `task` (no logging), its stream seeded from `seed`."""
    identifier = bsuite_id(task)
    experiment, _ = bsuite_loading.unpack_bsuite_id(identifier)
    settings = dict(sweep.SETTINGS[identifier])
    loader = bsuite_loading.EXPERIMENT_NAME_TO_ENVIRONMENT[experiment]
    seeded = seed is not None and settings.get('seed') is None
    if seeded and 'seed' in inspect.signature(loader).parameters:
        settings['seed'] = _folded_seed(seed)
        seeded = False
    environment = bsuite.load(experiment, settings)
    attribute = _SEED_ATTRIBUTE.get(experiment)
    if seeded and attribute is not None:
        setattr(environment, attribute, np.random.RandomState(_folded_seed(seed)))
    return environment


# ----------------------------------------------------------- environment

class BsuiteEnvironment(base.Environment):
    """One bsuite environment, as gridlab runs it (see the module's docstring).

    Args:
      task: 'bsuite/EXPERIMENT/ID'.
      seed: seeds the environment's random stream (see above); None leaves
        it as bsuite's sweep has it.
      discount: multiplied onto bsuite's discount on every step.
      log_directory: where bsuite's CSV log of this environment's episodes
        goes (`bsuite_id_-_EXPERIMENT-ID.csv`, bsuite's name). The file is
        opened at the first reset, so a run folder can be emptied after the
        environment is built; a log already there is refused then: bsuite
        counts episodes from the start of its log, which cannot be continued.
    """

    render_fps = 8

    def __init__(self, task: str, seed: Optional[int] = None,
                 discount: float = DEFAULT_DISCOUNT, log_directory=None):
        super().__init__()
        if (isinstance(discount, bool) or not isinstance(discount, (int, float, np.number))
                or not 0. <= float(discount) <= 1.):
            raise ValueError(f'discount must be a number in [0, 1], got {discount!r}')
        self.task = task
        self.bsuite_id = bsuite_id(task)
        self._raw = load(task, seed)
        self._environment = self._raw  # Becomes bsuite's logging wrapper at first reset.
        self._discount = float(discount)
        self._log_directory = (None if log_directory is None
                               else pathlib.Path(log_directory))
        self._observation = None
        self._observation_spec = self._raw.observation_spec()
        self._action_spec = self._raw.action_spec()

    @property
    def raw_env(self):
        """bsuite's environment itself (its `bsuite_info()`, its counters)."""
        return self._raw

    @property
    def bsuite_num_episodes(self) -> int:
        return int(self._raw.bsuite_num_episodes)

    @property
    def log_path(self) -> Optional[pathlib.Path]:
        """bsuite's CSV log of this environment, if it keeps one."""
        if self._log_directory is None:
            return None
        name = self.bsuite_id.replace(sweep.SEPARATOR, csv_logging.SAFE_SEPARATOR)
        return self._log_directory / f'{csv_logging.BSUITE_PREFIX}{name}.csv'

    def _open_log(self) -> None:
        if self._log_directory is None or self._environment is not self._raw:
            return
        if self.log_path.exists():
            raise ValueError(
                f'bsuite log {str(self.log_path)!r} already exists: bsuite counts '
                'episodes from the start of its log, so a run cannot continue one; '
                'start the run afresh in an empty folder')
        self._environment = csv_logging.wrap_environment(
            self._raw, self.bsuite_id, os.fspath(self._log_directory))

    def _reset(self) -> dm_env.TimeStep:
        self._open_log()
        timestep = self._environment.reset()
        return self._convert(timestep)

    def _step(self, action) -> dm_env.TimeStep:
        if isinstance(self._action_spec, specs.DiscreteArray):
            action = base.discrete_action(action, self._action_spec.num_values)
        return self._convert(self._environment.step(action))

    def _convert(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        observation = np.asarray(timestep.observation, dtype=self._observation_spec.dtype)
        self._observation = observation
        if timestep.first():
            return timestep._replace(observation=observation)
        return dm_env.TimeStep(
            timestep.step_type, np.float32(timestep.reward),
            np.float32(timestep.discount * self._discount), observation)

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def bsuite_info(self) -> dict:
        return self._raw.bsuite_info()

    def render(self) -> np.ndarray:
        """The last observation as an RGB picture, RENDER_CELL pixels an entry.

        Values are scaled to [0, 1] by the spec's bounds where it has them,
        else by the picture's own range; 1 is dark, 0 light. A vector is one
        row; higher dimensions are flattened into columns.
        """
        observation = self._observation
        if observation is None:
            observation = np.zeros(self._observation_spec.shape, np.float32)
        picture = np.asarray(observation, dtype=np.float64)
        picture = picture.reshape(1, -1) if picture.ndim < 2 else picture.reshape(
            picture.shape[0], -1)
        low, high = _bounds(self._observation_spec, picture)
        level = np.clip((picture - low) / (high - low), 0., 1.) if high > low else (
            np.zeros_like(picture))
        light, dark = np.asarray(FREE, np.float64), np.asarray(WALL, np.float64)
        rgb = light + level[..., None] * (dark - light)
        rgb = np.repeat(np.repeat(rgb, RENDER_CELL, axis=0), RENDER_CELL, axis=1)
        return rgb.round().astype(np.uint8)

    def close(self) -> None:
        flush = getattr(self._environment, 'flush', None)
        if flush is not None:
            flush()


def _bounds(spec, picture: np.ndarray):
    if isinstance(spec, specs.BoundedArray):
        low, high = float(np.min(spec.minimum)), float(np.max(spec.maximum))
        if np.isfinite(low) and np.isfinite(high):
            return low, high
    return float(picture.min()), float(picture.max())


def make_environment(task: str, observation=None, seed: Optional[int] = 0,
                     discount: Optional[float] = None,
                     log_directory=None) -> BsuiteEnvironment:
    """One bsuite environment (the suites contract; see `BsuiteEnvironment`).

    `observation` must be None: bsuite tasks have one observation.
    """
    if observation is not None:
        raise ValueError(f'bsuite tasks have one observation; got observation '
                         f'{observation!r} for {task!r}')
    return BsuiteEnvironment(task, seed=seed,
                             discount=DEFAULT_DISCOUNT if discount is None else discount,
                             log_directory=log_directory)


# -------------------------------------------------------------- batched

_FIRST, _MID, _LAST = (np.uint8(t) for t in (dm_env.StepType.FIRST,
                                             dm_env.StepType.MID, dm_env.StepType.LAST))


class BatchedBsuite:
    """`num_envs` copies of a bsuite task stepped together, as
    `GymnasiumVectorWrapper` steps Gymnasium's: one TimeStep of arrays, uint8
    step types (FIRST on the step a copy restarts, with reward 0 and discount
    0 as placeholders), float32 rewards and discounts.

    bsuite has no vector API, so the copies are stepped one after another;
    copy i's stream is seeded from `seed` and i (numpy's SeedSequence). The
    copies write no bsuite log: bsuite's log follows one environment.
    """

    def __init__(self, task: str, num_envs: int, seed: Optional[int] = 0,
                 discount: float = DEFAULT_DISCOUNT):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or (
                num_envs < 1):
            raise ValueError(f'num_envs must be a positive integer, got {num_envs!r}')
        self.num_envs = int(num_envs)
        seeds: Sequence[Optional[int]] = [None] * self.num_envs
        if seed is not None:
            seeds = [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(
                self.num_envs)]
        self._copies = [BsuiteEnvironment(task, seed=s, discount=discount) for s in seeds]
        self._discount = float(discount)

    @property
    def discount(self) -> float:
        return self._discount

    @property
    def copies(self) -> List[BsuiteEnvironment]:
        return list(self._copies)

    def single_environment_spec(self) -> EnvironmentSpec:
        """The spec of one copy: what agents are built from."""
        copy = self._copies[0]
        return EnvironmentSpec(copy.observation_spec(), copy.action_spec(),
                               copy.reward_spec(), copy.discount_spec())

    def reset(self) -> dm_env.TimeStep:
        return self._stack([copy.reset() for copy in self._copies])

    def step(self, actions) -> dm_env.TimeStep:
        actions = base.batch_actions(actions, self.num_envs)
        return self._stack([copy.step(action) for copy, action in
                            zip(self._copies, actions)])

    def _stack(self, timesteps) -> dm_env.TimeStep:
        step_type = np.array([t.step_type for t in timesteps], np.uint8)
        first = step_type == _FIRST
        reward = np.array([0. if f else t.reward for f, t in zip(first, timesteps)],
                          np.float32)
        discount = np.array([0. if f else t.discount for f, t in zip(first, timesteps)],
                            np.float32)
        observation = np.stack([t.observation for t in timesteps])
        return dm_env.TimeStep(step_type, reward, discount, observation)

    def close(self) -> None:
        for copy in self._copies:
            copy.close()


def batched_environment(task: str, observation, num_envs: int, seed: Optional[int],
                        discount: Optional[float]) -> BatchedBsuite:
    """`num_envs` copies of a bsuite task (the suites contract; see `BatchedBsuite`)."""
    if observation is not None:
        raise ValueError(f'bsuite tasks have one observation; got observation '
                         f'{observation!r} for {task!r}')
    return BatchedBsuite(task, num_envs, seed=seed,
                         discount=DEFAULT_DISCOUNT if discount is None else discount)
