"""The pages over plain HTTP: static files, 404 pages, escaping and headers (no browser)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.fixtures import SLUG, twins
from tests.web.stub import serve_stub


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_stub(tmp_path_factory.mktemp("assets"), twins(busy=False)) as url:
        yield url


def get(root: str, path: str, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    """A GET with the path sent exactly as written (no client-side normalising)."""
    host, port = root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(("path", "content_type"), [
    ("/static/page.js", "text/javascript; charset=utf-8"),
    ("/static/draw.js", "text/javascript; charset=utf-8"),
    ("/static/style.css", "text/css; charset=utf-8"),
    ("/static/vendor/chart.umd.js", "text/javascript; charset=utf-8"),
])
def test_static_files_have_their_type_and_revalidate_by_etag(root: str, path: str,
                                                             content_type: str):
    status, headers, body = get(root, path)
    assert status == 200 and headers["content-type"] == content_type
    assert headers["content-length"] == str(len(body)) and body
    assert "max-age" in headers["cache-control"] and headers["etag"].startswith('"')
    status, again, body = get(root, path, {"if-none-match": headers["etag"]})
    assert (status, body, again["etag"]) == (304, b"", headers["etag"])


def test_the_vendored_chart_library_is_chart_js_4_6_1():
    vendor = Path(__file__).resolve().parents[2] / "crossroads/web/static/vendor"
    assert (vendor / "chart.umd.js").read_text()[:40].startswith("/*!\n * Chart.js v4.6.1")
    assert "MIT" in (vendor / "LICENSE.md").read_text()


@pytest.mark.parametrize("path", [
    "/static/../app.py", "/static/%2e%2e/app.py", "/static/vendor/../../pages.py",
    "/static/..%2f..%2fapp.py", "/static//etc/passwd", "/static/../templates/page.html",
    "/static/", "/static/nope.js", "/static/vendor",
])
def test_nothing_outside_the_static_files_is_served(root: str, path: str):
    status, headers, body = get(root, path)
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert b"Not found" in body and b"import " not in body


@pytest.mark.parametrize("path", ["/models/nobody/nothing", "/models/meta-llama",
                                  f"/models/{SLUG}/extra", "/models/a//b"])
def test_an_unknown_model_is_a_real_404_page(root: str, path: str):
    status, headers, body = get(root, path)
    assert status == 404 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'<a href="/models">' in body


def test_pages_are_escaped_and_run_only_their_own_scripts(root: str):
    status, headers, body = get(root, "/models/%3Cscript%3Ealert(1)%3C%2Fscript%3E/x")
    assert status == 404 and b"<script>alert" not in body and b"&lt;script&gt;" in body
    status, headers, body = get(root, f"/models/{SLUG}", {"host": 'evil"><script>x</script>'})
    assert status == 200 and b"evil" not in body
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page = body.decode()
    assert page.count("<script") == page.count('<script src="/static/') == 3


def test_the_snippets_carry_the_address_the_page_was_asked_for(root: str):
    _, _, body = get(root, f"/models/{SLUG}", {"host": "127.0.0.1:4321"})
    page = body.decode()
    assert 'data-base-url="http://127.0.0.1:4321/api/v1"' in page
    assert "curl http://127.0.0.1:4321/api/v1/chat/completions" in page
    assert f"model=&quot;{SLUG}&quot;" in page


def test_the_api_keeps_its_routes(root: str):
    status, headers, _ = get(root, "/api/v1/models")
    assert status == 200 and headers["content-type"] == "application/json"
    status, headers, _ = get(root, "/models")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert get(root, "/api/v1/models/nobody/nothing/endpoints")[0] == 404
