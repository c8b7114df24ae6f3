"""How one replica learns what another saw: pure units over LiveStats, two clocks apart."""

from __future__ import annotations

import msgspec
import pytest

from crossroads.routing.sticky import StickyTable
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.shared_state.outcomes import (
    Batch,
    Outbox,
    Outcome,
    Pin,
    merge,
    merge_pins,
    pack,
    unpack,
)
from crossroads.stats import AttemptReport, LiveStats

FAIL = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=True)
OK = AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False, ttft_s=0.2,
                   latency_s=1.0, completion_tokens=100, generation_s=0.5)
RATE_LIMITED = AttemptReport(ok=False, counts_against_uptime=False, trips_breaker=True,
                             retry_after_s=5.0)
# Each replica's loop clock has its own origin: unix = loop + offset. T is a unix time.
T = 1_800_000_000.0
THERE, HERE = T - 1_000.0, T - 250_000.0


class Recorder:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def recorded(self, key: str, report: AttemptReport, at: float,
                 cooling_until: float) -> None:
        self.outcomes.append(Outcome.of(key, report, at, cooling_until, THERE))


def stats(base: float = 10.0, maximum: float = 60.0) -> LiveStats:
    return LiveStats(RoutingConfig(), BreakerConfig(base_cooldown_s=base, max_cooldown_s=maximum))


def replicas() -> tuple[LiveStats, Recorder, LiveStats]:
    """(the replica that sees traffic, what it publishes, the replica that learns of it)."""
    seen, learns = stats(), stats()
    wire = Recorder()
    seen.listen(wire)
    return seen, wire, learns


def here(unix: float) -> float:
    return unix - HERE


def there(unix: float) -> float:
    return unix - THERE


def test_a_breaker_opened_there_is_open_here_until_the_same_moment():
    seen, wire, learns = replicas()
    seen.record("alpha", FAIL, there(T + 0))
    assert [o.cooling_until for o in wire.outcomes] == [T + 10]  # unix time on the wire
    assert merge(learns, wire.outcomes, HERE, here(T + 0.1)) == 1
    health = learns.health("alpha", here(T + 0.1))
    assert health.cooling_until == pytest.approx(here(T + 10))
    assert not learns.try_begin("alpha", here(T + 9.9))
    assert learns.try_begin("alpha", here(T + 10))  # cooled: one probe, as after a local failure
    assert not learns.try_begin("alpha", here(T + 10))


def test_a_retry_after_there_is_believed_here():
    seen, wire, learns = replicas()
    seen.record("alpha", RATE_LIMITED, there(T + 0))
    merge(learns, wire.outcomes, HERE, here(T + 0))
    assert learns.health("alpha", here(T + 0)).cooling_until == pytest.approx(here(T + 5))
    # A 429 trips the breaker but never counts against uptime, there or here.
    assert learns.health("alpha", here(T + 0)).recent_failures == 0


def test_a_success_there_closes_a_breaker_opened_before_it_only():
    seen, wire, learns = replicas()
    learns.record("alpha", FAIL, here(T + 0))
    seen.record("alpha", OK, there(T + 1))
    merge(learns, wire.outcomes, HERE, here(T + 1.2))
    assert learns.try_begin("alpha", here(T + 1.2))
    learns.record("alpha", FAIL, here(T + 2))  # failed again, after that success
    wire.outcomes.clear()
    seen.record("alpha", OK, there(T + 1.5))     # a success older than the new failure, late
    merge(learns, wire.outcomes, HERE, here(T + 2.1))
    assert not learns.try_begin("alpha", here(T + 2.1))


def test_merging_never_ends_a_probe_running_here():
    seen, wire, learns = replicas()
    learns.record("alpha", FAIL, here(T + 0))
    assert learns.try_begin("alpha", here(T + 10))  # this replica's probe is out
    seen.record("alpha", FAIL, there(T + 10.1))
    merge(learns, wire.outcomes, HERE, here(T + 10.2))
    assert learns.health("alpha", here(T + 10.2)).probing


