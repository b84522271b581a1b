#!/usr/bin/env bash
# Heap per waiting caller (issue #13; results in BENCHMARKS.md): the release gateway under
# valgrind's massif, CALLERS (default 1,000) callers waiting on jobs of 150 s, the heap
# (mem_heap_B + mem_heap_extra_B) taken with `vgdb detailed_snapshot` while all of them wait,
# minus the idle gateway's heap, over CALLERS. Repeats to the kilobyte, unlike RSS.
#   scripts/bench-massif.sh                      .build/release (build it first), 1,000 callers; about 1 minute
#   BENCH_BIN_DIR=DIR CALLERS=500 scripts/bench-massif.sh
# Writes the two snapshots to $BENCH_OUT (default .build/bench-massif): idle.massif and
# waiting.massif (read them with ms_print). Valgrind 3.19 needs the gateway without its DWARF 5
# debug information and a sigsuspend that copies its mask (see scripts/bench, phase 4).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN_DIR:-.build/release}; n=${CALLERS:-1000}; out=${BENCH_OUT:-.build/bench-massif}
sim_port=${SIM_PORT:-19283}; gw_port=${GW_PORT:-18283}; project=0123456789abcdef0123456789abcdef
command -v valgrind >/dev/null || { echo "bench-massif: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
strip --strip-debug -o "$work/ims-gateway" "$bin/ims-gateway"
printf '%s\n' '#define _GNU_SOURCE' '#include <signal.h>' '#include <sys/syscall.h>' '#include <unistd.h>' \
  'int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return (int)syscall(SYS_rt_sigsuspend, &copy, (size_t)8); }' \
  >"$work/sigsuspend.c"
cc -O2 -shared -fPIC -o "$work/sigsuspend.so" "$work/sigsuspend.c"
gw=$work/ims-gateway
images=$(python3 -c "print(','.join('d164b5df-1bc3-4c3f-893e-%012x' % i for i in range(50)))")
keys=$("$gw" hash-key 2>/dev/null); key=$(echo "$keys" | sed -n 's/^key: //p')
printf 'clients:\n  - name: bench\n    key_sha256: [%s]\n    projects: ["*"]\n    rate_limit: {rate: 100000, burst: 100000}\n    max_pending_requests: 1000000\n' \
  "$(echo "$keys" | sed -n 's/^key_sha256: //p')" >"$work/clients.yaml"
python3 -c "import json,sys; print(json.dumps({'images': [sys.argv[1].split(',')[0]], 'project_id': sys.argv[2]}))" "$images" "$project" >"$work/accept.json"
export IMSGW_IAM_PASSWORD="bench-$RANDOM-$RANDOM"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
"$gw" simulator --port "$sim_port" --job-duration-ms 150000 --share "$project=$images" 2>"$work/simulator.log" &
pids+=($!)
IMSGW_STORE_URL="sqlite:$work/store.sqlite" LD_PRELOAD="$work/sigsuspend.so" \
  valgrind --tool=massif --vgdb=yes --vgdb-prefix="$work/vgdb" --massif-out-file="$work/massif.out" \
  "$gw" serve --port "$gw_port" --clients-file "$work/clients.yaml" \
  --ims-url "http://127.0.0.1:$sim_port" --iam-url "http://127.0.0.1:$sim_port" \
  --iam-domain demo-domain --iam-user demo-user --probe-project-id "$project" \
  --upstream-rate 100000 --upstream-burst 100000 --max-callers-waiting 1000000 --outcomes-max-per-client 10000000 \
  2>"$work/gateway.log" &
gw_pid=$!; pids+=("$gw_pid")
for _ in $(seq 1 600); do curl -fsS -o /dev/null "http://127.0.0.1:$gw_port/readyz" 2>/dev/null && break; sleep 0.2; done
curl -fsS -o /dev/null "http://127.0.0.1:$gw_port/readyz" || { echo "bench-massif: the gateway did not get ready:" >&2; tail -5 "$work/gateway.log" >&2; exit 1; }
sleep 3
vgdb --vgdb-prefix="$work/vgdb" --pid="$gw_pid" detailed_snapshot "$out/idle.massif" >/dev/null
"$bin/imsgw-bench" load --url "http://127.0.0.1:$gw_port/accept-images" --method POST --header "Authorization: Bearer $key" \
  --header "Content-Type: application/json" --header "Prefer: wait=300" --body-file "$work/accept.json" \
  --concurrency "$n" --requests "$n" --timeout 300 >"$work/load.json" 2>&1 &
pids+=($!)
waiting=0
for _ in $(seq 1 600); do
  waiting=$(curl -fsS "http://127.0.0.1:$gw_port/metrics" 2>/dev/null | awk '/^imsgw_callers_waiting /{printf "%d", $2}')
  submitted=$(curl -fsS "http://127.0.0.1:$sim_port/_sim/stats" 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin)['calls'].get('BatchUpdateMembers', 0))" 2>/dev/null || echo 0)
  [ "${waiting:-0}" -ge "$n" ] && [ "$submitted" -ge "$n" ] && break
  sleep 1
done
[ "${waiting:-0}" -ge "$n" ] || { echo "bench-massif: only ${waiting:-0} of $n callers waited within 10 minutes" >&2; exit 1; }
sleep 5
vgdb --vgdb-prefix="$work/vgdb" --pid="$gw_pid" detailed_snapshot "$out/waiting.massif" >/dev/null
python3 - "$out/idle.massif" "$out/waiting.massif" "$n" <<'PY'
import re, sys
def heap(path):
    text = open(path).read()
    return int(re.search(r"mem_heap_B=(\d+)", text).group(1)) + int(re.search(r"mem_heap_extra_B=(\d+)", text).group(1))
idle, waiting, n = heap(sys.argv[1]), heap(sys.argv[2]), int(sys.argv[3])
print(f"heap idle {idle / 1e6:.2f} MB, with {n} callers waiting {waiting / 1e6:.2f} MB: {(waiting - idle) / n / 1000:.1f} KB per waiting caller")
PY
