"""Demo mode: the catalog's endpoints served by the simulated fleet, clearly marked as such."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import msgspec

from crossroads.catalog import Catalog, endpoint_key

SIM_READY_PREFIX = "crossroads-sim listening on "


def simulated_catalog(catalog: Catalog, sim_url: str, fleet: frozenset[str]) -> Catalog:
    """Point every endpoint whose provider the fleet simulates at the simulator."""
    endpoints = []
    keys: dict[str, str] = {}
    for original in catalog.all_endpoints():
        if original.provider in fleet:
            endpoint = msgspec.structs.replace(
                original,
                base_url=f"{sim_url}/{original.provider}/v1",
                available=True,
                unavailable_reason=None,
                simulated=True,
                provider_name=f"{original.provider_name} (simulated)",
            )
            keys[endpoint_key(endpoint)] = "simulated"
        else:
            endpoint = msgspec.structs.replace(
                original, available=False, unavailable_reason="demo mode: not simulated")
        endpoints.append(endpoint)
    return Catalog(catalog.models(), endpoints, keys, catalog.providers())


def has_any_key(catalog: Catalog) -> bool:
    return any(e.available for e in catalog.all_endpoints())


def start_sim_process(extra_args: list[str] | None = None,
                      timeout_s: float = 20.0) -> tuple[subprocess.Popen[str], str]:
    """Start `crossroads sim` on a free loopback port; return the process and its base URL."""
    command = [sys.executable, "-m", "crossroads", "sim", "--port", "0", *(extra_args or [])]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                               env=os.environ.copy())
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(SIM_READY_PREFIX):
            return process, line[len(SIM_READY_PREFIX):].strip()
    process.kill()
    raise RuntimeError("the simulated provider fleet did not start")
