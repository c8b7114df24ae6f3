"""Run `crossroads replay` on one fleet file for several modes, with optional router settings,
and print one line of the numbers issue 18 targets per mode (and the whole scores as JSON).

    .venv/bin/python bench/replay_modes.py bench/replay/incidents.toml \\
        --modes balanced,nitro,floor --routing 'balanced = "price_speed"' --out scores.json

`--routing` lines are added to the replay's `[routing]` table (the replay itself runs the router
with default settings); everything else is the replay's own (crossroads/replay/). With
`--policy price_speed`, Balanced is also scored against that method's own policy over the healthy
endpoints (the replay's oracle knows only 1/price²): shares from `routing/shares.py` on the
script's prices and speeds, each endpoint's TTFT taken as its profile's, scaled by its slowdown,
for the output tokens the router expects.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from crossroads.replay import oracle
from crossroads.replay import run as replay_run
from crossroads.replay.catalog import router_config
from crossroads.replay.oracle import Mode, Now, blended, score
from crossroads.replay.report import as_json
from crossroads.settings import RoutingConfig
from crossroads.sim.profile import SimFleet, load_fleet

MODES: tuple[Mode, ...] = ("balanced", "nitro", "floor", "exacto")


def _with_routing(lines: list[str]) -> Any:
    def config(fleet: SimFleet, sim_url: str, seed: int = 1) -> str:
        text = router_config(fleet, sim_url, seed)
        return text.replace("[routing]\n", "[routing]\n" + "".join(f"{x}\n" for x in lines), 1)
    return config


def _price_speed_policy(fleet: SimFleet, output_tokens: int) -> Any:
    # Imported here: the script also runs against older trees that lack it (a "before" run).
    from crossroads.routing.shares import traffic_weights  # noqa: PLC0415

    profiles = {p.name: p for p in fleet.endpoints}

    def shares(healthy: dict[str, Now], mix: tuple[float, float]) -> dict[str, float]:
        names = list(healthy)
        ttfts = [profiles[n].ttft_ms / 1000 * profiles[n].tokens_per_s / healthy[n].speed
                 for n in names]
        weights = traffic_weights([blended(healthy[n].price, mix) for n in names],
                                  [healthy[n].speed for n in names], ttfts,
                                  [None] * len(names), output_tokens)
        total = sum(weights)
        return {n: w / total for n, w in zip(names, weights, strict=True)}
    return shares


def _seconds(incident: dict[str, Any], ok: str, value: str) -> str:
    if incident[ok] is None:
        return "n/a"
    return f"{incident[value]:.1f}s" + ("" if incident[ok] else "!")


def _line(out: dict[str, Any]) -> str:
    incidents = out["incidents"]
    failed = ", ".join(f"{i['endpoint']}:{i['kind']}={i['failed_attempts']}"
                       f"({i.get('max_failed_per_s', '-')}/s)" for i in incidents)
    recovery = ", ".join(
        f"{i['endpoint']}:{_seconds(i, 'recovered', 'recovery_s')}"
        + ("" if i.get("relapse_s") is None else f" lost@{i['relapse_s']:.1f}s")
        for i in incidents)
    reaction = ", ".join(f"{i['endpoint']}:{_seconds(i, 'reacted', 'react_s')}"
                         for i in incidents if "reacted" in i)

    def ratio(key: str) -> str:
        value = out[key]
        return "-" if value is None else f"{value:.2f}"

    return (f"{out['mode']:8} success {out['success_rate']:.2%}  cost/oracle "
            f"{ratio('cost_vs_oracle')}  cost/policy {ratio('cost_vs_policy')}  "
            f"speed/oracle {ratio('throughput_vs_oracle')}  wasted {out['wasted_attempts']}  "
            f"recovery [{recovery}]  reaction [{reaction}]  failed [{failed}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fleet")
    parser.add_argument("--modes", default="balanced,nitro,floor,exacto")
    parser.add_argument("--routing", action="append", default=[])
    parser.add_argument("--out", default=None, help="write every score as one JSON list")
    parser.add_argument("--policy", choices=("price", "price_speed"), default="price",
                        help="Balanced's own policy the score compares with")
    args = parser.parse_args()
    fleet = load_fleet(args.fleet)
    if args.policy == "price_speed":
        # The router weighs speed for the output it expects (max_tokens, else its default),
        # not the shorter answers the sim happens to give: so does its policy here.
        expected = fleet.replay.max_tokens or RoutingConfig().expected_output_tokens
        oracle._POLICIES["balanced"] = _price_speed_policy(fleet, expected)
    replay_run.router_config = _with_routing(args.routing)  # type: ignore[attr-defined]
    scores = []
    for mode in args.modes.split(","):
        if mode not in MODES:
            parser.error(f"unknown mode {mode}")
        rate = fleet.replay.rate
        plan = replay_run.Plan(
            fleet_path=args.fleet, fleet=fleet, mode=mode,
            requests=round((fleet.replay.duration_s or 60) / fleet.compress * rate),
            rate=rate, compress=1.0, max_tokens=fleet.replay.max_tokens, timeout_s=60.0)
        started = time.monotonic()
        sent = replay_run.replay(plan)
        result = score(fleet, plan.mode, sent, compress=fleet.compress)
        out = as_json(plan, result, time.monotonic() - started)
        out["routing"] = args.routing
        out["policy"] = args.policy
        scores.append(out)
        print(_line(out), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(scores, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
