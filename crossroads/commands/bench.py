"""`crossroads bench`: drive a running router with chat requests and sum up what came back.

Each request is a real `POST /api/v1/chat/completions`; latency is the full round trip as the
client sees it, TTFT (streamed) the time to the first chunk carrying content or reasoning.
Tokens and cost come from each answer's `usage`; failovers from the ledger afterwards
(`GET /api/v1/generation` of every generation id: more than one attempt is a failover).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crossroads.commands.bench_report import Outcome, report
from crossroads.commands.options import FLAGSHIP, Exit
from crossroads.commands.remote import (
    CommandError,
    api_key,
    client,
    console,
    error_message,
    fail,
    get_json,
    quiet_http_logs,
    root_url,
)

Advance = Callable[[Outcome], None]


def run(args: argparse.Namespace) -> int:
    try:
        model = _pick_model(args)
    except CommandError as error:
        return fail("crossroads bench", error)
    out = console()
    progress = Progress(TextColumn("[bold]bench[/]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                        console=out)
    with progress:
        task = progress.add_task("requests", total=args.requests, failed=0)
        failed = 0

        def advance(outcome: Outcome) -> None:
            nonlocal failed
            failed += not outcome.ok
            progress.update(task, advance=1, failed=failed)

        outcomes, wall_s = asyncio.run(_drive(args, model, advance))
    out.print(report(outcomes, wall_s, model, args.stream, args.concurrency))
    for message in sorted({o.error for o in outcomes if o.error})[:5]:
        out.print(f"  error: {message}")
    if all(o.status is None for o in outcomes):
        return int(Exit.UNREACHABLE)
    if all(o.status in (401, 403) for o in outcomes):
        return int(Exit.REFUSED)
    return int(Exit.OK if any(o.ok for o in outcomes) else Exit.FAILED)


def _pick_model(args: argparse.Namespace) -> str:
    """The model to drive, checked against the router's catalog (which also proves it is up)."""
    with client(args) as http:
        listing = get_json(http, "/api/v1/models")
    slugs = [model["id"] for model in listing["data"]]
    if args.model is None:
        # Models whose endpoints all lack a key would only measure 404s.
        ready = [model["id"] for model in listing["data"]
                 if (model.get("crossroads") or {}).get("endpoints_available", 1) > 0]
        if not ready:
            raise CommandError("the router has no chat model it can route to", Exit.FAILED)
        return FLAGSHIP if FLAGSHIP in ready else str(ready[0])
    if args.model.split(":", 1)[0] not in slugs:
        raise CommandError(f"unknown model {args.model!r}; the router has: {', '.join(slugs)}",
                           Exit.FAILED)
    return str(args.model)


async def _drive(args: argparse.Namespace, model: str,
                 advance: Advance) -> tuple[list[Outcome], float]:
    quiet_http_logs()
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=root_url(args.url), limits=limits,
                                 timeout=httpx.Timeout(args.timeout),
                                 headers={"authorization": f"Bearer {api_key(args.key)}"}
                                 ) as http:
        numbers = iter(range(args.requests))
        outcomes: list[Outcome] = []

        async def worker() -> None:
            for number in numbers:
                outcome = await _one(http, args, model, number)
                outcomes.append(outcome)
                advance(outcome)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(args.concurrency, args.requests))))
        wall_s = time.perf_counter() - started
        return await _with_attempts(http, outcomes, args.concurrency), wall_s


async def _one(http: httpx.AsyncClient, args: argparse.Namespace, model: str,
               number: int) -> Outcome:
    body: dict[str, Any] = {
        "model": model, "max_tokens": args.max_tokens,
        "messages": [{"role": "user", "content": f"{args.prompt} (request {number})"}]}
    started = time.perf_counter()
    try:
        if args.stream:
            return await _streamed(http, {**body, "stream": True}, started)
        response = await http.post("/api/v1/chat/completions", json=body)
    except httpx.TransportError as exc:
        return Outcome(ok=False, status=None, latency_s=time.perf_counter() - started,
                       error=f"{type(exc).__name__}: {exc}")
    latency = time.perf_counter() - started
    generation_id = response.headers.get("x-generation-id")
    try:
        answer = response.json()
    except ValueError:
        answer = response.text
    if response.status_code != 200 or not isinstance(answer, dict):
        return Outcome(ok=False, status=response.status_code, latency_s=latency,
                       generation_id=generation_id, error=error_message(answer))
    return _answered(answer, latency, None, generation_id)


async def _streamed(http: httpx.AsyncClient, body: dict[str, Any], started: float) -> Outcome:
    ttft = None
    last: dict[str, Any] = {}
    usage: dict[str, Any] | None = None
    async with http.stream("POST", "/api/v1/chat/completions", json=body) as response:
        generation_id = response.headers.get("x-generation-id")
        if response.status_code != 200:
            raw = await response.aread()
            try:
                message = error_message(json.loads(raw))
            except ValueError:
                message = raw.decode(errors="replace")[:200]
            return Outcome(ok=False, status=response.status_code,
                           latency_s=time.perf_counter() - started,
                           generation_id=generation_id, error=message)
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            try:
                chunk = json.loads(line[6:])
            except ValueError:
                return Outcome(ok=False, status=200, latency_s=time.perf_counter() - started,
                               generation_id=generation_id, error="a malformed stream event")
            if "error" in chunk:
                return Outcome(ok=False, status=200, latency_s=time.perf_counter() - started,
                               generation_id=generation_id,
                               error=f"mid-stream: {error_message(chunk)}")
            if ttft is None and any(_says_something(c.get("delta") or {})
                                    for c in chunk.get("choices") or ()):
                ttft = time.perf_counter() - started
            usage = chunk.get("usage") or usage
            last = chunk
    return _answered({**last, "usage": usage}, time.perf_counter() - started, ttft,
                     generation_id)


def _says_something(delta: dict[str, Any]) -> bool:
    return bool(delta.get("content") or delta.get("reasoning") or delta.get("tool_calls"))


def _answered(answer: dict[str, Any], latency: float, ttft: float | None,
              generation_id: str | None) -> Outcome:
    usage = answer.get("usage") or {}
    return Outcome(ok=True, status=200, latency_s=latency, ttft_s=ttft,
                   prompt_tokens=int(usage.get("prompt_tokens") or 0),
                   completion_tokens=int(usage.get("completion_tokens") or 0),
                   cost=float(usage.get("cost") or 0.0),
                   generation_id=generation_id or answer.get("id"),
                   provider=answer.get("provider"))


async def _with_attempts(http: httpx.AsyncClient, outcomes: list[Outcome],
                         concurrency: int) -> list[Outcome]:
    """Each outcome with its attempt count from the ledger (None where it cannot be read)."""
    gate = asyncio.Semaphore(concurrency)

    async def attempts(outcome: Outcome) -> Outcome:
        if outcome.generation_id is None:
            return outcome
        async with gate:
            try:
                response = await http.get("/api/v1/generation",
                                          params={"id": outcome.generation_id})
            except httpx.TransportError:
                return outcome
        if response.status_code != 200:
            return outcome
        tried = response.json()["data"].get("provider_responses") or []
        return msgspec.structs.replace(outcome, attempts=len(tried))

    return list(await asyncio.gather(*(attempts(o) for o in outcomes)))
