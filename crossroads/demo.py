"""Demo mode: the catalog's endpoints served by the simulated fleet, clearly marked as such."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

import msgspec

from crossroads.catalog import Catalog, CredentialSpec, Endpoint, endpoint_key
from crossroads.credentials import Credential
from crossroads.credentials.aws import AwsCredential, Keys, aws_chain_configured
from crossroads.credentials.google import authorized_user
from crossroads.credentials.registry import FACTORIES, CredentialSet
from crossroads.sim.google_auth import SIM_CLIENT, TOKEN_PATH
from crossroads.sim.profile import SimFleet
from crossroads.sim.sigv4 import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY

SIM_READY_PREFIX = "crossroads-sim listening on "
# Where the sim serves each dialect under an endpoint's prefix (sim/server.py), by the kind of
# credential the endpoint uses: Google's OAuth means Vertex AI's paths.
_DIALECT_PATHS = {
    ("openai", "api_key"): "/v1",
    ("anthropic", "api_key"): "/anthropic/v1",
    ("gemini", "api_key"): "/gemini/v1beta",
    ("gemini", "google"): "/vertex/v1/projects/demo/locations/us-central1/publishers/google",
    ("openai", "google"): "/vertex/v1/projects/demo/locations/us-east5/endpoints/openapi",
    ("bedrock-converse", "aws"): "/bedrock",
}


def _sim_path(endpoint: Endpoint) -> str:
    kind = endpoint.credentials.kind if endpoint.credentials is not None else "api_key"
    return _DIALECT_PATHS.get((endpoint.dialect, kind)) or \
        _DIALECT_PATHS[(endpoint.dialect, "api_key")]


def _simulated_aws(spec: CredentialSpec, env: Mapping[str, str]) -> Credential:
    """The simulated Bedrock's own fake key pair (sim/sigv4.py), whatever the AWS chain holds:
    demo mode signs exactly as it would for AWS, and the sim checks every signature."""
    keys = Keys(SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY, None)
    return AwsCredential(lambda: (keys, False), spec.option("region") or "us-east-1")


def _demo_credentials(endpoints: list[Endpoint], keys: Mapping[str, str],
                      sim_url: str) -> CredentialSet:
    """Static keys are "simulated"; a Google identity is the sim's own OAuth client, whose
    tokens the sim's token endpoint issues (and whose expiry demo mode lives through); an AWS
    identity is the sim's own key pair."""
    token_uri = sim_url + TOKEN_PATH
    client_id, secret = SIM_CLIENT

    def sim_client(spec: CredentialSpec, env: Mapping[str, str]) -> Credential:
        return authorized_user(client_id, secret, "demo", token_uri)

    return CredentialSet(endpoints, keys, env={},
                         factories={**FACTORIES, "google": sim_client, "aws": _simulated_aws})


def simulated_catalog(catalog: Catalog, sim_url: str, fleet: SimFleet) -> Catalog:
    """Point every endpoint the fleet has a twin of at that twin; the rest become unavailable.

    A twin is a profile of the endpoint's provider serving its upstream model, or a stand-in
    named after the provider (which answers any model).
    """
    twins = {(p.provider, p.model) for p in fleet.endpoints if p.provider is not None}
    stand_ins = {p.name for p in fleet.endpoints if p.provider is None}
    endpoints = []
    keys: dict[str, str] = {}
    for original in catalog.all_endpoints():
        if (original.provider, original.upstream_model) in twins or original.provider in stand_ins:
            endpoint = msgspec.structs.replace(
                original,
                base_url=f"{sim_url}/{original.provider}{_sim_path(original)}",
                available=True,
                unavailable_reason=None,
                simulated=True,
                provider_name=f"{original.provider_name} (simulated)",
            )
            if original.credentials is None:
                keys[endpoint_key(endpoint)] = "simulated"
        else:
            endpoint = msgspec.structs.replace(
                original, available=False, unavailable_reason="demo mode: not simulated")
        endpoints.append(endpoint)
    return Catalog(catalog.models(), endpoints, keys, catalog.providers(),
                   _demo_credentials(endpoints, keys, sim_url))


def reachable(endpoint: Endpoint, env: Mapping[str, str] | None = None) -> bool:
    """Whether the endpoint can be reached without the simulator: it has its key (or needs
    none), or its minted credential's source is configured (an AWS chain with something in
    it). A minted credential is not resolved here: that may block, and the keeper does it."""
    spec = endpoint.credentials
    configured = _CONFIGURED.get(spec.kind) if spec is not None and not endpoint.simulated \
        else None
    return endpoint.available and (configured is None
                                   or configured(os.environ if env is None else env))


def has_any_key(catalog: Catalog, env: Mapping[str, str] | None = None) -> bool:
    return any(reachable(endpoint, env) for endpoint in catalog.all_endpoints())


# Per minted kind: whether its source looks configured at all.
_CONFIGURED: dict[str, Callable[[Mapping[str, str]], bool]] = {"aws": aws_chain_configured}


def start_sim_process(extra_args: list[str] | None = None,
                      timeout_s: float = 20.0) -> tuple[subprocess.Popen[str], str]:
    """Start `crossroads sim` on a free loopback port; return the process and its base URL.

    Call from the main thread: the sim's parent-death signal follows the thread that started it
    (sim/lifeline.py).
    """
    command = [sys.executable, "-m", "crossroads", "sim", "--port", "0",
               "--parent-pid", str(os.getpid()), *(extra_args or [])]
    # Its own process group: Ctrl-C at a terminal signals the whole foreground group, and the
    # sim must keep answering while the router drains its in-flight requests; the router stops
    # it afterwards (and if the router dies instead, the sim follows it by itself).
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                               env=os.environ.copy(), process_group=0)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(SIM_READY_PREFIX):
            return process, line[len(SIM_READY_PREFIX):].strip()
    stop_sim_process(process, grace_s=0)
    raise RuntimeError("the simulated provider fleet did not start")


def stop_sim_process(process: subprocess.Popen[str], grace_s: float = 5.0) -> None:
    """SIGTERM (the sim closes its connections and exits), SIGKILL if it takes too long."""
    if grace_s > 0:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace_s)
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
