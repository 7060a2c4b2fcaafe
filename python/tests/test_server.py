"""netcore.Server, CommandServer and UDPServer: every built-in service over TCP, UDP and Unix
sockets, the seeds' own clients (stdlib socket, logic unchanged), Python handlers, limits,
lifecycle. Loopback and temporary directories only; port 0 everywhere."""

import errno
import json
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import netcore
from tutorial_programs import command

T = 20.0


def connect(addr):
    c = socket.create_connection(addr, timeout=T)
    return c


def lines_client(addr):
    c = connect(addr)
    return c, c.makefile("rb")


def ask(conn, f, line):
    conn.sendall(line.encode() + b"\n")
    return f.readline().decode()


def read_all(c):
    """Everything until the server closes; then closes `c` too."""
    chunks = []
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)


def wait_until(cond, timeout=T):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


# -- the seeds' clients: the tutorial programs (examples/tutorials), run on the stdlib socket
# module (the one-line import swapped back), so their logic is exactly the seeds'. -------------

def run_seed_client(program, *args, stdin=None):
    return subprocess.run(
        command(program, args, "stdlib"),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def seed000(port, typed):
    out = run_seed_client("seed000/command_client.py", "127.0.0.1", port, stdin=typed)
    assert out.returncode == 0, out.stderr
    # input('>') prints its prompt to stdout; the reply follows the prompts on one line.
    return out.stdout.splitlines()[0].lstrip(">")


def test_seed000_client_gets_its_replies_in_message_mode(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with netcore.CommandServer(framing="message", root=tmp_path) as server:
        port = server.server_address[1]
        reply = seed000(port, "date\n")
        assert reply.startswith("[") and reply.endswith("] date"), reply
        assert seed000(port, "os\n") == "[posix]"
        assert json.loads(seed000(port, "ls\n")) == ["notes.txt"]
        assert seed000(port, "hi\n") == "welcome"
        # Lines typed before Ctrl+D are joined, as in the seed: "l" + "s" is "ls".
        assert json.loads(seed000(port, "l\ns\n")) == ["notes.txt"]


def test_seed002_clients_get_the_documented_transcript():
    with netcore.Server(service="greet", framing="message", udp=("127.0.0.1", 0)) as server:
        tcp_port = server.addresses[0][1][1]
        udp_port = server.addresses[1][1][1]
        out = run_seed_client("seed002/tcp_client.py", tcp_port)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [
            "接收到的服务端数据:Hello, I am server",
            "服务端又返回来的数据:Hello, client1! ",
            "服务端又返回来的数据:Hello, client2! ",
            "服务端又返回来的数据:Hello, client3! ",
        ]
        out = run_seed_client("seed002/udp_client.py", udp_port)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == ["Received Hello, client1", "Received Hello, client2"]
        assert wait_until(lambda: server.stats["connections_open"] == 0)


def test_command_service_line_mode(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_text("")
    os.symlink("/", tmp_path / "escape")
    with netcore.CommandServer(root=tmp_path) as server:
        c, f = lines_client(server.server_address)
        assert ask(c, f, "os") == "[posix]\n"
        assert ask(c, f, "date").endswith("] date\n")
        assert json.loads(ask(c, f, "ls")) == ["escape", "sub"]
        assert json.loads(ask(c, f, "ls sub")) == ["a"]
        assert ask(c, f, "ls ../..") == "error: '..' is not allowed: ../..\n"
        assert ask(c, f, "ls /etc") == "error: absolute paths are not allowed: /etc\n"
        assert ask(c, f, "ls escape") == "error: path leads out of the served root: escape\n"
        assert ask(c, f, "help").startswith("commands: date, os, ls [PATH], help, quit, exit")
        assert ask(c, f, "something") == "welcome\n"
        assert ask(c, f, "exit") == "bye\n"
        assert f.readline() == b""
        c.close()


def test_banner_services_over_tcp_and_unix(tmp_path):
    with netcore.Server(service="banner", framing="message") as server:
        assert read_all(connect(server.server_address)) == b"Thank you for connection"
    path = str(tmp_path / "welcome.sock")
    with netcore.Server(path, service="banner", banner="欢迎访问！\r\n", framing="message") as server:
        assert server.server_address == path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        u = socket.socket(socket.AF_UNIX)
        u.settimeout(T)
        u.connect(path)
        assert read_all(u).decode("utf-8") == "欢迎访问！\r\n"
        u.close()
    assert not os.path.exists(path)


def test_echo_over_tcp_udp_and_unix(tmp_path):
    path = str(tmp_path / "echo.sock")
    with netcore.Server(service="echo", udp=("127.0.0.1", 0), unix=path) as server:
        kinds = [k for k, _ in server.addresses]
        assert kinds == ["tcp", "udp", "unix"]
        c, f = lines_client(server.server_address)
        assert ask(c, f, "über") == "über\n"
        c.close()
        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        d.settimeout(T)
        d.sendto(b"dgram", server.addresses[1][1])
        assert d.recv(100) == b"dgram"
        d.close()
        u = socket.socket(socket.AF_UNIX)
        u.settimeout(T)
        u.connect(path)
        u.sendall(b"a\r\nb\n")
        u.shutdown(socket.SHUT_WR)
        assert read_all(u) == b"a\nb\n"
        u.close()


def test_udp_server_greets_and_commands():
    with netcore.UDPServer(service="greet") as server:
        kind, addr = server.addresses[0]
        assert kind == "udp" and addr[1] != 0
        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        d.settimeout(T)
        d.sendto(b"bob", addr)
        assert d.recv(100) == b"Hello, bob"
    with netcore.UDPServer() as server:
        d.sendto(b"os", server.server_address)
        assert d.recv(100) == b"[posix]"
        assert server.stats["requests"] == 1
    d.close()


def test_python_commands_and_default_handler():
    server = netcore.CommandServer()
    seen = []

    @server.command("add")
    def add(request):
        seen.append(request)
        a, b = request.args.split()
        return str(int(a) + int(b))

    @server.command("raw")
    def raw(request):
        return b"%d:%s" % (len(request.args), request.args.hex().encode())

    @server.command("silent")
    def silent(request):
        return None

    with server:
        c, f = lines_client(server.server_address)
        assert ask(c, f, "add 2 40") == "42\n"
        c.sendall(b"raw \xff\x00\x01\n")
        assert f.readline() == b"3:ff0001\n"
        c.sendall(b"silent\nos\n")
        assert f.readline() == b"[posix]\n"  # silent sent nothing
        req = seen[0]
        assert (req.line, req.command, req.args, req.transport) == (b"add 2 40", b"add", b"2 40", "tcp")
        assert req.peer.startswith("127.0.0.1:")
        assert "add 2 40" in repr(req)

        server.set_default_handler(lambda r: "default:" + r.line.decode())
        assert ask(c, f, "no such") == "default:no such\n"

        @server.default
        def fallback(request):
            return bytearray(b"fallback")

        assert ask(c, f, "x") == "fallback\n"
        assert "add, raw, silent" in ask(c, f, "help")
        c.close()


def test_typed_replies_and_case_insensitive_names_in_line_framing():
    server = netcore.CommandServer()

    @server.command("Typed")
    def typed(request):
        return [request.argv, 7, None, {"k": 1.5}, netcore.SimpleString("OK")]

    @server.command("fail")
    def fail(request):
        raise netcore.ReplyError("WRONGTYPE not a list")

    @server.command("deny")
    def deny(request):
        return netcore.ReplyError("ERR denied")

    @server.command("bad")
    def bad(request):
        return object()

    with server:
        c, f = lines_client(server.server_address)
        assert ask(c, f, "  TYPED a  b ") == '[["TYPED", "a", "b"], 7, null, {"k": 1.5}, "OK"]\n'
        assert ask(c, f, "typed") == '[["typed"], 7, null, {"k": 1.5}, "OK"]\n'
        assert ask(c, f, "fail") == "error: WRONGTYPE not a list\n"
        assert ask(c, f, "deny") == "error: denied\n"
        assert ask(c, f, "bad") == "error: internal error in handler\n"
        for word in ["DATE", "Date", "  date  ", "date\t"]:
            assert ask(c, f, word).endswith("] date\n"), word
        assert ask(c, f, "HELP").endswith("exit, ping, stats, bad, deny, fail, typed\n")
        c.close()


def test_handler_exceptions_become_error_replies_and_log_records(caplog):
    server = netcore.Server(service="custom")

    @server.command("boom")
    def boom(request):
        raise RuntimeError("handler bug")

    @server.command("wrong")
    def wrong(request):
        return object()  # not a reply type (int, list, dict, ... are: test_typed_replies_...)

    with server, caplog.at_level(logging.ERROR, logger="netcore.server"):
        c, f = lines_client(server.server_address)
        assert ask(c, f, "boom") == "error: internal error in handler\n"
        assert ask(c, f, "wrong") == "error: internal error in handler\n"
        assert ask(c, f, "missing") == "error: unknown command: missing\n"
        c2, f2 = lines_client(server.server_address)  # the server keeps serving
        assert ask(c2, f2, "missing") == "error: unknown command: missing\n"
        assert server.stats["errors"] == 4
        c.close()
        c2.close()
    records = [r for r in caplog.records if r.name == "netcore.server"]
    assert len(records) == 2
    assert records[0].exc_info[0] is RuntimeError
    assert "boom" in records[0].getMessage()
    assert records[1].exc_info[0] is TypeError


def test_a_handler_can_shut_down_its_own_server():
    server = netcore.CommandServer()

    @server.command("stop")
    def stop(request):
        server.shutdown()  # would deadlock in socketserver; here it only asks
        return "stopping"

    result = {}

    def client():
        c, f = lines_client(server.server_address)
        result["reply"] = ask(c, f, "stop")
        result["after"] = f.readline()
        c.close()

    t = threading.Thread(target=client)
    t.start()
    server.serve_forever(poll_interval=0.05)
    t.join(T)
    assert result == {"reply": "stopping\n", "after": b""}
    assert not server.running
    with pytest.raises(OSError):
        connect(server.server_address)


def test_shutdown_from_another_thread_and_stats():
    server = netcore.CommandServer()
    c, f = lines_client(server.server_address)
    assert ask(c, f, "os") == "[posix]\n"
    timer = threading.Timer(0.2, server.shutdown)
    timer.start()
    server.serve_forever()
    timer.join()
    assert f.readline() == b""  # clients are closed
    st = server.stats
    assert st["requests"] == 1 and st["connections_total"] == 1 and st["connections_open"] == 0
    assert st["bytes_in"] == 3 and st["bytes_out"] == 8
    assert set(st) == {
        "connections_open",
        "connections_total",
        "requests",
        "bytes_in",
        "bytes_out",
        "errors",
        "rejected",
        "handshakes",
        "handshake_failures",
    }
    server.stop()  # again: harmless
    c.close()


def test_ctrl_c_stops_serve_forever_cleanly():
    code = """
        import netcore, sys
        server = netcore.CommandServer()
        print(server.server_address[1], flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("interrupted", server.running, flush=True)
    """
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline())
        c, f = lines_client(("127.0.0.1", port))
        assert ask(c, f, "os") == "[posix]\n"
        time.sleep(0.5)  # let the child's main thread reach serve_forever
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=T)
        assert p.returncode == 0
        assert out.strip() == "interrupted False"
        assert f.readline() == b""
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_limits_from_python():
    with netcore.CommandServer(max_connections=1, token="s3cret", max_line=32) as server:
        c, f = lines_client(server.server_address)
        assert ask(c, f, "s3cret") == "ok\n"
        assert ask(c, f, "os") == "[posix]\n"
        extra, ef = lines_client(server.server_address)
        assert ef.readline() == b"error: too many connections\n"
        extra.close()
        assert ask(c, f, "x" * 33) == "error: line too long (limit 32 bytes)\n"
        assert f.readline() == b""
        c.close()
        assert wait_until(lambda: server.stats["connections_open"] == 0)
        c, f = lines_client(server.server_address)
        assert ask(c, f, "os") == "error: authentication required\n"
        c.close()
        assert server.stats["rejected"] == 2
    with netcore.CommandServer(idle_timeout=0.3) as server:
        silent, sf = lines_client(server.server_address)
        started = time.monotonic()
        assert sf.readline() == b""  # closed by the idle timeout
        assert time.monotonic() - started >= 0.25
        silent.close()


def test_http_requests_are_cut_off():
    with netcore.Server(service="echo") as server:
        c = connect(server.server_address)
        c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert read_all(c) == b""
        c.close()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown service"):
        netcore.Server(service="shell")
    with pytest.raises(ValueError, match="unknown framing"):
        netcore.Server(framing="xml")
    with pytest.raises(ValueError, match="max_connections"):
        netcore.Server(max_connections=0)
    with pytest.raises(ValueError, match="only the banner service"):
        netcore.Server(service="echo", banner="hi")
    with pytest.raises(ValueError):
        netcore.Server(idle_timeout=-1)
    with pytest.raises(ValueError, match="root"):
        netcore.Server(root="/no/such/dir")
    # An unknown host is the resolver's error, as socketserver's: socket.gaierror.
    with pytest.raises(socket.gaierror):
        netcore.Server(("no-such-host.invalid", 0))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with pytest.raises(OSError) as info:
        netcore.Server(taken.getsockname())
    assert type(info.value) is OSError and info.value.errno == errno.EADDRINUSE
    assert info.value.strerror == "cannot listen on 127.0.0.1:%d: address already in use" % taken.getsockname()[1]
    taken.close()
    with netcore.Server() as server:
        with pytest.raises(TypeError):
            server.add_command("x", "not callable")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="invalid command name"):
            server.add_command("two words", lambda r: "x")
        assert repr(server).startswith("<netcore.Server command [('tcp', ('127.0.0.1',")


