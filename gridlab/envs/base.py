"""The base class of gridlab's environments, and the one action check.

dm_env's contract: `step()` on a fresh environment, or right after a LAST
step, ignores its action and starts a new episode (returns FIRST). dm_env's
own `AutoResetEnvironment` implements that rule once; subclasses implement
`_reset()` and `_step(action)` and never think about it again, as in
bsuite's `base.Environment`.
"""

import operator
from typing import Optional, Sequence

import numpy as np
from dm_env import auto_reset_environment, specs


class Environment(auto_reset_environment.AutoResetEnvironment):
    """A dm_env environment with the auto-reset rule built in.

    Rewards and discounts are float32 scalars, so the default specs below say
    so and every TimeStep conforms without a wrapper.
    """

    def reward_spec(self):
        return specs.Array(shape=(), dtype=np.float32, name='reward')

    def discount_spec(self):
        return specs.BoundedArray(
            shape=(), dtype=np.float32, minimum=0., maximum=1., name='discount')


def discrete_action(action, num_actions: int, what: str = 'action',
                    names: Optional[Sequence[str]] = None) -> int:
    """`action` as an int in [0, num_actions), or a ValueError naming it.

    Accepts Python, numpy and torch integer scalars (agents return all
    three); rejects bools, floats (1.7 is not action 1) and arrays.
    """
    if names is not None:
        expected = ', '.join(f'{i} ({name})' for i, name in enumerate(names))
    else:
        expected = f'an integer in [0, {num_actions})'
    if isinstance(action, (bool, np.bool_)):
        raise ValueError(f'invalid {what} {action!r}: expected {expected}, got a bool')
    if getattr(action, 'ndim', 0) != 0:
        # torch and numpy turn a one-element array into its element without a
        # word; an array where one action belongs is a batch or a shape bug.
        raise ValueError(f'invalid {what} {action!r}: expected {expected} as a '
                         f'scalar, got an array of shape {tuple(action.shape)}')
    try:
        index = operator.index(action)
    except TypeError:
        raise ValueError(f'invalid {what} {action!r} of type {type(action).__name__}: '
                         f'expected {expected}') from None
    if not 0 <= index < num_actions:
        raise ValueError(f'invalid {what} {action!r}: expected {expected}')
    return index


def batch_actions(actions, num_envs: int) -> np.ndarray:
    """`actions` as an integer array of shape (num_envs,), one per copy, or a
    ValueError (wrong shape) or TypeError (not integers) saying which: the
    one check of every batched environment (the range is each one's own)."""
    actions = np.asarray(actions)
    if actions.shape != (num_envs,):
        raise ValueError(f'actions must have shape ({num_envs},), one per copy, got '
                         f'shape {actions.shape}')
    if actions.dtype.kind not in 'iu':
        raise TypeError(f'actions must be integers, got dtype {actions.dtype}')
    return actions
