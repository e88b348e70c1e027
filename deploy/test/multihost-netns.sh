#!/usr/bin/env bash
# Multi-host test without loopback aliases (root only; .ci/run calls it). Three network namespaces
# stand for three hosts, joined by a bridge that lives in a fourth namespace, on 10.247.15.0/24:
# no interface or route of the root namespace ever carries their traffic. Each namespace gets its
# own /etc/hosts (ip netns exec mounts /etc/netns/NAME/hosts), so the members are host names.
#
# Every node is started the way ringkv.service starts it: deploy/install.sh lays the node out
# under a scratch root, and the unit's ExecStart runs with an environment file of the unit's
# format, as an unprivileged user (nobody; the unit's is ringkv). What systemd adds around it
# (hardening, restarts) is not exercised here; deploy/test/systemd-verify.sh checks the unit.
#
# Steps: wait for /health on all three; puts on one node and gets from another, always from inside
# a namespace to a namespace's own address; SIGKILL node 1 and check the other two still serve;
# restart it; move node 3 to a new address under the same name (a rescheduled Kubernetes pod), then
# stop node 2, so nodes 1 and 3 can only serve if node 1 finds node 3 at its new address, both
# for Raft (peer transport) and for requests it forwards (a scan through node 1).
# A trap removes the nodes, namespaces, hosts files and scratch folder, also on failure; the whole
# run is bounded by RINGKV_NETNS_TIMEOUT_SECONDS (default 600).
set -euo pipefail
repo_dir=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "multihost-netns: needs root (network namespaces)" >&2; exit 2; }
for tool in ip curl setpriv timeout; do
  command -v "$tool" >/dev/null || { echo "multihost-netns: $tool is missing" >&2; exit 2; }
done

run_id=$$
prefix="rkv15-$run_id"
bridge_ns="$prefix-br"
subnet=10.247.15
work=$(mktemp -d "${TMPDIR:-/tmp}/ringkv-netns.XXXXXX")
chmod 0755 "$work"
deadline=$((SECONDS + ${RINGKV_NETNS_TIMEOUT_SECONDS:-600}))
declare -A pids=()
netns_etc_existed=no
[ -d /etc/netns ] && netns_etc_existed=yes

node_ns() { echo "$prefix-n$1"; }
node_name() { echo "node$1.ringkv.test"; }
say() { echo "multihost-netns: $*" >&2; }

