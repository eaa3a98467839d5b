"""One place for checking numeric parameters, so every error reads alike.

Each check returns the value as a plain Python number (so numpy scalars are
accepted and stored as ints or floats) or raises a TypeError (wrong kind of
value) or ValueError (right kind, wrong range) whose message names the
parameter, shows the value and says what was expected. Bools are refused
wherever a number is expected: `batch_size=True` is a mistake, not 1.
"""

import math
import numbers
import operator
from typing import Optional

import numpy as np


class ParameterTypeError(TypeError, ValueError):
    """A parameter of the wrong kind (a float count, a string rate).

    A TypeError, and a ValueError too, so that code written against the
    ValueErrors gridlab raised before keeps catching it.
    """


def _fail(error, name: str, value, expected: str):
    raise error(f'{name} must be {expected}, got {value!r}')


def check_int(name: str, value, minimum: Optional[int] = None,
              maximum: Optional[int] = None) -> int:
    """`value` as an int in [minimum, maximum]; floats (even 4.0) are refused."""
    expected = 'an integer'
    if minimum is not None and maximum is not None:
        expected = f'an integer in [{minimum}, {maximum}]'
    elif minimum == 1:
        expected = 'a positive integer'
    elif minimum == 0:
        expected = 'a non-negative integer'
    elif minimum is not None:
        expected = f'an integer >= {minimum}'
    elif maximum is not None:
        expected = f'an integer <= {maximum}'
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Integral, np.integer)):
        _fail(ParameterTypeError, name, value, expected)
    value = operator.index(value)
    if (minimum is not None and value < minimum) or (
            maximum is not None and value > maximum):
        _fail(ValueError, name, value, expected)
    return value


def check_bool(name: str, value) -> bool:
    """True or False (a switch), not any truthy value such as 'no'."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(f'{name} must be True or False, got {value!r}')
    return bool(value)


def check_positive_int(name: str, value) -> int:
    """An int >= 1 (counts, sizes, batch sizes)."""
    return check_int(name, value, minimum=1)


def check_nonnegative_int(name: str, value) -> int:
    """An int >= 0."""
    return check_int(name, value, minimum=0)


def check_optional_positive_int(name: str, value) -> Optional[int]:
    """None, or an int >= 1 (step caps that may be absent)."""
    return None if value is None else check_int(name, value, minimum=1)


# The one seed rule of gridlab (the CLI, config files, `run_experiment`, every
# agent's constructor): an int in [0, 2**63 - 1], which numpy, torch
# (`torch.manual_seed` overflows above 2**64 - 1) and a results table's int64
# column all take as it is.
MAX_SEED = 2 ** 63 - 1
SEED_EXPECTED = 'an integer in [0, 2**63 - 1]'


def check_seed(name: str, value) -> int:
    """`value` as a seed: an int in [0, MAX_SEED] (numpy integers accepted)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Integral, np.integer)):
        _fail(ParameterTypeError, name, value, SEED_EXPECTED)
    value = operator.index(value)
    if not 0 <= value <= MAX_SEED:
        _fail(ValueError, name, value, SEED_EXPECTED)
    return value


def check_optional_seed(name: str, value) -> Optional[int]:
    """None (fresh entropy), or a seed as `check_seed` takes it."""
    return None if value is None else check_seed(name, value)


def check_finite(name: str, value, expected: str = 'a finite number') -> float:
    """`value` as a finite float; refuses bools, strings, NaN and infinities."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Real, np.integer, np.floating)):
        _fail(ParameterTypeError, name, value, expected)
    number = float(value)
    if not math.isfinite(number):
        _fail(ValueError, name, value, expected)
    return number


def check_in_range(name: str, value, low: float = -math.inf,
                   high: float = math.inf, low_open: bool = False,
                   high_open: bool = False) -> float:
    """A finite float in the interval from low to high (open ends optional)."""
    left = '(' if low_open else '['
    right = ')' if high_open else ']'
    if low == -math.inf and high == math.inf:
        expected = 'a finite number'
    elif high == math.inf:
        expected = f'a finite number {">" if low_open else ">="} {low:g}'
    elif low == -math.inf:
        expected = f'a finite number {"<" if high_open else "<="} {high:g}'
    else:
        expected = f'a number in {left}{low:g}, {high:g}{right}'
    number = check_finite(name, value, expected)
    if (number < low or (low_open and number == low) or number > high or
            (high_open and number == high)):
        _fail(ValueError, name, value, expected)
    return number


def check_positive(name: str, value) -> float:
    """A finite float > 0 (learning rates, temperatures, norms)."""
    return check_in_range(name, value, 0., low_open=True)


def check_nonnegative(name: str, value) -> float:
    """A finite float >= 0."""
    return check_in_range(name, value, 0.)


def check_negative(name: str, value) -> float:
    """A finite float < 0 (penalties)."""
    return check_in_range(name, value, high=0., high_open=True)


def check_probability(name: str, value) -> float:
    """A float in [0, 1] (probabilities, discounts, epsilons)."""
    return check_in_range(name, value, 0., 1.)


def check_sizes(name: str, value, allow_empty: bool = False) -> tuple:
    """A sequence of positive ints (hidden layer sizes) as a tuple."""
    if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
        _fail(ParameterTypeError, name, value, 'a sequence of positive integers')
    sizes = tuple(value)
    if not sizes and not allow_empty:
        _fail(ValueError, name, value, 'a non-empty sequence of positive integers')
    for i, size in enumerate(sizes):
        check_positive_int(f'{name}[{i}]', size)
    return tuple(operator.index(s) for s in sizes)


def check_all_finite(what: str, values, where: str) -> np.ndarray:
    """Raises FloatingPointError if `values` holds NaN or infinity.

    For values training produces (Q-values, losses): the message says that
    training went non-finite and where, instead of a later, obscure failure.
    """
    array = np.asarray(values)
    if array.dtype.kind in 'fc' and not np.all(np.isfinite(array)):
        raise FloatingPointError(
            f'training produced non-finite {what} in {where} ({array!r}); the '
            'learning rate may be too high or an initial value is NaN')
    return array


def check_finite_array(name: str, values, dtype=np.float64) -> np.ndarray:
    """`values` as a numeric array with only finite entries (bandit means...)."""
    try:
        array = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise ParameterTypeError(
            f'{name} must be an array of finite numbers, got {values!r}') from None
    if np.asarray(values).dtype == np.bool_:
        raise ParameterTypeError(f'{name} must be an array of finite numbers, got '
                                 f'booleans {values!r}')
    if not np.all(np.isfinite(array)):
        bad = array[~np.isfinite(array)].ravel()[0].item()
        raise ValueError(f'{name} must be an array of finite numbers, got {bad!r} '
                         f'in {values!r}')
    return array
