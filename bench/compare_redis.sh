#!/usr/bin/env bash
# Compares `netcore bench` with `redis-benchmark` against the same redis-server on loopback:
# inline PING, same connections, pipeline and request count. Prints both throughputs, their
# p50 latencies, the CPU each tool used (in cores) and the ratio of the medians. Installs
# Debian's redis-server and redis-tools if missing, starts its own redis-server on a free
# loopback port and stops it (by PID) on exit.
#
# By default (PIN=1, 2 cores or more, taskset present) redis-server runs on CPU 0 and both
# load generators on the last CPU, so neither tool takes CPU from the server it measures.
# Even so, when a tool uses about a whole core (>= 0.9) its figure is its own limit rather
# than redis's; the script says so. On 2 cores that is redis-benchmark at pipeline 1 (it spends
# about twice netcore bench's CPU per request), which is why the two disagree there.
#
#   bench/compare_redis.sh                     # 50 connections, pipeline 1, 200000 requests
#   CONNS=10 PIPELINE=16 REQUESTS=500000 ROUNDS=3 PIN=0 bench/compare_redis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-50}
PIPELINE=${PIPELINE:-1}
REQUESTS=${REQUESTS:-200000}
ROUNDS=${ROUNDS:-3}
PIN=${PIN:-1}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
cargo build --release --quiet
netcore=target/release/netcore

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
workdir=$(mktemp -d)
server_pin=() gen_pin=()
ncpu=$(nproc)
if [ "$PIN" = 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
    server_pin=(taskset -c 0) gen_pin=(taskset -c $((ncpu - 1)))
fi
"${server_pin[@]}" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$workdir" \
    --logfile "$workdir/redis.log" &
redis_pid=$!
cleanup() { kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$workdir"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
    if [ "$("$netcore" send --timeout 1 127.0.0.1 "$port" PING 2>/dev/null)" = "+PONG" ]; then break; fi
    sleep 0.05
done
[ "$("$netcore" send --timeout 1 127.0.0.1 "$port" PING)" = "+PONG" ] || { echo "redis-server did not start" >&2; exit 1; }

echo "redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port;" \
     "PING inline, $CONNS connections, pipeline $PIPELINE, $REQUESTS requests, median of $ROUNDS rounds;" \
     "$([ ${#server_pin[@]} -gt 0 ] && echo "redis on CPU 0, generators on CPU $((ncpu - 1))" || echo "unpinned")"

# CPU each tool used, in cores (user + sys seconds per wall second, measured with Python's
# os.wait4): a tool near 1.0 is limited by its own core, not by the server.
run_timed() { # outfile command... -> stdout of the command; "cores" written to outfile
    local out=$1; shift
    python3 - "$out" "$@" <<'PY'
import os, subprocess, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(argv)
_, status, ru = os.wait4(p.pid, 0)
with open(out, "w") as f:
    f.write("%.2f" % ((ru.ru_utime + ru.ru_stime) / (time.monotonic() - t0)))
sys.exit(os.waitstatus_to_exitcode(status))
PY
}
cpu() { cat "$1" 2>/dev/null || printf 'n/a'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$workdir/rb" ; : >"$workdir/nb"
for round in $(seq 1 "$ROUNDS"); do
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
    line=$(run_timed "$workdir/rb.time" "${gen_pin[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t ping_inline -n "$REQUESTS" -c "$CONNS" \
        -P "$PIPELINE" --csv | grep PING_INLINE)
    rps=$(echo "$line" | cut -d, -f2 | tr -d '"')
    p50=$(echo "$line" | cut -d, -f5 | tr -d '"')
    json=$(run_timed "$workdir/nc.time" "${gen_pin[@]}" "$netcore" bench 127.0.0.1 "$port" --conns "$CONNS" --pipeline "$PIPELINE" \
        --requests "$REQUESTS" --request PING --expect +PONG --json --quiet)
    n_rps=$(echo "$json" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["requests_per_sec"])')
    n_p50=$(echo "$json" | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["latency_ms"]["p50"])')
    printf '  round %d: redis-benchmark %12.2f req/s (p50 %s ms, %s cores)   netcore bench %12.2f req/s (p50 %s ms, %s cores)\n' \
        "$round" "$rps" "$p50" "$(cpu "$workdir/rb.time")" "$n_rps" "$n_p50" "$(cpu "$workdir/nc.time")"
    echo "$rps $p50 $(cpu "$workdir/rb.time")" >>"$workdir/rb"
    echo "$n_rps $n_p50 $(cpu "$workdir/nc.time")" >>"$workdir/nb"
done

col() { cut -d' ' -f"$2" "$1" | median; }
r_rps=$(col "$workdir/rb" 1) r_p50=$(col "$workdir/rb" 2) r_cpu=$(col "$workdir/rb" 3)
n_rps=$(col "$workdir/nb" 1) n_p50=$(col "$workdir/nb" 2) n_cpu=$(col "$workdir/nb" 3)
echo "redis-benchmark: $r_rps requests/s (p50 $r_p50 ms, $r_cpu cores)"
echo "netcore bench:   $n_rps requests/s (p50 $n_p50 ms, $n_cpu cores)"
python3 - "$r_rps" "$n_rps" "$r_cpu" "$n_cpu" <<'PY'
import sys
r, n, rc, nc = (float(x) if x != "n/a" else 0.0 for x in sys.argv[1:])
ratio = n / r
print(f"ratio netcore bench / redis-benchmark: {ratio:.3f} ({'within' if abs(ratio - 1) <= 0.10 else 'NOT within'} 10%)")
for name, c in (("redis-benchmark", rc), ("netcore bench", nc)):
    if c >= 0.9:
        print(f"note: {name} used {c:.2f} cores: its figure is limited by its own CPU, not by redis-server")
PY
