#!/bin/bash
# The "Node" figure of docs/benchmarks.md in one command: starts three ringkv nodes on
# 127.0.0.91-93 (P = 16, RF = 3, fsync on), runs a put warm-up, then put at 64 and 256 in flight and
# linearizable get at 256 in flight with io.ringkv.bench.load.LoadTool, scrapes each node's /metrics,
# stops the nodes it started (by pid) and prints the results. Bounded: every load run has a request
# count and a 300 s timeout.
#
#   bench/node-load.sh [--warmup-requests N] [--profile put64|put256|get256] [--out DIR]
#
# --warmup-requests (default 150000, about a minute here): the nodes' JIT compiler takes most of
# their CPU for the first minute on 2 cores; a shorter warm-up measures the compiler, not ringkv.
# --profile attaches async-profiler (bench/target/async-profiler, from the build) to every node for
# that run and writes collapsed stacks (<run>-n<i>.collapsed) next to the results.
set -u
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"
warm=150000 profile="" out="run/node-load/$(date -u +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --warmup-requests) warm=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "node-load: unknown option $1" >&2; exit 2 ;;
  esac
done
. bin/jdk-env.sh
[ -f bench/target/benchmarks.jar ] && [ -d server/target/lib ] || \
  ./mvnw -B -q -pl server,bench -am package -DskipTests
mkdir -p "$out"
out=$(CDPATH='' cd -- "$out" && pwd) # the profiler agent writes by absolute path
members=1@127.0.0.91:17379:17380,2@127.0.0.92:17379:17380,3@127.0.0.93:17379:17380
pids=()
stop_nodes() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; wait; }
trap stop_nodes EXIT
for i in 1 2 3; do
  RINGKV_JAVA_OPTS="-Xmx1g ${NODE_JAVA_OPTS:-}" bin/ringkv --data-dir "$out/n$i" --node-id "$i" \
    --host "127.0.0.9$i" --client-addr :17379 --peer-addr :17380 --metrics-addr :17390 \
    --members "$members" --partitions 16 --replication-factor 3 >"$out/n$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.9$i:17390/health" >/dev/null && break
    sleep 0.2
  done
done
lib=$(ls bench/target/async-profiler/*/libasyncProfiler.so bench/target/async-profiler/libasyncProfiler.so 2>/dev/null | grep linux-x64 | head -n 1)
cpu() { local sum=0; for pid in "${pids[@]}"; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$sum"; }
targets=127.0.0.91:17379,127.0.0.92:17379,127.0.0.93:17379
run() {
  local name=$1; shift
  if [ "$profile" = "$name" ] && [ -n "$lib" ]; then
    for pid in "${pids[@]}"; do
      jcmd "$pid" JVMTI.agent_load "$lib" '"start,event=cpu,interval=1ms,threads"' >/dev/null
    done
  fi
  local before; before=$(cpu)
  timeout 300 java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
    io.ringkv.bench.load.LoadTool --targets "$targets" --value-bytes 100 --keys 10000 "$@" \
    >"$out/$name.txt" 2>&1
  local after; after=$(cpu)
  echo "load: nodes-cpu-seconds=$(( (after - before) / $(getconf CLK_TCK) ))" >>"$out/$name.txt"
  if [ "$profile" = "$name" ] && [ -n "$lib" ]; then
    local k=0
    for pid in "${pids[@]}"; do
      k=$((k + 1))
      jcmd "$pid" JVMTI.agent_load "$lib" "\"stop,file=$out/$name-n$k.collapsed\"" >/dev/null
    done
  fi
  grep '^load: ' "$out/$name.txt" | grep -v '^load: op=\|preloading' | sed "s/^/$name: /"
}
run warmup --op put --inflight 64 --requests "$warm" --seed 10
run put64 --op put --inflight 64 --requests 20000 --seed 11
run put256 --op put --inflight 256 --requests 30000 --seed 12
run get256 --op get --inflight 256 --requests 30000 --seed 13
for i in 1 2 3; do curl -s "http://127.0.0.9$i:17390/metrics" >"$out/metrics-n$i.txt"; done
echo "node-load: results in $out"
