"""Which endpoints a section lists: the catalog's, in its order, then any the rollups remember
that the catalog no longer has (their history stays visible under their tag)."""

from __future__ import annotations

from collections.abc import Iterable

from crossroads.catalog import Catalog, Endpoint


def listed(catalog: Catalog, model: str, seen: Iterable[str]) -> list[tuple[str, str]]:
    """(tag, provider name) per endpoint to show."""
    out = [(e.tag, e.provider_name) for e in catalog.endpoints(model)]
    known = {tag for tag, _ in out}
    for tag in sorted(set(seen) - known):
        if tag:
            out.append((tag, tag))
    return out


def by_tag(catalog: Catalog, model: str) -> dict[str, Endpoint]:
    return {e.tag: e for e in catalog.endpoints(model)}
