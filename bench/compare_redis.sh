#!/usr/bin/env bash
# Issue 5's check: `netcore bench` against `redis-benchmark` on the same redis-server
# (started on 127.0.0.1 and stopped by its PID), 50 connections, pipeline 1 and 16, redis
# pinned to CPU 0 and the tools, one at a time, to the last CPU. Two workloads:
#   EVAL of a 10,000-step Lua loop: server-bound (redis ~40 us per request, several times
#        either tool's cost), so both tools measure redis and should agree; run by each tool
#        alone and by both at once (25 connections each: the same server moments for both);
#   inline PING: redis needs less CPU per request than either tool, so a tool at about a
#        whole core measures itself; the table says "tool-bound" there.
# Prints each run as it ends, then medians of interleaved rounds: req/s, p50 and p99 of each
# tool, their ratio, each tool's and redis's CPU in cores, and a verdict. The logic lives in
# bench/redis_compare.py (bench/engine_bench.py's redis-tools section runs the same); options
# are passed through:
#
#   flock /tmp/netcore-bench.lock bench/compare_redis.sh          # ~1-2 minutes
#   bench/compare_redis.sh --rounds 5 --no-pin --workloads EVAL --pipelines 1 --json out.json
#
# redis-server and redis-tools are installed with apt-get when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin netcore
exec python3 bench/redis_compare.py "$@"
