"""Credentials: how a request to an upstream is authorised, and whether it can be right now.

A `Credential` turns the request a provider built (pure: no key, no clock) into the one that is
sent — a bearer token, an API-key header, or a signature over the final URL, headers and body.
Static keys never change; minted ones (Google's OAuth tokens, AWS session credentials) are
refreshed before they expire by one background `CredentialKeeper`, in a worker thread, so the
event loop never blocks on a token endpoint. A credential that cannot be had makes its endpoints
unavailable with the reason (routing skips them, the endpoints API shows why); it never fails a
request with a crash, and its reason never carries a secret.

The kinds of credential a catalog provider or endpoint can name (`credentials = { kind = … }`)
are the table `registry.FACTORIES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from crossroads.failures import AttemptError

if TYPE_CHECKING:
    from crossroads.providers.base import UpstreamRequest


class CredentialUnavailable(Exception):
    """The credential cannot authorise a request now; `reason` says why, never with a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Credential(Protocol):
    def authorize(self, request: UpstreamRequest) -> UpstreamRequest:
        """The request with its authorisation added; CredentialUnavailable when there is none
        to add. Synchronous and cheap: whatever is slow happened in `refresh`."""
        ...

    def unavailable_reason(self, now: float) -> str | None:
        """Why its endpoints cannot be used at monotonic time `now`; None when they can."""
        ...

    def refresh_due(self, now: float) -> float | None:
        """The monotonic time at which `refresh` should run next; None: never."""
        ...

    async def refresh(self) -> None:
        """Mint or renew, off the event loop; a failure becomes the unavailable reason and is
        never raised."""
        ...


class CredentialRejected(AttemptError):
    """How a provider classifies an answer that refuses the credential itself rather than the
    request (AWS's InvalidSignatureException: a wrong secret). The relay tells the endpoint's
    credential, when it can hear it (`Rejectable`), so every endpoint using it is kept out
    until the credential changes, instead of each one failing in turn."""


@runtime_checkable
class Rejectable(Protocol):
    def rejected(self, reason: str) -> None:
        """The upstream refused what this credential authorised; `reason` is its words."""
        ...


__all__ = ["Credential", "CredentialRejected", "CredentialUnavailable", "Rejectable"]
