"""The client commands: `models`, `check-config`, `generation`, `bench`.

Each module gives `add_parser(subparsers)` and `run(args) -> exit status`; `cli.py` registers
them through `add_parsers` and dispatches through `HANDLERS`. Their exit statuses are shared
(`remote.Exit`): 0 done, 1 what was asked for is wrong or absent, 2 bad command line, 3 no router
answers, 4 the router refused the key."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import ModuleType
from typing import Any

from crossroads.commands import bench, check_config, generation, models

MODULES: dict[str, ModuleType] = {"models": models, "check-config": check_config,
                                  "generation": generation, "bench": bench}
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    name: module.run for name, module in MODULES.items()}


def add_parsers(commands: Any) -> None:
    for module in MODULES.values():
        module.add_parser(commands)


TOP_EPILOG = """examples:
  crossroads serve                               # router on 127.0.0.1:8080 (simulated without keys)
  crossroads serve --config crossroads.toml --host 0.0.0.0 --auth keys
  crossroads check-config crossroads.toml        # every error with its key path, exit 1 if any
  crossroads models                              # the catalog, live stats from a running router
  crossroads generation gen-1765113600-AbCdEf    # one generation from the ledger
  crossroads bench --requests 200 -c 16 --stream # throughput, latency, cost, failovers
  crossroads keys create --name ci --limit 5

`crossroads COMMAND --help` shows each command's options and examples."""

# Examples for the commands cli.py defines itself, added here so cli.py stays about serving.
EXAMPLES = {
    "serve": """examples:
  crossroads serve                                # 127.0.0.1:8080, open auth, SQLite in .
  crossroads serve --demo --port 9000             # simulated providers even with keys set
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
