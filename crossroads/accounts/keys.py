"""API keys: how they look, how they are stored (only as a hash), and what each one may do.

A key is `sk-cr-v1-` and 64 hex digits: 256 bits from the operating system's CSPRNG. It is shown
once, when created; the store keeps its SHA-256 (hex), which is also its public handle (`hash`
in every listing, as OpenRouter does). A presented key is hashed and looked up by that hash, then
the hashes are compared with `hmac.compare_digest`. An index on a SHA-256 of 256 random bits
leaks nothing a timing attacker could use: learning a prefix of the hash gets them no closer to a
key that has it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

import msgspec

from crossroads.accounts.periods import Reset
from crossroads.catalog import MICRO

PREFIX = "sk-cr-v1-"
KEY_SHAPE = re.compile(r"^sk-cr-v1-[0-9a-f]{64}$")
HASH_SHAPE = re.compile(r"^[0-9a-f]{64}$")
INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
INTERVAL_SHAPE = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
MAX_RATE_REQUESTS = 100_000  # the rate limiter keeps one timestamp per allowed request


def new_key() -> tuple[str, str]:
    """A fresh key and its hash."""
    key = PREFIX + secrets.token_hex(32)
    return key, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def label_of(key: str) -> str:
    """How a key is shown after creation: enough to recognise it, far too little to use it."""
    secret = key[len(PREFIX):]
    return f"{PREFIX}{secret[:3]}...{secret[-3:]}"


class RateLimit(msgspec.Struct, frozen=True):
    """At most `requests` inference requests per `interval` ("10s", "1m", "1h", "1d")."""

    requests: int
    interval: str

    @property
    def interval_s(self) -> int:
        match = INTERVAL_SHAPE.match(self.interval)
        assert match is not None, self.interval
        return int(match.group(1)) * INTERVAL_UNITS[match.group(2)]


def parse_rate_limit(text: str) -> RateLimit:
    """`"100/1m"` → RateLimit(100, "1m"); ValueError naming the expected shape otherwise."""
    requests, sep, interval = text.partition("/")
    if not sep or not requests.isdigit() or not 1 <= int(requests) <= MAX_RATE_REQUESTS \
            or not INTERVAL_SHAPE.match(interval):
        raise ValueError(f"rate limit {text!r}: expected REQUESTS/INTERVAL, e.g. 100/1m "
                         f"(1 to {MAX_RATE_REQUESTS} requests; interval units s, m, h, d)")
    return RateLimit(int(requests), interval)


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One key as stored. Money in integer micro-dollars, times in unix seconds."""

    hash: str
    name: str
    label: str
    management: bool = False
    limit_micro: int | None = None
    limit_reset: Reset | None = None
    expires_at: int | None = None
    rate_limit: RateLimit | None = None
    disabled: bool = False
    deleted: bool = False
    created_at: int
    updated_at: int | None = None
    revision: int = 0

    def usable(self, now: float) -> str | None:
        """Why this key may not be used now, or None when it may."""
        if self.deleted:
            return "This API key was deleted"
        if self.disabled:
            return "This API key is disabled"
        if self.expires_at is not None and now >= self.expires_at:
            return "This API key has expired"
        return None


def parse_expiry(text: str, now: float) -> int:
    """An ISO 8601 expiry (UTC when it names no offset) as unix seconds; ValueError unless it
    is a date-time in the future."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    when = int(moment.timestamp())
    if when <= now:
        raise ValueError("must be in the future")
    return when


def make_key(*, name: str, now: float, management: bool = False,
             limit_usd: float | None = None, reset: Reset | None = None,
             expires_at: int | None = None,
             rate_limit: RateLimit | None = None) -> tuple[str, KeyRecord]:
    """A new key and the record that stores it (only its hash): the one way keys are made, by
    the CLI and by `POST /keys` alike."""
    key, key_hash = new_key()
    return key, KeyRecord(
        hash=key_hash, name=name, label=label_of(key), management=management,
        limit_micro=None if limit_usd is None else round(limit_usd * MICRO),
        limit_reset=reset, expires_at=expires_at, rate_limit=rate_limit, created_at=int(now))
