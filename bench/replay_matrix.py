"""Every shipped replay fleet in every routing mode: the numbers for bench/RESULTS.md.

    python bench/replay_matrix.py                       # all of bench/replay/*.toml × 4 modes
    python bench/replay_matrix.py --fleet bench/replay/incidents.toml --mode nitro
    python bench/replay_matrix.py --out /tmp/replay     # keep each run's JSON and requests

Runs `crossroads replay --json` once per (fleet, mode), one after another (each starts its own
simulator and router), and prints one markdown table row per run, ending with the machine's
1-minute load average when the run started (other work on the machine slows the router, the
simulator and the client alike). About 3 minutes per mode for the three shipped fleets at 10
requests/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

MODES = ("balanced", "floor", "nitro", "exacto")
HERE = Path(__file__).resolve().parent


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _worst(run: dict[str, Any], done: str, seconds: str) -> str:
    flags = [i[done] for i in run["incidents"]]
    if all(f is None for f in flags):
        return "n/a"
    text = f"{run[seconds]:.1f}"
    return text if False not in flags else f"never (> {text})"


def row(fleet: str, run: dict[str, Any]) -> str:
    ttft = "-" if run["ttft_p50_s"] is None else \
        f"{run['ttft_p50_s'] * 1000:.0f} / {run['ttft_p99_s'] * 1000:.0f}"
    return (f"| {fleet} | {run['mode']} | {run['success_rate']:.2%} | "
            f"{_ratio(run['cost_vs_oracle'])} | {_ratio(run['cost_vs_policy'])} | "
            f"{_ratio(run['throughput_vs_oracle'])} | {ttft} | {run['wasted_attempts']} | "
            f"{_worst(run, 'reacted', 'max_react_s')} | "
            f"{_worst(run, 'recovered', 'max_recovery_s')} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleet", action="append", default=None)
    parser.add_argument("--mode", action="append", choices=MODES, default=None)
    parser.add_argument("--out", default=None, help="keep each run's JSON in this directory")
    args = parser.parse_args()
    fleets = args.fleet or sorted(str(p.relative_to(HERE.parent))
                                  for p in (HERE / "replay").glob("*.toml"))
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}")
    print("| fleet | mode | success | cost ÷ oracle | cost ÷ policy | throughput ÷ oracle | "
          "TTFT p50 / p99 ms | wasted attempts | max reaction s | max recovery s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fleet in fleets:
        for mode in args.mode or MODES:
            load = os.getloadavg()[0]
            save = [] if out is None else ["--save", str(out / f"{Path(fleet).stem}-{mode}.jsonl")]
            result = subprocess.run(
                [sys.executable, "-m", "crossroads", "replay", fleet, "--mode", mode, "--json",
                 *save], capture_output=True, text=True, check=False, cwd=HERE.parent)
            if result.returncode != 0:
                print(f"| {fleet} | {mode} | failed: {result.stderr.strip()[-200:]} |")
                continue
            run = json.loads(result.stdout)
            if out is not None:
                (out / f"{Path(fleet).stem}-{mode}.json").write_text(result.stdout)
            print(f"{row(Path(fleet).stem, run)} {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
