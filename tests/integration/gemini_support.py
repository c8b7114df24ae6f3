"""Shared by the Gemini loopback tests: a service account the simulator trusts, and the catalog
that puts Gemini (API key), Vertex AI (Google OAuth) and Vertex's OpenAI-compatible Llama
beside OpenAI-dialect endpoints."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import rsa

from tests.support import Router, Sim

GEMINI = "test/gemini"
LLAMA = "test/llama-vertex"
PRICES = "{ prompt = 0.3, completion = 2.5, cache_read = 0.075 }"
ACCOUNT = "router@test-project.iam.gserviceaccount.com"


def service_account(sim: Sim, tmp: Path, register: bool = True,
                    email: str = ACCOUNT) -> Path:
    """A service-account key file, its public key registered with the sim's token endpoint
    (unless `register` is false: then the sim refuses its assertions)."""
    public, private = rsa.newkeys(1024)
    info = {"type": "service_account", "project_id": "test-project",
            "private_key_id": "key-1", "private_key": private.save_pkcs1().decode(),
            "client_email": email, "client_id": "1",
            # The real endpoint: the catalog's token_uri must be what sends it to the sim.
            "token_uri": "https://oauth2.googleapis.com/token"}
    path = tmp / f"{email.split('@', maxsplit=1)[0]}.json"
    path.write_text(json.dumps(info))
    if register:
        sim.control("POST", "google/keys", {"client_email": email, "key_id": "key-1",
                                            "public_key": public.save_pkcs1().decode()})
    return path


def vertex_base(sim: Sim, name: str, kind: str = "gemini", region: str = "us-central1") -> str:
    tail = "publishers/google" if kind == "gemini" else "endpoints/openapi"
    return f"{sim.url}/{name}/vertex/v1/projects/test-project/locations/{region}/{tail}"


def google_credentials(sim: Sim, key_file: Path) -> str:
    return (f'{{ kind = "google", service_account_file = "{key_file}", '
            f'token_uri = "{sim.url}/_oauth/google/token" }}')


def catalog(sim: Sim, key_file: Path) -> str:
    """Gemini at `alpha` over the Gemini API, at `charlie` over Vertex; bravo (OpenAI's
    dialect) behind them; Llama on Vertex's OpenAI-compatible surface at `bravo`."""
    return f"""
[providers.gemini]
name = "Gemini"
base_url = "{sim.url}/alpha/gemini/v1beta"
api_key_env = "SIM_KEY"
dialect = "gemini"

[providers.vertex]
name = "Vertex"
base_url = "{vertex_base(sim, 'charlie')}"
dialect = "gemini"
credentials = {google_credentials(sim, key_file)}

[providers.vertex-maas]
name = "Vertex MaaS"
base_url = "{vertex_base(sim, 'bravo', 'openai', 'us-east5')}"
credentials = {google_credentials(sim, key_file)}

[[models]]
slug = "{GEMINI}"
name = "Test Gemini"
context_length = 8192
input_modalities = ["text", "image"]

[[models]]
slug = "{LLAMA}"
name = "Test Llama on Vertex"
context_length = 8192

[[endpoints]]
model = "{GEMINI}"
provider = "gemini"
upstream_model = "gemini-test"
context_length = 8192
max_output = 4096
price = {PRICES}
input_modalities = ["text", "image"]
supported_parameters = ["max_tokens", "temperature", "top_p", "stop", "tools", "tool_choice",
                        "reasoning", "response_format"]

[[endpoints]]
model = "{GEMINI}"
provider = "vertex"
upstream_model = "gemini-test"
context_length = 8192
max_output = 4096
price = {PRICES}
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice", "reasoning"]

[[endpoints]]
model = "{GEMINI}"
provider = "bravo"
upstream_model = "echo-bravo"
context_length = 8192
max_output = 1024
price = {{ prompt = 3.0, completion = 9.0 }}
input_modalities = ["text", "image"]
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice"]

[[endpoints]]
model = "{LLAMA}"
provider = "vertex-maas"
upstream_model = "meta/llama-4-scout-17b-16e-instruct-maas"
context_length = 8192
max_output = 4096
price = {{ prompt = 0.25, completion = 0.7 }}
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice"]
"""


def client(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="any-key", max_retries=0, timeout=30)
