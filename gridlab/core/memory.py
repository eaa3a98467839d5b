"""How much memory there is: available to a new allocation, and this process's own."""

import os
from typing import Dict, Optional


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new allocation (Linux's MemAvailable;
    else the physical memory), or None where neither can be read."""
    try:
        with open('/proc/meminfo') as meminfo:
            for line in meminfo:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    except (AttributeError, ValueError, OSError):
        return None


def resident_bytes() -> Dict[str, int]:
    """This process's resident memory now ('current') and at its peak ('peak'),
    from /proc/self/status (Linux); elsewhere the peak from `resource` for both."""
    try:
        with open('/proc/self/status', encoding='ascii') as status:
            fields = dict(line.split(':', 1) for line in status if ':' in line)
        return {'current': int(fields['VmRSS'].split()[0]) * 1024,
                'peak': int(fields['VmHWM'].split()[0]) * 1024}
    except (OSError, KeyError, ValueError):
        import resource
        import sys
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak *= 1 if sys.platform == 'darwin' else 1024  # Bytes on macOS, KiB elsewhere.
        return {'current': peak, 'peak': peak}
