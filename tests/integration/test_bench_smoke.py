"""The benchmarks must keep running; CI runs them briefly and asserts nothing about speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_router_benchmark_smoke():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "router_bench.py"), "--smoke"],
                            capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| latency at 100 req/s (open loop) |" in result.stdout
    assert "errors 0/0" in result.stdout
