"""The comparison's report, as lines of markdown: how it was run, the table of every
measurement per target, crossroads' ratios and the issue's targets (ratios.py), then the
crossroads-only sections (routing, ledger). run.py prints it and, with --out, writes it."""

from __future__ import annotations

import math
import os
import platform

from ratios import ratio_lines, target_lines
from results import Results, fmt, lat_added, lat_med, median, p50, p90, p99, thr_med
from targets import pin

__all__ = ["fmt", "render"]


def _row(label: str, cells: list[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _header(res: Results) -> list[str]:
    lines = [
        f"command: {res.command}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}, "
        f"{'gateways on core 0, upstream + load on core 1' if pin(0) else 'unpinned'}; "
        f"load average at the end: {os.getloadavg()[0]:.2f}",
        "versions: " + "; ".join(f"{t.name} {t.version}" for t in res.targets),
        f"wrk runs: {res.seconds}s each, {res.rounds} round(s), median shown; fixed rates "
        f"{res.rate_seconds:.0f}s after 1s warm-up, {res.rate_rounds} round(s), median shown "
        f"(added vs direct: median over rounds of the difference within a round); every "
        f"measurement starts with all gateways idle; streaming "
        f"{res.stream_n} requests per target",
    ]
    if "nginx" in res.names:
        lines.append(
            "nginx is a floor, not a competitor: a bare C reverse proxy (proxy_pass, upstream "
            "keepalive 64, one worker) whose added cost is that of one proxy hop on this machine"
        )
    lines += [f"skipped: {s}" for s in res.skipped]
    lines.append("start commands ($TMP = the run's temp dir):")
    for t in res.targets:
        if t.command:
            command = " ".join(t.command)
            command = command.replace(res.tmp, "$TMP") if res.tmp else command
            lines.append(f"    {t.name}: {command}")
    return lines


def _throughput_rows(res: Results) -> list[str]:
    names, lines = res.names, []
    for c in res.conns if res.thr else []:
        lines.append(_row(f"throughput, {c} connections (req/s)",
                          [fmt(thr_med(res, n, c, "rps")) for n in names]))
        lines.append(_row(f"wrk p50 / p99 at {c} connections (ms)", [
            f"{fmt(thr_med(res, n, c, 'p50_ms'), digits=2)} / "
            f"{fmt(thr_med(res, n, c, 'p99_ms'), digits=2)}" for n in names]))
        lines.append(_row(f"gateway CPU per request at {c} connections (µs)",
                          [fmt(thr_med(res, n, c, "cpu_us")) for n in names]))
        errs = [sum(r["errors"] for r in res.thr.get((n, c), [])) for n in names]
        if any(errs):
            lines.append(_row(f"non-2xx responses at {c} connections", [str(e) for e in errs]))
    return lines


def _latency_rows(res: Results) -> list[str]:
    lines = []
    for rate in res.rates:
        cells = []
        for n in res.names:
            cell = " / ".join(fmt(lat_med(res, n, rate, g), digits=2) for g in (p50, p90, p99))
            if n != "direct" and ("direct", rate) in res.lat:
                cell += " (" + " / ".join(
                    f"{lat_added(res, n, rate, g):+.2f}" for g in (p50, p90, p99)) + ")"
            reps = res.lat.get((n, rate), [])
            errors, ok, sent = (sum(r.errors for r in reps), sum(r.ok for r in reps),
                                sum(r.sent for r in reps))
            if errors or ok < sent:
                cell += f"; {errors} errors, {ok}/{sent} ok"
            cells.append(cell)
        lines.append(_row(f"latency at {rate:,.0f} req/s, p50 / p90 / p99 ms (added vs direct)",
                          cells))
        cells = []
        for t in res.targets:
            if t.overhead_header is None:
                cells.append("–")
                continue
            reps = res.lat.get((t.name, rate), [])
            mid = median([r.self_p50_ms for r in reps])
            top = median([r.self_p99_ms for r in reps])
            cells.append("– (no header came back)" if math.isnan(mid) else
                         f"{fmt(mid, digits=3)} / {fmt(top, digits=3)}")
        lines.append(_row(f"self-reported overhead at {rate:,.0f} req/s, p50 / p99 (ms)", cells))
    return lines


def _streaming_rows(res: Results) -> list[str]:
    names, st = res.names, res.st
    cells = []
    for n in names:
        cell = fmt(st[n]["ttft_p50_ms"], digits=1)
        if "direct" in st and n != "direct":
            cell += f" ({st[n]['ttft_p50_ms'] - st['direct']['ttft_p50_ms']:+.1f})"
        cells.append(cell)
    return [
        _row("streaming TTFT p50, 50 ms upstream (ms, added)", cells),
        _row("streaming inter-chunk gap mean / p99 (ms)", [
            f"{fmt(st[n]['gap_mean_ms'], digits=2)} / {fmt(st[n]['gap_p99_ms'], digits=2)}"
            for n in names]),
        _row("streaming content chunks received (of 100), failures",
             [f"{st[n]['chunks']:.0f}, {st[n]['failures']:.0f}" for n in names]),
    ]


def _memory_rows(res: Results) -> list[str]:
    ts = res.targets
    lines = [
        _row("RSS idle (MiB)",
             [fmt(t.rss_idle_kib / 1024, digits=1) if t.process else "–" for t in ts]),
        _row("RSS after load (MiB)",
             [fmt(t.rss_after_kib / 1024, digits=1) if t.process else "–" for t in ts]),
    ]
    if any(t.restarts for t in ts):
        lines.append(_row("restarted after an overload (see settle())",
                          [str(t.restarts) for t in ts]))
    return lines


def render(res: Results) -> list[str]:
    lines = _header(res)
    lines += ["", "| measurement | " + " | ".join(res.names) + " |",
              "|---|" + "---:|" * len(res.names)]
    lines += _throughput_rows(res) + _latency_rows(res) + _streaming_rows(res)
    lines += _memory_rows(res)
    lines += ratio_lines(res) + target_lines(res)
    for s in res.sections:
        lines += ["", f"### {s.heading}", "", s.text]
    return lines
