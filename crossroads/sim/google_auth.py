"""Google's OAuth token endpoint, simulated: POST /_oauth/google/token.

A router's Google credential (`crossroads/credentials/google.py`, google-auth underneath) is
pointed here by its `token_uri`. Two grants are served, as Google's token endpoint serves them
(https://developers.google.com/identity/protocols/oauth2/service-account#httprest,
https://developers.google.com/identity/protocols/oauth2/web-server#offline):

* `urn:ietf:params:oauth:grant-type:jwt-bearer` — a service account's signed assertion. Its
  signature is checked with google-auth against the public key registered for the account
  (`POST /_sim/google/keys`), and so are its audience (this endpoint), expiry and scope;
* `refresh_token` — an `authorized_user` (what `gcloud auth application-default login`
  writes); only the sim's own client (`crossroads-sim` / `simulated`) is known, which is what
  demo mode uses.

Each grant gets a fresh bearer token that lives `token_lifetime_s` (an hour, like Google's; the
control API shortens it so tests can watch a token expire mid-run). The Vertex surfaces accept
only a live token issued here, and refuse any other with Google's 401 `UNAUTHENTICATED`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Final
from urllib.parse import parse_qs

import google.auth.exceptions
import google.auth.jwt
import orjson

from crossroads.sim.wire import Exchange

__all__ = ["TOKEN_PATH", "GoogleAuthority", "google_error"]

TOKEN_PATH: Final = "/_oauth/google/token"
GOOGLE_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"
JWT_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM: Final = "https://www.googleapis.com/auth/cloud-platform"
SIM_CLIENT: Final = ("crossroads-sim", "simulated")
DEFAULT_LIFETIME_S: Final = 3600.0
_MAX_TOKENS: Final = 10_000

# Google's own wording for a request without a usable access token.
UNAUTHENTICATED: Final = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project.")
MISSING: Final = ("Request is missing required authentication credential. Expected OAuth 2 "
                  "access token, login cookie or other valid authentication credential.")


def google_error(code: int, status: str, message: str,
                 details: list[dict[str, Any]] | None = None) -> bytes:
    """Google's error body: `{"error": {"code", "message", "status", "details"?}}`."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return orjson.dumps({"error": error})


def _oauth_error(ex: Exchange, error: str, description: str) -> None:
    ex.send(400, orjson.dumps({"error": error, "error_description": description}))


class GoogleAuthority:
    """Issues and checks the sim's Google access tokens."""

    __slots__ = ("_keys", "_tokens", "issued", "lifetime_s", "rejected")

    def __init__(self) -> None:
        self._tokens: dict[str, float] = {}  # token → monotonic expiry
        self._keys: dict[str, tuple[str, str]] = {}  # service account email → (key id, PEM)
        self.lifetime_s = DEFAULT_LIFETIME_S
        self.issued = 0
        self.rejected = 0

    def reset(self) -> None:
        # Tokens stay good across a reset, as real ones would: a router holding one must not
        # start failing because a test rewound the fleet. The lifetime goes back to an hour.
        self.lifetime_s = DEFAULT_LIFETIME_S

    def revoke(self) -> None:
        """Forget every token issued: the next request with one is refused, as after a
        revocation at Google."""
        self._tokens.clear()

    def register_key(self, email: str, key_id: str, public_key: str) -> None:
        self._keys[email] = (key_id, public_key)

    def summary(self) -> dict[str, Any]:
        now = time.monotonic()
        return {"token_lifetime_s": self.lifetime_s, "issued": self.issued,
                "live": sum(1 for expiry in self._tokens.values() if expiry > now),
                "rejected": self.rejected, "service_accounts": sorted(self._keys)}

    # --- the token endpoint ---------------------------------------------------------------

    def token(self, ex: Exchange) -> None:
        if ex.method != b"POST":
            ex.send(405, orjson.dumps({"error": "invalid_request"}))
            return
        form = {k: v[0] for k, v in parse_qs(ex.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            problem = self._check_assertion(form.get("assertion", ""), ex)
        elif grant == "refresh_token":
            client = (form.get("client_id"), form.get("client_secret"))
            problem = None if client == SIM_CLIENT and form.get("refresh_token") \
                else "The OAuth client was not found."
            if problem:
                _oauth_error(ex, "invalid_client", problem)
                return
        else:
            _oauth_error(ex, "unsupported_grant_type", f"Invalid grant_type: {grant}")
            return
        if problem is not None:
            _oauth_error(ex, "invalid_grant", problem)
            return
        ex.send(200, orjson.dumps(self._issue()))

    def _issue(self) -> dict[str, Any]:
        now = time.monotonic()
        if len(self._tokens) >= _MAX_TOKENS:
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
        token = "ya29.sim-" + secrets.token_urlsafe(24)
        self._tokens[token] = now + self.lifetime_s
        self.issued += 1
        # Google rounds down, so a client never believes a token lives longer than it does.
        return {"access_token": token, "expires_in": max(int(self.lifetime_s), 1),
                "token_type": "Bearer"}

    def _check_assertion(self, assertion: str, ex: Exchange) -> str | None:
        try:
            unverified = google.auth.jwt.decode(assertion, verify=False)  # type: ignore[no-untyped-call]
        except (ValueError, google.auth.exceptions.GoogleAuthError):
            return "Invalid JWT: the assertion cannot be read."
        email = unverified.get("iss")
        known = self._keys.get(email) if isinstance(email, str) else None
        if known is None:
            return "Invalid grant: account not found"
        key_id, public_key = known
        try:
            claims = google.auth.jwt.decode(  # type: ignore[no-untyped-call]
                assertion, certs={key_id: public_key}, verify=True)
        except (ValueError, google.auth.exceptions.GoogleAuthError):
            return "Invalid JWT Signature."
        audience = claims.get("aud")
        # Google wants its own token URI as the audience whichever URL the grant is posted
        # to (google-auth signs it so); the sim's own URL is accepted too.
        if audience != GOOGLE_TOKEN_URI and not (isinstance(audience, str)
                                                 and audience.endswith(TOKEN_PATH)):
            return f"Invalid JWT: audience {audience!r} is not a Google token endpoint."
        if CLOUD_PLATFORM not in str(claims.get("scope") or "").split():
            return "Invalid JWT: the assertion asks for no cloud-platform scope."
        return None

    # --- the Vertex surfaces --------------------------------------------------------------

    def check_bearer(self, ex: Exchange) -> str | None:
        """None for a live token issued here; otherwise Google's 401 message."""
        scheme, _, token = ex.headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            self.rejected += 1
            return MISSING
        expiry = self._tokens.get(token.strip().decode("utf-8", "replace"))
        if expiry is None or expiry <= time.monotonic():
            self.rejected += 1
            return UNAUTHENTICATED
        return None
