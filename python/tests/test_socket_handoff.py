"""A C program and a Python program hand one TCP connection to each other over a Unix socket:
Python accepts it and passes it to C (netcore.send_fds), C writes on it and passes it back
(netcore_socket_send_fds), Python writes on it too; the client reads both lines."""

from __future__ import annotations

import os
import socket as stdsocket
import subprocess
from pathlib import Path

import netcore

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / "build" / "prefix"


def build_c_half(tmp_path: Path) -> Path:
    """Builds ctests/socket_handoff.c against the installed library (scripts/test-c installs it
    into build/prefix; installed here when missing)."""
    if not (PREFIX / "lib" / "pkgconfig" / "netcore.pc").exists():
        subprocess.run(["make", "-s", "install", f"PREFIX={PREFIX}"], cwd=ROOT, check=True, timeout=1200)
    env = dict(os.environ, PKG_CONFIG_PATH=str(PREFIX / "lib" / "pkgconfig"))
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "netcore"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    exe = tmp_path / "socket_handoff"
    subprocess.run(
        ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", str(ROOT / "ctests" / "socket_handoff.c"), "-o", str(exe), *flags],
        check=True,
        timeout=120,
    )
    return exe


def test_a_connection_goes_from_python_to_c_and_back(tmp_path):
    exe = build_c_half(tmp_path)
    path = str(tmp_path / "handoff.sock")
    with netcore.socket(netcore.AF_UNIX) as unix_listener, netcore.create_server(("127.0.0.1", 0)) as tcp:
        unix_listener.bind(path)
        unix_listener.listen()
        unix_listener.settimeout(30)
        env = dict(os.environ, LD_LIBRARY_PATH=str(PREFIX / "lib"))
        child = subprocess.Popen([str(exe), path], env=env, stderr=subprocess.PIPE, text=True)
        try:
            to_c, _ = unix_listener.accept()
            client = stdsocket.create_connection(tcp.getsockname(), timeout=30)
            conn, _ = tcp.accept()
            assert netcore.send_fds(to_c, [b"take"], [conn.fileno()]) == 4
            conn.close()  # C has its own copy now
            to_c.settimeout(30)
            note, fds, flags, _ = netcore.recv_fds(to_c, 16, 1)
            assert (note, len(fds), flags) == (b"back", 1, 0)
            with netcore.socket(fileno=fds[0]) as back:
                assert back.getpeername() == client.getsockname()
                back.sendall(b"from Python\n")
            assert child.wait(timeout=30) == 0, child.stderr.read() if child.stderr else ""
            got = b""
            while not got.endswith(b"from Python\n"):
                chunk = client.recv(100)
                assert chunk, got
                got += chunk
            assert got == b"from C\nfrom Python\n"
            client.close()
            to_c.close()
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stderr.close()
