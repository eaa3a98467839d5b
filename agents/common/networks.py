"""Q-networks built from an observation spec.

Every network takes raw observations, shape (batch, *observation_shape) as
float32, and scales them itself: bounded specs (grid coordinates, pixels) map
to [-1, 1], so agents and notebooks never preprocess by hand. Vector
observations get an MLP; images (H, W, C) get a small convolutional torso.
"""

from typing import Optional, Sequence

import numpy as np
import torch
from dm_env import specs
from torch import nn

from gridlab.core import validation

# The most parameters one network may have: 50M float32 weights are 200 MB,
# about 1 GB with their gradients, Adam's two moments and a target copy;
# thousands of times gridlab's networks. Checked before anything is allocated,
# so that `hidden_sizes=100000,100000` is refused by name instead of ending
# in the allocator's "can't allocate 40000000000 bytes".
MAX_PARAMETERS = 50_000_000


def mlp_parameters(sizes: Sequence[int]) -> int:
    """The weights and biases of Linear layers of these sizes."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def conv_parameters(channels: Sequence[int], kernel: int = 3) -> int:
    """The weights and biases of kernel x kernel convolutions between these
    channel counts."""
    return sum((n_in * kernel * kernel + 1) * n_out
               for n_in, n_out in zip(channels[:-1], channels[1:]))


def check_network_size(sizes: Sequence[int], name: str = 'hidden_sizes',
                       count: Optional[int] = None, kind: str = 'layers') -> int:
    """The parameter count of an MLP with layers `sizes` (or `count`, if
    given); a ValueError naming `name` and the estimated size if it is above
    `MAX_PARAMETERS`."""
    count = mlp_parameters(sizes) if count is None else count
    if count > MAX_PARAMETERS:
        raise ValueError(
            f'{name} make a network with {kind} {tuple(sizes)}: {count:,} parameters, '
            f'{4 * count / 1e9:,.1f} GB as float32 before gradients and optimizer '
            f'state; the cap is {MAX_PARAMETERS:,} parameters '
            f'({4 * MAX_PARAMETERS / 1e6:,.0f} MB, '
            f'agents.common.networks.MAX_PARAMETERS): give smaller {name}')
    return count


def check_network(name: str, network) -> Optional[nn.Module]:
    """None (the agent builds its default network) or a torch.nn.Module."""
    if network is not None and not isinstance(network, nn.Module):
        raise validation.ParameterTypeError(
            f'{name} must be a torch.nn.Module (or None for the default network, '
            f'built from hidden_sizes), got {network!r}')
    return network


class Rescale(nn.Module):
    """Maps each input from [minimum, maximum] to [-1, 1]."""

    def __init__(self, minimum, maximum, shape):
        super().__init__()
        low = np.broadcast_to(np.asarray(minimum, np.float32), shape)
        high = np.broadcast_to(np.asarray(maximum, np.float32), shape)
        span = np.where(high > low, high - low, 1.)
        self.register_buffer('centre', torch.tensor((high + low) / 2))
        self.register_buffer('half_span', torch.tensor(span / 2))

    def forward(self, x):
        return (x - self.centre) / self.half_span


class ChannelsFirst(nn.Module):
    """(B, H, W, C) -> (B, C, H, W), the layout torch's convolutions expect."""

    def forward(self, x):
        return x.permute(0, 3, 1, 2).contiguous()


class DuelingHead(nn.Module):
    """Q = V + A - mean(A) (Wang et al., 2016), from one hidden layer of features."""

    def __init__(self, features: int, num_actions: int):
        super().__init__()
        self.value = nn.Linear(features, 1)
        self.advantage = nn.Linear(features, num_actions)

    def forward(self, x):
        advantage = self.advantage(x)
        return self.value(x) + advantage - advantage.mean(dim=-1, keepdim=True)


def input_scaling(spec: specs.Array) -> nn.Module:
    """Rescale for a spec with finite bounds, else the identity."""
    if isinstance(spec, specs.BoundedArray):
        low, high = np.broadcast_arrays(spec.minimum, spec.maximum)
        if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
            return Rescale(spec.minimum, spec.maximum, spec.shape)
    return nn.Identity()


def _head(features: int, num_actions: int, dueling: bool) -> nn.Module:
    return DuelingHead(features, num_actions) if dueling else nn.Linear(features, num_actions)


