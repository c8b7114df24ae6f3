"""The page logic in real Chromium, against twins known in advance (tests/web/fixtures.py):
every section drawn, every drawn number equal to its twin, the empty and error states."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Browser

from tests.web.browser import PHONE, Visit, value
from tests.web.fixtures import SLUG, hostile, twins
from tests.web.stub import serve_stub

SECTIONS = ("overview", "providers", "pricing", "performance", "uptime", "benchmarks", "apps",
            "activity", "api")
STATS = f"/models/{SLUG}/stats/"


def plain(body: Any) -> Any:
    """A twin as the browser receives it: JSON, unwrapped from `data`."""
    return msgspec.json.decode(msgspec.json.encode(body))["data"]


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_stub(tmp_path_factory.mktemp("busy"), twins(busy=True)) as url:
        yield url


@pytest.fixture
def visit(browser: Browser, busy: str) -> Iterator[Visit]:
    page = Visit(browser, f"{busy}/models/{SLUG}", clipboard=True).drawn()
    yield page
    page.close()


def test_every_section_is_drawn_without_errors(visit: Visit):
    assert visit.states() == dict.fromkeys(SECTIONS, "ready")
    assert visit.errors == []


def test_overview_and_providers_equal_their_twins(visit: Visit):
    overview = plain(twins(True)[STATS + "overview"])
    facts = visit.fields("[data-section=overview]")
    assert value(facts["pricing.prompt"]) == overview["pricing"]["prompt"]
    assert value(facts["context_length"]) == overview["context_length"]
    assert (facts["released"], facts["license"]) == (overview["released"], overview["license"])
    text = visit.page.locator("[data-role=description]").text_content()
    assert text == overview["description"]

    providers = plain(twins(True)[STATS + "providers"])
    drawn = visit.table("providers")
    assert list(drawn) == [row["tag"] for row in providers["endpoints"]]
    for row in providers["endpoints"]:
        cells = drawn[row["tag"]]
        for field in ("throughput_p50", "latency_p50_ms", "ttft_p50_ms", "uptime_30m",
                      "context_length", "max_output"):
            assert value(cells[field]) == row[field], (row["tag"], field)
        for field in ("prompt", "completion", "cache_read"):
            assert value(cells[f"pricing.{field}"]) == row["pricing"][field]
    picks = visit.page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        "[data-mode]")].map(li => [li.dataset.mode, li.dataset.value]))""")
    assert picks == {p["mode"]: p["tag"] or "" for p in providers["routing"]}
    assert visit.page.locator("[data-section=providers] .badge").count() == 4  # simulated


def test_pricing_performance_and_uptime_charts_equal_their_twins(visit: Visit):
    pricing = [e for e in plain(twins(True)[STATS + "pricing"])["endpoints"] if e["requests"]]
    chart = visit.chart("chart-pricing-prompt")
    assert chart is not None and chart["labels"] == [e["provider_name"] for e in pricing]
    assert chart["datasets"][0]["data"] == [e["list"]["prompt"] for e in pricing]
    assert chart["datasets"][1]["data"] == [e["effective_prompt"] for e in pricing]
    table = visit.table("pricing")
    assert {k: value(v["effective_completion"]) for k, v in table.items()} == {
        e["tag"]: e["effective_completion"] for e in pricing}

    performance = plain(twins(True)[STATS + "performance"])
    chart = visit.chart("chart-performance-latency")
    assert chart is not None
    for series in performance["endpoints"]:
        drawn = next((d for d in chart["datasets"] if d["tag"] == series["tag"]), None)
        if not series["points"]:
            assert drawn is None
            continue
        assert drawn is not None
        for point in series["points"]:
            at = chart["labels"].index(point["bucket_start"])
            assert drawn["data"][at] == point["latency_ms"]["p50"]

    uptime = plain(twins(True)[STATS + "uptime"])
    for key in ("hourly", "daily"):
        chart = visit.chart(f"chart-uptime-{key}")
        assert chart is not None
        assert chart["labels"] == [p["bucket_start"] for p in uptime["endpoints"][0][key]]
        assert {d["tag"]: d["data"] for d in chart["datasets"]} == {
            e["tag"]: [p["uptime"] for p in e[key]] for e in uptime["endpoints"]}
    summary = visit.fields("[data-role=summary]")
    assert value(summary["rescued_requests"]) == uptime["rescued_requests"]
    assert {k: value(v["rescued"]) for k, v in visit.table("uptime").items()} == {
        e["tag"]: e["rescued"] for e in uptime["endpoints"]}


