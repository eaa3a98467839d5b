"""Q-networks built from an observation spec.

Every network takes raw observations, shape (batch, *observation_shape) as
float32, and scales them itself: bounded specs (grid coordinates, pixels) map
to [-1, 1], so agents and notebooks never preprocess by hand. Vector
observations get an MLP; images (H, W, C) get a small convolutional torso
(`conv_torso`, the one conv builder, which PPO and the policy agents use too).
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


def conv_parameters(channels: Sequence[int], kernel=3) -> int:
    """The weights and biases of kernel x kernel convolutions between these
    channel counts (`kernel` an int, or one per convolution)."""
    kernels = [kernel] * (len(channels) - 1) if isinstance(kernel, int) else list(kernel)
    return sum((n_in * k * k + 1) * n_out
               for n_in, n_out, k in zip(channels[:-1], channels[1:], kernels))


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


class OneHot(nn.Module):
    """State indices (a batch, shape (B,) or (B, 1), of any dtype) as one-hot rows."""

    def __init__(self, num_values: int):
        super().__init__()
        self.num_values = int(num_values)

    def forward(self, x):
        return nn.functional.one_hot(x.reshape(len(x)).long(), self.num_values).float()


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
        name: str = 'hidden_sizes', output_bias: bool = True) -> nn.Sequential:
    """Linear layers of the given sizes with ReLUs between them.

    With `dropout`, a `SeededDropout` drawing from `generator` follows each
    hidden ReLU; `output_bias=False` leaves the last layer's bias out. The
    one MLP builder of every agent's networks.
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
        hidden = i < len(sizes) - 2
        layers.append(nn.Linear(n_in, n_out, bias=output_bias or hidden))
        if hidden:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(SeededDropout(dropout, generator))
    return nn.Sequential(*layers)


ACTIVATIONS = {'relu': nn.ReLU, 'tanh': nn.Tanh}

# Layers that compute the same in training and evaluation mode.
_MODELESS = (nn.Sequential, nn.Linear, nn.Conv2d, nn.MaxPool2d, nn.Flatten, nn.Identity,
             nn.ReLU, nn.Tanh, Rescale, OneHot, ChannelsFirst, DuelingHead)


def has_modes(network: nn.Module) -> bool:
    """Whether `network` may compute otherwise in training mode than in
    evaluation mode: True unless every layer is one known not to (dropout,
    batch norm and layers gridlab does not know, subclasses of known ones
    too, count as having modes)."""
    return not all(type(module) in _MODELESS for module in network.modules())


def check_activation(activation) -> str:
    """`activation`, if it names one of `ACTIVATIONS`; else a ValueError naming it."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f'activation must be one of {sorted(ACTIVATIONS)}, '
                         f'got {activation!r}')
    return activation


def with_activation(network: nn.Sequential, activation: str) -> nn.Sequential:
    """`network` (an MLP with ReLUs, from `mlp`) with `activation` between its layers."""
    check_activation(activation)
    return nn.Sequential(*(ACTIVATIONS[activation]() if isinstance(m, nn.ReLU) else m
                           for m in network))


def orthogonal_init(network: nn.Module, last_gain: float) -> None:
    """CleanRL's and Stable-Baselines3's initialisation of a policy or value MLP:
    orthogonal weights of gain sqrt(2), the last Linear's of `last_gain`
    (0.01 for a policy: a near-uniform first policy), zero biases."""
    linears = [m for m in network.modules() if isinstance(m, nn.Linear)]
    for layer in linears:
        nn.init.orthogonal_(layer.weight, np.sqrt(2) if layer is not linears[-1]
                            else last_gain)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def orthogonal_init_convs(network: nn.Module) -> None:
    """CleanRL's and Stable-Baselines3's initialisation of a conv torso:
    orthogonal weights of ReLU's gain sqrt(2), zero biases."""
    for layer in network.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.orthogonal_(layer.weight, np.sqrt(2))
            nn.init.zeros_(layer.bias)


def feature_count(network: nn.Module, shape: Sequence[int]) -> int:
    """How many features `network` makes of one observation of `shape`,
    found by running a zero input through it (no randomness is drawn)."""
    with torch.no_grad():
        return int(network(torch.zeros((1,) + tuple(shape))).shape[-1])


def _per_layer(name: str, value, layers: int, minimum: int) -> tuple:
    """An int, or a sequence of one (every layer) or `layers` ints, as `layers` ints."""
    values = (value,) if isinstance(value, (int, np.integer)) else value
    if isinstance(values, (str, bytes)) or not hasattr(values, '__iter__'):
        raise validation.ParameterTypeError(
            f'{name} must be an integer or a sequence of integers, got {value!r}')
    values = tuple(values)
    if len(values) == 1:
        values = values * layers
    if len(values) != layers:
        raise ValueError(f'{name} must give one value, or one per convolution '
                         f'({layers}), got {value!r}')
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            raise ValueError(f'{name}[{i}] must be an integer >= {minimum}, got {v!r}')
    return tuple(int(v) for v in values)


