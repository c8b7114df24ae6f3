"""Keys' shape and storage: only hashes on disk, revisions across processes, auth modes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crossroads.accounts.keys import (
    KEY_SHAPE,
    KeyRecord,
    RateLimit,
    hash_key,
    label_of,
    new_key,
    same_hash,
)
from crossroads.accounts.modes import UnsafeAuthMode, is_loopback, resolve_auth_mode
from crossroads.accounts.service import ANONYMOUS, Accounts
from crossroads.accounts.store import SQLiteKeyStore
from crossroads.errors import Unauthorized


def test_keys_are_random_prefixed_and_hashed() -> None:
    made = {new_key() for _ in range(200)}
    assert len({key for key, _ in made}) == 200
    for key, key_hash in made:
        assert KEY_SHAPE.match(key) and hash_key(key) == key_hash and len(key_hash) == 64
        label = label_of(key)
        assert label.startswith("sk-cr-v1-") and key[9:12] in label and key[-3:] in label
        assert len(label) < len(key) // 2
    assert same_hash("ab" * 32, "ab" * 32) and not same_hash("ab" * 32, "ac" * 32)


def _record(key: str, **kw: object) -> KeyRecord:
    return KeyRecord(hash=hash_key(key), name="n", label=label_of(key), created_at=1,
                     **kw)  # type: ignore[arg-type]


def test_the_store_keeps_hashes_and_revisions(tmp_path: Path) -> None:
    path = tmp_path / "crossroads.db"
    store = SQLiteKeyStore(path)
    key, _ = new_key()
    first = store.create(_record(key, limit_micro=5, rate_limit=RateLimit(3, "1m")))
    other = SQLiteKeyStore(path)  # another process: the CLI beside a running router
    second = other.create(_record(new_key()[0]))
    assert second.revision == first.revision + 1
    changed = other.update(first.hash, {"disabled": True, "limit_micro": None})
    assert changed is not None and changed.disabled and changed.limit_micro is None
    assert changed.rate_limit == RateLimit(3, "1m") and changed.updated_at is not None
    assert [r.hash for r in store.changed_since(second.revision)] == [first.hash]
    assert other.update("f" * 64, {"disabled": True}) is None
    with pytest.raises(ValueError, match="label"):
        other.update(first.hash, {"label": "x"})
    other.update(first.hash, {"deleted": True})
    assert other.update(first.hash, {"disabled": False}) is None  # deleted stays deleted
    store.close()
    other.close()
    raw = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("crossroads.db-*"))
    assert key.encode() not in raw and first.hash.encode() in raw
    rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM api_keys").fetchone()
    assert rows == (2,)


def test_authentication_by_mode(tmp_path: Path) -> None:
    store = SQLiteKeyStore(tmp_path / "crossroads.db")
    key, key_hash = new_key()
    store.create(_record(key))
    expired, _ = new_key()
    store.create(_record(expired, expires_at=100))
    now = 1000.0
    strict = Accounts(store, "keys", clock=lambda: now)
    strict.load([], {})
    assert strict.authenticate(f"Bearer {key}").key_hash == key_hash
    assert strict.authenticate(f"bearer   {key}  ").key_hash == key_hash
    for header, reason in ((None, "Missing"), ("Basic abc", "Missing"), ("Bearer ", "Missing"),
                           ("Bearer nope", "Invalid"), (f"Bearer {key}x", "Invalid"),
                           (f"Bearer {expired}", "expired")):
        with pytest.raises(Unauthorized, match=reason):
            strict.authenticate(header)
    relaxed = Accounts(store, "open", clock=lambda: now)
    relaxed.load([], {})
    assert relaxed.authenticate("Bearer anything") is ANONYMOUS
    assert relaxed.authenticate(f"Bearer {key}").key_hash == key_hash
    with pytest.raises(Unauthorized, match="expired"):
        relaxed.authenticate(f"Bearer {expired}")  # a known key is never waved through
    # A key created after load (by the CLI) works on first use, before any poll.
    late, late_hash = new_key()
    store.create(_record(late))
    assert strict.authenticate(f"Bearer {late}").key_hash == late_hash
    store.close()


@pytest.mark.parametrize(("host", "loopback"), [
    # Addresses are only classified here: nothing is sent to them (192.0.2.0/24 is reserved
    # for documentation, never routed).
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.0.2.5", False),
    ("router.internal", False)])
def test_open_mode_only_on_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert resolve_auth_mode(None, host) == ("open" if loopback else "keys")
    assert resolve_auth_mode("keys", host) == "keys"
    if loopback:
        assert resolve_auth_mode("open", host) == "open"
    else:
        with pytest.raises(UnsafeAuthMode, match="loopback"):
            resolve_auth_mode("open", host)
