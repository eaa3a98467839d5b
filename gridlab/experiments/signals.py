"""How a run is stopped from outside, and the words a summary uses for it."""

import signal

from gridlab.core.errors import Terminated


def stop_on_signals():
    """Makes SIGTERM and SIGHUP end a run the way Ctrl-C does (see Terminated).

    Returns a function that puts the previous handlers back.
    """
    def handler(signum, frame):
        raise Terminated(signum)
    previous = {}
    for name in ('SIGTERM', 'SIGHUP'):
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, handler)

    def restore():
        for number, old in previous.items():
            signal.signal(number, old)
    return restore


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
