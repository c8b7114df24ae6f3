"""`crossroads keys create | list | disable | enable`: keys on the same state as `serve`.

They open the database `serve` uses (`[server] state_dir` of the config, relative to the working
directory, or the PostgreSQL database of `--database-url` / `[server] database_url`), so run
them where the router runs or against its PostgreSQL; a running router sees a new or changed key
within a second (`Accounts.refresh`), and a new key at once on first use. `create` prints the
new key alone on the last line of stdout — the only time it is ever shown.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from crossroads.accounts.keys import HASH_SHAPE, make_key, parse_expiry, parse_rate_limit
from crossroads.accounts.periods import RESETS
from crossroads.accounts.store import KeyStore
from crossroads.catalog import MICRO
from crossroads.ledger.pg_database import DatabaseError, DatabaseUnavailable
from crossroads.settings import ConfigError, load_settings
from crossroads.stores import open_key_store, with_database_url


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser(
        "keys", help="create, list and disable API keys",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  crossroads keys create --name ci --limit 5 --reset daily\n"
               "  crossroads keys create --management --name admin\n"
               "  crossroads keys list\n"
               "  crossroads keys disable 3f2a…  (the hash from 'list')")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--management", action="store_true",
                        help="a management key: manages keys, reads every generation; "
                             "cannot call models")
    create.add_argument("--name", default=None, help="a label for people (default: key-<date>)")
    create.add_argument("--limit", type=float, default=None, metavar="USD",
                        help="credit limit in USD (default: none)")
    create.add_argument("--reset", choices=RESETS, default=None,
                        help="reset the limit every UTC day, week (Monday) or month (the 1st)")
    create.add_argument("--expires", default=None, metavar="ISO8601",
                        help="expiry, e.g. 2027-01-31T00:00:00Z")
    create.add_argument("--rate-limit", default=None, metavar="N/INTERVAL",
                        help="at most N requests per interval, e.g. 100/1m (units s, m, h, d)")
    listing = actions.add_parser("list", help="list keys with their limits and usage")
    listing.add_argument("--all", action="store_true", help="include disabled keys")
    for name, text in (("disable", "disable a key (requests with it get 401)"),
                       ("enable", "enable a disabled key")):
        action = actions.add_parser(name, help=text)
        action.add_argument("hash", help="the key's hash, as 'list' shows it")
    for sub in (create, listing, *actions.choices.values()):
        if not any(a.dest == "config" for a in sub._actions):
            sub.add_argument("--config", default=None, help="operator TOML file")
            sub.add_argument("--database-url", default=None, metavar="postgresql://…",
                             help="the PostgreSQL database `serve --database-url` uses")


class _Store:
    """The key store of `serve`'s database, closed with the database it opened."""

    def __init__(self, args: argparse.Namespace) -> None:
        settings = with_database_url(load_settings(args.config), args.database_url)
        self.keys, self._database = open_key_store(settings)

    def __enter__(self) -> KeyStore:
        return self.keys

    def __exit__(self, *exc: object) -> None:
        self.keys.close()
        if self._database is not None:
            self._database.close()


def _create(args: argparse.Namespace) -> int:
    if args.limit is not None and not 0 <= args.limit <= 1e9:
        raise ValueError("--limit: must be between 0 and 1e9 USD")
    if args.reset and args.limit is None:
        raise ValueError("--reset needs --limit")
    now = time.time()
    expires_at = None
    if args.expires is not None:
        try:
            expires_at = parse_expiry(args.expires, now)
        except ValueError as exc:
            raise ValueError(f"--expires {args.expires}: {exc}") from None
    key, record = make_key(
        name=args.name or f"key-{datetime.fromtimestamp(now, UTC):%Y-%m-%d}", now=now,
        management=args.management, limit_usd=args.limit, reset=args.reset,
        expires_at=expires_at,
        rate_limit=None if args.rate_limit is None else parse_rate_limit(args.rate_limit))
    key_hash = record.hash
    with _Store(args) as store:
        store.create(record)
    kind = "management" if args.management else "inference"
    print(f"created {kind} key {record.name!r}")
    print(f"  hash:  {key_hash}")
    if record.limit_micro is not None:
        print(f"  limit: ${args.limit:g}" + (f" per {args.reset} period" if args.reset else ""))
    if record.rate_limit is not None:
        print(f"  rate limit: {record.rate_limit.requests} requests per "
              f"{record.rate_limit.interval}")
    print("  the key is shown once, on the next line; store it now:")
    print(key)
    return 0


def _list(args: argparse.Namespace) -> int:
    with _Store(args) as store:
        records = [r for r in store.all() if not r.deleted and (args.all or not r.disabled)]
        used = store.last_used()
    if not records:
        print("no keys yet: crossroads keys create --name NAME")
        return 0
    rows = [("HASH", "NAME", "LABEL", "KIND", "LIMIT", "STATE", "LAST USED")]
    now = time.time()
    for r in records:
        limit = "-" if r.limit_micro is None else f"${r.limit_micro / MICRO:g}"
        if r.limit_reset:
            limit += f"/{r.limit_reset}"
        state = r.usable(now) or "active"
        last = used.get(r.hash)
        rows.append((r.hash, r.name, r.label, "management" if r.management else "inference",
                     limit, "active" if state == "active" else state.split()[-1],
                     "-" if last is None else datetime.fromtimestamp(last, UTC).isoformat()))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    if not HASH_SHAPE.match(args.hash):
        raise ValueError(f"{args.hash!r} is not a key hash (64 hex digits, from 'keys list')")
    with _Store(args) as store:
        changed = store.update(args.hash, {"disabled": disabled})
    if changed is None:
        print(f"crossroads: no key with hash {args.hash}", file=sys.stderr)
        return 1
    print(f"{'disabled' if disabled else 'enabled'} key {changed.name!r} ({changed.label})")
    return 0


def _disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def _enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "create": _create, "list": _list, "disable": _disable, "enable": _enable,
}


def run(args: argparse.Namespace) -> int:
    try:
        return ACTIONS[args.keys_command](args)
    except (ValueError, ConfigError, DatabaseError, DatabaseUnavailable) as exc:
        print(f"crossroads: {exc}", file=sys.stderr)
        return 2
