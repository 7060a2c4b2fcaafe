#!/usr/bin/env python3
"""socket.sendfile of a large file over loopback TCP: netcore.socket against the stdlib socket.

One receiver process (the stdlib's socket, pinned to CPU 0) drains each connection and answers
one byte when the stream ends; the sender (this process, on the last CPU) times
``sock.sendfile(file)`` from connect to that answer. Each round sends the file once with each
implementation, in alternating order; the summary is the median of the per-round throughput
ratios netcore / stdlib (target >= 0.95). Both use sendfile(2) for a regular file.

    python bench/socket_sendfile.py                # a 1 GiB file, 5 rounds
    python bench/socket_sendfile.py --quick        # 256 MiB, 3 rounds
    python bench/socket_sendfile.py --size-mib 2048 --rounds 9

The file is written once into a temporary directory (deleted at the end) and read once before
timing, so both implementations send it from the page cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket as stdsocket
import statistics
import subprocess
import sys
import tempfile
import time

RECEIVER_LIFETIME = 900.0


def receive() -> None:
    """Accepts connections one at a time, drains each, answers b"k" at its end."""
    srv = stdsocket.create_server(("127.0.0.1", 0))
    print(srv.getsockname()[1], flush=True)
    buf = bytearray(1 << 20)
    deadline = time.monotonic() + RECEIVER_LIFETIME
    srv.settimeout(5)
    while time.monotonic() < deadline:
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            if sys.stdin.closed or os.getppid() == 1:
                return
            continue
        with conn:
            total = 0
            while True:
                n = conn.recv_into(buf)
                if not n:
                    break
                total += n
            if total == 0:
                return  # the sender's "stop" connection
            conn.sendall(b"k")


def send_once(mod, port: int, path: str) -> tuple[float, float]:
    """(seconds from connect to the receiver's answer, sender CPU seconds) for one sendfile of
    the whole file. On a loaded machine the wall time measures the scheduler; the CPU time (the
    kernel's copying, charged to the sender) hardly moves."""
    with open(path, "rb") as f:
        cpu = time.process_time()
        start = time.perf_counter()
        sock = mod.create_connection(("127.0.0.1", port))
        with sock:
            sent = sock.sendfile(f)
            sock.shutdown(stdsocket.SHUT_WR)
            if sock.recv(1) != b"k":
                raise ConnectionError("receiver did not answer")
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    if sent != os.path.getsize(path):
        raise RuntimeError(f"sent {sent} of {os.path.getsize(path)} bytes")
    return elapsed, cpu


def make_file(directory: str, size: int) -> str:
    path = os.path.join(directory, "sendfile.bin")
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)
    with open(path, "rb") as f:  # into the page cache
        while f.read(8 << 20):
            pass
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (default 1024)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--quick", action="store_true", help="256 MiB, 3 rounds")
    ap.add_argument("--no-pin", action="store_true", help="do not pin receiver and sender to separate CPUs")
    args = ap.parse_args()
    if args.receive:
        receive()
        return 0
    if args.quick:
        args.size_mib, args.rounds = 256, 3
    if not 1 <= args.size_mib <= 8192 or not 1 <= args.rounds <= 50:
        ap.error("--size-mib must be 1-8192 and --rounds 1-50")
    import netcore

    ncpu = os.cpu_count() or 1
    prefix: list[str] = []
    if not args.no_pin and ncpu >= 2 and shutil.which("taskset") and hasattr(os, "sched_setaffinity"):
        prefix = ["taskset", "-c", "0"]
        os.sched_setaffinity(0, {ncpu - 1})
        print(f"receiver pinned to CPU 0, sender to CPU {ncpu - 1}")
    impls = {"netcore": netcore, "stdlib": stdsocket}
    receiver = subprocess.Popen([*prefix, sys.executable, os.path.abspath(__file__), "--receive"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    port = int(receiver.stdout.readline())
    size = args.size_mib << 20
    times: dict[str, list[float]] = {name: [] for name in impls}
    cpus: dict[str, list[float]] = {name: [] for name in impls}
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="netcore-sendfile-") as tmp:
        path = make_file(tmp, size)
        try:
            send_once(stdsocket, port, path)  # warm-up
            for rnd in range(args.rounds):
                order = list(impls) if rnd % 2 == 0 else list(impls)[::-1]
                both = {name: send_once(impls[name], port, path) for name in order}
                got = {name: t for name, (t, _) in both.items()}
                cpu = {name: c for name, (_, c) in both.items()}
                for name in impls:
                    times[name].append(got[name])
                    cpus[name].append(cpu[name])
                ratios.append(got["stdlib"] / got["netcore"])
                cpu_ratios.append(cpu["stdlib"] / cpu["netcore"])
                print(
                    f"round {rnd + 1:2d}  netcore {size / got['netcore'] / 2**30:6.2f} GiB/s ({cpu['netcore']:.3f} s CPU)  "
                    f"stdlib {size / got['stdlib'] / 2**30:6.2f} GiB/s ({cpu['stdlib']:.3f} s CPU)  ratio {ratios[-1]:.3f}",
                    flush=True,
                )
        finally:
            try:
                stdsocket.create_connection(("127.0.0.1", port)).close()  # tells the receiver to stop
            except OSError:
                pass
            try:
                receiver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                receiver.kill()
                receiver.wait()
    nc, std = statistics.median(times["netcore"]), statistics.median(times["stdlib"])
    print(f"\nsendfile of {args.size_mib} MiB over loopback TCP, {args.rounds} interleaved rounds")
    print(f"netcore {size / nc / 2**30:.2f} GiB/s ({nc:.3f} s), stdlib {size / std / 2**30:.2f} GiB/s ({std:.3f} s)")
    nc_cpu, std_cpu = statistics.median(cpus["netcore"]), statistics.median(cpus["stdlib"])
    print(f"sender CPU per file: netcore {nc_cpu:.3f} s, stdlib {std_cpu:.3f} s")
    print(f"median of per-round throughput ratios netcore / stdlib: {statistics.median(ratios):.2f}x (target >= 0.95x)")
    print(f"median of per-round CPU ratios stdlib / netcore: {statistics.median(cpu_ratios):.2f}x (higher: netcore cheaper)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
