"""The credentials seam: static keys per dialect, minted tokens on a schedule, and routing that
skips what a credential cannot serve, saying why."""

from __future__ import annotations

import asyncio
import datetime
import random
from typing import Any

import msgspec
import pytest
from google.auth.credentials import Credentials as GoogleCredentials

from crossroads.catalog import Catalog, CredentialSpec, Model
from crossroads.credentials import CredentialUnavailable
from crossroads.credentials.google import GoogleCredential
from crossroads.credentials.keeper import CredentialKeeper
from crossroads.credentials.registry import CredentialSet
from crossroads.credentials.static import StaticKey
from crossroads.errors import NoProviderAvailable
from crossroads.failures import RULES, Failure
from crossroads.http_client import FrozenHeaders
from crossroads.providers.base import UpstreamRequest
from crossroads.routing.plan import build_plan
from crossroads.settings import ConfigError, RoutingConfig, load_settings
from tests.unit.factories import MODEL, FakeStats, endpoint, request

ROUTING = RoutingConfig()
BUILT = UpstreamRequest(url="http://127.0.0.1:1/v1/chat/completions",
                        headers=FrozenHeaders({"content-type": "application/json"}), body=b"{}")


@pytest.mark.parametrize(("dialect", "header", "value"), [
    ("openai", "authorization", "Bearer k-1"),
    ("anthropic", "x-api-key", "k-1"),
    ("gemini", "x-goog-api-key", "k-1"),
])
def test_a_static_key_travels_in_its_dialects_header(dialect: str, header: str,
                                                       value: str) -> None:
    key = StaticKey("k-1", dialect)
    signed = key.authorize(BUILT)
    assert signed.headers[header] == value
    assert signed.headers["content-type"] == "application/json"
    assert "authorization" not in BUILT.headers  # the provider's own set is left alone
    # The same constant set comes back authorised as the same object: encoded once.
    assert key.authorize(BUILT).headers is signed.headers
    assert "k-1" not in repr(key) and "k-1" not in repr(signed.headers)


class FakeSource(GoogleCredentials):  # type: ignore[misc]
    """A google-auth credential whose token endpoint is a list of outcomes."""

    def __init__(self, outcomes: list[Any]) -> None:
        super().__init__()
        self.outcomes = outcomes
        self.exhausted = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def refresh(self, request: Any) -> None:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        token, lifetime_s = outcome
        if not self.outcomes and self.loop is not None:
            self.loop.call_soon_threadsafe(self.exhausted.set)
        self.token = token
        self.expiry = (datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
                       + datetime.timedelta(seconds=lifetime_s))


def _google(outcomes: list[Any]) -> GoogleCredential:
    source = FakeSource(outcomes)
    return GoogleCredential(lambda: source)


def test_a_google_token_is_minted_then_renewed_before_it_expires() -> None:
    asyncio.run(_test_a_google_token_is_minted_then_renewed_before_it_expires())


async def _test_a_google_token_is_minted_then_renewed_before_it_expires() -> None:
    credential = _google([("tok-1", 3600), ("tok-2", 3600)])
    now = asyncio.get_running_loop().time()
    assert credential.refresh_due(now) is not None
    assert credential.unavailable_reason(now) == "Google credential: no access token yet"
    with pytest.raises(CredentialUnavailable):
        credential.authorize(BUILT)
    await credential.refresh()
    now = asyncio.get_running_loop().time()
    assert credential.unavailable_reason(now) is None
    assert credential.authorize(BUILT).headers["authorization"] == "Bearer tok-1"
    due = credential.refresh_due(now)
    assert due is not None and 3600 - 300 - 2 < due - now <= 3600 - 300  # five minutes early
    await credential.refresh()
    assert credential.authorize(BUILT).headers["authorization"] == "Bearer tok-2"


def test_a_short_lived_token_is_renewed_at_half_its_life() -> None:
    asyncio.run(_test_a_short_lived_token_is_renewed_at_half_its_life())


async def _test_a_short_lived_token_is_renewed_at_half_its_life() -> None:
    credential = _google([("tok-1", 60)])
    await credential.refresh()
    now = asyncio.get_running_loop().time()
    due = credential.refresh_due(now)
    assert due is not None and 28 < due - now <= 30


