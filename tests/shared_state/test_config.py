"""Choosing the backend: `[server] redis_url` or `serve --redis-url`, checked before starting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crossroads.errors import redact_url
from crossroads.routing.sticky import StickyTable
from crossroads.settings import ConfigError, load_settings
from crossroads.shared_state import open_shared_state
from crossroads.shared_state.local import LocalState
from crossroads.stats import LiveStats


def settings_with(tmp_path: Path, server: str):
    path = tmp_path / "crossroads.toml"
    path.write_text(f"[server]\n{server}\n")
    return load_settings(str(path), env={})


def test_without_a_url_state_stays_in_this_process(tmp_path: Path):
    settings = settings_with(tmp_path, "")
    assert settings.server.redis_url is None
    stats = LiveStats(settings.routing, settings.breaker)
    shared = open_shared_state(settings, stats, StickyTable(), 0.0)
    assert isinstance(shared, LocalState)
    assert shared.healthy() and shared.status().backend == "memory"


def test_a_url_that_is_not_redis_is_refused_with_its_key(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"server\.redis_url"):
        settings_with(tmp_path, 'redis_url = "http://127.0.0.1:6379"')
    assert settings_with(tmp_path, 'redis_url = "rediss://cache:6380/2"').server.redis_url


def test_serve_refuses_a_bad_redis_url_before_listening(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "crossroads", "serve", "--port", "0",
         "--redis-url", "mysql://root:pw@db/x"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "server.redis_url: must start with redis://" in result.stderr
    assert "listening" not in result.stdout


def test_the_password_never_appears_where_the_url_is_shown():
    assert redact_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("redis://app:s3cret@cache:6379/0") == "redis://app:***@cache:6379/0"
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"
