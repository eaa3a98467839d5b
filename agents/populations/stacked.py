"""Stacked networks: N members' copies of one network, trained as one.

The population owns each parameter as one tensor of shape (N, ...), member
m's at index m, with its Adam moments and step count beside it; a forward
pass runs every layer once for all members with batched matrix products.
Members never share a parameter, a gradient or optimiser state: the loss is
a sum of per-member losses (each gradient is its member's own), gradient
clipping takes each member's own norm, and Adam is elementwise.

`batched_linear` computes each member's products with the very kernels
`torch.nn.functional.linear` uses for one network (its backward is written
out for that: autograd's own rule for a batched product multiplies the
weight gradient in the other operand order, which rounds differently), and
the optimiser step is torch's fused Adam kernel, so a population of one
computes bit for bit what the single agent computes, and members of larger
populations agree with their single agents to rounding.
"""

from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from agents.common import networks


class _BatchedLinear(torch.autograd.Function):
    """y[n] = x[n] @ W[n].T + b[n], with each member's gradients as F.linear's."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        if bias is None:
            return torch.bmm(x, weight.transpose(1, 2))
        return torch.baddbmm(bias[:, None, :], x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_weight = (torch.bmm(grad.transpose(1, 2), x)
                       if ctx.needs_input_grad[1] else None)
        grad_bias = grad.sum(1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


def batched_linear(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor]) -> torch.Tensor:
    """x (N, B, in), weight (N, out, in), bias (N, out) or None -> (N, B, out)."""
    return _BatchedLinear.apply(x, weight, bias)


# Layers without parameters that act elementwise: run on the stacked batch as is.
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Identity)
_SUPPORTED = (nn.Linear, nn.Conv2d, networks.Rescale, networks.OneHot,
              networks.ChannelsFirst, nn.Flatten, networks.DuelingHead,
              nn.MaxPool2d) + _ELEMENTWISE


def check_same_structure(networks: Sequence[nn.Module], what: str) -> None:
    """Refuses members whose networks differ in layers or parameter shapes."""
    shapes = [[(name, tuple(p.shape)) for name, p in net.named_parameters()]
              for net in networks]
    for k, member_shapes in enumerate(shapes[1:], 1):
        if member_shapes != shapes[0]:
            raise ValueError(f'{what} of member {k} has parameters {member_shapes}, '
                             f'member 0 has {shapes[0]}: a population stacks '
                             'networks of one shape')


class StackedNetwork:
    """N members' `nn.Sequential` networks of one shape, as stacked parameters.

    The population owns the stacked tensors (shape (N, ...), leaves when
    `trainable`); the members' own networks are written from them on
    request (`write_member`) and read back into them (`read_member`), in
    the order of `network.parameters()`. Supports the layers of gridlab's
    networks (`agents.common.networks`): Linear, Conv2d (one call per member),
    max-pooling, a dueling head, the input scaling or one-hot state indices,
    ReLU/Tanh, Flatten.
    `forward` takes (N, B, *input) and returns (N, B, *output).
    """

    def __init__(self, networks: Sequence[nn.Sequential], what: str = 'network',
                 trainable: bool = True):
        networks = list(networks)
        check_same_structure(networks, what)
        if not isinstance(networks[0], nn.Sequential):
            raise ValueError(f'{what}: a population stacks nn.Sequential networks, got '
                             f'{type(networks[0]).__name__}')
        # Nested Sequentials (a body and a head) run as one flat list of layers.
        members = [_layers(net) for net in networks]
        self.size = len(members)
        self._layers = members[0]
        for layer in self._layers:
            if not isinstance(layer, _SUPPORTED):
                raise ValueError(f'{what}: a population cannot stack a '
                                 f'{type(layer).__name__} layer (it stacks '
                                 f'{", ".join(t.__name__ for t in _SUPPORTED)})')
        # Per layer: {parameter name: the members' tensors stacked}.
        self._stacked: List[Dict[str, torch.Tensor]] = []
        for i, layer in enumerate(self._layers):
            stacked = {}
            for name, _ in layer.named_parameters():
                with torch.no_grad():
                    tensor = torch.stack([layers[i].get_parameter(name)
                                          for layers in members])
                stacked[name] = tensor.requires_grad_(trainable)
            self._stacked.append(stacked)

    def parameters(self) -> List[torch.Tensor]:
        """The stacked tensors, in the order of a member's `parameters()`."""
        return [t for layer in self._stacked for t in layer.values()]

    def forward(self, x: torch.Tensor, members: Optional[Sequence[int]] = None
                ) -> torch.Tensor:
        """x (N, B, ...) -> (N, B, ...), each member through its own network.

        With `members` (indices), x holds only their rows, (len(members), B,
        ...), and only their networks run: a learning step that falls due
        for a few members costs theirs, not the whole population's. Their
        gradients reach their rows of the stacked tensors; the others' are 0.
        `members` are in increasing order; all N of them run the whole stack.
        """
        stacked = self._stacked
        if members is not None and len(members) < self.size:
            index = torch.as_tensor(members, dtype=torch.int64, device=x.device)
            stacked = [{name: tensor.index_select(0, index) for name, tensor in layer.items()}
                       for layer in stacked]
        for layer, p in zip(self._layers, stacked):
            if isinstance(layer, nn.Linear):
                x = batched_linear(x, p['weight'], p.get('bias'))
            elif isinstance(layer, networks.DuelingHead):
                value = batched_linear(x, p['value.weight'], p['value.bias'])
                advantage = batched_linear(x, p['advantage.weight'], p['advantage.bias'])
                x = value + advantage - advantage.mean(dim=-1, keepdim=True)
            elif isinstance(layer, nn.Conv2d):
                x = _member_convs(layer, x, p['weight'], p.get('bias'))
            elif isinstance(layer, networks.ChannelsFirst):
                x = x.permute(0, 1, 4, 2, 3).contiguous()
            elif isinstance(layer, nn.MaxPool2d):  # Pools each image: members alike.
                x = layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
            elif isinstance(layer, nn.Flatten):
                x = x.flatten(2)
            elif isinstance(layer, networks.OneHot):  # (N, B) state indices.
                x = nn.functional.one_hot(x.reshape(x.shape[:2]).long(),
                                          layer.num_values).float()
            else:  # Elementwise, or the input scaling (the same for every member).
                x = layer(x)
        return x

    __call__ = forward

    def copy_from(self, other: 'StackedNetwork', members=None) -> None:
        """Sets these tensors to `other`'s (for `members` only, if given)."""
        with torch.no_grad():
            for mine, theirs in zip(self.parameters(), other.parameters()):
                if members is None:
                    mine.copy_(theirs)
                else:
                    mine[members] = theirs[members]

    def write_member(self, m: int, network: nn.Module) -> None:
        """Member m's parameters into `network` (the member's own)."""
        with torch.no_grad():
            for own, stacked in zip(network.parameters(), self.parameters()):
                own.copy_(stacked[m])

    def read_member(self, m: int, network: nn.Module) -> None:
        """`network`'s parameters (member m's own) into the stack."""
        with torch.no_grad():
            for own, stacked in zip(network.parameters(), self.parameters()):
                stacked[m].copy_(own)


