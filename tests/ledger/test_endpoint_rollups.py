"""The model page's rollups: per attempt, per endpoint, histograms and apps, checked by hand and
against the raw attempt rows they summarise."""

from __future__ import annotations

from crossroads.failures import Failure
from crossroads.generation import Attempt, Generation
from crossroads.ledger import record_of
from crossroads.ledger.bins import merge
from crossroads.ledger.endpoint_rollup import EndpointBatch, EndpointRollup
from crossroads.windows import bin_of, bin_value
from tests.ledger.backends import Backend, Ledger
from tests.ledger.builders import HOUR, MODELS, T0, endpoint, generation, mixed

MODEL = MODELS[0]


def _write(backend: Backend, generations: list[Generation], batch_size: int = 2000
           ) -> Ledger:
    ledger = backend.open(batch_size=batch_size)
    for g in generations:
        ledger.submit(record_of(g, 0.0))
    ledger.close()
    return backend.open()


def _by_tag(rows: list[EndpointRollup]) -> dict[str, EndpointRollup]:
    return {r.endpoint_tag: r for r in rows}


def test_a_rescued_failure_counts_against_the_endpoint_that_failed(backend: Backend) -> None:
    rescued = generation(failed_first=True)
    plain = generation(created=T0 + 10)
    ledger = _write(backend, [rescued, plain])
    rows = _by_tag(ledger.analytics.endpoint_rollups("hourly", MODEL, T0, T0 + HOUR))
    broken, alpha = rows["broken"], rows["alpha"]
    assert (broken.attempts, broken.successes, broken.failures, broken.rescued) == (1, 0, 1, 1)
    assert (broken.served, broken.rescues, broken.prompt_tokens) == (0, 0, 0)
    assert (alpha.attempts, alpha.successes, alpha.failures, alpha.rescued) == (2, 2, 0, 0)
    assert (alpha.served, alpha.rescues) == (2, 1)
    ledger.close()


def test_rate_limits_and_caller_errors_are_attempts_but_not_failures() -> None:
    g = generation()
    for i, failure in enumerate((Failure.RATE_LIMITED, Failure.CALLER_ERROR,
                                 Failure.CONTEXT_LENGTH)):
        a = Attempt(endpoint(MODEL, f"x{i}"), 400.0)
        a.failure = failure
        a.ended = 400.5
        g.attempts.insert(0, a)
    batch = EndpointBatch()
    batch.add(record_of(g, 0.0))
    rows = {row[2]: row for row in batch.endpoint_rows()["hourly"]}
    for tag in ("x0", "x1", "x2"):
        assert rows[tag][3:7] == (1, 0, 0, 0), tag  # attempts, successes, failures, rescued
    assert rows["alpha"][3:5] == (1, 1)
    assert rows["alpha"][8] == 1  # rescues: served after an earlier failed attempt


def test_paid_prompt_and_completion_split_the_cost_exactly(backend: Backend) -> None:
    # $1/M prompt, $2/M completion, cache reads $0.10/M: 900 fresh + 100 cached prompt tokens
    # cost 900 + 10 micro-dollars; 500 completion tokens cost 1000.
    g = generation(prompt=1000, cached=100, completion=500)
    ledger = _write(backend, [g])
    (row,) = ledger.analytics.endpoint_rollups("daily", MODEL, T0, T0 + 86400)
    assert (row.paid_prompt_micro, row.paid_completion_micro) == (910, 1000)
    assert (row.priced_prompt_tokens, row.priced_completion_tokens) == (1000, 500)
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (1000, 100, 500)
    assert row.paid_prompt_micro + row.paid_completion_micro == g.cost_micro
    ledger.close()


def test_histograms_hold_what_live_stats_learn(backend: Backend) -> None:
    # builders: first token 0.1 s after the attempt starts, end at 1.1 s, 50 completion tokens
    ledger = _write(backend, [generation(completion=50)])
    rows = ledger.analytics.histograms("hourly", MODEL, T0, T0 + HOUR)
    by_metric = {r.metric: r.bins.as_dict() for r in rows}
    assert by_metric == {"latency": {bin_of(1.1): 1}, "ttft": {bin_of(0.1): 1},
                         "throughput": {bin_of(50.0): 1}}
    assert abs(bin_value(bin_of(50.0)) - 50.0) / 50.0 < 0.025
    assert all(r.bucket_start == T0 for r in rows)
    ledger.close()


def test_daily_rows_are_sums_of_hourly_ones_and_attempts_agree_with_raw_rows(
        backend: Backend) -> None:
    generations = mixed(600)
    ledger = _write(backend, generations, batch_size=61)
    since, until = T0 - 86400, T0 + 5 * 86400
    raw = dict(((model, tag), n) for model, tag, n in backend.raw(
        "SELECT model, endpoint_tag, COUNT(*) FROM attempts GROUP BY 1, 2"))
    for model in MODELS:
        hourly = ledger.analytics.endpoint_rollups("hourly", model, since, until)
        daily = ledger.analytics.endpoint_rollups("daily", model, since, until)
        for field in ("attempts", "successes", "failures", "rescued", "served",
                      "paid_prompt_micro", "completion_tokens"):
            assert sum(getattr(r, field) for r in hourly) == \
                sum(getattr(r, field) for r in daily), (model, field)
        per_tag: dict[str, int] = {}
        for r in daily:
            per_tag[r.endpoint_tag] = per_tag.get(r.endpoint_tag, 0) + r.attempts
        assert per_tag == {tag: n for (m, tag), n in raw.items() if m == model}
        daily_bins = ledger.analytics.histograms("daily", model, since, until)
        hourly_bins = ledger.analytics.histograms("hourly", model, since, until)
        for metric in ("latency", "ttft", "throughput"):
            by_day = merge(r.bins for r in daily_bins if r.metric == metric)
            by_hour = merge(r.bins for r in hourly_bins if r.metric == metric)
            assert by_day.as_dict() == by_hour.as_dict(), (model, metric)
        # every successful attempt filed exactly one latency sample
        assert merge(r.bins for r in daily_bins if r.metric == "latency").total == \
            sum(r.successes for r in daily)
    ledger.close()


def test_app_days_keep_the_latest_title_and_every_request(backend: Backend) -> None:
    generations = [generation(referer="https://app.one", title=None, created=T0),
                   generation(referer="https://app.one", title="One", created=T0 + 5),
                   generation(referer=None, title=None, created=T0 + 6)]
    ledger = _write(backend, generations)
    days = {d.app: d for d in ledger.analytics.app_days(MODEL, T0, T0 + 86400)}
    assert days["https://app.one"].title == "One"
    assert days["https://app.one"].requests == 2
    assert days[""].requests == 1
    totals = ledger.analytics.model_totals(T0, T0)
    assert totals[MODEL].requests == 3
    assert totals[MODEL].tokens == 3 * 150
    assert (totals[MODEL].successes, totals[MODEL].failures) == (3, 0)
    ledger.close()
