"""A key's spend as every worker and replica settled it, read from the ledger.

Each process's `Balance` counts what the ledger held when it started plus what this process
settled since; with several workers or replicas, what the others settled is only in the ledger
(less its newest batch, ≤ 20 ms old). Two readers need the whole: `GET /key`, `/credits` and
`/keys` (reporting), and the seed of a key's shared spend in Redis (accounts/shared.py), which
a seed from one process's count alone would leave short of what the others spent.
"""

from __future__ import annotations

import asyncio

from crossroads.accounts.balance import Balance
from crossroads.accounts.service import Accounts
from crossroads.ledger.pg_database import DatabaseUnavailable
from crossroads.ledger.store import KeyRollup, Store


async def ledger_balances(ledger: Store, balances: list[Balance], now: float) -> list[Balance]:
    """`balances` merged with the ledger's per-key rollups (`Balance.merged`); read in a
    thread. A ledger that cannot be read (PostgreSQL down) leaves them as they are."""
    if not balances:
        return []
    since = Accounts.recent_days(now)
    one = balances[0].record.hash if len(balances) == 1 else None

    def read() -> tuple[list[KeyRollup], dict[str, int]]:
        return ledger.key_rollups(since, key_id=one), ledger.key_totals()

    try:
        rows, totals = await asyncio.to_thread(read)
    except DatabaseUnavailable:
        return balances
    by_key: dict[str, dict[int, int]] = {}
    for row in rows:
        days = by_key.setdefault(row.key_id, {})
        days[row.bucket_start] = days.get(row.bucket_start, 0) + row.cost_micro
    return [b.merged(by_key.get(b.record.hash, {}), totals.get(b.record.hash, 0))
            for b in balances]
