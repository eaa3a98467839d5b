"""DQN (Mnih et al., 2015): NFQ plus a target network, and its usual options.

The TD target bootstraps on a slowly moving copy of the Q-network, copied
every `target_update_frequency` learning steps (or blended in with Polyak
averaging, `target_update_rate`), which keeps the regression target still
for a while. Options: double DQN (the online network picks the next action,
the target network values it), a dueling head, Huber loss, gradient clipping,
count-based exploration (`count_bonus`, off by default), and a table
for Q (`hidden_sizes=()` on one-hot observations) learned by plain gradient
descent (`optimizer='sgd'`); see `NeuralFittedQAgent`. Image observations (GRID, RGB) get a convolutional
network by default.
"""

import copy
from typing import Optional

import numpy as np
import torch
from torch import nn

from agents.common.torch_utils import check_observation
from agents.nfq import NeuralFittedQAgent
from gridlab.core import validation


class DQN(NeuralFittedQAgent):
    """Deep Q-Network with a target network; double and dueling optional."""

    def __init__(self,
                 environment_spec,
                 network: Optional[nn.Module] = None,
                 replay_capacity: int = 100_000,
                 epsilon: float = 0.6,
                 batch_size: int = 32,
                 learning_rate: float = 1e-3,
                 target_update_frequency: int = 100,
                 target_update_rate: Optional[float] = None,
                 double: bool = True,
                 dueling: bool = False,
                 loss: str = 'huber',
                 max_grad_norm: Optional[float] = 10.,
                 **kwargs):
        """Builds the agent; see `NeuralFittedQAgent` for the shared arguments.

        Args:
          network: the Q-network (`q_network` in older scripts); default
            from the observation spec.
          target_update_frequency: copy the online network into the target
            every this many learning steps.
          target_update_rate: if given, instead blend the target toward the
            online network by this fraction every learning step (Polyak).
          double: use double DQN targets.
          dueling: give the default network a dueling head.
        """
        target_update_frequency = validation.check_positive_int(
            'target_update_frequency', target_update_frequency)
        if target_update_rate is not None:
            target_update_rate = validation.check_in_range(
                'target_update_rate', target_update_rate, 0., 1., low_open=True)
        self._dueling = dueling
        super().__init__(environment_spec, network=network,
                         replay_capacity=replay_capacity, epsilon=epsilon,
                         batch_size=batch_size, learning_rate=learning_rate,
                         loss=loss, max_grad_norm=max_grad_norm, **kwargs)
        self._target_network = copy.deepcopy(self._q_network)
        self._target_network.requires_grad_(False)
        self._target_update_frequency = target_update_frequency
        self._target_update_rate = target_update_rate
        self._double = double

    def _network_options(self) -> dict:
        return {'dueling': self._dueling}

    @property
    def target_network(self) -> nn.Module:
        """The lagging copy of `network` that the TD targets are computed with."""
        return self._target_network

    def target_q_values(self, observation) -> np.ndarray:
        """Q_target(observation, a) for every action a, from `target_network`."""
        array = check_observation(observation, self._observation_spec)
        with torch.inference_mode():
            batch = torch.tensor(array, dtype=torch.float32, device=self._device)[None]
            return self._target_network(batch)[0].cpu().numpy()

    def _td_targets(self, rewards: torch.Tensor, discounts: torch.Tensor,
                    next_states: torch.Tensor) -> torch.Tensor:
        """r + d * Q_target(s', b): b the target network's best, or (double) the online one's."""
        target_q = self._target_network(next_states)
        if self._double:
            best = self._q_network(next_states).argmax(dim=1, keepdim=True)
            return rewards + discounts * target_q.gather(1, best)[:, 0]
        return rewards + discounts * target_q.max(dim=1).values

    def _after_learning_step(self) -> None:
        if self._target_update_rate is not None:
            with torch.no_grad():
                for target, online in zip(self._target_network.parameters(),
                                          self._q_network.parameters()):
                    target.lerp_(online, self._target_update_rate)
        elif self._learner_steps % self._target_update_frequency == 0:
            self._target_network.load_state_dict(self._q_network.state_dict())

    def _state(self) -> dict:
        return dict(super()._state(), target_network=self._target_network.state_dict())

    def _load_state(self, state: dict) -> None:
        super()._load_state(state)
        self._target_network.load_state_dict(state['target_network'])
