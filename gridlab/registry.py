"""Finding agents by name: the `gridlab.agents` entry-point group.

gridlab never imports its agents package directly (agents import gridlab, not
the other way round). Agents are found through the entry-point group
`gridlab.agents`, where gridlab's own `agents` package registers its table
(`agents.entries:AGENTS`) and any installed package can register more:

    [options.entry_points]
    gridlab.agents =
        my-agent = my_package.agents:MyAgent            # an Actor class
        my-agents = my_package.registry:AGENTS          # a {name: AgentEntry} dict

Any Actor class also runs by its import path, `my_package.module:MyAgent`.
"""

import base64
import dataclasses
import difflib
import functools
import hashlib
import importlib
import importlib.util
import inspect
import pathlib
import warnings
from importlib import metadata
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from gridlab.core import Actor
from gridlab.core.errors import ExperimentError
from gridlab.envs.gridworld import ObservationType

GROUP = 'gridlab.agents'
DEFAULT_STEPS = 20_000  # Training budget of an agent that names none.


class AgentConstructionError(ExperimentError):
    """An agent's constructor raised: one line naming the agent and the error,
    which is kept as `__cause__` (its traceback is the constructor's)."""


@dataclasses.dataclass(frozen=True)
class AgentEntry:
    """How to build an agent, what it observes on a GridWorld, how long it trains.

    Attributes:
      target: the Actor class, or its import path 'package.module:Class'
        (imported only when the agent is built, so listing agents is cheap).
      observation: the GridWorld observation type it learns from by default.
      steps, episodes: the default training budget (one of them).
      accepts: the observation types it can learn from.
      description: one line for `gridlab train --help`.
      tuned: per task, settings that make it learn there at its default
        budget: {'steps' or 'episodes', 'observation', 'num_envs',
        'discount', 'hyperparameters', 'result'}, where 'result' states what
        the pair reaches ({'metric', 'eval_episodes', 'seeds', 'values',
        'at_least', 'benchmark'}; see agents/hyperparams.toml).
      logs_loss: show its `last_loss` (a network's loss) on the training
        line; False for agents whose "loss" says little there, such as a
        table's squared TD error (episodes.csv keeps it either way).
      environment_arguments: for agents built from more than the specs
        (options drawn from a layout, say): the import path of a function
        `f(environment) -> dict` of constructor arguments, called on the
        environment the agent will train on.
      population: the import path of the class that trains many seeds of
        this agent as one (`agents.populations`), built as
        `Population(spec, seeds=[...], device=..., copies_per_member=k,
        **hyperparameters)`;
        None if it has none (`--seeds` on `train`, `--vectorize-seeds`).
    """
    target: Union[str, type]
    observation: ObservationType = ObservationType.STATE_INDEX
    steps: Optional[int] = None
    episodes: Optional[int] = None
    accepts: Tuple[ObservationType, ...] = tuple(ObservationType)
    description: str = ''
    tuned: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    logs_loss: bool = True
    environment_arguments: Optional[str] = None
    population: Optional[str] = None

    def load(self) -> type:
        """The agent class."""
        if isinstance(self.target, str):
            return import_class(self.target)
        return self.target

    def load_population(self) -> Optional[type]:
        """The class that trains many seeds of this agent as one, or None."""
        if not self.population:
            return None
        return _import(self.population, 'population', "'package.module:Class'")

    def budget(self) -> Tuple[Optional[int], Optional[int]]:
        """(episodes, steps): the default training length."""
        if self.episodes is None and self.steps is None:
            return None, DEFAULT_STEPS
        return self.episodes, self.steps

    def make(self, environment_spec, seed: Optional[int] = None,
             device: Optional[str] = None, environment=None, **hyperparameters) -> Actor:
        """Builds the agent; `seed` and `device` go only where accepted.

        `environment` is needed by agents with `environment_arguments`.
        Raises ValueError naming any hyperparameter the class does not take,
        and `AgentConstructionError` (a ValueError) from whatever the
        constructor raised, which is its `__cause__`.
        """
        cls = self.load()
        parameters = constructor_parameters(cls)
        unknown = sorted(set(hyperparameters) - set(parameters))
        if unknown:
            raise ValueError(
                f'{cls.__name__} has no argument {", ".join(map(repr, unknown))}; '
                f'it takes {", ".join(parameters) or "no arguments"}')
        kwargs = dict(hyperparameters)
        if self.environment_arguments is not None:
            if environment is None:
                raise ValueError(f'{cls.__name__} is built from its environment: pass '
                                 f'environment= to make()')
            arguments_of = _import(self.environment_arguments, 'environment_arguments',
                                   "'package.module:function'")
            if not callable(arguments_of):
                raise ValueError(f'environment_arguments {self.environment_arguments!r} '
                                 f'is not a function')
            try:
                kwargs = {**arguments_of(environment), **kwargs}
            except Exception as error:
                raise AgentConstructionError(
                    f'constructing agent {cls.__name__} failed: its '
                    f'environment_arguments {self.environment_arguments!r} raised '
                    f'{_one_line(error)}') from error
        if 'seed' in parameters:
            kwargs.setdefault('seed', seed)
        if device is not None and 'device' in parameters:
            kwargs.setdefault('device', device)
        try:
            return cls(environment_spec, **kwargs)
        except Exception as error:  # Ctrl-C and signals (BaseExceptions) pass.
            raise AgentConstructionError(
                f'constructing agent {cls.__name__} failed: {_one_line(error)}') from error


