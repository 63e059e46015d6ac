#!/bin/sh
# Side-loads local images into the nodes of a crisp kind cluster, as `kind load docker-image` does:
#   manifests/kind/load-images.sh [--name CLUSTER] IMAGE...
# Saves the images with docker (or $CONTAINER_ENGINE, e.g. podman) once and pipes the archive into
# `crisp images import -` on every node; imported images are pinned, so the kubelet's image GC
# keeps them. (`kind load docker-image` works too, through the node image's ctr shim.)
set -eu
engine=${CONTAINER_ENGINE:-docker}
cluster=kind
if [ "${1:-}" = --name ]; then cluster=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [--name CLUSTER] IMAGE..." >&2; exit 2; }
nodes=$($engine ps --filter "label=io.x-k8s.kind.cluster=$cluster" --format '{{.Names}}')
[ -n "$nodes" ] || { echo "$0: no nodes of kind cluster \"$cluster\"" >&2; exit 1; }
archive=$(mktemp)
trap 'rm -f "$archive"' EXIT
$engine save -o "$archive" "$@"
for node in $nodes; do
  echo "loading into $node"
  $engine exec -i "$node" crisp images import - < "$archive"
done
