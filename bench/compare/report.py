"""The comparison's report: the markdown table of every measurement per target, and
crossroads' ratios against each competitor."""

from __future__ import annotations

import math
import os
import platform
import statistics

from loadgen import LatencyReport
from targets import Target, pin


def fmt(v: float, unit: str = "", digits: int = 0) -> str:
    if math.isnan(v):
        return "–"
    return f"{v:,.{digits}f}{unit}"


def print_report(
    targets: list[Target],
    thr: dict[tuple[str, int], list[dict[str, float]]],
    lat: dict[tuple[str, float], LatencyReport],
    st: dict[str, dict[str, float]],
    conns: list[int],
    rates: list[float],
    seconds: int,
    rounds: int,
    rate_seconds: float,
    stream_n: int,
) -> None:
    names = [t.name for t in targets]
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Linux "
        f"{platform.release()}, Python {platform.python_version()}, "
        f"{'gateways on core 0, upstream + load on core 1' if pin(0) else 'unpinned'}; "
        f"load average before the run end: {os.getloadavg()[0]:.2f}"
    )
    print("versions: " + "; ".join(f"{t.name} {t.version}" for t in targets))
    print(
        f"wrk runs: {seconds}s each, {rounds} round(s), median shown; fixed rates "
        f"{rate_seconds:.0f}s after 1s warm-up; streaming {stream_n} requests per target"
    )
    print()
    print("| measurement | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))

    def med(name: str, c: int, key: str) -> float:
        vals = [r[key] for r in thr.get((name, c), []) if not math.isnan(r[key])]
        return statistics.median(vals) if vals else float("nan")

    for c in conns if thr else []:
        print(
            f"| throughput, {c} connections (req/s) | "
            + " | ".join(fmt(med(n, c, "rps")) for n in names)
            + " |"
        )
        print(
            f"| wrk p50 / p99 at {c} connections (ms) | "
            + " | ".join(
                f"{fmt(med(n, c, 'p50_ms'), digits=2)} / {fmt(med(n, c, 'p99_ms'), digits=2)}"
                for n in names
            )
            + " |"
        )
        print(
            f"| gateway CPU per request at {c} connections (µs) | "
            + " | ".join(fmt(med(n, c, "cpu_us")) for n in names)
            + " |"
        )
        errs = [sum(r["errors"] for r in thr.get((n, c), [])) for n in names]
        if any(errs):
            print(
                f"| non-2xx responses at {c} connections | "
                + " | ".join(str(e) for e in errs)
                + " |"
            )
    for rate in rates:
        d = lat.get(("direct", rate))
        cells = []
        for n in names:
            r = lat[(n, rate)]
            cell = f"{r.p50_ms:.2f} / {r.p90_ms:.2f} / {r.p99_ms:.2f}"
            if d is not None and n != "direct":
                cell += (
                    f" ({r.p50_ms - d.p50_ms:+.2f} / {r.p90_ms - d.p90_ms:+.2f} / "
                    f"{r.p99_ms - d.p99_ms:+.2f})"
                )
            if r.errors or r.ok < r.sent:
                cell += f"; {r.errors} errors, {r.ok}/{r.sent} ok"
            cells.append(cell)
        print(
            f"| latency at {rate:,.0f} req/s, p50 / p90 / p99 ms (added vs direct) | "
            + " | ".join(cells)
            + " |"
        )
    sd = st.get("direct")
    cells = []
    for n in names:
        s = st[n]
        cell = f"{fmt(s['ttft_p50_ms'], digits=1)}"
        if sd and n != "direct":
            cell += f" ({s['ttft_p50_ms'] - sd['ttft_p50_ms']:+.1f})"
        cells.append(cell)
    print("| streaming TTFT p50, 50 ms upstream (ms, added) | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        s = st[n]
        cells.append(f"{fmt(s['gap_mean_ms'], digits=2)} / {fmt(s['gap_p99_ms'], digits=2)}")
    print("| streaming inter-chunk gap mean / p99 (ms) | " + " | ".join(cells) + " |")
    print(
        "| streaming content chunks received (of 100), failures | "
        + " | ".join(f"{st[n]['chunks']:.0f}, {st[n]['failures']}" for n in names)
        + " |"
    )
    print(
        "| RSS idle (MiB) | "
        + " | ".join(fmt(t.rss_idle_kib / 1024, digits=1) if t.process else "–" for t in targets)
        + " |"
    )
    print(
        "| RSS after load (MiB) | "
        + " | ".join(fmt(t.rss_after_kib / 1024, digits=1) if t.process else "–" for t in targets)
        + " |"
    )
    if any(t.restarts for t in targets):
        print(
            "| restarted after an overload (see settle()) | "
            + " | ".join(str(t.restarts) for t in targets)
            + " |"
        )

    if thr and "crossroads" in names:
        others = [n for n in names if n != "crossroads"]
        print()
        print("| crossroads ratio | " + " | ".join(f"vs {n}" for n in others) + " |")
        print("|---|" + "---:|" * len(others))
        for c in conns:
            print(
                f"| throughput at {c} connections (×) | "
                + " | ".join(
                    fmt(med("crossroads", c, "rps") / med(n, c, "rps"), "×", 2) for n in others
                )
                + " |"
            )
            print(
                f"| CPU per request at {c} connections (×, lower is better) | "
                + " | ".join(
                    fmt(med("crossroads", c, "cpu_us") / med(n, c, "cpu_us"), "×", 2)
                    for n in others
                )
                + " |"
            )
