#!/usr/bin/env bash
# The engine's quick benchmark: netcore's command server against the minimal tokio floor
# (bench/floor.rs), 50 connections, 1 and 16 requests in flight each, runs interleaved,
# medians printed with the ratio. Loopback only; every server is started here and stopped by
# its own PID. Usage: bench/run.sh [SECONDS_PER_RUN] [RUNS]
# (The full comparison with redis, memcached, uvloop and socketserver is a separate task.)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
runs=${2:-3}

cargo build --release --quiet --bin netcore --example loadgen --example floor
bin=target/release
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

"$bin/netcore" serve --service command --listen 127.0.0.1:0 2>"$tmp/netcore.err" &
pids+=($!)
"$bin/examples/floor" >"$tmp/floor.out" &
pids+=($!)
for _ in $(seq 100); do
    [ -s "$tmp/floor.out" ] && grep -q serving "$tmp/netcore.err" && break
    sleep 0.1
done
netcore_addr=$(sed -n 's/^netcore: serving .* on tcp //p' "$tmp/netcore.err" | head -n1)
floor_addr=$(head -n1 "$tmp/floor.out")
echo "netcore command server: $netcore_addr   floor: $floor_addr   ($(nproc) cores, shared with the load generator)"

measure() { # addr depth -> rps p99
    "$bin/examples/loadgen" "$1" --conns 50 --depth "$2" --secs "$secs" --request os \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["rps"], d["p99_us"], d["client_cpu"])'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for depth in 1 16; do
    : >"$tmp/n" ; : >"$tmp/f"
    for _ in $(seq "$runs"); do
        measure "$netcore_addr" "$depth" >>"$tmp/n"
        measure "$floor_addr" "$depth" >>"$tmp/f"
    done
    n_rps=$(cut -d' ' -f1 "$tmp/n" | median); f_rps=$(cut -d' ' -f1 "$tmp/f" | median)
    n_p99=$(cut -d' ' -f2 "$tmp/n" | median); f_p99=$(cut -d' ' -f2 "$tmp/f" | median)
    cpu=$(cut -d' ' -f3 "$tmp/n" | median)
    python3 - "$depth" "$n_rps" "$f_rps" "$n_p99" "$f_p99" "$cpu" <<'PY'
import sys
depth, n, f, np99, fp99, cpu = sys.argv[1:]
n, f = float(n), float(f)
print(f"depth {depth:>2}: netcore {n:>10,.0f} req/s (p99 {np99} us)   floor {f:>10,.0f} req/s (p99 {fp99} us)"
      f"   ratio {n / f:.2f}x   load generator CPU {float(cpu):.2f} cores")
PY
done

python3 bench/idle_memory.py 10000 netcore
python3 bench/idle_memory.py 10000 floor
