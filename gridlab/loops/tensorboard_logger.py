"""A logger that writes numeric fields as TensorBoard scalars.

    with TensorBoardLogger('runs/dqn', label='train') as logger:
        logger.write({'total_steps': 500, 'episode_return': 7.0})
    # tensorboard --logdir runs

Needs the `tensorboard` package (`pip install gridlab[tensorboard]`); torch's
`SummaryWriter` is imported when a logger is made, so `import gridlab` stays
light.
"""

import numbers
import os
from typing import Any, Optional, Union

from gridlab.loops.loggers import Logger, LoggingData

STEP_KEY = 'total_steps'


def _scalar(value: Any) -> Optional[float]:
    """The value as a float if it is one number (Python, numpy or 0-d tensor)."""
    if getattr(value, 'ndim', None) == 0 and hasattr(value, 'item'):
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


class TensorBoardLogger(Logger):
    """Writes every numeric field of each write as a scalar.

    The step of a write is its 'total_steps' field when it has one, otherwise
    the number of earlier writes. Tags are the field names, prefixed with
    `label/` when a label is given, so one log folder can hold the training
    and the evaluation curves of a run. Fields that are not single numbers
    (strings, arrays) are skipped.
    """

    def __init__(self, logdir: Union[str, os.PathLike], label: str = '',
                 flush_secs: float = 10.0):
        """Opens an event file in `logdir` (made if missing).

        Args:
            logdir: the folder for the event file; point `tensorboard --logdir`
                at it or at a folder above it.
            label: prefix of every tag, e.g. 'train' gives 'train/loss'.
            flush_secs: how often pending scalars reach the file, so a running
                TensorBoard sees them.

        Raises:
            ImportError: if the tensorboard package is not installed.
        """
        if not isinstance(label, str):
            raise TypeError(f'label must be a string, got {label!r}')
        if not flush_secs > 0:
            raise ValueError(f'flush_secs must be > 0, got {flush_secs!r}')
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError(
                'TensorBoardLogger needs the tensorboard package: '
                "pip install 'gridlab[tensorboard]'") from error
        self._prefix = f'{label}/' if label else ''
        self._writer = SummaryWriter(log_dir=os.fspath(logdir),
                                     flush_secs=flush_secs)
        self._writes = 0

    @property
    def logdir(self) -> str:
        return self._writer.log_dir

    def write(self, data: LoggingData) -> None:
        self._check_open()
        step = _scalar(data.get(STEP_KEY))
        step = int(step) if step is not None else self._writes
        for key, value in data.items():
            number = _scalar(value)
            if key == STEP_KEY or number is None:
                continue
            self._writer.add_scalar(self._prefix + str(key), number,
                                    global_step=step)
        self._writes += 1

    def close(self) -> None:
        if not self._closed:
            self._writer.close()
        super().close()
