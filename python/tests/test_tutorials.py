"""The seed tutorials' programs (examples/tutorials), run as separate processes on free
loopback ports, their output compared with the transcripts printed in the seeds. Each pair
also runs with mixed peers: a program run "as stdlib" has `netcore` replaced by the stdlib
`socket` module, which is exactly the one-line change the port made."""

import os
import re
import socket
import socketserver
import subprocess
import threading
import time

import pytest

from tutorial_programs import ROOT, command

MIXES = [("netcore", "netcore"), ("netcore", "stdlib"), ("stdlib", "netcore")]


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A tutorial server in its own process; its output is collected by a reader thread and
    the process is stopped by PID when the test ends."""

    def __init__(self, program, args, flavour, ready_line=None):
        self.proc = subprocess.Popen(
            command(program, args, flavour),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if ready_line is not None and not self.wait_for(ready_line):
            # Read stderr before stop() closes it, and only from a process that has ended.
            err = self.proc.stderr.read() if self.proc.poll() is not None else "(still running)"
            self.stop()
            raise AssertionError(f"{program} did not start: {self.lines!r} {err!r}")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()
        return self.lines


def start_server(program, args, flavour, ready_line, kind=socket.SOCK_STREAM, attempts=5):
    """(server, port): `program` started with `args(port)` on a free port. Another process can
    take the port between free_port() and the server's bind (tests run in parallel with other
    suites); the server then dies of EADDRINUSE and is started again on a new port."""
    for attempt in range(attempts):
        port = free_port(kind)
        try:
            return Server(program, args(port), flavour, ready_line), port
        except AssertionError as e:
            if "Address already in use" not in str(e) or attempt + 1 == attempts:
                raise
    raise AssertionError("unreachable")


def start_silent_server(program, flavour, attempts=5):
    """(server, port) for a seed server that prints nothing once it listens (`program host
    port`): probed until it accepts, and started again on a new port if it lost its port to
    another process, as start_server does."""
    for attempt in range(attempts):
        port = free_port()
        server = Server(program, ["127.0.0.1", port], flavour)
        if _wait_listening(port, server.proc):
            return server, port
        err = server.proc.stderr.read() if server.proc.poll() is not None else "(still running)"
        server.stop()
        if "Address already in use" not in err or attempt + 1 == attempts:
            raise AssertionError(f"{program} did not start listening on {port}: {err!r}")
    raise AssertionError("unreachable")


def run_client(program, args, flavour, stdin=None):
    done = subprocess.run(
        command(program, args, flavour), input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("server_flavour,client_flavour", MIXES)
def test_seed000_command_server_and_client(server_flavour, client_flavour):
    server, port = start_server("seed000/command_server.py", lambda p: [p], server_flavour, "waiting for connection")
    try:
        replies = {}
        for request in ["date", "os", "ls", "ls examples", "hello"]:
            out = run_client("seed000/command_client.py", ["127.0.0.1", port], client_flavour, stdin=request + "\n")
            replies[request] = out.strip(">\n")  # prompts around the printed reply
        # A client that connects and vanishes without a word must not stop the server.
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
        again = run_client("seed000/command_client.py", ["127.0.0.1", port], client_flavour, stdin="os\n")
    finally:
        lines = server.stop()
    assert re.fullmatch(r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] date", replies["date"]), replies["date"]
    assert replies["os"] == "[posix]"
    assert replies["ls"] == "[.]"
    assert replies["ls examples"] == "[%s]" % os.listdir(ROOT / "examples")
    assert replies["hello"] == "welcome"
    assert again.strip(">\n") == "[posix]"
    assert lines[0] == "waiting for connection..."
    assert any(line.startswith("...Connected from: ('127.0.0.1', ") for line in lines)
    assert any(line.endswith("connection closed") for line in lines)


@pytest.mark.parametrize("server_flavour,client_flavour", MIXES)
def test_seed002_threaded_tcp_transcript(server_flavour, client_flavour):
    server, port = start_server("seed002/tcp_server.py", lambda p: [p], server_flavour, "Waiting for connection...")
    try:
        out = run_client("seed002/tcp_client.py", [port], client_flavour)
        server.wait_for("closed.")  # the seed's server sleeps 1 s per message before closing
    finally:
        lines = server.stop()
    assert out.splitlines() == [
        "接收到的服务端数据:Hello, I am server",
        "服务端又返回来的数据:Hello, client1! ",
        "服务端又返回来的数据:Hello, client2! ",
        "服务端又返回来的数据:Hello, client3! ",
    ]
    text = "\n".join(lines)
    assert re.fullmatch(
        r"Waiting for connection\.\.\.\n"
        r"Accept new connection from 127\.0\.0\.1:\d+\n"
        r"客户端发来的数据:client1\n客户端发来的数据:client2\n客户端发来的数据:client3\n"
        r"Connection from 127\.0\.0\.1:\d+ closed\.",
        text,
    ), text


@pytest.mark.parametrize("server_flavour,client_flavour", MIXES)
def test_seed002_udp_transcript(server_flavour, client_flavour):
    server, port = start_server(
        "seed002/udp_server.py", lambda p: [p], server_flavour, "Bind udp on", kind=socket.SOCK_DGRAM
    )
    try:
        out = run_client("seed002/udp_client.py", [port], client_flavour)
    finally:
        lines = server.stop()
    assert out.splitlines() == ["Received Hello, client1", "Received Hello, client2"]
    assert len([line for line in lines if re.fullmatch(r"Received from 127\.0\.0\.1:\d+", line)]) == 2


@pytest.mark.parametrize("server_flavour,client_flavour", MIXES)
def test_seed001_connect_and_server(server_flavour, client_flavour):
    server, port = start_server("seed001/server.py", lambda p: [p], server_flavour, "Waiting for connections...")
    try:
        out = run_client("seed001/connect.py", ["localhost", port], client_flavour)
        server.wait_for("Got connection from")
    finally:
        lines = server.stop()
    assert out.splitlines()[:5] == [
        "Creating socket... ",
        "Done!",
        "Looking up port number... ",
        "Done!",
        f"Connecting to remote host on port {port}...",
    ]
    assert re.search(r"Connected from  \('127\.0\.0\.1', \d+\)", out), out
    assert f"Connected to  ('127.0.0.1', {port})" in out
    assert any(re.fullmatch(r"Got connection from  \('127\.0\.0\.1', \d+\)", line) for line in lines), lines


@pytest.mark.parametrize("server_flavour,client_flavour", MIXES)
def test_seed001_udp_server_with_seed004_sender(server_flavour, client_flavour):
    server, port = start_server(
        "seed001/udp_server.py", lambda p: [p], server_flavour, "Waiting for datagrams...", kind=socket.SOCK_DGRAM
    )
    try:
        out = run_client("seed004/udp_sender.py", [port], client_flavour, stdin="你好, socket\n")
        server.wait_for("Got data from")
    finally:
        lines = server.stop()
    assert out == "发送的数据:"
    assert any(re.fullmatch(r"Got data from \('127\.0\.0\.1', \d+\) : 你好, socket", line) for line in lines), lines


@pytest.mark.parametrize("server_flavour,client_flavour", MIXES)
def test_seed003_thank_you_pair(server_flavour, client_flavour):
    server, port = start_silent_server("seed003/thanks_server.py", server_flavour)
    try:
        out = run_client("seed003/thanks_client.py", ["127.0.0.1", port], client_flavour)
    finally:
        server.stop()
    assert out == "Thank you for connection\n"


@pytest.mark.parametrize("server_flavour,client_flavour", MIXES)
def test_seed004_welcome_pair(server_flavour, client_flavour):
    server, port = start_silent_server("seed004/welcome_server.py", server_flavour)
    try:
        out = run_client("seed004/welcome_client.py", ["127.0.0.1", port], client_flavour)
        server.wait_for("连接地址")
    finally:
        lines = server.stop()
    assert out == "欢迎访问！\n\n"  # \r\n read back in text mode
    assert any(re.fullmatch(r"连接地址: \('127\.0\.0\.1', \d+\)", line) for line in lines), lines


def test_seed003_lookups():
    out = run_client("seed003/lookups.py", ["localhost", "no-such-host.invalid"], "netcore")
    assert out.splitlines() == [
        "getservbyname('http', 'tcp') -> 80",
        "getservbyname('smtp', 'tcp') -> 25",
        "gethostbyname('localhost') -> '127.0.0.1'",
        "getfqdn('127.0.0.1') -> %r" % socket.getfqdn("127.0.0.1"),
        "gethostbyname('no-such-host.invalid') failed: [Errno -2] Name or service not known",
    ]


class _Gopher(socketserver.StreamRequestHandler):
    documents = {"": "1Welcome\t/welcome\tlocalhost\t70\r\n.\r\n", "/hello": "hello from gopher\r\n"}

    def handle(self):
        selector = self.rfile.readline().decode().rstrip("\r\n")
        body = self.documents.get(selector, "3'%s' does not exist\r\n" % selector)
        self.wfile.write(body.encode())


@pytest.fixture
def gopher_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Gopher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("flavour", ["netcore", "stdlib"])
def test_seed003_gopher_client(gopher_server, flavour):
    port = gopher_server
    assert run_client("seed003/gopher_client.py", ["127.0.0.1", "/hello", port], flavour) == "hello from gopher\n"
    missing = run_client("seed003/gopher_client.py", ["127.0.0.1", "/nope", port], flavour)
    assert missing == "/nope文件不存在\n"


@pytest.mark.parametrize("flavour", ["netcore", "stdlib"])
def test_seed003_gopher_client_reports_failures(flavour):
    path = command("seed003/gopher_client.py", [], flavour)
    unknown = subprocess.run(path + ["no-such-host.invalid", "/", "70"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1
    assert unknown.stdout.startswith("host或者端口错误:[Errno -2]")
    refused = subprocess.run(path + ["127.0.0.1", "/", str(free_port())], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stdout == "连接错误:[Errno 111] Connection refused\n"


def _wait_listening(port, proc, timeout=30.0):
    """True once something accepts on `port`; False if `proc` ends first or time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False
