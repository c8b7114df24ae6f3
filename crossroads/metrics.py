"""The router's own cost per request, shown to callers and to Prometheus.

Overhead is the time a request spends in crossroads that is not spent waiting for someone else:
from the moment the caller's body has arrived until the answer is handed to the HTTP server,
minus every wait for a provider (connecting, response headers, body bytes, a Retry-After
pause). It is what the router adds to what calling the provider directly would cost, as the
router itself can see it; HTTP parsing before the handler runs and the final socket write are
outside it, which is why `bench/` measures end to end as well.

* Response header `x-crossroads-overhead-ms`: the overhead up to the moment the response headers
  were sent — the whole of it for a non-streamed answer; for a stream, everything before the
  first event (validation, routing, failover, decoding the first events).
* Prometheus histogram `crossroads_overhead_seconds{stream}` at `GET /metrics`: the whole
  request's overhead, streams included to their last event (for a stream that includes writing
  each event to the caller's socket). It lives with every other series in
  `crossroads/observability/metrics.py`.
"""

from __future__ import annotations

import time

from prometheus_client.exposition import CONTENT_TYPE_LATEST

OVERHEAD_HEADER = b"x-crossroads-overhead-ms"
# Fine below a millisecond, where a router's overhead should live, coarse above it.
OVERHEAD_BUCKETS = (
    0.00005, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 1.0,
)
CONTENT_TYPE = CONTENT_TYPE_LATEST.encode("latin-1")


class OverheadTimer:
    """Started when a request's body has arrived; every wait on a provider is bracketed by
    `begin_wait` / `end_wait` and left out. Waits may overlap (two hedged attempts wait at
    once): time when any wait is open counts once."""

    __slots__ = ("_open", "_waiting_since", "started", "waited")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.waited = 0.0
        self._waiting_since = 0.0
        self._open = 0

    def begin_wait(self) -> None:
        self._open += 1
        if self._open == 1:
            self._waiting_since = time.perf_counter()

    def end_wait(self) -> None:
        self._open -= 1
        if self._open == 0:
            self.waited += time.perf_counter() - self._waiting_since
            self._waiting_since = 0.0

    def seconds(self) -> float:
        now = time.perf_counter()
        # Read mid-wait (a keep-alive sends the headers while a provider is still silent):
        # the wait so far is not overhead either.
        waiting = now - self._waiting_since if self._waiting_since else 0.0
        return max(now - self.started - self.waited - waiting, 0.0)

    def header(self) -> tuple[bytes, bytes]:
        return OVERHEAD_HEADER, b"%.3f" % (self.seconds() * 1000)
