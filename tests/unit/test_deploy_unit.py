"""deploy/crossroads.service agrees with the router it starts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from crossroads import cli
from crossroads.banner import GRACEFUL_STOP_S
from crossroads.workers import STOP_GRACE_S

UNIT = Path(__file__).parents[2] / "deploy" / "crossroads.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are cased
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_exec_start_is_a_command_line_serve_accepts():
    words = shlex.split(service()["ExecStart"].replace("\\\n", " "))
    assert words[0].endswith("/bin/crossroads")
    args = cli._parser().parse_args(words[1:])
    assert args.command == "serve" and args.config == "/etc/crossroads/crossroads.toml"


def test_stop_waits_longer_than_the_graceful_stop_and_signals_only_the_router():
    unit = service()
    assert unit["KillSignal"] == "SIGTERM"
    assert unit["KillMode"] == "mixed"  # the router stops its own simulator, after its requests
    # Past both the router's graceful stop and the --workers supervisor's limit.
    assert int(unit["TimeoutStopSec"]) > max(GRACEFUL_STOP_S, STOP_GRACE_S)
    assert unit["Restart"] == "on-failure"


def test_secrets_come_from_an_environment_file_and_the_service_is_sandboxed():
    unit = service()
    assert unit["EnvironmentFile"].startswith("-/etc/crossroads/")
    assert "API_KEY=" not in unit.get("Environment", "")
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("StateDirectory", "crossroads"), ("CapabilityBoundingSet", "")):
        assert unit[key] == value, key
    assert unit["WorkingDirectory"] == "/var/lib/crossroads"  # state_dir "." lands there