def test_host_names_resolve_to_ipv4_first():
    with netcore.Server(("localhost", 0)) as server:
        assert server.server_address[0] == "127.0.0.1"


def test_ipv6_loopback():
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    with netcore.Server(("::1", 0)) as server:
        host, port, _, _ = server.server_address
        assert host == "::1" and port != 0
        c = socket.create_connection(("::1", port), timeout=T)
        c.sendall(b"os\n")
        assert c.recv(100) == b"[posix]\n"
        c.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_clear_error():
    with netcore.CommandServer() as server:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                server.add_command("x", lambda r: "x")
                os._exit(1)
            except OSError as e:
                os._exit(0 if "fork" in str(e) else 2)
            except BaseException:
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        c, f = lines_client(server.server_address)
        assert ask(c, f, "os") == "[posix]\n"  # the parent's server is untouched
        c.close()


@pytest.mark.parametrize(
    "service, banner, request_, reply, udp_reply",
    [
        ("command", None, b"os", b"[posix]", b"[posix]"),
        ("greet", b"Hello, I am server", b"bob", b"Hello, bob!", b"Hello, bob"),
        ("banner", b"Thank you for connection", None, None, b"Thank you for connection"),
        ("echo", None, b"\xffbytes", b"\xffbytes", b"\xffbytes"),
    ],
)
def test_every_service_over_tcp_udp_and_unix(tmp_path, service, banner, request_, reply, udp_reply):
    path = str(tmp_path / "s.sock")
    with netcore.Server(service=service, udp=("127.0.0.1", 0), unix=path) as server:
        tcp_addr, udp_addr = server.addresses[0][1], server.addresses[1][1]
        for family, addr in [(socket.AF_INET, tcp_addr), (socket.AF_UNIX, path)]:
            c = socket.socket(family, socket.SOCK_STREAM)
            c.settimeout(T)
            c.connect(addr)
            f = c.makefile("rb")
            if banner is not None:
                assert f.readline() == banner + b"\n"
            if request_ is not None:
                c.sendall(request_ + b"\n")
                assert f.readline() == reply + b"\n"
            else:
                assert f.readline() == b""  # the banner service closes
            c.close()
        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        d.settimeout(T)
        d.sendto(request_ or b"x", udp_addr)
        assert d.recv(1024) == udp_reply
        d.close()


