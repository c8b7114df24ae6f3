"""The client commands' command lines: options, descriptions, examples and exit statuses.

Kept apart from the commands themselves, which import httpx and rich: `crossroads serve` builds
this parser on every start and should not pay ~140 ms for libraries it never uses.
"""

from __future__ import annotations

import argparse
from enum import IntEnum
from typing import Any

# Here rather than in banner.py: the banner imports the settings, which this module must not.
FLAGSHIP = "meta-llama/llama-4-scout"
DEFAULT_URL = "http://127.0.0.1:8080"
URL_VARIABLE = "CROSSROADS_URL"
KEY_VARIABLE = "CROSSROADS_API_KEY"


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # what was asked for is wrong or absent: an invalid file, an unknown id
    USAGE = 2  # argparse's own status for a bad command line
    UNREACHABLE = 3  # no router answers at the address
    REFUSED = 4  # the router refused the key (401/403)


MODELS_DESCRIPTION = """\
The catalog as a table: one row per endpoint, with live stats when a router answers.

Where the rows come from:
- --url URL: that router's /api/v1/models and each model's /endpoints (live state, TTFT,
  throughput, uptime); a router that does not answer is an error (exit 3).
- --config FILE: the catalog that file builds (shipped catalog + the file + this
  environment's keys), offline: no live stats.
- neither: the router at $CROSSROADS_URL or 127.0.0.1:8080 if one answers within a second,
  else the shipped catalog offline, saying so."""

MODELS_EPILOG = """examples:
  crossroads models                          # the running router's catalog, else the shipped one
  crossroads models --url http://gw:8080     # a remote router, live stats
  crossroads models --config crossroads.toml # what this config file would serve (no live stats)
  crossroads models --model llama            # only models whose slug contains "llama"

exit status: 0 shown, 1 the config file is invalid, 3 no router answers at --url."""

CHECK_CONFIG_DESCRIPTION = """\
Every mistake in an operator's TOML file, each with its key path, before a start finds the
first one: wrong types, unknown keys and missing fields anywhere in the file, then what serve
would refuse (unknown models or providers, missing prices, values out of range)."""

CHECK_CONFIG_EPILOG = """examples:
  crossroads check-config crossroads.toml && crossroads serve --config crossroads.toml

exit status: 0 the file is valid (a short summary is printed), 1 it has errors (each printed
on its own line as `key.path: what is wrong`) or cannot be read."""

GENERATION_DESCRIPTION = """\
One generation as the ledger holds it (GET /api/v1/generation): what was asked, who
served it, tokens, cost, timings and every attempt, failovers included."""

GENERATION_EPILOG = """examples:
  crossroads generation gen-1765113600-AbCdEf
  crossroads generation gen-1765113600-AbCdEf --json | jq .data.total_cost
  crossroads generation $ID --url http://gw:8080 --key $CROSSROADS_API_KEY

The id is a response's `id` (also its X-Generation-Id header). A key sees its own generations;
a management key, or any caller of a router in open mode, sees all.

exit status: 0 found, 1 not found or invalid id, 3 no router answers, 4 the key was refused."""

BENCH_DESCRIPTION = """\
Drive a running router with chat requests and sum up what came back.

Each request is a real POST /api/v1/chat/completions; latency is the full round trip as the
client sees it, TTFT (streamed) the time to the first chunk carrying content or reasoning.
Tokens and cost come from each answer's `usage`; failovers from the ledger afterwards
(GET /api/v1/generation of every generation id: more than one attempt is a failover)."""

BENCH_EPILOG = """examples:
  crossroads bench                                   # 100 requests, 8 at a time, the flagship
  crossroads bench --model meta-llama/llama-3.1-8b-instruct:nitro --requests 500 -c 32
  crossroads bench --stream --max-tokens 256         # adds time-to-first-token percentiles
  crossroads bench --url http://gw:8080 --key $CROSSROADS_API_KEY

It spends real money against real providers: every request is billed like any other.

exit status: 0 at least one request succeeded, 1 none did (or the model is unknown), 3 no
router answers, 4 the key was refused."""


REPLAY_DESCRIPTION = """\
Replay a scripted fleet against the real router and score it against an oracle.

Starts the simulator on FLEET (its [[event]] timeline: outages, slowdowns, error bursts, rate
limits, price changes) and a router whose catalog is made for it, both on 127.0.0.1, then sends
streamed requests at a fixed rate while the script plays. The oracle knows the script: at each
request's send time the cheapest healthy endpoint (Balanced, Floor, Exacto) and the fastest
(Nitro). Prints success rate, cost ÷ oracle, cost ÷ the mode's own policy over the healthy
endpoints, throughput ÷ oracle, TTFT p50/p99, wasted attempts and the recovery after each
incident. Definitions: crossroads/replay/oracle.py and the README."""

