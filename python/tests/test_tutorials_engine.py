"""The engine versions of the seed servers (examples/tutorials/*/*_engine.py) and seed 003's
urlopen/urlretrieve program, each run as a separate process on a free loopback port and
driven by the seeds' own clients, in their netcore and stdlib flavours (see
test_tutorials.py for the helpers and the flavours)."""

import functools
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
from test_tutorials import Server, free_port, run_client
from tutorial_programs import ROOT, TUTORIALS

FLAVOURS = ["netcore", "stdlib"]


def interrupt(server, sig=signal.SIGINT, timeout=20.0):
    """Ctrl+C (or `sig`) for a server process, then its whole output once it has exited."""
    server.proc.send_signal(sig)
    try:
        code = server.proc.wait(timeout=timeout)
    finally:
        lines = server.stop()
    assert code == 0, (code, lines, server.proc.stderr.read())
    return lines


@pytest.mark.parametrize("client_flavour", FLAVOURS)
def test_seed000_engine_command_server(client_flavour):
    port = free_port()
    server = Server("seed000/command_server_engine.py", [port], "netcore", "waiting for connection")
    requests = ["date", "os", "hello", "ls examples", "ls /etc", "help"]
    try:
        replies = {}
        for request in requests:
            out = run_client("seed000/command_client.py", ["127.0.0.1", port], client_flavour, stdin=request + "\n")
            replies[request] = out.strip(">\n")
        # Lines typed before Ctrl+D are joined into one message, as the seed's client does.
        joined = run_client("seed000/command_client.py", ["127.0.0.1", port], client_flavour, stdin="d\nate\n")
    finally:
        lines = interrupt(server)
    assert re.fullmatch(r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] date", replies["date"]), replies["date"]
    assert replies["os"] == "[posix]"
    assert replies["hello"] == "welcome"
    # The engine's ls: a JSON array of the served root (the server's directory), never outside.
    assert replies["ls examples"] == json.dumps(sorted(os.listdir(ROOT / "examples")))
    assert replies["ls /etc"] == "error: absolute paths are not allowed: /etc"
    assert replies["help"] == "commands: date, os, ls [PATH], help, quit, exit, ping, stats"
    assert re.fullmatch(r"\[.*\] date", joined.strip(">\n"))
    assert lines == ["waiting for connection...", f"stopped after {len(requests) + 1} connections"]


def test_seed000_engine_summary_says_1_connection_and_0_connections():
    for clients, summary in ((1, "stopped after 1 connection"), (0, "stopped after 0 connections")):
        port = free_port()
        server = Server("seed000/command_server_engine.py", [port], "netcore", "waiting for connection")
        try:
            for _ in range(clients):
                run_client("seed000/command_client.py", ["127.0.0.1", port], "netcore", stdin="os\n")
        finally:
            lines = interrupt(server)
        assert lines == ["waiting for connection...", summary]


@pytest.mark.parametrize("client_flavour", FLAVOURS)
def test_seed002_engine_greet_server_tcp_and_udp(client_flavour):
    tcp_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
    server = Server("seed002/server_engine.py", [tcp_port, udp_port], "netcore", f"Bind udp on {udp_port}...")
    try:
        tcp = run_client("seed002/tcp_client.py", [tcp_port], client_flavour)
        udp = run_client("seed002/udp_client.py", [udp_port], client_flavour)
    finally:
        lines = interrupt(server)
    assert tcp.splitlines() == [
        "接收到的服务端数据:Hello, I am server",
        "服务端又返回来的数据:Hello, client1! ",
        "服务端又返回来的数据:Hello, client2! ",
        "服务端又返回来的数据:Hello, client3! ",
    ]
    assert udp.splitlines() == ["Received Hello, client1", "Received Hello, client2"]
    assert lines == ["Waiting for connection...", f"Bind udp on {udp_port}..."]


@pytest.mark.parametrize("client_flavour", FLAVOURS)
def test_seed001_engine_server_with_connect(client_flavour):
    port = free_port()
    server = Server("seed001/server_engine.py", [port], "netcore", "Waiting for connections...")
    try:
        out = run_client("seed001/connect.py", ["localhost", port], client_flavour)
        # Like server.py, the engine closes at once: the peer sees EOF without a byte.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            assert s.recv(1024) == b""
    finally:
        lines = interrupt(server, signal.SIGTERM)  # `kill` stops it like Ctrl+C
    assert f"Connecting to remote host on port {port}..." in out
    assert f"Connected to  ('127.0.0.1', {port})" in out
    assert lines == ["Waiting for connections... ", "Connections served: 2"]


