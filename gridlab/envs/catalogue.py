"""Every task a run can name, and the one place that builds it.

A task is a GridWorld name (`gridlab.TASKS`), an id of a foreign suite
(`bsuite/catch/0`, `MiniGrid-DoorKey-5x5-v0`, `MinAtar/Breakout-v1`: see
`gridlab.envs.suites`) or any registered Gymnasium id. `check_task` says which
kind; `make_environment` builds one copy, `batched_environment` many copies
stepped as arrays, and `evaluation_seed` says how the copy that judges a run is
seeded, so that training, evaluation and `gridlab evaluate` agree on what they
build.

Agents that need arrays (DQN, NFQ, the policy agents) learn on tasks whose
observation is a state index (FrozenLake-v1, Taxi-v4, CliffWalking-v1) through
a one-hot encoding: `one_hot_states=True` adds it wherever the observation is
a `DiscreteArray`, and leaves any other observation alone.
"""

import difflib
from typing import Dict, Optional, Sequence

from dm_env import specs

from gridlab.core.errors import ExperimentError
from gridlab.envs import suites
from gridlab.envs import tasks as tasks_lib
from gridlab.envs.concatenated import ConcatenatedEnvironments
from gridlab.envs.gridworld import ObservationType
from gridlab.envs.observation_wrappers import BatchedOneHotObservation, OneHotObservation

GRIDWORLD, GYMNASIUM = 'gridworld', 'gymnasium'  # The kinds of task besides the suites'.

# Gymnasium environments `gridlab tasks` lists; any registered id works.
GYMNASIUM_TASKS = {'CartPole-v1': 'balance a pole on a cart (Gymnasium)',
                   'FrozenLake-v1': 'slippery 4x4 lake, reach the goal (Gymnasium)',
                   'Taxi-v4': 'pick up and drop off a passenger (Gymnasium)',
                   'CliffWalking-v1': 'walk along a cliff without falling (Gymnasium)'}
GYMNASIUM_DISCOUNT = 0.99  # What Gymnasium tasks' TimeSteps carry by default.
# The evaluation copy's seed is this far from the training seed, so the two
# copies never share a random stream in a sweep over consecutive seeds.
_EVALUATION_SEED_OFFSET = 10_000


def evaluation_seed(seed: int) -> int:
    """The seed of the separate copy of a task that a run is judged on."""
    return seed + _EVALUATION_SEED_OFFSET


def is_gymnasium_task(task: str) -> bool:
    """Whether `task` names a plain Gymnasium environment (not a GridWorld
    task, nor a suite's id: MiniGrid's and MinAtar's are Gymnasium ids too,
    but gridlab builds them its own way)."""
    if task in tasks_lib.TASKS or suites.suite_of(task) is not None:
        return False
    import gymnasium
    return task in gymnasium.registry


def check_task(task: str) -> str:
    """The kind of task `task` names: GRIDWORLD, GYMNASIUM or a suite's name
    ('bsuite', 'minigrid', 'minatar'); an ExperimentError for none, or for a
    suite whose extra is not installed (naming the `pip install` to run)."""
    if not isinstance(task, str) or not task.strip():
        raise ExperimentError(f'task must be a task name (see `gridlab tasks`), got '
                              f'{task!r}')
    if task in tasks_lib.TASKS:
        return GRIDWORLD
    suite = suites.suite_of(task)
    if suite is not None:
        adapter = suite.adapter()  # MissingExtra names the install.
        try:
            adapter.check_task(task)
        except ValueError as error:
            raise ExperimentError(str(error)) from None
        return suite.name
    if is_gymnasium_task(task):
        return GYMNASIUM
    import gymnasium
    close = difflib.get_close_matches(
        task, list(tasks_lib.TASKS) + list(gymnasium.registry), n=1, cutoff=0.6)
    if not close:  # Case apart: 'cartpole-v1' is CartPole-v1.
        folded = {name.lower(): name for name in
                  list(tasks_lib.TASKS) + list(gymnasium.registry)}
        close = [folded[task.lower()]] if task.lower() in folded else []
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    examples = ', '.join(suite.example for suite in suites.SUITES.values())
    raise ExperimentError(
        f'unknown task {task!r}{hint}; expected one of {", ".join(tasks_lib.TASKS)}, '
        f'a Gymnasium id such as {", ".join(GYMNASIUM_TASKS)}, or a suite\'s id such '
        f'as {examples} (see `gridlab tasks`)')


def default_discount(task: str) -> float:
    """What the task's TimeSteps carry unless a run says otherwise."""
    kind = check_task(task)
    if kind == GRIDWORLD:
        return tasks_lib.DEFAULT_DISCOUNT
    if kind == GYMNASIUM:
        return GYMNASIUM_DISCOUNT
    return suites.SUITES[kind].discount


def default_episodes(task: str) -> Optional[int]:
    """The training budget in episodes a task's suite sets for it (bsuite's
    per-experiment budget, by which its analysis scores a run), or None."""
    kind = check_task(task)
    if kind in suites.SUITES:
        adapter = suites.SUITES[kind].adapter()
        if hasattr(adapter, 'num_episodes'):
            return adapter.num_episodes(task)
    return None


