#!/usr/bin/env bash
# Calls `ims-gateway simulator` with Huawei Cloud's official Python SDK (huaweicloudsdkcore +
# huaweicloudsdkims from PyPI, in a throwaway venv), signing with AK/SK: BatchUpdateMembers,
# ShowJob, ShowJobProgress, IMS errors, and a wrong SK refused with 401 APIGW.0301
# (scripts/sdk_interop.py). Exits non-zero on any failure; the whole run is bounded by
# SDK_INTEROP_TIMEOUT_S (default 900 s). IMS_SDK_VERSION picks the SDK release (default 3.1.219,
# the one docs/IMS-API.md cites; empty for the newest).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SDK_INTEROP_BOUNDED:-}" ]; then
  # timeout runs us in its own process group and signals all of it (simulator, pip, python).
  export SDK_INTEROP_BOUNDED=1
  exec timeout -k 10 "${SDK_INTEROP_TIMEOUT_S:-900}" "$0" "$@"
fi

sdk_version=${IMS_SDK_VERSION-3.1.219}
work_dir=$(mktemp -d)
sim_pid=

cleanup() {
  status=$?
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

fail() {
  echo "sdk-interop: $*" >&2
  if [ -f "$work_dir/simulator.log" ]; then echo "--- simulator log" >&2; cat "$work_dir/simulator.log" >&2; fi
  exit 1
}

timeout 600 swift build --product ims-gateway >"$work_dir/build.log" 2>&1 || { cat "$work_dir/build.log" >&2; fail "swift build failed"; }
bin="$(swift build --show-bin-path)/ims-gateway"

python3 -m venv "$work_dir/venv" || fail "python3 -m venv failed"
if [ -n "$sdk_version" ]; then
  packages=("huaweicloudsdkcore==$sdk_version" "huaweicloudsdkims==$sdk_version")
else
  packages=(huaweicloudsdkcore huaweicloudsdkims)
fi
timeout 300 "$work_dir/venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}" \
  >"$work_dir/pip.log" 2>&1 || { cat "$work_dir/pip.log" >&2; fail "pip install ${packages[*]} failed"; }
installed=$("$work_dir/venv/bin/python" -c \
  'from importlib.metadata import version; print(version("huaweicloudsdkcore"), version("huaweicloudsdkims"))')

port=${SIM_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
access_key="HPUASDKINTEROP$RANDOM$RANDOM"
secret_key="sk-$(python3 -c 'import secrets; print(secrets.token_hex(20))')"
project_id=fedcba9876543210fedcba9876543210
shared_image=d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1
other_image=0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b

# The SK goes to the simulator through its environment only, never on the command line.
env -u IMSGW_IAM_PASSWORD -u IMSGW_IAM_PASSWORD_FILE IMSGW_SIM_SECRET_KEY="$secret_key" \
  "$bin" simulator --host 127.0.0.1 --port "$port" --job-duration-ms 600 \
  --access-key "$access_key" --share "$project_id=$shared_image" >"$work_dir/simulator.log" 2>&1 &
sim_pid=$!

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/_sim/stats" >/dev/null 2>&1 && break
  kill -0 "$sim_pid" 2>/dev/null || fail "the simulator exited"
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/_sim/stats" >/dev/null 2>&1 || fail "the simulator is not answering on :$port"

# Loopback only: no proxy from the environment may see the calls.
NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
  IMS_ENDPOINT="http://127.0.0.1:$port" IMS_AK="$access_key" IMS_SK="$secret_key" IMS_PROJECT_ID="$project_id" \
  IMS_SHARED_IMAGE="$shared_image" IMS_OTHER_IMAGE="$other_image" IMS_DEADLINE_S=20 \
  timeout 180 "$work_dir/venv/bin/python" scripts/sdk_interop.py || fail "scripts/sdk_interop.py failed"

# The refused calls reached the simulator's signature check, and the SK never reached its log.
failures=$(curl -fsS "http://127.0.0.1:$port/_sim/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["auth_failures"])')
[ "$failures" = 3 ] || fail "the simulator counted $failures auth failures, expected 3"
if grep -qF "$secret_key" "$work_dir/simulator.log"; then fail "the SK appears in the simulator's log"; fi

echo "sdk-interop: OK (huaweicloudsdkcore ${installed% *}, huaweicloudsdkims ${installed#* } signed with AK/SK against ims-gateway simulator on :$port)"
