"""The router's side of a replay: an operator config whose one model is the fleet.

Every simulated endpoint becomes a provider of its own (named after the endpoint, so the
`provider` of each answer says which endpoint served) with one endpoint of the replay's model, at
the price the fleet file gives it and with the fleet's TTFT and speed as the catalog's published
priors (as OpenRouter's published stats would be). Nothing else is set: the router runs on its
default timeouts, breaker and routing, which is what a replay measures.

The catalog is written once, with the prices at the start of the script; crossroads has no live
catalog reload, so a `price` event reaches the oracle and the replay's cost accounting but not the
router (the report says so when a fleet has one).
"""

from __future__ import annotations

import json
import re
from typing import Final

from crossroads.sim.profile import SimConfigError, SimFleet, SimProfile

__all__ = ["KEY_VARIABLE", "provider_slug", "router_config"]

KEY_VARIABLE: Final = "CROSSROADS_REPLAY_KEY"


def provider_slug(name: str) -> str:
    """A provider key for the config: the endpoint name, lower case, dots as dashes."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower())


def _endpoint(fleet: SimFleet, profile: SimProfile, sim_url: str, model: str) -> str:
    price = profile.price
    if price is None:
        raise SimConfigError(f"endpoint {profile.name!r} has no price: a replay needs "
                             "`price = { prompt = …, completion = … }` on every endpoint")
    slug = provider_slug(profile.name)
    prefix = fleet.prefix(profile.name) or profile.name
    return f"""
[providers.{slug}]
name = {json.dumps(profile.name)}
base_url = {json.dumps(f"{sim_url}/{prefix}/v1")}
api_key_env = "{KEY_VARIABLE}"

[[endpoints]]
model = {json.dumps(model)}
provider = "{slug}"
upstream_model = {json.dumps(profile.model)}
context_length = {profile.context_length}
max_output = {profile.max_output}
price = {{ prompt = {price.prompt!r}, completion = {price.completion!r} }}
nominal_throughput = {profile.tokens_per_s!r}
nominal_ttft_ms = {profile.ttft_ms!r}
"""


def router_config(fleet: SimFleet, sim_url: str, seed: int = 1) -> str:
    """The TOML `crossroads serve --config` reads for a replay of `fleet` served at `sim_url`."""
    slugs = [provider_slug(p.name) for p in fleet.endpoints]
    if len(set(slugs)) != len(slugs):
        raise SimConfigError("two endpoint names differ only in case or punctuation")
    model = fleet.replay.model
    context = max(p.context_length for p in fleet.endpoints)
    head = f"""
[routing]
seed = {seed}

[[models]]
slug = {json.dumps(model)}
name = "Replay"
context_length = {context}
"""
    return head + "".join(_endpoint(fleet, p, sim_url, model) for p in fleet.endpoints)
