"""The GridWorld tasks as Gymnasium ids, so scripts written for Gymnasium
(Stable-Baselines3, CleanRL) use them with no adapter code:

    import gridlab, gymnasium
    env = gymnasium.make('gridlab/simple-v0')                      # state index
    env = gymnasium.make('gridlab/maze-v0', observation_type='grid', seed=3)

Keyword arguments of `gymnasium.make` go to `build_gridworld_task` (any of its
options, `observation_type` as a name or an `ObservationType`) and
`render_mode` ('rgb_array') to `as_gymnasium`. The GridWorld truncates its
own episodes (`max_episode_length`, 200 by default), so no TimeLimit is added.

`import gridlab` must not load Gymnasium (it is slow to import), yet the ids
must be there whenever Gymnasium is: `register_with_gymnasium` registers them
at once if Gymnasium is already imported, else just after Gymnasium's own
import, whenever that comes.
"""

import importlib.abc
import importlib.util
import sys
from typing import Callable, Optional

NAMESPACE, VERSION = 'gridlab', 'v0'


def env_id(task: str) -> str:
    """'simple' -> 'gridlab/simple-v0'."""
    return f'{NAMESPACE}/{task}-{VERSION}'


def make(task: str, observation_type='state_index', render_mode: Optional[str] = None,
         **options):
    """The Gymnasium environment behind `env_id(task)`."""
    from gridlab.envs.adapters.gymnasium import as_gymnasium
    from gridlab.envs.gridworld import ObservationType
    from gridlab.envs.tasks import build_gridworld_task
    if isinstance(observation_type, str):
        names = {kind.name.lower(): kind for kind in ObservationType}
        if observation_type.lower() not in names:
            raise ValueError(f'observation_type must be one of {", ".join(names)}, got '
                             f'{observation_type!r}')
        observation_type = names[observation_type.lower()]
    return as_gymnasium(build_gridworld_task(task, observation_type=observation_type,
                                             **options), render_mode=render_mode)


def _register() -> None:
    import gymnasium
    from gridlab.envs.tasks import TASKS
    for task in TASKS:
        if env_id(task) not in gymnasium.registry:
            gymnasium.register(id=env_id(task), entry_point=make, kwargs={'task': task},
                               max_episode_steps=None, disable_env_checker=False)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `callback` once, right after the module `name` is first imported."""

    def __init__(self, name: str, callback: Callable[[], None]):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # Once: and the real finders find the module.
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, callback = spec.loader, self.callback
        run = loader.exec_module

        def exec_module(module):
            run(module)
            callback()
        loader.exec_module = exec_module  # This spec's loader instance only.
        return spec


def register_with_gymnasium() -> None:
    """Registers every GridWorld task as a Gymnasium id, now or when Gymnasium loads."""
    if 'gymnasium' in sys.modules:
        _register()
    elif not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport('gymnasium', _register))
