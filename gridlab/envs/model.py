"""TabularModel: the dynamics of any finite MDP as arrays.

It is what planning works on and what every finite environment (the
GridWorld, `TabularMDP`, FrozenLake through its `P` table) can give.
"""

import collections

import numpy as np


class TabularModel(collections.namedtuple(
        'TabularModel', ['next_states', 'probabilities', 'rewards', 'discounts',
                         'allowed'], defaults=(None,))):
    """An environment's dynamics as arrays of shape [S, A, K].

    Taking action a in state s leads, for each outcome k, to
    `next_states[s, a, k]` with probability `probabilities[s, a, k]`, paying
    `rewards[s, a, k]`; the future is then discounted by `discounts[s, a, k]`
    (0 when the outcome ends the episode). This covers deterministic,
    slippery and terminal transitions with one formula:
    Q(s, a) = sum_k p_k * (r_k + d_k * V(s'_k)).
    `allowed` ([S, A] bool, None for all) marks the actions a state offers;
    planning gives the others the value -inf.
    """

    @property
    def num_states(self) -> int:
        return int(np.shape(self.next_states)[0])

    @property
    def num_actions(self) -> int:
        return int(np.shape(self.next_states)[1])

    def with_discount(self, discount: float) -> 'TabularModel':
        """The same model with every discount multiplied by `discount`.

        An agent with its own discount g optimises the model whose discounts
        are `g * d` (Acme's rule: agent discount times the TimeStep's).
        """
        if discount == 1.:
            return self
        return self._replace(discounts=np.asarray(self.discounts) * float(discount))
