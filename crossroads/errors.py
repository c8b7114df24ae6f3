"""Every error crossroads can show a caller, and the one place they become HTTP.

The tree, drawn once::

    CrossroadsError                 status  type                    error_type
    ├── BadRequest                  400     invalid_request_error   invalid_request
    │   └── ContextLengthExceeded   400     invalid_request_error   context_length_exceeded
    ├── Unauthorized                401     authentication_error    authentication
    ├── PaymentRequired             402     payment_required        payment_required
    ├── Forbidden                   403     permission_error        permission_denied
    ├── NoEndpoint                  404     not_found_error         not_found (funnel emptied)
    ├── NotFound                    404     not_found_error         not_found (path, resource)
    ├── MethodNotAllowed            405     invalid_request_error   invalid_request
    ├── RequestTimeout              408     timeout_error           timeout
    ├── PayloadTooLarge             413     invalid_request_error   payload_too_large
    ├── RateLimited                 429     rate_limit_error        rate_limit_exceeded
    ├── HeadersTooLarge             431     invalid_request_error   payload_too_large
    ├── UpstreamFailed              502     upstream_error          provider_unavailable
    └── NoProviderAvailable         503     service_unavailable     provider_unavailable

The body is the shape both the OpenAI SDKs and OpenRouter clients read::

    {"error": {"message": str, "type": str, "code": <http status>,
               "metadata": {"error_type": str, ...}}}

`code` is the HTTP status, as OpenRouter sends it; `type` is what OpenAI's SDKs read;
`metadata.error_type` is OpenRouter's stable error vocabulary. Metadata never carries secrets:
provider errors are reduced to provider name, status and a bounded excerpt of the upstream
message.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import orjson

# Things that look like API keys, whoever's they are: providers sometimes echo a key back.
_KEY_SHAPED = re.compile(r"\b(?:sk|pk|gsk|rk|key)[-_][A-Za-z0-9_\-]{12,}|\bBearer\s+\S+",
                         re.IGNORECASE)


def redact(text: str, *secrets: str | None) -> str:
    """Remove the given secrets, and anything shaped like a key, from text meant for callers."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPED.sub("[redacted]", text)


def redact_url(url: str) -> str:
    """A connection URL (PostgreSQL, Redis) with its password replaced by ***, for the banner,
    logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class CrossroadsError(Exception):
    """An error with a known HTTP status and a body safe to show the caller."""

    status: int = 500
    error_type: ClassVar[str] = "api_error"
    # OpenRouter's `error_type`; None: derived from the status (see ERROR_TYPE_BY_STATUS).
    openrouter_type: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message
        self.metadata = metadata or {}
        self.headers = headers or {}

    def payload(self) -> dict[str, Any]:
        kind = self.openrouter_type or ERROR_TYPE_BY_STATUS.get(self.status, "unmapped")
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "code": self.status,
                "metadata": {"error_type": kind, **self.metadata},
            }
        }

    def body(self) -> bytes:
        return orjson.dumps(self.payload())


class BadRequest(CrossroadsError):
    status = 400
    error_type = "invalid_request_error"


def invalid_param(param: str, message: str) -> BadRequest:
    """A 400 that names the field at fault (`metadata.param`), as every request parser says it."""
    return BadRequest(f"{param}: {message}", metadata={"param": param})


def is_int(value: object) -> bool:
    """A JSON integer (booleans are ints to Python, never to a caller)."""
    return isinstance(value, int) and not isinstance(value, bool)


class ContextLengthExceeded(BadRequest):
    openrouter_type = "context_length_exceeded"


class Unauthorized(CrossroadsError):
    status = 401
    error_type = "authentication_error"


class PaymentRequired(CrossroadsError):
    status = 402
    error_type = "payment_required"


class Forbidden(CrossroadsError):
    status = 403
    error_type = "permission_error"


class NoEndpoint(CrossroadsError):
    status = 404
    error_type = "not_found_error"


class NotFound(CrossroadsError):
    status = 404
    error_type = "not_found_error"


class Conflict(CrossroadsError):
    status = 409
    error_type = "invalid_request_error"


class MethodNotAllowed(CrossroadsError):
    status = 405
    error_type = "invalid_request_error"


class RequestTimeout(CrossroadsError):
    status = 408
    error_type = "timeout_error"


class PayloadTooLarge(CrossroadsError):
    status = 413
    error_type = "invalid_request_error"


class RateLimited(CrossroadsError):
    status = 429
    error_type = "rate_limit_error"


class HeadersTooLarge(CrossroadsError):
    status = 431
    error_type = "invalid_request_error"


class UpstreamFailed(CrossroadsError):
    status = 502
    error_type = "upstream_error"


class NoProviderAvailable(CrossroadsError):
    status = 503
    error_type = "service_unavailable"


ERROR_TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request",
    401: "authentication",
    402: "payment_required",
    403: "permission_denied",
    404: "not_found",
    405: "invalid_request",
    408: "timeout",
    413: "payload_too_large",
    422: "unprocessable",
    429: "rate_limit_exceeded",
    431: "payload_too_large",
    500: "server",
    502: "provider_unavailable",
    503: "provider_unavailable",
    504: "timeout",
    524: "timeout",
    529: "provider_overloaded",
}

ERROR_BY_STATUS: dict[int, type[CrossroadsError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: PaymentRequired,
    403: Forbidden,
    404: NoEndpoint,
    408: RequestTimeout,
    413: PayloadTooLarge,
    429: RateLimited,
    502: UpstreamFailed,
    503: NoProviderAvailable,
}


def internal_error_body() -> bytes:
    """The body for a bug: generic on purpose, the details go to the log, never the caller."""
    return orjson.dumps(
        {"error": {"message": "Internal error", "type": "api_error", "code": 500,
                   "metadata": {"error_type": "server"}}}
    )
