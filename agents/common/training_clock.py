"""The clock of a batched `train()`, and its `stop` callback."""

import time
from typing import Callable, Optional


class TrainingClock:
    """Times a `train()` call and asks its `stop(agent, steps)` callback.

    The time spent in `stop` (evaluations, checkpoints) is not training, so
    `seconds` leaves it out.
    """

    def __init__(self, stop: Optional[Callable[[object, int], bool]]):
        self._stop = stop
        self._started = time.perf_counter()
        self._paused = 0.

    def should_stop(self, agent, steps: int) -> bool:
        """stop(agent, steps), or False without a callback."""
        if self._stop is None:
            return False
        asked = time.perf_counter()
        try:
            return bool(self._stop(agent, steps))
        finally:
            self._paused += time.perf_counter() - asked

    @property
    def seconds(self) -> float:
        """Wall-clock seconds since the start, less the time spent in `stop`."""
        return time.perf_counter() - self._started - self._paused
