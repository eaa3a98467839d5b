"""One run's configuration: built and checked once, read everywhere after.

Settings come in layers, later winning: the agent's constructor defaults,
gridlab's tuned settings for the agent on the task, a config file, command
line flags and Python keywords. `RunConfig.create` merges and checks them
all before anything is built or written; the run, its folder, its evaluation
and its summary read the frozen result and check nothing again.
"""

import dataclasses
import inspect
import math
import re
import types
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from gridlab import registry
from gridlab.core import validation
from gridlab.core.errors import ExperimentError
from gridlab.core.memory import available_memory  # noqa: F401 (tests patch it here)
from gridlab.envs import catalogue, suites
from gridlab.envs.gridworld import ObservationType
from gridlab.experiments import hyperparameters as hyperparameters_lib


def check_positive_int(name: str, value, optional: bool = False) -> Optional[int]:
    """`value` as an int >= 1 (numpy integers too; None when optional), or an
    ExperimentError naming `name`: `validation.check_positive_int`'s rule."""
    if value is None and optional:
        return None
    try:
        return validation.check_positive_int(name, value)
    except ValueError as error:  # ParameterTypeError is one too.
        raise ExperimentError(str(error)) from None


def check_discount(name: str, value) -> Optional[float]:
    """None, or `value` as a float in [0, 1] (`validation.check_probability`)."""
    if value is None:
        return None
    try:
        return validation.check_probability(name, value)
    except ValueError as error:
        raise ExperimentError(str(error)) from None


def observation_type(name, entry: registry.AgentEntry, agent: str) -> ObservationType:
    """The observation type called `name` (default: the agent's), if it accepts it."""
    if name is None:
        return entry.observation
    if isinstance(name, ObservationType):
        kind = name
    else:
        try:
            kind = ObservationType[str(name).upper().replace('-', '_')]
        except KeyError:
            raise ExperimentError(
                f'unknown observation type {name!r}; expected one of '
                f'{", ".join(t.name.lower() for t in ObservationType)}') from None
    if kind not in entry.accepts:
        raise ExperimentError(
            f'agent {agent!r} cannot learn from {kind.name.lower()} observations; '
            f'it accepts {", ".join(t.name.lower() for t in entry.accepts)}')
    return kind


DEVICES = ('cpu', 'cuda', 'auto')


def check_device(device, parameters: Mapping[str, Any], agent: str) -> Optional[str]:
    """The device a run records: where the agent's networks really run.

    An agent without a `device` argument (a table, a bandit) has no network
    to place: its device is None, and asking for CUDA for it is refused.
    'auto' (and an agent's default of None) is resolved to 'cuda' or 'cpu'.
    """
    if device is not None and not (isinstance(device, str) and (
            device in DEVICES or re.fullmatch(r'cuda:\d+', device))):
        raise ExperimentError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got "
                              f'{device!r}')
    if 'device' not in parameters:
        if device is not None and device.startswith('cuda'):
            raise ExperimentError(
                f'agent {agent!r} has no network to put on {device!r} (it computes '
                'with numpy, on the CPU); a device applies to agents with networks, '
                'such as dqn or ppo: give no --device')
        return None
    if device is None:
        device = parameters['device'].default
        device = None if device is inspect.Parameter.empty else device
    import torch
    if device is None or device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    elif device.startswith('cuda') and not torch.cuda.is_available():
        raise ExperimentError(f'device {device!r} was asked for, but torch sees no CUDA '
                              "GPU here; use device 'cpu' (--device cpu) or 'auto'")
    return device


