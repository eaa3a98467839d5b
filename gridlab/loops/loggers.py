"""Loggers: small objects with `write(dict)` and `close()`, built by composition.

Each logger does one thing; behaviour is added by wrapping, not by flags:

    logger = Dispatcher([
        TerminalLogger('training_loop', time_delta=1.0),  # a TimeFilter inside
        CSVLogger('run/episodes.csv'),
    ])
    with logger:
        logger.write({'episode': 3, 'episode_return': 5.0})

Every logger raises ValueError when written to after `close()`, and works as a
context manager that closes it on exit.
"""

import abc
import csv
import io
import json
import os
import pathlib
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from gridlab.core import files

LoggingData = Mapping[str, Any]


def _to_python(value: Any) -> Any:
    """Returns numpy scalars, 0-d arrays and 0-d tensors as Python numbers."""
    if getattr(value, 'ndim', None) == 0 and hasattr(value, 'item'):
        return value.item()
    return value


class Logger(abc.ABC):
    """A destination for dicts of values, e.g. one dict per episode."""

    # A class attribute, so subclasses need not call `super().__init__()`.
    _closed = False

    @abc.abstractmethod
    def write(self, data: LoggingData) -> None:
        """Records `data`, a mapping from names to values."""

    def close(self) -> None:
        """Releases what the logger holds; closing twice is harmless."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f'cannot write to a closed {type(self).__name__}')

    def __enter__(self) -> 'Logger':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class NoOpLogger(Logger):
    """Discards everything; for code that needs a logger but no output."""

    def write(self, data: LoggingData) -> None:
        self._check_open()


class InMemoryLogger(Logger):
    """Keeps every write as a dict in `data`; handy in notebooks and tests."""

    def __init__(self):
        self.data: List[Dict[str, Any]] = []

    def write(self, data: LoggingData) -> None:
        self._check_open()
        # A copy, so the caller may keep reusing and mutating its own dict.
        self.data.append(dict(data))


class Dispatcher(Logger):
    """Writes to several loggers; closing it closes them all."""

    def __init__(self, loggers: Sequence[Logger]):
        self._loggers = list(loggers)

    def write(self, data: LoggingData) -> None:
        self._check_open()
        for logger in self._loggers:
            logger.write(data)

    def close(self) -> None:
        super().close()
        errors = []
        # Close every logger even if one fails, then report the first failure.
        for logger in self._loggers:
            try:
                logger.close()
            except Exception as error:  # pylint: disable=broad-except
                errors.append(error)
        if errors:
            raise errors[0]


class TimeFilter(Logger):
    """Passes a write on only if `time_delta` seconds passed since the last one.

    The first write always passes; `time_delta=0` passes everything.
    """

    def __init__(self,
                 logger: Logger,
                 time_delta: float,
                 clock: Callable[[], float] = time.monotonic):
        """Initialises the filter.

        Args:
            logger: the logger that receives the writes let through.
            time_delta: minimum number of seconds between two passed writes.
            clock: returns the current time in seconds; replaceable in tests.
        """
        if not time_delta >= 0:  # Also rejects NaN.
            raise ValueError(
                f'time_delta must be >= 0 seconds, got {time_delta!r}')
        self._logger = logger
        self._time_delta = time_delta
        self._clock = clock
        self._last_time: Optional[float] = None

    def write(self, data: LoggingData) -> None:
        self._check_open()
        now = self._clock()
        if self._last_time is None or now - self._last_time >= self._time_delta:
            self._logger.write(data)
            self._last_time = now

    def close(self) -> None:
        super().close()
        self._logger.close()


def _format_key(key: str) -> str:
    """'episode_return' -> 'Episode Return'."""
    return key.replace('_', ' ').title()


def _format_value(value: Any) -> str:
    """Formats a value for a person: floats with 3 decimals, or 3 after the e."""
    value = _to_python(value)
    if isinstance(value, float):
        # Fixed point reads best, but would show a loss of 2e-5 as 0.000.
        if value == 0 or 1e-3 <= abs(value) < 1e6:
            return f'{value:.3f}'
        return f'{value:.3e}'
    return str(value)


class _PrintLogger(Logger):
    """Prints each write as one line: `[Label] Key = value | Key = value`.

    With `fields` ({key: short name}), only those keys, in that order, as
    `name value`, numbers rounded to four significant digits: a line that
    fits a terminal.
    """

    def __init__(self, label: str, print_fn: Callable[[str], None],
                 fields: Optional[Dict[str, str]] = None):
        self._prefix = f'[{_format_key(label)}] ' if label else ''
        self._print_fn = print_fn
        self._fields = fields

    def write(self, data: LoggingData) -> None:
        self._check_open()
        if self._fields is None:
            fields = (f'{_format_key(key)} = {_format_value(value)}'
                      for key, value in data.items())
        else:
            fields = (f'{name} {_short_value(data[key])}'
                      for key, name in self._fields.items() if key in data)
        self._print_fn(self._prefix + ' | '.join(fields))


def _short_value(value) -> str:
    """4 significant digits, thousands separated; integers whole."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return f'{int(value):,}'
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            return str(value)
        if abs(value) >= 1000:
            return f'{value:,.0f}'
        return f'{value:.4g}'
    return str(value)


