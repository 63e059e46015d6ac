#!/bin/bash
# Runs crisp-bench against crispd and against Debian's containerd (1.6, CRI plugin, runc) on the
# same machine, the same local registry and the same images, suite by suite alternating between
# the two, and prints one table: each figure for both and the ratio. Regenerates the results
# section of tests/bench/README.md. Installs and starts everything it needs, and stops and
# removes all of it afterwards.
#   tests/bench/compare.sh [--quick] [--no-readme]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
QUICK=0; README=1
for a in "$@"; do case $a in --quick) QUICK=1;; --no-readme) README=0;; esac; done

for p in containerd runc; do dpkg -s "$p" >/dev/null 2>&1 || need="${need:-} $p"; done
if [ -n "${need:-}" ]; then
  apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
  # On a systemd host the package starts a system-wide containerd; this script runs its own.
  if [[ " $need " == *" containerd "* ]] && command -v systemctl >/dev/null && systemctl is-active -q containerd 2>/dev/null; then
    systemctl disable --now containerd >/dev/null 2>&1 || true
  fi
fi

W=$(mktemp -d /tmp/crisp-bench-XXXXXX)
PIDS=()
NETNS_BEFORE=$(ls /run/netns 2>/dev/null || true)
K8S_CGROUPS_BEFORE=$(ls -d /sys/fs/cgroup/*/k8s.io 2>/dev/null || true)
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # Whatever the runtimes left: shims, monitors and container processes under $W.
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    { tr '\0' ' ' < /proc/$pid/cmdline; readlink /proc/$pid/root; } 2>/dev/null | grep -q "$W" && kill -9 "$pid" 2>/dev/null
  done
  sleep 0.3
  grep -F "$W" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  # containerd pins pod netns as /run/netns/cni-*: remove the ones this run left (a failed run
  # leaves pods behind).
  for n in $(ls /run/netns 2>/dev/null); do
    case $n in cni-*) grep -qx "$n" <<<"$NETNS_BEFORE" || ip netns del "$n" 2>/dev/null;; esac
  done
  # containerd's cgroupfs driver puts pods under <hierarchy>/k8s.io and never removes that parent.
  for d in /sys/fs/cgroup/*/k8s.io; do
    [ -d "$d" ] || continue
    grep -qx "$d" <<<"$K8S_CGROUPS_BEFORE" || find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  ip link del crispbench0 2>/dev/null; ip link del cnibench0 2>/dev/null
  nft delete table ip crispbench 2>/dev/null
  rm -rf "$W" /tmp/crisp-bench-logs /tmp/crisp-bench-logs-*
}
trap cleanup EXIT

# --- registry with the images ---------------------------------------------------------------
"$BUILD/crisp-bench-registry" --out "$W/refs.env" --pause "$BUILD/crisp-bench-pause" --large 2>"$W/registry.log" &
PIDS+=($!)
for _ in $(seq 600); do [ -s "$W/refs.env" ] && break; sleep 0.2; done
[ -s "$W/refs.env" ] || { cat "$W/registry.log"; exit 1; }
. "$W/refs.env"

# --- crispd ---------------------------------------------------------------------------------
mkdir -p "$W/crisp"
"$BUILD/crispd" --socket "$W/crisp/crisp.sock" --root "$W/crisp/root" --state "$W/crisp/state" \
  --network-mode builtin --pod-cidr 10.98.0.0/16 --bridge crispbench0 --nft-table crispbench \
  --log-level warn 2>"$W/crisp/crispd.log" &
PIDS+=($!)

# --- containerd -----------------------------------------------------------------------------
C=$W/containerd; mkdir -p "$C/cni" "$C/certs.d/$REGISTRY"
cat > "$C/certs.d/$REGISTRY/hosts.toml" <<TOML
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
TOML
cat > "$C/cni/10-bench.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "bench", "plugins": [
  {"type": "bridge", "bridge": "cnibench0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.99.0.0/16"}]], "dataDir": "$C/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
cat > "$C/config.toml" <<TOML
version = 2
root = "$C/root"
state = "$C/state"
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$C/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$C/certs.d"
TOML
containerd --config "$C/config.toml" --log-level warn 2>"$C/containerd.log" &
PIDS+=($!)

for s in "$W/crisp/crisp.sock" "$C/containerd.sock"; do
  for _ in $(seq 100); do [ -S "$s" ] && break; sleep 0.1; done
done

ITER=50; PAR=10,50; SCALES=10,100,500; MEMPODS=100
[ $QUICK = 1 ] && { ITER=10; PAR=10; SCALES=10,100; MEMPODS=20; }
bench() {  # bench NAME ENDPOINT DAEMON OVERHEAD SUITE
  "$BUILD/crisp-bench" --endpoint "unix://$2" --image "$IMAGE" --large-image "$LARGE_IMAGE" \
    --iterations $ITER --parallel $PAR --scales $SCALES --memory-pods $MEMPODS \
    --daemon-process "$3" --overhead-processes "$4" --suites "$5" --label "$1" --json "$W/$1-$5.json" \
    > "$W/$1-$5.txt" 2>&1 || { echo "crisp-bench failed for $1/$5:"; cat "$W/$1-$5.txt"; }
}
for suite in memory pod parallel exec list pull; do
  echo "suite $suite: crisp"
  bench crisp "$W/crisp/crisp.sock" crispd crisp-monitor $suite
  echo "suite $suite: containerd"
  bench containerd "$C/containerd.sock" containerd containerd-shim,pause $suite  # comm is cut to 15 characters
done

merge() { jq -s '{operations: (map(.operations) | add), figures: (map(.figures) | add)}' "$W/$1"-*.json; }
merge crisp > "$W/crisp.json"; merge containerd > "$W/containerd.json"
TABLE=$(jq -r -n --slurpfile a "$W/crisp.json" --slurpfile b "$W/containerd.json" '
  def r(x; y): if (x // 0) > 0 and (y // 0) > 0 then ((y / x) * 10 | round / 10 | tostring) + "x" else "-" end;
  def f(x): if x == null then "-" else ((x * 1000 | round) / 1000 | tostring) end;
  "| figure | crisp p50 / p99 (ms) | containerd p50 / p99 (ms) | containerd ÷ crisp (p50) |",
  "|---|---|---|---|",
  ($a[0].operations[] as $o | ($b[0].operations | map(select(.name == $o.name)) | .[0]) as $c |
    "| \($o.name) | \(f($o.p50_ms)) / \(f($o.p99_ms)) | \(f($c.p50_ms)) / \(f($c.p99_ms)) | \(r($o.p50_ms; $c.p50_ms)) |"),
  ($a[0].figures | to_entries[] as $e |
    "| \($e.key) | \(f($e.value)) | \(f($b[0].figures[$e.key])) | \(r($e.value; $b[0].figures[$e.key])) |")')
echo "$TABLE"
if [ $README = 1 ] && [ $QUICK = 0 ]; then
  R=$HERE/README.md
  { sed '/^<!-- results -->$/,$d' "$R"; echo '<!-- results -->'
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(uname -r), containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}')."
    echo; echo "$TABLE"; } > "$R.new" && mv "$R.new" "$R"
fi
