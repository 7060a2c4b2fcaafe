"""netcore.Client and netcore.udp_request against servers the tests start on loopback."""

import errno
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import netcore
from gil_probe import ticker
from client_servers import (
    start_command_server,
    start_greet_server,
    start_udp_server,
    unused_port,
)


def test_request_and_pipeline(line_port):
    with netcore.Client("localhost", line_port, timeout=5) as c:
        assert c.request("hello") == "got hello"
        assert c.request(b"bytes too") == "got bytes too"
        lines = ["n%d" % i for i in range(1000)]
        assert c.pipeline(lines) == ["got " + l for l in lines]
        assert c.pipeline([]) == []
        assert c.getpeername()[1] == line_port
        assert not c.closed
    assert c.closed
    with pytest.raises(OSError, match="closed"):
        c.request("after close")


def test_bad_arguments_lose_nothing(line_port):
    with netcore.Client("127.0.0.1", line_port) as c:
        with pytest.raises(ValueError, match="newline"):
            c.request("two\nlines")
        with pytest.raises(TypeError):
            c.request(42)
        with pytest.raises(TypeError):
            c.pipeline("not a list of lines")
        with pytest.raises(ValueError):
            c.message(b"")
        assert c.request("still connected") == "got still connected"
    # A lone string is a Unix socket path (the package's address rule).
    with pytest.raises(FileNotFoundError):
        netcore.Client("no-such-dir/netcore.sock")
    with pytest.raises(TypeError, match="a host and a port"):
        netcore.Client(port=line_port)
    with pytest.raises(ValueError):
        netcore.Client("127.0.0.1", line_port, timeout=-1)
    with pytest.raises(OverflowError):
        netcore.Client("127.0.0.1", 70000)


def test_replies_decode_as_python_decodes_utf8_and_every_argument_type_goes_out_as_is(line_port):
    # The str of a reply is bytes.decode("utf-8", "replace") of its line, made in one step;
    # str arguments go out as their UTF-8, bytes and bytearray as they are.
    raw = b"caf\xc3\xa9 \xff\xfe \xed\xa0\x80 \xf0\x9f\x98 end"
    want = (b"got " + raw).decode("utf-8", "replace")
    with netcore.Client("127.0.0.1", line_port, timeout=5) as c:
        assert c.request(raw) == want
        assert c.request("caf\u00e9 \U0001f600") == "got caf\u00e9 \U0001f600"
        assert c.pipeline([raw, "\u00e9", bytearray(b"ba"), b"b"]) == [want, "got \u00e9", "got ba", "got b"]
        c.send(raw + b"\n")
        assert c.read_line() == want
        with pytest.raises(UnicodeEncodeError):
            c.request("lone \ud800 surrogate")
        with pytest.raises(UnicodeEncodeError):
            c.pipeline(["fine", "\udc80"])
        assert c.request("still connected") == "got still connected"


def test_resp_commands_go_through_tls(pki):
    # A RESP command is encrypted like every other request (it went out in plain text).
    tls = dict(tls_cert=pki / "server.pem", tls_key=pki / "server.key")
    with netcore.Server(service="command", framing="resp", **tls) as server:
        port = server.server_address[1]
        with netcore.Client(
            "127.0.0.1", port, tls=True, cafile=pki / "ca.pem", server_hostname="localhost", framing="resp", timeout=5
        ) as c:
            assert c.command("PING") == "PONG"
            assert c.request("PING") == "PONG"


def test_closed_mid_reply_timeout_and_too_long(line_port):
    c = netcore.Client("127.0.0.1", line_port, timeout=5)
    with pytest.raises(ConnectionResetError, match="closed by peer"):
        c.request("half")
    assert c.closed
    with pytest.raises(OSError, match="earlier error"):
        c.request("again")

    c = netcore.Client("127.0.0.1", line_port, timeout=5)
    with pytest.raises(ConnectionResetError):
        c.request("quit")

    c = netcore.Client("127.0.0.1", line_port, timeout=0.2)
    assert c.timeout == pytest.approx(0.2)
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        c.request("silent")
    assert time.monotonic() - started < 4

    c = netcore.Client("127.0.0.1", line_port, timeout=5, max_reply=1000)
    with pytest.raises(ValueError, match="line too long"):
        c.request("big")


def test_refused_and_unknown_host():
    with pytest.raises(ConnectionRefusedError):
        netcore.Client("127.0.0.1", unused_port(), timeout=5)
    with pytest.raises(socket.gaierror):
        netcore.Client("no-such-host.invalid", 80, timeout=5)


