"""The command line as an operator meets it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crossroads", *args], check=False,
                          capture_output=True,
                          text=True, timeout=60, cwd=cwd)


def test_invalid_config_fails_at_start_with_the_key_path(tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text("[[endpoints]]\nmodel = 'meta-llama/llama-4-scout'\nprovider = 'groq'\n"
                      "price = { prompt = 'free', completion = 1 }\n")
    result = run("serve", "--config", str(config), "--port", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "endpoints[0].price.prompt" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_a_clear_error(tmp_path: Path):
    result = run("serve", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "keys.toml"
        config.write_text("[providers.local]\nname = 'Local'\nbase_url = 'http://127.0.0.1:9/v1'\n"
                          "[[endpoints]]\nmodel = 'meta-llama/llama-4-scout'\n"
                          "provider = 'local'\ncontext_length = 1000\n"
                          "price = { prompt = 0, completion = 0 }\n")
        result = run("serve", "--config", str(config), "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2 and "cannot listen" in result.stderr
