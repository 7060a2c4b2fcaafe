#!/usr/bin/env python3
"""Busy poll where it could hurt: `netcore serve` with its default (busy poll 50 µs) against
the same with `--busy-poll-us 0`, the load (`netcore bench`, `os`) on the servers' CPU or on
another one, at 1 and 50 connections, 1 in flight each.

    python3 bench/busy_poll_cpus.py [ROUNDS [SECONDS]]     # default 5 rounds of 2 s

With the load on the servers' CPU the spinner and its client share one CPU, as in a one-CPU
container: a spin must not keep the client from running (docs/engine.md, "Busy poll").
Interleaved rounds (the first peer alternates); each ratio is the median of the per-round
ratios, its range in brackets. Every process is started here and stopped by its PID."""
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

NETCORE = str(Path(__file__).resolve().parents[1] / "target" / "release" / "netcore")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(port: int, cpu: str, conns: int, seconds: str) -> float:
    out = subprocess.run(["taskset", "-c", cpu, NETCORE, "bench", "127.0.0.1", str(port), "--request", "os",
                          "-c", str(conns), "-d", seconds, "--json", "-q"],
                         capture_output=True, text=True, check=True, timeout=float(seconds) * 4 + 30)
    return json.loads(out.stdout)["requests_per_sec"]


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = sys.argv[2] if len(sys.argv) > 2 else "2"
    if not Path(NETCORE).exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], check=True, cwd=Path(NETCORE).parents[2])
    ports = {"default": free_port(), "off": free_port()}
    procs = {k: subprocess.Popen(["taskset", "-c", "0", NETCORE, "serve", "--listen", f"127.0.0.1:{p}"]
                                 + (["--busy-poll-us", "0"] if k == "off" else []),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for k, p in ports.items()}
    time.sleep(1.0)
    got: dict = {}
    try:
        for r in range(rounds):
            print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
            for cpu in ("0", "1"):
                for conns in (1, 50):
                    order = ("default", "off") if r % 2 == 0 else ("off", "default")
                    for k in order:
                        got.setdefault((cpu, conns, k), []).append(bench(ports[k], cpu, conns, seconds))
        print("| load on | conns | default (busy poll 50 µs) req/s | busy poll off req/s | default / off |")
        print("|---|---:|---:|---:|---|")
        for cpu in ("0", "1"):
            for conns in (1, 50):
                on, off = got[(cpu, conns, "default")], got[(cpu, conns, "off")]
                ratios = [a / b for a, b in zip(on, off)]
                where = "the servers' CPU" if cpu == "0" else "another CPU"
                print(f"| {where} | {conns} | {statistics.median(on):,.0f} | {statistics.median(off):,.0f} | "
                      f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
