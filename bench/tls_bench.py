#!/usr/bin/env python3
"""TLS benchmark (issue 12): netcore's TLS listener against Debian's redis-server with TLS,
both driven by the same load generator (`netcore bench --tls --json`) in the same run, and
netcore's own TLS against plaintext; `netcore fetch https://` against curl.

    python3 bench/tls_bench.py            # about 4 minutes on 2 cores
    python3 bench/tls_bench.py --quick    # about 1.5 minutes: shorter, fewer rounds

Rows (every peer started here on 127.0.0.1, stopped by its own PID):

  throughput   50 connections x 1 in flight, then 16 pipelined: netcore `command` (`ping`)
               over TLS against redis-server --tls-port (inline PING); netcore over plain
               TCP too, for TLS's CPU cost per request on netcore's side.
  handshakes   `netcore bench --tls --reconnect` (a new TLS connection per request), 8
               connections: handshakes per second, netcore against redis.
  idle         server RSS per idle TLS connection (handshake done), netcore against redis.
  fetch        `netcore fetch https://` of a large file from `openssl s_server -WWW` against
               `curl` on the same server (both to /dev/null through a file; same server, so
               the server's speed limits both alike).

Servers run on CPU 0, the load generator on CPU 1 (`taskset`). Rounds are interleaved (each
peer once per round); tables give medians and ratios are medians of per-round ratios, with
their range. Packages: redis-server, curl, openssl (apt-get when missing, as root).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_bench as eb  # noqa: E402  (its process helpers: cpu_ticks, rss_kib, free_port)

ROOT = Path(__file__).resolve().parents[1]
# NETCORE_BIN: a netcore binary to measure instead of this tree's release build.
NETCORE = Path(os.environ.get("NETCORE_BIN", ROOT / "target/release/netcore"))
HOST = "127.0.0.1"
SERVER_CPU, GEN_CPU = "0", "1"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Server:
    def __init__(self, key: str, argv, request: str, expect: str, tls: bool, pki: Path):
        self.key, self.argv, self.request, self.expect, self.tls, self.pki = key, argv, request, expect, tls, pki
        self.proc = None
        self.port = 0

    def start(self, workdir: Path) -> None:
        self.port = eb.free_port()
        out = open(workdir / f"{self.key}.log", "wb")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + self.argv(self.port), stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.key} exited at start: {(workdir / f'{self.key}.log').read_text()[-400:]}")
            try:
                with self.connect() as s:
                    s.sendall(self.request.encode() + b"\n")
                    got = s.makefile("rb").readline().rstrip(b"\r\n").decode()
                    if got != self.expect:
                        raise RuntimeError(f"{self.key} answered {got!r}, expected {self.expect!r}")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.key} did not answer on port {self.port}")

    def connect(self) -> socket.socket:
        raw = socket.create_connection((HOST, self.port), timeout=20)
        if not self.tls:
            return raw
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.pem"))
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def cpu_s(self) -> float:
        return eb.cpu_ticks(self.proc.pid) / eb.TICK

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def load(server: Server, conns: int, pipeline: int, seconds: float, reconnect: bool = False) -> dict:
    argv = ["taskset", "-c", GEN_CPU, str(NETCORE), "bench", HOST, str(server.port), "--conns", str(conns),
            "--pipeline", str(pipeline), "--duration", str(seconds), "--request", server.request,
            "--expect", server.expect, "--json", "--quiet", "--timeout", "10"]
    if server.tls:
        argv += ["--tls", "--cafile", str(server.pki / "ca.pem")]
    if reconnect:
        argv += ["--reconnect"]
    cpu0 = server.cpu_s()
    done = subprocess.run(argv, capture_output=True, timeout=seconds + 120)
    cpu = server.cpu_s() - cpu0
    try:
        r = json.loads(done.stdout)
    except ValueError:
        raise RuntimeError(f"bench against {server.key} failed: {done.stderr.decode()[-300:]}")
    r["server_cpu_s"] = cpu
    return r


def idle_rss(server: Server, n: int) -> float:
    """Bytes of server RSS per idle connection (TLS: handshake completed), n connections."""
    socks = []
    try:
        time.sleep(0.3)
        before = eb.rss_kib(server.proc.pid)
        for _ in range(n):
            socks.append(server.connect())
        last = socks[-1]
        last.sendall(server.request.encode() + b"\n")
        last.makefile("rb").readline()
        time.sleep(1)
        return (eb.rss_kib(server.proc.pid) - before) * 1024 / n
    finally:
        for s in socks:
            s.close()


def timed(argv) -> float:
    t0 = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return time.monotonic() - t0


def median_ratio(a, b):
    pairs = [x / y for x, y in zip(a, b) if y]
    if not pairs:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(pairs), min(pairs), max(pairs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--idle", type=int, default=None, help="idle connections (default 10000, quick 2000)")
    ap.add_argument("--fetch-mib", type=int, default=None, help="file size for the fetch row (default 1024)")
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 4.0)
    rounds = args.rounds or (3 if args.quick else 5)
    idle_n = args.idle or (2000 if args.quick else 10000)
    fetch_mib = args.fetch_mib or (256 if args.quick else 1024)
    for tool in ("redis-server", "curl", "openssl", "taskset"):
        if not shutil.which(tool):
            log(f"{tool} is missing (apt-get install redis-server curl openssl util-linux)")
            return 2
    if not NETCORE.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    tmp = Path(tempfile.mkdtemp(prefix="tls-bench-"))
    pki = tmp / "pki"
    subprocess.run([str(ROOT / "scripts/make-test-certs"), str(pki)], check=True)
    cert, key, ca = (str(pki / n) for n in ("server.pem", "server.key", "ca.pem"))
    netcore_args = ["--service", "command", "--workers", "1", "--max-conns", str(idle_n + 100), "--idle-timeout", "0"]
    servers = {
        "netcore-tls": Server("netcore-tls", lambda p: [str(NETCORE), "serve", "--listen", f"{HOST}:{p}",
                                                        "--tls-cert", cert, "--tls-key", key, *netcore_args],
                              "ping", "pong", True, pki),
        "redis-tls": Server("redis-tls", lambda p: ["redis-server", "--port", "0", "--tls-port", str(p),
                                                    "--tls-cert-file", cert, "--tls-key-file", key,
                                                    "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
                                                    "--save", "", "--appendonly", "no",
                                                    "--maxclients", str(idle_n + 100)],
                            "PING", "+PONG", True, pki),
        "netcore-plain": Server("netcore-plain", lambda p: [str(NETCORE), "serve", "--listen", f"{HOST}:{p}",
                                                            *netcore_args],
                                "ping", "pong", False, pki),
    }
    results = {}
    try:
        for s in servers.values():
            s.start(tmp)
        for pipeline in (1, 16):
            for r in range(rounds):
                for name, s in servers.items():
                    res = load(s, 50, pipeline, seconds)
                    results.setdefault((name, pipeline), []).append(res)
                    log(f"  P{pipeline} round {r + 1} {name}: {res['requests_per_sec']:,.0f} req/s")
        for r in range(rounds):
            for name in ("netcore-tls", "redis-tls"):
                res = load(servers[name], 8, 1, seconds, reconnect=True)
                results.setdefault((name, "hs"), []).append(res)
                log(f"  handshakes round {r + 1} {name}: {res['reconnects_per_sec']:,.0f}/s")
        idle = {}
        for name in ("netcore-tls", "redis-tls"):
            idle[name] = idle_rss(servers[name], idle_n)
            log(f"  idle {name}: {idle[name]:,.0f} bytes per TLS connection")
    finally:
        for s in servers.values():
            s.stop()

    # fetch https: netcore against curl from the same openssl s_server -WWW.
    www = tmp / "www"
    www.mkdir()
    with open(www / "big.bin", "wb") as f:
        f.truncate(fetch_mib << 20)
    port = eb.free_port()
    s_server = subprocess.Popen(["taskset", "-c", SERVER_CPU, "openssl", "s_server", "-WWW", "-quiet", "-accept",
                                 str(port), "-cert", cert, "-key", key], cwd=www, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"https://localhost:{port}/big.bin"
    fetch_t, curl_t = [], []
    try:
        time.sleep(1)
        for _ in range(rounds):
            fetch_t.append(timed(["taskset", "-c", GEN_CPU, str(NETCORE), "fetch", url, "--cafile", ca,
                                  "-o", str(tmp / "out.bin")]))
            curl_t.append(timed(["taskset", "-c", GEN_CPU, "curl", "-sS", "--cacert", ca, "-o", str(tmp / "out.bin"),
                                 url]))
    finally:
        s_server.terminate()
        s_server.wait(timeout=10)

    def med(name, pipeline, field="requests_per_sec"):
        return statistics.median(r[field] for r in results[(name, pipeline)])

    def cpu_per_req(name, pipeline):
        return statistics.median(r["server_cpu_s"] / max(1, r["requests"]) * 1e6 for r in results[(name, pipeline)])

    print(f"\nTLS benchmark: {rounds} rounds of {seconds:g} s, server on CPU {SERVER_CPU}, load on CPU {GEN_CPU}")
    print("| row | netcore TLS | redis TLS | ratio (median, range) |")
    print("|---|---|---|---|")
    for p in (1, 16):
        a = [r["requests_per_sec"] for r in results[("netcore-tls", p)]]
        b = [r["requests_per_sec"] for r in results[("redis-tls", p)]]
        m, lo, hi = median_ratio(a, b)
        print(f"| 50 conns x {p} in flight, req/s | {med('netcore-tls', p):,.0f} | {med('redis-tls', p):,.0f} | "
              f"{m:.2f}x ({lo:.2f}-{hi:.2f}) |")
    a = [r["reconnects_per_sec"] for r in results[("netcore-tls", "hs")]]
    b = [r["reconnects_per_sec"] for r in results[("redis-tls", "hs")]]
    m, lo, hi = median_ratio(a, b)
    print(f"| handshakes/s (8 conns, --reconnect) | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | "
          f"{m:.2f}x ({lo:.2f}-{hi:.2f}) |")
    print(f"| RSS per idle TLS connection ({idle_n:,}) | {idle['netcore-tls']:,.0f} B | {idle['redis-tls']:,.0f} B | "
          f"{idle['netcore-tls'] / idle['redis-tls']:.2f}x (lower is better) |")
    print("\n| netcore server CPU per request | TLS | plain | TLS / plain |")
    print("|---|---|---|---|")
    for p in (1, 16):
        a = [r["server_cpu_s"] / max(1, r["requests"]) for r in results[("netcore-tls", p)]]
        b = [r["server_cpu_s"] / max(1, r["requests"]) for r in results[("netcore-plain", p)]]
        m, lo, hi = median_ratio(a, b)
        print(f"| 50 x {p} | {cpu_per_req('netcore-tls', p):.2f} us | {cpu_per_req('netcore-plain', p):.2f} us | "
              f"{m:.2f}x ({lo:.2f}-{hi:.2f}) |")
    size = fetch_mib << 20
    rf = [size / t / 2**20 for t in fetch_t]
    rc = [size / t / 2**20 for t in curl_t]
    m, lo, hi = median_ratio(rf, rc)
    print(f"\n| https fetch of {fetch_mib} MiB from openssl s_server -WWW | netcore fetch | curl | ratio |")
    print("|---|---|---|---|")
    print(f"| MiB/s | {statistics.median(rf):,.0f} | {statistics.median(rc):,.0f} | {m:.2f}x ({lo:.2f}-{hi:.2f}) |")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
