"""Running the client commands as a user would: `python -m crossroads …` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import Router, free_port

# Wide enough that rich never folds a row of the tables the tests read.
ENV = {**os.environ, "COLUMNS": "240"}
for variable in ("CROSSROADS_URL", "CROSSROADS_API_KEY"):
    ENV.pop(variable, None)


def crossroads(*args: str, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crossroads", *args], check=False,
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**ENV, **(env or {})})


def against(router: Router, *args: str) -> subprocess.CompletedProcess[str]:
    """A client command pointed at this router."""
    return crossroads(*args, "--url", router.root)


def nobody_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def line_with(text: str, output: str) -> str:
    return next(line for line in output.splitlines() if text in line)