class TerminalLogger(Logger):
    """Prints one line per write, at most one every `time_delta` seconds.

    Example line: `[Training Loop] Episode = 3 | Episode Return = 5.000`.
    """

    def __init__(self,
                 label: str = '',
                 time_delta: float = 0.0,
                 print_fn: Optional[Callable[[str], None]] = None,
                 fields: Optional[Dict[str, str]] = None):
        """Initialises the logger.

        Args:
            label: shown in brackets at the start of every line.
            time_delta: minimum number of seconds between two printed lines;
                writes in between are dropped.
            print_fn: prints one line. Defaults to `tqdm.tqdm.write`, which keeps
                lines from breaking through a progress bar.
            fields: print only these keys, as {key: short name}, compactly
                (`[training] episode 3 | return 5`); default: every key.
        """
        printer = _PrintLogger(label, print_fn or _tqdm_write, fields)
        self._logger = TimeFilter(printer, time_delta)

    def write(self, data: LoggingData) -> None:
        self._check_open()
        self._logger.write(data)

    def close(self) -> None:
        super().close()
        self._logger.close()


def _plain(key: str, value: Any) -> Any:
    """`value` as JSON-ready data: arrays and tensors whole, as nested lists."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, 'detach') and hasattr(value, 'tolist'):  # A torch tensor.
        if value.is_complex():
            raise TypeError(f'cannot log {key!r}: a tensor of dtype {value.dtype}; '
                            'expected real numbers')
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in 'biuf':
            raise TypeError(f'cannot log {key!r}: a numpy array of dtype {value.dtype}; '
                            'expected numbers')
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(f'{key}.{k}', v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(key, v) for v in value]
    raise TypeError(f'cannot log {key!r}: a {type(value).__name__} is not a number, '
                    'string, array, tensor, list or dict')


def _csv_cell(key: str, value: Any) -> Any:
    """Returns what the csv module should write for `value`.

    Numbers and strings are written as themselves; arrays, tensors, lists and
    dicts as JSON (every element, never numpy's abbreviated print), so that
    `json.loads` gives them back.
    """
    if isinstance(value, (np.ndarray, np.generic)) and value.ndim == 0:
        # numpy prints the shortest text that reads back as the same value of
        # its dtype: '0.1' for float32(0.1), where float() would give
        # '0.10000000149011612'.
        return str(value[()])
    value = _to_python(value)
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    return json.dumps(_plain(key, value), separators=(',', ':'))


class CSVLogger(Logger):
    """Writes a header, then one row per write, flushed at once.

    Arrays, tensors, lists and dicts go into their cell whole, as JSON; an
    empty write writes nothing; a value of any other type is refused with a
    TypeError naming its key, before anything is written.

    Columns are the keys in the order they first appeared. A write with a new
    key rewrites the file (atomically) with the wider header, older rows getting
    empty cells; a write that lacks a key leaves its cell empty. An existing
    file at `path` is replaced, unless `append` is True: then rows continue
    after the ones already there, under their header.
    """

    def __init__(self, path: Union[str, os.PathLike], append: bool = False):
        """Opens `path` for writing.

        Args:
            path: the CSV file; its folder must exist.
            append: continue an existing file (a resumed run) instead of
                replacing it.

        Raises:
            FileNotFoundError: if the folder of `path` does not exist.
        """
        self._path = pathlib.Path(path)
        if not self._path.parent.is_dir():
            raise FileNotFoundError(
                f'cannot write {str(self._path)!r}: '
                f'folder {str(self._path.parent)!r} does not exist')
        # None until the first write, which writes the header.
        self._fieldnames: Optional[List[str]] = None
        if append and self._path.is_file() and self._path.stat().st_size:
            with open(self._path, newline='', encoding='utf-8') as f:
                self._fieldnames = next(csv.reader(f), None)
        self._file = open(self._path, 'a' if self._fieldnames else 'w', newline='',
                          encoding='utf-8')

    @property
    def path(self) -> pathlib.Path:
        return self._path

    def write(self, data: LoggingData) -> None:
        self._check_open()
        if not data:
            return  # Nothing was logged, so no row (and no header) is written.
        cells = {key: _csv_cell(key, value) for key, value in data.items()}
        lines = io.StringIO()
        writer = csv.writer(lines, lineterminator='\n')
        header = self._fieldnames is None  # This write starts the file.
        if header:
            self._fieldnames = list(data)
            writer.writerow(self._fieldnames)
        new_keys = [key for key in data if key not in self._fieldnames]
        if new_keys:
            self._widen(new_keys)
        writer.writerow([cells.get(key, '') for key in self._fieldnames])
        # One write() per row, flushed at once: a crash loses nothing written
        # before it, and a reader of the open file sees whole rows.
        end = self._file.tell()
        try:
            self._file.write(lines.getvalue())
            self._file.flush()
        except OSError:
            self._cut_back_to(end)
            if header:  # The header went with the row: the next write writes it.
                self._fieldnames = None
            raise

    def _cut_back_to(self, end: int) -> None:
        """After a failed write (a full disk), the file ends with its last whole row."""
        try:
            self._file.close()  # Drops what is still buffered.
        except OSError:
            pass
        try:
            with open(self._path, 'r+b') as f:
                f.truncate(end)
        except OSError:
            pass
        self._file = open(self._path, 'a', newline='', encoding='utf-8')

    def _widen(self, new_keys: List[str]) -> None:
        """Rewrites the file with `new_keys` appended to the header."""
        fieldnames = self._fieldnames + new_keys
        self._file.close()
        try:
            with open(self._path, newline='', encoding='utf-8') as f:
                old_rows = list(csv.reader(f))[1:]
            # atomic_path: if anything fails, the file keeps its old content.
            with files.atomic_path(self._path) as tmp:
                with open(tmp, 'w', newline='', encoding='utf-8') as f:
                    writer = csv.writer(f, lineterminator='\n')
                    writer.writerow(fieldnames)
                    writer.writerows(row + [''] * (len(fieldnames) - len(row))
                                     for row in old_rows)
            self._fieldnames = fieldnames
        finally:
            self._file = open(self._path, 'a', newline='', encoding='utf-8')

    def close(self) -> None:
        super().close()
        self._file.close()


def _tqdm_write(line: str) -> None:
    """Prints above any progress bar (tqdm is imported on first use)."""
    import tqdm
    tqdm.tqdm.write(line)
