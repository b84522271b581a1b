#!/usr/bin/env bash
# The poll benchmark of issue #5 (target and results in BENCHMARKS.md): 1,000 jobs with log-normal
# durations (median 3 s, sigma 0.5, seed 42) at the simulator, each accepted through the
# gateway (one image a request, 100 at once), twice: with the gateway's learned schedule, and
# with the fixed schedule 1, 2, 4, 8, then every 10 s (what Terraform's IMS waiter does:
# poll.initialMs 1000, growth 2, cap 10 s, learning off). Prints a Markdown table of polls per
# job and extra wait (job end at the simulator to the gateway's answer), median and p95.
#   JOBS=1000 CONCURRENCY=100 scripts/bench-polls.sh      (about 2 x 40 s after the build)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_DEBUG:-0}" = 1 ]; then config=debug; else config=release; fi
swift build -c "$config" --product ims-gateway >/dev/null
bin="$(swift build -c "$config" --show-bin-path)/ims-gateway"
jobs=${JOBS:-1000}
work_dir=$(mktemp -d)
sim_port=${SIM_PORT:-19083}
gw_port=${GW_PORT:-18083}
project=0123456789abcdef0123456789abcdef
export IMSGW_IAM_PASSWORD="bench-$RANDOM-$RANDOM"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work_dir"
}
trap cleanup EXIT

images=$(python3 -c "print(','.join('d164b5df-1bc3-4c3f-893e-%012x' % i for i in range($jobs)))")
keys=$("$bin" hash-key 2>/dev/null)
key=$(echo "$keys" | sed -n 's/^key: //p')
printf 'clients:\n  - name: bench\n    key_sha256: [%s]\n    projects: ["*"]\n    rate_limit: {rate: 100000, burst: 100000}\n' \
  "$(echo "$keys" | sed -n 's/^key_sha256: //p')" >"$work_dir/clients.yaml"

run() {  # $1: label; the rest: extra serve flags
  local label=$1; shift
  "$bin" simulator --port "$sim_port" --job-duration lognormal:3000,0.5,42 --share "$project=$images" \
    2>"$work_dir/simulator.log" &
  local sim_pid=$!
  "$bin" serve --port "$gw_port" --clients-file "$work_dir/clients.yaml" \
    --ims-url "http://127.0.0.1:$sim_port" --iam-url "http://127.0.0.1:$sim_port" \
    --iam-domain demo-domain --iam-user demo-user --probe-project-id "$project" \
    --upstream-rate 100000 --upstream-burst 100000 --max-callers-waiting 100000 "$@" \
    2>"$work_dir/gateway.log" &
  local gw_pid=$!
  pids=("$sim_pid" "$gw_pid")
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$gw_port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  local out
  out=$(timeout 600 python3 scripts/bench_polls.py "http://127.0.0.1:$gw_port" "http://127.0.0.1:$sim_port" "$key" "$project")
  kill "$gw_pid" "$sim_pid" 2>/dev/null || true
  wait "$gw_pid" "$sim_pid" 2>/dev/null || true
  echo "$label $out"
}

learned=$(run learned)
fixed=$(run fixed --poll-initial-ms 1000 --poll-growth 2 --poll-max-ms 10000 --poll-adaptive false)
python3 - "$learned" "$fixed" <<'PY'
import json, sys
rows = [line.split(" ", 1) for line in sys.argv[1:]]
print("| schedule | jobs answered 200 | job duration median | polls median | polls p95 | extra wait median | extra wait p95 | jobs within max(10 %, 250 ms) |")
print("|---|---|---|---|---|---|---|---|")
for label, text in rows:
    r = json.loads(text)
    name = "gateway (learned)" if label == "learned" else "fixed 1, 2, 4, 8, 10 s"
    print(f"| {name} | {r['answered_200']} / {r['jobs']} | {r['duration_ms_median']} ms | {r['polls_median']} | {r['polls_p95']} "
          f"| {r['extra_wait_ms_median']} ms | {r['extra_wait_ms_p95']} ms | {r['within_target_share']:.0%} |")
PY
