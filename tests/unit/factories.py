"""Small builders for pure unit tests."""

from __future__ import annotations

from typing import Any

import orjson

from crossroads.catalog import Catalog, DataPolicy, Endpoint, Model, Pricing
from crossroads.chat_request import ChatRequest, parse_chat_request
from crossroads.stats import Health, Percentiles, Speed, Uptime

MODEL = "test/model"


def endpoint(tag: str, prompt: float = 1.0, completion: float | None = None, **kw: Any) -> Endpoint:
    defaults: dict[str, Any] = {
        "model": MODEL,
        "provider": tag.split("/", maxsplit=1)[0],
        "provider_name": tag.title(),
        "tag": tag,
        "upstream_model": "up",
        "base_url": "http://127.0.0.1:1/v1",
        "pricing": Pricing(prompt=round(prompt * 1e6),
                           completion=round((completion if completion is not None else prompt)
                                            * 1e6)),
        "context_length": 100_000,
        "max_output": 10_000,
        "data_policy": DataPolicy(),
    }
    defaults.update(kw)
    return Endpoint(**defaults)


def catalog(*endpoints: Endpoint, exacto: str | None = None) -> Catalog:
    models = [Model(slug=MODEL, name="Test", exacto_provider=exacto,
                    input_modalities=frozenset({"text", "image"}))]
    return Catalog(models, endpoints, {})


def request(**body: Any) -> ChatRequest:
    payload: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    payload.update(body)
    return parse_chat_request(orjson.dumps(payload))


class FakeStats:
    def __init__(self, table: dict[str, Health] | None = None) -> None:
        self.table = table or {}

    def health(self, key: str, now: float) -> Health:
        return self.table.get(key.split("::")[1], Health())


def health(uptime: float | None = None, samples: int = 0, throughput: float | None = None,
           ttft_s: float | None = None, **kw: Any) -> Health:
    """A Health whose percentiles are all the given value (tests care about ordering)."""
    def flat(value: float | None) -> Percentiles | None:
        return None if value is None else Percentiles(value, value, value, value, samples=10)

    speed = Speed(throughput=flat(throughput), ttft_s=flat(ttft_s),
                  uptime_30m=Uptime(uptime, samples))
    if uptime is not None:
        # Demotion reads the recent (decayed) counts: the same ratio, `samples` as weight.
        kw.setdefault("decayed_ok", uptime * samples)
        kw.setdefault("decayed_failed", (1 - uptime) * samples)
    return Health(speed=speed, **kw)
