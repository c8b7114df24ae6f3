"""The pages' static files: read once from the package into memory, served under `/static/`.

A request can only name a file that was in the package when the bundle was read: the URL path
is a key into a dict, never a path handed to the filesystem, so `..`, encoded slashes or
absolute paths cannot reach anything else.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from importlib.abc import Traversable
from types import MappingProxyType
from typing import Final

import msgspec

from crossroads.api.http import Headers, Receive, Scope, Send, header

STATIC_PREFIX: Final = "/static/"

CONTENT_TYPES: Final[MappingProxyType[str, bytes]] = MappingProxyType({
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".md": b"text/markdown; charset=utf-8",
    ".png": b"image/png",
    ".svg": b"image/svg+xml",
})
# The file names carry no version, so the browser revalidates; the ETag turns that into a 304.
CACHE_CONTROL: Final = b"public, max-age=300, must-revalidate"


class Asset(msgspec.Struct, frozen=True):
    body: bytes
    content_type: bytes
    etag: bytes


class Bundle(msgspec.Struct, frozen=True):
    files: MappingProxyType[str, Asset]
    templates: MappingProxyType[str, str]

    def asset(self, name: str) -> Asset | None:
        return self.files.get(name)


def _walk(folder: Traversable, prefix: str) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found.update(_walk(entry, name + "/"))
            continue
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        content_type = CONTENT_TYPES.get(suffix)
        if content_type is None:
            continue  # only types we can label correctly are served
        body = entry.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:32]
        found[name] = Asset(body, content_type, f'"{digest}"'.encode())
    return found


@functools.cache
def bundle() -> Bundle:
    """Every static file and template of the package; read on first use, then immutable."""
    root = resources.files("crossroads.web")
    templates = {entry.name: entry.read_text(encoding="utf-8")
                 for entry in root.joinpath("templates").iterdir() if entry.name.endswith(".html")}
    return Bundle(MappingProxyType(_walk(root.joinpath("static"), "")),
                  MappingProxyType(templates))


def _not_modified(scope: Scope, etag: bytes) -> bool:
    wanted = header(scope, b"if-none-match")
    if wanted is None:
        return False
    return any(tag.strip().removeprefix("W/") == etag.decode() for tag in wanted.split(","))


async def send_asset(scope: Scope, send: Send, asset: Asset) -> None:
    headers: Headers = [(b"etag", asset.etag), (b"cache-control", CACHE_CONTROL),
                        (b"x-content-type-options", b"nosniff")]
    if _not_modified(scope, asset.etag):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [(b"content-type", asset.content_type),
                (b"content-length", b"%d" % len(asset.body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": asset.body})


async def serve_static(scope: Scope, receive: Receive, send: Send, name: str) -> bool:
    """Send the named file; False when the bundle has no such file (the caller sends a 404)."""
    asset = bundle().asset(name)
    if asset is None:
        return False
    await send_asset(scope, send, asset)
    return True
