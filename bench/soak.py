#!/usr/bin/env python3
"""Soak: a mixed load against running `netcore serve` processes for N minutes.

One server runs the command service over TCP, TLS, UDP and a Unix socket (line framing); a
second runs the echo service in message framing; a third the command service in RESP framing
(a server has one framing). The load, from threads using only the stdlib: pipelined and
one-at-a-time line clients, Unix-socket clients, UDP requests, message-framing clients,
clients that connect and vanish (half-way through a line, or with a reset), slow readers
that let replies pile up, pipelined TLS clients, TLS clients that connect for one request
(a handshake each) or vanish half-way through the handshake, and pipelined RESP clients.
Every reply is checked.

Every 10 s it samples each server's RSS, open file descriptors and threads (from /proc) and
the p50/p99 round trip of the one-at-a-time clients, into a CSV; at the end it draws them
(matplotlib, when installed) into a PNG. It fails (exit 1) if any reply was wrong, or if
after the warm-up a server's RSS grew by more than --rss-growth-mib or its descriptors by
more than --fd-growth.

Run it through scripts/soak, which builds netcore and provides matplotlib.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_EVERY = 10.0
SERVERS = ("line", "message", "resp")


@dataclass
class Tally:
    """Counts shared by the load threads (one lock; the load is modest)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    wrong: int = 0
    wrong_examples: list = field(default_factory=list)
    io_errors: int = 0
    udp_retries: int = 0
    vanished: int = 0
    latencies: list = field(default_factory=list)

    def ok(self, n: int = 1) -> None:
        with self.lock:
            self.requests += n

    def bad(self, what: str) -> None:
        with self.lock:
            self.wrong += 1
            if len(self.wrong_examples) < 5:
                self.wrong_examples.append(what)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def latency(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def take_latencies(self) -> list:
        with self.lock:
            taken, self.latencies = self.latencies, []
        return taken


class Server:
    """A `netcore serve` process and the addresses it printed."""

    def __init__(self, binary: str, args: list, log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen([binary, "serve", *args], stderr=subprocess.PIPE, stdout=self.log, text=True)
        self.addrs: dict = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"netcore serve {args} exited: {self.proc.wait()}")
            self.log.write(line)
            m = re.search(r" on (tcp|tls|udp|unix) (\S+)$", line.strip())
            if m:
                self.addrs[m.group(1)] = m.group(2)
            if "press Ctrl+C" in line:
                break
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.log.write(line)

    def addr(self, kind: str):
        host, port = self.addrs[kind].rsplit(":", 1)
        return host, int(port)

    def sample(self) -> tuple:
        pid = self.proc.pid
        status = Path(f"/proc/{pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds, threads

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


def read_lines(sock: socket.socket, buf: bytearray, n: int) -> list:
    """Reads until `n` complete lines are in `buf`; returns them (without newlines)."""
    lines: list = []
    while len(lines) < n:
        while b"\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {len(lines)} of {n} replies")
            buf += chunk
        line, _, rest = bytes(buf).partition(b"\n")
        buf[:] = rest
        lines.append(line)
    return lines


# RESP requests and the exact replies the command service gives them.
RESP_EXPECTED = {
    b"*1\r\n$2\r\nos\r\n": b"$7\r\n[posix]\r\n",
    b"*1\r\n$4\r\nPING\r\n": b"+PONG\r\n",
    b"*2\r\n$4\r\nECHO\r\n$5\r\nb\x00\r\n!\r\n": b"$5\r\nb\x00\r\n!\r\n",
    b"PING\r\n": b"+PONG\r\n",
}


def recv_exactly(sock, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        chunk = sock.recv(min(65536, n - len(got)))
        if not chunk:
            raise ConnectionError(f"closed after {len(got)} of {n} reply bytes")
        got += chunk
    return bytes(got)


class Load:
    def __init__(
        self, line: Server, message: Server, resp: Server, ca: Path, root_listing: bytes, stop: threading.Event,
        tally: Tally
    ):
        self.line, self.message, self.resp, self.stop, self.t = line, message, resp, stop, tally
        self.expected = {b"os": b"[posix]", b"ls": root_listing, b"hello": b"welcome"}
        self.tls = ssl.create_default_context(cafile=str(ca))

    def pace(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def guarded(self, body) -> None:
        """Runs `body` again and again until the end; I/O errors are counted and retried."""
        while not self.stop.is_set():
            try:
                body()
            except (OSError, ConnectionError) as e:
                if self.stop.is_set():
                    return
                self.t.add("io_errors")
                self.t.bad(f"{body.__name__}: {e!r}")
                self.pace(0.5)

    def check(self, sent: list, got: list, what: str) -> None:
        for s, g in zip(sent, got):
            if self.expected[s] != g:
                self.t.bad(f"{what}: {s!r} got {g[:80]!r}")
                return
        self.t.ok(len(sent))

    def pipelined(self) -> None:
        with socket.create_connection(self.line.addr("tcp"), timeout=30) as s:
            buf = bytearray()
            while not self.stop.is_set():
                batch = [random.choice(list(self.expected)) for _ in range(16)]
                s.sendall(b"".join(r + b"\n" for r in batch))
                self.check(batch, read_lines(s, buf, len(batch)), "pipelined")
                self.pace(0.01)

    def one_at_a_time(self, family: str = "tcp") -> None:
        if family == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(self.line.addrs["unix"])
        else:
            s = socket.create_connection(self.line.addr("tcp"), timeout=30)
        with s:
            buf = bytearray()
            while not self.stop.is_set():
                req = random.choice(list(self.expected))
                start = time.perf_counter()
                s.sendall(req + b"\n")
                got = read_lines(s, buf, 1)
                if family == "tcp":
                    self.t.latency(time.perf_counter() - start)
                self.check([req], got, family)
                self.pace(0.002)

    def unix(self) -> None:
        self.one_at_a_time("unix")

    def udp(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1.0)
            addr = self.line.addr("udp")
            while not self.stop.is_set():
                for _attempt in range(3):
                    s.sendto(b"os", addr)
                    try:
                        got, _ = s.recvfrom(65536)
                        break
                    except socket.timeout:
                        self.t.add("udp_retries")
                else:
                    raise ConnectionError("no UDP reply in 3 attempts")
                self.check([b"os"], [got.rstrip(b"\n")], "udp")
                self.pace(0.005)

    def messages(self) -> None:
        with socket.create_connection(self.message.addr("tcp"), timeout=30) as s:
            n = 0
            while not self.stop.is_set():
                n += 1
                msg = f"message {n} {'x' * random.randrange(200)}".encode()
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError("message server closed")
                    got += chunk
                if got != msg:
                    self.t.bad(f"message: {msg[:40]!r} got {got[:40]!r}")
                else:
                    self.t.ok()
                self.pace(0.005)

    def churn(self) -> None:
        """Connects, then: one request and a clean close, vanishing mid-line, or a reset."""
        kind = random.randrange(3)
        s = socket.create_connection(self.line.addr("tcp"), timeout=30)
        try:
            if kind == 0:
                s.sendall(b"os\n")
                self.check([b"os"], read_lines(s, bytearray(), 1), "churn")
            elif kind == 1:
                s.sendall(b"ls sub")  # no newline: the client is gone before finishing the line
                self.t.add("vanished")
            else:
                s.sendall(b"os\nos\n")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.t.add("vanished")
        finally:
            s.close()
        self.pace(0.02)

    def tls_connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection(self.line.addr("tls"), timeout=30)
        return self.tls.wrap_socket(raw, server_hostname="localhost")

    def tls_pipelined(self) -> None:
        with self.tls_connect() as s:
            buf = bytearray()
            while not self.stop.is_set():
                batch = [random.choice(list(self.expected)) for _ in range(16)]
                s.sendall(b"".join(r + b"\n" for r in batch))
                self.check(batch, read_lines(s, buf, len(batch)), "tls pipelined")
                self.pace(0.01)

    def tls_churn(self) -> None:
        """A TLS connection for one request (a handshake each), or one that vanishes half-way
        through its handshake (a partial ClientHello, or garbage)."""
        kind = random.randrange(4)
        if kind < 2:
            with self.tls_connect() as s:
                s.sendall(b"os\n")
                self.check([b"os"], read_lines(s, bytearray(), 1), "tls churn")
        else:
            with socket.create_connection(self.line.addr("tls"), timeout=30) as s:
                s.sendall(b"\x16\x03\x01\x02\x00\x01" if kind == 2 else os.urandom(64))
            self.t.add("vanished")
        self.pace(0.05)

    def resp_pipelined(self) -> None:
        with socket.create_connection(self.resp.addr("tcp"), timeout=30) as s:
            while not self.stop.is_set():
                batch = [random.choice(list(RESP_EXPECTED)) for _ in range(16)]
                want = b"".join(RESP_EXPECTED[r] for r in batch)
                s.sendall(b"".join(batch))
                got = recv_exactly(s, len(want))
                if got != want:
                    self.t.bad(f"resp: {batch[0]!r}... got {got[:80]!r}")
                else:
                    self.t.ok(len(batch))
                self.pace(0.01)

    def slow_reader(self) -> None:
        """Sends many requests at once, then reads their replies slowly."""
        with socket.create_connection(self.line.addr("tcp"), timeout=60) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # 400 KB of replies: more than the server buffers per client (256 KiB), so it must
            # wait for this reader while serving everyone else.
            n = 50000

            def send() -> None:
                try:
                    s.sendall(b"os\n" * n)
                except OSError:
                    pass  # closed at the end of the run

            threading.Thread(target=send, daemon=True).start()
            buf = bytearray()
            got = 0
            deadline = time.monotonic() + 20
            while got < n and time.monotonic() < deadline and not self.stop.is_set():
                chunk = s.recv(4096)
                if not chunk:
                    raise ConnectionError("slow reader closed early")
                buf += chunk
                lines = bytes(buf).split(b"\n")
                buf[:] = lines.pop()
                for line in lines:
                    if line != b"[posix]":
                        self.t.bad(f"slow reader got {line[:40]!r}")
                        return
                got += len(lines)
                self.pace(0.01)
            self.t.ok(got)


def quantile(values: list, q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def plot(rows: list, path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (scripts/soak installs it)", file=sys.stderr)
        return False
    minutes = [float(r["elapsed_s"]) / 60 for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    for ax, (key, label) in zip(
        axes, [("rss_kib", "RSS (MiB)"), ("fds", "open fds"), ("threads", "threads"), ("p99_ms", "round trip (ms)")]
    ):
        if key == "p99_ms":
            ax.plot(minutes, [float(r["p50_ms"]) for r in rows], label="p50")
            ax.plot(minutes, [float(r["p99_ms"]) for r in rows], label="p99")
        else:
            for server in SERVERS:
                values = [float(r[f"{server}_{key}"]) for r in rows]
                if key == "rss_kib":
                    values = [v / 1024 for v in values]
                ax.plot(minutes, values, label=f"{server} server")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("minutes")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--netcore", default="target/release/netcore")
    ap.add_argument("--out", default="build/soak", help="directory for soak.csv, soak.png and the server logs")
    ap.add_argument("--warmup-minutes", type=float, default=None, help="default: a fifth of the run, at most 3")
    ap.add_argument("--rss-growth-mib", type=float, default=16)
    ap.add_argument("--fd-growth", type=int, default=48)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warmup = 60 * (args.warmup_minutes if args.warmup_minutes is not None else min(3.0, args.minutes / 5))

    work = Path(tempfile.mkdtemp(prefix="netcore-soak-"))
    root = work / "root"
    (root / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.bin", "sp ace"):
        (root / name).write_text("x")
    listing = json.dumps(sorted(os.listdir(root)), separators=(", ", ":")).encode()

    pki = work / "pki"
    subprocess.run([str(Path(__file__).resolve().parents[1] / "scripts" / "make-test-certs"), str(pki)], check=True)
    common = ["--max-conns", "4096", "--idle-timeout", "30"]
    line = Server(
        args.netcore,
        ["--service", "command", "--listen", "127.0.0.1:0", "--udp", "127.0.0.1:0",
         "--unix", str(work / "soak.sock"), "--root", str(root), "--tls-listen", "127.0.0.1:0",
         "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"), *common],
        out / "line-server.log",
    )
    message = Server(
        args.netcore,
        ["--service", "echo", "--framing", "message", "--listen", "127.0.0.1:0", *common],
        out / "message-server.log",
    )
    resp = Server(
        args.netcore,
        ["--service", "command", "--framing", "resp", "--listen", "127.0.0.1:0", *common],
        out / "resp-server.log",
    )
    servers = {"line": line, "message": message, "resp": resp}
    stop = threading.Event()
    tally = Tally()
    load = Load(line, message, resp, pki / "ca.pem", listing, stop, tally)
    plan = [
        (load.pipelined, 2),
        (load.one_at_a_time, 2),
        (load.unix, 1),
        (load.udp, 2),
        (load.messages, 2),
        (load.churn, 3),
        (load.slow_reader, 1),
        (load.tls_pipelined, 2),
        (load.tls_churn, 2),
        (load.resp_pipelined, 2),
    ]
    threads = [
        threading.Thread(target=load.guarded, args=(fn,), name=fn.__name__, daemon=True)
        for fn, count in plan
        for _ in range(count)
    ]
    for t in threads:
        t.start()

    fields = ["elapsed_s", "requests", "wrong", "io_errors", "udp_retries", "vanished", "p50_ms", "p99_ms"]
    for server in SERVERS:
        fields += [f"{server}_rss_kib", f"{server}_fds", f"{server}_threads"]
    rows: list = []
    csv_path = out / "soak.csv"
    start = time.monotonic()
    last_requests = 0
    print(f"soak: {args.minutes:g} min against {line.addrs}, {message.addrs} and {resp.addrs}; "
          f"samples every {SAMPLE_EVERY:g} s")
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        try:
            while time.monotonic() - start < args.minutes * 60:
                time.sleep(SAMPLE_EVERY)
                lat = tally.take_latencies()
                with tally.lock:
                    row = {
                        "elapsed_s": round(time.monotonic() - start, 1),
                        "requests": tally.requests - last_requests,
                        "wrong": tally.wrong,
                        "io_errors": tally.io_errors,
                        "udp_retries": tally.udp_retries,
                        "vanished": tally.vanished,
                    }
                    last_requests = tally.requests
                row["p50_ms"] = round(quantile(lat, 0.50) * 1000, 3)
                row["p99_ms"] = round(quantile(lat, 0.99) * 1000, 3)
                for name, server in servers.items():
                    rss, fds, nthreads = server.sample()
                    row.update({f"{name}_rss_kib": rss, f"{name}_fds": fds, f"{name}_threads": nthreads})
                rows.append(row)
                writer.writerow(row)
                f.flush()
                print(
                    f"{row['elapsed_s']:7.0f} s  {row['requests'] / SAMPLE_EVERY:7.0f} req/s  "
                    f"p99 {row['p99_ms']:7.2f} ms  RSS {row['line_rss_kib'] / 1024:6.1f} / "
                    f"{row['message_rss_kib'] / 1024:5.1f} / {row['resp_rss_kib'] / 1024:5.1f} MiB  fds {row['line_fds']:4d} / {row['message_fds']:3d}  "
                    f"threads {row['line_threads']} / {row['message_threads']}  wrong {row['wrong']}",
                    flush=True,
                )
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
            codes = tuple(server.stop() for server in servers.values())

    failures = []
    if tally.wrong:
        failures.append(f"{tally.wrong} wrong replies or failed exchanges, e.g. {tally.wrong_examples}")
    if any(codes):
        failures.append(f"the servers exited with {codes}")
    after = [r for r in rows if r["elapsed_s"] >= warmup]
    if len(after) >= 2:
        for name in SERVERS:
            first = statistics.median(r[f"{name}_rss_kib"] for r in after[:3]) / 1024
            peak = max(r[f"{name}_rss_kib"] for r in after) / 1024
            if peak - first > args.rss_growth_mib:
                failures.append(f"{name} server RSS grew {first:.1f} -> {peak:.1f} MiB after warm-up")
            fd0 = min(r[f"{name}_fds"] for r in after[:3])
            fdmax = max(r[f"{name}_fds"] for r in after)
            if fdmax - fd0 > args.fd_growth:
                failures.append(f"{name} server fds grew {fd0} -> {fdmax} after warm-up")
    else:
        failures.append("too short to compare after the warm-up (run at least a minute)")

    total = sum(r["requests"] for r in rows)
    summary = {
        "minutes": args.minutes,
        "requests": total,
        "requests_per_s": round(total / max(1.0, rows[-1]["elapsed_s"] if rows else 1.0)),
        "wrong": tally.wrong,
        "io_errors": tally.io_errors,
        "vanished_clients": tally.vanished,
        "udp_retries": tally.udp_retries,
        "p99_ms_median_of_windows": round(statistics.median(r["p99_ms"] for r in rows), 3) if rows else None,
    }
    for name in SERVERS:
        if after:
            summary[f"{name}_rss_mib_after_warmup"] = [
                round(min(r[f"{name}_rss_kib"] for r in after) / 1024, 1),
                round(max(r[f"{name}_rss_kib"] for r in after) / 1024, 1),
            ]
            summary[f"{name}_fds_after_warmup"] = [min(r[f"{name}_fds"] for r in after), max(r[f"{name}_fds"] for r in after)]
            summary[f"{name}_threads"] = [min(r[f"{name}_threads"] for r in rows), max(r[f"{name}_threads"] for r in rows)]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = f"netcore soak: {args.minutes:g} min, {total:,} requests, {tally.wrong} wrong"
    if rows and plot(rows, out / "soak.png", title):
        print(f"plot: {out / 'soak.png'}")
    print(f"samples: {csv_path}\nsummary: {json.dumps(summary)}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print("soak: " + ("failed" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