def test_ipv6_and_unix(tmp_path):
    if socket.has_ipv6:
        try:
            srv = socket.socket(socket.AF_INET6)
            srv.bind(("::1", 0))
        except OSError:
            srv = None
        if srv is not None:
            srv.listen(1)
            port = srv.getsockname()[1]

            def answer():
                conn, _ = srv.accept()
                conn.recv(100)
                conn.sendall(b"six\n")
                conn.close()

            t = threading.Thread(target=answer, daemon=True)
            t.start()
            with netcore.Client("::1", port, timeout=5) as c:
                assert c.request("v6?") == "six"
            t.join(5)
            srv.close()

    path = str(tmp_path / "line.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def echo():
        conn, _ = srv.accept()
        conn.sendall(conn.recv(100))
        conn.close()

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    with netcore.Client(unix=path, timeout=5) as c:
        assert c.request("over unix") == "over unix"
        assert c.getpeername() is None
    t.join(5)
    srv.close()


def test_busy_poll_us_reads_the_same_replies_and_checks_its_window():
    with netcore.Server(("127.0.0.1", 0), "command") as server:
        port = server.server_address[1]
        for window in (None, 0, 100_000):  # the core's default (50), off, the longest
            kw = {} if window is None else {"busy_poll_us": window}
            with netcore.Client("127.0.0.1", port, timeout=5, **kw) as c:
                assert [c.request("os") for _ in range(50)] == ["[posix]"] * 50
                assert c.pipeline(["os"] * 20) == ["[posix]"] * 20
        with pytest.raises(ValueError, match="busy_poll must be at most 100000"):
            netcore.Client("127.0.0.1", port, busy_poll_us=100_001)
        with pytest.raises(OverflowError):
            netcore.Client("127.0.0.1", port, busy_poll_us=-1)
        with pytest.raises(TypeError):
            netcore.Client("127.0.0.1", port, busy_poll_us="50")  # type: ignore[arg-type]


def test_a_unix_socket_with_a_full_backlog_is_blocking_io_error_as_in_the_stdlib(tmp_path):
    # A listener that never accepts, its queue of one taken: CPython's socket with a timeout
    # fails at once with EAGAIN; so does netcore.Client, instead of waiting out its timeout.
    path = str(tmp_path / "full.sock")
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind(path)
        srv.listen(0)
        queued = []
        for _ in range(16):
            c = socket.socket(socket.AF_UNIX)
            c.settimeout(2)
            try:
                c.connect(path)
            except BlockingIOError as e:
                c.close()
                stdlib = e
                break
            queued.append(c)
        else:
            pytest.fail("the backlog never filled")
        started = time.monotonic()
        with pytest.raises(BlockingIOError) as got:
            netcore.Client(unix=path, timeout=2)
        assert time.monotonic() - started < 1.5
        assert got.value.errno == stdlib.errno == errno.EAGAIN
        for c in queued:
            c.close()


def test_message_framing_with_the_seed_servers():
    port, stop = start_command_server()
    try:
        with netcore.Client("127.0.0.1", port, timeout=5, quiet=0.1) as c:
            assert c.message("date").decode().endswith("] date")
            assert c.message(b"os") == b"[posix]"
            assert c.message("anything") == b"welcome"
    finally:
        stop()
    port, stop = start_greet_server()
    try:
        with netcore.Client("127.0.0.1", port, timeout=5, quiet=0.1) as c:
            assert c.greeting(2.0) == b"Hello, I am server"
            assert c.greeting(0.05) is None
            assert not c.closed
        with netcore.Client("127.0.0.1", port, timeout=5, quiet=0.1) as c:
            assert c.receive() == b"Hello, I am server"
            for name in ("client1", "client2", "client3"):
                assert c.message(name) == ("Hello, %s!" % name).encode()
            c.send("exit")
    finally:
        stop()


def test_udp_request():
    port, stop = start_udp_server()
    try:
        assert netcore.udp_request("127.0.0.1", port, b"client1") == b"Hello, client1"
        assert netcore.udp_request("localhost", port, "client2", timeout=1, retries=0) == b"Hello, client2"
    finally:
        stop()
    with pytest.raises(ConnectionRefusedError):
        netcore.udp_request("127.0.0.1", unused_port(), b"x", timeout=1, retries=0)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    with pytest.raises(socket.timeout):
        netcore.udp_request("127.0.0.1", silent.getsockname()[1], b"x", timeout=0.05, retries=1)
    silent.close()


def test_gil_is_released_while_waiting(line_port):
    c = netcore.Client("127.0.0.1", line_port, timeout=1.0)
    with ticker() as ticks:
        with pytest.raises(socket.timeout):
            c.request("silent")
    # The other thread kept running during the one-second wait.
    assert len(ticks) > 10


def test_ctrl_c_interrupts_a_wait(line_port):
    script = (
        "import netcore, os, signal, threading, time\n"
        "c = netcore.Client('127.0.0.1', %d, timeout=None)\n"
        "threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    c.request('silent')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after %%.1f s' %% (time.monotonic() - t))\n"
        "    print('closed:', c.closed)\n" % line_port
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("interrupted after 0."), out.stdout
    assert "closed: True" in out.stdout


SIGINT_ELSEWHERE = r"""
import signal, socket, sys, threading, time
import netcore

stage = sys.argv[1]
# A listener that never accepts: the first connection completes in the kernel, nothing is
# read or answered. With backlog 0 its queue holds one, so later SYNs are dropped and a
# connect hangs.
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(0)
port = srv.getsockname()[1]
held = []
if stage == "connect":
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        held.append(s)
    time.sleep(0.2)
silent_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
silent_udp.bind(("127.0.0.1", 0))
c = None if stage in ("connect", "udp") else netcore.Client("127.0.0.1", port, timeout=None)

def elsewhere():
    # Aimed at this helper thread: the main thread's system call sees no EINTR, so only
    # the clients' check every slice can notice the signal.
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)

threading.Timer(0.3, elsewhere).start()
started = time.monotonic()
try:
    if stage == "connect":
        netcore.Client("127.0.0.1", port, timeout=None)
    elif stage == "request":
        c.request("nobody answers")
    elif stage == "pipeline":
        c.pipeline(["nobody answers"] * 100)
    elif stage == "send":
        c.send(b"x" * (64 << 20))  # more than the socket buffers hold: nobody reads
    elif stage == "udp":
        netcore.udp_request("127.0.0.1", silent_udp.getsockname()[1], b"x", timeout=30, retries=0)
    print("returned")
except KeyboardInterrupt:
    print("interrupted after %.1f s" % (time.monotonic() - started))
if c is not None:
    c.close()
for s in held + [srv, silent_udp]:
    s.close()
"""


@pytest.mark.parametrize("stage", ["connect", "request", "pipeline", "send", "udp"])
def test_ctrl_c_aimed_at_another_thread_still_ends_every_wait_promptly(stage):
    """The clients run their hook every slice of waiting (in poll or blocked in the kernel),
    so a SIGINT that another thread took (no EINTR in the waiting call) still raises
    KeyboardInterrupt within a fraction of a second: connecting, reading, sending, UDP."""
    out = subprocess.run([sys.executable, "-c", SIGINT_ELSEWHERE, stage], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("interrupted after 0."), out.stdout


def test_signal_handlers_run_during_a_wait_and_what_they_raise_ends_it(line_port):
    # The one wait helper (gil::blocking) the sockets, clients and URL reads share: a handler
    # that returns lets the wait go on (PEP 475), the exception of one that raises ends it.
    ticks = []

    def on_alarm(signum, frame):
        ticks.append(time.monotonic())
        if len(ticks) == 5:
            raise ValueError("from the handler")

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        c = netcore.Client("127.0.0.1", line_port, timeout=30)
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        started = time.monotonic()
        with pytest.raises(ValueError, match="from the handler"):
            c.request("silent")
        signal.setitimer(signal.ITIMER_REAL, 0)
        assert len(ticks) == 5
        assert time.monotonic() - started < 10
        c.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_an_address_as_every_other_face_takes_it(line_port, tmp_path):
    # Issue 11 item 13: the (host, port) tuple netcore.Server and socket.connect take.
    with netcore.Client(("127.0.0.1", line_port), timeout=5) as c:
        assert c.request("tuple") == "got tuple"
    with netcore.Client(("localhost", line_port), timeout=5) as c:
        assert c.getpeername()[1] == line_port
    with netcore.Server(str(tmp_path / "s.sock"), "echo") as server:
        with netcore.Client(server.server_address, timeout=5) as c:  # a Unix path
            assert c.request("unix") == "unix"
        with netcore.Client(tmp_path / "s.sock", timeout=5) as c:  # os.PathLike
            assert c.request("pathlike") == "pathlike"
    # Wrong types get the stdlib's wording.
    with pytest.raises(TypeError, match=r"Client\(\): address must be tuple or str, not int"):
        netcore.Client(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str, bytes or bytearray expected, not int"):
        netcore.Client((1, line_port))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        netcore.Client("127.0.0.1", "80")  # type: ignore[arg-type]
    with pytest.raises(OverflowError, match="port must be 0-65535"):
        netcore.Client(("127.0.0.1", 70000))
    with pytest.raises(TypeError, match="takes an address"):
        netcore.Client()
    with pytest.raises(ValueError, match="max_reply"):
        netcore.Client(("127.0.0.1", line_port), max_reply=0)
