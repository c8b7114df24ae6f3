"""The sim checks the SigV4 signature of every Bedrock request, with botocore itself.

AWS recomputes a request's signature from its canonical form and the secret key it holds for the
access key id the request names, and refuses a mismatch
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html). The sim
does the same with the one fake key pair it knows: it rebuilds the request from the headers the
`Authorization` header says were signed, at the `x-amz-date` they were signed at, has botocore's
`SigV4Auth` sign it again with the known secret, and compares. What it answers is AWS's own 403
shapes: `UnrecognizedClientException` for an unknown access key id, `InvalidSignatureException`
for a signature that does not match (or a request signed more than five minutes away from now),
`MissingAuthenticationTokenException` for a request with no signature at all.
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from typing import Final

__all__ = ["SIM_ACCESS_KEY_ID", "SIM_SECRET_ACCESS_KEY", "Rejection", "verify"]

# The one key pair the simulated Bedrock accepts; fake by construction, never a real key.
SIM_ACCESS_KEY_ID: Final = "AKIASIMULATEDBEDROCK"
SIM_SECRET_ACCESS_KEY: Final = "crossroads/simulated/bedrock/secret/access/key"
_MAX_SKEW_S: Final = 300
_AUTHORIZATION: Final = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$")

Rejection = tuple[str, str]  # (AWS error type, message)

_BAD_SIGNATURE: Final = ("InvalidSignatureException",
                         "The request signature we calculated does not match the signature you "
                         "provided. Check your AWS Secret Access Key and signing method. Consult "
                         "the service documentation for details.")


def _signed_at(amz_date: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        return None


def verify(url: str, headers: dict[bytes, bytes], body: bytes,
           now: float | None = None) -> Rejection | None:
    """None when the request is signed with the sim's key pair, else why not."""
    raw = headers.get(b"authorization", b"").decode("utf-8", "replace").strip()
    if not raw:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    match = _AUTHORIZATION.match(raw)
    if match is None:
        return "IncompleteSignatureException", "Authorization header is not a SigV4 signature."
    if match["key"] != SIM_ACCESS_KEY_ID:
        return "UnrecognizedClientException", "The security token included in the request is " \
                                              "invalid."
    amz_date = headers.get(b"x-amz-date", b"").decode("ascii", "replace")
    signed_at = _signed_at(amz_date)
    if signed_at is None or not amz_date.startswith(match["date"]):
        return _BAD_SIGNATURE
    if abs((time.time() if now is None else now) - signed_at) > _MAX_SKEW_S:
        return "InvalidSignatureException", f"Signature expired: {amz_date} is now earlier " \
                                             "or later than the allowed five minutes."
    # Imported on the first signed request: a sim serving no Bedrock request never pays it.
    from botocore.auth import SigV4Auth  # noqa: PLC0415
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import Credentials  # noqa: PLC0415

    names = match["signed"].split(";")
    signed = {name: headers.get(name.encode(), b"").decode("utf-8", "replace") for name in names}
    request = AWSRequest(method="POST", url=url, data=body, headers=signed)
    request.context["timestamp"] = amz_date
    token = signed.get("x-amz-security-token")
    auth = SigV4Auth(Credentials(SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY, token),
                     match["service"], match["region"])
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)),
                              request)
    if not hmac.compare_digest(expected, match["signature"]):
        return _BAD_SIGNATURE
    return None
