#!/usr/bin/env python3
"""Deployment benchmark (issue 16, docs/deploy.md): netcore behind a load balancer.

    python3 bench/deploy_bench.py            # 5 rounds of 3 s per run
    python3 bench/deploy_bench.py --quick    # 3 rounds of 1.5 s

Rows, each a ratio against a peer measured in the same run, interleaved (the order flips
every round), medians of per-round ratios:

  reuse-port   2 `netcore serve --reuse-port --workers 1` processes on one port against one
               process with `--workers 2`, at 50 x 1 and 50 x 16 (`ping` -> `pong`).
  haproxy      HAProxy (TCP mode, one thread) in front of one netcore process against the
               same HAProxy in front of redis-server, 50 x 1 and 50 x 16, inline PING ->
               +PONG for redis and `ping` -> `pong` for netcore: the balancer's work per
               byte is the same on both sides.
  proxy-v2     HAProxy with `send-proxy-v2` to a netcore listener with `--proxy-protocol`
               against the same without, 50 x 1: the cost of the PROXY header (read once
               per connection, so it should vanish in a run of persistent connections).

Load: `netcore bench` (every reply checked with --expect). Pinning on 2+ CPUs: servers and
HAProxy on all CPUs but the last, the load generator on the last (`taskset`). Every process
started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
NETCORE = ROOT / "target" / "release" / "netcore"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Procs:
    """Processes started here, stopped by PID."""

    def __init__(self) -> None:
        self.procs: List[subprocess.Popen] = []

    def start(self, argv: List[str]) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()


def netcore_serve(procs: Procs, pin: List[str], port: int, *extra: str) -> None:
    procs.start([*pin, str(NETCORE), "serve", "--listen", f"127.0.0.1:{port}", *extra])


HAPROXY = """
global
    nbthread 1
    maxconn 4000
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
{sections}
"""

SECTION = """
frontend f{name}
    bind 127.0.0.1:{front}
    default_backend b{name}
backend b{name}
    server s1 127.0.0.1:{back}{extra}
"""


def haproxy(procs: Procs, pin: List[str], tmp: Path, sections: List[Tuple[str, int, int, str]]) -> None:
    text = HAPROXY.format(
        sections="".join(SECTION.format(name=n, front=f, back=b, extra=e) for n, f, b, e in sections)
    )
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(text)
    procs.start([*pin, "haproxy", "-db", "-f", str(cfg)])
    for _, front, _, _ in sections:
        wait_port(front)


def bench(gen: List[str], port: int, pipeline: int, seconds: float, request: str, expect: str, crlf: bool) -> float:
    argv = [*gen, str(NETCORE), "bench", "127.0.0.1", str(port), "-c", "50", "-P", str(pipeline), "-d", str(seconds),
            "--request", request, "--expect", expect, "--json", "-q"]
    if crlf:
        argv.append("--crlf")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"bench failed: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    errors = result.get("errors", 0)
    if errors:
        raise RuntimeError(f"{errors} wrong or missing replies: {out.stdout}")
    return float(result["requests_per_sec"])


def rows(args: argparse.Namespace) -> List[Tuple[str, str, float, float, float]]:
    cpus = os.cpu_count() or 1
    pin_server: List[str] = []
    pin_gen: List[str] = []
    if cpus >= 2 and not args.no_pin and shutil.which("taskset"):
        pin_server = ["taskset", "-c", f"0-{cpus - 2}" if cpus > 2 else "0"]
        pin_gen = ["taskset", "-c", str(cpus - 1)]
    out = []
    procs = Procs()
    tmp = Path(tempfile.mkdtemp(prefix="deploy-bench-"))
    try:
        # Row 1: two reuse-port processes against one process with two workers.
        shared, single = free_port(), free_port()
        for _ in range(2):
            netcore_serve(procs, pin_server, shared, "--reuse-port", "--workers", "1")
        netcore_serve(procs, pin_server, single, "--workers", "2")
        wait_port(shared)
        wait_port(single)
        for pipeline in (1, 16):
            out.append(compare(f"2 procs --reuse-port vs 1 proc 2 workers, 50x{pipeline}", args,
                               lambda: bench(pin_gen, shared, pipeline, args.seconds, "ping", "pong", False),
                               lambda: bench(pin_gen, single, pipeline, args.seconds, "ping", "pong", False)))
        procs.stop_all()

        # Rows 2 and 3: HAProxy in front of netcore, redis-server and netcore with PROXY v2.
        nc, nc_proxy, redis = free_port(), free_port(), free_port()
        netcore_serve(procs, pin_server, nc, "--workers", "1")
        netcore_serve(procs, pin_server, nc_proxy, "--workers", "1", "--proxy-protocol")
        procs.start([*pin_server, "redis-server", "--port", str(redis), "--save", "", "--appendonly", "no",
                     "--bind", "127.0.0.1"])
        for p in (nc, nc_proxy, redis):
            wait_port(p)
        f_nc, f_proxy, f_redis = free_port(), free_port(), free_port()
        haproxy(procs, pin_server, tmp, [("nc", f_nc, nc, ""), ("proxy", f_proxy, nc_proxy, " send-proxy-v2"),
                                         ("redis", f_redis, redis, "")])
        for pipeline in (1, 16):
            out.append(compare(f"haproxy: netcore vs redis-server, 50x{pipeline}", args,
                               lambda: bench(pin_gen, f_nc, pipeline, args.seconds, "ping", "pong", False),
                               lambda: bench(pin_gen, f_redis, pipeline, args.seconds, "PING", "+PONG", True)))
        out.append(compare("haproxy: netcore with PROXY v2 vs without, 50x1", args,
                           lambda: bench(pin_gen, f_proxy, 1, args.seconds, "ping", "pong", False),
                           lambda: bench(pin_gen, f_nc, 1, args.seconds, "ping", "pong", False)))
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def compare(label: str, args: argparse.Namespace, ours, peer) -> Tuple[str, str, float, float, float]:
    """Interleaved rounds (the order flips each round); medians and the median per-round ratio."""
    a: List[float] = []
    b: List[float] = []
    for r in range(args.rounds):
        if r % 2 == 0:
            a.append(ours())
            b.append(peer())
        else:
            b.append(peer())
            a.append(ours())
        log(f"  {label}: round {r + 1}: {a[-1]:.0f} vs {b[-1]:.0f} req/s")
    ratio = statistics.median(x / y for x, y in zip(a, b))
    return label, f"{args.rounds} rounds", statistics.median(a), statistics.median(b), ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--quick", action="store_true", help="3 rounds of 1.5 s")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.seconds = 3, 1.5
    missing = [t for t in ("haproxy", "redis-server") if shutil.which(t) is None]
    if missing:
        log(f"missing: {', '.join(missing)} (apt-get install haproxy redis-server)")
        return 2
    if not NETCORE.exists():
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    table = rows(args)
    print(f"\n| row | netcore req/s | peer req/s | ratio (median of rounds) |\n|---|---:|---:|---:|")
    for label, _, ours, peer, ratio in table:
        print(f"| {label} | {ours:,.0f} | {peer:,.0f} | {ratio:.3f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps([dict(zip(("row", "rounds", "ours", "peer", "ratio"), r)) for r in table]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