def _resolve_agent(agent: str) -> registry.AgentEntry:
    try:
        return registry.resolve(agent)
    except ValueError as error:
        raise ExperimentError(str(error)) from None


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What one run trains, on what, for how long, and how it is judged.

    Attributes:
      agent: a registered agent name or 'package.module:Class'.
      task: a GridWorld task, a suite's id (bsuite, MiniGrid, MinAtar) or a
        Gymnasium id.
      seed: seeds the environment and the agent (the evaluation copy gets
        `gridlab.envs.catalogue.evaluation_seed(seed)`).
      observation: the GridWorld observation type; on a suite with a choice
        of observations (MiniGrid), the choice's name; else None.
      steps, episodes: the training budget (exactly one is set).
      environment_discount: what the task's TimeSteps carry.
      hyperparameters: the agent's constructor arguments, typed.
      device: where the agent's networks run ('auto' resolved), None for an
        agent without networks (`check_device`).
      eval_episodes, eval_every, video_every, num_envs, pictures: see
        `gridlab.run_experiment`.
      entry, parameters: the agent's registry entry and constructor
        signature (not part of what a run records).
    """
    agent: str
    task: str
    seed: int
    observation: Union[ObservationType, str, None]
    steps: Optional[int]
    episodes: Optional[int]
    environment_discount: float
    hyperparameters: Mapping[str, Any]
    device: Optional[str] = 'cpu'  # None: an agent without networks.
    eval_episodes: int = 5
    eval_every: Optional[int] = None
    video_every: Optional[int] = None
    num_envs: Optional[int] = None
    pictures: bool = True
    entry: registry.AgentEntry = dataclasses.field(default=None, compare=False,
                                                   repr=False)
    parameters: Mapping[str, Any] = dataclasses.field(default=None, compare=False,
                                                      repr=False)

    @property
    def gridworld(self) -> bool:
        """Whether the task is a GridWorld, which planning can judge exactly."""
        return isinstance(self.observation, ObservationType)

    @property
    def one_hot_states(self) -> bool:
        """Whether a state-index observation (FrozenLake-v1's, Taxi-v3's) is
        encoded one-hot for this agent: agents whose own GridWorld observation
        is an array (DQN, NFQ, REINFORCE, actor-critic) see a one-hot vector;
        tables, PPO and the other agents that start from the index keep it,
        and so do REINFORCE and the actor-critic with a count bonus, which
        counts indices (they feed the index one-hot themselves)."""
        if self.gridworld or self.entry.observation is ObservationType.STATE_INDEX:
            return False
        counts_indices = (self.hyperparameters.get('count_bonus')
                          and ObservationType.STATE_INDEX in self.entry.accepts)
        return not counts_indices

    def environment(self, seed: Optional[int] = None, log_directory=None):
        """One copy of the task as this run sees it (`seed`: the run's)."""
        return catalogue.make_environment(
            self.task, self.observation, self.seed if seed is None else seed,
            self.environment_discount, one_hot_states=self.one_hot_states,
            log_directory=log_directory)

    def batched_environment(self, template=None):
        """`num_envs` copies of the task as this run sees them."""
        return catalogue.batched_environment(
            self.task, self.observation, self.num_envs, self.seed,
            self.environment_discount, template=template if self.gridworld else None,
            one_hot_states=self.one_hot_states)

    @property
    def batched(self) -> bool:
        """Whether the run trains on many copies at once."""
        return self.num_envs is not None and self.num_envs > 1

    @property
    def label(self) -> str:
        return f'{self.agent} on {self.task}'

    @classmethod
    def create(cls, agent: str, task: str, *, seed: int = 0, observation=None,
               steps: Optional[int] = None, episodes: Optional[int] = None,
               discount: Optional[float] = None,
               hyperparameters: Optional[Mapping[str, Any]] = None,
               device: str = 'cpu', eval_episodes: int = 5,
               eval_every: Optional[int] = None, video_every: Optional[int] = None,
               num_envs: Optional[int] = None, pictures: bool = True) -> 'RunConfig':
        """Merges the tuned settings for (agent, task) under these; checks every one.

        Raises ExperimentError naming the first bad setting and its value.
        """
        entry = _resolve_agent(agent)
        tuned = dict(entry.tuned.get(task, {}))
        task_kind = catalogue.check_task(task)
        try:
            seed = validation.check_seed('seed', seed)
        except (TypeError, ValueError) as error:
            raise ExperimentError(str(error)) from None
        if observation is None:
            observation = tuned.get('observation')
        if task_kind == catalogue.GRIDWORLD:
            kind = observation_type(observation, entry, agent)
        elif task_kind == catalogue.GYMNASIUM:
            if observation is not None:
                raise ExperimentError(f'observation applies to GridWorld tasks and '
                                      f'MiniGrid, not to the Gymnasium environment '
                                      f'{task!r}')
            kind = None
        else:
            kind = suites.SUITES[task_kind].observation(observation)
        if steps is not None and episodes is not None:
            raise ExperimentError('give steps or episodes, not both')
        if steps is None and episodes is None:
            suite_episodes = catalogue.default_episodes(task)  # bsuite's budget.
            if 'steps' in tuned or 'episodes' in tuned:
                episodes, steps = tuned.get('episodes'), tuned.get('steps')
            elif suite_episodes is not None:
                episodes, steps = suite_episodes, None
            else:
                episodes, steps = entry.budget()
        steps = check_positive_int('steps', steps, optional=True)
        episodes = check_positive_int('episodes', episodes, optional=True)
        check_positive_int(f'tuned num_envs of {agent} on {task}', tuned.get('num_envs'),
                           optional=True)
        check_discount(f'tuned discount of {agent} on {task}', tuned.get('discount'))
        discount = check_discount('discount', discount)
        eval_episodes = check_positive_int('eval_episodes', eval_episodes)
        eval_every = check_positive_int('eval_every', eval_every, optional=True)
        video_every = check_positive_int('video_every', video_every, optional=True)
        num_envs = check_positive_int('num_envs', num_envs, optional=True)
        if num_envs is None and episodes is None:  # A budget in episodes is one copy's.
            num_envs = tuned.get('num_envs')
        if num_envs is not None and num_envs > 1 and episodes is not None:
            raise ExperimentError('with num_envs, give the budget in steps, not episodes')
        if discount is None:
            discount = tuned.get('discount')
        if discount is None:
            discount = catalogue.default_discount(task)
        parameters = registry.constructor_parameters(entry.load())
        device = check_device(device, parameters, agent)
        if hyperparameters is not None and not isinstance(hyperparameters, Mapping):
            raise ExperimentError(f'hyperparameters must be a mapping of names to values '
                                  f"such as {{'step_size': 0.1}}, got {hyperparameters!r}")
        try:
            values = hyperparameters_lib.typed(
                parameters, hyperparameters_lib.merge(tuned.get('hyperparameters', {}),
                                                      dict(hyperparameters or {})), agent)
        except ValueError as error:
            raise ExperimentError(str(error)) from None
        return cls(agent=agent, task=task, seed=seed, observation=kind, steps=steps,
                   episodes=episodes, environment_discount=float(discount),
                   hyperparameters=types.MappingProxyType(dict(values)), device=device,
                   eval_episodes=eval_episodes, eval_every=eval_every,
                   video_every=video_every, num_envs=num_envs, pictures=pictures,
                   entry=entry, parameters=parameters)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> 'RunConfig':
        """The configuration a run folder's summary.json recorded (`to_record`)."""
        observation = record.get('observation')
        device = record.get('device')
        if device is not None and 'device' not in registry.constructor_parameters(
                _resolve_agent(record['agent']).load()):
            device = None  # gridlab once recorded the flag even where it did nothing.
        return cls.create(
            record['agent'], record['task'], seed=record['seed'],
            observation=None if observation in ('gymnasium', None) else observation,
            steps=record.get('steps'), episodes=record.get('episodes'),
            discount=record.get('environment_discount'),
            hyperparameters=record.get('hyperparameters'),
            device=device,
            eval_episodes=record.get('eval_episodes') or 5,
            eval_every=record.get('eval_every'), video_every=record.get('video_every'),
            num_envs=record.get('num_envs'), pictures=record.get('pictures', True))

    def check_budget(self, steps_per_update: int, spec=None) -> None:
        """Refuses a step budget smaller than one learning update, and (given
        the environment's `spec`) batched copies that cannot fit in memory.

        An agent that learns every `steps_per_update` steps of each copy (its
        `batch_steps_per_update`: 1, or PPO's rollout_length) learns from no
        budget below num_envs * steps_per_update steps: on one copy it would
        never update, and batched training, which runs in whole rounds of
        that many steps, would round the budget up to many times itself.
        (Budgets above are rounded up to whole rounds: by less than a round.)
        """
        if isinstance(steps_per_update, bool) or not isinstance(
                steps_per_update, int) or steps_per_update < 1:
            return  # A bad batch_steps_per_update is the batched loop's to refuse.
        if self.batched and spec is not None:
            self._check_batched_memory(steps_per_update, spec)
        if self.steps is None:
            return
        copies = self.num_envs if self.batched else 1
        round_steps = copies * steps_per_update
        if self.steps >= round_steps:
            return
        rollout = ' (rollout_length)' if 'rollout_length' in self.parameters else ''
        smaller = ' or a smaller rollout_length' if rollout else ''
        if not self.batched:
            raise ExperimentError(
                f'steps={self.steps:,} is less than one update of {self.agent}, which '
                f'learns every {steps_per_update:,} steps{rollout}: it would never '
                f'learn; give steps >= {steps_per_update:,}{smaller}')
        per_update = f' x {steps_per_update:,} batch steps per update{rollout}' if (
            steps_per_update > 1) else ''
        raise ExperimentError(
            f'steps={self.steps:,} is less than one round of batched training of '
            f'{self.agent}: num_envs={self.num_envs:,} copies{per_update} = '
            f'{round_steps:,} steps, which a batched run trains at least; give steps '
            f'>= {round_steps:,}, or a smaller num_envs{smaller}')

    def _check_batched_memory(self, steps_per_update: int, spec) -> None:
        """num_envs copies hold an observation each, twice, and an agent that
        learns every T batch steps keeps T of them with their actions,
        rewards and discounts: refused (before any is allocated) if that
        estimate is more memory than this machine has available."""
        observation = spec.observations
        observation_bytes = int(np.prod(observation.shape, dtype=np.int64)) * max(
            np.dtype(observation.dtype).itemsize, 8 if not observation.shape else 1)
        actions = int(getattr(spec.actions, 'num_values', 1) or 1)
        per_copy = (steps_per_update + 2) * (observation_bytes + 8 * (actions + 4))
        estimate, available = self.num_envs * per_copy, available_memory()
        if available is not None and estimate > available:
            raise ExperimentError(
                f'num_envs={self.num_envs:,} copies of {self.task} would need about '
                f'{_size(estimate)} ({per_copy:,} bytes a copy: observations, '
                f'actions, rewards{" over a rollout" if steps_per_update > 1 else ""}); '
                f'this machine has {_size(available)} available: give a smaller '
                'num_envs')

    def _observation_name(self) -> Optional[str]:
        if isinstance(self.observation, ObservationType):
            return self.observation.name.lower()
        if catalogue.check_task(self.task) == catalogue.GYMNASIUM:
            return 'gymnasium'  # What runs recorded before the suites came.
        return self.observation  # A suite's choice; None where it has none.

    def to_record(self) -> Dict[str, Any]:
        """summary.json's "config": plain values that `from_record` reads back."""
        return {'agent': self.agent, 'task': self.task,
                'observation': self._observation_name(),
                'seed': self.seed, 'episodes': self.episodes, 'steps': self.steps,
                'device': self.device, 'eval_episodes': self.eval_episodes,
                'eval_every': self.eval_every, 'video_every': self.video_every,
                'num_envs': self.num_envs, 'pictures': self.pictures,
                'hyperparameters': dict(self.hyperparameters),
                # float32 discounts read back as 0.8999999761581421: record 0.9.
                'environment_discount': float(f'{self.environment_discount:.7g}')}


def _size(count: int) -> str:
    """Bytes as '24.5 MB' or '34.3 GB'."""
    return f'{count / 1e9:,.1f} GB' if count >= 1e9 else f'{count / 1e6:,.1f} MB'


def check_log_every(log_every) -> None:
    if (isinstance(log_every, bool) or not isinstance(log_every, (int, float)) or
            not log_every >= 0 or not math.isfinite(log_every)):
        raise ExperimentError(f'log_every must be a finite number of seconds >= 0, '
                              f'got {log_every!r}')
