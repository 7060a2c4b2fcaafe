"""Small loopback servers the client and CLI tests start themselves (stdlib only, port 0).

Each ``start_*`` returns ``(port, stop)``; every server thread is a daemon and every
connection handler ends when its client goes away, so nothing outlives the test process.
"""

from __future__ import annotations

import http.server
import os
import socket
import socketserver
import threading
import time
from typing import Callable, Tuple


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _UDP(socketserver.ThreadingUDPServer):
    daemon_threads = True


def _start(server: socketserver.BaseServer) -> Tuple[int, Callable[[], None]]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return server.server_address[1], stop


class LineHandler(socketserver.StreamRequestHandler):
    """One reply line per request line. ``quit`` closes at once, ``half`` sends part of a
    reply and closes, ``silent`` never answers, ``big`` answers with a 2 MiB line, anything
    else gets ``got <line>\\r\\n``."""

    disable_nagle_algorithm = True

    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            if line == b"quit":
                return
            if line == b"half":
                self.wfile.write(b"par")
                return
            if line == b"silent":
                continue
            try:
                if line == b"big":
                    self.wfile.write(b"x" * (2 << 20) + b"\n")
                else:
                    self.wfile.write(b"got " + line + b"\r\n")
            except OSError:
                return


def start_line_server() -> Tuple[int, Callable[[], None]]:
    return _start(_TCP(("127.0.0.1", 0), LineHandler))


class PongHandler(socketserver.StreamRequestHandler):
    """A redis-like inline PING server: ``+PONG`` for every line."""

    disable_nagle_algorithm = True

    def handle(self) -> None:
        for _ in self.rfile:
            self.wfile.write(b"+PONG\r\n")


class WrongHandler(socketserver.StreamRequestHandler):
    """Answers like PongHandler, except every 10th reply on a connection is ``-ERR wrong``."""

    disable_nagle_algorithm = True

    def handle(self) -> None:
        for n, _ in enumerate(self.rfile, start=1):
            self.wfile.write(b"-ERR wrong\r\n" if n % 10 == 0 else b"+PONG\r\n")


def start_pong_server(wrong: bool = False) -> Tuple[int, Callable[[], None]]:
    return _start(_TCP(("127.0.0.1", 0), WrongHandler if wrong else PongHandler))


class CommandHandler(socketserver.BaseRequestHandler):
    """Seed 000's command server: each chunk received is one command, answered with no
    terminator (``date``, ``os``, ``ls [PATH]``, anything else ``welcome``)."""

    def handle(self) -> None:
        while True:
            data = self.request.recv(1024)
            if not data:
                return
            text = data.decode()
            if text == "date":
                reply = "[%s] %s" % (time.ctime(), text)
            elif text == "os":
                reply = "[%s]" % os.name
            elif text[:2] == "ls":
                reply = "[%s]" % (os.curdir if len(text) == 2 else os.listdir(text[3:]))
            else:
                reply = "welcome"
            self.request.sendall(reply.encode())


def start_command_server() -> Tuple[int, Callable[[], None]]:
    return _start(_TCP(("127.0.0.1", 0), CommandHandler))


class GreetHandler(socketserver.BaseRequestHandler):
    """Seed 002's threaded server: a greeting, ``Hello, <msg>!`` per message, ``exit`` closes."""

    def handle(self) -> None:
        self.request.sendall(b"Hello, I am server")
        while True:
            data = self.request.recv(1024)
            if not data or data == b"exit":
                return
            self.request.sendall(b"Hello, %s!" % data)


def start_greet_server() -> Tuple[int, Callable[[], None]]:
    return _start(_TCP(("127.0.0.1", 0), GreetHandler))


class UdpHandler(socketserver.BaseRequestHandler):
    """Seed 002's UDP server: each datagram gets ``Hello, <data>``."""

    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(b"Hello, " + data, self.client_address)


def start_udp_server() -> Tuple[int, Callable[[], None]]:
    return _start(_UDP(("127.0.0.1", 0), UdpHandler))


GOPHER_MENU = b"0About this server\t/about\tlocalhost\t70\r\n1Files\t/files\tlocalhost\t70\r\n.\r\n"
GOPHER_ABOUT = b"A tiny Gopher server for the tests.\r\n"


class GopherHandler(socketserver.StreamRequestHandler):
    """A Gopher server: the empty selector is a menu, ``/about`` a text, ``/big`` 300 KiB,
    ``/hang`` never answers; anything else gets a type-3 error item."""

    def handle(self) -> None:
        selector = self.rfile.readline().rstrip(b"\r\n")
        if selector == b"":
            self.wfile.write(GOPHER_MENU)
        elif selector == b"/about":
            self.wfile.write(GOPHER_ABOUT)
        elif selector == b"/big":
            self.wfile.write(b"g" * (300 * 1024))
        elif selector == b"/hang":
            time.sleep(3)
        else:
            self.wfile.write(b"3'%s' does not exist (no handler found)\t\terror.host\t1\r\n.\r\n" % selector)


def start_gopher_server() -> Tuple[int, Callable[[], None]]:
    return _start(_TCP(("127.0.0.1", 0), GopherHandler))


def start_http_server(root: str) -> Tuple[int, Callable[[], None]]:
    """http.server over ``root``, plus ``/redirect`` (302 to ``/hello.txt``) and ``/loop``
    (a redirect to itself)."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=root, **kwargs)

        def do_GET(self) -> None:
            if self.path in ("/redirect", "/loop"):
                self.send_response(302)
                self.send_header("Location", "/hello.txt" if self.path == "/redirect" else "/loop")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return _start(server)


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HangUpHandler(socketserver.StreamRequestHandler):
    """Answers ``+PONG`` five times, then closes the connection."""

    disable_nagle_algorithm = True

    def handle(self) -> None:
        for n, _ in enumerate(self.rfile, start=1):
            self.wfile.write(b"+PONG\r\n")
            if n == 5:
                return


def start_hangup_server() -> Tuple[int, Callable[[], None]]:
    return _start(_TCP(("127.0.0.1", 0), HangUpHandler))


class ThanksHandler(socketserver.BaseRequestHandler):
    """Seed 003's thank-you server: one greeting, then the connection is closed."""

    def handle(self) -> None:
        self.request.sendall(b"Thank you for connection")


def start_thanks_server() -> Tuple[int, Callable[[], None]]:
    return _start(_TCP(("127.0.0.1", 0), ThanksHandler))
