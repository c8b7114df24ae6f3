"""Logs and metrics of real traffic, checked against the ledger the router itself wrote.

One scripted run — answers (streamed and whole, through two surfaces), a failover, a 429, a
request refused before routing and a stream the caller abandons — then: every counter at
`GET /metrics` (parsed with Prometheus' own parser) equals what the ledger's SQLite holds, and
the JSON log holds one line per generation with the ledger's ids, one per failover, one per
breaker change, and neither a secret nor the prompt.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import sqlite3
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Keys, Router, Sim, http_json, start_router, wait_for

from .conftest import MODEL, router_config

CANARY = "PROMPT-CANARY-7431 tell nobody"
SIM_SECRET = "sim-secret-key-0f9e"
MESSAGES = [{"role": "user", "content": CANARY}]
APPS = '\n[metrics]\napps = ["dashboard"]\n'


def _client(router: Router, key: str = "open-caller", title: str | None = None
            ) -> openai.OpenAI:
    headers = {} if title is None else {"X-Title": title}
    return openai.OpenAI(base_url=router.api, api_key=key, max_retries=0, timeout=30,
                         default_headers=headers)


def _pinned(*names: str, fallbacks: bool = True) -> dict[str, Any]:
    return {"provider": {"order": list(names), "allow_fallbacks": fallbacks}}


def _abandon_stream(router: Router) -> None:
    """Open a stream on the slow endpoint, read until content arrives, hang up."""
    host, port = router.root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    body = {"model": MODEL, "messages": MESSAGES, "stream": True, **_pinned("charlie")}
    conn.request("POST", "/api/v1/chat/completions", json.dumps(body),
                 {"authorization": "Bearer open-caller", "content-type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    while b'"content":"' not in (line := response.readline()) or b'"content":""' in line:
        assert line, "stream ended before any content"
    conn.close()


def _ledger(cwd: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with sqlite3.connect(cwd / "crossroads.db") as db:
        db.row_factory = sqlite3.Row
        generations = [dict(r) for r in db.execute("SELECT * FROM generations")]
        attempts = [dict(r) for r in db.execute(
            "SELECT * FROM attempts ORDER BY generation_id, ordinal")]
    return generations, attempts


def _samples(router: Router) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name → {sorted labels: value}."""
    with urllib.request.urlopen(router.root + "/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _by(samples: dict[tuple[tuple[str, str], ...], float], *names: str) -> Counter[tuple[str, ...]]:
    """Sum a sample's values by some of its labels (zero values dropped)."""
    total: Counter[tuple[str, ...]] = Counter()
    for labels, value in samples.items():
        found = dict(labels)
        total[tuple(found[n] for n in names)] += value
    return Counter({k: v for k, v in total.items() if v})


def _status_class(row: dict[str, Any], attempts: list[dict[str, Any]]) -> str:
    if row["cancelled"]:
        return "cancelled"
    if row["endpoint_tag"] is not None and row["finish_reason"] != "error":
        return "2xx"
    last = attempts[-1]["status"] if attempts else None
    return "4xx" if row["endpoint_tag"] is None and last and 400 <= last < 500 else "5xx"


def _log_lines(router: Router) -> list[dict[str, Any]]:
    return [json.loads(line) for line in router.log.read_text().splitlines() if line.strip()]


@pytest.fixture
def traffic(tmp_path: Path, fresh_sim: Sim) -> Iterator[tuple[Router, Sim, str, str]]:
    """Run the scripted traffic once; yield the router, the sim, a user key and its hash."""
    fresh_sim.patch("charlie", tokens_per_s=20, completion_tokens=400)
    router = start_router(router_config(fresh_sim, APPS), tmp_path,
                          env={"SIM_KEY": SIM_SECRET})
    try:
        key, key_hash = Keys(router).create("--name", "observed")
        chat = _client(router)
        for n in range(3):
            chat.chat.completions.create(model=MODEL, messages=MESSAGES,
                                         extra_body=_pinned("alpha", "bravo"))
            stream = _client(router, title="dashboard" if n else "someone-else")
            for _ in stream.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                    stream=True,
                                                    extra_body=_pinned("bravo")):
                pass
        _client(router, key=key).chat.completions.create(model=MODEL, messages=MESSAGES)
        messages = anthropic.Anthropic(base_url=router.api.removesuffix("/v1"), api_key=key,
                                       max_retries=0)
        messages.messages.create(model=MODEL, max_tokens=64,
                                 messages=[{"role": "user", "content": CANARY}],
                                 extra_body=_pinned("alpha"))
        # A failover: alpha fails with a 500, bravo answers; alpha's breaker opens.
        fresh_sim.script("alpha", "http_500")
        chat.chat.completions.create(model=MODEL, messages=MESSAGES,
                                     extra_body=_pinned("alpha", "bravo"))
        # A 429 with nowhere else to go.
        fresh_sim.script("bravo", "http_429")
        with pytest.raises(openai.RateLimitError):
            chat.chat.completions.create(model=MODEL, messages=MESSAGES,
                                         extra_body=_pinned("bravo", fallbacks=False))
        # Refused before routing: never a generation.
        with pytest.raises(openai.BadRequestError):
            chat.chat.completions.create(model=MODEL, messages=[])
        _abandon_stream(router)
        assert wait_for(lambda: len(_ledger(tmp_path)[0]) == 11), len(_ledger(tmp_path)[0])
        yield router, fresh_sim, key, key_hash
    finally:
        router.stop()


