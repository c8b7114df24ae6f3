"""Structured logs: stdlib `logging` with one JSON or one text formatter for every line.

An event's facts travel as `extra={"fields": {...}}` and the formatter renders them, so no call
site formats a string: JSON (one object per line, for a log shipper) when stderr is not a
terminal or `--log-format json`, `key=value` text for a person at a terminal.

What may appear: ids, slugs, tags, statuses, failure kinds, counts, times, money, the app name
and a key's stored hash. What never does: an API key (ours or a provider's) or, unless the
operator sets `[logging] content = true`, a prompt or a completion.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal, TextIO

import orjson

from crossroads.ledger.records import GenerationRecord
from crossroads.observability.events import BreakerChange, Failover, error_class, status_class

LogFormat = Literal["auto", "json", "text"]
FIELDS = "fields"
GENERATIONS = logging.getLogger("crossroads.generation")
ROUTING = logging.getLogger("crossroads.routing")


class _Clock:
    """ISO-8601 UTC timestamps with milliseconds; the seconds part is formatted once per
    second (strftime is most of a formatter's time at thousands of lines a second)."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def stamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the event's fields, and the
    exception's traceback when there is one."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": self._clock.stamp(record.created),
                                "level": record.levelname,
                                "logger": record.name, "msg": record.getMessage()}
        fields = getattr(record, FIELDS, None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger: msg key=value …` for a terminal."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        text = f"{self._clock.stamp(record.created)} {record.levelname} {record.name}: " \
               f"{record.getMessage()}"
        fields = getattr(record, FIELDS, None)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(log_format: LogFormat = "auto", level: str = "info",
                  stream: TextIO | None = None) -> None:
    """Route every logger of the process (uvicorn's included) to one handler on stderr."""
    out = sys.stderr if stream is None else stream
    if log_format == "auto":
        log_format = "text" if out.isatty() else "json"
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # No line shows the thread or process, and gathering them costs every record (the
    # logging HOWTO's "Optimization" advice).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def emit(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """Log one event line. The record is made directly: `Logger.info` would first walk the
    stack for the caller's file and line, which an event line never shows and which costs as
    much as formatting it."""
    if logger.isEnabledFor(level):
        logger.handle(logger.makeRecord(logger.name, level, "", 0, message, (), None,
                                        extra={FIELDS: fields}))


def generation_fields(record: GenerationRecord, app: str) -> dict[str, Any]:
    usage = record.usage
    return {
        "id": record.id,
        "model": record.model or record.model_requested,
        "endpoint": record.endpoint_tag,
        "provider": record.provider_name,
        "surface": record.surface,
        "stream": record.streamed,
        "status": status_class(record),
        "finish_reason": record.finish_reason,
        "error": error_class(record),
        "attempts": len(record.attempts),
        "prompt_tokens": usage.prompt_tokens,
        "cached_tokens": usage.cached_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": record.cost_micro / 1_000_000,
        "ttft_ms": record.ttft_ms,
        "latency_ms": record.latency_ms,
        "app": app or None,
        "key_hash": record.key_id,
    }


class LogObserver:
    """The log lines of the events: one per generation, per failover, per breaker change."""

    __slots__ = ("content",)

    def __init__(self, content: bool) -> None:
        self.content = content

    @staticmethod
    def generation(record: GenerationRecord, failovers: list[Failover]) -> None:
        model = record.model or record.model_requested
        for failover in failovers:
            emit(ROUTING, logging.INFO, "failover", {
                "id": record.id, "model": model, "from_endpoint": failover.from_endpoint,
                "to_endpoint": failover.to_endpoint, "reason": failover.reason,
                "upstream_status": failover.status})
        if GENERATIONS.isEnabledFor(logging.INFO):
            # A referer's query or fragment may carry a token: the app is the URL before them.
            app = record.app.split("?", 1)[0].split("#", 1)[0]
            emit(GENERATIONS, logging.INFO, "generation", generation_fields(record, app))

    @staticmethod
    def breaker(change: BreakerChange) -> None:
        emit(ROUTING, logging.WARNING if change.opened else logging.INFO,
             "breaker opened" if change.opened else "breaker closed",
             {"model": change.model, "endpoint": change.endpoint,
              "cooldown_s": round(change.cooldown_s, 3),
              "consecutive_failures": change.consecutive_failures, "source": change.source})

    def exchange(self, generation_id: str, prompt: Any, completion: bytes | None) -> None:
        """The prompt and (for a whole answer) the completion, only when the operator opted in
        with `[logging] content = true`."""
        if self.content:
            emit(GENERATIONS, logging.INFO, "content", {
                "id": generation_id, "prompt": prompt,
                "completion": None if completion is None else completion.decode("utf-8",
                                                                                "replace")})
