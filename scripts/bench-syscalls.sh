#!/usr/bin/env bash
# Where the gateway's CPU per request goes beyond its instructions (issue #13; results in
# BENCHMARKS.md, "JSON read without JSONSerialization"): the release gateway on a fresh SQLite
# store (or, with BUILD=inmem, the in-memory build that `scripts/bench` made in .build-inmem)
# under SECONDS_LOAD (default 5) seconds of accepts at 16 callers, 1 image, instant jobs, and
#   - user and system CPU per request (utime and stime from /proc/PID/stat), with perf stat's
#     context switches and page faults when perf is installed;
#   - then, with STRACE=1, the same load under `strace -c -f` (slowed down, so fewer requests):
#     the system calls per request, by name.
#   scripts/bench-syscalls.sh                     .build/release (build it first); about 15 s
#   BUILD=inmem scripts/bench-syscalls.sh         the in-memory build of scripts/bench's comparison
#   STRACE=1 scripts/bench-syscalls.sh            system calls per request too
# Wall-clock CPU figures of a 2-core machine move by 10 to 15 % from run to run: run it twice.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN_DIR:-.build/release}; build=${BUILD:-store}; secs=${SECONDS_LOAD:-5}
sim_port=${SIM_PORT:-19383}; gw_port=${GW_PORT:-18383}; project=0123456789abcdef0123456789abcdef
gw=$bin/ims-gateway; bench=$bin/imsgw-bench
[ "$build" = inmem ] && gw=.build-inmem/release/ims-gateway
[ -x "$gw" ] && [ -x "$bench" ] || { echo "bench-syscalls: build first ($gw, $bench)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
images=$(python3 -c "print(','.join('d164b5df-1bc3-4c3f-893e-%012x' % i for i in range(50)))")
keys=$("$bin/ims-gateway" hash-key 2>/dev/null); key=$(echo "$keys" | sed -n 's/^key: //p')
printf 'clients:\n  - name: bench\n    key_sha256: [%s]\n    projects: ["*"]\n    rate_limit: {rate: 100000, burst: 100000}\n    max_pending_requests: 1000000\n' \
  "$(echo "$keys" | sed -n 's/^key_sha256: //p')" >"$work/clients.yaml"
python3 -c "import json,sys; print(json.dumps({'images': [sys.argv[1].split(',')[0]], 'project_id': sys.argv[2]}))" "$images" "$project" >"$work/accept.json"
export IMSGW_IAM_PASSWORD="bench-$RANDOM-$RANDOM"
"$bin/ims-gateway" simulator --port "$sim_port" --job-duration-ms 0 --share "$project=$images" 2>"$work/simulator.log" &
pids+=($!)
store=(env "IMSGW_STORE_URL=sqlite:$work/store.sqlite"); limits=(--outcomes-max-per-client 10000000)
# The in-memory gateway refuses an IMSGW_* variable it does not know.
[ "$build" = inmem ] && { store=(env); limits=(--outcomes-max-count 100000); }
"${store[@]}" "$gw" serve --port "$gw_port" --clients-file "$work/clients.yaml" \
  --ims-url "http://127.0.0.1:$sim_port" --iam-url "http://127.0.0.1:$sim_port" \
  --iam-domain demo-domain --iam-user demo-user --probe-project-id "$project" \
  --upstream-rate 100000 --upstream-burst 100000 --max-callers-waiting 1000000 "${limits[@]}" \
  --poll-initial-ms 0 --poll-adaptive false 2>"$work/gateway.log" &
gw_pid=$!; pids+=("$gw_pid")
for _ in $(seq 1 150); do curl -fsS -o /dev/null "http://127.0.0.1:$gw_port/readyz" 2>/dev/null && break; sleep 0.1; done
accept=(--url "http://127.0.0.1:$gw_port/accept-images" --method POST --header "Authorization: Bearer $key"
  --header "Content-Type: application/json" --body-file "$work/accept.json" --concurrency 16 --warmup 0 --timeout 30)
answered() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['statuses'].get('200', 0))" "$1"; }
"$bench" load "${accept[@]}" --duration 1 >/dev/null   # warm-up: token, connections, caches

read -r user0 system0 < <(sed 's/.*) //' "/proc/$gw_pid/stat" | awk '{print $12, $13}')
perf_pid=
if command -v perf >/dev/null; then
  perf stat -e task-clock,context-switches,page-faults -p "$gw_pid" -- sleep "$secs" 2>"$work/perf.txt" &
  perf_pid=$!
fi
"$bench" load "${accept[@]}" --duration "$secs" >"$work/load.json"
read -r user1 system1 < <(sed 's/.*) //' "/proc/$gw_pid/stat" | awk '{print $12, $13}')
[ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
n=$(answered "$work/load.json")
python3 - "$build" "$n" "$user0" "$user1" "$system0" "$system1" "$(getconf CLK_TCK)" "$work/perf.txt" <<'PY'
import re, sys
build, n, u0, u1, s0, s1, tick, perf = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:8]), sys.argv[8]
print(f"{build}: {n} requests answered; per request: user CPU {(u1 - u0) / tick / n * 1e6:.0f} us, "
      f"system CPU {(s1 - s0) / tick / n * 1e6:.0f} us", end="")
try:
    text = open(perf).read()
    for name in ("context-switches", "page-faults"):
        m = re.search(r"([\d,]+)\s+" + name, text)
        if m: print(f", {name} {int(m.group(1).replace(',', '')) / n:.1f}", end="")
except OSError:
    pass
print()
PY

if [ "${STRACE:-0}" = 1 ]; then
  command -v strace >/dev/null || { echo "bench-syscalls: STRACE=1 needs strace (apt-get install strace)" >&2; exit 1; }
  strace -c -f -p "$gw_pid" -o "$work/strace.txt" 2>/dev/null &
  strace_pid=$!
  sleep 1
  "$bench" load "${accept[@]}" --duration 3 >"$work/load.json"
  kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
  n=$(answered "$work/load.json")
  echo "system calls per request under strace ($n requests; the top 15):"
  awk -v n="$n" '$4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ {printf "  %-16s %7.2f\n", $NF, $4 / n}' \
    "$work/strace.txt" | sort -k2 -rn | head -15
fi
