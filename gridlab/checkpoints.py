"""Agent checkpoints: one file per agent, written atomically, checked on load.

A checkpoint is a `torch.save`d dict naming the agent class that wrote it, so
restoring one agent's file into another kind of agent fails with a clear
message instead of a cryptic key error. Loading uses `weights_only=True`: a
checkpoint holds tensors, numbers, strings and containers, never code.
"""

import abc
import copy
import pathlib
from typing import Any, Callable, Dict

import torch

from gridlab.files import PathLike, atomic_path

_FORMAT = 'gridlab-checkpoint'
_VERSION = 1


def save_checkpoint(path: PathLike, agent: str, state: Dict[str, Any]) -> pathlib.Path:
    """Writes `state` for an agent of class name `agent` to `path`."""
    path = pathlib.Path(path)
    with atomic_path(path) as tmp:
        torch.save({'format': _FORMAT, 'version': _VERSION, 'agent': agent,
                    'state': state}, tmp)
    return path


def load_checkpoint(path: PathLike, agent: str) -> Dict[str, Any]:
    """Reads the state saved by `save_checkpoint` for an agent named `agent`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no checkpoint at {str(path)!r}')
    try:
        content = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises several types for a bad file.
        raise ValueError(
            f'{str(path)!r} is not a readable gridlab checkpoint ({error})') from None
    if not isinstance(content, dict) or content.get('format') != _FORMAT:
        raise ValueError(f'{str(path)!r} is not a gridlab checkpoint')
    if content['agent'] != agent:
        raise ValueError(
            f'{str(path)!r} holds a {content["agent"]} checkpoint; '
            f'cannot restore it into a {agent}')
    return content['state']


def restore_state(path: PathLike, agent: str, get_state: Callable[[], Dict[str, Any]],
                  set_state: Callable[[Dict[str, Any]], None]) -> None:
    """Loads `path` into an agent through `set_state`, all or nothing.

    If the checkpoint does not fit (other network sizes, missing entries),
    the agent's own state, taken with `get_state` beforehand, is put back and
    a ValueError says so.
    """
    state = load_checkpoint(path, agent)
    backup = copy.deepcopy(get_state())
    try:
        set_state(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        set_state(backup)
        raise ValueError(f'checkpoint {str(path)!r} does not fit this agent '
                         f'(different network or options?): {error}') from None


class Checkpointing(abc.ABC):
    """`save` and all-or-nothing `restore` for an agent, from two methods.

    The agent implements `_state()` (a dict of tensors, arrays, numbers and
    containers) and `_load_state(state)` (which may raise on a mismatch);
    every gridlab agent checkpoints this way, so each restore either loads
    the whole checkpoint or leaves the agent exactly as it was.
    """

    @abc.abstractmethod
    def _state(self) -> Dict[str, Any]:
        """Everything a restored agent needs, as plain data and tensors."""

    @abc.abstractmethod
    def _load_state(self, state: Dict[str, Any]) -> None:
        """Puts `state` into the agent; raises on anything that does not fit."""

    def save(self, path: PathLike) -> pathlib.Path:
        """Writes the agent's state to `path` (atomically)."""
        return save_checkpoint(path, type(self).__name__, self._state())

    def restore(self, path: PathLike) -> None:
        """Loads a checkpoint; on a mismatch the agent is left as it was."""
        restore_state(path, type(self).__name__, self._state, self._load_state)
