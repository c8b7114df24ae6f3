"""The banner's addresses and ledger line, for settings the loopback tests do not start."""

from __future__ import annotations

import msgspec

from crossroads.banner import banner, base_url, curl_example, ledger_location
from crossroads.settings import load_settings


def test_a_wildcard_host_is_shown_as_the_loopback_address_a_client_uses():
    assert base_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert base_url("::", 8080) == "http://[::1]:8080"
    assert base_url("127.0.0.2", 81) == "http://127.0.0.2:81"  # a named host is shown as given


def test_the_database_url_is_shown_without_its_password():
    settings = load_settings(env={})
    server = msgspec.structs.replace(
        settings.server, database_url="postgresql://crossroads:hunter2-secret@db:5432/cr",
        state_dir="/var/lib/crossroads")
    settings = msgspec.structs.replace(settings, server=server)
    assert ledger_location(settings) == ("PostgreSQL postgresql://crossroads:***@db:5432/cr "
                                         "(journal in /var/lib/crossroads)")
    text = banner(settings, settings.catalog, "0.0.0.0", 8080, False, "keys")
    assert "hunter2-secret" not in text
    assert "listening on http://0.0.0.0:8080/api/v1" in text.splitlines()[0]


def test_the_example_names_the_flagship_in_demo_mode():
    settings = load_settings(env={"DEEPINFRA_API_KEY": "k"})
    text = banner(settings, settings.catalog, "127.0.0.1", 8080, False, "open")
    assert '"model": "meta-llama/llama-4-scout"' in text
    assert "http://127.0.0.1:8080/models/meta-llama/llama-4-scout" in text


def test_a_model_with_a_quote_stays_one_shell_word():
    curl = curl_example("http://h:1", "it's/odd", "open")
    assert "-d '{\"model\": \"it'\"'\"'s/odd\"" in curl
