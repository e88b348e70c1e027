#!/bin/sh
# A ringkv cluster on this machine, one process per node, node i on its own loopback address
# 127.0.0.(10+i) with the usual ports (client 7379, peer 7380, metrics/health 7390), so faults can
# be aimed at one node. Data, logs and pid files live under ./run/node-i/ at the repository root.
#
#   deploy/local-cluster.sh start [N] [--tls]
#                                       start N nodes (default 3) and wait until the cluster answers;
#                                       --tls (or RINGKV_TLS=1): TLS on client and peer traffic, with
#                                       certificates made by deploy/tls/make-certs.sh under
#                                       <run dir>/tls (kept: later commands of this run dir use TLS),
#                                       and gossip encrypted with <run dir>/tls/gossip.key
#   deploy/local-cluster.sh add         start one more node on the next address in join mode (--join
#                                       the first nodes), then `ringctl cluster join` it
#   deploy/local-cluster.sh stop        stop the nodes this script started (SIGTERM, then SIGKILL)
#   deploy/local-cluster.sh status      each node's pid, state and health, then `ringctl cluster status`
#   deploy/local-cluster.sh kill I      SIGKILL node I
#   deploy/local-cluster.sh pause I     SIGSTOP node I       resume I   SIGCONT node I
#   deploy/local-cluster.sh restart I   stop node I if it runs, start it again on its data
#
# Settings from the environment: RINGKV_START_TIMEOUT_SECONDS (60), RINGKV_STOP_TIMEOUT_SECONDS (10),
# RINGKV_PARTITIONS (64), RINGKV_CLUSTER_ID (ringkv-local), RINGKV_JAVA_OPTS (a small heap each),
# RINGKV_RUN_DIR (./run), RINGKV_ADDRESS_BASE (10: node i on 127.0.0.(10+i)) and
# RINGKV_ADDRESS_PREFIX (127.0.0: the /24 the nodes live in); tests use the last three to run a
# second cluster beside a developer's. RINGKV_GOSSIP_PRESET (lan): the local preset detects
# faster but, on a laptop shared with builds and GC pauses, suspects nodes that are only slow; lan
# gives the timings a real deployment has, so what a developer sees here holds there.
# RINGKV_NODE_FLAGS (empty) adds settings to every node, e.g. "--changefeed-retention-age-millis 15000".
# Warm-up: with RINGKV_AOT=train, the first node of `start` is a training run for JDK 25's AOT cache
# (see bin/ringkv): put load on the cluster, then `stop` gives that node up to
# RINGKV_AOT_STOP_TIMEOUT_SECONDS (180) to write server/target/ringkv-server.aot, which every later
# start of a node loads while it is newer than the server jar. RINGKV_AOT=off: no cache at all.
# With TLS, ringctl calls use <run dir>/tls/ca.crt and the client certificate client-root.*; the
# metrics/health HTTP port stays plaintext, so the health checks are unchanged.
# Only processes whose pid this script recorded are ever signalled.
set -eu
root_dir=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
. "$root_dir/bin/jdk-env.sh"

run_dir=${RINGKV_RUN_DIR:-$root_dir/run}
address_base=${RINGKV_ADDRESS_BASE:-10}
address_prefix=${RINGKV_ADDRESS_PREFIX:-127.0.0}
start_timeout_seconds=${RINGKV_START_TIMEOUT_SECONDS:-60}
stop_timeout_seconds=${RINGKV_STOP_TIMEOUT_SECONDS:-10}
partitions=${RINGKV_PARTITIONS:-64}
gossip_preset=${RINGKV_GOSSIP_PRESET:-lan}
cluster_id=${RINGKV_CLUSTER_ID:-ringkv-local}
node_count_max=20
aot_cache=$root_dir/server/target/ringkv-server.aot
aot_stop_timeout_seconds=${RINGKV_AOT_STOP_TIMEOUT_SECONDS:-180}
RINGKV_JAVA_OPTS=${RINGKV_JAVA_OPTS:--Xms64m -Xmx384m -XX:+UseSerialGC}
export RINGKV_JAVA_OPTS

tls_dir=$run_dir/tls

# TLS is on for this run dir once its certificates exist (start --tls or RINGKV_TLS=1 makes them).
tls_on() {
  [ -f "$tls_dir/ca.crt" ]
}

