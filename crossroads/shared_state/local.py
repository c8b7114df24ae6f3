"""The default: one process, nothing shared, live stats only in its own memory."""

from __future__ import annotations

from crossroads.shared_state import SharedStatus

_STATUS = SharedStatus("memory", healthy=True)


class LocalState:
    __slots__ = ()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def healthy(self) -> bool:
        return True

    def status(self) -> SharedStatus:
        return _STATUS
