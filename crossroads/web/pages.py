"""The HTML pages: `/models`, `/models/{author}/{slug}` and the files under `/static/`.

Each page is a small server-rendered shell; `static/page.js` fetches the page's JSON twins and
draws every number, so a page never shows a figure its twin does not return. Everything put into
the HTML is escaped here, and the only scripts a page may run are the package's own files: the
Content-Security-Policy below allows no inline script, so data reaches the script through
`data-` attributes.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from string import Template
from typing import Final

from crossroads.api.http import Headers, Receive, Scope, Send
from crossroads.api.state import AppState
from crossroads.errors import MethodNotAllowed
from crossroads.web.assets import STATIC_PREFIX, bundle, serve_static
from crossroads.web.snippets import base_url, snippets

PageHandler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]
MODEL_PREFIX: Final = "/models/"
CSP: Final = (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HTML_HEADERS: Final[Headers] = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-security-policy", CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    # The snippets carry the host the page was asked for; never serve them to another one.
    (b"cache-control", b"no-cache"),
    (b"vary", b"host"),
]
DEMO_BANNER: Final = ('<p class="banner" role="status">Demo mode: every provider here is '
                      "<strong>simulated</strong> (crossroads sim); no real model answers.</p>")


def _render(template: str, **values: str) -> str:
    return Template(bundle().templates[template]).substitute(values)


def _page(title: str, main: str, attrs: dict[str, str], simulated: bool) -> bytes:
    body_attrs = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in attrs.items())
    return _render("page.html", title=html.escape(title), attrs=body_attrs, main=main,
                   banner=DEMO_BANNER if simulated else "").encode()


async def _send_html(send: Send, status: int, body: bytes) -> None:
    headers = [*HTML_HEADERS, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _not_found(state: AppState, send: Send, path: str) -> None:
    main = _render("not_found.html", path=html.escape(path[:200]))
    await _send_html(send, 404, _page("Not found", main, {"page": "not-found"},
                                      state.simulated))


async def models_page(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    main = _render("models.html", count=str(len(state.catalog.models())))
    await _send_html(send, 200, _page("Models", main, {"page": "models"}, state.simulated))


async def model_page(state: AppState, scope: Scope, receive: Receive, send: Send,
                     slug: str) -> None:
    model = state.catalog.model(slug)
    if model is None:
        await _not_found(state, send, scope["path"])
        return
    base = base_url(scope)
    code = "\n".join(
        f'<div class="snippet"><div class="snippet-head"><h3>{html.escape(s.label)}</h3>'
        f'<button type="button" class="copy" data-copy="snippet-{s.key}">Copy</button></div>'
        f'<pre id="snippet-{s.key}"><code>{html.escape(s.code)}</code></pre></div>'
        for s in snippets(base, slug))
    main = _render("model.html", name=html.escape(model.name), slug=html.escape(slug),
                   base=html.escape(base), snippets=code)
    attrs = {"page": "model", "slug": slug, "base-url": base}
    await _send_html(send, 200, _page(model.name, main, attrs, state.simulated))


async def static_file(state: AppState, scope: Scope, receive: Receive, send: Send,
                      name: str) -> None:
    if not await serve_static(scope, receive, send, name):
        await _not_found(state, send, scope["path"])


async def _missing(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _not_found(state, send, scope["path"])


def page_handler(method: str, path: str) -> PageHandler | None:
    """The handler for a page path outside the API, `None` when the path is not a page's.

    `/models` itself is an exact route in the app's table; this answers the paths with a
    parameter in them, each handler closing over it.
    """
    handler: PageHandler
    if path.startswith(STATIC_PREFIX):
        name = path[len(STATIC_PREFIX):]

        async def handler(st: AppState, sc: Scope, r: Receive, s: Send) -> None:
            await static_file(st, sc, r, s, name)
    elif path.startswith(MODEL_PREFIX):
        slug = path[len(MODEL_PREFIX):]
        parts = slug.split("/")
        if len(parts) != 2 or "" in parts:
            handler = _missing
        else:
            async def handler(st: AppState, sc: Scope, r: Receive, s: Send) -> None:
                await model_page(st, sc, r, s, slug)
    else:
        return None
    if method != "GET":
        raise MethodNotAllowed(f"{method} is not allowed on {path}; use GET")
    return handler