def _one_line(error: BaseException) -> str:
    """An exception as one line: its message, led by its type unless it is one
    of the ValueErrors and TypeErrors whose messages say what was wrong."""
    message = ' '.join(str(error).split()) or '(no message)'
    if isinstance(error, (ValueError, TypeError)):
        return message
    return f'{type(error).__name__}: {message}'


def constructor_parameters(cls: type) -> Dict[str, inspect.Parameter]:
    """The keyword arguments `cls(environment_spec, ...)` takes, by name.

    A constructor that passes `**kwargs` on to its base class takes the base
    class's arguments too, so those are followed up the class hierarchy.
    """
    parameters: Dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        signature = inspect.signature(klass.__init__)
        own = list(signature.parameters.values())[2:]  # self, environment_spec
        for p in own:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                parameters.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in own):
            break
    return parameters


def _import(path: str, what: str, form: str):
    """The object at 'package.module:name', or a ValueError saying why not."""
    module_name, _, name = path.partition(':')
    if not module_name or not name or ':' in name:
        raise ValueError(f'{what} {path!r}: expected {form} (one colon, between the '
                         'module and the name)')
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f'{what} {path!r}: cannot import {module_name!r} '
                         f'({error})') from None
    except Exception as error:  # The module itself is broken.
        raise ValueError(f'{what} {path!r}: importing {module_name!r} failed: '
                         f'{_one_line(error)}') from error
    if not hasattr(module, name):
        public = [n for n in vars(module) if not n.startswith('_')]
        close = difflib.get_close_matches(name, public, n=1)
        hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise ValueError(f'{what} {path!r}: module {module_name!r} has no attribute '
                         f'{name!r}{hint}')
    return getattr(module, name)


def import_class(path: str) -> type:
    """The Actor class at 'package.module:Class', or a ValueError saying why not."""
    cls = _import(path, 'agent', "'package.module:Class'")
    module_name, _, name = path.partition(':')
    if not (isinstance(cls, type) and issubclass(cls, Actor)):
        raise ValueError(f'agent {path!r}: {name!r} in {module_name!r} is '
                         f'{_kind(cls)}, not a gridlab.Actor subclass')
    return cls


def _kind(value) -> str:
    if isinstance(value, type):
        return f'the class {value.__qualname__}'
    if callable(value):
        return 'a function'
    return f'a {type(value).__name__}'


def _entries_from(name: str, value: Any) -> Dict[str, AgentEntry]:
    if isinstance(value, AgentEntry):
        return {name: value}
    if isinstance(value, type) and issubclass(value, Actor):
        return {name: AgentEntry(value)}
    if isinstance(value, Mapping):
        entries = {}
        for key, item in value.items():
            entries.update(_entries_from(key, item))
        return entries
    raise TypeError(f'entry point {name!r} gives {value!r}; expected an '
                    'AgentEntry, an Actor class or a mapping of them')


# Where gridlab's `agents` package is: beside `gridlab/` (the fixed layout) in
# a checkout and in site-packages alike.
_OWN_AGENTS = pathlib.Path(__file__).resolve().parents[1] / 'agents' / '__init__.py'
_FIX = ('reinstall gridlab in a virtual environment of its own (python3 -m venv .venv, '
        'then .venv/bin/pip install gridlab, or -e . in a checkout)')