@pytest.mark.parametrize("client_flavour", FLAVOURS)
def test_seed001_engine_udp_server_with_seed004_sender(client_flavour):
    port = free_port(socket.SOCK_DGRAM)
    server = Server("seed001/udp_server_engine.py", [port], "netcore", "Waiting for datagrams...")
    try:
        out = run_client("seed004/udp_sender.py", [port], client_flavour, stdin="你好, socket\n")
        assert server.wait_for("Got data from", timeout=10)
    finally:
        lines = interrupt(server)
    assert out == "发送的数据:"
    assert re.fullmatch(r"Got data from 127\.0\.0\.1:\d+ : 你好, socket", lines[1]), lines
    assert len(lines) == 2


@pytest.mark.parametrize("client_flavour", FLAVOURS)
def test_seed003_engine_thank_you_server(client_flavour):
    port = free_port()
    server = Server("seed003/thanks_server_engine.py", ["127.0.0.1", port], "netcore", "Serving on")
    try:
        outs = [run_client("seed003/thanks_client.py", ["127.0.0.1", port], client_flavour) for _ in range(2)]
    finally:
        lines = interrupt(server)
    assert outs == ["Thank you for connection\n"] * 2
    assert lines == [f"Serving on 127.0.0.1:{port}"]


@pytest.mark.parametrize("client_flavour", FLAVOURS)
def test_seed004_engine_welcome_server(client_flavour):
    port = free_port()
    server = Server("seed004/welcome_server_engine.py", ["127.0.0.1", port], "netcore", "Serving on")
    try:
        out = run_client("seed004/welcome_client.py", ["127.0.0.1", port], client_flavour)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            raw = s.recv(1024)
    finally:
        interrupt(server)
    assert out == "欢迎访问！\n\n"  # \r\n read back in text mode
    assert raw == "欢迎访问！\r\n".encode("utf-8")


# -- seed 003's urlopen / urlretrieve program ------------------------------------------------

PAGE = b"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n<html><body>netcore</body></html>\n"
# Run "as stdlib": the seed's functions from urllib.request, the Python 3 home of urllib's.
URLLIB_SHIM = (
    "import runpy, sys, urllib.request; sys.modules['netcore'] = urllib.request; "
    "prog = sys.argv[1]; sys.argv = sys.argv[1:]; runpy.run_path(prog, run_name='__main__')"
)


@pytest.fixture
def http_site(tmp_path):
    (tmp_path / "index.html").write_bytes(PAGE)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def run_urls(flavour, *args):
    program = str(TUTORIALS / "seed003" / "urls.py")
    prefix = [sys.executable, "-c", URLLIB_SHIM] if flavour == "stdlib" else [sys.executable]
    return subprocess.run([*prefix, program, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_seed003_urlopen_urlretrieve(http_site, tmp_path, flavour):
    local = tmp_path / "notes.txt"
    local.write_text("A local file, read through a file: URL, longer than forty-five bytes.\n")
    saved = tmp_path / "temp.html"
    done = run_urls(flavour, http_site, local, saved)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        repr(PAGE[:45]),
        repr(b"A local file, read through a file: URL, longe"),
        "<class 'tuple'>",
        f"{len(PAGE)} bytes saved",
    ]
    assert saved.read_bytes() == PAGE


def test_seed003_urls_defaults_and_bad_input(http_site):
    done = run_urls("netcore", http_site)  # reads itself through file:, saves to a temporary file
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == repr(b'"""Seed 003\'s urlopen / urlretrieve on netcor')
    usage = run_urls("netcore")
    assert (usage.returncode, usage.stderr) == (1, "usage: urls.py URL [FILE [SAVE_AS]]\n")
    missing = run_urls("netcore", http_site.replace("index.html", "missing.html"))
    assert missing.returncode == 1
    assert "HTTP Error 404" in missing.stderr.splitlines()[-1]
