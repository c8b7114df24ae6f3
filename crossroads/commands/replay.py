"""`crossroads replay FLEET.toml`: the real router against a scripted fleet, scored by an oracle.

Starts `crossroads sim` on the fleet file and `crossroads serve` on a catalog made for it (both on
127.0.0.1, in a temporary directory), sends streamed requests at a fixed rate while the fleet's
timeline plays, and compares what the router did with what a router that knew the script would
have done (crossroads/replay/oracle.py defines every number).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import msgspec

from crossroads.commands.options import Exit
from crossroads.commands.remote import console, quiet_http_logs
from crossroads.replay.oracle import Mode, Sent, choices, score
from crossroads.replay.report import as_json, tables
from crossroads.replay.run import Plan, ReplayError, replay
from crossroads.sim.profile import SimConfigError, SimFleet, load_fleet

# The script runs this long past its last incident when the file does not say how long.
TAIL_S = 10.0
CALM_S = 20.0


def duration_s(fleet: SimFleet) -> float:
    """Script seconds the replay lasts: the file's `[replay] duration_s`, else 10 s after the
    last event that ends (20 s for a fleet without one)."""
    if fleet.replay.duration_s is not None:
        return fleet.replay.duration_s
    ends = [e.end for e in fleet.timeline if not math.isinf(e.end)]
    starts = [e.at for e in fleet.timeline]
    last = max(ends + starts, default=None)
    return CALM_S if last is None else last + TAIL_S


def plan_for(args: argparse.Namespace, fleet: SimFleet) -> Plan:
    missing = [p.name for p in fleet.endpoints if p.price is None]
    if not fleet.endpoints or missing:
        raise SimConfigError(f"{args.fleet}: every endpoint needs a price "
                             f"(`price = {{ prompt = …, completion = … }}`); missing: "
                             f"{', '.join(missing) or 'no endpoints at all'}")
    rate = args.rate or fleet.replay.rate
    compress = args.compress
    requests = args.requests or max(1, round(duration_s(fleet) / (fleet.compress * compress)
                                             * rate))
    mode: Mode = args.mode
    return Plan(fleet_path=args.fleet, fleet=fleet, mode=mode, requests=requests, rate=rate,
                compress=compress, max_tokens=args.max_tokens or fleet.replay.max_tokens,
                timeout_s=args.timeout)


def save(path: Path, fleet: SimFleet, sent: list[Sent]) -> None:
    """One JSON line per request, in send order, with the oracle's two choices at its time."""
    ordered = sorted(sent, key=lambda s: s.t)
    with path.open("w") as fh:
        for one, (cheapest, fastest) in zip(ordered, choices(fleet, ordered), strict=True):
            record = {**msgspec.to_builtins(one), "cheapest_healthy": cheapest,
                      "fastest_healthy": fastest}
            fh.write(json.dumps(record) + "\n")


def load(path: Path) -> list[Sent]:
    """The requests of an earlier run's --save file, to score again without running."""
    try:
        return [msgspec.json.decode(line, type=Sent)
                for line in path.read_bytes().splitlines() if line.strip()]
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise SimConfigError(f"{path}: not a --save file of crossroads replay ({exc})") from exc


def run(args: argparse.Namespace) -> int:
    quiet_http_logs()
    try:
        fleet = load_fleet(args.fleet)
        plan = plan_for(args, fleet)
    except SimConfigError as error:
        print(f"crossroads replay: {error}", file=sys.stderr)
        return int(Exit.FAILED)
    started = time.monotonic()
    try:
        if args.rescore:
            sent = load(Path(args.rescore))
            plan = msgspec.structs.replace(plan, requests=len(sent))
        else:
            print(f"crossroads replay: {plan.requests} requests at {plan.rate:g}/s, mode "
                  f"{plan.mode}", file=sys.stderr)
            sent = replay(plan, Path(args.workdir) if args.workdir else None)
    except (ReplayError, SimConfigError, OSError) as error:
        print(f"crossroads replay: {error}", file=sys.stderr)
        return int(Exit.FAILED)
    wall_s = time.monotonic() - started
    result = score(fleet, plan.mode, sent, compress=fleet.compress * plan.compress)
    if args.save:
        save(Path(args.save), fleet, sent)
    if args.json:
        print(json.dumps(as_json(plan, result, wall_s), indent=2))
    else:
        console().print(tables(plan, result, wall_s))
    return int(Exit.OK)