def test_outcomes_fill_the_outage_window_and_age_out_of_it():
    seen, wire, learns = replicas()
    for t in (0.0, 1.0, 2.0):
        seen.record("alpha", FAIL, there(T + t))
    merge(learns, wire.outcomes, HERE, here(T + 2.1))
    health = learns.health("alpha", here(T + 2.1))
    assert (health.recent_attempts, health.recent_failures) == (3, 3)
    outage_at = learns.endpoint_stats("alpha", here(T + 2.1)).last_outage_at
    assert outage_at == pytest.approx(here(T + 2))
    # The outage window is 30 s: the first of them leaves it at T + 30, as it does there.
    assert learns.health("alpha", here(T + 30.5)).recent_failures == 2
    assert seen.health("alpha", there(T + 30.5)).recent_failures == 2


def test_outcomes_older_than_the_outage_window_count_for_uptime_only():
    seen, wire, learns = replicas()
    seen.record("alpha", FAIL, there(T + 0))
    merge(learns, wire.outcomes, HERE, here(T + 40))  # a replica catching up from the stream
    health = learns.health("alpha", here(T + 40))
    assert health.recent_failures == 0
    assert health.speed.uptime_5m.samples == 1 and health.speed.uptime_5m.ratio == 0.0


def test_a_late_outcome_keeps_the_outage_window_in_order():
    seen, wire, learns = replicas()
    learns.record("alpha", OK, here(T + 10))
    seen.record("alpha", FAIL, there(T + 9.8))  # happened first, arrives second
    merge(learns, wire.outcomes, HERE, here(T + 10.1))
    # Filed no earlier than the latest outcome here, so both leave the window together.
    assert learns.health("alpha", here(T + 39.9)).recent_attempts == 2
    assert learns.health("alpha", here(T + 40.1)).recent_attempts == 0


def test_speed_and_uptime_are_learnt_from_successes_there():
    seen, wire, learns = replicas()
    for t in range(5):
        seen.record("alpha", OK, there(T + t))
    merge(learns, wire.outcomes, HERE, here(T + 5))
    speed = learns.health("alpha", here(T + 5)).speed
    assert speed.uptime_30m.samples == 5 and speed.uptime_30m.ratio == 1.0
    assert speed.ttft_s is not None and speed.ttft_s.p50 == pytest.approx(0.2, rel=0.03)
    assert speed.throughput is not None and speed.throughput.p50 == pytest.approx(200, rel=0.03)


def test_a_caller_error_changes_nothing_there_or_here():
    seen, wire, learns = replicas()
    caller = AttemptReport(ok=False, counts_against_uptime=False, trips_breaker=False)
    seen.record("alpha", caller, there(T + 0))
    merge(learns, wire.outcomes, HERE, here(T + 0))
    health = learns.health("alpha", here(T + 0))
    assert (health.cooling_until, health.recent_attempts, health.speed.uptime_5m.samples) == \
        (0.0, 0, 0)


def test_a_batch_survives_the_wire_and_garbage_does_not_decode():
    seen, wire, _ = replicas()
    seen.record("alpha", OK, there(T + 0))
    seen.record("bravo", FAIL, there(T + 0.5))
    batch = Batch("replica-1", wire.outcomes, [Pin("s:chat-1", "alpha", T)])
    assert unpack(pack(batch)) == batch
    # A batch from a replica that shares no pins (an older version) still reads.
    assert unpack(pack(Batch("replica-1", wire.outcomes))) == Batch("replica-1", wire.outcomes)
    assert unpack(b"\x93not a batch") is None
    assert unpack(b"") is None


def outcome(at: float) -> Outcome:
    return Outcome("alpha", at, ok=False, counts_against_uptime=True, trips_breaker=False,
                   cooling_until=0.0)


