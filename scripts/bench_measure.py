#!/usr/bin/env python3
"""scripts/bench's measurements of a process (issue #13's figures). Each command prints one
JSON object (or one number) on stdout:

  bench_measure.py cpu PID                    utime + stime of PID (/proc/PID/stat), seconds
  bench_measure.py rss PID                    VmRSS of PID (/proc/PID/status), KB
  bench_measure.py metrics URL FILE           saves the Prometheus text at URL to FILE
  bench_measure.py cpu-figure LABEL BUILD CPU0 CPU1 M0 M1 LOAD_JSON
                                              CPU per accept request and write transactions per
                                              request between two points (metrics files M0, M1)
  bench_measure.py callgrind-figure LABEL BUILD REQUESTS LOADED.out BASELINE.out
                                              instructions per request (loaded run minus the
                                              baseline run) and the store's share of them
  bench_measure.py memory-figure LABEL BUILD IDLE_KB LOAD_JSON
                                              RSS idle, at peak, and (peak - idle) / callers
"""
import json
import os
import re
import sys
import urllib.request


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics(path):
    """{(name, ((label, value), ...)): number} of a Prometheus text file."""
    values = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = METRIC.match(line.strip())
            if not m:
                continue
            labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
            try:
                values[(m.group(1), labels)] = float(m.group(3))
            except ValueError:
                pass
    return values


def delta(before, after, name):
    """{labels: after - before} of one counter."""
    out = {}
    for (metric, labels), value in after.items():
        if metric == name:
            out[labels] = value - before.get((metric, labels), 0.0)
    return out


def cpu_figure(label, build, cpu0, cpu1, m0_path, m1_path, load_path):
    m0, m1 = metrics(m0_path), metrics(m1_path)
    with open(load_path) as f:
        load = json.load(f)
    # The gateway's own count of accept requests answered between the two points (the load
    # generator's count leaves out the requests still in flight at the end of its window,
    # whose CPU is in the interval).
    answered = sum(v for labels, v in delta(m0, m1, "imsgw_requests_total").items()
                   if "accept-images" in dict(labels).get("route", "") and "{" not in dict(labels).get("route", ""))
    ok = sum(v for labels, v in delta(m0, m1, "imsgw_requests_total").items()
             if "accept-images" in dict(labels).get("route", "") and dict(labels).get("status") == "200")
    cpu = float(cpu1) - float(cpu0)
    figure = {
        "label": label, "measure": "cpu_per_request", "build": build,
        "concurrency": load.get("concurrency"), "seconds": load.get("seconds"),
        "answered": int(answered), "answered_200": int(ok), "load_generator_answered": sum(load["statuses"].values()),
        "errors": load["errors"], "statuses": load["statuses"], "cpu_seconds": round(cpu, 3),
        "cpu_us_per_request": round(cpu / answered * 1e6, 1) if answered else None,
        "requests_per_second": load.get("requests_per_second"),
    }
    writes = delta(m0, m1, "imsgw_store_writes_total")
    if writes:
        per_op = {dict(labels).get("operation", "?"): v for labels, v in writes.items()}
        figure["write_transactions"] = {k: int(v) for k, v in sorted(per_op.items())}
        figure["write_transactions_per_request"] = {
            k: round(v / answered, 3) if answered else None for k, v in sorted(per_op.items())}
        figure["write_transactions_per_request_total"] = round(sum(per_op.values()) / answered, 3) if answered else None
    return figure


# --- callgrind -----------------------------------------------------------------------------
# The store's code: SQLite (its own library, or sqlite3_* symbols), GRDB and the gateway's
# GatewayStore module. Swift symbols stay mangled in callgrind's output: a module's name is in
# them as <length><name> ("4GRDB", "12GatewayStore"). A GatewayStore function's symbol starts
# with it ("$s12GatewayStore..."; its closures, async parts and specialisations too); anywhere
# else it only names a GatewayStore type in another module's function (IMSGateway's
# RequestRegistry.finish(... GatewayStore.RequestState ...), RequestEvents building a NewEvent),
# which is not the store's code.
STORE_PARTS = {
    "sqlite": lambda ob, fn: "libsqlite3" in ob or fn.startswith("sqlite3"),
    "grdb": lambda ob, fn: "4GRDB" in fn,
    "gateway_store": lambda ob, fn: fn.startswith(("$s12GatewayStore", "_$s12GatewayStore")),
}


# Callees that may run other code on the store's behalf and come back into it (a closure run by
# dispatch_sync, a task resumed by the concurrency runtime): their inclusive cost holds store
# functions counted already, and other work, so calls to them are left out.
CALLBACK_RUNNERS = re.compile(r"libdispatch|dispatch_|swift_task|swift_job|swift_continuation|swift_asyncLet")
# A partial function of an async function outside the store (mangled ...TQ<n>_ or ...TY<n>_):
# what a store function "calls" when its await returns into its caller, whose inclusive cost is
# the rest of the caller's work.
ASYNC_PART = re.compile(r"T[QY]\d+_")


