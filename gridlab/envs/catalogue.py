"""Every task a run can name, and the one place that builds it.

A task is a GridWorld name (`gridlab.TASKS`) or any registered Gymnasium id.
`make_environment` builds one copy, `batched_environment` many copies stepped
as arrays, and `evaluation_seed` says how the copy that judges a run is seeded,
so that training, evaluation and `gridlab evaluate` agree on what they build.
"""

import difflib
from typing import Dict, Optional

from gridlab.core.errors import ExperimentError
from gridlab.envs import tasks as tasks_lib
from gridlab.envs.gridworld import ObservationType

# Gymnasium environments `gridlab tasks` lists; any registered id works.
GYMNASIUM_TASKS = {'CartPole-v1': 'balance a pole on a cart (Gymnasium)',
                   'FrozenLake-v1': 'slippery 4x4 lake, reach the goal (Gymnasium)'}
GYMNASIUM_DISCOUNT = 0.99  # What Gymnasium tasks' TimeSteps carry by default.
# The evaluation copy's seed is this far from the training seed, so the two
# copies never share a random stream in a sweep over consecutive seeds.
_EVALUATION_SEED_OFFSET = 10_000


def evaluation_seed(seed: int) -> int:
    """The seed of the separate copy of a task that a run is judged on."""
    return seed + _EVALUATION_SEED_OFFSET


def is_gymnasium_task(task: str) -> bool:
    """Whether `task` names a Gymnasium environment rather than a GridWorld task."""
    if task in tasks_lib.TASKS:
        return False
    import gymnasium
    return task in gymnasium.registry


def check_task(task: str) -> bool:
    """Whether `task` is a Gymnasium id (else a GridWorld task); raises for neither."""
    if not isinstance(task, str) or not task.strip():
        raise ExperimentError(f'task must be a task name (see `gridlab tasks`), got '
                              f'{task!r}')
    if is_gymnasium_task(task):
        return True
    if task not in tasks_lib.TASKS:
        import gymnasium
        close = difflib.get_close_matches(
            task, list(tasks_lib.TASKS) + list(gymnasium.registry), n=1, cutoff=0.6)
        if not close:  # Case apart: 'cartpole-v1' is CartPole-v1.
            folded = {name.lower(): name for name in
                      list(tasks_lib.TASKS) + list(gymnasium.registry)}
            close = [folded[task.lower()]] if task.lower() in folded else []
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise ExperimentError(
            f'unknown task {task!r}{hint}; expected one of {", ".join(tasks_lib.TASKS)}, '
            f'or a Gymnasium id such as {", ".join(GYMNASIUM_TASKS)} '
            '(see `gridlab tasks`)')
    return False


def default_discount(task: str) -> float:
    """What the task's TimeSteps carry unless a run says otherwise."""
    return GYMNASIUM_DISCOUNT if check_task(task) else tasks_lib.DEFAULT_DISCOUNT


def task_descriptions() -> Dict[str, str]:
    """Name -> one line, for every GridWorld task and the listed Gymnasium ones."""
    descriptions = {name: task.description for name, task in tasks_lib.TASKS.items()}
    descriptions.update(GYMNASIUM_TASKS)
    return descriptions


def make_environment(task: str, observation: Optional[ObservationType] = None,
                     seed: Optional[int] = 0, discount: Optional[float] = None):
    """A GridWorld task (with `observation`) or a Gymnasium id, as a dm_env.

    `discount` is what the TimeSteps carry (`default_discount(task)` if None);
    callers pass one already checked (`gridlab.experiments.config.RunConfig`).
    """
    if discount is None:
        discount = default_discount(task)
    if check_task(task):
        import gymnasium
        from gridlab.envs.adapters.gymnasium import GymnasiumWrapper
        try:
            return GymnasiumWrapper(task, seed=seed, discount=discount)
        except (gymnasium.error.Error, ImportError, ValueError) as error:
            raise ExperimentError(f'cannot use the Gymnasium environment {task!r}: '
                                  f'{error}') from None
    return tasks_lib.build_gridworld_task(
        task, observation_type=observation or ObservationType.STATE_INDEX, seed=seed,
        discount=discount)


def batched_environment(task: str, observation: Optional[ObservationType], num_envs: int,
                        seed: int, discount: float, template=None):
    """`num_envs` copies of a task stepped as arrays (GridWorld or Gymnasium).

    `template`, a GridWorld already built for this run, is reused as the
    copies' blueprint instead of building another.
    """
    if check_task(task):
        from gridlab.envs.adapters.gymnasium_vector import GymnasiumVectorWrapper
        return GymnasiumVectorWrapper(task, num_envs, seed=seed, discount=discount)
    from gridlab.envs.batched import BatchedGridWorld
    if template is None:
        template = make_environment(task, observation, seed, discount)
    return BatchedGridWorld(template, num_envs, seed=seed)
