"""Keys as an operator makes them (`crossroads keys ...` beside the router) and clients for them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import openai

from tests.support import Router, http_json


class Keys:
    """The CLI on a router's state: same working directory, same config file."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.cwd = router.log.parent
        self.config = self.cwd / "crossroads.toml"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crossroads", "keys", *args, "--config", str(self.config)],
            check=False, capture_output=True, text=True, timeout=60, cwd=self.cwd)

    def create(self, *args: str) -> tuple[str, str]:
        """A new key and its hash."""
        result = self.run("create", *args)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        key_hash = next(line.split()[-1] for line in lines if line.strip().startswith("hash:"))
        return lines[-1], key_hash


def client(router: Router, key: str, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key=key, max_retries=retries)


def call(router: Router, method: str, path: str, key: str | None,
         body: Any = None) -> tuple[int, Any, dict[str, str]]:
    headers = {} if key is None else {"authorization": f"Bearer {key}"}
    return http_json(method, router.api + path, body, headers)


def chat_body(model: str, max_tokens: int = 16, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello there"}],
            "max_tokens": max_tokens, **extra}


def state_files(router: Router) -> list[Path]:
    return [p for p in router.log.parent.rglob("*") if p.is_file()]