class SeededDropout(nn.Module):
    """Dropout drawing its masks from a given generator, so runs repeat."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        p = validation.check_in_range('dropout', p, 0., 1., high_open=True)
        self.p, self.generator = p, generator

    def forward(self, x):
        if not self.training or self.p == 0.:
            return x
        # The generator lives on the CPU; the mask moves to wherever x is.
        keep = (torch.rand(x.shape, generator=self.generator) >= self.p).to(x.device)
        return x * keep / (1. - self.p)


def mlp(sizes: Sequence[int], dropout: float = 0.,
        generator: Optional[torch.Generator] = None,
        name: str = 'hidden_sizes') -> nn.Sequential:
    """Linear layers of the given sizes with ReLUs between them.

    With `dropout`, a `SeededDropout` drawing from `generator` follows each
    hidden ReLU. The one MLP builder of every agent's networks.
    """
    sizes = validation.check_sizes('sizes', sizes)
    if len(sizes) < 2:
        raise ValueError(f'an MLP needs two or more positive layer sizes, got '
                         f'{tuple(sizes)!r}')
    check_network_size(sizes, name)
    dropout = validation.check_in_range('dropout', dropout, 0., 1., high_open=True)
    if dropout and generator is None:
        raise ValueError('dropout needs a torch.Generator, so that runs repeat')
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(SeededDropout(dropout, generator))
    return nn.Sequential(*layers)


def make_q_network(observation_spec: specs.Array, num_actions: int,
                   hidden_sizes: Sequence[int] = (64, 64),
                   conv_channels: Sequence[int] = (8,),
                   dueling: bool = False) -> nn.Sequential:
    """An MLP for vector observations, a conv net for (H, W, C) images.

    One flat `nn.Sequential`: with networks this small, every extra module
    call is a noticeable share of a training step.

    `hidden_sizes=()` leaves out the hidden layers: the head maps the torso's
    features to Q-values directly. With no convolutions either (a vector
    observation, or `conv_channels=()`) and no dueling head, the network is
    one linear map of the (scaled, flattened) observation, without a bias
    and starting at zero: on one-hot observations (`AGENT_ONEHOT`) its
    weights are a table with one row of Q-values per cell, and a gradient
    step on a transition moves its own cell's row alone. (A bias, or any
    input that is the same in every state, such as a fixed task's walls in
    a GRID observation, is a feature of every transition: its step would be
    many times a cell's and would cap the step size the table can take.)
    """
    shape = tuple(observation_spec.shape)
    if not shape:
        raise ValueError('a Q-network needs array observations; for a state '
                         'index (a scalar) use a tabular agent')
    hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes, allow_empty=True)
    conv_channels = validation.check_sizes('conv_channels', conv_channels, allow_empty=True)
    num_actions = validation.check_positive_int('num_actions', num_actions)
    torso = [input_scaling(observation_spec)]
    if len(shape) == 3:
        channels = (shape[-1],) + tuple(conv_channels)
        check_network_size(channels, 'conv_channels', conv_parameters(channels),
                           'channels')
        torso.append(ChannelsFirst())
        channels, size = shape[-1], min(shape[:2])
        pixels = np.dtype(observation_spec.dtype) == np.uint8
        for out_channels in conv_channels:
            # Stride 2 shrinks a picture (uint8 RGB) toward grid size; a GRID
            # observation is one cell per position and stays whole.
            stride = 2 if pixels and size > 16 else 1
            torso += [nn.Conv2d(channels, out_channels, 3, stride=stride, padding=1),
                      nn.ReLU()]
            channels, size = out_channels, (size + stride - 1) // stride
    if len(shape) > 1:
        torso.append(nn.Flatten())
    torso = [layer for layer in torso if not isinstance(layer, nn.Identity)]
    with torch.no_grad():  # The feature count, by running a dummy input.
        features = nn.Sequential(*torso)(torch.zeros((1,) + shape)).shape[-1]
    if not hidden_sizes:
        if dueling or any(isinstance(layer, nn.Conv2d) for layer in torso):
            return nn.Sequential(*torso, _head(features, num_actions, dueling))
        table = nn.Linear(features, num_actions, bias=False)
        nn.init.zeros_(table.weight)
        return nn.Sequential(*torso, table)
    name = 'conv_channels and hidden_sizes' if len(shape) == 3 else 'hidden_sizes'
    layers = torso + list(mlp((features,) + tuple(hidden_sizes), name=name)) + [nn.ReLU()]
    layers.append(_head(hidden_sizes[-1], num_actions, dueling))
    return nn.Sequential(*layers)
