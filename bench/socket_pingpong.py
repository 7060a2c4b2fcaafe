#!/usr/bin/env python3
"""Ping-pong round trips per second over loopback TCP: netcore.socket against the stdlib socket.

Both ends of each connection use the implementation under test: the echo server runs in its own
process (one per implementation, started once), the client runs here. Runs are interleaved
(netcore, stdlib, stdlib, netcore, ...) so drift on a busy machine hits both alike; the summary
gives the median of the repeats and the median of the per-repeat ratios netcore / stdlib
(target >= 0.95).

    python bench/socket_pingpong.py                 # 1 B and 16 KiB, 9 repeats of 0.5 s each
    python bench/socket_pingpong.py --repeats 9 --seconds 2
    python bench/socket_pingpong.py --no-pin        # let the scheduler place both processes

On a machine with 2 or more CPUs the echo servers run on CPU 0 and the client on the last CPU,
for both implementations alike, so scheduler migrations do not add to the run-to-run noise.

Only 127.0.0.1 is used; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

SIZES = (1, 16 * 1024)
MAX_ROUND_TRIPS = 5_000_000
SERVER_LIFETIME = 600.0


def load(impl: str):
    if impl == "netcore":
        import netcore

        return netcore
    import socket

    return socket


def serve(impl: str) -> None:
    """Echo server: prints its port, echoes each connection until EOF, exits when stdin closes."""
    sock_mod = load(impl)
    import select

    server = sock_mod.socket(sock_mod.AF_INET, sock_mod.SOCK_STREAM)
    server.setsockopt(sock_mod.SOL_SOCKET, sock_mod.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    print(server.getsockname()[1], flush=True)
    deadline = time.monotonic() + SERVER_LIFETIME
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server, sys.stdin], [], [], 1.0)
        if sys.stdin in ready:
            return  # the parent closed our stdin: done
        if server not in ready:
            continue
        conn, _ = server.accept()
        conn.setsockopt(sock_mod.IPPROTO_TCP, sock_mod.TCP_NODELAY, 1)
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)


def client_run(sock_mod, port: int, size: int, seconds: float) -> tuple[float, float]:
    """(round trips per second, client CPU microseconds per round trip) for one connection.

    The CPU figure (user + system time of this process) hardly moves when other programs load
    the machine, unlike the wall-clock rate, so it shows the wrapper's own cost more steadily.
    """
    msg = b"x" * size
    conn = sock_mod.create_connection(("127.0.0.1", port))
    conn.setsockopt(sock_mod.IPPROTO_TCP, sock_mod.TCP_NODELAY, 1)
    recv = conn.recv
    sendall = conn.sendall
    count = 0
    with conn:
        # Warm up, then time a batch at a time so the clock is read rarely.
        for _ in range(50):
            sendall(msg)
            got = 0
            while got < size:
                got += len(recv(65536))
        batch = 200 if size < 1024 else 50
        cpu_start = time.process_time()
        start = time.perf_counter()
        end = start + seconds
        now = start
        while now < end and count < MAX_ROUND_TRIPS:
            for _ in range(batch):
                sendall(msg)
                got = 0
                while got < size:
                    chunk = recv(65536)
                    if not chunk:
                        raise ConnectionError("echo server closed the connection")
                    got += len(chunk)
            count += batch
            now = time.perf_counter()
        cpu = time.process_time() - cpu_start
    return count / (now - start), cpu / count * 1e6


def pin_cpus(pin: bool) -> tuple[list[str], int | None]:
    """(command prefix for the servers, CPU for this client process) when pinning applies."""
    ncpu = os.cpu_count() or 1
    if not pin or ncpu < 2 or not hasattr(os, "sched_setaffinity"):
        return [], None
    return ["taskset", "-c", "0"], ncpu - 1


def start_server(impl: str, prefix: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [*prefix, sys.executable, os.path.abspath(__file__), "--serve", impl],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
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
    ap.add_argument("--repeats", type=int, default=9, help="runs per implementation and size (default 9)")
    ap.add_argument("--seconds", type=float, default=0.5, help="length of one run (default 0.5)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the servers to CPU 0 and the client to the last CPU")
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if not 1 <= args.repeats <= 100 or not 0.05 <= args.seconds <= 30:
        ap.error("--repeats must be 1-100 and --seconds 0.05-30")

    impls = ("netcore", "stdlib")
    prefix, client_cpu = pin_cpus(not args.no_pin and shutil.which("taskset") is not None)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
        print(f"echo servers pinned to CPU 0, client to CPU {client_cpu}")
    servers = {impl: start_server(impl, prefix) for impl in impls}
    results: dict[tuple[str, int], list[float]] = {(i, s): [] for i in impls for s in SIZES}
    cpu: dict[tuple[str, int], list[float]] = {(i, s): [] for i in impls for s in SIZES}
    try:
        total = args.repeats * len(SIZES) * len(impls)
        done = 0
        for rep in range(args.repeats):
            order = impls if rep % 2 == 0 else impls[::-1]
            for size in SIZES:
                for impl in order:
                    rate, us = client_run(load(impl), servers[impl][1], size, args.seconds)
                    results[(impl, size)].append(rate)
                    cpu[(impl, size)].append(us)
                    done += 1
                    print(
                        f"[{done:3d}/{total}] repeat {rep + 1}  {size:>6} B  {impl:<8} "
                        f"{rate:>10,.0f} round trips/s  {us:6.2f} us CPU/round trip",
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

    print()
    print(f"ping-pong over loopback TCP, median of {args.repeats} interleaved runs of {args.seconds:g} s")
    print(f"{'message':>9} | {'netcore rt/s':>12} | {'stdlib rt/s':>12} | {'ratio':>6} || {'netcore CPU':>11} | {'stdlib CPU':>10} | {'ratio':>6}")
    print(f"{'-' * 9}-+-{'-' * 12}-+-{'-' * 12}-+-{'-' * 6}-++-{'-' * 11}-+-{'-' * 10}-+-{'-' * 6}")
    worst = float("inf")
    for size in SIZES:
        nc = statistics.median(results[("netcore", size)])
        std = statistics.median(results[("stdlib", size)])
        nc_cpu = statistics.median(cpu[("netcore", size)])
        std_cpu = statistics.median(cpu[("stdlib", size)])
        # Runs of one repeat are neighbours in time: their ratio cancels the machine's drift.
        ratio = statistics.median(a / b for a, b in zip(results[("netcore", size)], results[("stdlib", size)]))
        worst = min(worst, ratio)
        label = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        print(
            f"{label:>9} | {nc:>12,.0f} | {std:>12,.0f} | {ratio:>5.2f}x || "
            f"{nc_cpu:>8.2f} us | {std_cpu:>7.2f} us | {std_cpu / nc_cpu:>5.2f}x"
        )
    print(f"\nlowest round-trip ratio {worst:.2f}x (target >= 0.95x); CPU columns: client process time per round trip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
