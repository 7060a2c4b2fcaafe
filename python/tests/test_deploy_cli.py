"""`netcore serve` deployed: several processes on one port (--reuse-port), systemd socket
activation (Debian's systemd-socket-activate, and descriptors passed by hand), the PROXY
protocol, /metrics, and the drain on SIGTERM under load (docs/deploy.md)."""

import os
import shutil
import signal
import socket
import struct
import threading
import time
import urllib.request

import pytest

from deploy_helpers import Serve, ask, free_port, read_line, wait_until

needs_activate = pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate is not installed"
)


def proxy_v2(src, dst):
    """A PROXY protocol v2 header for a TCP/IPv4 client `src` talking to `dst`."""
    body = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!HH", src[1], dst[1])
    return b"\r\n\r\n\0\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def test_two_processes_share_a_port_and_one_takes_over():
    first = Serve("--listen", "127.0.0.1:0", "--reuse-port")
    second = Serve("--listen", "%s:%d" % first.tcp(), "--reuse-port")
    try:
        addr = first.tcp()
        for _ in range(60):
            assert ask(addr, "ping") == "pong\n"
        assert first.stop() == 0
        took, _ = first.summary()
        assert 0 < took < 60, "the kernel spread the connections over both"
        for _ in range(30):
            assert ask(addr, "ping") == "pong\n"
        assert second.stop() == 0
        assert second.summary()[0] == 60 - took + 30, "the other process took every new connection"
    finally:
        first.kill()
        second.kill()


def test_without_reuse_port_the_second_process_cannot_bind():
    first = Serve("--listen", "127.0.0.1:0")
    try:
        with pytest.raises(AssertionError, match="cannot listen on 127.0.0.1:[0-9]+: address already in use"):
            Serve("--listen", "%s:%d" % first.tcp())
    finally:
        first.kill()


@needs_activate
def test_systemd_socket_activate_tcp_and_unix(tmp_path):
    port = free_port()
    path = str(tmp_path / "activated.sock")
    activate = ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-l", path, "--fdname=tcp:unix"]
    # systemd-socket-activate execs the server at the first connection: make it in a thread.
    replies = []
    t = threading.Thread(target=lambda: replies.append(_ask_when_up(("127.0.0.1", port), "ping")))
    t.start()
    server = Serve("--log-connections", prefix=activate)
    try:
        t.join(60)
        assert replies == ["pong\n"]
        assert server.addrs("tcp") == [f"127.0.0.1:{port}"]
        assert server.addrs("unix") == [path]
        with socket.socket(socket.AF_UNIX) as u:
            u.settimeout(20)
            u.connect(path)
            u.sendall(b"os\n")
            assert read_line(u) == "[posix]\n"
        assert "21560" not in server.text(), "passed sockets replace the default listener"
        assert server.stop() == 0
    finally:
        server.kill()


@needs_activate
def test_systemd_socket_activate_udp():
    port = free_port()
    activate = ["systemd-socket-activate", "--datagram", "-l", f"127.0.0.1:{port}"]
    got = []

    def ping():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as d:
            d.settimeout(0.5)
            for _ in range(100):
                d.sendto(b"ping", ("127.0.0.1", port))
                try:
                    got.append(d.recv(100))
                    return
                except socket.timeout:
                    continue

    t = threading.Thread(target=ping)
    t.start()
    server = Serve(prefix=activate)
    try:
        t.join(60)
        assert got[:1] == [b"pong"]
        assert server.addrs("udp") == [f"127.0.0.1:{port}"]
    finally:
        server.stop()
        server.kill()


def _ask_when_up(addr, line):
    for _ in range(200):
        try:
            return ask(addr, line)
        except OSError:
            time.sleep(0.05)
    return None


