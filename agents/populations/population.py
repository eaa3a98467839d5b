"""What every population shares: its members, their copies, checkpoints.

A population holds N ordinary agents of one class, built with one seed each
and the same hyperparameters. Their networks are stacked into tensors of
shape (N, ...) that the population trains (`agents.populations.stacked`);
each member agent keeps its own random generators, counters and
hyperparameters, which the population uses as the agent would.
`member(m)` writes member m's trained weights and optimiser state into
agent m and returns it: an ordinary agent (q_values, action_probabilities,
save/restore, evaluation, video). Subclasses train the members together on
a batched environment of N x k copies, member m driving copies
m*k .. m*k + k - 1.
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from agents.common.torch_utils import resolve_device
from agents.populations.stacked import StackedNetwork, stacked_optimizer
from gridlab.core import validation
from gridlab.core.checkpoints import Checkpointing

# A population stacks its members' tensors; past this many, one process
# would rather be several (see `agents.populations.memory` for sizing).
MAX_MEMBERS = 4096


def check_seeds(seeds) -> List[int]:
    """`seeds` as a list of distinct seeds, or a ValueError naming the bad one."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, '__len__'):
        raise validation.ParameterTypeError(
            f'seeds must be a sequence of integer seeds, one per member, got {seeds!r}')
    seeds = [validation.check_seed(f'seeds[{i}]', seed) for i, seed in enumerate(seeds)]
    if not 1 <= len(seeds) <= MAX_MEMBERS:
        raise ValueError(f'seeds must name between 1 and {MAX_MEMBERS} members, got '
                         f'{len(seeds)}')
    if len(set(seeds)) != len(seeds):
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        raise ValueError(f'seeds must be distinct (one member per seed); repeated: '
                         f'{repeated}')
    return seeds


class Population(Checkpointing):
    """N members of `agent_class`, one per seed; subclasses train them as one.

    A subclass names the member networks it stacks and trains
    (`trained_networks`, in the order of the member's own optimiser's
    parameters); `stacks[name]` is the `StackedNetwork` of each.
    """

    agent_class: type = None
    trained_networks: Sequence[str] = ()
    greedy: bool = False

    def __init__(self, environment_spec, seeds: Sequence[int],
                 device: Optional[str] = 'cpu', copies_per_member: Optional[int] = None,
                 **hyperparameters):
        """`copies_per_member` is k when known before training (batches must
        then hold N x k copies); None lets each batch say."""
        self.seeds = check_seeds(seeds)
        self.copies_per_member = validation.check_optional_positive_int(
            'copies_per_member', copies_per_member)
        self._device = resolve_device(device)
        self.members = [self.agent_class(environment_spec, seed=seed, device=device,
                                         **hyperparameters) for seed in self.seeds]
        self._num_actions = int(environment_spec.actions.num_values)
        self.discount = self.members[0].discount
        self.stacks = {name: StackedNetwork([getattr(m, name) for m in self.members], name)
                       for name in self.trained_networks}
        # Without trained networks the members learn in their own agents.
        self._optimizer = (stacked_optimizer(self._parameters(), self.members[0]._optimizer)
                           if self.trained_networks else None)

    def _parameters(self) -> List:
        """The stacked leaves, in the order of a member's own optimiser's parameters."""
        return [p for name in self.trained_networks for p in self.stacks[name].parameters()]

    @staticmethod
    def _own_parameters(member) -> List:
        return [p for group in member._optimizer.param_groups for p in group['params']]

    @property
    def size(self) -> int:
        """N, the number of members."""
        return len(self.members)

    @property
    def device(self):
        return self._device

    def member(self, m: int):
        """Member m as an ordinary agent, with its trained weights and
        optimiser state written into it (the live agent: its generators
        are the ones training draws from; after changing its weights, say by
        `restore`, call `read_member(m)` to train on from them)."""
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not (
                0 <= m < self.size):
            raise IndexError(f'member must be an integer in [0, {self.size}), got {m!r}')
        agent = self.members[m]
        for name in self.trained_networks:
            self.stacks[name].write_member(m, getattr(agent, name))
        if self._optimizer is not None:
            self._optimizer.write_member(m, self._own_parameters(agent), agent._optimizer)
        self._write_extra(m, agent)
        return agent

    def read_member(self, m: int) -> None:
        """Takes member m's own weights and optimiser state back into training."""
        agent = self.members[m]
        for name in self.trained_networks:
            self.stacks[name].read_member(m, getattr(agent, name))
        if self._optimizer is not None:
            self._optimizer.read_member(m, self._own_parameters(agent), agent._optimizer)
        self._read_extra(m, agent)

    def _write_extra(self, m: int, agent) -> None:
        """Other stacked state of member m into its agent (DQN's target network)."""

    def _read_extra(self, m: int, agent) -> None:
        """Other stacked state of member m from its agent."""

    def _check_batch(self, copies: int) -> None:
        k = self.copies_per_member
        if copies % self.size or (k is not None and copies != k * self.size):
            each = f'{k} copies each' if k is not None else 'k copies each'
            raise ValueError(f'a population of {self.size} members acts on N x k '
                             f'copies ({each}); got a batch of {copies}')

    def _slices(self, copies: int) -> List[slice]:
        """Each member's copies in a batch of `copies`."""
        k = copies // self.size
        return [slice(m * k, (m + 1) * k) for m in range(self.size)]

    # ---------------------------------------------------------- checkpoints

    def _state(self) -> Dict[str, Any]:
        return {'seeds': list(self.seeds),
                'members': [self.member(m)._state() for m in range(self.size)]}

    def _load_state(self, state: Dict[str, Any]) -> None:
        if list(state['seeds']) != self.seeds:
            raise ValueError(f'the checkpoint holds members with seeds {state["seeds"]}, '
                             f'this population has {self.seeds}')
        for m, (member, member_state) in enumerate(zip(self.members, state['members'])):
            member._load_state(member_state)
            self.read_member(m)
