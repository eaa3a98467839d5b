"""The one train-until driver: train, and every so often ask a judge whether to stop.

    result = train_until(train, judge, max_steps, check_every)

`train(budget)` trains for at most `budget` environment steps (one episode,
or a round of episodes) and returns the steps it took; `judge()` says how
much of its criterion the agent meets, from 0 to 1, and 1 means done. The
judge runs at the end of the training call that crosses each `check_every`
mark and once more when the budget is spent, and the time it takes is left
out of `seconds`: judging by planning can cost more than the training it
checks, and a benchmark of training speed must not count it.

The drivers that judge a single agent against Q* (`judging.train_until_optimal`),
an option agent from the start (`options.train_until_optimal_from_start`) and
a team of independent learners (`teams.train_independent`) are this loop with
their own `train` and `judge`.
"""

import time
from typing import Callable, NamedTuple

from gridlab.core import validation


class TrainingResult(NamedTuple):
    """How a train-until run went."""
    solved: bool  # The judge said 1 (at the last check).
    steps: int  # Environment steps taken (until solved, or all of them).
    seconds: float  # Training time; the checks are excluded.
    optimal_fraction: float  # The judge's answer at the last check (1 or 0 with from_start).


def train_until(train: Callable[[int], int], judge: Callable[[], float],
                max_steps: int, check_every: int,
                stop_when_solved: bool = True) -> TrainingResult:
    """Calls `train` until `judge()` returns 1 or `max_steps` steps are spent.

    With `stop_when_solved=False` training goes on for the whole budget and
    the judge still runs at every check (to record a learning curve: a team
    of independent learners can reach the optimum and fall off it again);
    `solved` then says whether the last check found it solved.
    """
    max_steps = validation.check_positive_int('max_steps', max_steps)
    check_every = validation.check_positive_int('check_every', check_every)
    steps, seconds, next_check, fraction = 0, 0., check_every, 0.
    while steps < max_steps:
        began = time.perf_counter()
        steps += train(max_steps - steps)
        seconds += time.perf_counter() - began
        if steps >= next_check or steps >= max_steps:
            next_check = steps + check_every
            fraction = float(judge())
            if fraction == 1. and stop_when_solved:
                break
    return TrainingResult(fraction == 1., steps, seconds, fraction)
