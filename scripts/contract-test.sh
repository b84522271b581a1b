#!/usr/bin/env bash
# Runs schemathesis (from PyPI, in a throwaway venv) against `ims-gateway serve` in front of
# `ims-gateway simulator`, both on loopback: every answer must match openapi.yaml, undeclared
# methods must get 405, invalid requests must be refused, and requests without the client key
# must get 401. 502 and 504 answers are part of the contract (a batch failed upstream, the
# wait ran out), so schemathesis's "no 5xx" check is left out; a 500 still fails the run
# through the schema (500 is not a documented status).
#
# The gateway gets a clients file made here: one client, a key made for this run (only its
# SHA-256 is in the file), every project, and a rate limit high enough that schemathesis is
# not refused with 429 all the time (429 stays part of the contract if it happens).
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

# A client key for this run (printable ASCII without spaces, 16 to 512 characters); the
# clients file holds only the SHA-256 of its bytes, as `ims-gateway hash-key` prints it.
client_key="contract-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
key_sha256=$(printf '%s' "$client_key" | sha256sum | cut -d' ' -f1)
cat >"$work_dir/clients.yaml" <<YAML
clients:
  - name: contract-test
    key_sha256: ["$key_sha256"]
    projects: ["*"]
    rate_limit: {rate: 1000, burst: 1000}
YAML

# Schema-valid requests may be answered 422 by contract: schemathesis reuses Idempotency-Key
# values (the documented examples, and small generated ones) with other bodies, and the
# gateway refuses a reused key with another body. Every other default of the check stays.
# Schemathesis's cache (crashes it replays) stays in the temporary folder: a run neither
# depends on an earlier one nor writes into the work tree.
cat >"$work_dir/schemathesis.toml" <<TOML
[cache]
directory = "$work_dir/schemathesis-cache"

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
TOML

"$bin" simulator --port "$sim_port" --job-duration-ms 200 >"$work_dir/simulator.log" 2>&1 &
sim_pid=$!
"$bin" serve --port "$gw_port" \
  --ims-url "http://127.0.0.1:$sim_port" --iam-url "http://127.0.0.1:$sim_port" \
  --iam-domain demo-domain --iam-user demo-user \
  --probe-project-id edc89b490d7d4392898e19b2deb34797 \
  --clients-file "$work_dir/clients.yaml" \
  --poll-initial-ms 100 --poll-max-ms 200 >"$work_dir/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$gw_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
# The key must be accepted before schemathesis starts: a 401 here is a broken set-up, not a
# contract failure.
status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $client_key" \
  "http://127.0.0.1:$gw_port/accept-images/contract-test-probe")
if [ "$status" != 404 ]; then
  echo "contract-test: GET /accept-images/contract-test-probe with the run's key answered $status, expected 404" >&2
  cat "$work_dir/gateway.log" >&2
  exit 1
fi

timeout 600 "$work_dir/venv/bin/schemathesis" --config-file "$work_dir/schemathesis.toml" \
  run openapi.yaml --url "http://127.0.0.1:$gw_port" \
  -H "Authorization: Bearer $client_key" \
  --checks all --exclude-checks not_a_server_error --max-examples "${CONTRACT_MAX_EXAMPLES:-50}" \
  --request-timeout 20 --seed 20261129 --no-color
echo "contract-test: OK (openapi.yaml against serve on :$gw_port)"
