"""The exceptions that end a run with one line instead of a traceback."""

import signal


class ExperimentError(ValueError):
    """A run that cannot start as asked: a bad name, value or folder."""


class Terminated(BaseException):
    """A signal asked the run to stop (SIGTERM from `timeout`, `docker stop`
    or SLURM; SIGHUP from a closed terminal). Raised by the handlers that
    `gridlab.experiments.signals.stop_on_signals` installs, it unwinds like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
