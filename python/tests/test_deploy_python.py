"""The deployment options from Python (docs/deploy.md): reuse_port, proxy_protocol (the
handler sees the real client; spoofing refused without it), handshake_timeout, metrics,
passed descriptors, and their bad arguments."""

import socket
import struct
import urllib.request

import pytest

import netcore
from deploy_helpers import read_line


def proxy_v2(src, dst):
    body = socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) + struct.pack("!HH", src[1], dst[1])
    return b"\r\n\r\n\0\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def exchange(addr, data):
    with socket.create_connection(addr, timeout=20) as c:
        c.sendall(data)
        return read_line(c)


def whoami_server(**options):
    server = netcore.Server(("127.0.0.1", 0), "command", **options)
    server.add_command("whoami", lambda request: request.peer)
    return server


def test_the_handler_sees_the_client_behind_the_balancer():
    with whoami_server(proxy_protocol=True, handshake_timeout=0.5) as server:
        addr = server.server_address
        assert exchange(addr, proxy_v2(("203.0.113.20", 5151), addr) + b"whoami\n") == "203.0.113.20:5151\n"
        assert exchange(addr, b"PROXY TCP4 198.51.100.3 127.0.0.1 77 1\r\nwhoami\n") == "198.51.100.3:77\n"
        assert exchange(addr, b"whoami\n").startswith("error: invalid PROXY protocol header")
        stats = server.stats
        assert (stats["handshakes"], stats["handshake_failures"]) == (2, 1)
    with whoami_server() as server:
        addr = server.server_address
        reply = exchange(addr, proxy_v2(("203.0.113.20", 5151), addr) + b"whoami\n")
        assert "203.0.113.20" not in reply, "no spoofing without the option"


def test_proxy_protocol_on_some_listeners(tmp_path):
    path = str(tmp_path / "lb.sock")
    with whoami_server(unix=path, proxy_protocol=[path]) as server:
        assert exchange(server.server_address, b"whoami\n").startswith("127.0.0.1:")
        with socket.socket(socket.AF_UNIX) as u:
            u.settimeout(20)
            u.connect(path)
            u.sendall(b"PROXY TCP4 192.0.2.9 127.0.0.1 9 1\r\nwhoami\n")
            assert read_line(u) == "192.0.2.9:9\n"


def test_reuse_port_two_servers_one_port():
    first = netcore.Server(("127.0.0.1", 0), reuse_port=True)
    second = netcore.Server(first.server_address, reuse_port=True)
    try:
        for _ in range(40):
            assert exchange(first.server_address, b"ping\n") == "pong\n"
        a, b = first.stats["connections_total"], second.stats["connections_total"]
        assert a + b == 40
        with pytest.raises(OSError):
            netcore.Server(first.server_address)
    finally:
        first.stop()
        second.stop()


def test_metrics_endpoint():
    with netcore.Server(("127.0.0.1", 0), metrics=("127.0.0.1", 0)) as server:
        exchange(server.server_address, b"ping\n")
        host, port = server.metrics_address
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=20) as r:
            text = r.read().decode()
        assert 'netcore_command_requests_total{command="ping"} 1' in text
        assert "netcore_requests_total 1" in server.metrics_text()
    with netcore.Server(("127.0.0.1", 0)) as server:
        assert server.metrics_address is None


def test_passed_descriptors():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    addr = s.getsockname()
    with netcore.Server(None, "echo", fds=[s.detach()]) as server:
        assert server.server_address == addr
        assert exchange(addr, b"passed\n") == "passed\n"
    with pytest.raises(ValueError, match="not a socket"):
        with open("/dev/null") as f:
            netcore.Server(None, fds=[f.fileno()])


def test_bad_deployment_arguments():
    with pytest.raises(TypeError, match="proxy_protocol"):
        netcore.Server(("127.0.0.1", 0), proxy_protocol=5)
    with pytest.raises(ValueError, match="handshake_timeout"):
        netcore.Server(("127.0.0.1", 0), proxy_protocol=True, handshake_timeout=0)
    with pytest.raises(ValueError, match="not a listener"):
        netcore.Server(("127.0.0.1", 0), proxy_protocol=[("127.0.0.1", 1)])
    with pytest.raises(TypeError):
        netcore.Server(("127.0.0.1", 0), metrics="/tmp/metrics.sock")
    assert netcore.Server.DEFAULTS["handshake_timeout"] == 10.0
