"""The crossroads-only parts of the comparison (no competitor has an equivalent a harness can
reach): routing decision time (bench/routing_bench.py) and ledger writes (bench/ledger_bench.py).

Each runs as its own process pinned to core 0, the gateways' core, after every gateway has
stopped, so it has the core to itself as a gateway had. A bench that is missing or fails is
reported as "skipped: … (reason)" and the comparison carries on: these sections must not take
the gateway measurements down with them.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from targets import pin

BENCH = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Section:
    heading: str  # "Routing decision time"
    name: str  # "routing", for the skipped line
    text: str  # the bench's stdout (its table), or the "skipped: …" line
    seconds: float
    ok: bool


def run_section(heading: str, name: str, script: str, smoke: bool, timeout_s: float) -> Section:
    path = BENCH / script
    began = time.monotonic()

    def skipped(reason: str) -> Section:
        return Section(heading, name, f"skipped: {name} ({reason})", time.monotonic() - began,
                       False)

    if not path.exists():
        return skipped(f"bench/{script} does not exist")
    command = [*pin(0), sys.executable, str(path), *(["--smoke"] if smoke else [])]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                             check=False, cwd=BENCH.parent)
    except subprocess.TimeoutExpired:
        return skipped(f"bench/{script} ran past {timeout_s:.0f} s")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return skipped(f"bench/{script} exited {out.returncode}: {last[:200]}")
    if "|" not in out.stdout:
        return skipped(f"bench/{script} printed no table")
    return Section(heading, name, out.stdout.strip(), time.monotonic() - began, True)


def sections(smoke: bool) -> list[Section]:
    # A full ledger bench takes ~25 s, a full routing bench ~15 s; smoke modes a few seconds.
    timeout_s = 60 if smoke else 300
    return [
        run_section("Routing decision time", "routing", "routing_bench.py", smoke, timeout_s),
        run_section("Ledger writes", "ledger", "ledger_bench.py", smoke, timeout_s),
    ]


def cell(text: str, row_prefix: str, column: str) -> float:
    """The number in a markdown table's cell: the row whose first cell starts with
    `row_prefix`, the column whose header is `column`; NaN when either is not there."""
    header: list[str] | None = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None and column in cells:
            header = cells
        elif header is not None and cells and cells[0].startswith(row_prefix):
            if len(cells) != len(header):
                return math.nan
            m = re.search(r"-?[\d,]*\.?\d+", cells[header.index(column)])
            return float(m.group(0).replace(",", "")) if m else math.nan
    return math.nan


def routing_us_at_50(secs: list[Section]) -> float:
    """Balanced mode at 50 endpoints, µs per decision, from routing_bench's table."""
    for s in secs:
        if s.name == "routing" and s.ok:
            return cell(s.text, "Balanced", "50 endpoints")
    return math.nan