# ringctl against this cluster, with the CA and client certificate when TLS is on.
run_ringctl() {
  if tls_on; then
    "$root_dir/bin/ringctl" --cacert "$tls_dir/ca.crt" --cert "$tls_dir/client-root.crt" \
      --key "$tls_dir/client-root.key" "$@"
  else
    "$root_dir/bin/ringctl" "$@"
  fi
}

# Makes the missing certificates for nodes 1..$1 (node i's certificate names its address).
make_certs() {
  hosts=""
  j=1
  while [ "$j" -le "$1" ]; do
    hosts="$hosts $(node_host "$j")"
    j=$((j + 1))
  done
  # shellcheck disable=SC2086 # host addresses have no spaces
  "$root_dir/deploy/tls/make-certs.sh" "$tls_dir" $hosts >/dev/null || die "could not make TLS certificates"
}

die() {
  echo "local-cluster: $*" >&2
  exit 2
}

case "$address_base" in '' | *[!0-9]*) echo "local-cluster: RINGKV_ADDRESS_BASE must be a number" >&2; exit 2 ;; esac
case "$address_prefix" in
  127.[0-9]*.[0-9]*) ;;
  *) echo "local-cluster: RINGKV_ADDRESS_PREFIX must be a loopback /24 such as 127.0.0" >&2; exit 2 ;;
esac
node_host() { echo "$address_prefix.$((address_base + $1))"; }
node_dir() { echo "$run_dir/node-$1"; }
pid_file() { echo "$(node_dir "$1")/pid"; }

# Node ids this cluster started with (from run/members, written by start).
initial_ids() {
  [ -f "$run_dir/members" ] || return 0
  tr ',' '\n' <"$run_dir/members" | sed -n 's/^\([0-9][0-9]*\)@.*/\1/p'
}

# Node ids added later by `add` (run/added, one a line); they start in join mode.
added_ids() {
  [ -f "$run_dir/added" ] || return 0
  grep -E '^[0-9]+$' "$run_dir/added" || true
}

# Every node id of this cluster: the initial members, then the added nodes.
node_ids() {
  initial_ids
  added_ids
}

# Client addresses of the initial members, comma-separated: where added nodes join.
initial_endpoints() {
  list=""
  for j in $(initial_ids); do
    list="$list${list:+,}$(node_host "$j"):7379"
  done
  echo "$list"
}

check_index() {
  case "${1:-}" in
    '' | *[!0-9]*) die "node index must be a number, got '${1:-}'" ;;
  esac
  [ -f "$run_dir/members" ] || die "no cluster under $run_dir (run start first)"
  node_ids | grep -qx "$1" || die "no node $1 in this cluster (nodes: $(node_ids | tr '\n' ' '))"
}

# Prints the recorded pid of node $1 if that process is alive and is a ringkv node.
live_pid() {
  file=$(pid_file "$1")
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  [ -d "/proc/$pid" ] || return 0
  # Guard against a recycled pid: the process must be a ringkv node, or bin/ringkv just before it
  # execs the JVM (same pid), and it must run on this node's data directory. Another cluster's node
  # (another run directory or checkout) may hold the pid a stopped node of ours left in its file.
  # A node this script just started may not have exec'd bin/ringkv yet: until then it is this
  # script's own forked child, with this script's command line.
  if [ "$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)" = "$$" ]; then
    echo "$pid"
    return 0
  fi
  args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  case "$args" in
    *io.ringkv.server.NodeMain*" --data-dir $(node_dir "$1")/data "* | \
      *"$root_dir/bin/ringkv --data-dir $(node_dir "$1")/data "*) echo "$pid" ;;
  esac
}

process_state() {
  sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null
}

health_code() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$(node_host "$1"):7390/health" 2>/dev/null || true
}

log_tail() {
  echo "---- last lines of $(node_dir "$1")/node.log ----" >&2
  tail -n 30 "$(node_dir "$1")/node.log" >&2 2>/dev/null || true
}

build_server() {
  # bin/ringkv builds the server jar when missing or stale; --help does only that.
  "$root_dir/bin/ringkv" --help >/dev/null || die "could not build the server"
}