REPLAY_EPILOG = """examples:
  crossroads replay bench/replay/incidents.toml                 # Balanced, 10 req/s
  crossroads replay bench/replay/incidents.toml --mode nitro --json | jq .throughput_vs_oracle
  crossroads replay bench/replay/calm.toml --requests 50 --rate 5
  crossroads replay bench/replay/incidents.toml --save run.jsonl   # every request, for later
  crossroads replay bench/replay/incidents.toml --rescore run.jsonl   # score it again

Runs wholly on this machine and spends nothing; keep other load off it while it runs, since the
router, the simulator and the client share its cores.

exit status: 0 the replay ran, 1 the fleet file is invalid or a process would not start."""


def _command(commands: Any, name: str, help_text: str, description: str,
             epilog: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help_text, description=description, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None,
                        help=f"the router's address (default ${URL_VARIABLE}, else {DEFAULT_URL}); "
                             "…/api/v1 is accepted too")
    parser.add_argument("--key", default=None,
                        help=f"API key to present (default ${KEY_VARIABLE}; a router in open "
                             "mode accepts any)")


def add_models(commands: Any) -> None:
    parser = _command(commands, "models",
                      "the catalog as a table, with live stats from a running router",
                      MODELS_DESCRIPTION, MODELS_EPILOG)
    add_target_options(parser)
    parser.add_argument("--config", default=None,
                        help="show the catalog this TOML file builds, offline (no live stats)")
    parser.add_argument("--model", default=None, metavar="TEXT",
                        help="only models whose slug contains TEXT")


def add_check_config(commands: Any) -> None:
    parser = _command(commands, "check-config",
                      "validate an operator TOML file: every error with its key path",
                      CHECK_CONFIG_DESCRIPTION, CHECK_CONFIG_EPILOG)
    parser.add_argument("file", help="the TOML file `crossroads serve --config` would read")


def add_generation(commands: Any) -> None:
    parser = _command(commands, "generation",
                      "show one generation from a running router's ledger",
                      GENERATION_DESCRIPTION, GENERATION_EPILOG)
    parser.add_argument("id", help="the generation id (gen-…)")
    add_target_options(parser)
    parser.add_argument("--json", action="store_true", help="print the raw JSON body")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_bench(commands: Any) -> None:
    parser = _command(commands, "bench",
                      "load a running router and print throughput, latency, cost, failovers",
                      BENCH_DESCRIPTION, BENCH_EPILOG)
    add_target_options(parser)
    parser.add_argument("--model", default=None,
                        help=f"model slug, variants allowed (default {FLAGSHIP} if the router "
                             "can route to it, else the first model it can)")
    parser.add_argument("--requests", "-n", type=_positive, default=100, help="default 100")
    parser.add_argument("--concurrency", "-c", type=_positive, default=8,
                        help="requests in flight at once (default 8)")
    parser.add_argument("--stream", action="store_true", help="stream the answers (adds TTFT)")
    parser.add_argument("--max-tokens", type=_positive, default=64, help="default 64")
    parser.add_argument("--prompt", default="Write one sentence about crossroads.",
                        help="the user message (a request number is appended to each)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one request may take (default 120)")


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def add_replay(commands: Any) -> None:
    parser = _command(commands, "replay",
                      "run the router against a scripted fleet and score it against an oracle",
                      REPLAY_DESCRIPTION, REPLAY_EPILOG)
    parser.add_argument("fleet", help="fleet TOML file with prices and an [[event]] timeline")
    parser.add_argument("--mode", choices=("balanced", "nitro", "floor", "exacto"),
                        default="balanced", help="the routing mode to ask for (default balanced)")
    parser.add_argument("--requests", "-n", type=_positive, default=None,
                        help="default: the script's length × the rate")
    parser.add_argument("--rate", type=_positive_float, default=None,
                        help="requests per second (default the file's [replay] rate, else 10)")
    parser.add_argument("--compress", type=_positive_float, default=1.0,
                        help="play the timeline this many times faster than real time (default "
                             "1: cooldowns and stats windows of the router do not shrink)")
    parser.add_argument("--max-tokens", type=_positive, default=None,
                        help="max_tokens of each request (default: none, the sim's length)")
    parser.add_argument("--timeout", type=_positive_float, default=60.0,
                        help="seconds one request may take (default 60)")
    parser.add_argument("--workdir", default=None, metavar="DIR",
                        help="run the sim and the router in DIR (new or empty) and keep their "
                             "logs, config and ledger there (default: a temporary directory)")
    parser.add_argument("--save", default=None, metavar="FILE",
                        help="write every request (send time, outcome, endpoint, attempts, "
                             "tokens, TTFT) and the oracle's choices then as JSON lines")
    parser.add_argument("--rescore", default=None, metavar="FILE",
                        help="run nothing: score the requests of an earlier --save FILE of the "
                             "same fleet and mode again (the oracle's rules may have changed)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
