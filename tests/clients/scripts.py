"""Running a client's scenario script: a Node or LangChain-venv program, one process per run.

The script gets one JSON argument, the spec::

    {"base_url": router API URL, "api_key": bearer key, "run": unique id,
     "scenarios": [scenario names], "context": fleet.SCENARIO_CONTEXT}

and prints one JSON document, `{scenario: observation}`; a scenario that raised is observed as
`{"error": {"class", "status", "message"}}`. Each request a scenario sends carries the tag
`[<run>:<scenario>]` in its prompt (`tag()`), which is how a test finds it in the simulator's
logs. Adding a scenario: a function in the script's SCENARIOS table, then a test that asks for it.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.clients.conftest import Deployment, client_environment
from tests.clients.fleet import SCENARIO_CONTEXT

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "clients" / "node"
LANGCHAIN_PYTHON = ROOT / ".venv-langchain" / "bin" / "python"
LANGCHAIN_SCRIPT = ROOT / "tests" / "clients" / "langchain" / "scenarios.py"
LANGCHAIN_OPENAI_SCRIPT = ROOT / "tests" / "clients" / "langchain" / "openai_scenarios.py"
TIMEOUT_S = 110


def tag(run: str, scenario: str) -> str:
    return f"{run}:{scenario}"


@dataclass(frozen=True)
class ClientScript:
    command: tuple[str, ...]
    cwd: Path
    # What `scripts/test` installs for it; named in the failure when it is missing.
    needs: Path

    def run(self, deployment: Deployment, *scenarios: str,
            context: dict[str, Any] | None = None) -> Run:
        assert self.needs.exists(), (
            f"{self.needs} is missing: ./scripts/test installs it (run it once)")
        # Never all digits: the simulator takes numbers in a prompt as the values a JSON answer
        # should hold, and a tag like [5991230368:…] would become someone's temperature.
        run_id = "r" + uuid.uuid4().hex[:9]
        spec = {"base_url": deployment.router.api, "api_key": "test-key", "run": run_id,
                "scenarios": list(scenarios), "context": {**SCENARIO_CONTEXT, **(context or {})}}
        done = subprocess.run([*self.command, json.dumps(spec)], cwd=self.cwd,
                              capture_output=True, text=True, timeout=TIMEOUT_S,
                              env=client_environment(), check=False)
        assert done.returncode == 0, (
            f"{' '.join(self.command)} exited {done.returncode}:\n{done.stderr[-4000:]}")
        observed = json.loads(done.stdout)
        assert sorted(observed) == sorted(scenarios), observed
        return Run(run_id, observed)


@dataclass(frozen=True)
class Run:
    id: str
    observed: dict[str, Any]

    def tag(self, scenario: str) -> str:
        return tag(self.id, scenario)

    def __getitem__(self, scenario: str) -> Any:
        return self.observed[scenario]


OPENROUTER_SDK = ClientScript(("node", "openrouter_sdk.mjs"), NODE_DIR,
                              NODE_DIR / "node_modules" / "@openrouter" / "sdk")
AI_SDK = ClientScript(("node", "ai_sdk.mjs"), NODE_DIR,
                      NODE_DIR / "node_modules" / "@openrouter" / "ai-sdk-provider")
LANGCHAIN = ClientScript((str(LANGCHAIN_PYTHON), str(LANGCHAIN_SCRIPT)), ROOT, LANGCHAIN_PYTHON)
LANGCHAIN_OPENAI = ClientScript((str(LANGCHAIN_PYTHON), str(LANGCHAIN_OPENAI_SCRIPT)), ROOT,
                                LANGCHAIN_PYTHON)
