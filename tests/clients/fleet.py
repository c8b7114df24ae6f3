"""The catalog every client test runs against: two models, four simulated endpoints.

    acme/main     alpha    $10/$20 per 1M   text+image  tools, response_format  ctx  8192  out 1024
                  bravo    $20/$40          text+image  (no tools)              ctx  8192  out 1024
                  charlie  $30/$60          text        tools                   ctx 32768  out 1024
    acme/backup   delta    $15/$30          text        tools                   ctx 32768  out 8192

Prices are whole dollars per million tokens, so a token costs a whole number of micro-dollars and
every expected cost is exact integer arithmetic. Charlie is by far the fastest, in the catalog's
prior and in the simulator alike, so `:nitro` has one right answer before and after measuring.
A `max_tokens` above 1024 fits only acme/backup: the `models` fallback list's test case.

Speeds: the simulator sends a stream's first token, then the rest after at least 5 ms, so even
Charlie's measured throughput stays under ~1,600 tokens/s; the others are held to 100, so the
measured order matches the catalog's prior by an order of magnitude on a loaded machine too.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

MAIN = "acme/main"
BACKUP = "acme/backup"
UNKNOWN_MODEL = "nobody/nothing"
MAX_OUTPUT_MAIN = 1024
COMPLETION_TOKENS = 12  # what every simulated endpoint answers when max_tokens allows


@dataclass(frozen=True)
class Endpoint:
    slug: str  # provider slug, sim endpoint name and catalog tag at once
    model: str
    name: str  # the provider's display name: what `provider` says in an answer
    prompt_price: int  # USD per 1M tokens
    completion_price: int
    images: bool
    parameters: tuple[str, ...]
    context_length: int
    max_output: int
    tokens_per_s: float

    def cost_micro_usd(self, prompt_tokens: int, completion_tokens: int) -> int:
        return prompt_tokens * self.prompt_price + completion_tokens * self.completion_price


BASE_PARAMETERS = ("max_tokens", "temperature", "seed", "stop")
ENDPOINTS = (
    Endpoint("alpha", MAIN, "Alpha", 10, 20, True,
             (*BASE_PARAMETERS, "tools", "tool_choice", "response_format", "structured_outputs"),
             8192, MAX_OUTPUT_MAIN, 100),
    Endpoint("bravo", MAIN, "Bravo", 20, 40, True, BASE_PARAMETERS, 8192, MAX_OUTPUT_MAIN, 100),
    Endpoint("charlie", MAIN, "Charlie", 30, 60, False, (*BASE_PARAMETERS, "tools", "tool_choice"),
             32768, MAX_OUTPUT_MAIN, 20000),
    Endpoint("delta", BACKUP, "Delta", 15, 30, False, (*BASE_PARAMETERS, "tools", "tool_choice"),
             32768, 8192, 100),
)
BY_SLUG = {e.slug: e for e in ENDPOINTS}
BY_NAME = {e.name: e for e in ENDPOINTS}
MAIN_ENDPOINTS = tuple(e for e in ENDPOINTS if e.model == MAIN)

# A 1×1 PNG, as an image content part sends it.
PNG_DATA_URI = "data:image/png;base64," + base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()

# What the client scripts need to build their requests: one source of truth for all of them.
SCENARIO_CONTEXT = {
    "main": MAIN,
    "backup": BACKUP,
    "unknown_model": UNKNOWN_MODEL,
    "image_url": PNG_DATA_URI,
    "over_main_max_output": MAX_OUTPUT_MAIN + 500,
    "tool_name": "get_weather",
}


def fleet_toml() -> str:
    rows = []
    for e in ENDPOINTS:
        rows.append(f"""
[[endpoint]]
name = "{e.slug}"
model = "{e.slug}-model"
context_length = {e.context_length}
max_output = {e.max_output}
ttft_ms = 2
ttft_sigma = 0
tokens_per_s = {e.tokens_per_s}
tps_sigma = 0
completion_tokens = {COMPLETION_TOKENS}
supports_images = {"true" if e.images else "false"}
supports_tools = {"true" if "tools" in e.parameters else "false"}
""")
    return "seed = 11\ntime_scale = 1.0\n" + "".join(rows)


def router_toml(sim_base: dict[str, str]) -> str:
    """The router's config; `sim_base` maps each endpoint's slug to its simulated base URL."""
    models = f"""
[routing]
seed = 1
# One scripted failure must not demote an endpoint for the tests after it.
outage_min_failures = 1000

[timeouts]
headers_s = 10
first_token_s = 10
stall_s = 10
total_s = 30
keepalive_s = 2

[breaker]
# A failed endpoint is routable again at once: a failover test leaves no state behind.
base_cooldown_s = 0
max_cooldown_s = 0

[[models]]
slug = "{MAIN}"
name = "Acme: Main"
description = "The model every client test talks to."
created = 1750000000
context_length = 32768
input_modalities = ["text", "image"]

[[models]]
slug = "{BACKUP}"
name = "Acme: Backup"
description = "Where a request goes when acme/main cannot take it."
created = 1750000001
context_length = 32768
input_modalities = ["text"]
"""
    rows = []
    for e in ENDPOINTS:
        modalities = ", ".join(f'"{m}"' for m in (("text", "image") if e.images else ("text",)))
        parameters = ", ".join(f'"{p}"' for p in e.parameters)
        rows.append(f"""
[providers.{e.slug}]
name = "{e.name}"
base_url = "{sim_base[e.slug]}"
api_key_env = "SIM_KEY"
privacy_policy_url = "https://{e.slug}.example/privacy"

[[endpoints]]
model = "{e.model}"
provider = "{e.slug}"
upstream_model = "{e.slug}-model"
quantization = "bf16"
context_length = {e.context_length}
max_output = {e.max_output}
price = {{ prompt = {e.prompt_price}, completion = {e.completion_price} }}
input_modalities = [{modalities}]
supported_parameters = [{parameters}]
nominal_throughput = {e.tokens_per_s}
""")
    return models + "".join(rows)
