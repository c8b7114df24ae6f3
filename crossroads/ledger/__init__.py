"""The ledger: every finished generation, stored off the hot path, with rollups for charts."""

from crossroads.ledger.payload import generation_payload
from crossroads.ledger.records import AttemptRecord, GenerationRecord, record_of
from crossroads.ledger.sqlite import LedgerClosed, SQLiteLedger
from crossroads.ledger.store import Rollup, RollupKind, Store

__all__ = [
    "AttemptRecord",
    "GenerationRecord",
    "LedgerClosed",
    "Rollup",
    "RollupKind",
    "SQLiteLedger",
    "Store",
    "generation_payload",
    "record_of",
]
