"""The Scout page on a real router after real traffic through the simulated fleet (failovers,
cached prompts, two apps), in real Chromium: every section drawn, the drawn numbers equal to
the JSON twins the router serves, the copy button, and the page of a router with no traffic.

These read the real twin handlers (`/api/v1/models/{author}/{slug}/stats/*`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from playwright.sync_api import Browser

from crossroads.settings import load_settings
from crossroads.sim.fleet import profile_name
from tests.support import Router, Sim, _read_ready_line, http_json, start_router, wait_for
from tests.web.browser import PHONE, ROOT, Visit, value

SCOUT = "meta-llama/llama-4-scout"
SCOUT_ENDPOINTS = {e.provider: e for e in load_settings(None, {}).catalog.endpoints(SCOUT)}
SECTIONS = ("overview", "providers", "pricing", "performance", "uptime", "benchmarks", "apps",
            "activity", "api")
# Over the sim's cache_min_tokens (1024), so the second identical prompt is a cache read.
LONG_SYSTEM = "You answer briefly. " + " ".join(f"rule {i}: be precise." for i in range(700))
APPS = ({"HTTP-Referer": "https://notes.example", "X-Title": "Notes"}, {"X-Title": "Summariser"})


def twin(router: Router, section: str) -> Any:
    status, body, _ = http_json("GET", f"{router.api}/models/{SCOUT}/stats/{section}")
    assert status == 200, (section, status, body)
    return body["data"]


def scout_config(sim: Sim) -> str:
    """The shipped Scout endpoints, each pointed at its simulated twin; a breaker that lets
    the next request try a failed endpoint again, so each scripted failure is a failover."""
    return "[breaker]\nbase_cooldown_s = 0.001\nmax_cooldown_s = 0.002\n" + "".join(
        f'[providers.{name}]\nbase_url = "{sim.base(name)}"\napi_key_env = "SIM_KEY"\n'
        for name in sorted(SCOUT_ENDPOINTS))


@pytest.fixture(scope="module")
def scout_sim() -> Iterator[Sim]:
    process = subprocess.Popen(
        [sys.executable, "-m", "crossroads", "sim", "--port", "0", "--time-scale", "0.05"],
        stdout=subprocess.PIPE, text=True)
    sim = Sim(process, _read_ready_line(process, "crossroads-sim listening on "))
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def busy(scout_sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_router(scout_config(scout_sim), tmp_path_factory.mktemp("busy"),
                          env={"SIM_KEY": "sim-key"})
    try:
        sent = drive(router, scout_sim)
        # The ledger writes off the request path; wait until it holds every request.
        assert wait_for(lambda: sum(d["requests"] for d in twin(router, "activity")["days"])
                        == sent, 30)
        yield router
    finally:
        router.stop()


def drive(router: Router, sim: Sim) -> int:
    """Scripted traffic; the number of requests the callers saw answered."""
    sent = 0
    for headers in APPS:
        client = openai.OpenAI(base_url=router.api, api_key="k", max_retries=0,
                               default_headers=headers)
        for i in range(3):
            # Streamed answers have a generation time, so the throughput chart has points.
            answer = client.chat.completions.create(
                model=SCOUT, max_tokens=16, stream=True,
                messages=[{"role": "user", "content": f"question {i}"}])
            assert [chunk for chunk in answer]
            sent += 1
    plain = openai.OpenAI(base_url=router.api, api_key="k", max_retries=0)
    # Failover: groq fails twice, each request is rescued by deepinfra.
    sim.script(profile_name(SCOUT_ENDPOINTS["groq"]), "http_502", "http_502")
    for _ in range(2):
        plain.chat.completions.create(
            model=SCOUT, max_tokens=16, messages=[{"role": "user", "content": "rescue me"}],
            extra_body={"provider": {"order": ["groq", "deepinfra"], "allow_fallbacks": True}})
        sent += 1
    # Cached prompts: the same long prefix twice at a provider whose twin caches prompts.
    sim.patch(profile_name(SCOUT_ENDPOINTS["deepinfra"]), cache=True)
    for i in range(2):
        plain.chat.completions.create(
            model=SCOUT, max_tokens=16,
            messages=[{"role": "system", "content": LONG_SYSTEM},
                      {"role": "user", "content": f"cached {i}"}],
            extra_body={"provider": {"order": ["deepinfra"], "allow_fallbacks": False}})
        sent += 1
    return sent


@pytest.fixture
def visit(browser: Browser, busy: Router) -> Iterator[Visit]:
    page = Visit(browser, f"{busy.root}/models/{SCOUT}", clipboard=True).drawn()
    yield page
    page.close()


def test_the_scout_page_draws_every_section_without_errors(visit: Visit, busy: Router):
    benchmarks = "ready" if twin(busy, "benchmarks")["scores"] else "empty"
    assert visit.states() == {**dict.fromkeys(SECTIONS, "ready"), "benchmarks": benchmarks}
    assert visit.errors == []
    desktop = visit.screenshot("model-page-live-desktop.png")
    if os.environ.get("CROSSROADS_UPDATE_DOCS") == "1":  # the README's picture, on request
        shutil.copyfile(desktop, ROOT / "docs" / "model-page.png")


def test_the_drawn_numbers_equal_the_twins(visit: Visit, busy: Router):
    providers = twin(busy, "providers")
    drawn = visit.table("providers")
    for row in providers["endpoints"]:
        for field in ("throughput_p50", "latency_p50_ms", "ttft_p50_ms", "uptime_30m"):
            assert value(drawn[row["tag"]][field]) == row[field], (row["tag"], field)

    pricing = [e for e in twin(busy, "pricing")["endpoints"] if e["requests"]]
    assert {k: (value(v["effective_prompt"]), value(v["cached_share"]))
            for k, v in visit.table("pricing").items()} == {
        e["tag"]: (e["effective_prompt"], e["cached_share"]) for e in pricing}
    assert any(e["cached_tokens"] > 0 for e in pricing), "the cached prompts were not metered"

    uptime = twin(busy, "uptime")
    assert uptime["rescued_requests"] == 2
    assert {k: (value(v["failures"]), value(v["rescued"]))
            for k, v in visit.table("uptime").items()} == {
        e["tag"]: (e["failures"], e["rescued"]) for e in uptime["endpoints"]}
    chart = visit.chart("chart-uptime-daily")
    assert chart is not None
    assert {d["tag"]: d["data"] for d in chart["datasets"]} == {
        e["tag"]: [p["uptime"] for p in e["daily"]] for e in uptime["endpoints"]}

    apps = twin(busy, "apps")
    assert {a["app"] for a in apps["apps"]} == {"https://notes.example", "Summariser"}
    assert {k: value(v["tokens"]) for k, v in visit.table("apps").items() if k != "(other)"} == {
        a["app"]: a["tokens"] for a in apps["apps"]}

    days = twin(busy, "activity")["days"]
    chart = visit.chart("chart-activity")
    assert chart is not None
    assert chart["datasets"][0]["data"] == [d["tokens"] for d in days]
    assert chart["datasets"][1]["data"] == [d["requests"] for d in days]

    performance = twin(busy, "performance")
    chart = visit.chart("chart-performance-throughput")
    assert chart is not None
    for series in performance["endpoints"]:
        drawn_series = next((d for d in chart["datasets"] if d["tag"] == series["tag"]), None)
        assert (drawn_series is None) == (not series["points"])
        for point in series["points"]:
            at = chart["labels"].index(point["bucket_start"])
            assert drawn_series is not None
            throughput = point["throughput"]  # null in an hour of whole (unstreamed) answers
            assert drawn_series["data"][at] == (throughput and throughput["p50"])


def test_copy_puts_the_routers_base_url_and_the_slug_on_the_clipboard(visit: Visit,
                                                                     busy: Router):
    visit.page.click("button[data-copy=snippet-python]")
    visit.page.wait_for_selector("button[data-copy=snippet-python][data-copied='1']")
    copied = visit.page.evaluate("() => navigator.clipboard.readText()")
    assert f'base_url="{busy.api}"' in copied and f'model="{SCOUT}"' in copied


def test_the_directory_shows_the_twin_numbers(browser: Browser, busy: Router):
    page = Visit(browser, f"{busy.root}/models").drawn()
    try:
        assert page.states() == {"directory": "ready"} and page.errors == []
        status, body, _ = http_json("GET", f"{busy.api}/models/stats")
        assert status == 200
        drawn = page.table("directory")
        for model in body["data"]:
            assert value(drawn[model["id"]]["tokens_7d"]) == model["tokens_7d"]
            assert value(drawn[model["id"]]["uptime_1d"]) == model["uptime_1d"]
        page.screenshot("models-live.png")
    finally:
        page.close()


def test_the_phone_layout_scrolls_tables_not_the_page(browser: Browser, busy: Router):
    page = Visit(browser, f"{busy.root}/models/{SCOUT}", viewport=PHONE).drawn()
    try:
        assert page.page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot("model-page-live-phone.png")
        assert page.errors == []
    finally:
        page.close()


def test_a_router_without_traffic_shows_its_empty_states(browser: Browser, tmp_path: Path):
    router = start_router("", tmp_path, "--demo")
    try:
        page = Visit(browser, f"{router.root}/models/{SCOUT}").drawn()
        try:
            states = page.states()
            for section in ("pricing", "performance", "uptime", "apps", "activity"):
                assert states[section] == "empty", section
            assert states["overview"] == states["providers"] == states["api"] == "ready"
            assert "snippet" in page.status("activity")
            assert page.page.locator("[data-section=providers] .badge").count() > 0  # simulated
            assert page.errors == []
            page.screenshot("model-page-live-empty.png")
        finally:
            page.close()
    finally:
        router.stop()
