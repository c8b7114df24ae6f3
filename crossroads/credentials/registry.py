"""Which credential each endpoint uses: built once from the catalog, shared per source.

The table `FACTORIES` maps a catalog `credentials.kind` to what makes its credential; endpoints
whose settings are the same share one credential (one Google token for every Vertex endpoint of
a provider), so it is minted once and refreshed once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from crossroads.credentials import Credential
from crossroads.credentials.aws import aws_credential
from crossroads.credentials.google import google_credential
from crossroads.credentials.static import NO_CREDENTIAL, StaticKey

if TYPE_CHECKING:
    from crossroads.catalog import CredentialSpec, Endpoint

# (the endpoint's settings, the environment) → its credential; ValueError for settings that
# cannot work, which the catalog loader reports as a configuration error.
Factory = Callable[["CredentialSpec", Mapping[str, str]], Credential]


def _static_kind(spec: CredentialSpec, env: Mapping[str, str]) -> Credential:
    raise AssertionError("api_key credentials are built from the catalog's keys")


FACTORIES: dict[str, Factory] = {
    # A static key (`api_key_env`); the default when an endpoint names no credentials.
    "api_key": _static_kind,
    # Google OAuth: service-account JSON or Application Default Credentials (google.py).
    "google": google_credential,
    # The standard AWS chain, SigV4 over each request (aws.py, for the Bedrock dialect).
    "aws": aws_credential,
}


class CredentialSet:
    """Every endpoint's credential, and the endpoints a minted one currently keeps out."""

    __slots__ = ("_by_endpoint", "_minted")

    def __init__(self, endpoints: Iterable[Endpoint], keys: Mapping[str, str],
                 env: Mapping[str, str] | None = None,
                 factories: Mapping[str, Factory] = FACTORIES) -> None:
        env = os.environ if env is None else env
        shared: dict[tuple[str, tuple[tuple[str, str], ...]], Credential] = {}
        self._by_endpoint: dict[str, Credential] = {}
        # Minted credentials and the endpoint keys each one serves.
        self._minted: list[tuple[Credential, list[str]]] = []
        served: dict[int, list[str]] = {}
        for endpoint in endpoints:
            spec = endpoint.credentials
            credential: Credential
            if spec is None or spec.kind == "api_key":
                key = keys.get(endpoint.key)
                credential = StaticKey(key, endpoint.dialect) if key else NO_CREDENTIAL
            elif not endpoint.available:
                # Never routed to (its base URL lacks a variable, demo mode left it out):
                # nothing to mint, and no token endpoint to bother.
                credential = NO_CREDENTIAL
            else:
                ident = (spec.kind, spec.options)
                found = shared.get(ident)
                if found is None:
                    found = shared[ident] = factories[spec.kind](spec, env)
                    served[id(found)] = []
                    self._minted.append((found, served[id(found)]))
                served[id(found)].append(endpoint.key)
                credential = found
            self._by_endpoint[endpoint.key] = credential

    def for_endpoint(self, endpoint: Endpoint) -> Credential:
        return self._by_endpoint.get(endpoint.key, NO_CREDENTIAL)

    def minted(self) -> tuple[Credential, ...]:
        """The credentials that need refreshing (the keeper's work)."""
        return tuple(credential for credential, _ in self._minted)

    def blocked(self, now: float) -> dict[str, str]:
        """Endpoint key → why its credential cannot be used now; empty in the usual case."""
        out: dict[str, str] = {}
        for credential, keys in self._minted:
            reason = credential.unavailable_reason(now)
            if reason is not None:
                out.update(dict.fromkeys(keys, reason))
        return out

    def reason(self, endpoint: Endpoint, now: float) -> str | None:
        return self.for_endpoint(endpoint).unavailable_reason(now)
