"""Test-only: the real router app, in this process, with the stats twins answered from fixtures.

The page tests need the JSON twins' numbers to be known in advance; answering those paths here,
in front of the real app, keeps every other route (the pages, `/static/`, the API) the product's
own. Served by uvicorn on a loopback port in a background thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import uvicorn

from crossroads.api.http import Receive, Scope, Send, send_json
from crossroads.app import API_PREFIXES, CrossroadsApp
from crossroads.settings import load_settings
from tests.support import wait_for


class TwinStub:
    def __init__(self, app: CrossroadsApp, twins: Mapping[str, Any]) -> None:
        self.app = app
        # None: that twin fails with a 500, for the pages' error state.
        self.twins = {path: None if body is None else msgspec.json.encode(body)
                      for path, body in twins.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            for prefix in API_PREFIXES:
                path = scope["path"].removeprefix(prefix)
                if scope["path"].startswith(prefix + "/") and path in self.twins:
                    body = self.twins[path]
                    await send_json(send, 200 if body else 500, body or b'{"error":{}}')
                    return
        await self.app(scope, receive, send)


@contextlib.contextmanager
def serve_stub(tmp: Path, twins: Mapping[str, Any]) -> Iterator[str]:
    """Yield the root URL (`http://127.0.0.1:PORT`) of the app behind the fixture twins."""
    config = tmp / "crossroads.toml"
    config.write_text(f'[server]\nstate_dir = "{tmp}"\n')
    settings = load_settings(str(config), env={})
    app = CrossroadsApp(settings, simulated=True)
    server = uvicorn.Server(uvicorn.Config(TwinStub(app, twins), host="127.0.0.1", port=0,
                                           lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, name="twin-stub", daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started or not thread.is_alive(), 30), "stub never started"
        assert server.started, "the stub server failed to start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
