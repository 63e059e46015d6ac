#!/bin/bash
# kind_shims_test KIND_DIR: the commands `kind load docker-image` runs on a node
# (pkg/cluster/nodeutils: `containerd config dump`, then `ctr --namespace=k8s.io images import
# --all-platforms --digests --snapshotter=<s> -`) reach `crisp images import` through the shims of
# manifests/kind, with the archive on stdin; re-tagging fails so kind falls back to loading.
set -euo pipefail
kind=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A fake crisp that records its arguments and what it read from stdin.
mkdir "$work/bin"
cat > "$work/bin/crisp" <<FAKE
#!/bin/sh
echo "\$*" > "$work/args"
cat > "$work/stdin"
FAKE
chmod 755 "$work/bin/crisp"
export PATH="$work/bin:$PATH"

# containerd config dump: version 2 with the CRI plugin's snapshotter, as kind parses it.
out=$(sh "$kind/containerd-shim" config dump)
grep -qx 'version = 2' <<<"$out" || fail "config dump lacks version = 2: $out"
grep -q '^\[plugins."io.containerd.grpc.v1.cri".containerd\]$' <<<"$out" || fail "config dump lacks the cri table: $out"
grep -q '^  snapshotter = "overlayfs"$' <<<"$out" || fail "config dump lacks the snapshotter: $out"
if sh "$kind/containerd-shim" --version 2>/dev/null; then fail "containerd shim ran something else"; fi

# ctr import as kind calls it: the archive on stdin goes to crisp images import.
echo "ARCHIVE" | sh "$kind/ctr-shim" --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -
[ "$(cat "$work/args")" = "images import --all-platforms -" ] || fail "crisp called with: $(cat "$work/args")"
[ "$(cat "$work/stdin")" = "ARCHIVE" ] || fail "archive not passed on stdin"

# From a file, without --all-platforms.
rm -f "$work/args"
echo "FILE" > "$work/img.tar"
sh "$kind/ctr-shim" -n k8s.io images import "$work/img.tar" </dev/null
[ "$(cat "$work/args")" = "images import $work/img.tar" ] || fail "crisp called with: $(cat "$work/args")"

# Re-tagging is refused (kind then loads the image again).
if sh "$kind/ctr-shim" --namespace=k8s.io images tag --force sha256:abc docker.io/library/x:1 2>"$work/err"; then
  fail "tag succeeded"
fi
grep -q "not supported" "$work/err" || fail "tag message: $(cat "$work/err")"
echo PASS
