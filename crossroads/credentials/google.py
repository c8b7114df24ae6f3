"""Google OAuth credentials: an access token minted from a service-account key or ADC.

Settings (`credentials = { kind = "google", … }` on a catalog provider or endpoint):

* `service_account_file` — a JSON key file (a service account, or an `authorized_user` file as
  `gcloud auth application-default login` writes); or `service_account_env` — the variable that
  holds that file's path. Neither: Application Default Credentials (`google.auth.default`).
* `token_uri` — the OAuth token endpoint, when not the one in the file (tests point it at the
  simulator's).
* `scopes` — space-separated; default cloud-platform, which Vertex AI needs
  (https://cloud.google.com/vertex-ai/docs/authentication).

Access tokens live an hour (https://cloud.google.com/docs/authentication/token-types#access);
`google-auth` mints them and the keeper renews each one five minutes before it expires (half
its lifetime when that is shorter), in a worker thread. While a renewal fails the token in hand
keeps serving until it is about to expire; then the endpoints are unavailable with the reason.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
import google.oauth2.credentials
import httpx

from crossroads.credentials import CredentialUnavailable
from crossroads.credentials.static import with_header
from crossroads.http_client import FrozenHeaders

if TYPE_CHECKING:
    from crossroads.catalog import CredentialSpec
    from crossroads.providers.base import UpstreamRequest

log = logging.getLogger("crossroads")

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_MARGIN_S = 300.0
# A token this close to its expiry (or a tenth of its life, if shorter) is not sent: it could
# expire on the way.
EXPIRY_SKEW_S = 5.0
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
TOKEN_TIMEOUT_S = 30.0
MAX_REASON = 300
OPTIONS = frozenset({"service_account_file", "service_account_env", "token_uri", "scopes"})

GoogleCredentials = google.auth.credentials.Credentials


class _Response(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxTransport(google.auth.transport.Request):
    """google-auth's transport over httpx (already a dependency), for the token endpoint."""

    def __call__(self, url: str, method: str = "GET", body: bytes | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float | None = None,
                 **kwargs: Any) -> _Response:
        try:
            response = httpx.request(method, url, content=body, headers=headers,
                                     timeout=timeout or TOKEN_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(
                f"token endpoint unreachable: {type(exc).__name__}") from None
        return _Response(response)


def _describe(exc: Exception) -> str:
    """A failure as a reason: google-auth's messages name the file and quote the token
    endpoint's error, neither of which is a secret; the key itself is never in them."""
    first = exc.args[0] if exc.args else ""
    text = first if isinstance(first, str) else type(exc).__name__
    return f"Google credential unavailable: {text}"[:MAX_REASON]


class GoogleCredential:
    """One Google identity's access token, shared by every endpoint configured with it."""

    __slots__ = ("_backoff", "_due", "_expires", "_header", "_load", "_merged", "_reason",
                 "_skew", "_source", "_token")

    def __init__(self, load: Callable[[], GoogleCredentials]) -> None:
        self._load = load
        self._source: GoogleCredentials | None = None
        self._token: str | None = None
        self._header = ""
        self._expires = 0.0  # monotonic
        self._skew = EXPIRY_SKEW_S
        self._due = 0.0  # the first refresh is due at once
        self._backoff = FIRST_BACKOFF_S
        self._reason = "Google credential: no access token yet"
        self._merged: dict[int, tuple[Mapping[str, str], FrozenHeaders]] = {}

    def __repr__(self) -> str:
        return "GoogleCredential()"

    def _usable(self, now: float) -> bool:
        return self._token is not None and now < self._expires - self._skew

    def authorize(self, request: UpstreamRequest) -> UpstreamRequest:
        if not self._usable(time.monotonic()):
            raise CredentialUnavailable(self._reason if self._token is None
                                        else "Google access token expired; renewal failed: "
                                        + self._reason)
        return with_header(request, "authorization", self._header, self._merged)

    def unavailable_reason(self, now: float) -> str | None:
        if self._usable(now):
            return None
        return self._reason if self._token is None else \
            f"Google access token expired ({self._reason})"

    def refresh_due(self, now: float) -> float | None:
        return self._due

    async def refresh(self) -> None:
        try:
            token, lifetime_s = await asyncio.to_thread(self._mint)
        except Exception as exc:
            now = time.monotonic()
            reason = _describe(exc)
            if reason != self._reason:
                # Once per new reason, not per retry; the reason never holds a secret.
                log.warning("%s (retrying in %.0f s)", reason, self._backoff)
            self._reason = reason
            self._due = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
            return
        now = time.monotonic()
        self._token = token
        self._header = f"Bearer {token}"
        self._merged = {}
        self._expires = now + lifetime_s
        self._skew = min(EXPIRY_SKEW_S, lifetime_s / 10)
        self._due = self._expires - min(REFRESH_MARGIN_S, lifetime_s / 2)
        self._backoff = FIRST_BACKOFF_S
        self._reason = "Google credential: token renewal failed"

    def _mint(self) -> tuple[str, float]:
        """In a worker thread: load the source once, then ask it for a fresh token."""
        if self._source is None:
            self._source = self._load()
        source = self._source
        source.refresh(HttpxTransport())
        token = source.token
        if not isinstance(token, str) or not token:
            raise google.auth.exceptions.RefreshError("the token endpoint returned no token")
        expiry = source.expiry
        if expiry is None:
            return token, 3600.0
        # google-auth keeps expiry as a naive UTC datetime.
        wall = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return token, max((expiry - wall).total_seconds(), 0.0)


def _loader(spec: CredentialSpec, env: Mapping[str, str]) -> Callable[[], GoogleCredentials]:
    scopes = (spec.option("scopes") or CLOUD_PLATFORM).split()
    token_uri = spec.option("token_uri")
    path = spec.option("service_account_file")
    variable = spec.option("service_account_env")

    def load() -> GoogleCredentials:
        file = path
        if file is None and variable is not None:
            file = env.get(variable)
            if not file:
                raise google.auth.exceptions.DefaultCredentialsError(
                    f"{variable} is not set")
        if file is not None:
            try:
                loaded, _ = google.auth.load_credentials_from_file(file, scopes=scopes)
            except google.auth.exceptions.DefaultCredentialsError as exc:
                # Its message may quote the file's contents: say only which file failed.
                raise google.auth.exceptions.DefaultCredentialsError(
                    f"cannot use the key file {file} ({type(exc).__name__})") from None
        else:
            loaded, _ = google.auth.default(scopes=scopes)
        with_token_uri = getattr(loaded, "with_token_uri", None)
        if token_uri is not None and with_token_uri is not None:
            loaded = with_token_uri(token_uri)
        if not isinstance(loaded, GoogleCredentials):
            raise google.auth.exceptions.DefaultCredentialsError("not a Google credential")
        return loaded

    return load


def authorized_user(client_id: str, client_secret: str, refresh_token: str,
                    token_uri: str) -> GoogleCredential:
    """An OAuth client's refresh token as a credential, as an `authorized_user` key file would
    give it (demo mode's, with the simulator's own client)."""
    return GoogleCredential(lambda: google.oauth2.credentials.Credentials(
        token=None, refresh_token=refresh_token, client_id=client_id,
        client_secret=client_secret, token_uri=token_uri))


def google_credential(spec: CredentialSpec, env: Mapping[str, str]) -> GoogleCredential:
    unknown = sorted({name for name, _ in spec.options} - OPTIONS)
    if unknown:
        raise ValueError(f"unknown Google credential setting(s): {', '.join(unknown)}")
    if spec.option("service_account_file") and spec.option("service_account_env"):
        raise ValueError("service_account_file and service_account_env: set one, not both")
    return GoogleCredential(_loader(spec, env))