def test_benchmarks_apps_and_activity_equal_their_twins(visit: Visit):
    scores = plain(twins(True)[STATS + "benchmarks"])["scores"]
    drawn = visit.table("benchmarks")
    for entry in scores:
        assert value(drawn[entry["benchmark"]]["score"]) == entry["score"]
        assert value(drawn[entry["benchmark"]]["rank_percentile"]) == entry["rank_percentile"]
    missing = visit.page.locator("[data-section=benchmarks] tr[data-key=livecodebench] .missing")
    assert missing.text_content() == "missing"

    apps = plain(twins(True)[STATS + "apps"])
    drawn = visit.table("apps")
    assert {k: value(v["tokens"]) for k, v in drawn.items() if k != "(other)"} == {
        a["app"]: a["tokens"] for a in apps["apps"]}
    assert value(drawn["(other)"]["other_tokens"]) == apps["other_tokens"]

    days = plain(twins(True)[STATS + "activity"])["days"]
    chart = visit.chart("chart-activity")
    assert chart is not None and chart["labels"] == [d["bucket_start"] for d in days]
    assert chart["datasets"][0]["data"] == [d["tokens"] for d in days]
    assert chart["datasets"][1]["data"] == [d["requests"] for d in days]


@pytest.mark.parametrize("snippet", ["python", "typescript", "curl"])
def test_copy_puts_the_snippet_with_the_real_base_url_and_slug_on_the_clipboard(
        visit: Visit, busy: str, snippet: str):
    visit.page.click(f"button[data-copy=snippet-{snippet}]")
    visit.page.wait_for_selector(f"button[data-copy=snippet-{snippet}][data-copied='1']")
    copied = visit.page.evaluate("() => navigator.clipboard.readText()")
    assert f"{busy}/api/v1" in copied and SLUG in copied
    assert copied == visit.page.locator(f"#snippet-{snippet}").text_content()
    assert visit.errors == []


def test_screenshots_desktop_and_phone(visit: Visit, browser: Browser, busy: str):
    visit.screenshot("model-page-fixtures-desktop.png")
    phone = Visit(browser, f"{busy}/models/{SLUG}", viewport=PHONE).drawn()
    try:
        assert phone.states() == dict.fromkeys(SECTIONS, "ready")
        # Wide tables scroll inside their card; the page itself never scrolls sideways.
        assert phone.page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot("model-page-fixtures-phone.png")
        assert phone.errors == []
    finally:
        phone.close()


def test_the_directory_lists_every_model_with_its_twin_numbers(browser: Browser, busy: str):
    page = Visit(browser, f"{busy}/models").drawn()
    try:
        assert page.states() == {"directory": "ready"} and page.errors == []
        row = page.table("directory")[SLUG]
        summary = plain(twins(True)["/models/stats"])[0]
        assert value(row["tokens_7d"]) == summary["tokens_7d"]
        assert value(row["uptime_1d"]) == summary["uptime_1d"]
        page.page.click(f"a[href='/models/{SLUG}']")
        page.drawn()
        assert page.page.url.endswith(f"/models/{SLUG}")
    finally:
        page.close()


def test_a_quiet_model_shows_what_to_do_in_every_empty_section(
        browser: Browser, tmp_path: Path):
    with serve_stub(tmp_path, twins(busy=False)) as root:
        page = Visit(browser, f"{root}/models/{SLUG}").drawn()
        try:
            states = page.states()
            assert states == {**dict.fromkeys(SECTIONS, "empty"), "overview": "ready",
                              "providers": "ready", "api": "ready"}
            for section in ("pricing", "performance", "uptime", "activity"):
                assert "snippet" in page.status(section), section
            assert "X-Title" in page.status("apps")
            assert "snippet" in page.status("providers")
            assert page.errors == []
            page.screenshot("model-page-empty.png")
        finally:
            page.close()


def test_a_failing_twin_leaves_its_section_in_an_error_state(browser: Browser, tmp_path: Path):
    broken = {**twins(busy=True), STATS + "uptime": None}
    with serve_stub(tmp_path, broken) as root:
        page = Visit(browser, f"{root}/models/{SLUG}").drawn()
        try:
            assert page.states()["uptime"] == "error"
            assert "Reload" in page.status("uptime")
            assert [s for s, v in page.states().items() if v != "ready"] == ["uptime"]
        finally:
            page.close()


def test_data_is_drawn_as_text_never_as_markup(browser: Browser, tmp_path: Path):
    with serve_stub(tmp_path, hostile()) as root:
        page = Visit(browser, f"{root}/models/{SLUG}").drawn()
        try:
            description = page.page.locator("[data-role=description]")
            assert description.text_content() == (
                "<img src=x onerror=alert(1)><b>not bold</b> & friends")
            assert description.locator("img, b").count() == 0
            assert "<script>" in (page.page.locator("[data-section=apps] tbody")
                                  .text_content() or "")
            # Only http(s) sources become links.
            links = page.page.locator("[data-section=benchmarks] a")
            assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
                "https://arxiv.org/abs/2311.12022"]
            assert page.errors == []
        finally:
            page.close()
