"""CORS for browsers calling the API directly: preflights answered, origins from the config.

Allowed origins are `[server] cors_origins` (a list; `"*"` allows any), by default `*` in open
mode (a loopback router for one person) and none in keys mode (a page on another origin would
hold an API key: the operator must opt in). Only requests that carry an `Origin` header pay for
any of this.
"""

from __future__ import annotations

from crossroads.api.http import Headers, Send

ALLOW_HEADERS = (b"authorization, content-type, http-referer, x-title, x-openrouter-title, "
                 b"x-openrouter-categories, x-session-id, x-api-key, anthropic-version")
EXPOSE_HEADERS = (b"x-generation-id, x-crossroads-overhead-ms, x-crossroads-simulated, "
                  b"retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset")
MAX_AGE = b"600"


class Cors:
    __slots__ = ("_any", "_origins")

    def __init__(self, origins: list[str]) -> None:
        self._any = "*" in origins
        self._origins = frozenset(o.rstrip("/") for o in origins if o != "*")

    @property
    def enabled(self) -> bool:
        return self._any or bool(self._origins)

    def allowed(self, origin: str) -> bytes | None:
        """The Access-Control-Allow-Origin value for this origin, or None: not allowed."""
        if self._any:
            return b"*"
        return origin.encode("latin-1") if origin.rstrip("/") in self._origins else None

    async def preflight(self, send: Send, origin: str | None, methods: list[str]) -> None:
        """204 to an OPTIONS request; the CORS headers only for an allowed origin."""
        headers: Headers = [(b"allow", ", ".join(["OPTIONS", *methods]).encode()),
                            (b"content-length", b"0")]
        allow = None if origin is None else self.allowed(origin)
        if allow is not None:
            headers += [
                (b"access-control-allow-origin", allow),
                (b"access-control-allow-methods", ", ".join(methods).encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS),
                (b"access-control-max-age", MAX_AGE),
                (b"vary", b"origin"),
            ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def wrap(self, send: Send, origin: str) -> Send:
        """`send` with the CORS headers added to the response start, for an allowed origin."""
        allow = self.allowed(origin)
        if allow is None:
            return send
        extra = [(b"access-control-allow-origin", allow),
                 (b"access-control-expose-headers", EXPOSE_HEADERS), (b"vary", b"origin")]

        async def cors_send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], *extra]}  # type: ignore[misc]
            await send(message)

        return cors_send  # type: ignore[return-value]
