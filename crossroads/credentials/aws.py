"""AWS credentials from the standard chain, signing each request with SigV4 (Bedrock).

Settings (`credentials = { kind = "aws", … }` on a catalog provider or endpoint):

* `region` — required: the region requests are signed for ("us-east-1"), which must be the
  region of the endpoint's URL;
* `profile` — a named profile of the shared config and credentials files; absent, the default
  chain: environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
  the shared files, SSO, web identity, container and instance roles
  (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html);
* `service` — the signing name, "bedrock" unless told
  (https://docs.aws.amazon.com/bedrock/latest/APIReference/welcome.html).

botocore resolves the chain, keeps temporary credentials renewed (it refreshes them ahead of
their expiry when asked for a frozen copy) and signs: `SigV4Auth` over the final URL, headers
and body (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html). No crypto here.
Resolving may block (files, an STS or instance-metadata call), so it runs in the keeper's worker
thread; `authorize` only signs with the frozen copy in hand.

A credential the chain cannot produce makes its endpoints unavailable with the reason. So does
one the upstream refuses as a signature it cannot check (InvalidSignatureException,
UnrecognizedClientException: a wrong secret, an unknown or revoked key): every endpoint signed
with it would be refused alike, so they wait, and the keeper keeps reading the chain, lifting the
ban as soon as it yields different keys. Reasons name the access key id at most, never a secret.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from crossroads.credentials import CredentialUnavailable
from crossroads.http_client import FrozenHeaders

if TYPE_CHECKING:
    from crossroads.catalog import CredentialSpec
    from crossroads.providers.base import UpstreamRequest

log = logging.getLogger("crossroads")

OPTIONS = frozenset({"region", "profile", "service"})
# botocore renews temporary credentials within 15 minutes of their expiry when asked: asking
# every minute keeps the copy in hand fresh; static keys are re-read for rotation less often.
TEMPORARY_EVERY_S = 60.0
STATIC_EVERY_S = 300.0
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
MAX_REASON = 300


class Keys(NamedTuple):
    """A frozen copy of the chain's credentials (botocore's ReadOnlyCredentials fields)."""

    access_key: str
    secret_key: str
    token: str | None

    def __repr__(self) -> str:
        return f"Keys({self.access_key[:4]}…)"


def _masked(access_key: str) -> str:
    """An access key id as a reason may name it: enough to tell keys apart, no more."""
    return access_key[:4] + "…" + access_key[-4:] if len(access_key) > 8 else "…"


def _describe(exc: Exception) -> str:
    """A chain failure as a reason. botocore's messages name the profile, file or provider
    that failed; a secret is never part of them."""
    import botocore.exceptions  # noqa: PLC0415 - loaded by then (see `_loader`)

    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return f"AWS credentials unavailable: {exc}"[:MAX_REASON]
    return f"AWS credentials unavailable: {type(exc).__name__}"


class AwsCredential:
    """One AWS identity in one region, shared by every endpoint configured with it."""

    __slots__ = ("_backoff", "_due", "_keys", "_load", "_reason", "_region", "_rejected",
                 "_service", "_temporary")

    def __init__(self, load: Callable[[], tuple[Keys, bool]], region: str,
                 service: str = "bedrock") -> None:
        self._load = load
        self._region = region
        self._service = service
        self._keys: Keys | None = None
        self._temporary = False
        self._rejected: Keys | None = None  # the keys the upstream refused, until they change
        self._reason = "AWS credentials: not resolved yet"
        self._due = 0.0  # the first resolution is due at once
        self._backoff = FIRST_BACKOFF_S

    def __repr__(self) -> str:
        return f"AwsCredential({self._service}, {self._region})"

    def authorize(self, request: UpstreamRequest) -> UpstreamRequest:
        keys = self._keys
        if keys is None or self._rejected is not None:
            raise CredentialUnavailable(self._reason)
        # Imported by the worker thread that produced the keys (`_loader`): no cost here.
        from botocore.auth import SigV4Auth  # noqa: PLC0415
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415

        signed = AWSRequest(method="POST", url=request.url, data=request.body,
                            headers=dict(request.headers))
        SigV4Auth(keys, self._service, self._region).add_auth(signed)
        return msgspec.structs.replace(request, headers=FrozenHeaders(dict(signed.headers)))

    def unavailable_reason(self, now: float) -> str | None:
        return None if self._keys is not None and self._rejected is None else self._reason

    def refresh_due(self, now: float) -> float | None:
        return self._due

    def rejected(self, reason: str) -> None:
        """The upstream refused a signature made with the keys in hand (module doc)."""
        keys = self._keys
        if keys is None or self._rejected == keys:
            return
        self._rejected = keys
        self._reason = (f"AWS refused the signature of access key {_masked(keys.access_key)}: "
                        f"{reason}")[:MAX_REASON]
        log.warning("%s; its endpoints are unavailable until the credential chain yields "
                    "other keys", self._reason)
        # Read the chain again soon: a corrected secret is picked up without a restart.
        self._due = time.monotonic() + FIRST_BACKOFF_S
        self._backoff = FIRST_BACKOFF_S

    async def refresh(self) -> None:
        try:
            keys, temporary = await asyncio.to_thread(self._load)
        except Exception as exc:
            # Keys in hand keep serving: temporary ones are renewed ahead of their expiry, so
            # they are still good for a while, and should they lapse AWS says so
            # (ExpiredTokenException), which keeps the endpoints out with that reason.
            reason = _describe(exc)
            if reason != self._reason:
                # Once per new reason, not per retry; a reason never holds a secret.
                log.warning("%s (retrying in %.0f s)", reason, self._backoff)
            self._reason = reason
            self._due = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
            return
        now = time.monotonic()
        self._keys, self._temporary = keys, temporary
        if self._rejected is not None and self._rejected != keys:
            self._rejected = None
        if self._rejected is not None:
            self._due = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
            return
        self._backoff = FIRST_BACKOFF_S
        self._due = now + (TEMPORARY_EVERY_S if temporary else STATIC_EVERY_S)


def _loader(profile: str | None) -> Callable[[], tuple[Keys, bool]]:
    session: list[Any] = []  # one botocore session, made in the worker thread on first use

    def load() -> tuple[Keys, bool]:
        # botocore is imported here, in the keeper's worker thread, not when the router
        # starts: it takes a tenth of a second that no router without AWS endpoints should pay.
        import botocore.auth  # noqa: PLC0415
        import botocore.awsrequest  # noqa: PLC0415
        import botocore.exceptions  # noqa: PLC0415
        import botocore.session  # noqa: PLC0415

        if not session:
            session.append(botocore.session.Session(profile=profile))
        found = session[0].get_credentials()
        if found is None:
            # Not cached: the next call looks through the whole chain again.
            session.clear()
            raise botocore.exceptions.NoCredentialsError()
        frozen = found.get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            session.clear()
            raise botocore.exceptions.PartialCredentialsError(provider=found.method,
                                                             cred_var="secret key")
        # Static keys can be rotated in place: read the chain afresh next time.
        temporary = bool(frozen.token) or hasattr(found, "refresh_needed")
        if not temporary:
            session.clear()
        return Keys(frozen.access_key, frozen.secret_key, frozen.token), temporary

    return load


# What, in the environment, puts something into the standard chain besides the shared files.
_CHAIN_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def aws_chain_configured(env: Mapping[str, str]) -> bool:
    """Whether the standard chain has a source at all (a variable, or a shared file), without
    resolving it: resolving may block on the network."""
    if any(env.get(name) for name in _CHAIN_VARIABLES):
        return True
    home = Path(env.get("HOME") or Path.home())
    files = (env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials",
             env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    return any(Path(f).is_file() for f in files)


def aws_credential(spec: CredentialSpec, env: Mapping[str, str]) -> AwsCredential:
    unknown = sorted({name for name, _ in spec.options} - OPTIONS)
    if unknown:
        raise ValueError(f"unknown AWS credential setting(s): {', '.join(unknown)}")
    region = spec.option("region")
    if not region:
        raise ValueError("an aws credential needs its `region`")
    return AwsCredential(_loader(spec.option("profile")), region,
                         spec.option("service") or "bedrock")
