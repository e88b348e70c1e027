#!/usr/bin/env bash
# A three-node ringkv cluster from the container image (root; .ci/run may call it): builds the
# image with deploy/container/build-image.sh (minutes the first time: debootstrap), starts three
# containers with podman on the host network, each node on its own loopback address
# 127.0.15.11-13, waits for /health, puts on one node and gets from the others, SIGKILLs one
# container and checks the other two still serve. A trap removes the containers and their data,
# also on failure; the image stays as a cache. Bounded by RINGKV_CONTAINER_TIMEOUT_SECONDS (900).
set -euo pipefail
repo_dir=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
image=${RINGKV_IMAGE:-localhost/ringkv:dev}
say() { echo "container-cluster: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (podman)"; exit 2; }
deadline=$((SECONDS + ${RINGKV_CONTAINER_TIMEOUT_SECONDS:-900}))

timeout $((deadline - SECONDS)) "$repo_dir/deploy/container/build-image.sh" "$image"

run_id="rkv15-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/ringkv-container.XXXXXX")
cleanup() {
  local status=$?
  for node in 1 2 3; do
    if [ "$status" != 0 ]; then
      say "last lines of node $node:"
      podman logs --tail 30 "$run_id-$node" >&2 2>&1 || true
    fi
    podman rm -f -t 0 "$run_id-$node" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Where the machine runs in a cgroup v1/v2 hybrid (as this one does), crun refuses to start
# containers and runc works; and a container may not raise its limits above this shell's, so they
# are given explicitly (podman's defaults are higher).
runtime=()
command -v runc >/dev/null && runtime=(--runtime runc)
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
address() { echo "127.0.15.1$1"; }
members="1@$(address 1),2@$(address 2),3@$(address 3)"
for node in 1 2 3; do
  mkdir -p "$work/node$node"
  chown 7379:7379 "$work/node$node"
  podman "${runtime[@]}" run -d --name "$run_id-$node" --network host "${limits[@]}" \
    -v "$work/node$node:/var/lib/ringkv" \
    -e RINGKV_CONFIG= \
    -e "RINGKV_JAVA_OPTS=-Xms128m -Xmx256m" \
    -e "RINGKV_OPTS=--cluster-id container-test --node-id $node --host $(address "$node") --data-dir /var/lib/ringkv/data --members $members --partitions 8 --gossip-preset local" \
    "$image" >/dev/null
done
for node in 1 2 3; do
  until curl -sf -o /dev/null --max-time 2 "http://$(address "$node"):7390/health"; do
    [ "$(podman inspect -f '{{.State.Running}}' "$run_id-$node")" = true ] ||
      { say "node $node exited"; exit 1; }
    [ "$SECONDS" -lt "$deadline" ] || { say "node $node not healthy in time"; exit 1; }
    sleep 0.5
  done
  say "node $node is healthy"
done

ringctl() { timeout 60 "$repo_dir/bin/ringctl" --timeout-ms 10000 "$@"; }
put_get() { # writer reader key value seconds
  local step_deadline=$((SECONDS + $5)) got=""
  while :; do
    if ringctl --endpoints "$(address "$1"):7379" put "$3" "$4" >/dev/null 2>>"$work/ringctl.err" &&
      got=$(ringctl --endpoints "$(address "$2"):7379" get "$3" 2>>"$work/ringctl.err") &&
      [ "$got" = "$4" ]; then
      say "put $3 on node $1, read '$got' on node $2"
      return 0
    fi
    if [ "$SECONDS" -ge "$step_deadline" ] || [ "$SECONDS" -ge "$deadline" ]; then
      say "put $3 on node $1 / get on node $2 failed:"
      tail -n 5 "$work/ringctl.err" >&2
      exit 1
    fi
    sleep 1
  done
}
put_get 1 2 container-a alpha 60
put_get 2 3 container-b beta 30
say "SIGKILL the container of node 3"
podman kill -s KILL "$run_id-3" >/dev/null
put_get 1 2 container-c gamma 60
say "passed in ${SECONDS} s"
echo "1 passed, 0 failed"
