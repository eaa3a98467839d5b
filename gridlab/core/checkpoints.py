"""Agent checkpoints: one file per agent, written atomically, checked on load.

A checkpoint is a `torch.save`d dict naming the agent class that wrote it, so
restoring one agent's file into another kind of agent fails with a clear
message instead of a cryptic key error. The agent's state inside is kept as
the bytes of its own `torch.save`, with their SHA-256: a file damaged on disk
is refused, not loaded with wrong weights, and so is one whose weights or
values are not finite. Loading uses `weights_only=True`: a checkpoint holds
tensors, numbers, strings and containers, never code. A checkpoint may also
say what it was trained on (`trained_on`, e.g. the task and observation
type); restoring it where something else is expected is refused.
"""

import abc
import copy
import hashlib
import io
import math
import pathlib
import pickle
from typing import Any, Callable, Dict, Mapping, Optional

import numpy as np
import torch

from gridlab.core.files import PathLike, atomic_path

_FORMAT = 'gridlab-checkpoint'
_VERSION = 2


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, damaged, or for another agent."""


def save_checkpoint(path: PathLike, agent: str, state: Dict[str, Any],
                    trained_on: Optional[Mapping[str, Any]] = None) -> pathlib.Path:
    """Writes `state` for an agent of class name `agent` to `path`.

    `trained_on` (plain strings and numbers, such as {'task': 'simple'}) is
    kept beside the state and checked by a restore that states what it expects.
    """
    path = pathlib.Path(path)
    _check_finite(state, path, 'saving')
    payload = io.BytesIO()
    torch.save(state, payload)
    payload = payload.getvalue()
    content = io.BytesIO()
    torch.save({'format': _FORMAT, 'version': _VERSION, 'agent': agent,
                'sha256': hashlib.sha256(payload).hexdigest(),
                'trained_on': dict(trained_on) if trained_on is not None else None,
                'payload': payload}, content)
    with atomic_path(path) as tmp:
        # Plain file writes, so a full disk is the OSError it is (torch's own
        # writer reports it as an obscure RuntimeError).
        tmp.write_bytes(content.getvalue())
        # Read back before it replaces anything: a short write is caught here.
        _read(tmp, agent, shown=path, trained_on=trained_on)
    return path


def _read(path: pathlib.Path, agent: str, shown: pathlib.Path,
          trained_on: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    content = _torch_load(path, shown)
    if not isinstance(content, dict) or content.get('format') != _FORMAT:
        raise CheckpointError(f'{str(shown)!r} is not a gridlab checkpoint')
    if content.get('version') != _VERSION:
        raise CheckpointError(f'{str(shown)!r} is a gridlab checkpoint of version '
                              f'{content.get("version")!r}; this gridlab reads '
                              f'version {_VERSION}')
    if content.get('agent') != agent:
        raise CheckpointError(
            f'{str(shown)!r} holds a {content.get("agent")} checkpoint; '
            f'cannot restore it into a {agent}')
    _check_trained_on(content.get('trained_on'), trained_on, shown)
    payload = content.get('payload')
    if (not isinstance(payload, bytes) or
            hashlib.sha256(payload).hexdigest() != content.get('sha256')):
        raise CheckpointError(f'{str(shown)!r} is damaged: its contents do not match '
                              'the checksum written with them')
    return _torch_load(io.BytesIO(payload), shown)


def _torch_load(source, shown: pathlib.Path) -> Any:
    """`torch.load` of tensors and plain data only, its failures in gridlab's words."""
    try:
        return torch.load(source, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        if 'weights only' in str(error).lower():
            # torch's message goes on to say how to load it anyway: not advice
            # to pass on about a file that asks to run code.
            raise CheckpointError(
                f'{str(shown)!r} holds Python objects other than tensors, numbers '
                'and containers, which could run code when loaded; gridlab does not '
                'load it') from None
        raise CheckpointError(f'{str(shown)!r} is not a readable gridlab checkpoint '
                              '(damaged or truncated)') from None
    except Exception as error:  # torch raises several types for a bad file.
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f'{str(shown)!r} is not a readable gridlab checkpoint '
                              f'(damaged or truncated: {first})') from None