def _layers(network: nn.Module) -> List[nn.Module]:
    """The layers of a Sequential, nested Sequentials opened, in order."""
    if not isinstance(network, nn.Sequential):
        return [network]
    return [leaf for module in network for leaf in _layers(module)]


def _member_convs(layer: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor,
                  bias: Optional[torch.Tensor]) -> torch.Tensor:
    """Each member's convolution, (N, B, C, H, W) in and out: one call per
    member (measured on CPU: faster than one grouped convolution, which
    also rounds otherwise than a single network's), each exactly the single
    network's own."""
    return torch.stack([nn.functional.conv2d(
        x[m], weight[m], bias[m] if bias is not None else None, layer.stride,
        layer.padding, layer.dilation) for m in range(x.shape[0])])


def clip_grad_norms_(parameters: Sequence[torch.Tensor], max_norm: float) -> None:
    """`nn.utils.clip_grad_norm_` on each member's own gradients, at once.

    `parameters` are stacked (N, ...) tensors with gradients. Member m's
    norm is that of its own slices only (the norm of the per-tensor norms,
    as torch takes it), and its gradients are scaled by its own
    min(1, max_norm / (norm + 1e-6)): the same figures torch computes for
    one member alone (bit for bit, checked in tests/test_population.py).
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    n = grads[0].shape[0]
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(n, -1), 2., dim=1)
                         for g in grads])
    total = torch.linalg.vector_norm(norms, 2., dim=0)
    coefficient = torch.clamp(float(max_norm) / (total + 1e-6), max=1.)
    for g in grads:
        g.mul_(coefficient.reshape((n,) + (1,) * (g.dim() - 1)))


class StackedAdam:
    """N members' Adams on stacked parameters, each with its own step count.

    torch's fused Adam kernel (the single agents' optimizer), given each
    member's moments and step count: Adam is elementwise, so this is
    exactly N separate Adams. A step can leave members out (`active`):
    those take no step at all, as a member with no minibatch left would not.
    """

    def __init__(self, parameters: Sequence[torch.Tensor], optimizer: torch.optim.Adam):
        settings = optimizer.defaults
        if settings.get('amsgrad') or settings.get('maximize') or settings.get(
                'decoupled_weight_decay'):
            raise ValueError('StackedAdam implements Adam without amsgrad, maximize '
                             f'or decoupled weight decay; the members use {settings}')
        self.parameters = list(parameters)
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format)
                         for p in self.parameters]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format)
                            for p in self.parameters]
        n = self.parameters[0].shape[0]
        # Float32, as Adam keeps its 'step', where the parameters are (the
        # fused kernel reads the counts there).
        self.steps = torch.zeros(n, device=self.parameters[0].device)
        self.beta1, self.beta2 = (float(b) for b in settings['betas'])
        self.eps, self.weight_decay = float(settings['eps']), float(settings['weight_decay'])

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = None

    def step(self, lr: float, active: Optional[Sequence[int]] = None) -> None:
        """One Adam step with step size `lr` for the `active` members (all if None)."""
        n = len(self.steps)
        grads = [p.grad for p in self.parameters]
        if active is None or len(active) == n:
            self.steps += 1
            if bool((self.steps == self.steps[0]).all()):
                # Everyone at the same count: whole stacked tensors, one count.
                self._fused(self.parameters, grads, self.exp_avgs, self.exp_avg_sqs,
                            [self.steps[0]] * len(grads), lr)
                return
            active = range(n)
        else:
            self.steps[list(active)] += 1
        pick = lambda tensors: [t[m] for m in active for t in tensors]  # noqa: E731
        self._fused(pick(self.parameters), pick(grads), pick(self.exp_avgs),
                    pick(self.exp_avg_sqs),
                    [self.steps[m] for m in active for _ in grads], lr)

    def _fused(self, params, grads, exp_avgs, exp_avg_sqs, steps, lr: float) -> None:
        with torch.no_grad():
            torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps,
                               amsgrad=False, lr=float(lr), beta1=self.beta1,
                               beta2=self.beta2, weight_decay=self.weight_decay,
                               eps=self.eps, maximize=False, grad_scale=None,
                               found_inf=None)

    def write_member(self, m: int, own: Sequence[torch.Tensor],
                     optimizer: torch.optim.Optimizer) -> None:
        """Member m's moments and step count into its own `optimizer`,
        whose parameters are `own` (in the stack's order)."""
        optimizer.state.clear()
        if float(self.steps[m]) == 0:
            return  # No step taken: Adam keeps no state yet.
        for p, exp_avg, exp_avg_sq in zip(own, self.exp_avgs, self.exp_avg_sqs):
            optimizer.state[p] = {'step': self.steps[m].clone(),
                                  'exp_avg': exp_avg[m].clone(),
                                  'exp_avg_sq': exp_avg_sq[m].clone()}

    def read_member(self, m: int, own: Sequence[torch.Tensor],
                    optimizer: torch.optim.Optimizer) -> None:
        """Member m's moments and step count from its own `optimizer`."""
        with torch.no_grad():
            steps = set()
            for p, exp_avg, exp_avg_sq in zip(own, self.exp_avgs, self.exp_avg_sqs):
                state = optimizer.state.get(p) or {}
                exp_avg[m].copy_(state['exp_avg'] if state else torch.zeros_like(p))
                exp_avg_sq[m].copy_(state['exp_avg_sq'] if state else torch.zeros_like(p))
                steps.add(float(state['step']) if state else 0.)
            if len(steps) != 1:
                raise ValueError(f'member {m}\'s optimizer holds different step counts '
                                 f'for its parameters ({sorted(steps)}); a member\'s '
                                 'parameters step together')
            self.steps[m] = steps.pop()


class StackedSGD:
    """N members' plain gradient descent (torch's SGD without momentum) on
    stacked parameters: p -= lr * g, for the `active` members only."""

    def __init__(self, parameters: Sequence[torch.Tensor], optimizer: torch.optim.SGD):
        settings = optimizer.defaults
        if settings.get('momentum') or settings.get('weight_decay') or settings.get(
                'maximize') or settings.get('nesterov'):
            raise ValueError('StackedSGD implements SGD without momentum, weight decay '
                             f'or maximize; the members use {settings}')
        self.parameters = list(parameters)

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = None

    def step(self, lr: float, active: Optional[Sequence[int]] = None) -> None:
        with torch.no_grad():
            if active is None or len(active) == len(self.parameters[0]):
                torch._foreach_add_(self.parameters, [p.grad for p in self.parameters],
                                    alpha=-float(lr))
                return
            for m in active:
                torch._foreach_add_([p[m] for p in self.parameters],
                                    [p.grad[m] for p in self.parameters], alpha=-float(lr))

    def write_member(self, m: int, own, optimizer) -> None:
        """Plain SGD keeps no state."""

    def read_member(self, m: int, own, optimizer) -> None:
        """Plain SGD keeps no state."""


def stacked_optimizer(parameters: Sequence[torch.Tensor], optimizer):
    """The stacked counterpart of a member's own optimizer (Adam or plain SGD)."""
    if isinstance(optimizer, torch.optim.Adam):
        return StackedAdam(parameters, optimizer)
    if isinstance(optimizer, torch.optim.SGD):
        return StackedSGD(parameters, optimizer)
    raise ValueError(f'a population stacks members that learn with Adam or plain SGD, '
                     f'not {type(optimizer).__name__}')
