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
bad = [r["label"] for r in runs.values() if r["errors"] or any(k != "200" for k in r["statuses"])]
lines += ["", f"Runs with an error or a status other than 200: {', '.join(bad) if bad else 'none'}."]

scale = by_prefix("scale ")
if scale:
    s = scale[0]
    gw = s["processes"].get("gateway", {})
    calls = "-"
    stats_path = os.path.join(out, "scale-simulator-stats.json")
    if os.path.exists(stats_path):
        with open(stats_path) as f:
            stats = json.load(f)
        calls = ", ".join(f"{k} {v}" for k, v in sorted(stats.get("calls", {}).items()))
    lines += [
        "", "### Scale (callers waiting at once, each on its own job)", "",
        "| callers | answered 200 | errors | wall time | gateway peak RSS | gateway threads (min / max) | latency p50 / max | simulator calls |",
        "|---|---|---|---|---|---|---|---|",
        f"| {s['concurrency']} | {ok(s['statuses'])} | {s['errors']} | {s['seconds']:.1f} s "
        f"| {gw.get('peak_rss_mb', 0):.0f} MB | {gw.get('threads_min', 0)} / {gw.get('threads_max', 0)} "
        f"| {s['latency_ms']['p50'] / 1000:.1f} s / {s['latency_ms']['max'] / 1000:.1f} s | {calls} |",
    ]

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
