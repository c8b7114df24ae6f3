"""The start-up banner: a call that can be pasted into a shell and works, and where everything
else is (model pages, metrics, the ledger, how to stop)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Callable

from tests.integration.conftest import MODEL
from tests.support import Router


def banner_after_ready_line(router: Router) -> str:
    """The lines the router printed after `listening on`, up to its last (`stop:`)."""
    assert router.process.stdout is not None
    lines = []
    for _ in range(200):
        line = router.process.stdout.readline()
        lines.append(line)
        if not line or line.lstrip().startswith("stop:"):
            break
    return "".join(lines)


def curl_of(banner: str) -> str:
    lines = banner.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("curl "))
    end = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("-d "))
    return "\n".join(lines[start:end + 1])


def test_the_banner_curl_works_as_pasted(router: Router):
    banner = banner_after_ready_line(router)
    curl = curl_of(banner)
    assert f"{router.api}/chat/completions" in curl
    # The flagship has no key in this config, so the example names the routable model.
    assert f'"model": "{MODEL}"' in curl
    result = subprocess.run(["bash", "-c", curl + " --silent --show-error"], check=False,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["choices"][0]["message"]["content"]
    assert reply["model"] == MODEL


def test_the_banner_points_at_pages_metrics_ledger_and_stopping(router: Router):
    banner = banner_after_ready_line(router)
    assert f"model page:  {router.root}/models/{MODEL}  (all models: {router.root}/models)" \
        in banner
    assert f"metrics:     {router.root}/metrics" in banner
    assert f"ledger:      SQLite {router.log.parent / 'crossroads.db'}" in banner
    assert "Ctrl-C or SIGTERM" in banner
    for url in (f"{router.root}/models/{MODEL}", f"{router.root}/metrics"):
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200, url


def test_in_keys_mode_the_curl_reads_the_key_from_the_environment(
        make_router: Callable[..., Router]):
    router = make_router(extra='[auth]\nmode = "keys"\n')
    banner = banner_after_ready_line(router)
    assert '-H "Authorization: Bearer $CROSSROADS_API_KEY"' in curl_of(banner)
    assert "export CROSSROADS_API_KEY=" in banner
