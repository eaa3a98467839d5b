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


def check_same_structure(networks: Sequence[nn.Module], what: str) -> None:
    """Refuses members whose networks differ in layers or parameter shapes."""
    shapes = [[(name, tuple(p.shape)) for name, p in net.named_parameters()]
              for net in networks]
    for k, member_shapes in enumerate(shapes[1:], 1):
        if member_shapes != shapes[0]:
            raise ValueError(f'{what} of member {k} has parameters {member_shapes}, '
                             f'member 0 has {shapes[0]}: a population stacks '
                             'networks of one shape')


class StackedMLP:
    """N members' `nn.Sequential` MLPs of one shape, as stacked parameters.

    The population owns the stacked tensors (leaves of shape (N, ...)); the
    members' own networks are written from them on request
    (`write_member`) and read back into them (`read_member`), in the order
    of `network.parameters()`. Supports what gridlab's MLPs hold: Linear
    layers (with or without a bias) and elementwise activations.
    """

    def __init__(self, networks: Sequence[nn.Sequential], what: str = 'network'):
        networks = list(networks)
        check_same_structure(networks, what)
        self._layers = list(networks[0])
        for layer in self._layers:
            if not isinstance(layer, (nn.Linear,) + _ELEMENTWISE):
                raise ValueError(f'{what}: a population stacks Linear layers and '
                                 f'ReLU/Tanh activations; got {type(layer).__name__}')
        # Per layer: the stacked weight and bias (None for activations).
        self._stacked: List[Optional[Dict[str, Optional[torch.Tensor]]]] = []
        for i, layer in enumerate(self._layers):
            if not isinstance(layer, nn.Linear):
                self._stacked.append(None)
                continue
            with torch.no_grad():
                weight = torch.stack([net[i].weight for net in networks])
                bias = (torch.stack([net[i].bias for net in networks])
                        if layer.bias is not None else None)
            self._stacked.append({'weight': weight.requires_grad_(),
                                  'bias': bias.requires_grad_() if bias is not None
                                  else None})

    def parameters(self) -> List[torch.Tensor]:
        """The stacked leaves, in the order of a member's `parameters()`."""
        return [t for layer in self._stacked if layer is not None
                for t in (layer['weight'], layer['bias']) if t is not None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, B, in) -> (N, B, out), each member through its own network."""
        for layer, stacked in zip(self._layers, self._stacked):
            x = layer(x) if stacked is None else batched_linear(
                x, stacked['weight'], stacked['bias'])
        return x

    __call__ = forward

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
        self.steps = torch.zeros(n)  # Float32, as Adam keeps its 'step'.
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
