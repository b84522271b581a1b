#!/usr/bin/env python3
"""Renders scripts/bench's results: table.md (the tables of BENCHMARKS.md, with the targets of
its "Against the targets") and latency.png (gnuplot: latency against concurrency, gateway and bare
upstream). Usage: bench_report.py OUT_DIR BUILD_CONFIG SECONDS_AFTER_BUILD"""
import json
import os
import platform
import shutil
import subprocess
import sys

out, config, seconds = sys.argv[1], sys.argv[2], sys.argv[3]
runs = {}
with open(os.path.join(out, "results.jsonl")) as f:
    for line in f:
        if line.strip():
            r = json.loads(line)
            runs[r["label"]] = r


def by_prefix(prefix):
    return [r for label, r in runs.items() if label.startswith(prefix)]


def conc(r):
    return r["concurrency"]


def ms(value):
    return f"{value:.2f}"


def ok(share):
    return f"{share.get('200', 0)} / {sum(share.values())}"


def cores(r, name):
    p = r["processes"].get(name)
    return f"{p['cores']:.2f}" if p else "-"


BUILD_NAMES = {"store": "SQLite store", "inmem": "in-memory"}

def store_section():
    """Issue #13's figures: the SQLite store against the in-memory build of the same run."""
    figures = {}
    for r in runs.values():
        if "measure" in r:
            figures[(r["measure"], r["build"], r.get("callers"))] = r
    if not figures:
        return []
    has_inmem = any(build == "inmem" for _, build, _ in figures)
    rows = []

    def fmt(value, unit, digits=0):
        if value is None:
            return "-"
        return f"{value:,.{digits}f}{unit}"

    def diff(a, b):
        if a is None or b is None or not b:
            return "-"
        return f"{(a - b) / b * 100:+.1f} %"

    def verdict(store, inmem, limit=None):
        if store is None:
            return "not measured"
        parts = []
        if limit is not None:
            parts.append("met" if store <= limit else "**not met**")
        if inmem is not None:
            parts.append("not worse: met" if store <= inmem else f"not worse: **not met** ({diff(store, inmem)})")
        return "; ".join(parts) if parts else ""

    def row(name, key, field, unit, digits=0, target="", limit=None, callers=None, compare=True):
        s_fig, i_fig = figures.get((key, "store", callers)), figures.get((key, "inmem", callers))
        sv = field(s_fig) if s_fig else None
        iv = field(i_fig) if i_fig else None
        cells = [name, fmt(sv, unit, digits)]
        if has_inmem:
            cells += [fmt(iv, unit, digits), diff(sv, iv)]
        cells += [target, verdict(sv, iv if compare else None, limit)]
        rows.append("| " + " | ".join(cells) + " |")

    cpu = figures.get(("cpu_per_request", "store", None), {})
    row(f"gateway CPU per accept request (1 image, instant jobs, {cpu.get('concurrency', '?')} callers, "
        f"{cpu.get('answered', 0)} requests)", "cpu_per_request", lambda f: f["cpu_us_per_request"], " µs",
        target="at most 250 µs; not worse than in-memory", limit=250)
    row("throughput of that phase", "cpu_per_request", lambda f: f["requests_per_second"], " req/s", compare=False)
    row("callgrind instructions per accept request", "instructions_per_request",
        lambda f: f["instructions_per_request"], "", target="not worse than in-memory")
    cg = figures.get(("instructions_per_request", "store", None))
    if cg and cg.get("store_share") is not None:
        by = cg["store_share_by_part"]
        rows.append(f"| the store's share of the gateway's instructions (callgrind, inclusive) | "
                    f"{cg['store_share'] * 100:.1f} % (SQLite {by['sqlite'] * 100:.1f} %, GRDB {by['grdb'] * 100:.1f} %, "
                    f"GatewayStore {by['gateway_store'] * 100:.1f} %) |" + (" - | - |" if has_inmem else "") + " | |")
    if cpu.get("write_transactions_per_request"):
        per = cpu["write_transactions_per_request"]
        detail = ", ".join(f"{k} {v:.2f}" for k, v in per.items())
        total = cpu["write_transactions_per_request_total"]
        rows.append(f"| write transactions per request (one batch, one poll) | {total:.2f} ({detail}) |"
                    + (" 0 | - |" if has_inmem else "")
                    + f" at most 3 | {'met' if total <= 3 else '**not met**'} |")
    for callers in sorted({c for (m, _, c) in figures if m == "memory_per_waiting_caller"}):
        mem = figures.get(("memory_per_waiting_caller", "store", callers), {})
        inm = figures.get(("memory_per_waiting_caller", "inmem", callers), {})
        cells = [f"RSS idle / peak with {callers:,} callers waiting",
                 f"{fmt(mem.get('idle_rss_mb'), ' MB')} / {fmt(mem.get('peak_rss_mb'), ' MB')}"]
        if has_inmem:
            cells += [f"{fmt(inm.get('idle_rss_mb'), ' MB')} / {fmt(inm.get('peak_rss_mb'), ' MB')}",
                      diff(mem.get("peak_rss_mb"), inm.get("peak_rss_mb"))]
        rows.append("| " + " | ".join(cells + ["", ""]) + " |")
        row(f"memory per waiting caller at {callers:,} ((peak - idle) / callers)", "memory_per_waiting_caller",
            lambda f: f["kb_per_caller"], " KB", 1, callers=callers,
            target="toward 30 KB; not worse than in-memory", limit=30)
    header = "| figure | SQLite store |" + (" in-memory |" " store against in-memory |" if has_inmem else "") + " target | |"
    return ["", "### Durable requests: the SQLite store (issue #13)", "",
            "Every gateway ran on a fresh SQLite store file (WAL) in the run's temporary folder"
            + ("; in-memory: the gateway of the last commit before the store, same run, no store." if has_inmem
               else "; the in-memory comparison was skipped (BENCH_COMPARE=0)."),
            "", header, "|" + "---|" * (header.count("|") - 1), *rows]


