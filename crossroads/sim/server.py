"""Serving a simulated fleet: one listening socket, every endpoint under a path prefix.

    POST /PREFIX/v1/chat/completions    the provider surface (see chat.py)
    POST /PREFIX/v1/embeddings          for embedding models (see embeddings.py)
    GET  /PREFIX/v1/models
    POST /PREFIX/anthropic/v1/messages  the same endpoints in Anthropic's dialect (anthropic.py)
    POST /PREFIX/bedrock/model/{modelId}/converse[-stream]
                                        and in Bedrock's Converse dialect, SigV4-signed
                                        (bedrock.py)
    POST /PREFIX/gemini/v1beta/models/M:generateContent (and Vertex AI's paths under
         /PREFIX/vertex/v1/projects/…)  the same endpoints in Gemini's dialect (gemini.py)
    POST /_oauth/google/token           Google's OAuth token endpoint (google_auth.py)
    *    /_sim/...                      the control API (see control.py)

PREFIX is a stand-in endpoint's own name, or a provider shared by its endpoints, which are told
apart by the request's `model` (an unknown one gets the 404 real providers give).

`run_sim` is the blocking entry point behind `crossroads sim`; `start_sim` runs the same server
inside an already running loop, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import Callable
from typing import Any, Final

import orjson
import uvloop

from crossroads.sim.anthropic import AnthropicService
from crossroads.sim.bedrock import BedrockService
from crossroads.sim.bedrock import route as bedrock_route
from crossroads.sim.chat import ChatService, Pending
from crossroads.sim.control import Control
from crossroads.sim.embeddings import EmbeddingsService
from crossroads.sim.endpoint import EndpointState, SimState
from crossroads.sim.gemini import GEMINI_ROUTE, VERTEX_CHAT_ROUTE, GeminiService
from crossroads.sim.google_auth import TOKEN_PATH, google_error
from crossroads.sim.lifeline import parent_gone
from crossroads.sim.profile import SimFleet
from crossroads.sim.wire import Exchange, HttpConnection, error_body

__all__ = ["SimApp", "SimServer", "run_sim", "start_sim"]

_CHAT: Final = "v1/chat/completions"
_EMBEDDINGS: Final = "v1/embeddings"
_MODELS: Final = "v1/models"
_MESSAGES: Final = "anthropic/v1/messages"
_METHODS: Final[dict[str, bytes]] = {_CHAT: b"POST", _EMBEDDINGS: b"POST", _MODELS: b"GET",
                                     _MESSAGES: b"POST"}

# Answers one request at one endpoint; the third argument is the body when already decoded.
Serve = Callable[[EndpointState, Exchange, Any], Pending]


class _Prefix:
    """The endpoints served under one URL prefix: a provider's models, or one stand-in."""

    __slots__ = ("by_model", "endpoints", "stand_in")

    def __init__(self, endpoints: list[EndpointState]) -> None:
        self.endpoints = endpoints
        self.by_model = {ep.profile.model: ep for ep in endpoints}
        only = endpoints[0]
        self.stand_in = only if only.profile.provider is None else None


def _prefixes(state: SimState) -> dict[str, _Prefix]:
    grouped: dict[str, list[EndpointState]] = {}
    for ep in state.endpoints.values():
        grouped.setdefault(ep.profile.provider or ep.name, []).append(ep)
    return {prefix: _Prefix(eps) for prefix, eps in grouped.items()}


