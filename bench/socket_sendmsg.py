#!/usr/bin/env python3
"""sendmsg/recvmsg ping-pong: netcore.socket against the stdlib socket, in the same run.

Two shapes, each over a connection whose two ends use the implementation under test:

- ``tcp``: loopback TCP, the client sends with ``sendmsg([msg])`` and reads with ``recvmsg``,
  the echo server does the same (1 B and 16 KiB messages);
- ``fds``: an AF_UNIX stream pair, each message carries one descriptor (``SCM_RIGHTS``) both
  ways, received with ``recvmsg(n, CMSG_SPACE(4))`` (and closed).

Rounds alternate the order (netcore first, then stdlib first); each round gives one ratio
netcore / stdlib, and the summary is the median of those per-round ratios (target >= 0.95).
The echo servers run on CPU 0 and the client on the last CPU (``taskset``), both alike.

    python bench/socket_sendmsg.py                  # 9 rounds of 0.5 s per shape and size
    python bench/socket_sendmsg.py --quick          # 3 rounds of 0.2 s
    python bench/socket_sendmsg.py --rounds 15 --seconds 1

Only loopback and socket pairs are used; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import array
import os
import select
import shutil
import statistics
import subprocess
import sys
import time

MAX_ROUND_TRIPS = 5_000_000
SERVER_LIFETIME = 600.0
SHAPES = (("tcp", 1), ("tcp", 16 * 1024), ("fds", 1))


def load(impl: str):
    if impl == "netcore":
        import netcore

        return netcore
    import socket

    return socket


def serve(impl: str) -> None:
    """TCP echo server with recvmsg/sendmsg: prints its port; exits when stdin closes."""
    mod = load(impl)
    server = mod.socket(mod.AF_INET, mod.SOCK_STREAM)
    server.setsockopt(mod.SOL_SOCKET, mod.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    print(server.getsockname()[1], flush=True)
    deadline = time.monotonic() + SERVER_LIFETIME
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server, sys.stdin], [], [], 1.0)
        if sys.stdin in ready:
            return
        if server not in ready:
            continue
        conn, _ = server.accept()
        conn.setsockopt(mod.IPPROTO_TCP, mod.TCP_NODELAY, 1)
        with conn:
            while True:
                data = conn.recvmsg(65536)[0]
                if not data:
                    break
                view = memoryview(data)
                while view:
                    view = view[conn.sendmsg([view]) :]


def tcp_run(mod, port: int, size: int, seconds: float) -> tuple[float, float]:
    """(round trips per second, client CPU µs per round trip) over one TCP connection, client
    side with sendmsg/recvmsg. The CPU figure hardly moves when other programs load the
    machine, unlike the rate (which then measures the scheduler)."""
    msg = b"x" * size
    conn = mod.create_connection(("127.0.0.1", port))
    conn.setsockopt(mod.IPPROTO_TCP, mod.TCP_NODELAY, 1)
    sendmsg, recvmsg = conn.sendmsg, conn.recvmsg
    count = 0
    with conn:
        batch = 200 if size < 1024 else 50
        cpu = time.process_time()
        start = now = time.perf_counter()
        end = start + seconds
        while now < end and count < MAX_ROUND_TRIPS:
            for _ in range(batch):
                sendmsg([msg])
                got = 0
                while got < size:
                    chunk = recvmsg(65536)[0]
                    if not chunk:
                        raise ConnectionError("echo server closed the connection")
                    got += len(chunk)
            count += batch
            now = time.perf_counter()
        cpu = time.process_time() - cpu
    return count / (now - start), cpu / count * 1e6


def fds_run(mod, seconds: float) -> tuple[float, float]:
    """(round trips per second, CPU µs per round trip of both ends) passing one descriptor each
    way over an AF_UNIX pair (the echo side is a thread of this process, same implementation)."""
    import threading

    a, b = mod.socketpair(mod.AF_UNIX, mod.SOCK_STREAM)
    space = mod.CMSG_SPACE(4)
    r, w = os.pipe()
    item = [(mod.SOL_SOCKET, mod.SCM_RIGHTS, array.array("i", [r]))]

    def echo():
        while True:
            data, anc, _, _ = b.recvmsg(16, space)
            if not data:
                return
            for _, _, raw in anc:
                for fd in array.array("i", raw):
                    os.close(fd)
            b.sendmsg([data], item)

    t = threading.Thread(target=echo)
    t.start()
    count = 0
    try:
        cpu = time.process_time()
        start = now = time.perf_counter()
        end = start + seconds
        while now < end and count < MAX_ROUND_TRIPS:
            for _ in range(100):
                a.sendmsg([b"f"], item)
                _, anc, _, _ = a.recvmsg(16, space)
                for _, _, raw in anc:
                    for fd in array.array("i", raw):
                        os.close(fd)
            count += 100
            now = time.perf_counter()
        cpu = time.process_time() - cpu
    finally:
        a.shutdown(mod.SHUT_WR)
        t.join(10)
        a.close()
        b.close()
        os.close(r)
        os.close(w)
    return count / (now - start), cpu / count * 1e6


def start_server(impl: str, prefix: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [*prefix, sys.executable, os.path.abspath(__file__), "--serve", impl], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip():
        proc.kill()
        raise SystemExit(f"echo server ({impl}) did not start")
    return proc, int(line)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", choices=["netcore", "stdlib"], help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=9, help="rounds per shape (default 9)")
    ap.add_argument("--seconds", type=float, default=0.5, help="length of one run (default 0.5)")
    ap.add_argument("--quick", action="store_true", help="3 rounds of 0.2 s")
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers and client to separate CPUs")
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.quick:
        args.rounds, args.seconds = 3, 0.2
    if not 1 <= args.rounds <= 100 or not 0.05 <= args.seconds <= 30:
        ap.error("--rounds must be 1-100 and --seconds 0.05-30")
    ncpu = os.cpu_count() or 1
    prefix: list[str] = []
    if not args.no_pin and ncpu >= 2 and shutil.which("taskset") and hasattr(os, "sched_setaffinity"):
        prefix = ["taskset", "-c", "0"]
        os.sched_setaffinity(0, {ncpu - 1})
        print(f"echo servers pinned to CPU 0, client to CPU {ncpu - 1}")
    impls = ("netcore", "stdlib")
    servers = {impl: start_server(impl, prefix) for impl in impls}
    rates: dict[tuple[str, int, str], list[float]] = {}
    ratios: dict[tuple[str, int], list[float]] = {}
    cpu_ratios: dict[tuple[str, int], list[float]] = {}
    cpus: dict[tuple[str, int, str], list[float]] = {}
    try:
        for rnd in range(args.rounds):
            order = impls if rnd % 2 == 0 else impls[::-1]
            for shape, size in SHAPES:
                got, us = {}, {}
                for impl in order:
                    mod = load(impl)
                    if shape == "tcp":
                        got[impl], us[impl] = tcp_run(mod, servers[impl][1], size, args.seconds)
                    else:
                        got[impl], us[impl] = fds_run(mod, args.seconds)
                    rates.setdefault((shape, size, impl), []).append(got[impl])
                    cpus.setdefault((shape, size, impl), []).append(us[impl])
                ratios.setdefault((shape, size), []).append(got["netcore"] / got["stdlib"])
                cpu_ratios.setdefault((shape, size), []).append(us["stdlib"] / us["netcore"])
                print(
                    f"round {rnd + 1:2d}  {shape} {size:>6} B  netcore {got['netcore']:>9,.0f} ({us['netcore']:6.2f} us)  "
                    f"stdlib {got['stdlib']:>9,.0f} ({us['stdlib']:6.2f} us) round trips/s  ratio {got['netcore'] / got['stdlib']:.3f}",
                    flush=True,
                )
    finally:
        for proc, _ in servers.values():
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(f"\nsendmsg/recvmsg ping-pong, {args.rounds} interleaved rounds of {args.seconds:g} s")
    print(
        f"{'shape':>12} | {'netcore rt/s':>12} | {'stdlib rt/s':>12} | {'ratio':>6} || "
        f"{'netcore CPU':>11} | {'stdlib CPU':>10} | {'ratio':>6}   (ratios: medians of per-round ratios)"
    )
    worst = float("inf")
    for shape, size in SHAPES:
        label = f"{shape} {size} B" if size < 1024 else f"{shape} {size // 1024} KiB"
        nc = statistics.median(rates[(shape, size, "netcore")])
        std = statistics.median(rates[(shape, size, "stdlib")])
        ratio = statistics.median(ratios[(shape, size)])
        nc_us = statistics.median(cpus[(shape, size, "netcore")])
        std_us = statistics.median(cpus[(shape, size, "stdlib")])
        cpu_ratio = statistics.median(cpu_ratios[(shape, size)])
        worst = min(worst, ratio)
        print(
            f"{label:>12} | {nc:>12,.0f} | {std:>12,.0f} | {ratio:>5.2f}x || "
            f"{nc_us:>8.2f} us | {std_us:>7.2f} us | {cpu_ratio:>5.2f}x"
        )
    print(f"\nlowest round-trip ratio {worst:.2f}x (target >= 0.95x); CPU ratio is stdlib / netcore (higher: netcore cheaper)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
