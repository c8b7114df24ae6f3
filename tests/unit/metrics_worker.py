"""A stand-in for one pre-forked router worker: `python -m tests.unit.metrics_worker MODE`
with PROMETHEUS_MULTIPROC_DIR set records one scripted request's series, prints its pid and
stays alive until its stdin closes."""

from __future__ import annotations

import os
import sys

from crossroads.failures import Failure
from crossroads.observability.events import failovers
from crossroads.observability.metrics import MULTIPROC_ENV, RouterMetrics
from tests.unit.test_observability import MODEL, _record

LATE = "TEST_LATE_MULTIPROC_DIR"


def main(mode: str) -> None:
    late = os.environ.pop(LATE, None)
    if late is not None:
        # A supervisor that imported everything first and sets the folder just before the
        # workers build their series.
        os.environ[MULTIPROC_ENV] = late
    metrics = RouterMetrics(["dashboard"])
    assert metrics.multiprocess_dir is not None
    if mode == "answer":
        metrics.generation_settled(_record(None), [], MODEL)
        metrics.request_started("chat", stream=True)
    else:
        record = _record(Failure.SERVER_ERROR, None)
        metrics.generation_settled(record, failovers(record), MODEL)
        metrics.request_started("chat", stream=False)
        metrics.breaker_changed(MODEL, "alpha", opened=True)
        metrics.sample("crossroads_ledger_backlog", "backlog", lambda: 3.0)
        metrics.refresh()
    print(os.getpid(), flush=True)
    sys.stdin.read()  # alive, as a serving worker is, until the test lets it go


if __name__ == "__main__":
    main(sys.argv[1])
