"""Real headless Chromium for the page tests: Debian's browser driven by Playwright, never a
downloaded one, and the reading of what a page drew (see the tags `static/page.js` sets)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str:
    """`CROSSROADS_CHROMIUM`, else `chromium` on PATH; a missing browser is a failure, not a
    skip, so CI can never pass without having run these tests."""
    configured = os.environ.get("CROSSROADS_CHROMIUM")
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        raise RuntimeError(
            "tests/web need a Chromium binary: install Debian's `chromium` (.ci/run does) or "
            "point CROSSROADS_CHROMIUM at one. Playwright's own browser downloads are not used.")
    return found


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("CROSSROADS_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Reads one section's tables as {row key: {field: data-value}}.
_TABLE_JS = """section => {
  const rows = {};
  for (const tr of document.querySelectorAll(`[data-section="${section}"] tbody tr`)) {
    const fields = {};
    for (const td of tr.querySelectorAll("[data-field]")) {
      fields[td.dataset.field] = td.dataset.value;
    }
    rows[tr.dataset.key] = fields;
  }
  return rows;
}"""
_CHART_JS = """id => {
  const chart = Chart.getChart(document.getElementById(id));
  if (!chart) return null;
  return {labels: chart.data.labels, datasets: chart.data.datasets.map(
    d => ({label: d.label, tag: d.tag ?? null, data: d.data}))};
}"""


class Visit:
    """One page load in its own context, with every console error and failed request kept."""

    def __init__(self, browser: Browser, url: str, viewport: dict[str, int] = DESKTOP,
                 clipboard: bool = False) -> None:
        origin = url.split("/", 3)[:3]
        self.context: BrowserContext = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        if clipboard:
            self.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                           origin="/".join(origin))
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)
        self.response = self.page.goto(url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Request) -> None:
        self.errors.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def drawn(self, timeout_ms: float = 15_000) -> Visit:
        self.page.wait_for_selector("body[data-drawn='1']", state="attached", timeout=timeout_ms)
        return self

    def states(self) -> dict[str, str]:
        return dict(self.page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
            "[data-section]")].map(s => [s.dataset.section, s.dataset.state]))"""))

    def status(self, section: str) -> str:
        return str(self.page.locator(f"[data-section='{section}'] [data-role=status]")
                   .text_content() or "")

    def table(self, section: str) -> dict[str, dict[str, str]]:
        return dict(self.page.evaluate(_TABLE_JS, section))

    def fields(self, selector: str) -> dict[str, str]:
        """{data-field: data-value} of the tagged elements under `selector`."""
        return dict(self.page.evaluate("""sel => Object.fromEntries([...document.querySelectorAll(
            `${sel} [data-field]`)].map(e => [e.dataset.field, e.dataset.value]))""", selector))

    def chart(self, canvas_id: str) -> dict[str, Any] | None:
        result = self.page.evaluate(_CHART_JS, canvas_id)
        return None if result is None else dict(result)

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        path = artifacts_dir() / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


def value(raw: str) -> float | None:
    """A data-value back to the twin's number ("" is null)."""
    return None if raw == "" else float(raw)
