"""Which auth mode a router runs in, and why `open` is refused off loopback."""

from __future__ import annotations

import ipaddress

from crossroads.accounts.service import AuthMode


class UnsafeAuthMode(ValueError):
    """`open` asked for on an address other hosts can reach."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def resolve_auth_mode(requested: AuthMode | None, host: str) -> AuthMode:
    """The mode asked for, or the default: `open` on loopback, `keys` anywhere else."""
    loopback = is_loopback(host)
    mode: AuthMode = requested or ("open" if loopback else "keys")
    if mode == "open" and not loopback:
        raise UnsafeAuthMode(
            f"auth mode 'open' accepts any bearer token, so it is only allowed on a loopback "
            f"address, not on {host}. Use --auth keys (and create keys with 'crossroads keys "
            "create'), or listen on 127.0.0.1.")
    return mode
