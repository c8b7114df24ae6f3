"""The `Store` contract, run on SQLite and on PostgreSQL alike (the `backend` fixture): round
trips, flushing, rollups against raw rows, filters, duplicates, threads."""

from __future__ import annotations

import threading

import pytest

from crossroads.ledger import GenerationRecord, LedgerClosed, record_of

from .backends import Backend
from .builders import HOUR, T0, assert_rollups_agree, generation, mixed, raw_count, unserved

OFFSET = 1_000_000.0


def test_record_round_trips_before_and_after_the_write(backend: Backend) -> None:
    ledger = backend.open(max_wait_s=30.0)  # the writer will not run before close
    record = record_of(generation(failed_first=True, cached=20), OFFSET)
    ledger.submit(record)
    assert ledger.get(record.id) is record
    assert ledger.count() == 0 and ledger.backlog == 1
    assert ledger.get("gen-0-missing") is None
    ledger.close()
    reopened = backend.open()
    assert reopened.get(record.id) == record
    assert reopened.count() == 1 and reopened.backlog == 0
    reopened.close()


def test_get_finds_record_once_written_by_the_writer(backend: Backend) -> None:
    ledger = backend.open(max_wait_s=0.005)
    record = record_of(generation(), OFFSET)
    ledger.submit(record)
    for _ in range(400):
        if ledger.backlog == 0:
            break
        threading.Event().wait(0.005)
    assert ledger.backlog == 0 and ledger.count() == 1
    assert ledger.get(record.id) == record
    ledger.close()


def test_close_flushes_everything(backend: Backend) -> None:
    ledger = backend.open()
    template = generation()
    for i in range(10_000):
        template.id = f"gen-{T0}-{i:020d}"
        ledger.submit(record_of(template, OFFSET))
    ledger.close()
    assert raw_count(backend.raw) == 10_000
    with pytest.raises(LedgerClosed):
        ledger.submit(record_of(generation(), OFFSET))
    ledger.close()  # closing twice is harmless


def test_rollups_agree_with_raw_rows(backend: Backend) -> None:
    ledger = backend.open(batch_size=97)  # many batches, so UPSERTs really accumulate
    records = [record_of(g, OFFSET) for g in mixed(3000)]
    for record in records:
        ledger.submit(record)
    ledger.close()
    assert_rollups_agree(backend.raw)
    ledger = backend.open()
    for kind in ("hourly", "daily"):
        rows = ledger.rollups(kind, since=0)
        assert sum(r.requests for r in rows) == len(records)
        assert sum(r.cost_micro for r in rows) == sum(r.cost_micro for r in records)
        assert sum(r.prompt_tokens for r in rows) == sum(r.usage.prompt_tokens for r in records)
        assert sum(r.completion_tokens for r in rows) == sum(r.usage.completion_tokens
                                                             for r in records)
        assert sum(r.errors for r in rows) == sum(r.is_error for r in records)
        assert sum(r.cancelled for r in rows) == sum(r.cancelled for r in records)
    hourly = ledger.rollups("hourly", since=0)
    assert len({r.bucket_start for r in hourly}) > 24
    assert len(ledger.rollups("daily", since=0)) < len(hourly)
    ledger.close()


def test_rollup_filters(backend: Backend) -> None:
    ledger = backend.open()
    for hour in range(3):
        for model, tag in (("acme/small", "alpha"), ("acme/large", "gamma")):
            ledger.submit(record_of(generation(model, tag, created=T0 + hour * HOUR + 5),
                                    OFFSET))
    ledger.submit(record_of(generation(created=T0, referer=None, title="Named"), OFFSET))
    ledger.close()
    ledger = backend.open()
    assert len(ledger.rollups("hourly", since=T0)) == 7
    small = ledger.rollups("hourly", since=T0 + HOUR, model="acme/small")
    assert [(r.bucket_start, r.requests) for r in small] == [(T0 + HOUR, 1), (T0 + 2 * HOUR, 1)]
    assert len(ledger.rollups("hourly", since=T0, until=T0 + HOUR)) == 3
    assert len(ledger.rollups("hourly", since=T0, endpoint="gamma")) == 3
    named = ledger.rollups("daily", since=T0, app="Named")
    assert [(r.requests, r.model) for r in named] == [(1, "acme/small")]
    [day] = ledger.rollups("daily", since=T0, model="acme/small", app="https://app.one")
    assert day.requests == 3 and day.timed_count == 3 and day.ttft_count == 3
    assert day.timed_completion_tokens == 150 and day.generation_time_ms_sum == 3000
    with pytest.raises(ValueError):
        ledger.rollups("weekly", since=0)  # type: ignore[arg-type]
    ledger.close()


def test_unserved_generation_counts_as_error_and_costs_nothing(backend: Backend) -> None:
    ledger = backend.open()
    record = record_of(unserved(attempts=3), OFFSET)
    ledger.submit(record)
    ledger.close()
    ledger = backend.open()
    [row] = ledger.rollups("hourly", since=0)
    assert (row.requests, row.errors, row.cost_micro, row.endpoint_tag) == (1, 1, 0, "")
    assert row.model == "acme/small" and row.completion_tokens == 0
    stored = ledger.get(record.id)
    assert stored == record and len(stored.attempts) == 3
    ledger.close()
    assert_rollups_agree(backend.raw)


def test_duplicate_submission_is_stored_and_counted_once(backend: Backend) -> None:
    ledger = backend.open(batch_size=2)
    record = record_of(generation(), OFFSET)
    for _ in range(5):
        ledger.submit(record)
    ledger.close()
    assert raw_count(backend.raw) == 1
    assert_rollups_agree(backend.raw)


def test_submitting_from_many_threads_is_safe(backend: Backend) -> None:
    ledger = backend.open(batch_size=256)
    per_thread = 2000
    batches = [[record_of(g, OFFSET) for g in mixed(per_thread, seed=s)] for s in range(8)]
    start = threading.Barrier(len(batches))

    def worker(records: list[GenerationRecord]) -> None:
        start.wait()
        for record in records:
            ledger.submit(record)

    threads = [threading.Thread(target=worker, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ledger.close()
    assert raw_count(backend.raw) == per_thread * len(batches)
    assert_rollups_agree(backend.raw)


def test_health_says_when_the_database_stops_taking_records(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = backend.open(max_wait_s=0.005)
    assert ledger.health() == (True, 0, None)
    cls = type(ledger)
    real_write = cls._write
    broken = threading.Event()

    def failing(self: object, *args: object) -> int:
        broken.set()
        raise OSError("disk I/O error")

    monkeypatch.setattr(cls, "_write", failing)
    record = record_of(generation(), OFFSET)
    ledger.submit(record)
    assert broken.wait(5)
    health = ledger.health()
    assert not health.ok and health.backlog == 1
    assert health.detail is not None and "records wait in the journal" in health.detail
    monkeypatch.setattr(cls, "_write", real_write)
    for _ in range(1000):  # the writer retries with backoff (≤ 2 s)
        if ledger.health().ok:
            break
        threading.Event().wait(0.01)
    assert ledger.health() == (True, 0, None) and ledger.count() == 1
    ledger.close()