def test_a_failed_mint_is_the_reason_and_is_retried_with_backoff() -> None:
    asyncio.run(_test_a_failed_mint_is_the_reason_and_is_retried_with_backoff())


async def _test_a_failed_mint_is_the_reason_and_is_retried_with_backoff() -> None:
    credential = _google([OSError("token endpoint said no"), ("tok-1", 3600)])
    await credential.refresh()
    now = asyncio.get_running_loop().time()
    assert credential.unavailable_reason(now) == \
        "Google credential unavailable: token endpoint said no"
    due = credential.refresh_due(now)
    assert due is not None and 0 < due - now <= 1.0
    with pytest.raises(CredentialUnavailable, match="token endpoint said no"):
        credential.authorize(BUILT)
    await credential.refresh()
    assert credential.unavailable_reason(asyncio.get_running_loop().time()) is None


def test_a_failed_renewal_keeps_the_token_in_hand() -> None:
    asyncio.run(_test_a_failed_renewal_keeps_the_token_in_hand())


async def _test_a_failed_renewal_keeps_the_token_in_hand() -> None:
    credential = _google([("tok-1", 3600), OSError("flaky")])
    await credential.refresh()
    await credential.refresh()
    assert credential.unavailable_reason(asyncio.get_running_loop().time()) is None
    assert credential.authorize(BUILT).headers["authorization"] == "Bearer tok-1"


def test_the_keeper_mints_at_start_and_renews_when_due() -> None:
    asyncio.run(_test_the_keeper_mints_at_start_and_renews_when_due())


async def _test_the_keeper_mints_at_start_and_renews_when_due() -> None:
    source = FakeSource([("tok-1", 1), ("tok-2", 3600)])
    source.loop = asyncio.get_running_loop()
    credential = GoogleCredential(lambda: source)
    google_spec = CredentialSpec("google", (("token_uri", "http://127.0.0.1:1/token"),))
    eps = [endpoint("vertex", credentials=google_spec, dialect="gemini")]
    credentials = CredentialSet(eps, {}, factories={"google": lambda spec, env: credential})
    keeper = CredentialKeeper(credentials)
    await keeper.start()
    assert credential.authorize(BUILT).headers["authorization"] == "Bearer tok-1"
    # Renewed at half of its one-second life, by the keeper alone.
    await asyncio.wait_for(source.exhausted.wait(), 10)
    for _ in range(200):  # the keeper's refresh resumes from its thread and stores it
        if credential.authorize(BUILT).headers["authorization"] == "Bearer tok-2":
            break
        await asyncio.sleep(0.01)
    await keeper.stop()
    assert credential.authorize(BUILT).headers["authorization"] == "Bearer tok-2"


def _catalog_with_blocked_vertex() -> tuple[Catalog, GoogleCredential]:
    spec = CredentialSpec("google", (("service_account_env", "NOT_SET_ANYWHERE"),))
    eps = [endpoint("vertex", prompt=0.1, credentials=spec), endpoint("open", prompt=1.0)]
    models = [Model(slug=MODEL, name="Test")]
    credentials = CredentialSet(eps, {"test/model::open": "k"}, env={})
    cat = Catalog(models, eps, {"test/model::open": "k"}, credentials=credentials)
    minted = credentials.minted()
    assert len(minted) == 1 and isinstance(minted[0], GoogleCredential)
    return cat, minted[0]


def test_routing_skips_an_endpoint_whose_credential_cannot_be_had() -> None:
    asyncio.run(_test_routing_skips_an_endpoint_whose_credential_cannot_be_had())


async def _test_routing_skips_an_endpoint_whose_credential_cannot_be_had() -> None:
    cat, credential = _catalog_with_blocked_vertex()
    await credential.refresh()  # NOT_SET_ANYWHERE is not set: the mint fails
    now = asyncio.get_running_loop().time()
    plan = build_plan(request(), cat, FakeStats(), ROUTING, random.Random(1), now)
    assert [e.tag for e in plan.attempts] == ["open"]
    assert plan.funnels[0].as_metadata()["removed"] == {"credentials": ["vertex"]}
    assert cat.credentials.reason(cat.endpoints(MODEL)[0], now) == \
        "Google credential unavailable: NOT_SET_ANYWHERE is not set"


