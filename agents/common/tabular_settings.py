"""The hyperparameters every tabular learner takes, checked in one place.

`QLearning`/`SARSA` (agents/tabular.py), the option agents (agents/options.py)
and the batched learners (agents/batched_tabular.py) keep these as explicit
keyword parameters of their constructors (the registry and the experiment
configuration read their types from the signatures) and pass them here.
"""

import dataclasses
from typing import Optional

from gridlab.core import validation


@dataclasses.dataclass(frozen=True)
class TabularSettings:
    """step_size, epsilon (and its decay), initial_value and discount, checked.

    Building one raises the ValueError (or ParameterTypeError) of the first
    bad value, named as the constructor argument is: step_size in (0, 1];
    discount, epsilon and final_epsilon in [0, 1]; decay_steps a non-negative
    integer; initial_value finite. The fields hold the checked values
    (floats; `final_epsilon` stays None when not given).
    """

    step_size: float = 0.5
    epsilon: float = 0.1
    final_epsilon: Optional[float] = None
    decay_steps: int = 0
    initial_value: float = 10.
    discount: float = 1.

    def __post_init__(self):
        checked = {
            'step_size': validation.check_in_range('step_size', self.step_size, 0., 1.,
                                                   low_open=True),
            'discount': validation.check_probability('discount', self.discount),
            'epsilon': validation.check_probability('epsilon', self.epsilon),
            'final_epsilon': (None if self.final_epsilon is None else
                              validation.check_probability('final_epsilon',
                                                           self.final_epsilon)),
            'decay_steps': validation.check_nonnegative_int('decay_steps',
                                                            self.decay_steps),
            'initial_value': validation.check_finite('initial_value', self.initial_value),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def epsilon_schedule(self) -> tuple:
        """(initial epsilon, final epsilon, decay steps): constant if no final_epsilon."""
        final = self.epsilon if self.final_epsilon is None else self.final_epsilon
        return self.epsilon, final, self.decay_steps
