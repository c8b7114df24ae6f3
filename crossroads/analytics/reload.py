"""Live stats survive a restart: each endpoint starts from the ledger's last hour of rollups."""

from __future__ import annotations

import logging

from crossroads.catalog import Catalog
from crossroads.ledger.bins import Bins, merge
from crossroads.ledger.endpoint_rollup import RollupReads
from crossroads.ledger.store import HOUR_S
from crossroads.stats import LiveStats

log = logging.getLogger("crossroads.analytics")


def reload_live_stats(reads: RollupReads, catalog: Catalog, stats: LiveStats, wall_now: float,
                      loop_now: float) -> int:
    """Seed `stats` with the current and previous UTC hour; → endpoints seeded."""
    since = int(wall_now) - int(wall_now) % HOUR_S - HOUR_S
    until = since + 2 * HOUR_S
    seeded = 0
    for model in catalog.models():
        endpoints = {e.tag: e for e in catalog.endpoints(model.slug)}
        outcomes: dict[str, list[int]] = {}
        for row in reads.endpoint_rollups("hourly", model.slug, since, until):
            counts = outcomes.setdefault(row.endpoint_tag, [0, 0])
            counts[0] += row.successes
            counts[1] += row.failures
        parts: dict[str, dict[str, list[Bins]]] = {}
        for h in reads.histograms("hourly", model.slug, since, until):
            parts.setdefault(h.endpoint_tag, {}).setdefault(h.metric, []).append(h.bins)
        bins = {tag: {metric: merge(found).as_dict() for metric, found in metrics.items()}
                for tag, metrics in parts.items()}
        for tag in outcomes.keys() | bins.keys():
            endpoint = endpoints.get(tag)
            if endpoint is None:
                continue  # no longer in the catalog
            ok, failed = outcomes.get(tag, [0, 0])
            stats.seed(endpoint.key, ok, failed, bins.get(tag, {}), loop_now)
            seeded += 1
    if seeded:
        log.info("live stats: %d endpoints start from the last hour of rollups", seeded)
    return seeded