def test_when_credentials_leave_nothing_the_error_names_the_reason() -> None:
    asyncio.run(_test_when_credentials_leave_nothing_the_error_names_the_reason())


async def _test_when_credentials_leave_nothing_the_error_names_the_reason() -> None:
    cat, credential = _catalog_with_blocked_vertex()
    await credential.refresh()
    now = asyncio.get_running_loop().time()
    with pytest.raises(NoProviderAvailable) as caught:
        build_plan(request(provider={"only": ["vertex"]}), cat, FakeStats(), ROUTING,
                   random.Random(1), now)
    assert "vertex: Google credential unavailable: NOT_SET_ANYWHERE is not set" in \
        caught.value.message


def test_endpoints_with_the_same_settings_share_one_credential() -> None:
    spec = CredentialSpec("google", (("service_account_file", "/nonexistent.json"),))
    eps = [endpoint("a", credentials=spec), endpoint("b", credentials=spec),
           endpoint("c", credentials=msgspec.structs.replace(
               spec, options=(("service_account_file", "/other.json"),)))]
    credentials = CredentialSet(eps, {})
    assert len(credentials.minted()) == 2
    assert credentials.for_endpoint(eps[0]) is credentials.for_endpoint(eps[1])


def _config(tmp_path: Any, credentials: str, dialect: str = "gemini") -> str:
    path = tmp_path / "crossroads.toml"
    path.write_text(f"""
[providers.vertex]
name = "Vertex"
base_url = "http://127.0.0.1:1/v1"
dialect = "{dialect}"
credentials = {credentials}

[[models]]
slug = "t/m"
name = "T"

[[endpoints]]
model = "t/m"
provider = "vertex"
context_length = 1000
price = {{ prompt = 1.0, completion = 1.0 }}
""")
    return str(path)


def test_the_catalog_reads_a_google_credential(tmp_path: Any) -> None:
    settings = load_settings(_config(
        tmp_path, '{ kind = "google", service_account_env = "SA", token_uri = "http://x/t" }'),
        env={})
    (ep,) = settings.catalog.endpoints("t/m")
    assert ep.available and ep.credentials is not None
    assert ep.credentials.kind == "google"
    assert ep.credentials.option("token_uri") == "http://x/t"
    # One Google credential (the shipped catalog's Bedrock rows add an AWS one beside it).
    minted = settings.catalog.credentials.minted()
    assert [type(c).__name__ for c in minted].count("GoogleCredential") == 1


@pytest.mark.parametrize(("credentials", "message"), [
    ('{ kind = "kerberos" }', "credentials.kind: unknown kind 'kerberos'"),
    ('{ kind = "google", password = "x" }', "unknown Google credential setting(s): password"),
    ('{ kind = "api_key", env = "K", extra = "1" }', "takes only `env`"),
])
def test_bad_credential_settings_are_configuration_errors(tmp_path: Any, credentials: str,
                                                          message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(_config(tmp_path, credentials), env={})


def test_an_api_key_credential_names_its_variable(tmp_path: Any) -> None:
    settings = load_settings(_config(tmp_path, '{ kind = "api_key", env = "GEM_KEY" }'),
                             env={"GEM_KEY": "secret-1"})
    (ep,) = settings.catalog.endpoints("t/m")
    assert ep.available and ep.credentials is None and ep.api_key_env == "GEM_KEY"
    signed = settings.catalog.credentials.for_endpoint(ep).authorize(BUILT)
    assert signed.headers["x-goog-api-key"] == "secret-1"


def test_a_credential_lost_between_routing_and_sending_fails_over_without_blame() -> None:
    # The relay turns CredentialUnavailable into this failure: the next endpoint is tried,
    # and the endpoint itself, which did nothing wrong, keeps its uptime and its breaker shut.
    rule = RULES[Failure.CREDENTIAL]
    assert rule.fail_over and not rule.trips_breaker and not rule.counts_against_uptime
    assert rule.caller_status == 503
