"""What the client commands share: where the router is, the key they present, the exit codes,
and one way to turn an HTTP failure into a sentence and a status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import httpx
from rich.console import Console

from crossroads.commands.options import DEFAULT_URL, KEY_VARIABLE, URL_VARIABLE, Exit

# Accepted by a router in open mode (any bearer token is); keys mode needs a real key.
OPEN_TOKEN = "crossroads-cli"
# Tables piped to a file or another program would otherwise be cut at 80 columns.
PIPE_WIDTH = 160


class CommandError(Exception):
    """A failure the command reports in one line and turns into its exit status."""

    def __init__(self, message: str, status: Exit, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.http_status = http_status


def root_url(given: str | None) -> str:
    """The router's root, whether the caller gave it with or without /api/v1."""
    url = (given or os.environ.get(URL_VARIABLE) or DEFAULT_URL).rstrip("/")
    for suffix in ("/api/v1", "/v1"):
        url = url.removesuffix(suffix)
    if "://" not in url:
        url = "http://" + url
    return url


def api_key(given: str | None) -> str:
    return given or os.environ.get(KEY_VARIABLE) or OPEN_TOKEN


def quiet_http_logs() -> None:
    """httpx logs every request at INFO, which `main`'s logging setup would print."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


def client(args: argparse.Namespace, timeout_s: float = 30.0) -> httpx.Client:
    quiet_http_logs()
    return httpx.Client(base_url=root_url(args.url), timeout=timeout_s,
                        headers={"authorization": f"Bearer {api_key(args.key)}"})


def error_message(body: Any) -> str:
    """The `error.message` of an OpenRouter-shaped error body, else a short form of the body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(body)[:200]


def get_json(http: httpx.Client, path: str, params: dict[str, str] | None = None) -> Any:
    """GET a JSON body, or CommandError with the status a script can act on."""
    try:
        response = http.get(path, params=params)
    except httpx.TransportError as exc:
        raise unreachable(str(http.base_url), exc) from None
    return checked_json(response)


def checked_json(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code in (401, 403):
        raise CommandError(f"the router refused the key ({response.status_code}): "
                           f"{error_message(body)} — pass --key or set ${KEY_VARIABLE}",
                           Exit.REFUSED, response.status_code)
    if response.status_code >= 400:
        raise CommandError(f"{response.status_code}: {error_message(body)}", Exit.FAILED,
                           response.status_code)
    return body


def unreachable(url: str, exc: Exception) -> CommandError:
    reason = str(exc) or type(exc).__name__
    return CommandError(f"no router answers at {url.rstrip('/')} ({reason}); start one with "
                        f"`crossroads serve` or pass --url", Exit.UNREACHABLE)


def console() -> Console:
    """Rich output on a terminal; plain, wide text when piped. Markup is off: model names,
    provider names and error messages come from the router and may hold `[brackets]`, which
    rich would otherwise read as styles (or refuse)."""
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(width=width, markup=False, highlight=False)


def fail(prog: str, error: CommandError) -> int:
    print(f"{prog}: {error.message}", file=sys.stderr)
    return int(error.status)
