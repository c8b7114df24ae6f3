"""A simulator started by the router dies with it.

A sim that outlives its router keeps its port and its memory, and nothing will ever stop it:
each restart of `crossroads serve` in demo mode would leak one more. A graceful router stops
its sim itself (cli.py), but a router killed by SIGKILL, the OOM killer or a crash runs no code
at all, so the child has to notice on its own. Two mechanisms, because neither suffices alone:

- Linux's parent-death signal (`prctl(PR_SET_PDEATHSIG)`): the kernel sends SIGTERM the moment
  the parent goes, however it goes. The child can arm it only after it started, so a parent
  that died in between would never trigger it; hence the check, right after arming, that our
  parent is still the pid we were given (an orphan is re-parented to init or a subreaper).
  The signal follows the *thread* that forked us, so the router starts the sim from its main
  thread, which lives exactly as long as the process.
- Watching `getppid()` from the event loop: portable to every POSIX system, and a safety net
  where prctl is unavailable (other kernels, seccomp), at the cost of up to one interval.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from typing import Final

__all__ = ["POLL_INTERVAL_S", "arm_parent_death_signal", "parent_gone", "tie_to_parent"]

PR_SET_PDEATHSIG: Final = 1  # from <linux/prctl.h>
POLL_INTERVAL_S: Final = 0.25


def arm_parent_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send `signum` to this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong)
    prctl.restype = ctypes.c_int
    return int(prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0


def tie_to_parent(parent_pid: int) -> bool:
    """Arm the parent-death signal; False if `parent_pid` is already no longer our parent."""
    arm_parent_death_signal()
    # Only now is the check race-free: a parent dying after it is covered by the signal.
    return os.getppid() == parent_pid


async def parent_gone(parent_pid: int, interval_s: float = POLL_INTERVAL_S) -> None:
    """Return once `parent_pid` is no longer this process's parent (it died or let us go)."""
    # Polling, because nothing else tells a process that its parent is gone: the kernel's only
    # notice is the prctl signal, which is exactly what this stands in for.
    while os.getppid() == parent_pid:  # noqa: ASYNC110
        await asyncio.sleep(interval_s)