def test_a_blocking_python_handler_does_not_stop_the_other_clients():
    release = threading.Event()
    with netcore.CommandServer(workers=2) as server:

        @server.command("block", blocking=True)
        def block(request):
            release.wait(T)  # blocks its thread (the GIL is released while waiting)
            return "released"

        a, fa = lines_client(server.server_address)
        a.sendall(b"block\n")
        try:
            for _ in range(5):
                b, fb = lines_client(server.server_address)
                b.settimeout(5)  # far less than the handler blocks: a stalled reply fails here
                assert ask(b, fb, "os") == "[posix]\n"
                b.close()
        finally:
            release.set()
        assert fa.readline() == b"released\n"
        a.close()


def test_python_handlers_over_udp_and_unix_and_pipelined_in_order(tmp_path):
    path = str(tmp_path / "py.sock")
    server = netcore.Server(service="custom", udp=("127.0.0.1", 0), unix=path)

    @server.command("inc")
    def inc(request):
        return str(int(request.args) + 1)

    with server:
        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        d.settimeout(T)
        d.sendto(b"inc 41", server.addresses[1][1])
        assert d.recv(100) == b"42"
        d.close()
        u = socket.socket(socket.AF_UNIX)
        u.settimeout(T)
        u.connect(path)
        u.sendall(b"".join(b"inc %d\n" % i for i in range(500)))
        u.shutdown(socket.SHUT_WR)
        assert read_all(u).split() == [str(i + 1).encode() for i in range(500)]
        u.close()
        # Several clients at once, each answered in its own order.
        results = {}

        def client(k):
            c, f = lines_client(server.server_address)
            c.sendall(b"".join(b"inc %d\n" % (k * 1000 + i) for i in range(200)))
            results[k] = [int(f.readline()) for _ in range(200)]
            c.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T)
        assert results == {k: [k * 1000 + i + 1 for i in range(200)] for k in range(8)}