cpu_model = "unknown"
try:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
except OSError:
    pass
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
lines = [
    f"Machine: {os.cpu_count()} cores ({cpu_model}), {platform.machine()}, Linux {platform.release()}, "
    f"{swift[0] if swift else 'swift ?'}; {config} build; {seconds} s after the build.",
    "",
    "### Overhead and throughput (1 image a request, jobs end at once)",
    "",
    "Gateway: `POST /accept-images` through the gateway. Upstream: the same work straight at the "
    "simulator (PUT /v1/cloudimages/members, then GET the job), measured in the same run. "
    "Overhead = gateway minus upstream. CPU in cores (1.00 = one core busy) during the gateway run.",
    "",
    "| callers | gateway req/s | gateway p50 | gateway p99 | upstream req/s | upstream p50 | upstream p99 "
    "| overhead p50 | overhead p99 | CPU gateway / simulator / load generator |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
plot_rows = []
for g in sorted(by_prefix("gateway images=1 "), key=conc):
    u = runs.get(f"upstream images=1 c={conc(g)}")
    if not u:
        continue
    gl, ul = g["latency_ms"], u["latency_ms"]
    lines.append(
        f"| {conc(g)} | {g['requests_per_second']:.0f} | {ms(gl['p50'])} ms | {ms(gl['p99'])} ms "
        f"| {u['requests_per_second']:.0f} | {ms(ul['p50'])} ms | {ms(ul['p99'])} ms "
        f"| {ms(gl['p50'] - ul['p50'])} ms | {ms(gl['p99'] - ul['p99'])} ms "
        f"| {cores(g, 'gateway')} / {cores(g, 'simulator')} / {cores(g, 'load_generator')} |")
    plot_rows.append((conc(g), gl["p50"], gl["p99"], ul["p50"], ul["p99"]))
for g in by_prefix("gateway images=50 "):
    u = runs.get(f"upstream images=50 c={conc(g)}")
    if u:
        gl, ul = g["latency_ms"], u["latency_ms"]
        lines += ["", "50 images a request (3 batches of at most 20 images, so 3 jobs; the upstream column runs the 3 PUT + GET pairs at once, as the gateway does):", "",
                  "| callers | gateway req/s | gateway p50 | gateway p99 | upstream req/s | upstream p50 | upstream p99 | overhead p50 | overhead p99 | CPU gateway / simulator / load generator |",
                  "|---|---|---|---|---|---|---|---|---|---|",
                  f"| {conc(g)} | {g['requests_per_second']:.0f} | {ms(gl['p50'])} ms | {ms(gl['p99'])} ms "
                  f"| {u['requests_per_second']:.0f} | {ms(ul['p50'])} ms | {ms(ul['p99'])} ms "
                  f"| {ms(gl['p50'] - ul['p50'])} ms | {ms(gl['p99'] - ul['p99'])} ms "
                  f"| {cores(g, 'gateway')} / {cores(g, 'simulator')} / {cores(g, 'load_generator')} |"]
bad = [r["label"] for r in runs.values() if r.get("errors") or any(k != "200" for k in r.get("statuses", {}))]
lines += ["", f"Runs with an error or a status other than 200: {', '.join(bad) if bad else 'none'}."]

scale = [r for r in by_prefix("scale ") if "processes" in r]
if scale:
    lines += [
        "", "### Scale (callers waiting at once, each on its own job)", "",
        "| build | callers | answered 200 | errors | wall time | gateway peak RSS | gateway threads (min / max) | latency p50 / max | simulator calls |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sorted(scale, key=lambda r: (r["label"].split()[1], conc(r))):
        build = s["label"].split()[1]
        gw = s["processes"].get("gateway", {})
        calls = "-"
        stats_path = os.path.join(out, f"scale-simulator-stats-{build}-{s['concurrency']}.json")
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                stats = json.load(f)
            calls = ", ".join(f"{k} {v}" for k, v in sorted(stats.get("calls", {}).items()))
        lines.append(
            f"| {BUILD_NAMES.get(build, build)} | {s['concurrency']} | {ok(s['statuses'])} | {s['errors']} | {s['seconds']:.1f} s "
            f"| {gw.get('peak_rss_mb', 0):.0f} MB | {gw.get('threads_min', 0)} / {gw.get('threads_max', 0)} "
            f"| {s['latency_ms']['p50'] / 1000:.1f} s / {s['latency_ms']['max'] / 1000:.1f} s | {calls} |")

lines += [
    "", "### CurlHTTP against AsyncHTTPClient (loopback echo server, 1 KB bodies)", "",
    "| request | concurrent | curl req/s | AHC req/s | curl / AHC | curl p99 | AHC p99 | connections per 1,000 requests (curl / AHC) |",
    "|---|---|---|---|---|---|---|---|",
]
for method in ("GET", "PUT"):
    for c in sorted({conc(r) for r in by_prefix(f"engine curl {method} ")}):
        cu, ah = runs.get(f"engine curl {method} c={c}"), runs.get(f"engine ahc {method} c={c}")
        if not cu or not ah:
            continue
        per = lambda r: 1000 * r.get("server_connections", 0) / max(1, r["sent"])
        lines.append(
            f"| {method} | {c} | {cu['requests_per_second']:.0f} | {ah['requests_per_second']:.0f} "
            f"| {cu['requests_per_second'] / max(1, ah['requests_per_second']):.2f} "
            f"| {ms(cu['latency_ms']['p99'])} ms | {ms(ah['latency_ms']['p99'])} ms | {per(cu):.2f} / {per(ah):.2f} |")

lines += store_section()


def postgres_section():
    """Issue #14's figures: the PostgreSQL store, one replica and two on one database."""
    figures = {r["build"]: r for r in runs.values() if r.get("measure") == "cpu_per_request"}
    one, a, b = figures.get("postgres"), figures.get("postgres-replica-a"), figures.get("postgres-replica-b")
    if not one:
        return []

    def us(value):
        return "-" if value is None else f"{value:,.0f} µs"

    rows = [f"| one replica | {one['answered']} | {one.get('requests_per_second') or 0:.0f} | {us(one['cpu_us_per_request'])} "
            f"| {us(one.get('postgres_cpu_us_per_request'))} | {one.get('write_transactions_per_request_total', '-')} |"]
    if a and b:
        answered = a["answered"] + b["answered"]
        rate = (a.get("requests_per_second") or 0) + (b.get("requests_per_second") or 0)
        gateway = (a["cpu_seconds"] + b["cpu_seconds"]) / answered * 1e6 if answered else None
        rows.append(f"| two replicas (half of the callers each) | {answered} | {rate:.0f} | {us(gateway)} (A {us(a['cpu_us_per_request'])}, "
                    f"B {us(b['cpu_us_per_request'])}) | {us(a.get('postgres_cpu_us_per_request'))} "
                    f"| {a.get('write_transactions_per_request_total', '-')} / {b.get('write_transactions_per_request_total', '-')} |")
    return ["", "### Replicas: the PostgreSQL store (issue #14)", "",
            "Accept 1 image, jobs end at once, on a throwaway local cluster (scripts/postgres-cluster.sh); "
            "CPU per accept request answered, the server's processes counted apart; the IMS call budget is "
            "shared through the database (one statement per IMS call).", "",
            "| gateways | answered | req/s | gateway CPU per request | PostgreSQL CPU per request | write transactions per request |",
            "|---|---|---|---|---|---|", *rows]


lines += postgres_section()

scale_short = [r["label"] for r in scale if r["statuses"].get("200", 0) != r["concurrency"] and r["label"] not in bad]

with open(os.path.join(out, "table.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))

if plot_rows and shutil.which("gnuplot"):
    data = os.path.join(out, "latency.dat")
    with open(data, "w") as f:
        f.write("# callers gateway_p50 gateway_p99 upstream_p50 upstream_p99 (ms)\n")
        for row in plot_rows:
            f.write(" ".join(str(v) for v in row) + "\n")
    script = f"""
set terminal pngcairo size 900,560 noenhanced
set output '{os.path.join(out, "latency.png")}'
set title 'Accept 1 image, jobs end at once: latency against concurrent callers ({config} build)'
set xlabel 'concurrent callers'
set ylabel 'latency (ms)'
set logscale x 2
set logscale y 10
set key top left
set grid
plot '{data}' using 1:2 with linespoints lw 2 title 'gateway p50', \\
     '{data}' using 1:3 with linespoints lw 2 title 'gateway p99', \\
     '{data}' using 1:4 with linespoints lw 2 dt 2 title 'bare upstream (PUT + GET) p50', \\
     '{data}' using 1:5 with linespoints lw 2 dt 2 title 'bare upstream (PUT + GET) p99'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)

if bad or scale_short:
    print(f"bench: FAILED: runs with errors or non-200 answers: {bad + scale_short}", file=sys.stderr)
    sys.exit(1)