class SimApp:
    """The request handler: picks the prefix by the first path segment, then the route, then
    (at a provider) the endpoint by the request's `model`."""

    __slots__ = ("_anthropic", "_bedrock", "_chat", "_control", "_embeddings", "_gemini",
                 "_prefixes", "state")

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._chat = ChatService(state)
        self._embeddings = EmbeddingsService(state, self._chat)
        self._anthropic = AnthropicService(state, self._chat)
        self._bedrock = BedrockService(state, self._chat)
        self._gemini = GeminiService(state, self._chat)
        self._control = Control(state)
        self._prefixes = _prefixes(state)

    def __call__(self, ex: Exchange) -> asyncio.Task[None] | None:
        path = ex.path
        if path.startswith("/_sim/"):
            self._control.handle(ex)
            return None
        if path == TOKEN_PATH:
            self.state.google.token(ex)
            return None
        name, _, rest = path[1:].partition("/")
        prefix = self._prefixes.get(name)
        if prefix is None:
            message = f"no simulated endpoint named {name!r}"
            ex.send(404, error_body(message, "invalid_request_error", "not_found"))
            return None
        rest = rest.rstrip("/")
        converse = bedrock_route(rest)
        if converse is not None and ex.method == b"POST":
            return self._converse(prefix, ex, *converse)
        if rest.startswith(("gemini/", "vertex/")):
            return self._google(prefix, ex, rest)
        method = _METHODS.get(rest)
        if method is None:
            ex.send(404, error_body(f"no route {path!r}", "invalid_request_error", "not_found"))
            return None
        if ex.method != method:
            message = f"{ex.method.decode()} not allowed on {path!r}"
            ex.send(405, error_body(message, "invalid_request_error"))
            return None
        if rest == _MODELS:
            return self._chat.models(prefix.endpoints, ex)
        if rest == _MESSAGES:
            return self._messages(prefix, ex)
        if rest == _EMBEDDINGS:
            if prefix.stand_in is not None:
                return self._embeddings.embed(prefix.stand_in, ex)
            return self._by_model(prefix, ex, self._embeddings.embed)
        if prefix.stand_in is not None:
            return self._chat.completions(prefix.stand_in, ex)
        return self._by_model(prefix, ex, self._chat.completions)

    def _google(self, prefix: _Prefix, ex: Exchange, rest: str) -> Pending:
        """Gemini's and Vertex AI's surfaces (gemini.py); the model is in the path, or (on
        Vertex's OpenAI-compatible surface) in the body."""
        if ex.method != b"POST":
            ex.send(405, google_error(405, "INVALID_ARGUMENT", f"{ex.method.decode()} not "
                                      f"allowed on {ex.path!r}"))
            return None
        if VERTEX_CHAT_ROUTE.match(rest):
            if prefix.stand_in is not None:
                return self._gemini.vertex_chat(prefix.stand_in, ex)
            return self._by_model(prefix, ex,
                                  lambda ep, ex, _body: self._gemini.vertex_chat(ep, ex))
        route = GEMINI_ROUTE.match(rest)
        if route is None:
            ex.send(404, google_error(404, "NOT_FOUND", f"no route {ex.path!r}"))
            return None
        model, method = route.group("model"), route.group("method")
        ep = prefix.stand_in or prefix.by_model.get(model)
        if ep is None:
            ex.send(404, google_error(404, "NOT_FOUND", f"Publisher Model `{model}` was not "
                                      "found or your project does not have access to it."))
            return None
        return self._gemini.generate(ep, ex, model, method, rest.startswith("vertex/"))

    def _messages(self, prefix: _Prefix, ex: Exchange) -> Pending:
        if prefix.stand_in is not None:
            return self._anthropic.messages(prefix.stand_in, ex)
        model = self._anthropic.model_of(ex)
        ep = prefix.by_model.get(model) if isinstance(model, str) else None
        if ep is None:
            return self._anthropic.not_found(ex, model)
        return self._anthropic.messages(ep, ex)

    def _converse(self, prefix: _Prefix, ex: Exchange, model: str, stream: bool) -> Pending:
        # AWS checks the signature before it looks at the model or the body.
        if not self._bedrock.authorized(ex):
            return None
        ep = prefix.stand_in or prefix.by_model.get(model)
        if ep is None:
            return self._bedrock.not_found(ex, model)
        return self._bedrock.converse(ep, ex, model, stream)

    def _by_model(self, prefix: _Prefix, ex: Exchange, serve: Serve) -> Pending:
        try:
            body = orjson.loads(ex.body)
        except orjson.JSONDecodeError:
            ex.send(400, error_body("request body is not JSON", "invalid_request_error"))
            return None
        model = body.get("model") if isinstance(body, dict) else None
        ep = prefix.by_model.get(model) if isinstance(model, str) else None
        if ep is None:
            # The words and code OpenAI-compatible providers use for a model they do not serve.
            message = f"The model `{model}` does not exist or you do not have access to it."
            ex.send(404, error_body(message, "invalid_request_error", "model_not_found", "model"))
            return None
        return serve(ep, ex, body)


