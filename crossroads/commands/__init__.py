"""The client commands: `models`, `check-config`, `generation`, `bench`, `replay`.

Their command lines are in `options.py`; each command module gives `run(args) -> exit status`
and is imported only when its command runs (they pull in httpx and rich, which `serve` never
needs). Their exit statuses are shared (`options.Exit`): 0 done, 1 what was asked for is wrong
or absent, 2 bad command line, 3 no router answers, 4 the router refused the key."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from crossroads.commands import options

# command → (how its parser is added, the module whose `run` serves it)
COMMANDS: dict[str, tuple[Callable[[Any], None], str]] = {
    "models": (options.add_models, "crossroads.commands.models"),
    "check-config": (options.add_check_config, "crossroads.commands.check_config"),
    "generation": (options.add_generation, "crossroads.commands.generation"),
    "bench": (options.add_bench, "crossroads.commands.bench"),
    "replay": (options.add_replay, "crossroads.commands.replay"),
}


def _runner(module: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return int(importlib.import_module(module).run(args))
    return run


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    name: _runner(module) for name, (_, module) in COMMANDS.items()}


def add_parsers(commands: Any) -> None:
    for add, _ in COMMANDS.values():
        add(commands)


TOP_EPILOG = """examples:
  crossroads serve                               # router on 127.0.0.1:8080 (simulated without keys)
  crossroads serve --config crossroads.toml --host 0.0.0.0 --auth keys
  crossroads check-config crossroads.toml        # every error with its key path, exit 1 if any
  crossroads models                              # the catalog, live stats from a running router
  crossroads generation gen-1765113600-AbCdEf    # one generation from the ledger
  crossroads bench --requests 200 -c 16 --stream # throughput, latency, cost, failovers
  crossroads replay bench/replay/incidents.toml  # routing against an oracle, on a scripted fleet
  crossroads keys create --name ci --limit 5

`crossroads COMMAND --help` shows each command's options and examples."""

# Examples for the commands cli.py defines itself, added here so cli.py stays about serving.
EXAMPLES = {
    "serve": """examples:
  crossroads serve                                # 127.0.0.1:8080, open auth, SQLite in .
  crossroads serve --demo --port 9000             # simulated providers even with keys set
  crossroads serve --workers auto                 # one router process per core, one port
  crossroads serve --config /etc/crossroads.toml --host 0.0.0.0 --auth keys
  crossroads serve --database-url postgresql://crossroads@db/crossroads \\
                   --redis-url redis://cache:6379/0  # one replica of several

Stop with Ctrl-C or SIGTERM: requests in flight get 10 s to finish, the ledger is flushed.""",
    "sim": """examples:
  crossroads sim --port 9100                      # a twin of every catalog endpoint
  crossroads sim --fleet fleet.toml --seed 3 --time-scale 0   # no delays, for tests""",
}


def add_examples(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give the top-level parser and cli.py's own commands their examples."""
    parser.epilog = TOP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name in EXAMPLES and not sub.epilog:
                    sub.epilog = EXAMPLES[name]
                    sub.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser
