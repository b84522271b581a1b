#!/usr/bin/env bash
# Starts `ims-gateway simulator` and `ims-gateway serve` as separate processes on loopback,
# accepts images with curl, checks the answers, and stops both. Exits non-zero on any mismatch.
# SMOKE_STORE_URL picks the store (default: an SQLite file in a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="$(swift build --show-bin-path)/ims-gateway"
[ -x "$bin" ] || swift build --product ims-gateway
sim_port=${SIM_PORT:-19081}
gw_port=${GW_PORT:-18081}
log_dir=$(mktemp -d)
export IMSGW_IAM_PASSWORD="smoke-$RANDOM-$RANDOM"

cleanup() {
  kill "${gw_pid:-}" "${sim_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# One client, made as the README says: hash-key prints the key and the hash the file holds.
keys=$("$bin" hash-key 2>/dev/null)
client_key=$(echo "$keys" | sed -n 's/^key: //p')
client_hash=$(echo "$keys" | sed -n 's/^key_sha256: //p')
cat >"$log_dir/clients.yaml" <<YAML
clients:
  - name: smoke
    key_sha256: [$client_hash]
    projects: [edc89b490d7d4392898e19b2deb34797]
YAML
auth="Authorization: Bearer $client_key"

"$bin" simulator --port "$sim_port" --job-duration-ms 1000 >"$log_dir/simulator.log" 2>&1 &
sim_pid=$!
"$bin" serve --port "$gw_port" \
  --ims-url "http://127.0.0.1:$sim_port" --iam-url "http://127.0.0.1:$sim_port" \
  --iam-domain demo-domain --iam-user demo-user --max-images-per-job 2 \
  --probe-project-id edc89b490d7d4392898e19b2deb34797 --clients-file "$log_dir/clients.yaml" \
  --poll-initial-ms 300 --store-url "${SMOKE_STORE_URL:-sqlite:$log_dir/store.sqlite}" >"$log_dir/gateway.log" 2>&1 &
gw_pid=$!

fail() { echo "smoke-serve: $*"; echo "--- gateway log"; cat "$log_dir/gateway.log"; echo "--- simulator log"; cat "$log_dir/simulator.log"; exit 1; }

for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$gw_port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$gw_port/readyz" >/dev/null || fail "the gateway did not become ready"


# Both images of the IMS doc example are shared with the demo project: 200.
body=$(curl -sS -w '\n%{http_code}' -X POST "http://127.0.0.1:$gw_port/accept-images" \
  -H 'Content-Type: application/json' -H 'Prefer: wait=30' -H "$auth" -H 'Idempotency-Key: smoke-1' \
  -d '{"project_id":"edc89b490d7d4392898e19b2deb34797","images":["d164b5df-1bc3-4c3f-893e-3e471fd16e64","0b680482-acaa-4045-b14c-9a8c7dfe9c70"]}')
status=${body##*$'\n'}
[ "$status" = 200 ] || fail "accept of shared images answered $status: ${body%$'\n'*}"
echo "${body%$'\n'*}" | grep -q '"outcome":"succeeded"' || fail "outcome is not succeeded: $body"
request_id=$(echo "${body%$'\n'*}" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')

# The same call again with the same Idempotency-Key: the stored outcome, no second submit.
headers=$(curl -sS -D - -o /dev/null -X POST "http://127.0.0.1:$gw_port/accept-images" \
  -H 'Content-Type: application/json' -H "$auth" -H 'Idempotency-Key: smoke-1' \
  -d '{"project_id":"edc89b490d7d4392898e19b2deb34797","images":["d164b5df-1bc3-4c3f-893e-3e471fd16e64","0b680482-acaa-4045-b14c-9a8c7dfe9c70"]}')
echo "$headers" | grep -qi '^Idempotent-Replayed: true' || fail "the repeat was not replayed: $headers"
curl -fsS "http://127.0.0.1:$sim_port/_sim/stats" | grep -q '"BatchUpdateMembers":1[,}]' \
  || fail "the repeat submitted again: $(curl -sS "http://127.0.0.1:$sim_port/_sim/stats")"
curl -fsS -H "$auth" "http://127.0.0.1:$gw_port/accept-images/$request_id" | grep -q '"outcome":"succeeded"' \
  || fail "GET /accept-images/$request_id did not return the stored outcome"

# Without the key: 401.
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$gw_port/accept-images" \
  -H 'Content-Type: application/json' -d '{}')
[ "$status" = 401 ] || fail "a call without a client key answered $status"

# An image that is not shared: curl --fail-with-body exits non-zero and keeps the body,
# which names the failed job and its reason.
if curl --fail-with-body -sS -o "$log_dir/answer.json" -X POST "http://127.0.0.1:$gw_port/accept-images" \
  -H 'Content-Type: application/json' -H "$auth" \
  -d '{"project_id":"edc89b490d7d4392898e19b2deb34797","images":["6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"]}' 2>/dev/null; then
  fail "accept of an image that is not shared succeeded"
fi
grep -q '"error_code":"IMG.0104"' "$log_dir/answer.json" || fail "no IMG.0104 in the answer: $(cat "$log_dir/answer.json")"
grep -q '"outcome":"failed"' "$log_dir/answer.json" || fail "outcome is not failed: $(cat "$log_dir/answer.json")"

# A bad body: 400 and nothing reached the simulator beyond the two requests above.
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$gw_port/accept-images" \
  -H 'Content-Type: application/json' -H "$auth" -d '{"project_id":"nope","images":["x"]}')
[ "$status" = 400 ] || fail "invalid body answered $status"

echo "smoke-serve: OK (serve on :$gw_port in front of simulator on :$sim_port)"
