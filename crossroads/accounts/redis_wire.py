"""Lua scripts run on Redis the cheap way: packed by hiredis, on one pooled connection.

The shared account (shared.py) runs a script on the request path (ADMIT, once per request of
a limited key) and another after it (SETTLE). Through redis-py's command layer (`Script`,
`execute_command`, its retry wrapper and argument encoder) one call cost ~85 µs of router CPU
on this project's test machine; packed by hiredis and written to a pooled connection directly,
~50 µs, of which the socket round trip itself is ~25 µs. Settles are not on anyone's path, so
`run_many` sends every settle waiting at that moment in one write and reads the replies in
order: one round trip for a batch.

A Redis that lost its scripts (restarted) answers NOSCRIPT, which means that script did not
run: it is loaded and the same call (or just the calls that got NOSCRIPT) made again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError


class ScriptWire:
    """One Lua script of `client`, by its SHA."""

    __slots__ = ("_client", "_script", "sha")

    def __init__(self, client: aioredis.Redis, script: str) -> None:
        self._client = client
        self._script = script
        self.sha = client.register_script(script).sha

    def _pack(self, keys: int, keys_and_args: Sequence[object]) -> bytes:
        command = ("EVALSHA", self.sha, keys, *keys_and_args)
        return bytes(hiredis.pack_command(command))  # type: ignore[arg-type]

    async def run(self, keys: int, keys_and_args: Sequence[object]) -> Any:
        """One call: its reply, or the error Redis or the connection raised."""
        (reply,) = await self._exchange(self._pack(keys, keys_and_args), 1)
        if isinstance(reply, NoScriptError):
            await self._client.script_load(self._script)
            (reply,) = await self._exchange(self._pack(keys, keys_and_args), 1)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def run_many(self, keys: int, calls: Sequence[Sequence[object]]) -> None:
        """Every call in one write, the replies read in order. Raises when the connection
        fails, and then any of the calls may or may not have run."""
        replies = await self._exchange(b"".join(self._pack(keys, c) for c in calls), len(calls))
        missing = [c for c, r in zip(calls, replies, strict=True) if isinstance(r, NoScriptError)]
        if missing:
            await self._client.script_load(self._script)
            await self.run_many(keys, missing)

    async def _exchange(self, packed: bytes, replies: int) -> list[Any]:
        """Write `packed`, read `replies` replies; an error reply comes back as its exception."""
        pool = self._client.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_packed_command(packed, check_health=False)
            out: list[Any] = []
            for _ in range(replies):
                try:
                    out.append(await connection.read_response())
                except NoScriptError as error:
                    out.append(error)
            return out
        except BaseException:
            # A half-read exchange must not leave replies for the connection's next user.
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)
