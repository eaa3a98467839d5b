"""How a run is stopped from outside, and the words a summary uses for it."""

import contextlib
import signal
import threading

from gridlab.core.errors import Terminated

# While `held()` is active: how deep, and the first signal that came meanwhile.
_holding = {'depth': 0, 'signal': None}


def _stop(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def stop_on_signals():
    """Makes SIGTERM and SIGHUP end a run the way Ctrl-C does (see Terminated).

    Ctrl-C keeps raising KeyboardInterrupt (if it was not ignored). All three
    wait while `held()` is active. Returns a function that puts the previous
    handlers back.
    """
    def handler(signum, frame):
        if _holding['depth']:
            if _holding['signal'] is None:
                _holding['signal'] = signum
            return
        raise _stop(signum)
    previous = {}
    for name in ('SIGTERM', 'SIGHUP', 'SIGINT'):
        number = getattr(signal, name, None)
        if number is None:
            continue
        if name == 'SIGINT' and signal.getsignal(number) is not signal.default_int_handler:
            continue  # Ignored (a worker, a background job) or someone else's.
        previous[number] = signal.signal(number, handler)

    def restore():
        for number, old in previous.items():
            signal.signal(number, old)
    return restore


@contextlib.contextmanager
def stopping_on_signals():
    """`stop_on_signals` for the block, then the handlers that were there before.

    A run started from Python (a script, a notebook) has no handlers of the
    command line's; without these, a Ctrl-C would land anywhere, such as in
    the middle of a learning step whose steps the run has not yet counted,
    and a SIGTERM would kill the process before the run folder said so. As
    a decorator (`@stopping_on_signals()`), it covers each call of a
    function. Handlers can only be set in the main thread; elsewhere this
    does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    restore = stop_on_signals()
    try:
        yield
    finally:
        restore()


@contextlib.contextmanager
def held():
    """Holds the signals `stop_on_signals` handles until the block is done,
    then raises the first that came: for a unit of work that must be whole,
    such as one episode's row in episodes.csv and in the run's memory (a
    signal in between made summary.json count one episode fewer than the
    CSV holds). Cheap: it only sets a flag."""
    _holding['depth'] += 1
    try:
        yield
    finally:
        _holding['depth'] -= 1
        if not _holding['depth'] and _holding['signal'] is not None:
            signum, _holding['signal'] = _holding['signal'], None
            raise _stop(signum)


def pending() -> bool:
    """Whether a signal came while `held()` was active and waits to end the run."""
    return _holding['signal'] is not None


def is_interruption(error: BaseException) -> bool:
    """Ctrl-C, SIGTERM, SIGHUP and a closed output stop a run; anything else fails it."""
    return isinstance(error, (KeyboardInterrupt, Terminated, BrokenPipeError))


def how_it_ended(error: BaseException) -> str:
    """A few words for summary.json's "ended_by"."""
    if isinstance(error, KeyboardInterrupt):
        return 'SIGINT (Ctrl-C)'
    if isinstance(error, Terminated):
        return str(error)
    if isinstance(error, BrokenPipeError):
        return 'output closed (broken pipe)'
    first = str(error).splitlines()[0] if str(error) else ''
    return f'{type(error).__name__}: {first}' if first else type(error).__name__