class SimServer:
    """A running sim inside some event loop."""

    __slots__ = ("_connections", "_server", "host", "port", "state")

    def __init__(
        self,
        server: asyncio.Server,
        state: SimState,
        connections: set[HttpConnection],
        host: str,
        port: int,
    ) -> None:
        self._server = server
        self._connections = connections
        self.state = state
        self.host = host
        self.port = port

    def base_url(self, name: str) -> str:
        """The OpenAI base URL of one endpoint, e.g. http://127.0.0.1:PORT/groq/v1.

        An endpoint that is one of a provider's models is served under the provider's prefix.
        """
        prefix = self.state.fleet.prefix(name) or name
        return f"http://{_url_host(self.host)}:{self.port}/{prefix}/v1"

    def anthropic_base_url(self, name: str) -> str:
        """The Anthropic-dialect base URL of the same endpoint (…/PREFIX/anthropic/v1)."""
        prefix = self.state.fleet.prefix(name) or name
        return f"http://{_url_host(self.host)}:{self.port}/{prefix}/anthropic/v1"

    def bedrock_base_url(self, name: str) -> str:
        """The Bedrock-dialect base URL of the same endpoint (…/PREFIX/bedrock)."""
        prefix = self.state.fleet.prefix(name) or name
        return f"http://{_url_host(self.host)}:{self.port}/{prefix}/bedrock"

    def gemini_base_url(self, name: str) -> str:
        """The Gemini API base URL of the same endpoint (…/PREFIX/gemini/v1beta)."""
        prefix = self.state.fleet.prefix(name) or name
        return f"http://{_url_host(self.host)}:{self.port}/{prefix}/gemini/v1beta"

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"

    async def close(self) -> None:
        self._server.close()
        # Streams in flight would hold wait_closed() open; ending them cancels their tasks.
        for conn in list(self._connections):
            conn.transport.abort()
        await self._server.wait_closed()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def start_sim(host: str, port: int, fleet: SimFleet) -> SimServer:
    """Start serving `fleet` on host:port (0 picks a free port) in the running loop."""
    state = SimState(fleet)
    app = SimApp(state)
    connections: set[HttpConnection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpConnection(app, connections), host, port, reuse_address=True, backlog=2048
    )
    bound = server.sockets[0].getsockname()[1]
    return SimServer(server, state, connections, host, bound)


def _write_ready_file(path: str, port: int) -> None:
    # Written then renamed, so a poller never reads a half-written number.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sim-ready-")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


async def _serve(
    host: str, port: int, fleet: SimFleet, ready_file: str | None, parent_pid: int | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watch = None
    if parent_pid is not None:
        watch = loop.create_task(parent_gone(parent_pid))
        watch.add_done_callback(lambda _: stop.set())
    server = await start_sim(host, port, fleet)
    # The file first: whoever saw the line may rely on the file too.
    if ready_file is not None:
        _write_ready_file(ready_file, server.port)
    print(f"crossroads-sim listening on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        if watch is not None:
            watch.cancel()
        await server.close()


def run_sim(
    host: str,
    port: int,
    fleet: SimFleet,
    *,
    ready_file: str | None = None,
    parent_pid: int | None = None,
) -> None:
    """Serve `fleet` until SIGINT or SIGTERM, or until `parent_pid` stops being our parent.

    Prints one line once listening. See lifeline.py for why a sim watches its parent.
    """
    uvloop.run(_serve(host, port, fleet, ready_file, parent_pid))
