"""What the comparison runs against: the two simulator fleets, each gateway's config, and the
request body every target is sent."""

from __future__ import annotations

import json

FAST_FLEET = """
seed = 1
time_scale = 0.0

[[endpoint]]
name = "echo"
context_length = 131072
max_output = 8192
completion_tokens = 16
"""

STREAM_FLEET = """
seed = 1
time_scale = 1.0

[[endpoint]]
name = "stream"
context_length = 131072
max_output = 8192
ttft_ms = 50
ttft_sigma = 0
tokens_per_s = 1000
tps_sigma = 0
completion_tokens = 100
"""

CROSSROADS_CONFIG = """
[routing]
seed = 1

[providers.echo]
name = "Echo"
base_url = "{fast}/echo/v1"
api_key_env = "BENCH_KEY"

[providers.stream]
name = "Stream"
base_url = "{slow}/stream/v1"
api_key_env = "BENCH_KEY"

[[models]]
slug = "bench/echo"
name = "Bench Echo"
context_length = 131072

[[models]]
slug = "bench/stream"
name = "Bench Stream"
context_length = 131072

[[endpoints]]
model = "bench/echo"
provider = "echo"
upstream_model = "echo"
context_length = 131072
max_output = 8192
price = {{ prompt = 0.1, completion = 0.3 }}

[[endpoints]]
model = "bench/stream"
provider = "stream"
upstream_model = "stream"
context_length = 131072
max_output = 8192
price = {{ prompt = 0.1, completion = 0.3 }}
"""

# A master key (LiteLLM 1.106 refuses to start without one; checked against a hash in memory)
# and no database_url: no Prisma/Postgres, no spend logs. Everything
# optional that LiteLLM lets a config turn off is off; see RESULTS.md for the list.
LITELLM_CONFIG = """
model_list:
  - model_name: bench/echo
    litellm_params:
      model: openai/echo
      api_base: {fast}/echo/v1
      api_key: bench
  - model_name: bench/stream
    litellm_params:
      model: openai/stream
      api_base: {slow}/stream/v1
      api_key: bench
litellm_settings:
  telemetry: false
  set_verbose: false
  json_logs: false
  turn_off_message_logging: true
  num_retries: 0
  request_timeout: 30
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings:
  master_key: sk-bench-0123456789abcdef0123456789abcdef
  disable_spend_logs: true
  disable_error_logs: true
  disable_reset_budget: true
  background_health_checks: false
  store_model_in_db: false
router_settings:
  num_retries: 0
"""


def body(model: str, stream: bool = False) -> bytes:
    doc = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Reply with a short sentence about routers."},
        ],
        "max_tokens": 16 if not stream else 200,
    }
    if stream:
        doc["stream"] = True
    return json.dumps(doc).encode()