cleanup() {
  local status=$?
  for node in "${!pids[@]}"; do
    kill -KILL "${pids[$node]}" 2>/dev/null || true
  done
  for node in "${!pids[@]}"; do
    wait "${pids[$node]}" 2>/dev/null || true
  done
  if [ "$status" != 0 ]; then
    for log in "$work"/node*/node.log; do
      [ -f "$log" ] && { say "last lines of $log:"; tail -n 30 "$log" >&2; }
    done
  fi
  for node in 1 2 3; do
    ip netns delete "$(node_ns "$node")" 2>/dev/null || true
    rm -rf "/etc/netns/$(node_ns "$node")"
  done
  ip netns delete "$bridge_ns" 2>/dev/null || true
  [ "$netns_etc_existed" = yes ] || rmdir /etc/netns 2>/dev/null || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

time_left() {
  local left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || { say "out of time"; exit 1; }
  echo "$left"
}

# --- the "hosts" ------------------------------------------------------------------------------
declare -A address=([1]="$subnet.11" [2]="$subnet.12" [3]="$subnet.13")
write_hosts_files() {
  for node in 1 2 3; do
    mkdir -p "/etc/netns/$(node_ns "$node")"
    {
      echo "127.0.0.1 localhost"
      for other in 1 2 3; do echo "${address[$other]} $(node_name "$other")"; done
    } >"/etc/netns/$(node_ns "$node")/hosts"
  done
}
ip netns add "$bridge_ns"
ip -n "$bridge_ns" link add br0 type bridge
ip -n "$bridge_ns" link set br0 up
for node in 1 2 3; do
  ns=$(node_ns "$node")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add eth0 type veth peer name "veth$node" netns "$bridge_ns"
  ip -n "$bridge_ns" link set "veth$node" master br0 up
  ip -n "$ns" addr add "${address[$node]}/24" dev eth0
  ip -n "$ns" link set eth0 up
done
write_hosts_files

# --- the nodes, as ringkv.service starts them ----------------------------------------------------
unit="$repo_dir/deploy/systemd/ringkv.service"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
env_file_unit=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
[ "$exec_start" = /opt/ringkv/bin/ringkv-node ] ||
  { say "the unit's ExecStart changed ($exec_start): update this test"; exit 1; }
[ "$env_file_unit" = /etc/default/ringkv ] ||
  { say "the unit's EnvironmentFile changed ($env_file_unit): update this test"; exit 1; }
"$repo_dir/deploy/install.sh" --root "$work/root" --no-user
. "$repo_dir/bin/jdk-env.sh"

members="1@$(node_name 1),2@$(node_name 2),3@$(node_name 3)"
configure_node() {
  local node=$1 dir="$work/node$1"
  mkdir -p "$dir/data"
  chown nobody "$dir/data"
  cat >"$dir/ringkv.yaml" <<YAML
cluster-id: netns-test
node-id: $node
host: ${address[$node]}
data-dir: $dir/data
members: $members
partitions: 8
gossip-preset: lan
YAML
  # The installed /etc/default/ringkv with this node's file and this machine's JDK.
  sed -e "s|^RINGKV_CONFIG=.*|RINGKV_CONFIG=$dir/ringkv.yaml|" \
    -e 's|^RINGKV_JAVA_OPTS=.*|RINGKV_JAVA_OPTS="-Xms128m -Xmx256m -XX:+ExitOnOutOfMemoryError"|' \
    -e "s|^#JAVA_HOME=.*|JAVA_HOME=$JAVA_HOME|" \
    "$work/root/etc/default/ringkv" >"$dir/default"
}
start_node() {
  local node=$1 dir="$work/node$1"
  # ip netns exec, setpriv, env and sh all exec: the pid recorded is the node's JVM.
  ip netns exec "$(node_ns "$node")" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c \
    "set -a; . '$dir/default'; set +a; exec $work/root${exec_start}" \
    >>"$dir/node.log" 2>&1 &
  pids[$node]=$!
}
healthy() {
  local node=$1
  ip netns exec "$(node_ns "$node")" curl -sf -o /dev/null --max-time 2 \
    "http://${address[$node]}:7390/health"
}
wait_healthy() {
  local node=$1
  until healthy "$node"; do
    kill -0 "${pids[$node]}" 2>/dev/null || { say "node $node exited"; exit 1; }
    [ "$(time_left)" -gt 0 ]
    sleep 0.5
  done
  say "node $node is healthy at ${address[$node]}"
}
# ringctl inside namespace $1 against node $2's name.
ringctl_in() {
  local from=$1 to=$2
  shift 2
  ip netns exec "$(node_ns "$from")" timeout 60 "$repo_dir/bin/ringctl" \
    --endpoints "$(node_name "$to"):7379" --timeout-ms 10000 "$@"
}
# Retries a put-then-get until it holds or the step's deadline (seconds) passes.
put_get() {
  local writer=$1 reader=$2 key=$3 value=$4 step_deadline=$((SECONDS + $5)) got=""
  while :; do
    if ringctl_in "$writer" "$writer" put "$key" "$value" >/dev/null 2>>"$work/ringctl.err" &&
      got=$(ringctl_in "$reader" "$reader" get "$key" 2>>"$work/ringctl.err") &&
      [ "$got" = "$value" ]; then
      say "put $key on node $writer, read '$got' on node $reader"
      return 0
    fi
    if [ "$SECONDS" -ge "$step_deadline" ] || [ "$(time_left)" -le 0 ]; then
      say "put $key on node $writer / get on node $reader failed (last get: '$got'):"
      tail -n 5 "$work/ringctl.err" >&2
      exit 1
    fi
    sleep 1
  done
}

# Scans every netns- key through node $1 until it lists exactly $2 keys or $3 seconds pass. A scan
# asks each other node for the partitions it leads over the node's forwarding channels, so it
# fails while node $1 cannot reach a leader.
scan_count() {
  local via=$1 want=$2 step_deadline=$((SECONDS + $3)) got=""
  while :; do
    got=$(ringctl_in "$via" "$via" scan --prefix netns- 2>>"$work/ringctl.err" | grep -c '^netns-') || true
    if [ "$got" = "$want" ]; then
      say "a scan through node $via lists the $want keys"
      return 0
    fi
    if [ "$SECONDS" -ge "$step_deadline" ] || [ "$(time_left)" -le 0 ]; then
      say "a scan through node $via listed ${got:-no} keys, not $want:"
      tail -n 5 "$work/ringctl.err" >&2
      exit 1
    fi
    sleep 1
  done
}

# Waits until node $1 leads at least one partition as node 1 sees it (so a scan through node 1 asks
# node $1 over node 1's gRPC channel to it), at most $2 seconds.
await_leads() {
  local leader=$1 step_deadline=$((SECONDS + $2)) led=""
  while :; do
    led=$(ringctl_in 1 1 cluster partitions 2>>"$work/ringctl.err" |
      awk -v id="$leader" 'NR > 1 && $5 == id' | wc -l) || true
    if [ "${led:-0}" -ge 1 ]; then
      say "node $leader leads $led partitions as node 1 sees it"
      return 0
    fi
    if [ "$SECONDS" -ge "$step_deadline" ] || [ "$(time_left)" -le 0 ]; then
      say "node $leader leads no partition as node 1 sees it, so a scan would not reach it"
      exit 1
    fi
    sleep 1
  done
}

for node in 1 2 3; do configure_node "$node"; start_node "$node"; done
for node in 1 2 3; do wait_healthy "$node"; done
put_get 1 2 netns-a alpha 60
put_get 2 3 netns-b beta 30
put_get 3 1 netns-c gamma 30

say "SIGKILL node 1"
kill -KILL "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true
unset 'pids[1]'
put_get 2 3 netns-d delta 60
[ "$(ringctl_in 3 3 get netns-a)" = alpha ] || { say "netns-a lost after node 1 died"; exit 1; }

say "restart node 1 on its data"
start_node 1
wait_healthy 1
await_leads 3 90
scan_count 1 4 60

say "move node 3 from ${address[3]} to $subnet.23 under the same name"
kill -TERM "${pids[3]}"
wait "${pids[3]}" 2>/dev/null || true
unset 'pids[3]'
ip -n "$(node_ns 3)" addr del "${address[3]}/24" dev eth0
address[3]="$subnet.23"
ip -n "$(node_ns 3)" addr add "${address[3]}/24" dev eth0
write_hosts_files
sed -i "s|^host: .*|host: ${address[3]}|" "$work/node3/ringkv.yaml"
start_node 3
wait_healthy 3

say "stop node 2: nodes 1 and 3 serve only if node 1 reaches node 3 at its new address"
kill -TERM "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true
unset 'pids[2]'
put_get 1 3 netns-e epsilon 120
# Node 1's channel to node 3's name, opened before the move, must find the new address.
await_leads 3 90
scan_count 1 5 120
for key_value in netns-a=alpha netns-b=beta netns-c=gamma netns-d=delta; do
  got=$(ringctl_in 3 1 get "${key_value%%=*}")
  [ "$got" = "${key_value#*=}" ] || { say "${key_value%%=*} reads '$got'"; exit 1; }
done
say "passed in ${SECONDS} s"
echo "1 passed, 0 failed"
