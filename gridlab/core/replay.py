"""A uniform replay buffer of (state, action, reward, discount, next_state).

    buffer = ReplayBuffer(capacity=10_000, seed=0)
    buffer.add_first(timestep)              # the episode's FIRST timestep
    buffer.add(action, next_timestep)       # after every step
    if buffer.is_ready(batch_size):
        batch = buffer.sample(batch_size)   # Transitions of stacked arrays

Transitions live in numpy arrays, one per field (and one per observation leaf
when observations are nested), created on the first `add` from that
transition's shapes and dtypes. `sample` and `flush` are fancy indexing on
those arrays, never per-transition Python stacking.
"""

from typing import Any, List, NamedTuple, Optional

import dm_env
import numpy as np
import tree

from gridlab.core import validation

# Arrays start at this many slots (or `capacity`, if smaller) and double as
# they fill, so a large capacity costs memory only once it is used.
_INITIAL_SLOTS = 1024


def _check_fits(what: str, value: np.ndarray, dtype: np.dtype) -> None:
    """Refuses a value that storing as `dtype` would change.

    numpy would truncate 1.7 to 1 in an integer slot and wrap 2**40 around
    in an int32 one without a word; a replay buffer must keep what it is given.
    """
    dtype = np.dtype(dtype)
    shown = value.item() if value.ndim == 0 else value
    if not np.issubdtype(dtype, np.integer):
        return  # Float slots: the documented float32 storage.
    if not (np.issubdtype(value.dtype, np.integer) or value.dtype == np.bool_):
        raise ValueError(
            f'{what} {shown!r} of dtype {value.dtype} cannot be stored in this '
            f'buffer\'s {dtype} slots without being changed: expected integers, '
            'as the first transition had')
    info = np.iinfo(dtype)
    if value.size and (value.min() < info.min or value.max() > info.max):
        raise ValueError(
            f'{what} {shown!r} does not fit this buffer\'s {dtype} slots '
            f'(expected values in [{info.min}, {info.max}])')


class Transitions(NamedTuple):
    """One transition, or a batch of them with a leading batch dimension."""
    state: Any
    action: Any
    reward: Any
    discount: Any
    next_state: Any