# launch I [train]: starts node I; with train and RINGKV_AOT=train it records the AOT cache.
launch() {
  i=$1
  may_train=${2:-}
  dir=$(node_dir "$i")
  mkdir -p "$dir/data"
  host=$(node_host "$i")
  # An added node starts in join mode: it learns the cluster map from the initial members (also
  # after a restart, when its own saved map takes precedence).
  if added_ids | grep -qx "$i"; then
    set -- --join "$(initial_endpoints)"
  else
    set -- --members "$(cat "$run_dir/members")"
  fi
  if tls_on; then
    set -- "$@" --tls-cert-file "$tls_dir/node-$i.crt" --tls-key-file "$tls_dir/node-$i.key" \
      --tls-ca-file "$tls_dir/ca.crt"
    # A run dir whose certificates predate gossip keys runs its gossip as it started: plaintext.
    if [ -f "$tls_dir/gossip.key" ]; then
      set -- "$@" --gossip-key-file "$tls_dir/gossip.key"
    fi
  fi
  aot_mode=${RINGKV_AOT:-auto}
  rm -f "$dir/aot-training"
  if [ "$aot_mode" = train ]; then
    if [ "$may_train" = train ]; then
      touch "$dir/aot-training"
    else
      aot_mode=auto # one training node is enough; the others run as usual
    fi
  fi
  # shellcheck disable=SC2086 # RINGKV_NODE_FLAGS is a list of flags
  RINGKV_AOT=$aot_mode "$root_dir/bin/ringkv" --data-dir "$dir/data" --node-id "$i" --host "$host" \
    "$@" --partitions "$partitions" --cluster-id "$cluster_id" \
    --gossip-preset "$gossip_preset" ${RINGKV_NODE_FLAGS:-} >>"$dir/node.log" 2>&1 </dev/null &
  echo $! >"$(pid_file "$i")"
}

# Waits until every node in "$@" answers /health with 200, failing on a dead node or at the deadline.
wait_healthy() {
  deadline=$(($(date +%s) + start_timeout_seconds))
  for i in "$@"; do
    while [ "$(health_code "$i")" != 200 ]; do
      if [ -z "$(live_pid "$i")" ]; then
        log_tail "$i"
        die "node $i exited during start-up"
      fi
      if [ "$(date +%s)" -ge "$deadline" ]; then
        log_tail "$i"
        die "node $i ($(node_host "$i")) not healthy after ${start_timeout_seconds}s"
      fi
      sleep 0.2
    done
  done
}

# Waits until `ringctl cluster status` sees every member answering and, once the KV service exists,
# until a linearizable read is served (so every partition has a leader for that key).
wait_answering() {
  deadline=$(($(date +%s) + start_timeout_seconds))
  while :; do
    if out=$(run_ringctl --endpoints "$endpoints" cluster status 2>&1); then
      case "$out" in
        *"kv service serving"*)
          code=0
          run_ringctl --endpoints "$endpoints" get ringkv-local-cluster-ready \
            >/dev/null 2>&1 || code=$?
          [ "$code" -le 1 ] && return 0
          ;;
        *) return 0 ;;
      esac
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$out" >&2
      die "cluster did not answer within ${start_timeout_seconds}s"
    fi
    sleep 0.5
  done
}

cmd_start() {
  count=3
  tls=${RINGKV_TLS:-0}
  for arg in "$@"; do
    case "$arg" in
      --tls) tls=1 ;;
      *) count=$arg ;;
    esac
  done
  case "$count" in '' | *[!0-9]*) die "node count must be a number, got '$count'" ;; esac
  [ "$count" -ge 1 ] && [ "$count" -le "$node_count_max" ] \
    || die "node count must be in 1..$node_count_max, got $count"
  [ $((address_base + count)) -le 254 ] || die "addresses $address_prefix.$((address_base + 1))..$((address_base + count)) leave $address_prefix.0/24"
  for i in $(node_ids); do
    [ -z "$(live_pid "$i")" ] || die "node $i is already running (pid $(live_pid "$i")); stop first"
  done
  mkdir -p "$run_dir"
  members=""
  endpoints=""
  i=1
  while [ "$i" -le "$count" ]; do
    members="$members${members:+,}$i@$(node_host "$i"):7379:7380"
    endpoints="$endpoints${endpoints:+,}$(node_host "$i"):7379"
    i=$((i + 1))
  done
  if [ -f "$run_dir/members" ] && [ "$(cat "$run_dir/members")" != "$members" ]; then
    die "$run_dir holds a cluster of other members ($(cat "$run_dir/members")); remove $run_dir to start anew"
  fi
  echo "$members" >"$run_dir/members"
  if [ "$tls" = 1 ] || tls_on; then
    make_certs "$count"
  fi
  build_server
  first=""
  for i in $(node_ids); do
    # With RINGKV_AOT=train the first node records the AOT cache (one is enough).
    launch "$i" "${first:-train}"
    first=no
  done
  # shellcheck disable=SC2046 # node ids are numbers
  wait_healthy $(node_ids)
  wait_answering
  if tls_on; then
    echo "local-cluster: $count nodes up with TLS ($endpoints), certificates under $tls_dir"
  else
    echo "local-cluster: $count nodes up ($endpoints), data and logs under $run_dir"
  fi
}

