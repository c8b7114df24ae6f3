"""`RollupReads` on either ledger: the model page's queries, each an indexed range read.

Every table is keyed (model, bucket_start, …), so a model's range is one contiguous B-tree
scan; sums over a range happen in SQL so only the summed rows cross into Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crossroads.ledger.bins import Bins
from crossroads.ledger.endpoint_rollup import (
    APP_COUNTERS,
    ENDPOINT_COUNTERS,
    ENDPOINT_KEY,
    AppDay,
    EndpointRollup,
    HistogramRow,
    ModelTotals,
)
from crossroads.ledger.store import BUCKET_S, RollupKind

_RANGE = "model = ? AND bucket_start >= ? AND bucket_start < ?"


def _table(prefix: str, kind: RollupKind) -> str:
    if kind not in BUCKET_S:
        raise ValueError(f"rollup kind must be one of {sorted(BUCKET_S)}, not {kind!r}")
    return f"{prefix}_{kind}"


Query = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]
"""A ledger's read: SQL with `?` placeholders and its arguments → rows (`JournaledLedger._all`)."""


class SQLRollupReads:
    """The reads in the SQL both databases speak, run by the ledger's own read function."""

    __slots__ = ("_all",)

    def __init__(self, run: Query) -> None:
        self._all = run

    def endpoint_rollups(self, kind: RollupKind, model: str, since: int,
                         until: int) -> list[EndpointRollup]:
        columns = ", ".join(ENDPOINT_KEY + ENDPOINT_COUNTERS)
        rows = self._all(f"SELECT {columns} FROM {_table('rollup_endpoint', kind)} "
                         f"WHERE {_RANGE} ORDER BY bucket_start, endpoint_tag",
                         (model, since, until))
        return [EndpointRollup(*row) for row in rows]

    def histograms(self, kind: RollupKind, model: str, since: int, until: int
                   ) -> list[HistogramRow]:
        rows = self._all(f"SELECT bucket_start, endpoint_tag, metric, bins "
                         f"FROM {_table('rollup_histogram', kind)} WHERE {_RANGE}",
                         (model, since, until))
        return [HistogramRow(start, tag, metric, Bins.decode(blob))
                for start, tag, metric, blob in rows]

    def app_days(self, model: str, since: int, until: int) -> list[AppDay]:
        rows = self._all(f"SELECT bucket_start, app, title, {', '.join(APP_COUNTERS)} "
                         f"FROM rollup_app_daily WHERE {_RANGE} ORDER BY bucket_start",
                         (model, since, until))
        return [AppDay(*row) for row in rows]

    def model_totals(self, tokens_since: int, uptime_since: int) -> dict[str, ModelTotals]:
        traffic = self._all(
            "SELECT model, SUM(requests), SUM(prompt_tokens + completion_tokens) "
            "FROM rollup_app_daily WHERE bucket_start >= ? GROUP BY model", (tokens_since,))
        outcomes = dict(
            (model, (int(ok), int(failed))) for model, ok, failed in self._all(
                "SELECT model, SUM(successes), SUM(failures) FROM rollup_endpoint_hourly "
                "WHERE bucket_start >= ? GROUP BY model", (uptime_since,)))
        totals = {model: ModelTotals(requests=int(requests), tokens=int(tokens))
                  for model, requests, tokens in traffic}
        for model, (ok, failed) in outcomes.items():
            base = totals.get(model, ModelTotals())
            totals[model] = ModelTotals(requests=base.requests, tokens=base.tokens,
                                        successes=ok, failures=failed)
        return totals
