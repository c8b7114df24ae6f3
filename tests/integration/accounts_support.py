"""Keys as an operator makes them (`crossroads keys ...` beside the router) and clients for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai

from tests.support import Keys, Router, http_json

__all__ = ["Keys", "call", "chat_body", "client", "state_files"]


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
