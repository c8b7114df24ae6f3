"""The AWS credential: the standard chain through botocore, SigV4 over the final request (checked
by the simulator's verifier, botocore again), the reasons an endpoint is kept out for, and that
no secret ever appears in one."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest

from crossroads.catalog import CredentialSpec
from crossroads.credentials import CredentialUnavailable, Rejectable
from crossroads.credentials.aws import AwsCredential, Keys, aws_credential
from crossroads.providers.base import UpstreamRequest
from crossroads.sim.sigv4 import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY, verify

URL = "http://127.0.0.1:9/bedrock/model/us.meta.llama4-scout-17b-instruct-v1%3A0/converse"
REQUEST = UpstreamRequest(url=URL, headers={"content-type": "application/json"}, body=b"{}")


@pytest.fixture
def chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """A hermetic chain: only the environment variables a test sets, no files, no metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def make(**options: str) -> AwsCredential:
    return aws_credential(CredentialSpec("aws", tuple(sorted(options.items()))), {})


def headers_of(request: UpstreamRequest) -> dict[bytes, bytes]:
    out = {k.encode(): v.encode() for k, v in request.headers.items()}
    out[b"host"] = b"127.0.0.1:9"
    return out


def test_keys_from_the_environment_sign_a_request_the_verifier_accepts(
        chain: pytest.MonkeyPatch) -> None:
    chain.setenv("AWS_ACCESS_KEY_ID", SIM_ACCESS_KEY_ID)
    chain.setenv("AWS_SECRET_ACCESS_KEY", SIM_SECRET_ACCESS_KEY)
    credential = make(region="us-east-1")
    asyncio.run(credential.refresh())
    assert credential.unavailable_reason(0.0) is None
    signed = credential.authorize(REQUEST)
    assert signed.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={SIM_ACCESS_KEY_ID}/")
    assert "/us-east-1/bedrock/aws4_request" in signed.headers["authorization"]
    assert verify(URL, headers_of(signed), signed.body) is None
    # The body is covered: a changed body no longer matches.
    assert verify(URL, headers_of(signed), b'{"x": 1}') is not None


def test_a_session_token_is_sent_and_signed(chain: pytest.MonkeyPatch) -> None:
    chain.setenv("AWS_ACCESS_KEY_ID", SIM_ACCESS_KEY_ID)
    chain.setenv("AWS_SECRET_ACCESS_KEY", SIM_SECRET_ACCESS_KEY)
    chain.setenv("AWS_SESSION_TOKEN", "session-token-value")
    credential = make(region="eu-west-1")
    asyncio.run(credential.refresh())
    signed = credential.authorize(REQUEST)
    assert signed.headers["x-amz-security-token"] == "session-token-value"
    assert "x-amz-security-token" in signed.headers["authorization"]
    assert verify(URL, headers_of(signed), signed.body) is None


def test_a_wrong_secret_is_refused_by_the_verifier(chain: pytest.MonkeyPatch) -> None:
    chain.setenv("AWS_ACCESS_KEY_ID", SIM_ACCESS_KEY_ID)
    chain.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    credential = make(region="us-east-1")
    asyncio.run(credential.refresh())
    signed = credential.authorize(REQUEST)
    rejection = verify(URL, headers_of(signed), signed.body)
    assert rejection is not None and rejection[0] == "InvalidSignatureException"


def test_no_credentials_in_the_chain_is_a_reason_not_a_crash(chain: pytest.MonkeyPatch) -> None:
    credential = make(region="us-east-1")
    asyncio.run(credential.refresh())
    reason = credential.unavailable_reason(0.0)
    assert reason is not None and reason.startswith("AWS credentials unavailable")
    with pytest.raises(CredentialUnavailable) as caught:
        credential.authorize(REQUEST)
    assert caught.value.reason == reason
    assert credential.refresh_due(0.0) is not None


def test_a_rejected_signature_keeps_the_endpoints_out_until_the_keys_change() -> None:
    keys = [Keys("AKIAFIRSTKEY0000ABCD", "first-secret", None)]
    credential = AwsCredential(lambda: (keys[0], False), "us-east-1")
    assert isinstance(credential, Rejectable)
    asyncio.run(credential.refresh())
    credential.rejected("The request signature we calculated does not match.")
    reason = credential.unavailable_reason(0.0)
    assert reason is not None and "AKIA…ABCD" in reason and "does not match" in reason
    assert "first-secret" not in reason and "AKIAFIRSTKEY0000ABCD" not in reason
    with pytest.raises(CredentialUnavailable):
        credential.authorize(REQUEST)
    asyncio.run(credential.refresh())  # the same keys again: still refused
    assert credential.unavailable_reason(0.0) == reason
    keys[0] = Keys("AKIASECONDKEY000WXYZ", "second-secret", None)
    asyncio.run(credential.refresh())
    assert credential.unavailable_reason(0.0) is None
    assert credential.authorize(REQUEST).headers["authorization"]


def test_temporary_keys_are_read_again_every_minute_static_ones_less_often() -> None:
    temporary = AwsCredential(lambda: (Keys("AKIA", "s", "t"), True), "us-east-1")
    static = AwsCredential(lambda: (Keys("AKIA", "s", None), False), "us-east-1")
    for credential in (temporary, static):
        asyncio.run(credential.refresh())
    assert (temporary.refresh_due(0.0) or 0) < (static.refresh_due(0.0) or 0)


@pytest.mark.parametrize(("options", "message"), [
    ({}, "needs its `region`"), ({"region": "us-east-1", "secret": "x"}, "secret")])
def test_settings_are_checked(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**options)


def test_a_failed_renewal_keeps_the_keys_in_hand_serving() -> None:
    answers: list[Any] = [(Keys("AKIA", "s", "t"), True), RuntimeError("STS unreachable")]

    def load() -> tuple[Keys, bool]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    credential = AwsCredential(load, "us-east-1")
    asyncio.run(credential.refresh())
    asyncio.run(credential.refresh())
    assert credential.unavailable_reason(0.0) is None
    assert credential.authorize(REQUEST).headers["x-amz-security-token"] == "t"


def test_temporary_credentials_from_the_chain_are_renewed_by_each_refresh(
        chain: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A `credential_process` profile (the shape SSO and role helpers take) hands out session
    credentials that expire in five minutes: botocore renews them inside its refresh window,
    so each keeper refresh signs with the new session token."""
    counter = tmp_path / "count"
    script = tmp_path / "creds.py"
    script.write_text(
        "import datetime, json, pathlib\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {SIM_ACCESS_KEY_ID!r}, "
        f"'SecretAccessKey': {SIM_SECRET_ACCESS_KEY!r}, 'SessionToken': f'token-{{n}}', "
        "'Expiration': expires.isoformat()}))\n")
    config = tmp_path / "config"
    config.write_text(f"[profile temp]\ncredential_process = {sys.executable} {script}\n")
    chain.setenv("AWS_CONFIG_FILE", str(config))
    credential = make(region="us-east-1", profile="temp")
    asyncio.run(credential.refresh())
    first = credential.authorize(REQUEST)
    asyncio.run(credential.refresh())
    second = credential.authorize(REQUEST)
    assert first.headers["x-amz-security-token"] != second.headers["x-amz-security-token"]
    assert verify(URL, headers_of(second), second.body) is None
    due = credential.refresh_due(0.0) or 0
    assert due - time.monotonic() <= 60  # temporary: looked at again within the minute
