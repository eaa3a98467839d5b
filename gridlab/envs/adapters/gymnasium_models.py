"""The known dynamics of Gymnasium's toy-text environments as a TabularModel.

FrozenLake, Taxi and CliffWalking publish their dynamics in `env.unwrapped.P`:
`P[s][a]` is a list of (probability, next state, reward, terminated). As a
`TabularModel` they go to `gridlab.planning`, which gives the exact optimal
value (FrozenLake's best success probability) and the exact value of any
agent's policy. Nothing here imports Gymnasium: the table is plain data.
"""

import numpy as np

from gridlab.envs.model import TabularModel


def tabular_model_from_gymnasium(environment, discount: float = 1.) -> TabularModel:
    """The dynamics table `P` of a Gymnasium environment as a TabularModel.

    Args:
      environment: a Gymnasium env with a `P` table (FrozenLake-v1, Taxi-v3,
        CliffWalking-v0), a wrapper around one, or gridlab's
        `GymnasiumWrapper` of one.
      discount: the discount of outcomes that do not terminate. 1 (the
        default) makes values undiscounted expected returns: on FrozenLake,
        whose only reward is 1 at the goal, the probability of reaching the
        goal. Terminating outcomes get discount 0.

    The model knows nothing of time limits (FrozenLake-v1 truncates at 100
    steps, Taxi-v3 at 200): its values are those of episodes without one.
    Outcomes are padded to the largest count with probability 0.
    """
    if not 0. <= discount <= 1.:
        raise ValueError(f'discount must be in [0, 1], got {discount!r}')
    table = _find_table(environment)
    num_states = len(table)
    num_actions = {len(table[s]) for s in range(num_states)}
    if len(num_actions) != 1:
        raise ValueError(f'every state of P must offer the same number of actions, '
                         f'got counts {sorted(num_actions)}')
    num_actions = num_actions.pop()
    k = max(len(table[s][a]) for s in range(num_states) for a in range(num_actions))
    shape = (num_states, num_actions, k)
    next_states = np.repeat(np.arange(num_states)[:, None, None], num_actions * k,
                            axis=1).reshape(shape)
    probabilities, rewards, discounts = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for s in range(num_states):
        for a in range(num_actions):
            for i, (p, t, r, terminated) in enumerate(table[s][a]):
                if not 0 <= t < num_states:
                    raise ValueError(f'P[{s}][{a}] leads to state {t}, outside '
                                     f'[0, {num_states})')
                next_states[s, a, i] = t
                probabilities[s, a, i] = p
                rewards[s, a, i] = r
                discounts[s, a, i] = 0. if terminated else discount
    return TabularModel(next_states, probabilities, rewards, discounts)


def _find_table(environment):
    """`P` from a Gymnasium env, its wrappers, or gridlab's GymnasiumWrapper."""
    inner = getattr(environment, 'gymnasium_environment', environment)
    table = getattr(getattr(inner, 'unwrapped', inner), 'P', None)
    if not isinstance(table, dict) or not table:
        raise ValueError(f'{environment!r} has no dynamics table P (expected a '
                         'toy-text environment such as FrozenLake-v1 or Taxi-v3)')
    if sorted(table) != list(range(len(table))):
        raise ValueError('P must be keyed by the states 0..n-1')
    return table


def start_distribution(environment) -> np.ndarray:
    """The initial-state distribution of a toy-text environment, shape [S]."""
    inner = getattr(environment, 'gymnasium_environment', environment)
    distribution = getattr(getattr(inner, 'unwrapped', inner), 'initial_state_distrib',
                           None)
    if distribution is None:
        raise ValueError(f'{environment!r} has no initial_state_distrib')
    return np.asarray(distribution, dtype=np.float64)


def time_limited_values(model: TabularModel, policy, horizon: int) -> np.ndarray:
    """The exact value of a policy in episodes cut off after `horizon` steps, [S].

    `policy` is [S] actions or [S, A] probabilities. FrozenLake-v1 truncates
    at 100 steps, so its success rate as played is this value at horizon
    100, a little below the model's unlimited one (`planning.policy_evaluation`).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise ValueError(f'horizon must be a non-negative integer, got {horizon!r}')
    policy = np.asarray(policy)
    if policy.shape == (model.num_states,):
        policy = np.eye(model.num_actions)[policy]
    if policy.shape != (model.num_states, model.num_actions):
        raise ValueError(f'policy must have shape ({model.num_states},) or '
                         f'({model.num_states}, {model.num_actions}), got {policy.shape}')
    values = np.zeros(model.num_states)
    for _ in range(horizon):
        q = np.sum(model.probabilities *
                   (model.rewards + model.discounts * values[model.next_states]), axis=-1)
        values = np.sum(policy * q, axis=1)
    return values
