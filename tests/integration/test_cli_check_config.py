"""`crossroads check-config FILE`: every error with its key path, exit 1; a summary and 0."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli_support import crossroads

SHAPE_ERRORS = """
[server]
port = 8080
hostt = "0.0.0.0"

[routing]
max_attempts = "six"

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "groq"
price = { prompt = "free", completion = 1 }

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "groq"
tag = "second"
price = { prompt = 1, completion = 1 }
supported_parameters = ["tools", 3]

[[endpoints]]
provider = "groq"
"""

MEANING_ERRORS = """
[server]
port = 99999

[providers.mylab]
name = "My Lab"
base_url = "http://gpu.internal:8000/v1"

[[models]]
slug = "mylab/new"
context_length = 1000

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "mylab"
context_length = 1000
price = { prompt = 0.1, completion = 0.2 }

[[endpoints]]
model = "nobody/nothing"
provider = "mylab"
context_length = 1000
price = { prompt = 1, completion = 1 }

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "nolab"
tag = "elsewhere"
context_length = 1000
price = { prompt = 1, completion = 1 }

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "mylab"
tag = "tiny"
context_length = -5
price = { prompt = 1, completion = 1 }
"""

VALID = """
[server]
port = 9000

[providers.mylab]
name = "My Lab"
base_url = "http://gpu.internal:8000/v1"
api_key_env = "MYLAB_KEY"

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "mylab"
context_length = 1000
price = { prompt = 0.1, completion = 0.2 }

[presets.short]
name = "Short answers"
system_prompt = "Answer in one sentence."
"""


def check(tmp_path: Path, text: str, env: dict[str, str] | None = None
          ) -> tuple[int, list[str], str]:
    path = tmp_path / "crossroads.toml"
    path.write_text(text)
    result = crossroads("check-config", str(path), cwd=tmp_path, env=env)
    assert "Traceback" not in result.stdout + result.stderr
    return result.returncode, [line.strip() for line in result.stdout.splitlines()[1:]], \
        result.stdout


def test_every_shape_error_is_reported_with_its_key_path(tmp_path: Path):
    status, errors, output = check(tmp_path, SHAPE_ERRORS)
    assert status == 1
    assert output.startswith(f"{tmp_path / 'crossroads.toml'}: 5 errors")
    # The known keys are ServerConfig's, which grows; the message lists them all.
    assert errors[0].startswith("server.hostt: unknown key (known: host, port, state_dir, ")
    assert errors[1:] == [
        "routing.max_attempts: expected an integer, got a string",
        "endpoints[0].price.prompt: expected a number, got a string",
        "endpoints[1].supported_parameters[1]: expected a string, got an integer",
        "endpoints[2].model: required",
    ]


def test_every_meaning_error_is_reported_not_just_the_first(tmp_path: Path):
    status, errors, _ = check(tmp_path, MEANING_ERRORS)
    assert status == 1
    assert errors == [
        "models[0].name: required for a new model",
        "endpoints[1].model: unknown model 'nobody/nothing'",
        "endpoints[2].provider: unknown provider 'nolab'",
        "endpoints[3].context_length: must be positive",
        "server.port: out of range",
    ]


def test_a_bad_preset_is_set_aside_and_the_next_error_still_found(tmp_path: Path):
    status, errors, _ = check(tmp_path, """
[presets.fast]
name = "Fast"
config = { provider = { sort = "speediest" } }

[[endpoints]]
model = "nobody/nothing"
provider = "groq"
""")
    assert status == 1
    assert errors == ["presets.fast.config.provider.sort: Invalid enum value 'speediest'",
                      "endpoints[0].model: unknown model 'nobody/nothing'"]


def test_serve_stops_at_the_first_error_check_config_finds_all(tmp_path: Path):
    path = tmp_path / "crossroads.toml"
    path.write_text(MEANING_ERRORS)
    served = crossroads("serve", "--config", str(path), "--port", "0", cwd=tmp_path)
    assert served.returncode == 2 and "models[0].name" in served.stderr
    assert "endpoints[1]" not in served.stderr


def test_a_valid_file_gets_a_summary_and_status_0(tmp_path: Path):
    status, lines, output = check(tmp_path, VALID, env={"MYLAB_KEY": "secret-value-123"})
    assert status == 0, output
    assert lines[0].startswith("catalog: 14 models, 48 endpoints (1 with their API key set")
    assert lines[0].endswith("1 presets")
    assert lines[1] == "server: 127.0.0.1:9000, auth by address"
    assert lines[2] == f"ledger: SQLite {tmp_path / 'crossroads.db'}"
    assert "secret-value-123" not in output


def test_unreadable_and_malformed_files_are_errors(tmp_path: Path):
    missing = crossroads("check-config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert missing.returncode == 1 and "cannot read: No such file or directory" in missing.stdout
    status, errors, _ = check(tmp_path, "[server\nport = 1\n")
    assert status == 1 and errors[0].startswith("not valid TOML:")


def test_no_file_is_a_usage_error(tmp_path: Path):
    result = crossroads("check-config", cwd=tmp_path)
    assert result.returncode == 2 and "the following arguments are required: file" in result.stderr


def test_a_google_credential_that_cannot_be_had_is_named_with_its_reason(tmp_path: Path):
    missing = tmp_path / "no-such-key.json"
    status, lines, output = check(tmp_path, f"""
[providers.vertex]
name = "Vertex"
base_url = "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google"
dialect = "gemini"
credentials = {{ kind = "google", service_account_file = "{missing}" }}

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "vertex"
context_length = 1000
price = {{ prompt = 0.1, completion = 0.2 }}
""")
    assert status == 0, output
    # Beside the shipped Bedrock rows (aws), whose chain is empty here.
    assert "credentials: 3 endpoints use minted credentials (aws, google)" in output
    assert (f"unavailable: meta-llama/llama-4-scout @ vertex: Google credential unavailable: "
            f"cannot use the key file {missing} (DefaultCredentialsError)") in lines


def test_an_unknown_credential_kind_is_a_configuration_error(tmp_path: Path):
    status, errors, _ = check(tmp_path, """
[providers.mylab]
name = "My Lab"
base_url = "http://gpu.internal:8000/v1"
credentials = { kind = "kerberos" }

[[endpoints]]
model = "meta-llama/llama-4-scout"
provider = "mylab"
context_length = 1000
price = { prompt = 0.1, completion = 0.2 }
""")
    assert status == 1
    assert errors == ["endpoints[0].credentials.kind: unknown kind 'kerberos' "
                      "(known: api_key, aws, google)"]
