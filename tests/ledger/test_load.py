"""Load: 50,000 generations in, exactly 50,000 rows out, rollups in agreement."""

from __future__ import annotations

import time
from pathlib import Path

from crossroads.ledger import SQLiteLedger, record_of

from .builders import assert_rollups_agree, mixed, raw_count


def test_fifty_thousand_generations(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    generations = mixed(50_000, seed=11)
    ledger = SQLiteLedger(db)
    began = time.perf_counter()
    for g in generations:
        ledger.submit(record_of(g, 1_000_000.0))
    ledger.close()
    elapsed = time.perf_counter() - began
    assert raw_count(db) == 50_000
    assert_rollups_agree(db)
    assert elapsed < 15.0, f"50k generations took {elapsed:.1f} s"