def _check_trained_on(found, expected: Optional[Mapping[str, Any]],
                      shown: pathlib.Path) -> None:
    """Refuses a checkpoint trained on something other than what is expected."""
    if expected is None or found is None:  # Older checkpoints say nothing.
        return
    differs = {key: (found.get(key), value) for key, value in expected.items()
               if key in found and found.get(key) != value}
    if differs:
        said = '; '.join(f'{key} {was!r}, not {want!r}'
                         for key, (was, want) in differs.items())
        raise CheckpointError(f'{str(shown)!r} was trained on something else ({said}); '
                              'refusing to restore it here')


def load_checkpoint(path: PathLike, agent: str,
                    trained_on: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Reads the state saved by `save_checkpoint` for an agent named `agent`.

    Raises FileNotFoundError if there is no file, and CheckpointError (a
    ValueError) if it is damaged, another agent's, trained on other than
    `trained_on` says, or holds non-finite values.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        raise CheckpointError(f'{str(path)!r} is a folder, not a checkpoint file')
    if not path.is_file():
        raise FileNotFoundError(f'no checkpoint at {str(path)!r}')
    state = _read(path, agent, shown=path, trained_on=trained_on)
    _check_finite(state, path, 'restoring')
    return state


def _check_finite(state: Any, path: pathlib.Path, doing: str, where: str = '') -> None:
    """Raises CheckpointError at the first NaN or infinity in the state tree."""
    bad = False
    if isinstance(state, torch.Tensor):
        bad = state.is_floating_point() and not bool(torch.isfinite(state).all())
    elif isinstance(state, np.ndarray):
        bad = state.dtype.kind == 'f' and not bool(np.isfinite(state).all())
    elif isinstance(state, float):
        bad = not math.isfinite(state)
    elif isinstance(state, dict):
        for key, value in state.items():
            _check_finite(value, path, doing, f'{where}/{key}')
        return
    elif isinstance(state, (list, tuple)):
        if state and all(isinstance(v, (int, float)) for v in state):
            bad = not all(math.isfinite(v) for v in state)
        else:
            for i, value in enumerate(state):
                _check_finite(value, path, doing, f'{where}[{i}]')
            return
    if bad:
        raise CheckpointError(f'{doing} {str(path)!r}: {where or "the state"} holds NaN '
                              'or infinite values (training diverged?); refusing it')


def restore_state(path: PathLike, agent: str, get_state: Callable[[], Dict[str, Any]],
                  set_state: Callable[[Dict[str, Any]], None],
                  trained_on: Optional[Mapping[str, Any]] = None) -> None:
    """Loads `path` into an agent through `set_state`, all or nothing.

    If the checkpoint does not fit (other network sizes, missing entries),
    the agent's own state, taken with `get_state` beforehand, is put back and
    a ValueError says so.
    """
    state = load_checkpoint(path, agent, trained_on)
    backup = copy.deepcopy(get_state())
    try:
        set_state(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        set_state(backup)
        raise CheckpointError(f'checkpoint {str(path)!r} does not fit this agent '
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

    def save(self, path: PathLike, *,
             trained_on: Optional[Mapping[str, Any]] = None) -> pathlib.Path:
        """Writes the agent's state to `path` (atomically), saying what it was
        `trained_on` (e.g. {'task': 'simple', 'observation': 'STATE_INDEX'})."""
        return save_checkpoint(path, type(self).__name__, self._state(), trained_on)

    def restore(self, path: PathLike, *,
                trained_on: Optional[Mapping[str, Any]] = None) -> None:
        """Loads a checkpoint; on a mismatch the agent is left as it was.

        With `trained_on`, a checkpoint that says it was trained on something
        else (another task, say) is refused.
        """
        restore_state(path, type(self).__name__, self._state, self._load_state,
                      trained_on)