def store_part(ob, fn):
    for part, test in STORE_PARTS.items():
        if test(ob, fn):
            return part
    return None


def callgrind(path):
    """Total Ir of a callgrind output file, and the inclusive Ir of the store's code by part:
    the self cost of its functions plus the inclusive cost of their calls to functions outside
    it (malloc, memcpy, retain/release, system calls' wrappers; calls inside it are already
    counted, and calls to CALLBACK_RUNNERS are left out), so nothing is counted twice. A
    callee's object is the one its own fn= block was written under (cob= may be left out)."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    ob = fn = cob = cfn = ""
    total = 0
    events = None
    self_cost = {}   # (ob, fn) -> Ir
    calls = {}       # (ob, fn) -> [(cob, cfn, inclusive Ir)]
    object_of = {}   # fn -> ob
    pending_call = False

    def name(kind, value):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", value)
        if not m:
            return value
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
            return m.group(2)
        return names[kind].get(m.group(1), "")

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                costs = line.split()
                ir = int(costs[1]) if len(costs) > 1 and costs[1].isdigit() else 0
                if pending_call:
                    pending_call = False
                    calls.setdefault((ob, fn), []).append((cob, cfn, ir))
                    cob = ob
                else:
                    self_cost[(ob, fn)] = self_cost.get((ob, fn), 0) + ir
                continue
            key, _, value = line.partition("=")
            if key == "events":
                events = value.split()
            elif key == "ob":
                ob = name("ob", value)
                cob = ob
            elif key == "fn":
                fn = name("fn", value)
                object_of.setdefault(fn, ob)
                cob = ob
            elif key == "cob":
                cob = name("ob", value)
            elif key == "cfn":
                cfn = name("fn", value)
            elif key == "calls":
                pending_call = True
            elif key in ("fl", "fi", "fe", "cfl", "cfi"):
                name("fl", value)
            elif key in ("summary", "totals"):
                total = max(total, int(value.split()[0]))
    if events and events[0] != "Ir":
        raise SystemExit(f"{path}: first event is {events[0]}, not Ir")
    parts = {p: 0 for p in STORE_PARTS}
    for (o, f), ir in self_cost.items():
        part = store_part(o, f)
        if part:
            parts[part] += ir
    for (o, f), out in calls.items():
        part = store_part(o, f)
        if not part:
            continue
        for co, cf, ir in out:
            callee_ob = object_of.get(cf, co)
            if (store_part(callee_ob, cf) is None and not CALLBACK_RUNNERS.search(callee_ob + " " + cf)
                    and not ASYNC_PART.search(cf)):
                parts[part] += ir
    if not total:
        total = sum(self_cost.values())
    return total, parts


def callgrind_figure(label, build, requests, loaded_path, baseline_path):
    requests = int(requests)
    total_l, parts_l = callgrind(loaded_path)
    total_b, parts_b = callgrind(baseline_path)
    work = total_l - total_b
    store = {p: parts_l[p] - parts_b[p] for p in STORE_PARTS}
    store_total = sum(store.values())
    return {
        "label": label, "measure": "instructions_per_request", "build": build, "requests": requests,
        "instructions_loaded_run": total_l, "instructions_baseline_run": total_b,
        "instructions_per_request": round(work / requests) if requests else None,
        "store_instructions_per_request": {p: round(v / requests) for p, v in store.items()} if requests else None,
        "store_share": round(store_total / work, 4) if work > 0 else None,
        "store_share_by_part": {p: round(v / work, 4) for p, v in store.items()} if work > 0 else None,
        "store_share_method": "callgrind: inclusive Ir of SQLite, GRDB and GatewayStore code, loaded run minus baseline run",
    }


def memory_figure(label, build, idle_kb, load_path):
    with open(load_path) as f:
        load = json.load(f)
    callers = load["concurrency"]
    peak_mb = load["processes"].get("gateway", {}).get("peak_rss_mb", 0)
    idle_mb = int(idle_kb) / 1024
    return {
        "label": label, "measure": "memory_per_waiting_caller", "build": build, "callers": callers,
        "answered_200": load["statuses"].get("200", 0), "errors": load["errors"], "statuses": load["statuses"],
        "idle_rss_mb": round(idle_mb, 1), "peak_rss_mb": round(peak_mb, 1),
        "kb_per_caller": round((peak_mb - idle_mb) * 1024 / callers, 1) if callers else None,
        "wall_seconds": load["seconds"],
    }


def main(argv):
    command = argv[1]
    if command == "cpu":
        print(f"{cpu_seconds(int(argv[2])):.3f}")
    elif command == "rss":
        print(rss_kb(int(argv[2])))
    elif command == "metrics":
        with urllib.request.urlopen(argv[2], timeout=30) as r, open(argv[3], "wb") as f:
            f.write(r.read())
    elif command == "cpu-figure":
        print(json.dumps(cpu_figure(*argv[2:9])))
    elif command == "callgrind-figure":
        print(json.dumps(callgrind_figure(*argv[2:7])))
    elif command == "memory-figure":
        print(json.dumps(memory_figure(*argv[2:6])))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