def test_descriptors_passed_by_hand_with_listen_fds():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    addr = listener.getsockname()

    def at_fd_3():
        os.dup2(listener.fileno(), 3)

    # LISTEN_PID must be the server's own PID: the shell sets it, then execs the server.
    prefix = ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=web exec "$@"', "sh"]
    server = Serve("--service", "echo", prefix=prefix, pass_fds=(3,), preexec_fn=at_fd_3)
    listener.close()
    try:
        assert server.addrs("tcp") == ["%s:%d" % addr]
        assert ask(addr, "passed") == "passed\n"
    finally:
        server.stop()
        server.kill()
    env = dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1")
    other = Serve("--listen", "127.0.0.1:0", env=env)
    try:
        assert len(other.addrs("tcp")) == 1, "another process's LISTEN_FDS is ignored"
    finally:
        other.kill()


def test_proxy_protocol_logs_the_real_client_and_refuses_bare_clients():
    server = Serve("--listen", "127.0.0.1:0", "--proxy-protocol", "--log-connections", "--handshake-timeout", "0.5")
    plain = Serve("--listen", "127.0.0.1:0", "--log-connections")
    try:
        addr = server.tcp()
        with socket.create_connection(addr, timeout=20) as c:
            c.sendall(proxy_v2(("203.0.113.50", 40404), addr) + b"ping\n")
            assert read_line(c) == "pong\n"
        with socket.create_connection(addr, timeout=20) as c:
            c.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 5555 21560\r\nping\n")
            assert read_line(c) == "pong\n"
        assert ask(addr, "ping").startswith("error: invalid PROXY protocol header")
        with socket.create_connection(addr, timeout=20) as c:
            assert read_line(c).startswith("error: invalid PROXY protocol header: no header within 500 ms")
        assert wait_until(lambda: server.clients()[:2] == ["203.0.113.50:40404", "198.51.100.7:5555"])
        # Without the option the header is an ordinary line: no spoofing.
        paddr = plain.tcp()
        with socket.create_connection(paddr, timeout=20) as c:
            c.sendall(proxy_v2(("203.0.113.50", 40404), paddr) + b"ping\n")
            assert b"203.0.113.50" not in c.recv(4096)
        assert wait_until(lambda: len(plain.clients()) == 1)
        assert plain.clients()[0].startswith("127.0.0.1:")
    finally:
        server.kill()
        plain.kill()


def test_metrics_endpoint_and_stats_command():
    server = Serve("--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
    try:
        addr = server.tcp()
        with socket.create_connection(addr, timeout=20) as c:
            for line in ["ping", "os", "ping"]:
                c.sendall(line.encode() + b"\n")
                read_line(c)
            c.sendall(b"stats\n")
            stats = read_line(c)
        assert "requests=3 " in stats and "cmd_ping=2" in stats and "cmd_os=1" in stats, stats
        host, port = server.metrics()
        # A request's duration is recorded just after its reply is written, so the stats
        # request's may not be counted yet when its reply arrives: ask again (bounded).
        for _ in range(50):
            with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=20) as r:
                assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = r.read().decode()
            if "netcore_request_duration_seconds_count 4" in text:
                break
            time.sleep(0.1)
        for want in [
            "netcore_requests_total 4",
            'netcore_command_requests_total{command="ping"} 2',
            'netcore_command_requests_total{command="stats"} 1',
            "netcore_connections_total 1",
            "netcore_request_duration_seconds_count 4",
        ]:
            assert want in text, text
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://{host}:{port}/", timeout=20)
        assert e.value.code == 404
        e.value.close()  # an HTTPError holds the response's socket
    finally:
        server.stop()
        server.kill()


def test_sigterm_under_load_answers_every_request_it_read():
    server = Serve("--service", "echo", "--listen", "127.0.0.1:0")
    addr = server.tcp()
    answered = []
    wrong = []

    def client(i):
        n = 0
        with socket.create_connection(addr, timeout=20) as c, c.makefile("rb") as f:
            while True:
                want = b"c%d-%d\n" % (i, n)
                try:
                    c.sendall(want)
                    got = f.readline()
                except OSError:
                    break
                if not got:
                    break
                if got != want:
                    wrong.append((want, got))
                n += 1
        answered.append(n)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    took = time.monotonic() - started
    for t in threads:
        t.join(30)
    assert wrong == []
    _, requests = server.summary()
    assert requests == sum(answered) > 100, "no request the server read lost its reply"
    assert took < 10, "stopped within the stop timeout"
