"""The process table as /proc shows it: who is whose child, who is still alive, who is ours.

A process is identified by (pid, start time): a pid alone can be reused by an unrelated process
once the first one is gone. A zombie counts as gone: it has released its port and memory and
only waits for a parent (perhaps a container's init that never reaps) to collect its status.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

PROC = Path("/proc")


class Proc(NamedTuple):
    pid: int
    start_ticks: int  # field 22 of /proc/PID/stat: unique together with the pid

    @classmethod
    def of(cls, pid: int) -> Proc:
        return cls(pid, int(_stat(pid)[19]))

    def alive(self) -> bool:
        try:
            fields = _stat(self.pid)
        except (FileNotFoundError, ProcessLookupError):
            return False
        return int(fields[19]) == self.start_ticks and fields[0] != "Z"

    def cmdline(self) -> str:
        try:
            raw = (PROC / str(self.pid) / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return ""
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (which may contain spaces): [state, …]."""
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2:].split()


def children(pid: int) -> list[Proc]:
    found = []
    for task in (PROC / str(pid) / "task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                found.append(Proc.of(int(child)))
            except (FileNotFoundError, ProcessLookupError):
                continue  # exited between the two reads
    return found


def carrying(name: str, value: str) -> list[Proc]:
    """Live processes (other than this one) whose environment has name=value.

    An environment variable is inherited by every descendant and kept by orphans, so this finds
    a test's processes even after their parent died and they were re-parented to init.
    """
    needle = f"{name}={value}".encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            proc = Proc.of(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if proc.alive():
            found.append(proc)
    return found