def test_every_counter_at_metrics_equals_the_ledger(traffic):
    router, _, _, _ = traffic
    cwd = router.log.parent
    # The abandoned stream's request ends when the router notices the caller left.
    assert wait_for(lambda: not any(
        _samples(router)["crossroads_in_flight_requests"].values()))
    generations, attempts = _ledger(cwd)
    tried: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        tried.setdefault(attempt["generation_id"], []).append(attempt)
    metrics = _samples(router)

    expected = Counter(
        (g["model"] or g["model_requested"], g["endpoint_tag"] or "none", g["surface"],
         _status_class(g, tried.get(g["id"], []))) for g in generations)
    assert _by(metrics["crossroads_requests_total"], "model", "endpoint", "surface",
               "status") == expected
    # The scripted outcomes all happened, so the equality above covers each of them.
    assert {k[3] for k in expected} == {"2xx", "4xx", "cancelled"}
    assert {k[2] for k in expected} == {"chat", "messages"}

    served = [g for g in generations if g["endpoint_tag"] is not None]
    tokens: Counter[tuple[str, ...]] = Counter()
    for g in served:
        for kind, column in (("prompt", "prompt_tokens"), ("cached", "cached_tokens"),
                             ("completion", "completion_tokens")):
            tokens[(g["endpoint_tag"], kind)] += g[column]
    assert _by(metrics["crossroads_tokens_total"], "endpoint", "kind") == +tokens
    cost = _by(metrics["crossroads_cost_usd_total"], "endpoint")
    ledger_cost = Counter({g["endpoint_tag"]: 0 for g in served})
    for g in served:
        ledger_cost[g["endpoint_tag"]] += g["cost_micro"]
    assert {k[0]: round(v * 1e6) for k, v in cost.items()} == +ledger_cost

    failovers = Counter((a["endpoint_tag"], a["failure"])
                        for rows in tried.values() for a, _ in itertools.pairwise(rows)
                        if a["failure"])
    assert _by(metrics["crossroads_failovers_total"], "endpoint", "reason") == \
        Counter({(e, r): n for (e, r), n in failovers.items()}) == {("alpha", "server_error"): 1}
    outcomes = Counter((a["endpoint_tag"], a["failure"] or "ok") for a in attempts)
    assert _by(metrics["crossroads_attempts_total"], "endpoint", "outcome") == outcomes

    latency = Counter((g["endpoint_tag"],) for g in served)
    assert _by(metrics["crossroads_latency_seconds_count"], "endpoint") == latency
    ttft = Counter((g["endpoint_tag"],) for g in served if g["ttft_ms"] is not None)
    assert _by(metrics["crossroads_ttft_seconds_count"], "endpoint") == ttft
    # Apps only from the allow-list: "dashboard" by name, the other title as "other".
    apps = _by(metrics["crossroads_app_requests_total"], "app")
    assert apps == {("dashboard",): 2, ("other",): 1, ("none",): len(generations) - 3}
    assert _by(metrics["crossroads_rejected_requests_total"], "surface", "status") == {
        ("chat", "4xx"): 1}
    # The 500 and the 429 opened two breakers; nothing closed them.
    assert _by(metrics["crossroads_breaker_open"], "endpoint") == {("alpha",): 1, ("bravo",): 1}
    assert _by(metrics["crossroads_breaker_transitions_total"], "endpoint", "state") == {
        ("alpha", "open"): 1, ("bravo", "open"): 1}
    assert metrics["crossroads_ledger_backlog"] == {(): 0.0}
    assert "crossroads_ledger_journal_lag_bytes" in metrics
    assert "crossroads_overhead_seconds_count" in metrics


def test_json_log_has_one_line_per_generation_and_no_secret_or_prompt(traffic):
    router, _, key, key_hash = traffic
    generations, attempts = _ledger(router.log.parent)
    text = router.log.read_text()
    lines = _log_lines(router)  # every line is JSON: stderr is not a terminal
    logged = [line for line in lines if line["msg"] == "generation"]
    assert sorted(line["id"] for line in logged) == sorted(g["id"] for g in generations)
    by_id = {g["id"]: g for g in generations}
    for line in logged:
        row = by_id[line["id"]]
        assert line["attempts"] == sum(a["generation_id"] == row["id"] for a in attempts)
        assert (line["endpoint"], line["completion_tokens"], line["cost_usd"]) == (
            row["endpoint_tag"], row["completion_tokens"], row["cost_micro"] / 1e6)
        assert line["key_hash"] == row["key_id"]
    assert sum(line["key_hash"] == key_hash for line in logged) == 2
    failover = [line for line in lines if line["msg"] == "failover"]
    assert [(f["from_endpoint"], f["to_endpoint"], f["reason"]) for f in failover] == [
        ("alpha", "bravo", "server_error")]
    assert failover[0]["id"] in by_id
    opened = [line for line in lines if line["msg"] == "breaker opened"]
    assert sorted(line["endpoint"] for line in opened) == ["alpha", "bravo"]
    for secret in (SIM_SECRET, key, CANARY.split(maxsplit=1)[0]):
        assert secret not in text


