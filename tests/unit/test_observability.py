"""The observers without a server: multiprocess metrics, the records' readings, log formats,
and when tracing is on."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crossroads.failures import Failure
from crossroads.generation import Attempt, Generation
from crossroads.ledger.records import GenerationRecord, record_of
from crossroads.observability import setup_logging, tracing_requested
from crossroads.observability.events import error_class, failovers, status_class
from crossroads.observability.logs import FIELDS, GENERATIONS, LogObserver
from crossroads.observability.metrics import (
    MULTIPROC_ENV,
    RouterMetrics,
    shared_metrics_dir,
)
from crossroads.pricing import Usage
from crossroads.settings import BreakerConfig, ConfigError, RoutingConfig, load_settings
from crossroads.stats import AttemptReport, LiveStats

from .factories import MODEL, endpoint

ROOT = Path(__file__).resolve().parents[2]


def _record(*outcomes: Failure | None, cancelled: bool = False) -> GenerationRecord:
    """A generation whose attempts end as `outcomes` (None: served, 16 tokens)."""
    generation = Generation(MODEL, streamed=True)
    for i, failure in enumerate(outcomes):
        attempt = Attempt(endpoint(("alpha", "bravo", "charlie")[i]), started=10.0 + i)
        attempt.ended = 10.5 + i
        attempt.failure = failure
        attempt.status = 500 if failure is Failure.SERVER_ERROR else (
            429 if failure is Failure.RATE_LIMITED else 200)
        if failure is None:
            attempt.first_token_at = 10.1 + i
            generation.finish_reason = "stop"
            generation.price(attempt, Usage(prompt_tokens=10, completion_tokens=16))
        generation.attempts.append(attempt)
    generation.cancelled = cancelled
    return record_of(generation, 1_000_000.0)


def test_readings_of_a_record_name_failovers_and_the_status_class():
    failover = _record(Failure.SERVER_ERROR, None)
    assert [(f.from_endpoint, f.to_endpoint, f.reason) for f in failovers(failover)] == [
        ("alpha", "bravo", "server_error")]
    assert (status_class(failover), error_class(failover)) == ("2xx", None)
    limited = _record(Failure.RATE_LIMITED)
    assert failovers(limited) == []
    assert (status_class(limited), error_class(limited)) == ("4xx", "rate_limited")
    broken = _record(Failure.SERVER_ERROR, Failure.SERVER_ERROR)
    assert (status_class(broken), error_class(broken)) == ("5xx", "server_error")
    left = _record(None, cancelled=True)
    assert (status_class(left), error_class(left)) == ("cancelled", "cancelled")


@contextlib.contextmanager
def _workers(folder: Path, *modes: str, late: bool = False
             ) -> Iterator[list[subprocess.Popen[str]]]:
    """One live worker process per mode writing to `folder` (named only after the imports when
    `late`); each has recorded its request when yielded and exits when its stdin closes."""
    env = {**os.environ, ("TEST_LATE_MULTIPROC_DIR" if late else MULTIPROC_ENV): str(folder)}
    started = [subprocess.Popen([sys.executable, "-m", "tests.unit.metrics_worker", mode],
                                env=env, cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for mode in modes]
    try:
        for process in started:
            assert process.stdout is not None
            assert int(process.stdout.readline()) == process.pid
        yield started
    finally:
        for process in started:
            _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(30) == 0


def _scrape(folder: Path) -> dict[str, float]:
    """What a scrape of any worker shows: sample name + JSON labels → value."""
    text = RouterMetrics(multiprocess_dir=str(folder)).render().decode()
    return {s.name + json.dumps(s.labels, sort_keys=True): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_two_worker_processes_write_one_folder_and_a_scrape_sums_them(tmp_path):
    with _workers(tmp_path, "answer", "failover") as (_, second):
        samples = _scrape(tmp_path)

        def value(name: str, **labels: str) -> float:
            return samples.get(name + json.dumps(labels, sort_keys=True), 0.0)

        assert value("crossroads_requests_total", model=MODEL, endpoint="alpha",
                     surface="chat", status="2xx") == 1
        assert value("crossroads_requests_total", model=MODEL, endpoint="bravo",
                     surface="chat", status="2xx") == 1
        assert value("crossroads_tokens_total", model=MODEL, endpoint="alpha",
                     kind="completion") == 16
        assert value("crossroads_attempts_total", model=MODEL, endpoint="alpha",
                     outcome="ok") == 1
        assert value("crossroads_attempts_total", model=MODEL, endpoint="alpha",
                     outcome="server_error") == 1
        assert value("crossroads_failovers_total", model=MODEL, endpoint="alpha",
                     reason="server_error") == 1
        assert value("crossroads_latency_seconds_count", model=MODEL, endpoint="alpha") == 1
        # livesum: both workers' requests in flight; livemax: one worker's open breaker.
        assert value("crossroads_in_flight_requests", surface="chat") == 2
        assert value("crossroads_in_flight_streams", surface="chat") == 1
        assert value("crossroads_breaker_open", model=MODEL, endpoint="alpha") == 1
        assert value("crossroads_ledger_backlog") == 3

        # The second worker exits: its live gauges leave the next scrape, its counts stay.
        _stop(second)
        after = _scrape(tmp_path)
        assert after['crossroads_in_flight_requests{"surface": "chat"}'] == 1
        assert 'crossroads_breaker_open{"endpoint": "alpha", "model": "test/model"}' \
            not in after
        assert after['crossroads_failovers_total{"endpoint": "alpha", "model": "test/model", '
                     '"reason": "server_error"}'] == 1


def test_the_supervisors_folder_is_private_or_the_operators_emptied(tmp_path, monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with shared_metrics_dir() as private:
        assert os.environ[MULTIPROC_ENV] == private and Path(private).is_dir()
    assert MULTIPROC_ENV not in os.environ and not Path(private).exists()
    (tmp_path / "counter_4242.db").write_bytes(b"a previous run")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    with shared_metrics_dir() as given:
        assert given == str(tmp_path) and not list(tmp_path.glob("*.db"))
    assert tmp_path.is_dir()


def test_a_folder_named_after_prometheus_client_was_imported_still_works(tmp_path):
    with _workers(tmp_path, "answer", "failover", late=True):
        samples = _scrape(tmp_path)
    assert samples['crossroads_in_flight_requests{"surface": "chat"}'] == 2
    assert samples['crossroads_failovers_total{"endpoint": "alpha", "model": "test/model", '
                   '"reason": "server_error"}'] == 1


def test_single_process_metrics_need_no_folder(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    metrics = RouterMetrics()
    assert metrics.multiprocess_dir is None
    metrics.generation_settled(_record(None), [], MODEL)
    text = metrics.render().decode()
    assert 'crossroads_requests_total{endpoint="alpha",model="test/model",status="2xx",' \
           'surface="chat"} 1.0' in text


def test_apps_outside_the_allow_list_are_other():
    metrics = RouterMetrics(["dashboard"], multiprocess_dir="")
    for title in ("dashboard", "free text 1", None):
        generation = Generation(MODEL, streamed=False, app_title=title)
        metrics.generation_settled(record_of(generation, 0.0), [], MODEL)
    text = metrics.render().decode()
    for app in ("dashboard", "other", "none"):
        assert f'crossroads_app_requests_total{{app="{app}"}} 1.0' in text
    assert "free text" not in text


@pytest.mark.parametrize(("env", "on"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
])
def test_tracing_is_opt_in_through_the_standard_variables(env, on):
    assert tracing_requested(env) is on


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_a_referers_query_never_reaches_the_log():
    out = io.StringIO()
    setup_logging("json", "info", out)
    generation = Generation(MODEL, streamed=False,
                            app_referer="https://app.example/chat?session=s3cr3t#frag")
    LogObserver(content=False).generation(record_of(generation, 0.0), [])
    line = json.loads(out.getvalue())
    assert line["app"] == "https://app.example/chat"
    assert "s3cr3t" not in out.getvalue()


def test_logging_settings_are_checked_with_their_key_path(tmp_path):
    config = tmp_path / "crossroads.toml"
    config.write_text('[logging]\nformat = "xml"\n')
    with pytest.raises(ConfigError, match=r"logging\.format"):
        load_settings(str(config))
    config.write_text('[logging]\nlevel = "warning"\ncontent = true\n'
                      '[metrics]\napps = ["dashboard"]\n')
    settings = load_settings(str(config))
    assert (settings.logging.level, settings.logging.content, settings.metrics.apps) == (
        "warning", True, ["dashboard"])


@pytest.mark.usefixtures("restore_logging")
def test_log_formats_render_the_events_fields():
    out = io.StringIO()  # not a terminal: auto means JSON
    setup_logging("auto", "info", out)
    GENERATIONS.info("generation", extra={FIELDS: {"id": "gen-1", "cost_usd": 0.5}})
    GENERATIONS.debug("hidden", extra={FIELDS: {"id": "gen-2"}})
    line = json.loads(out.getvalue())
    assert (line["msg"], line["id"], line["cost_usd"], line["level"]) == (
        "generation", "gen-1", 0.5, "INFO")
    assert "gen-2" not in out.getvalue()
    text = io.StringIO()
    setup_logging("text", "debug", text)
    GENERATIONS.debug("generation", extra={FIELDS: {"id": "gen-3", "app": None}})
    assert text.getvalue().rstrip().endswith("DEBUG crossroads.generation: generation id=gen-3")


def test_live_stats_report_each_breaker_opening_and_the_closing():
    stats = LiveStats(RoutingConfig(), BreakerConfig(base_cooldown_s=2, max_cooldown_s=60))
    heard: list[tuple[str, bool, float, int, bool]] = []
    stats.on_breaker(lambda *change: heard.append(change))
    fault = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=True)
    key = f"{MODEL}::alpha"
    stats.record(key, AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False),
                 1.0)
    stats.record(key, fault, 2.0)
    stats.record(key, fault, 5.0)  # the probe failed: open again, for twice as long
    stats.record(key, AttemptReport(ok=False, counts_against_uptime=False,
                                    trips_breaker=False), 6.0)  # a caller's mistake: no change
    stats.record(key, AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False),
                 10.0)
    stats.absorb(key, fault, 11.0, 31.0, 12.0)  # another replica's breaker opened until 31
    assert heard == [(key, True, 2.0, 1, True), (key, True, 4.0, 2, True),
                     (key, False, 0.0, 0, True), (key, True, 19.0, 1, False)]