def task_descriptions() -> Dict[str, str]:
    """Name -> one line, for every GridWorld task, the listed Gymnasium ids
    and each suite's examples (saying how to install a suite that is missing)."""
    descriptions = {name: task.description for name, task in tasks_lib.TASKS.items()}
    descriptions.update(GYMNASIUM_TASKS)
    for suite in suites.SUITES.values():
        missing = '' if suite.installed else f' [not installed: {suite.install_hint}]'
        descriptions.update({name: line + missing for name, line in suite.listed.items()})
    return descriptions


def _one_hot(environment, one_hot_states: bool):
    if one_hot_states and isinstance(environment.observation_spec(), specs.DiscreteArray):
        return OneHotObservation(environment)
    return environment


def make_environment(task: str, observation=None, seed: Optional[int] = 0,
                     discount: Optional[float] = None, *, one_hot_states: bool = False,
                     log_directory=None):
    """One copy of a task as a dm_env: a GridWorld task (with `observation`,
    an ObservationType), a suite's id (with its observation choice, a str,
    or None for its default) or a Gymnasium id.

    `discount` is what the TimeSteps carry (`default_discount(task)` if None);
    callers pass one already checked (`gridlab.experiments.config.RunConfig`).
    `one_hot_states` encodes a state-index observation one-hot (see above);
    `log_directory` is where a suite that keeps a log of its own (bsuite)
    writes it.
    """
    kind = check_task(task)
    if discount is None:
        discount = default_discount(task)
    if kind == GRIDWORLD:
        return tasks_lib.build_gridworld_task(
            task, observation_type=observation or ObservationType.STATE_INDEX, seed=seed,
            discount=discount)
    if kind == GYMNASIUM:
        import gymnasium
        from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
        try:
            environment = GymnasiumWrapper(task, seed=seed, discount=discount)
        except (gymnasium.error.Error, ImportError, ValueError) as error:
            raise ExperimentError(f'cannot use the Gymnasium environment {task!r}: '
                                  f'{error}') from None
    else:
        environment = suites.SUITES[kind].adapter().make_environment(
            task, observation, seed, discount, log_directory=log_directory)
    return _one_hot(environment, one_hot_states)


def batched_environment(task: str, observation, num_envs: int, seed: int,
                        discount: float, template=None, *, one_hot_states: bool = False):
    """`num_envs` copies of a task stepped as arrays (GridWorld, suite or Gymnasium).

    `template`, a GridWorld already built for this run, is reused as the
    copies' blueprint instead of building another.
    """
    kind = check_task(task)
    if kind == GRIDWORLD:
        from gridlab.envs.batched import BatchedGridWorld
        if template is None:
            template = make_environment(task, observation, seed, discount)
        return BatchedGridWorld(template, num_envs, seed=seed)
    if kind == GYMNASIUM:
        from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
        environment = GymnasiumVectorWrapper(task, num_envs, seed=seed, discount=discount)
    else:
        try:
            environment = suites.SUITES[kind].adapter().batched_environment(
                task, observation, num_envs, seed, discount)
        except ValueError as error:
            raise ExperimentError(str(error)) from None
    if one_hot_states:
        environment = BatchedOneHotObservation.if_state_index(environment)
    return environment


def population_environment(task: str, observation, num_envs: int, seeds: Sequence[int],
                           discount: float, *, one_hot_states: bool = False):
    """The copies a population trains on: for each seed, in order, the
    `num_envs` copies its single run trains on (`batched_environment` with
    that seed), joined into one batched environment of len(seeds) x num_envs.

    Where it changes nothing a member sees, the copies are stepped as one
    environment: a GridWorld that draws nothing at random, and CartPole
    (whose restarts are drawn from each member's own generator); otherwise
    each member's environment is stepped in turn (`ConcatenatedEnvironments`).
    """
    seeds = list(seeds)
    kind = check_task(task)
    if kind == GYMNASIUM:
        from gridlab.envs.adapters import population_cartpole
        if task in population_cartpole.TASKS:
            from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
            return GymnasiumVectorWrapper(
                population_cartpole.MemberSeededCartPole(
                    seeds, num_envs, population_cartpole.TASKS[task]),
                seed=None, discount=discount)
    environments = [batched_environment(task, observation, num_envs, seed, discount,
                                        one_hot_states=one_hot_states) for seed in seeds]
    if kind == GRIDWORLD and all(env.deterministic for env in environments) and len(
            {env.environment.goal_state for env in environments}) == 1:
        # One game for every member (a seeded goal, such as random_goal's,
        # can differ between seeds): the copies are stepped as one.
        from gridlab.envs.batched import BatchedGridWorld
        return BatchedGridWorld(environments[0].environment, num_envs * len(seeds),
                                seed=seeds[0])
    return ConcatenatedEnvironments(environments)
