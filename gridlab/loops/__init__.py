"""Loops that drive agents in environments, and the loggers they write to.

    environment_loop.py  EnvironmentLoop (one environment, Acme-style observers), run_loop, evaluate
    multiagent.py        MultiAgentLoop: one actor per agent of a MultiAgentGridWorld
    loggers.py           terminal, CSV, in-memory and dispatching loggers
    tensorboard_logger.py  a Logger that writes TensorBoard events (torch, loaded when used)
"""

from gridlab.loops.batched import BatchedEnvironmentLoop, TrainingSummary
from gridlab.loops.environment_loop import (EnvironmentLoop, EpisodeObserver, evaluate,
                                            run_loop)
from gridlab.loops.loggers import (CSVLogger, Dispatcher, InMemoryLogger, Logger,
                                   NoOpLogger, TerminalLogger, TimeFilter)

__all__ = ['CSVLogger', 'Dispatcher', 'EnvironmentLoop', 'EpisodeObserver',
           'InMemoryLogger', 'Logger', 'NoOpLogger', 'TerminalLogger', 'TimeFilter',
           'evaluate', 'run_loop']
__all__ += ['BatchedEnvironmentLoop', 'TrainingSummary']
