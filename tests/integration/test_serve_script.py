"""`./scripts/serve`, the README's first command: it sets up on a fresh checkout, and once set up
it starts without running pip (no wait, no package index needed)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import READY_ROUTER

ROOT = Path(__file__).resolve().parents[2]
STAMP = Path(".venv/.crossroads-installed")
# Any `python -m pip` in the script's venv imports this instead of pip: it notes the call and
# fails, so "pip did not run" is observed, not inferred from timing or from a lucky cache.
FAKE_PIP = ('import os, sys\n'
            'with open(os.environ["FAKE_PIP_CALLS"], "a") as calls:\n'
            '    calls.write(" ".join(sys.argv[1:]) + "\\n")\n'
            'sys.exit("pip must not run")\n')


def _copy_tracked_files(destination: Path) -> None:
    """The checkout as a fresh clone has it (sources as edited here, no .venv, no build junk)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in this working tree is not copied
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)  # copy2: scripts keep their executable bit


def _offline(checkout: Path) -> dict[str, str]:
    """Settings under which every pip call fails, and is recorded."""
    fake = checkout.parent / "fake-pip"
    (fake / "pip").mkdir(parents=True, exist_ok=True)
    (fake / "pip" / "__init__.py").write_text("")
    (fake / "pip" / "__main__.py").write_text(FAKE_PIP)
    return {"PYTHONPATH": str(fake), "FAKE_PIP_CALLS": str(checkout.parent / "pip-calls"),
            "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": ""}


class Serve:
    """One `scripts/serve --port 0` run, as an operator starts it from the checkout."""

    def __init__(self, checkout: Path, env: dict[str, str] | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        environment.update(env or {})
        self.log = (checkout.parent / "serve.log").open("a")
        self.process = subprocess.Popen(["scripts/serve", "--port", "0"], cwd=checkout,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True,
                                        env=environment)

    def banner(self) -> str | None:
        """The line that says the router listens, or None if the script ended without one."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if READY_ROUTER in line:
                return line
        return None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.log.close()


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "crossroads"
    _copy_tracked_files(path)
    yield path
    shutil.rmtree(path / ".venv", ignore_errors=True)  # ~100 MB per run otherwise


@pytest.mark.timeout(600)  # the first run creates a venv and installs from the package index
def test_serve_installs_once_then_starts_without_pip(checkout: Path):
    assert not (checkout / ".venv").exists()
    first = Serve(checkout)
    try:
        assert first.banner(), (checkout.parent / "serve.log").read_text()[-3000:]
    finally:
        assert first.stop() == 0
    stamp = (checkout / STAMP).stat()
    venv_config = (checkout / ".venv/pyvenv.cfg").stat()

    offline = _offline(checkout)
    second = Serve(checkout, offline)
    try:
        assert second.banner(), (checkout.parent / "serve.log").read_text()[-3000:]
    finally:
        assert second.stop() == 0
    assert not Path(offline["FAKE_PIP_CALLS"]).exists(), "pip ran although nothing changed"
    assert (checkout / STAMP).stat().st_mtime_ns == stamp.st_mtime_ns  # not rewritten
    assert (checkout / ".venv/pyvenv.cfg").stat().st_mtime_ns == venv_config.st_mtime_ns

    # Changed dependencies do need pip: here it fails, and no stamp survives the failure.
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("# a dependency change\n")
    third = Serve(checkout, offline)
    try:
        assert third.banner() is None
    finally:
        assert third.stop() != 0
    assert Path(offline["FAKE_PIP_CALLS"]).read_text().startswith("install ")
    assert not (checkout / STAMP).exists()
