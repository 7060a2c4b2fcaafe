#!/usr/bin/env bash
# Compares `netcore bench` with `redis-benchmark` against the same redis-server on loopback:
# inline PING, same connections, pipeline and request count. Prints both throughputs, their
# p50 latencies and the ratio. Installs Debian's redis-server and redis-tools if missing,
# starts its own redis-server on a free loopback port and stops it (by PID) on exit.
#
#   bench/compare_redis.sh                     # 50 connections, pipeline 1, 200000 requests
#   CONNS=10 PIPELINE=16 REQUESTS=500000 ROUNDS=3 bench/compare_redis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-50}
PIPELINE=${PIPELINE:-1}
REQUESTS=${REQUESTS:-200000}
ROUNDS=${ROUNDS:-3}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
cargo build --release --quiet
netcore=target/release/netcore

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
workdir=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$workdir" \
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
     "PING inline, $CONNS connections, pipeline $PIPELINE, $REQUESTS requests, best of $ROUNDS rounds"

# CPU seconds (user + sys) each tool spent, when /usr/bin/time is there: on a small machine
# the load generator shares the cores with redis-server, so its own cost shows in its figure.
cpu() { # file written by /usr/bin/time -f '%U %S'
    [ -s "$1" ] && awk '{ printf "%.2f", $1 + $2 }' "$1" || printf 'n/a'
}
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f '%U %S' -o); fi
run_timed() { # outfile command...
    local out=$1; shift
    if [ ${#timer[@]} -gt 0 ]; then "${timer[@]}" "$out" "$@"; else "$@"; fi
}

best_redis=0 best_redis_p50=0 best_netcore=0 best_netcore_p50=0
for round in $(seq 1 "$ROUNDS"); do
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
    line=$(run_timed "$workdir/rb.time" redis-benchmark -h 127.0.0.1 -p "$port" -t ping_inline -n "$REQUESTS" -c "$CONNS" \
        -P "$PIPELINE" --csv | grep PING_INLINE)
    rps=$(echo "$line" | cut -d, -f2 | tr -d '"')
    p50=$(echo "$line" | cut -d, -f5 | tr -d '"')
    json=$(run_timed "$workdir/nc.time" "$netcore" bench 127.0.0.1 "$port" --conns "$CONNS" --pipeline "$PIPELINE" \
        --requests "$REQUESTS" --request PING --expect +PONG --json --quiet)
    n_rps=$(echo "$json" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["requests_per_sec"])')
    n_p50=$(echo "$json" | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["latency_ms"]["p50"])')
    printf '  round %d: redis-benchmark %12.2f req/s (p50 %s ms, cpu %s s)   netcore bench %12.2f req/s (p50 %s ms, cpu %s s)\n' \
        "$round" "$rps" "$p50" "$(cpu "$workdir/rb.time")" "$n_rps" "$n_p50" "$(cpu "$workdir/nc.time")"
    if python3 -c "import sys; sys.exit(not $rps > $best_redis)"; then best_redis=$rps best_redis_p50=$p50; fi
    if python3 -c "import sys; sys.exit(not $n_rps > $best_netcore)"; then best_netcore=$n_rps best_netcore_p50=$n_p50; fi
done

ratio=$(python3 -c "print('%.3f' % ($best_netcore / $best_redis))")
echo "redis-benchmark: $best_redis requests/s (p50 $best_redis_p50 ms)"
echo "netcore bench:   $best_netcore requests/s (p50 $best_netcore_p50 ms)"
echo "ratio netcore/redis-benchmark: $ratio"
