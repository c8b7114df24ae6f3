"""The only code that talks to providers over the network: one shared keep-alive client.

Transport failures become `AttemptError`s here and nowhere else, so the relay reasons about
failure kinds, never about aiohttp's exception zoo. A response that is abandoned mid-body is
closed, not released, so a half-read connection never goes back into the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp

from crossroads import __version__
from crossroads.failures import AttemptError, Failure
from crossroads.providers.base import UpstreamRequest
from crossroads.settings import TimeoutConfig

MAX_ERROR_BODY = 64 * 1024


class UpstreamResponse:
    """A response whose headers have arrived; the body is read through it."""

    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self, limit: int) -> bytes:
        """The whole body, refusing more than `limit` bytes."""
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := await self._response.content.read(65536):
                size += len(chunk)
                if size > limit:
                    raise AttemptError(Failure.TOO_LARGE,
                                       f"the provider's response exceeded {limit} bytes")
                chunks.append(chunk)
        except aiohttp.ClientPayloadError:
            raise AttemptError(Failure.CUT, "the provider closed the connection mid-body") \
                from None
        except aiohttp.ClientError as exc:
            raise AttemptError(Failure.CUT, f"reading the response failed: {type(exc).__name__}") \
                from None
        return b"".join(chunks)

    async def next_chunk(self) -> bytes:
        """Whatever bytes are available next; b"" at a clean end of body."""
        try:
            return await self._response.content.readany()
        except aiohttp.ClientPayloadError:
            raise AttemptError(Failure.CUT, "the provider cut the stream") from None
        except aiohttp.ClientError as exc:
            raise AttemptError(Failure.CUT, f"the stream broke: {type(exc).__name__}") from None

    def close(self) -> None:
        self._response.close()

    def release(self) -> None:
        self._response.release()


class Upstream:
    """Owns the shared aiohttp session; created and closed by the app's lifespan."""

    def __init__(self, timeouts: TimeoutConfig) -> None:
        self._timeouts = timeouts
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=0,
            keepalive_timeout=60,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeouts.connect_s),
            headers={"user-agent": f"crossroads/{__version__}"},
            skip_auto_headers=("content-type",),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: UpstreamRequest, headers_timeout_s: float) -> UpstreamResponse:
        """POST and wait for the response headers (bounded by `headers_timeout_s`)."""
        assert self._session is not None, "Upstream.start() was not awaited"
        try:
            async with asyncio.timeout(headers_timeout_s):
                response = await self._session.post(
                    request.url, data=request.body, headers=request.headers,
                    allow_redirects=False,
                )
        except TimeoutError:
            raise AttemptError(Failure.HEADERS_TIMEOUT,
                               f"no response headers within {headers_timeout_s:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            raise AttemptError(Failure.CONNECT,
                               f"could not connect: {exc.os_error.strerror or 'refused'}") \
                from None
        except aiohttp.ServerDisconnectedError:
            raise AttemptError(Failure.CONNECT,
                               "the provider closed the connection before answering") from None
        except aiohttp.ClientError as exc:
            raise AttemptError(Failure.CONNECT, f"request failed: {type(exc).__name__}") \
                from None
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