def test_options_not_given_take_the_core_defaults():
    defaults = netcore.Server.DEFAULTS
    assert defaults["max_connections"] >= 1 and defaults["service"] == "command"
    assert netcore.Server.SERVICES == ["command", "greet", "banner", "echo", "custom"]
    assert netcore.Server.FRAMINGS == ["line", "message", "resp"]
    # Explicit None is "not given" for every option: the engine fills each in.
    with netcore.Server(
        service=None, framing=None, max_connections=None, max_line=None, idle_timeout=None,
        max_output=None, workers=None,
    ) as server:
        assert server._core.service == "command"
        with socket.create_connection(server.server_address, timeout=5) as c:
            c.sendall(b"os\n")
            assert c.recv(100) == b"[posix]\n"


def test_idle_timeout_zero_is_never_in_every_face():
    # 0 means "no timeout" in C, the CLI and Python alike (the core's idle_timeout_secs).
    with netcore.Server(idle_timeout=0, workers=1) as server:
        with socket.create_connection(server.server_address, timeout=5) as c:
            time.sleep(0.3)
            c.sendall(b"os\n")
            assert c.recv(100) == b"[posix]\n"


def test_listen_addresses_follow_the_core_rule():
    # Host names resolve in Python as in C and the CLI (one parser in the core).
    with netcore.Server(("localhost", 0)) as server:
        assert server.server_address[0] == "127.0.0.1"
    with netcore.Server(("::1", 0)) as server:
        assert server.server_address[0] == "::1"
    with netcore.UDPServer(("localhost", 0)) as server:
        assert server.addresses[0][0] == "udp"
    with pytest.raises(TypeError, match=r"address must be tuple or str, not int"):
        netcore.Server(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        netcore.Server(("127.0.0.1", "80"))  # type: ignore[arg-type]
    with pytest.raises(OverflowError, match="port must be 0-65535"):
        netcore.Server(("127.0.0.1", 70000))
    with pytest.raises(TypeError, match="str, bytes or bytearray expected, not int"):
        netcore.Server((1, 80))  # type: ignore[arg-type]


def listen_backlog(port):
    """The backlog of the TCP listener on `port`, as the kernel reports it (ss: Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[2])


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_backlog_reaches_the_listening_socket():
    assert netcore.Server.DEFAULTS["backlog"] == 1024
    with netcore.Server(("127.0.0.1", 0), backlog=7) as server:
        assert listen_backlog(server.server_address[1]) == 7
    with netcore.Server(("127.0.0.1", 0)) as server:
        with open("/proc/sys/net/core/somaxconn") as f:
            assert listen_backlog(server.server_address[1]) == min(1024, int(f.read()))
    with pytest.raises(ValueError, match="backlog must be at least 1"):
        netcore.Server(("127.0.0.1", 0), backlog=0)
    with pytest.raises(TypeError):
        netcore.Server(("127.0.0.1", 0), backlog="7")


def test_busy_poll_serves_as_the_ordinary_read_and_checks_its_window():
    assert netcore.Server.DEFAULTS["busy_poll_us"] == 50
    for window in (0, 100_000):  # off, and the longest
        with netcore.Server(("127.0.0.1", 0), "echo", busy_poll_us=window) as server:
            with socket.create_connection(server.server_address, timeout=10) as c:
                f = c.makefile("rb")
                for i in range(50):
                    c.sendall(b"%d\n" % i)
                    assert f.readline() == b"%d\n" % i
                f.close()
    with pytest.raises(ValueError, match="busy_poll must be at most 100000"):
        netcore.Server(("127.0.0.1", 0), busy_poll_us=100_001)
    with pytest.raises(OverflowError):
        netcore.Server(("127.0.0.1", 0), busy_poll_us=-1)
    with pytest.raises(TypeError):
        netcore.Server(("127.0.0.1", 0), busy_poll_us="50")  # type: ignore[arg-type]


def test_huge_seconds_are_overflow_errors_not_panics():
    """Every seconds option goes through the core's one conversion: past the platform's
    clocks it is CPython's OverflowError (as socket.settimeout(1e300)), never a panic."""
    for kwargs in ({"idle_timeout": 1e300}, {"handshake_timeout": 1e300}):
        with pytest.raises(OverflowError, match="timestamp out of range for platform time_t"):
            netcore.Server(("127.0.0.1", 0), **kwargs)
    with pytest.raises(OverflowError, match="timestamp out of range"):
        netcore.Client(("127.0.0.1", 9), timeout=1e300)
    with pytest.raises(OverflowError, match="timestamp out of range"):
        netcore.getfqdn("localhost", timeout=1e300)
    with netcore.Server(("127.0.0.1", 0), "echo") as server:
        with pytest.raises(OverflowError, match="timestamp out of range"):
            server._core.wait(1e300)
        with pytest.raises(OverflowError, match="timestamp out of range"):
            server.stop(1e300)
