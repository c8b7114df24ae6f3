"""What `crossroads serve` prints once it listens: enough to make the first call and to find
everything else (model pages, metrics, the ledger) without opening the README.

The first line keeps the shape `… listening on http://HOST:PORT/api/v1`: scripts and the test
suite read the address from it."""

from __future__ import annotations

import shlex

from crossroads import __version__
from crossroads.accounts.service import AuthMode
from crossroads.catalog import Catalog, Model
from crossroads.commands.options import FLAGSHIP
from crossroads.demo import reachable
from crossroads.errors import redact_url
from crossroads.settings import Settings

# An unknown bearer token is accepted in open mode; in keys mode the shell expands this variable.
OPEN_TOKEN = "anything"
KEY_VARIABLE = "CROSSROADS_API_KEY"
# Matches `timeout_graceful_shutdown` in cli.py: how long a stop lets requests finish.
GRACEFUL_STOP_S = 10


def base_url(host: str, port: int) -> str:
    """The address a client on this machine uses; a wildcard host is reached on loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def example_model(catalog: Catalog) -> Model | None:
    """The model the example call names: the flagship if it can be routed to, else the first
    chat model that can, else the flagship or the first chat model (the call then shows the
    router's 404, which says why)."""
    chat = [model for model in catalog.models() if not model.embeds]
    routable = [model for model in chat
                if any(reachable(e) for e in catalog.endpoints(model.slug))]
    flagship = [model for model in chat if model.slug == FLAGSHIP]
    candidates = [m for m in routable if m.slug == FLAGSHIP] + routable + flagship + chat
    return candidates[0] if candidates else None


def curl_example(root: str, model: str, auth: AuthMode) -> str:
    token = OPEN_TOKEN if auth == "open" else f"${KEY_VARIABLE}"
    body = ('{"model": "' + model + '", '
            '"messages": [{"role": "user", "content": "Hello!"}]}')
    # Double quotes around the header so the shell expands $CROSSROADS_API_KEY in keys mode.
    return (f"curl {root}/api/v1/chat/completions \\\n"
            f"      -H \"Authorization: Bearer {token}\" \\\n"
            f"      -H 'Content-Type: application/json' \\\n"
            f"      -d {shlex.quote(body)}")


def ledger_location(settings: Settings) -> str:
    if settings.server.database_url:
        return f"PostgreSQL {redact_url(settings.server.database_url)} " \
               f"(journal in {settings.server.state_dir})"
    return f"SQLite {settings.database_path.resolve()}"


def banner(settings: Settings, catalog: Catalog, host: str, port: int, demo: bool,
           auth: AuthMode, processes: str | None = None) -> str:
    """`processes`: how `--workers N` runs, when it does."""
    root = base_url(host, port)
    lines = [f"crossroads {__version__} listening on http://{_host(host)}:{port}/api/v1"]
    if demo:
        lines.append("  DEMO MODE: every provider is SIMULATED (crossroads sim); no real model "
                     "answers.")
    if auth == "open":
        lines.append("  auth: OPEN — any bearer token is accepted (allowed on loopback only); "
                     "API keys, when presented, are still checked and billed.")
    else:
        lines.append("  auth: keys — every request needs an API key "
                     f"(crossroads keys create --name NAME, then export {KEY_VARIABLE}=…).")
    for model in catalog.models():
        endpoints = catalog.endpoints(model.slug)
        ready = [e.tag for e in endpoints if reachable(e)]
        lines.append(f"  {model.slug}: {len(ready)}/{len(endpoints)} endpoints available "
                     f"({', '.join(ready) or 'none'})")
    example = example_model(catalog)
    if example is not None:
        lines += ["", "  Try it:", "    " + curl_example(root, example.slug, auth), ""]
        lines.append(f"  model page:  {root}/models/{example.slug}  (all models: {root}/models)")
    else:
        lines.append(f"  model pages: {root}/models")
    lines.append(f"  metrics:     {root}/metrics  (Prometheus text)")
    lines.append(f"  ledger:      {ledger_location(settings)}")
    if settings.config_path:
        lines.append(f"  config:      {settings.config_path}")
    if processes is not None:
        lines.append(f"  processes:   {processes}")
    if settings.server.redis_url:
        lines.append(f"  shared state: Redis at {redact_url(settings.server.redis_url)}")
    lines.append(f"  stop:        Ctrl-C or SIGTERM (requests in flight get {GRACEFUL_STOP_S} s "
                 "to finish)")
    return "\n".join(lines)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
