"""Torch helpers: choosing a device, seeding, and checking observations."""

import contextlib
from typing import Optional

import numpy as np
import torch
from dm_env import specs


def resolve_device(device: Optional[str] = 'cpu') -> torch.device:
    """'cpu' (the default), 'cuda' if present, or 'auto' (cuda when present)."""
    if device is None or device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"unknown device {device!r}; expected 'cpu', 'cuda' or 'auto'") from None
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device {str(device)!r} was asked for, but torch sees no '
                         "CUDA GPU here; use device='cpu' or 'auto'")
    return device


@contextlib.contextmanager
def seeded(seed: Optional[int]):
    """Runs the block with torch's global RNG seeded, then restores the RNG.

    Networks built inside start from the same weights for the same seed,
    without changing the random stream of the code around them.
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def decay_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float,
                        steps: int, decay_steps: Optional[int]) -> float:
    """Sets every parameter group's step size to `learning_rate` fallen
    linearly to 0 over `decay_steps` environment steps, `steps` of them
    done, and returns it; with `decay_steps` None, leaves the optimiser be."""
    if not decay_steps:
        return learning_rate
    rate = learning_rate * max(0., 1. - steps / decay_steps)
    for group in optimizer.param_groups:
        group['lr'] = rate
    return rate


def standardized(advantages: torch.Tensor) -> torch.Tensor:
    """`advantages` scaled to mean 0 and standard deviation 1 (1e-8 added to
    the deviation); fewer than two are returned as they are, having no
    spread to scale by (their standard deviation is undefined: NaN)."""
    if advantages.numel() < 2:
        return advantages
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def check_observation(observation, spec: specs.Array) -> np.ndarray:
    """Returns `observation` as an array, or raises naming what was expected."""
    array = np.asarray(observation)
    if array.shape != spec.shape:
        raise ValueError(
            f'observation has shape {array.shape}, expected {spec.shape} '
            f'(the environment spec {spec.name!r})')
    if array.dtype.kind not in 'biuf':
        raise ValueError(
            f'observation has dtype {array.dtype}, expected numbers like {spec.dtype}')
    num_values = getattr(spec, 'num_values', None)
    if num_values is not None and (array.dtype.kind not in 'iu'
                                   or not 0 <= int(array) < num_values):
        # A state index feeds a one-hot row and a visit count: numpy would
        # wrap -1 to the last state and truncate 3.7 to 3 without a word.
        raise ValueError(f'observation {array.item()!r} is not a state index: expected an '
                         f'integer in [0, {num_values}) (the environment spec '
                         f'{spec.name!r})')
    return array


def clip_grad_norm_(parameters, max_norm: float) -> None:
    """`torch.nn.utils.clip_grad_norm_` with the same arithmetic (so the
    same bits) for parameters on one device with one dtype, which every
    gridlab network has; torch's groups the tensors by device and dtype on
    every call, a tenth of a small network's learning step. Others go to
    torch's."""
    parameters = list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    first = grads[0]
    if any(g.device != first.device or g.dtype != first.dtype for g in grads):
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)
        return
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.)), 2.)
    torch._foreach_mul_(grads, torch.clamp(float(max_norm) / (total + 1e-6), max=1.0))