stop_node() {
  i=$1
  pid=$(live_pid "$i")
  timeout=$stop_timeout_seconds
  training=""
  if [ -f "$(node_dir "$i")/aot-training" ]; then
    training=yes
    timeout=$aot_stop_timeout_seconds # the JVM writes the AOT cache on its way out
  fi
  if [ -n "$pid" ]; then
    kill -CONT "$pid" 2>/dev/null || true # a paused node cannot handle SIGTERM
    kill -TERM "$pid" 2>/dev/null || true
    waited=0
    while [ -d "/proc/$pid" ] && [ "$waited" -lt $((timeout * 10)) ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if [ -d "/proc/$pid" ]; then
      echo "local-cluster: node $i (pid $pid) ignored SIGTERM for ${timeout}s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    trained="$root_dir/server/target/aot-train-pid$pid.aot"
    if [ -n "$training" ] && [ -s "$trained" ]; then
      mv -f "$trained" "$aot_cache"
      echo "local-cluster: node $i wrote the AOT cache $aot_cache (later starts load it)"
    fi
    rm -f "$trained" "$trained.config"
  fi
  rm -f "$(pid_file "$i")" "$(node_dir "$i")/aot-training"
}

cmd_add() {
  [ -f "$run_dir/members" ] || die "no cluster under $run_dir (run start first)"
  last=0
  for j in $(node_ids); do
    [ "$j" -gt "$last" ] && last=$j
  done
  i=$((last + 1))
  [ "$i" -le "$node_count_max" ] || die "this script runs at most $node_count_max nodes"
  [ $((address_base + i)) -le 254 ] || die "address $address_prefix.$((address_base + i)) leaves $address_prefix.0/24"
  joined=$(initial_endpoints)
  echo "$i" >>"$run_dir/added"
  if tls_on; then
    make_certs "$i"
  fi
  build_server
  launch "$i"
  wait_healthy "$i"
  address="$(node_host "$i"):7379"
  echo "local-cluster: node $i started in join mode on $address (pid $(cat "$(pid_file "$i")")); joining it"
  if ! run_ringctl --endpoints "$joined" --timeout-ms 20000 cluster join "$address"; then
    die "node $i runs but was not joined; retry with: bin/ringctl --endpoints $joined cluster join $address"
  fi
  echo "local-cluster: node $i joined; replicas move to it in the background (see status)"
}

cmd_stop() {
  for i in $(node_ids); do
    stop_node "$i"
  done
  echo "local-cluster: stopped"
}

cmd_status() {
  [ -f "$run_dir/members" ] || die "no cluster under $run_dir"
  printf '%-5s %-15s %-8s %-8s %s\n' NODE ADDRESS PID STATE HEALTH
  endpoints=""
  for i in $(node_ids); do
    endpoints="$endpoints${endpoints:+,}$(node_host "$i"):7379"
    pid=$(live_pid "$i")
    if [ -z "$pid" ]; then
      printf '%-5s %-15s %-8s %-8s %s\n' "$i" "$(node_host "$i")" - down -
      continue
    fi
    case $(process_state "$pid") in T) state=paused ;; *) state=running ;; esac
    code=$(health_code "$i")
    printf '%-5s %-15s %-8s %-8s %s\n' "$i" "$(node_host "$i")" "$pid" "$state" "${code:-none}"
  done
  echo
  run_ringctl --endpoints "$endpoints" --timeout-ms 2000 cluster status || true
}

signal_node() {
  check_index "$2"
  pid=$(live_pid "$2")
  [ -n "$pid" ] || die "node $2 is not running"
  kill "-$1" "$pid"
}

cmd_restart() {
  check_index "$1"
  stop_node "$1"
  build_server
  launch "$1"
  wait_healthy "$1"
  echo "local-cluster: node $1 restarted (pid $(cat "$(pid_file "$1")"))"
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  start) cmd_start "$@" ;;
  add) cmd_add ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill)
    signal_node KILL "${1:-}"
    rm -f "$(pid_file "$1")"
    ;;
  pause) signal_node STOP "${1:-}" ;;
  resume) signal_node CONT "${1:-}" ;;
  restart) cmd_restart "${1:-}" ;;
  *)
    sed -n '2,29s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
