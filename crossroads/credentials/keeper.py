"""The one background task that keeps minted credentials fresh.

It sleeps until the earliest `refresh_due` of any credential, refreshes every one that is due
(each in a worker thread, inside the credential), and sleeps again. Started with the app, which
first waits (briefly) for the initial tokens so the first requests find their endpoints ready;
stopped on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from crossroads.credentials import Credential
from crossroads.credentials.registry import CredentialSet
from crossroads.shutdown import cancel_and_wait

log = logging.getLogger("crossroads")

# The longest nap: a credential whose schedule changed (a failure's backoff) is looked at again
# within this long even if nothing woke the keeper.
MAX_NAP_S = 30.0
# How long the app's start waits for the first tokens before serving without them.
FIRST_WAIT_S = 10.0
# The shortest nap: a credential that stays due after a refresh (it failed and asks again at
# once) must not spin the loop.
MIN_NAP_S = 0.05


class CredentialKeeper:
    __slots__ = ("_credentials", "_task")

    def __init__(self, credentials: CredentialSet) -> None:
        self._credentials = credentials.minted()
        self._task: asyncio.Task[None] | None = None

    async def start(self, first_wait_s: float = FIRST_WAIT_S) -> None:
        if not self._credentials:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._refresh_due(), first_wait_s)
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="credential-keeper")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task], 1.0)
            self._task = None

    async def _refresh_due(self) -> float | None:
        """Refresh whatever is due; the time the next one will be."""
        now = asyncio.get_running_loop().time()
        due = [c for c in self._credentials if _due(c, now) <= now]
        if due:
            await asyncio.gather(*(_refresh(c) for c in due))
            now = asyncio.get_running_loop().time()
        return min((_due(c, now) for c in self._credentials), default=None)

    async def _run(self) -> None:
        while True:
            upcoming = await self._refresh_due()
            now = asyncio.get_running_loop().time()
            nap = MAX_NAP_S if upcoming is None else min(max(upcoming - now, MIN_NAP_S), MAX_NAP_S)
            await asyncio.sleep(nap)


def _due(credential: Credential, now: float) -> float:
    due = credential.refresh_due(now)
    return float("inf") if due is None else due


async def _refresh(credential: Credential) -> None:
    try:
        await credential.refresh()
    except Exception:
        # The contract says refresh never raises; one that does must not stop the keeper, and
        # its message may hold what it was sent, so only its type is logged.
        log.warning("credential refresh failed unexpectedly (%s)", type(credential).__name__)
