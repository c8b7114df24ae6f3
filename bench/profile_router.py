"""Where the router's CPU goes: py-spy samples a loaded router and this prints the hot spots.

    .venv/bin/python bench/profile_router.py                 # non-streaming, wrk -c32, 10 s
    .venv/bin/python bench/profile_router.py --stream        # streamed answers instead
    .venv/bin/python bench/profile_router.py --top 60 --out /tmp/router.folded

The router is pinned to core 0, the simulator (`time_scale = 0`) and wrk to core 1, as in
`router_bench.py`. py-spy (`pip install py-spy`) records the router at 1,000 samples/s in
collapsed-stack form; the report lists functions by self time and by inclusive time, as a share
of all samples, so a change's effect can be read off before and after. The folded file can be
fed to any flame-graph tool.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from router_bench import BODY, CONFIG, FLEET, MODEL, _cpu_seconds, _pin, _start

STREAM_BODY = json.dumps({
    "model": MODEL,
    "messages": [{"role": "user", "content": "Reply with a short sentence about routers."}],
    "max_tokens": 16,
    "stream": True,
}).encode()


def _wrk_script(body: bytes, path: Path) -> Path:
    text = body.decode().replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{text}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Authorization"] = "Bearer bench"\n')
    return path


def _frame_name(frame: str) -> str:
    # py-spy frames look like "function (path/to/module.py:123)"; drop the line number so a
    # function's samples add up wherever in it they landed.
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    parts = Path(file).parts
    short = "/".join(parts[-2:]) if parts else file
    return f"{name} ({short})"


def report(folded: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    print(f"{total} samples")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"\n## by {title} time")
        for name, count in counter.most_common(top):
            print(f"{100 * count / total:6.2f} %  {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None, help="keep the folded stacks here")
    parser.add_argument("--cpu-only", action="store_true",
                        help="no py-spy: just the router's CPU per request, unperturbed")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists() or not shutil.which("wrk"):
        raise SystemExit("needs py-spy (pip install py-spy) and wrk")

    tmp = Path(tempfile.mkdtemp())
    (tmp / "fleet.toml").write_text(FLEET)
    python = sys.executable
    sim, sim_url = _start([*_pin(1), python, "-m", "crossroads", "sim", "--port", "0",
                           "--fleet", str(tmp / "fleet.toml")], "listening on ")
    # The ledger goes in the temp folder, not wherever the command was run from.
    (tmp / "router.toml").write_text(f'[server]\nstate_dir = "{tmp}"\n\n'
                                     + CONFIG.format(sim=sim_url, model=MODEL))
    env = {**os.environ, "BENCH_KEY": "bench"}
    router, router_url = _start([*_pin(0), python, "-m", "crossroads", "serve", "--port", "0",
                                 "--config", str(tmp / "router.toml")], "listening on ", env)
    folded = args.out or tmp / "router.folded"
    script = _wrk_script(STREAM_BODY if args.stream else BODY, tmp / "body.lua")
    try:
        url = f"{router_url}/chat/completions"
        subprocess.run([*_pin(1), "wrk", "-t1", "-c8", "-d2s", "-s", str(script), url],
                       capture_output=True, check=True)  # warm-up
        spy = None if args.cpu_only else subprocess.Popen(
            [py_spy, "record", "--pid", str(router.pid), "--rate", "1000", "--format", "raw",
             "--duration", str(args.seconds + 1), "--output", str(folded), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        cpu0 = _cpu_seconds(router.pid)
        out = subprocess.run(
            [*_pin(1), "wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "-s",
             str(script), url], capture_output=True, text=True, check=True).stdout
        cpu = _cpu_seconds(router.pid) - cpu0
        if spy is not None:
            spy.wait(args.seconds + 30)
    finally:
        router.terminate()
        sim.terminate()
        router.wait(10)
        sim.wait(10)
    match = re.search(r"(\d+) requests in", out)
    requests = int(match.group(1)) if match else 0
    print(next((line for line in out.splitlines() if "Requests/sec" in line), out))
    if requests:
        # py-spy's sampling costs the router a little CPU too, so this reads a bit high.
        note = "" if args.cpu_only else " (under py-spy)"
        print(f"router CPU per request: {cpu / requests * 1e6:.0f} µs{note}")
    if not args.cpu_only:
        report(folded, args.top)


if __name__ == "__main__":
    main()
