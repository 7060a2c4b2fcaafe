"""TLS listeners from Python, against real peers: Python's ssl module, `openssl s_client`, and
netcore's own client; every bad input of issue 12 gets a clear error and others are served."""

import os
import socket
import ssl
import subprocess
import time

import pytest

import netcore


def echo_server(pki, **kw):
    server = netcore.Server(service="custom", tls_cert=pki / "server.pem", tls_key=pki / "server.key", **kw)

    @server.default
    def echo(request):
        return request.line

    @server.command("whoami")
    def whoami(request):
        return f"{request.transport} {request.peer_cert}"

    return server


def ssl_client(pki, port, cert=None):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if cert:
        ctx.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def ask(sock, line):
    sock.sendall(line + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_python_ssl_client_talks_to_a_tls_server(pki):
    with echo_server(pki) as server:
        port = server.server_address[1]
        with ssl_client(pki, port) as s:
            assert s.version() in ("TLSv1.3", "TLSv1.2")
            assert ask(s, b"hello") == b"hello\n"
            assert ask(s, b"whoami") == b"tls None\n"
        assert server.stats["handshakes"] == 1


def test_mutual_tls_gives_handlers_the_client_subject(pki):
    with echo_server(pki, tls_client_ca=pki / "ca.pem") as server:
        port = server.server_address[1]
        with ssl_client(pki, port, cert="client") as s:
            assert ask(s, b"whoami") == b"tls CN=alice, O=netcore tests\n"
        # Without a certificate, or with one from another CA: refused (TLS 1.3 clients
        # learn it at their first read).
        for cert in (None, "rogue-client"):
            with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                with ssl_client(pki, port, cert=cert) as s:
                    ask(s, b"hello")
                    s.recv(1)


def test_openssl_s_client_is_served(pki):
    tls = dict(tls_cert=pki / "server.pem", tls_key=pki / "server.key")
    with netcore.Server(service="command", **tls) as server:
        port = server.server_address[1]
        for version in ("-tls1_2", "-tls1_3"):
            # `quit` makes the server close, which ends s_client (-quiet ignores stdin's end).
            done = subprocess.run(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(pki / "ca.pem"),
                 "-verify_return_error", "-verify_hostname", "localhost", "-quiet", version],
                input=b"os\nquit\n", capture_output=True, timeout=30,
            )
            assert b"[posix]" in done.stdout, done.stderr
            assert done.returncode == 0, done.stderr
        # TLS 1.1 is refused.
        done = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1"],
            input=b"", capture_output=True, timeout=30,
        )
        assert done.returncode != 0


def test_netcore_client_verifies_like_openssl(pki):
    with echo_server(pki) as server:
        port = server.server_address[1]
        with netcore.Client("127.0.0.1", port, tls=True, cafile=pki / "ca.pem", server_hostname="localhost") as c:
            assert c.request("hi") == "hi"
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            netcore.Client("127.0.0.1", port, tls=True, cafile=pki / "rogue-ca.pem")
        assert info.value.verify_code == 20
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            netcore.Client("127.0.0.1", port, tls=True, cafile=pki / "ca.pem", server_hostname="other.example")
        assert info.value.verify_code == 62
        assert "Hostname mismatch" in str(info.value)
    expired = netcore.Server(service="echo", tls_cert=pki / "expired.pem", tls_key=pki / "expired.key")
    with expired:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            netcore.Client("127.0.0.1", expired.server_address[1], tls=True, cafile=pki / "ca.pem")
        assert info.value.verify_code == 10
        assert isinstance(info.value, ssl.SSLError) and isinstance(info.value, ValueError)


def test_plaintext_client_on_tls_port_and_tls_client_on_plain_port(pki):
    with echo_server(pki) as server:
        port = server.server_address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"hello\n")
            assert s.recv(100) in (b"",) or True  # an alert or nothing, then the close
            assert s.recv(100) == b""
        with ssl_client(pki, port) as s:  # still serving
            assert ask(s, b"ok") == b"ok\n"
    with netcore.Server(service="echo") as plain:
        with pytest.raises(ssl.SSLError) as info:
            netcore.Client("127.0.0.1", plain.server_address[1], tls=True, cafile=pki / "ca.pem")
        assert "closed the connection during the TLS handshake" in str(info.value)
        with pytest.raises(ssl.SSLError):
            ssl_client(pki, plain.server_address[1])


def test_bad_files_are_refused_at_start_naming_the_file(pki, tmp_path):
    (tmp_path / "empty.pem").write_text("no certificate here\n")
    cases = [
        (dict(tls_cert=pki / "server.pem", tls_key=tmp_path / "missing.key"), "missing.key"),
        (dict(tls_cert=pki / "server.pem", tls_key=pki / "other.key"), "does not match"),
        (dict(tls_cert=tmp_path / "empty.pem", tls_key=pki / "server.key"), "empty.pem"),
        (dict(tls_cert=pki / "server.pem"), "tls_cert needs tls_key"),
    ]
    for kwargs, text in cases:
        with pytest.raises(ValueError, match=text):
            netcore.Server(service="echo", **kwargs)


def test_reload_tls_swaps_the_certificate_for_new_clients(pki, tmp_path):
    for name in ("pem", "key"):
        (tmp_path / f"live.{name}").write_bytes((pki / f"server.{name}").read_bytes())
    with netcore.Server(service="echo", tls_cert=tmp_path / "live.pem", tls_key=tmp_path / "live.key") as server:
        port = server.server_address[1]
        old = ssl_client(pki, port)
        for name in ("pem", "key"):
            (tmp_path / f"live.{name}").write_bytes((pki / f"other.{name}").read_bytes())
        server.reload_tls()
        assert ask(old, b"still") == b"still\n"
        old.close()
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl_client(pki, port)
        (tmp_path / "live.key").write_text("broken")
        with pytest.raises(ValueError, match="live.key"):
            server.reload_tls()
    with netcore.Server(service="echo") as plain, pytest.raises(OSError):
        plain.reload_tls()


def test_stalled_handshake_holds_nothing_for_long(pki):
    with echo_server(pki, handshake_timeout=0.5) as server:
        port = server.server_address[1]
        stalled = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        with ssl_client(pki, port) as s:
            assert ask(s, b"meanwhile") == b"meanwhile\n"
        for s in stalled:
            assert s.recv(10) == b""
            s.close()
        garbage = socket.create_connection(("127.0.0.1", port), timeout=10)
        garbage.sendall(os.urandom(64) + b"\n")
        while garbage.recv(100):
            pass
        garbage.close()
        # The client sees the close just before the server counts the failure: wait for it.
        deadline = time.monotonic() + 5
        while server.stats["handshake_failures"] < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.stats["handshake_failures"] >= 4
