"""The only code that talks to providers over the network: one shared keep-alive client.

Transport failures become `AttemptError`s here and nowhere else, so the relay reasons about
failure kinds, never about the HTTP client's exceptions. A response that is abandoned mid-body
is closed, not released, so a half-read connection never goes back into the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from crossroads import __version__
from crossroads.failures import AttemptError, Failure
from crossroads.http_client import (
    BodyTooLarge,
    DeadlinePassed,
    HeadersTimeout,
    HttpClient,
    HttpError,
    HttpResponse,
    WhileWaiting,
)
from crossroads.providers.base import UpstreamRequest
from crossroads.settings import TimeoutConfig

__all__ = ["DeadlinePassed", "Upstream", "UpstreamResponse"]

MAX_ERROR_BODY = 64 * 1024
KEEPALIVE_S = 60.0


class UpstreamResponse:
    """A response whose headers have arrived; the body is read through it."""

    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: HttpResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self, limit: int, deadline: float | None = None) -> bytes:
        """The whole body, refusing more than `limit` bytes; `DeadlinePassed` if it is not
        complete by the loop-time `deadline`."""
        try:
            return await self._response.read(limit, deadline)
        except BodyTooLarge:
            raise AttemptError(Failure.TOO_LARGE,
                               f"the provider's response exceeded {limit} bytes") from None
        except HttpError as exc:
            raise AttemptError(Failure.CUT, f"the provider cut the response: {exc}") from None

    async def next_chunk(self, deadline: float | None = None,
                         while_waiting: WhileWaiting | None = None) -> bytes:
        """Whatever bytes are available next; b"" at a clean end of body; `DeadlinePassed` if
        nothing arrived by the loop-time `deadline`; `while_waiting` fired when due meanwhile."""
        try:
            return await self._response.next_chunk(deadline, while_waiting)
        except HttpError as exc:
            raise AttemptError(Failure.CUT, f"the provider cut the stream: {exc}") from None

    def close(self) -> None:
        self._response.close()

    def release(self) -> None:
        self._response.release()


class Upstream:
    """Owns the shared HTTP client; created and closed by the app's lifespan."""

    def __init__(self, timeouts: TimeoutConfig) -> None:
        self._timeouts = timeouts
        self._client: HttpClient | None = None

    async def start(self) -> None:
        self._client = HttpClient(
            connect_timeout_s=self._timeouts.connect_s,
            keepalive_s=KEEPALIVE_S,
            user_agent=f"crossroads/{__version__}",
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, request: UpstreamRequest, headers_timeout_s: float,
                   timeout_message: str | None = None,
                   while_waiting: WhileWaiting | None = None) -> UpstreamResponse:
        """POST and wait for the response headers (bounded by `headers_timeout_s`), firing
        `while_waiting` whenever it falls due meanwhile."""
        assert self._client is not None, "Upstream.start() was not awaited"
        try:
            response = await self._client.post(request.url, request.headers, request.body,
                                               headers_timeout_s, while_waiting)
        except HeadersTimeout:
            raise AttemptError(
                Failure.HEADERS_TIMEOUT,
                timeout_message or f"no response headers within {headers_timeout_s:g} s",
            ) from None
        except HttpError as exc:
            raise AttemptError(Failure.CONNECT, str(exc)) from None
        return UpstreamResponse(response)

    async def error_body(self, response: UpstreamResponse, timeout_s: float) -> bytes:
        """Read a bounded error body; an unreadable one is just empty."""
        try:
            async with asyncio.timeout(timeout_s):
                return await response.read(MAX_ERROR_BODY)
        except (AttemptError, TimeoutError):
            return b""
        finally:
            response.close()
