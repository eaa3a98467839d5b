"""How many members fit: a population size for the memory at hand.

A member's memory is its share of the stacked parameters, their gradients
and Adam moments, its copies' observations and rollout (or replay), and the
activations of its minibatches; beside the process's own (Python, torch,
the environment), it is what grows with N. Measure it once
(benchmarks/population.py prints it per member) and pick N with
`members_that_fit`.
"""

from typing import Optional

from gridlab.core import validation
from gridlab.core.memory import available_memory


def members_that_fit(bytes_per_member: float, available: Optional[int] = None,
                     share: float = 0.5) -> int:
    """The largest population whose members take at most `share` of `available`
    bytes (default: the memory this machine has available now), at least 1.

    Half by default: the environments' copies, evaluation and the pictures
    of each member's run folder need room too.
    """
    bytes_per_member = validation.check_positive('bytes_per_member', bytes_per_member)
    share = validation.check_in_range('share', share, 0., 1., low_open=True)
    if available is None:
        available = available_memory()
        if available is None:
            raise ValueError('this system does not say how much memory is available; '
                             'give available= in bytes')
    available = validation.check_positive_int('available', available)
    return max(1, int(available * share // bytes_per_member))
