"""Reading observations the way the table-based agents need them."""

from dm_env import specs


def discrete_specs(environment_spec, agent: str, meaning: str):
    """(observation spec, action spec), both DiscreteArrays, or a ValueError.

    `meaning` says what the agent expects, for the message (e.g. 'a state
    index, e.g. ObservationType.STATE_INDEX').
    """
    observations, actions = environment_spec.observations, environment_spec.actions
    for name, spec in (('observation', observations), ('action', actions)):
        if not isinstance(spec, specs.DiscreteArray):
            raise ValueError(f'{agent} needs a DiscreteArray {name} spec ({meaning}), '
                             f'got {spec!r}')
    return observations, actions


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