def test_content_is_logged_only_when_the_operator_opts_in(tmp_path, fresh_sim):
    router = start_router(router_config(fresh_sim, "\n[logging]\ncontent = true\n"),
                          tmp_path, "--log-format", "json", env={"SIM_KEY": SIM_SECRET})
    try:
        answer = _client(router).chat.completions.create(model=MODEL, messages=MESSAGES)
        assert wait_for(lambda: any(line["msg"] == "content" for line in _log_lines(router)))
    finally:
        router.stop()
    content = [line for line in _log_lines(router) if line["msg"] == "content"]
    assert [line["id"] for line in content] == [answer.id]
    assert content[0]["prompt"] == MESSAGES
    assert answer.choices[0].message.content in content[0]["completion"]
    assert SIM_SECRET not in router.log.read_text()


def test_text_log_format_is_readable_key_value_lines(tmp_path, fresh_sim):
    router = start_router(router_config(fresh_sim), tmp_path, "--log-format", "text",
                          env={"SIM_KEY": SIM_SECRET})
    try:
        answer = _client(router).chat.completions.create(model=MODEL, messages=MESSAGES)
        assert wait_for(lambda: f"id={answer.id}" in router.log.read_text())
    finally:
        router.stop()
    line = next(t for t in router.log.read_text().splitlines() if f"id={answer.id}" in t)
    assert " INFO crossroads.generation: generation " in line
    assert "status=2xx" in line and "attempts=1" in line


DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _queries(node: Any) -> Iterator[str]:
    """Every PromQL text of a dashboard: panel targets and template-variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key in ("expr", "definition") or (
                    key == "query" and "crossroads_" in value)):
                yield value
            else:
                yield from _queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _queries(item)


def test_grafana_dashboard_reads_only_series_and_labels_metrics_exposes(traffic):
    router, _, _, _ = traffic
    exposed = _samples(router)
    labels_of = {name: {k for labels in series for k, _ in labels}
                 for name, series in exposed.items()}
    queries = list(_queries(json.loads((DEPLOY / "grafana-dashboard.json").read_text())))
    assert len(queries) > 20
    used = set()
    for query in queries:
        names = set(re.findall(r"\bcrossroads_[a-z_]+\b", query))
        assert names, query
        missing = names - exposed.keys()
        assert not missing, (missing, query)
        used |= names
        # Every label a query groups or filters by is one its series carry.
        known = set().union(*(labels_of[n] for n in names)) | {"le"}
        grouped = {label.strip() for group in re.findall(r"by \(([^)]*)\)", query)
                   for label in group.split(",")}
        filtered = set(re.findall(r"[{,]\s*([a-z_]+)\s*[=!]~?", query))
        assert grouped | filtered <= known, (query, (grouped | filtered) - known)
    # The dashboard shows every family the router exports.
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in exposed
                if n.startswith("crossroads_")}
    shown = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in used}
    assert families <= shown, families - shown


def test_prometheus_scrape_config_scrapes_metrics_path():
    text = (DEPLOY / "prometheus.yml").read_text()
    assert "job_name: crossroads" in text and "metrics_path: /metrics" in text
    assert re.search(r"- 127\.0\.0\.1:8080\b", text)


def test_with_several_workers_any_scrape_counts_every_workers_requests(tmp_path, fresh_sim):
    router = start_router(router_config(fresh_sim), tmp_path, "--workers", "2",
                          env={"SIM_KEY": SIM_SECRET})
    try:
        served = {}
        for _ in range(12):  # a new connection each: the kernel spreads them over the workers
            status, body, _ = http_json("POST", router.api + "/chat/completions", {
                "model": MODEL, "messages": MESSAGES, "max_tokens": 4},
                {"authorization": "Bearer open-caller"})
            assert status == 200
            served[body["id"]] = True
        scrapes = [_samples(router) for _ in range(8)]
        # Both workers answer on the port, so the scrapes above reached both.
        assert len({http_json("GET", router.root + "/health/ready")[1]["pid"]
                    for _ in range(24)}) == 2
        assert wait_for(lambda: len(_ledger(tmp_path)[0]) == 12)
        generations, _ = _ledger(tmp_path)
    finally:
        router.stop()
    assert sorted(g["id"] for g in generations) == sorted(served)
    for samples in scrapes:
        assert sum(samples["crossroads_requests_total"].values()) == 12
        assert sum(samples["crossroads_app_requests_total"].values()) == 12
        assert not any(samples["crossroads_in_flight_requests"].values())
