"""The deployment test (docs/deploy.md): Debian's HAProxy in TCP mode, PROXY protocol v2 and
`tcp-check` (`ping` → `pong`) in front of three `netcore serve` processes. Clients load it
from several source addresses; one backend is SIGKILLed and one SIGTERMed mid-load. HAProxy
marks both down, the third takes the load; clients see failures only for requests in flight
on the killed process, none for the drained one; every reply they get is right; the backends
log the clients' real addresses."""

import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from deploy_helpers import Serve, free_port, wait_until

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")

CLIENTS = 6
REQUESTS_PER_CONNECTION = 25
HAPROXY_CONFIG = """
global
    maxconn 2000
    stats socket {stats} mode 600 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
frontend clients
    bind 127.0.0.1:{port}
    default_backend netcore
backend netcore
    balance roundrobin
    option tcp-check
    tcp-check send ping\\n
    tcp-check expect string pong
{servers}
"""


def haproxy_status(stats_path):
    """{server name: status} from HAProxy's stats socket (`show stat`)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(stats_path)
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
    return {r[1]: r[17] for r in rows if r[0] == "netcore" and r[1] not in ("BACKEND", "FRONTEND")}


class Load:
    """Client threads through the balancer, each from its own 127.0.0.x address: connections
    of REQUESTS_PER_CONNECTION requests each, every reply checked."""

    def __init__(self, addr):
        self.addr = addr
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.wrong = []
        self.failed = []  # (time, client address) of requests that got no reply
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def client(self, i):
        # Each connection from a port of its own (never reused), so a client address in a
        # backend's log names one connection.
        ip, port = f"127.0.0.{10 + i}", 20000
        while not self.stop.is_set() and port < 65000:
            port += 1
            try:
                c = socket.create_connection(self.addr, timeout=10, source_address=(ip, port))
            except OSError:
                continue
            me = "%s:%d" % c.getsockname()
            buf = b""
            with c:
                for n in range(REQUESTS_PER_CONNECTION):
                    word = "ping" if n % 2 else "os"
                    want = b"pong\n" if n % 2 else b"[posix]\n"
                    try:
                        c.sendall(word.encode() + b"\n")
                        while b"\n" not in buf:
                            chunk = c.recv(4096)
                            if not chunk:
                                raise ConnectionError("closed")
                            buf += chunk
                    except OSError:
                        with self.lock:
                            self.failed.append((time.monotonic(), me))
                        break
                    line, _, buf = buf.partition(b"\n")
                    with self.lock:
                        if line + b"\n" == want:
                            self.ok += 1
                        else:
                            self.wrong.append((word, line))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_haproxy_in_front_of_three_netcore_processes(tmp_path):
    backends = [
        Serve("--listen", "127.0.0.1:0", "--proxy-protocol", "--log-connections") for _ in range(3)
    ]
    haproxy = None
    load = None
    try:
        port = free_port()
        stats = str(tmp_path / "haproxy.sock")
        servers = "\n".join(
            f"    server n{i} {b.tcp()[0]}:{b.tcp()[1]} send-proxy-v2 check inter 100ms fall 2 rise 2"
            for i, b in enumerate(backends)
        )
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(HAPROXY_CONFIG.format(stats=stats, port=port, servers=servers))
        haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stderr=subprocess.PIPE, text=True)
        assert wait_until(
            lambda: _quiet(lambda: set(haproxy_status(stats).values()) == {"UP"}), timeout=30
        ), "HAProxy never saw the backends up"

        load = Load(("127.0.0.1", port))
        time.sleep(1.5)
        killed, drained, survivor = backends
        killed_at = time.monotonic()
        killed.proc.kill()
        time.sleep(1.0)
        drained_at = time.monotonic()
        drained.send_signal(signal.SIGTERM)
        assert drained.stop(timeout=30) == 0, drained.text()
        drained_done = time.monotonic()
        assert wait_until(lambda: _quiet(lambda: haproxy_status(stats) == {"n0": "DOWN", "n1": "DOWN", "n2": "UP"}))
        ok_before_end = load.ok
        time.sleep(1.0)
        load.finish()
        ok_at_end = load.ok
        killed.kill()

        # Every reply the clients got was the right one, and the load went on after both.
        assert load.wrong == []
        assert ok_at_end - ok_before_end > 50, "the survivor took the load"
        assert load.ok > 500
        # The backends saw the clients' own addresses (127.0.0.10 …), not HAProxy's: only its
        # health checks (PROXY LOCAL headers) come from 127.0.0.1.
        seen = {a.rsplit(":", 1)[0] for b in backends for a in b.clients()}
        assert seen - {"127.0.0.1"} == {f"127.0.0.{10 + i}" for i in range(CLIENTS)}, seen
        # Failures: only connections the killed process held, only when it was killed. One it
        # had in its accept queue, not yet accepted (so not logged), dies with it too; none
        # is on the drained process or the survivor.
        served_elsewhere = set(drained.clients()) | set(survivor.clients())
        for when, client in load.failed:
            where = [i for i, b in enumerate(backends) if client in b.clients()]
            assert client not in served_elsewhere, (client, where, when - killed_at, when - drained_at)
            assert killed_at <= when < drained_at, "a failure away from the kill"
        assert len(load.failed) <= CLIENTS
        # The drained process answered every request it read and exited within its stop
        # timeout; its summary counts them.
        connections, requests = drained.summary()
        assert connections > 0 and requests > 0
        assert drained_done - drained_at < 10
        on_killed = set(killed.clients())
        print(
            f"\nhaproxy deployment: {load.ok} replies, {len(load.failed)} failed on the killed process "
            f"({sum(c in on_killed for _, c in load.failed)} of them accepted by it), "
            f"drained process: {connections} connections, {requests} requests, stopped in "
            f"{drained_done - drained_at:.2f} s"
        )
    finally:
        if load:
            load.finish()
        if haproxy and haproxy.poll() is None:
            haproxy.terminate()
            haproxy.wait(10)
        if haproxy:
            haproxy.stderr.close()
        for b in backends:
            b.kill()


def _quiet(f):
    try:
        return f()
    except OSError:
        return False
