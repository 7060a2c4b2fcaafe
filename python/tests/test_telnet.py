"""Seed 001's "test it with telnet": Debian's real telnet on a pseudo-terminal against the
engine's line framing, in telnet's line mode and in character mode (CR NUL line endings and
IAC option negotiation, RFC 854), and the same bytes sent raw."""

import re
import shutil
import socket

import netcore
import pytest
from test_cli_client import Terminal


@pytest.fixture
def command_port():
    with netcore.CommandServer(("127.0.0.1", 0)) as server:
        yield server.server_address[1]


def test_real_telnet_in_line_and_character_mode(command_port):
    assert shutil.which("telnet"), "Debian's telnet is needed (scripts/debian-packages.txt)"
    t = Terminal(["telnet", "127.0.0.1", str(command_port)])
    t.expect("Escape character is")
    t.type("os\r")  # line mode: telnet sends os CR LF
    t.expect(r"\[posix\]")
    t.type("\x1d")  # Ctrl+]: telnet's own prompt
    t.expect("telnet> ")
    t.type("mode character\r")  # now: IAC DO SGA, IAC DO ECHO, and lines end with CR NUL
    t.type("date\r")
    t.expect(r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] date")
    t.type("ls nowhere\r")
    t.expect("error: ")
    t.type("quit\r")
    t.expect("bye")
    code, out = t.finish()
    assert "Connection closed by foreign host" in out, out
    assert "NUL byte" not in out, out


def exchange(port, chunks, replies):
    """Sends `chunks` one by one and reads until `replies` lines came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        for chunk in chunks:
            s.sendall(chunk)
        got = b""
        while got.count(b"\n") < replies:
            data = s.recv(4096)
            if not data:
                break
            got += data
        return got.decode().splitlines()


def test_cr_nul_ends_a_line_and_negotiation_is_ignored(command_port):
    # Exactly what telnet sends in character mode.
    lines = exchange(command_port, [b"\xff\xfd\x03\xff\xfd\x01os\r\x00", b"help\r\x00"], 2)
    assert lines == ["[posix]"] + exchange(command_port, [b"help\n"], 1)
    assert lines[1].startswith("commands: date, os, ls [PATH], help, quit, exit")
    # Typed one key at a time, a command split between reads, a subnegotiation in the middle.
    keys = [b"o", b"s", b"\r", b"\x00", b"\xff", b"\xfb", b"\x18", b"\xff\xfa\x18\x00xterm\xff\xf0", b"os\r\x00"]
    assert exchange(command_port, keys, 2) == ["[posix]", "[posix]"]


def test_other_nul_bytes_are_still_refused(command_port):
    lines = exchange(command_port, [b"ls a\x00b\n"], 1)
    assert lines == ["error: request contains a NUL byte"]
    assert re.match(r"\[.*\] date", exchange(command_port, [b"date\r\n"], 1)[0])