class ReplayBuffer:
    """Stores transitions in a ring buffer and samples them uniformly.

    When the buffer holds `capacity` transitions, each new one overwrites the
    oldest. Observations keep their dtype; actions are stored as int64 if
    integer, else float32; rewards and discounts as float32. Every observation
    must have the structure and shapes of the first one.
    """

    def __init__(self, capacity: Optional[int] = 100_000, seed: Optional[int] = None):
        """Initialises an empty buffer.

        Args:
            capacity: the most transitions kept; None for no limit.
            seed: seeds the buffer's own random generator used by `sample`.

        Raises:
            ValueError: if `capacity` is neither None nor a positive int.
        """
        capacity = validation.check_optional_positive_int('capacity', capacity)
        self._capacity = capacity
        self._rng = np.random.default_rng(seed)
        self._prev_state: Optional[List[np.ndarray]] = None  # Flattened.
        self._size = 0
        self._head = 0  # The slot the next transition goes to.
        # The first observation fixes the structure and shapes of all others.
        self._structure = None
        self._shapes: Optional[List[tuple]] = None  # One per leaf.
        # Created by the first `add`; see `_allocate`.
        self._states: Optional[List[np.ndarray]] = None
        self._next_states: Optional[List[np.ndarray]] = None
        self._actions: Optional[np.ndarray] = None
        self._rewards: Optional[np.ndarray] = None
        self._discounts: Optional[np.ndarray] = None

    @property
    def capacity(self) -> Optional[int]:
        return self._capacity

    def __len__(self) -> int:
        return self._size

    def is_ready(self, batch_size: int) -> bool:
        """Whether the buffer holds at least `batch_size` transitions."""
        return validation.check_positive_int('batch_size', batch_size) <= self._size

    def add_first(self, timestep: dm_env.TimeStep) -> None:
        """Starts an episode: `timestep.observation` is the next `state`."""
        self._prev_state = self._flatten(timestep.observation)

    def add(self, action: Any, timestep: dm_env.TimeStep) -> None:
        """Stores the transition from the previous observation to `timestep`'s.

        Args:
            action: the action taken in the previous observation.
            timestep: the timestep the environment returned for `action`.

        Raises:
            ValueError: if no episode was started with `add_first` (also after
                a LAST timestep), if `timestep` is a FIRST one, or if the
                observation or action does not match the first transition's.
        """
        if self._prev_state is None:
            raise ValueError(
                'add() needs a previous observation: call add_first(timestep) '
                'at the start of each episode')
        if timestep.first():
            raise ValueError(
                'add() got a FIRST timestep, which has no reward; '
                'use add_first(timestep) to start an episode')
        action = np.asarray(action)
        next_state = self._flatten(timestep.observation)
        if self._states is None:
            self._allocate(action)
        if action.shape != self._actions.shape[1:]:
            raise ValueError(f'action shape mismatch: expected '
                             f'{self._actions.shape[1:]}, received {action.shape}')

        if action.dtype != self._actions.dtype:
            _check_fits('action', action, self._actions.dtype)
        for i, (array, leaf) in enumerate(zip(self._states, next_state)):
            if leaf.dtype != array.dtype:
                _check_fits('observation' if len(next_state) == 1 else
                            f'observation leaf {i}', leaf, array.dtype)

        slot = self._head
        if slot == len(self._rewards):
            self._grow()
        for array, leaf in zip(self._states, self._prev_state):
            array[slot] = leaf
        for array, leaf in zip(self._next_states, next_state):
            array[slot] = leaf
        self._actions[slot] = action
        self._rewards[slot] = timestep.reward
        self._discounts[slot] = timestep.discount

        self._size = max(self._size, slot + 1)
        self._head = slot + 1
        if self._head == self._capacity:
            self._head = 0  # Full: the next transition overwrites the oldest.
        # A LAST timestep ends the episode: the next one starts with add_first.
        self._prev_state = None if timestep.last() else next_state

    def sample(self, batch_size: int) -> Transitions:
        """Returns `batch_size` transitions drawn uniformly, with replacement.

        Raises:
            ValueError: if `batch_size` is not between 1 and `len(self)`.
        """
        validation.check_positive_int('batch_size', batch_size)
        if not 1 <= batch_size <= self._size:
            raise ValueError(
                f'batch_size must be between 1 and the number of transitions '
                f'stored ({self._size}), got {batch_size!r}')
        return self._gather(self._rng.integers(self._size, size=batch_size))

    def flush(self) -> Transitions:
        """Returns every stored transition, oldest first, and empties the buffer.

        The episode in progress (if any) goes on: the next `add` needs no
        `add_first`.

        Raises:
            ValueError: if the buffer is empty.
        """
        if self._size == 0:
            raise ValueError('cannot flush an empty ReplayBuffer')
        # Before the ring wraps, the oldest is in slot 0; after, in `_head`.
        start = self._head - self._size
        transitions = self._gather((start + np.arange(self._size)) % len(self._rewards))
        self._size = 0
        self._head = 0
        return transitions

    def _flatten(self, observation: Any) -> List[np.ndarray]:
        """Returns copies of the observation's leaves, checked against the first."""
        # Copies, because an environment may reuse its observation arrays.
        if not tree.is_nested(observation):  # Fast path: no tree traversal.
            leaves = [np.array(observation)]
        else:
            leaves = [np.array(leaf) for leaf in tree.flatten(observation)]
        if self._shapes is None:
            self._structure = tree.map_structure(lambda _: None, observation)
            self._shapes = [leaf.shape for leaf in leaves]
        else:
            self._check_observation(observation, leaves)
        return leaves

    def _check_observation(self, observation: Any, leaves: List[np.ndarray]) -> None:
        """Raises ValueError unless the observation matches the first one."""
        # numpy would broadcast a wrong shape into a slot without complaint.
        expected = self._shapes
        received = [leaf.shape for leaf in leaves]
        try:
            tree.assert_same_structure(self._structure, observation)
        except (ValueError, TypeError):
            raise ValueError(
                f'observation structure mismatch: expected '
                f'{self._unflatten(expected)}, received '
                f'{tree.unflatten_as(observation, received)}') from None
        if expected != received:
            raise ValueError(
                f'observation shape mismatch: expected {self._unflatten(expected)}, '
                f'received {self._unflatten(received)}')

    def _allocate(self, action: np.ndarray) -> None:
        """Creates the arrays from the first transition's shapes and dtypes."""
        slots = min(_INITIAL_SLOTS, self._capacity or _INITIAL_SLOTS)

        def zeros_like(leaves):
            return [np.zeros((slots,) + leaf.shape, leaf.dtype) for leaf in leaves]

        self._states = zeros_like(self._prev_state)
        self._next_states = zeros_like(self._prev_state)
        # Actions may come as Python ints, numpy scalars or 0-d tensors.
        integer = np.issubdtype(action.dtype, np.integer)
        self._actions = np.zeros((slots,) + action.shape,
                                 np.int64 if integer else np.float32)
        self._rewards = np.zeros(slots, np.float32)
        self._discounts = np.zeros(slots, np.float32)

    def _grow(self) -> None:
        """Doubles the arrays (up to `capacity`), keeping their content."""
        slots = 2 * len(self._rewards)
        if self._capacity is not None:
            slots = min(slots, self._capacity)

        def grown(array):
            new = np.zeros((slots,) + array.shape[1:], array.dtype)
            new[:len(array)] = array
            return new

        self._states = [grown(array) for array in self._states]
        self._next_states = [grown(array) for array in self._next_states]
        self._actions = grown(self._actions)
        self._rewards = grown(self._rewards)
        self._discounts = grown(self._discounts)

    def _unflatten(self, leaves: List[Any]) -> Any:
        """Inverse of `_flatten`: leaves back into the observation's structure."""
        if not tree.is_nested(self._structure):  # The fast path.
            return leaves[0]
        return tree.unflatten_as(self._structure, leaves)

    def _gather(self, indices: np.ndarray) -> Transitions:
        """Returns the transitions in `indices` (copies) as stacked arrays."""
        return Transitions(
            state=self._unflatten([array[indices] for array in self._states]),
            action=self._actions[indices],
            reward=self._rewards[indices],
            discount=self._discounts[indices],
            next_state=self._unflatten([array[indices] for array in self._next_states]),
        )