@functools.lru_cache(maxsize=None)
def foreign_agents_package() -> Optional[str]:
    """Why the top-level package `agents` Python finds is not gridlab's, in one
    line; None when it is gridlab's, or when there is none at all (loading
    the entry point then says so).

    `agents` is a name other distributions use too (openai-agents): installed
    into the same environment, one writes its files over gridlab's, and a
    folder named agents earlier on sys.path shadows it. Then gridlab's agents
    are gone or half there ('unknown agent ... (none registered)'). The
    package is found, not imported: a foreign one may fail to import.
    """
    try:
        spec = importlib.util.find_spec('agents')
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin is None or not spec.has_location:  # A namespace package.
        where = ', '.join(spec.submodule_search_locations or ()) or '?'
        return _foreign(where, f'it has no __init__.py; gridlab\'s is {_OWN_AGENTS}')
    found = pathlib.Path(spec.origin).resolve()
    if found != _OWN_AGENTS:
        return _foreign(found, f'gridlab\'s is {_OWN_AGENTS}')
    if not _as_installed(found):
        return _foreign(found, 'its __init__.py is not the one gridlab installed there')
    return None


def _as_installed(path: pathlib.Path) -> bool:
    """False if gridlab's installed files (its RECORD) list `path` with another
    hash: another distribution wrote over it. True when they do not list it
    (an editable install or a checkout: nothing to compare with)."""
    try:
        files = metadata.distribution('gridlab').files or ()
    except metadata.PackageNotFoundError:
        return True
    for file in files:
        if file.as_posix() != 'agents/__init__.py' or file.hash is None:
            continue
        if pathlib.Path(file.locate()).resolve() != path:
            return True  # Another gridlab's RECORD (a checkout run beside a wheel).
        if file.hash.mode != 'sha256':
            return True
        digest = base64.urlsafe_b64encode(
            hashlib.sha256(path.read_bytes()).digest()).rstrip(b'=').decode()
        return digest == file.hash.value
    return True


def _foreign(where, why: str) -> str:
    try:
        others = [name for name in metadata.packages_distributions().get('agents', ())
                  if name.lower() != 'gridlab']
    except Exception:  # Only to name the culprit; never a second error.
        others = []
    if others:
        who = (f'{", ".join(sorted(set(others)))} also install'
               f'{"s" * (len(set(others)) == 1)} a top-level package \'agents\'')
    else:
        who = ('another distribution installed one over it (openai-agents does) or a '
               "folder named 'agents' comes first on sys.path")
    return (f"the top-level package 'agents' at {where} is not gridlab's ({why}): "
            f'{who}; {_FIX}')


def _in_agents_package(path: str) -> bool:
    """Whether 'package.module:name' lies in the top-level package `agents`."""
    return path.partition(':')[0].split('.')[0] == 'agents'


@functools.lru_cache(maxsize=None)
def _registered() -> Tuple[Tuple[str, AgentEntry], ...]:
    entries: Dict[str, AgentEntry] = {}
    foreign = foreign_agents_package()
    for point in sorted(metadata.entry_points(group=GROUP), key=lambda p: p.name):
        if foreign and _in_agents_package(point.value):
            continue  # Not gridlab's agents: `resolve` says so, in one line.
        try:
            entries.update(_entries_from(point.name, point.load()))
        except Exception as error:  # A broken plug-in must not break gridlab.
            warnings.warn(f'skipping agents from entry point {point.name!r} '
                          f'({point.value}): {error}', RuntimeWarning)
    return tuple(entries.items())


_REGISTERED_HERE: Dict[str, AgentEntry] = {}  # By `register`, in this process.


def register(name: str, agent: Union[AgentEntry, type]) -> None:
    """Registers an Actor class (or an `AgentEntry`) under `name` in this process.

    For notebooks and tests; installed packages use the entry-point group.
    """
    _REGISTERED_HERE.update(_entries_from(name, agent))


def unregister(name: str) -> None:
    """Forgets an agent `register` added (others are left alone)."""
    _REGISTERED_HERE.pop(name, None)


def agents() -> Dict[str, AgentEntry]:
    """Every registered agent, by name."""
    return {**dict(_registered()), **_REGISTERED_HERE}


def resolve(name: str) -> AgentEntry:
    """The entry for a registered name or a 'package.module:Class' path."""
    if not isinstance(name, str):
        raise ValueError(f"agent must be a registered name or 'package.module:Class', "
                         f'got {name!r}')
    registered = agents()
    if name in registered:
        return registered[name]
    foreign = foreign_agents_package()
    if foreign and (':' not in name or _in_agents_package(name)):
        raise ValueError(foreign)  # gridlab's own names are the ones missing.
    if ':' in name:
        cls = import_class(name)
        return AgentEntry(cls, description=(cls.__doc__ or '').strip().split('\n')[0])
    close = difflib.get_close_matches(name, list(registered), n=1)
    hint = f' (did you mean {close[0]!r}?)' if close else ''
    raise ValueError(f'unknown agent {name!r}{hint}; expected one of '
                     f'{", ".join(registered) or "(none registered)"}, or '
                     "'package.module:Class'")