def conv_options(channels, kernels=3, strides=None, padding=None, pools=1) -> tuple:
    """The conv options checked, one value per convolution (see `conv_torso`)."""
    channels = validation.check_sizes('conv_channels', channels)
    n = len(channels)
    kernels = _per_layer('conv_kernels', kernels, n, 1)
    strides = None if strides is None else _per_layer('conv_strides', strides, n, 1)
    padding = (tuple(k // 2 for k in kernels) if padding is None
               else _per_layer('conv_padding', padding, n, 0))
    pools = _per_layer('conv_pools', pools, n, 1)
    return channels, kernels, strides, padding, pools


def conv_settings(channels, kernels=3, strides=None, padding=None, pools=1
                  ) -> Optional[dict]:
    """An agent's conv options checked, as `conv_torso`'s keyword arguments;
    None when `channels` is None or empty (no convolutions)."""
    if channels is None or not validation.check_sizes('conv_channels', channels,
                                                      allow_empty=True):
        return None
    return dict(zip(('channels', 'kernels', 'strides', 'padding', 'pools'),
                    conv_options(channels, kernels, strides, padding, pools)))


def conv_torso(observation_spec: specs.Array, channels: Sequence[int],
               kernels=3, strides=None, padding=None, pools=1) -> list:
    """The convolutional layers for (H, W, C) observations, as a list of
    modules: channels-first, then per convolution Conv2d -> ReLU (-> a
    max-pool), then Flatten. Scaling is the caller's (`input_scaling`).

    The one conv builder: the Q-networks, PPO's encoder and the policy agents
    (the actor-critic, REINFORCE) use it.
    `kernels`, `strides`, `padding` and `pools` are each an int or a sequence
    of one (every convolution) or one per convolution. `strides=None`: 2 for
    pictures (uint8) while the map is wider than 16, else 1, which shrinks a
    picture toward grid size and keeps a grid (one cell per position) whole.
    `padding=None`: kernel // 2 ("same" for odd kernels). A pool of 1 is none.
    For example rl-starter-files' MiniGrid torso is channels (16, 32, 64),
    kernels 2, padding 0, pools (2, 1, 1); the MinAtar paper's is channels
    (16,), kernels 3, strides 1, padding 0.
    """
    shape = tuple(observation_spec.shape)
    if len(shape) != 3:
        raise ValueError(f'a convolutional torso needs (H, W, C) observations, got '
                         f'shape {shape}')
    channels, kernels, strides, padding, pools = conv_options(
        channels, kernels, strides, padding, pools)
    check_network_size((shape[-1],) + channels, 'conv_channels',
                       conv_parameters((shape[-1],) + channels, kernels), 'channels')
    pixels = np.dtype(observation_spec.dtype) == np.uint8
    layers = [ChannelsFirst()]
    in_channels, height, width = shape[-1], shape[0], shape[1]
    for i, out_channels in enumerate(channels):
        stride = (strides[i] if strides is not None
                  else 2 if pixels and min(height, width) > 16 else 1)
        height = (height + 2 * padding[i] - kernels[i]) // stride + 1
        width = (width + 2 * padding[i] - kernels[i]) // stride + 1
        layers += [nn.Conv2d(in_channels, out_channels, kernels[i], stride=stride,
                             padding=padding[i]), nn.ReLU()]
        if pools[i] > 1:
            height, width = height // pools[i], width // pools[i]
            layers.append(nn.MaxPool2d(pools[i]))
        if height < 1 or width < 1:
            raise ValueError(
                f'convolution {i} leaves no feature map of a {shape[0]}x{shape[1]} '
                f'observation: conv_kernels={kernels}, conv_strides={strides}, '
                f'conv_padding={padding}, conv_pools={pools}; use smaller kernels, '
                'strides or pools, more padding, or fewer conv_channels')
        in_channels = out_channels
    return layers + [nn.Flatten()]


def make_q_network(observation_spec: specs.Array, num_actions: int,
                   hidden_sizes: Sequence[int] = (64, 64),
                   conv_channels: Sequence[int] = (8,),
                   dueling: bool = False, conv_kernels=3, conv_strides=None,
                   conv_padding=None, conv_pools=1,
                   scale_observations: bool = True) -> nn.Sequential:
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

    `conv_kernels`, `conv_strides`, `conv_padding` and `conv_pools` shape
    the convolutions (see `conv_torso`); the defaults are 3x3 "same"
    convolutions. `scale_observations=False` feeds the observations in as
    they are, without mapping finite bounds to [-1, 1] (`input_scaling`).
    """
    shape = tuple(observation_spec.shape)
    if not shape:
        raise ValueError('a Q-network needs array observations; for a state '
                         'index (a scalar) use a tabular agent')
    hidden_sizes = validation.check_sizes('hidden_sizes', hidden_sizes, allow_empty=True)
    conv_channels = validation.check_sizes('conv_channels', conv_channels, allow_empty=True)
    num_actions = validation.check_positive_int('num_actions', num_actions)
    if conv_channels:  # Checked whatever the observations, so typos surface.
        conv_options(conv_channels, conv_kernels, conv_strides, conv_padding, conv_pools)
    torso = [input_scaling(observation_spec) if scale_observations else nn.Identity()]
    if len(shape) == 3 and conv_channels:
        torso += conv_torso(observation_spec, conv_channels, conv_kernels, conv_strides,
                            conv_padding, conv_pools)
    elif len(shape) == 3:  # No convolutions: the channels-first image, flat.
        torso += [ChannelsFirst(), nn.Flatten()]
    elif len(shape) > 1:
        torso.append(nn.Flatten())
    torso = [layer for layer in torso if not isinstance(layer, nn.Identity)]
    features = feature_count(nn.Sequential(*torso), shape)
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