def test_the_outbox_drops_stale_outcomes_and_keeps_order_when_a_flush_fails():
    box = Outbox(limit=4)
    for at in (100.0, 140.0, 141.0):
        box.put(outcome(at))
    box.pin(Pin("s:old-chat", "alpha", 100.0))  # pins outlive the outage window
    taken, pins = box.take(now_wall=150.0, max_age_s=30.0)
    assert [o.at for o in taken] == [140.0, 141.0]
    assert [p.conversation for p in pins] == ["s:old-chat"]
    box.put(outcome(142.0))
    box.put_back(taken, pins)  # the flush failed: they go first again
    taken, pins = box.take(150.0, 30.0)
    assert [o.at for o in taken] == [140.0, 141.0, 142.0]
    assert len(pins) == 1 and len(box) == 0


def test_the_outbox_is_bounded_and_a_failed_flush_gives_way_to_newer_outcomes():
    box = Outbox(limit=3)
    for at in range(5):
        box.put(outcome(100.0 + at))
    assert len(box) == 3
    taken, _ = box.take(110.0, 30.0)
    assert [o.at for o in taken] == [102.0, 103.0, 104.0]
    box.put(outcome(105.0))
    box.put(outcome(106.0))
    box.put_back(taken, [])  # room for one: the newest of the failed flush
    assert [o.at for o in box.take(110.0, 30.0)[0]] == [104.0, 105.0, 106.0]


def test_a_pin_made_there_is_adopted_here_and_expires_on_the_same_idle_time():
    table = StickyTable(idle_s=600)
    merge_pins(table, [Pin("s:chat", "alpha", T + 10)], HERE, here(T + 10.2))
    assert table.lookup("s:chat", here(T + 609)) == "alpha"
    assert table.lookup("s:chat", here(T + 611)) is None


def test_a_newer_pin_wins_whichever_replica_made_it():
    table = StickyTable(idle_s=600)
    table.adopt("s:chat", "bravo", here(T + 20))
    merge_pins(table, [Pin("s:chat", "alpha", T + 10)], HERE, here(T + 21))  # older: ignored
    assert table.lookup("s:chat", here(T + 21)) == "bravo"
    merge_pins(table, [Pin("s:chat", "alpha", T + 30)], HERE, here(T + 31))
    assert table.lookup("s:chat", here(T + 31)) == "alpha"
    # A replica whose clock runs ahead cannot make a pin outlive its idle time here.
    merge_pins(table, [Pin("s:ahead", "alpha", T + 100)], HERE, here(T + 40))
    assert table.lookup("s:ahead", here(T + 641)) is None


def test_a_success_there_that_began_before_the_breaker_opened_here_does_not_close_it():
    seen, wire, learns = replicas()
    learns.record("alpha", FAIL, here(T + 0))                 # opened here at T
    began = AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False,
                          started=there(T - 0.5))
    seen.record("alpha", began, there(T + 0.5))               # began before T, ended after
    assert wire.outcomes[-1].started == pytest.approx(T - 0.5)  # unix time on the wire
    merge(learns, wire.outcomes, HERE, here(T + 0.6))
    assert learns.health("alpha", here(T + 0.6)).cooling_until == pytest.approx(here(T + 10))
    wire.outcomes.clear()
    seen.record("alpha", AttemptReport(ok=True, counts_against_uptime=True,
                                       trips_breaker=False, started=there(T + 0.2)),
                there(T + 0.7))                               # began after it opened: closes
    merge(learns, wire.outcomes, HERE, here(T + 0.8))
    assert learns.health("alpha", here(T + 0.8)).cooling_until == 0.0


def test_batches_without_the_start_still_decode():
    old = Batch("r", [Outcome("k", T, True, True, False, 0.0)])
    legacy = msgspec.msgpack.encode(["r", [["k", T, True, True, False, 0.0]], []])
    assert unpack(legacy) == old and unpack(pack(old)) == old
