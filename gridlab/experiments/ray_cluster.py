"""Joining a Ray cluster (or starting one here) for sweeps and searches.

`gridlab sweep --backend ray` and `gridlab tune --backend ray` both come
through `connect`: one rule for what `--address` means and one line when the
cluster is not there (ray.init on its own waits minutes for a dead address).
"""

import logging
import os
import socket
from typing import Optional, Type

from gridlab.core.errors import ExperimentError


def connect(address: Optional[str], num_cpus: Optional[int], error: Type[Exception],
            extra: str = 'ray'):
    """Ray, initialised; returns (ray, started_here).

    With `address`, joins that cluster; without, starts one on this machine
    with `num_cpus` CPUs (all of them if None). A Ray the caller started is
    used as it is. Failures are `error`s of one line.
    """
    try:
        import ray
    except ImportError:
        raise error(f"the Ray backend needs Ray: pip install 'gridlab[{extra}]'") from None
    started_here = not ray.is_initialized()
    # ERROR: Ray's INFO and WARNING lines at start-up are not the user's business.
    options = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                   logging_level=logging.ERROR)
    if address:
        check_reachable(address, error)
        options['address'] = address
    else:
        options['num_cpus'] = num_cpus or os.cpu_count()
    try:
        ray.init(**options)
    except Exception as failure:  # Ray raises several types for "no cluster".
        message = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        raise error(f'cannot reach a Ray cluster at {address!r}: {message}') from None
    return ray, started_here


def check_reachable(address: str, error: Type[Exception] = ExperimentError,
                    timeout: float = 5.) -> None:
    """Raises `error` unless something listens at a Ray address 'host:port'."""
    if address == 'auto':
        return  # Ray finds the local cluster itself.
    target = address.split('://', 1)[-1]
    host, _, port = target.rpartition(':')
    try:
        with socket.create_connection((host or '127.0.0.1', int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as failure:
        reason = getattr(failure, 'strerror', None) or str(failure) or type(failure).__name__
        raise error(f'cannot reach a Ray cluster at {address!r}: {reason}') from None
