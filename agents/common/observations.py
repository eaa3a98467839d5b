"""Reading observations the way the table-based agents need them."""


def state_index(observation, num_states: int, agent: str) -> int:
    """`observation` as a state index in [0, num_states), or a ValueError.

    Accepts Python and numpy integers and integral floats (1.0 is state 1);
    refuses 1.5, arrays and anything else, naming the agent.
    """
    try:
        index = int(observation)
    except (TypeError, ValueError):
        raise ValueError(f'{agent} needs a state index, got {observation!r}') from None
    if not 0 <= index < num_states or index != observation:
        raise ValueError(f'observation {observation!r} is not a state index in '
                         f'[0, {num_states})')
    return index
