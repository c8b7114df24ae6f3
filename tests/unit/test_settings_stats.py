from __future__ import annotations

from pathlib import Path

import pytest

from crossroads.settings import BreakerConfig, ConfigError, RoutingConfig, load_settings
from crossroads.stats import AttemptReport, LiveStats

SCOUT = "meta-llama/llama-4-scout"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "crossroads.toml"
    path.write_text(text)
    return str(path)


def test_shipped_catalog_has_scout_with_eight_keyless_endpoints():
    settings = load_settings(env={})
    # Bedrock's signs with the AWS chain, not a key: its credential says whether it can serve.
    endpoints = [e for e in settings.catalog.endpoints(SCOUT) if e.provider != "bedrock"]
    assert len(endpoints) == 8
    assert not any(e.available for e in endpoints)
    groq = next(e for e in endpoints if e.provider == "groq")
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.pricing.prompt == 110_000 and groq.context_length == 131_072
    assert "no API key" in (groq.unavailable_reason or "")


def test_key_from_env_makes_endpoint_available_and_stays_out_of_the_endpoint():
    settings = load_settings(env={"GROQ_API_KEY": "sk-secret"})
    groq = next(e for e in settings.catalog.endpoints(SCOUT) if e.provider == "groq")
    assert groq.available
    assert settings.catalog.api_key(groq) == "sk-secret"
    assert "sk-secret" not in repr(groq)


def test_operator_file_overrides_and_adds(tmp_path):
    path = write(tmp_path, """
[timeouts]
stall_s = 2.5

[providers.local]
name = "Local vLLM"
base_url = "http://127.0.0.1:8000/v1"

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "groq"
price = { prompt = 0.2, completion = 0.4 }

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "local"
context_length = 65536
price = { prompt = 0, completion = 0 }

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "cerebras"
enabled = false
""")
    settings = load_settings(path, env={})
    by_tag = {e.tag: e for e in settings.catalog.endpoints(SCOUT)}
    assert settings.timeouts.stall_s == 2.5
    assert by_tag["groq"].pricing.prompt == 200_000 and by_tag["groq"].context_length == 131_072
    assert by_tag["local"].available and by_tag["local"].provider_name == "Local vLLM"
    assert "cerebras" not in by_tag


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[timeouts]\nstall_s = 'slow'", "timeouts.stall_s"),
        ("[server]\nprot = 1", "server"),
        ("[[endpoints]]\nmodel = 'meta-llama/llama-4-scout'\nprovider = 'groq'\n"
         "price = { prompt = 'x', completion = 1 }", "endpoints[0].price.prompt"),
        ("[[endpoints]]\nmodel = 'meta-llama/llama-4-scout'\nprovider = 'newco'\n"
         "base_url = 'http://x'\nprice = { prompt = 1, completion = 1 }",
         "endpoints[0].context_length"),
        ("[[endpoints]]\nmodel = 'nope/nope'\nprovider = 'groq'", "endpoints[0].model"),
        ("[routing]\nmax_attempts = 0", "routing.max_attempts"),
        ("not toml = = =", "not valid TOML"),
    ],
)
def test_invalid_config_names_the_key_path(tmp_path, text, path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env={})
    assert path in str(info.value)


def _stats(base=1.0, maximum=8.0):
    return LiveStats(RoutingConfig(), BreakerConfig(base_cooldown_s=base, max_cooldown_s=maximum))


FAIL = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=True)
OK = AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False)


def test_breaker_cooldown_doubles_and_allows_one_probe():
    s = _stats()
    s.record("k", FAIL, 100.0)
    assert not s.try_begin("k", 100.5)
    assert s.try_begin("k", 101.0)          # the probe
    assert not s.try_begin("k", 101.0)      # only one at a time
    s.record("k", FAIL, 101.1)              # probe failed: 2 s now
    assert not s.try_begin("k", 103.0)
    assert s.try_begin("k", 103.2)
    s.record("k", OK, 103.3)
    assert s.try_begin("k", 103.3) and s.try_begin("k", 103.3)  # closed: no gating


def test_breaker_honours_retry_after_and_caps():
    s = _stats()
    s.record("k", AttemptReport(ok=False, counts_against_uptime=False, trips_breaker=True,
                                retry_after_s=30.0), 0.0)
    assert s.health("k", 1.0).cooling_until == 8.0  # capped at max_cooldown_s


def test_rate_limits_and_caller_errors_do_not_count_against_uptime():
    s = _stats()
    for t in range(10):
        s.record("k", OK, float(t))
    s.record("k", AttemptReport(ok=False, counts_against_uptime=False, trips_breaker=True), 10.0)
    s.record("k", AttemptReport(ok=False, counts_against_uptime=False, trips_breaker=False),
             10.0)
    h = s.health("k", 10.0)
    assert h.uptime == 1.0 and h.uptime_samples == 10
    s.record("k", FAIL, 11.0)
    assert s.health("k", 11.0).uptime == pytest.approx(10 / 11)


def test_outage_window_forgets_old_failures():
    s = _stats()
    for t in range(5):
        s.record("k", FAIL, float(t))
    assert s.health("k", 5.0).recent_failures == 5
    assert s.health("k", 40.0).recent_failures == 0


def test_breaker_survives_a_very_long_outage():
    s = _stats(base=1.0, maximum=60.0)
    for t in range(5000):
        s.record("k", FAIL, float(t))
    assert s.health("k", 5000.0).cooling_until == 4999.0 + 60.0
