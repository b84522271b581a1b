#!/usr/bin/env bash
# Runs schemathesis (from PyPI, in a throwaway venv) against `ims-gateway serve` in front of
# `ims-gateway simulator`, both on loopback: every answer must match openapi.yaml, undeclared
# methods must get 405, and invalid requests must be refused. 502 answers are part of the
# contract (a batch failed upstream), so schemathesis's "no 5xx" check is left out; a 500 still
# fails the run through the schema (500 is not a documented status).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(swift build --show-bin-path)/ims-gateway"
[ -x "$bin" ] || swift build --product ims-gateway
work_dir=$(mktemp -d)
sim_port=${SIM_PORT:-19082}
gw_port=${GW_PORT:-18082}
export IMSGW_IAM_PASSWORD="contract-$RANDOM-$RANDOM"

cleanup() {
  kill "${gw_pid:-}" "${sim_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work_dir"
}
trap cleanup EXIT

python3 -m venv "$work_dir/venv"
"$work_dir/venv/bin/pip" install --quiet --disable-pip-version-check schemathesis

"$bin" simulator --port "$sim_port" --job-duration-ms 200 >"$work_dir/simulator.log" 2>&1 &
sim_pid=$!
"$bin" serve --port "$gw_port" \
  --ims-url "http://127.0.0.1:$sim_port" --iam-url "http://127.0.0.1:$sim_port" \
  --iam-domain demo-domain --iam-user demo-user \
  --probe-project-id edc89b490d7d4392898e19b2deb34797 \
  --poll-initial-ms 100 --poll-max-ms 200 >"$work_dir/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$gw_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

timeout 600 "$work_dir/venv/bin/schemathesis" run openapi.yaml --url "http://127.0.0.1:$gw_port" \
  --checks all --exclude-checks not_a_server_error --max-examples "${CONTRACT_MAX_EXAMPLES:-50}" \
  --request-timeout 20 --seed 20261129 --no-color
echo "contract-test: OK (openapi.yaml against serve on :$gw_port)"
