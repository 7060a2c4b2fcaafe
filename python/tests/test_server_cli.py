"""`python -m netcore serve`: announces its addresses, serves, stops cleanly on SIGTERM and
SIGINT; bad arguments exit 2."""

import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest


def start(*args):
    p = subprocess.Popen([sys.executable, "-m", "netcore", "serve", *args], stderr=subprocess.PIPE, text=True)
    lines = []
    while True:
        line = p.stderr.readline()
        assert line, "serve exited early: " + "".join(lines)
        lines.append(line)
        if "press Ctrl+C" in line:
            return p, lines


def stop(p, sig):
    p.send_signal(sig)
    rest = p.stderr.read()
    p.stderr.close()
    assert p.wait(timeout=30) == 0, rest
    assert "netcore: stopped after" in rest
    return rest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_tcp_udp_and_unix_then_stop(tmp_path, sig):
    path = str(tmp_path / "cli.sock")
    p, lines = start("--service", "echo", "--listen", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--unix", path)
    try:
        found = dict(re.findall(r"on (tcp|udp|unix) (\S+)", "".join(lines)))
        host, port = found["tcp"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=20) as c:
            c.sendall(b"hi\n")
            assert c.recv(100) == b"hi\n"
        uhost, uport = found["udp"].rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as d:
            d.settimeout(20)
            d.sendto(b"dgram", (uhost, int(uport)))
            assert d.recv(100) == b"dgram"
        assert found["unix"] == path
        with socket.socket(socket.AF_UNIX) as u:
            u.settimeout(20)
            u.connect(path)
            u.sendall(b"unix\n")
            assert u.recv(100) == b"unix\n"
        rest = stop(p, sig)
        assert "3 requests" in rest
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_token_file(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    p, lines = start("--listen", "127.0.0.1:0", "--token-file", str(token))
    try:
        host, port = re.search(r"on tcp (\S+):(\d+)", "".join(lines)).groups()
        with socket.create_connection((host, int(port)), timeout=20) as c:
            f = c.makefile("rb")
            c.sendall(b"s3cret\nos\n")
            assert f.readline() == b"ok\n"
            assert f.readline() == b"[posix]\n"
        stop(p, signal.SIGTERM)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_bad_arguments_exit_2(run_cli, tmp_path):
    assert run_cli("serve", "--service", "shell").returncode == 2
    assert run_cli("serve", "--listen", "not-an-address").returncode == 2
    out = run_cli("serve", "--token-file", str(tmp_path / "missing"))
    assert out.returncode == 2
    assert "cannot read token file" in out.stderr


def test_serve_reaches_every_engine_option():
    # --service custom, --workers and --max-output exist (issue 11 item 12) and take effect.
    p, lines = start("--service", "custom", "--listen", "localhost:0", "--workers", "1", "--max-output", "4096")
    try:
        assert "serving custom (line framing)" in "".join(lines)
        host, port = re.search(r"on tcp (\S+):(\d+)", "".join(lines)).groups()
        with socket.create_connection((host, int(port)), timeout=20) as c:
            c.sendall(b"date\n")
            assert c.makefile("rb").readline() == b"error: unknown command: date\n"
        stop(p, signal.SIGTERM)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_core_rules_refuse_bad_options(run_cli):
    out = run_cli("serve", "--service", "echo", "--banner", "hi")
    assert out.returncode == 2
    assert "only the banner service takes a banner text" in out.stderr
    for bad in ("--workers=0", "--max-output=0", "--idle-timeout=-1"):
        out = run_cli("serve", bad)
        assert out.returncode == 2, bad


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_backlog_flag_reaches_the_listening_socket():
    p, lines = start("--listen", "127.0.0.1:0", "--backlog", "5")
    try:
        port = int(re.search(r"on tcp 127\.0\.0\.1:(\d+)", "".join(lines)).group(1))
        out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
        assert int(out.split()[2]) == 5, out
    finally:
        stop(p, signal.SIGTERM)
    bad = subprocess.run([sys.executable, "-m", "netcore", "serve", "--backlog", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "backlog must be at least 1" in bad.stderr, bad.stderr


def test_busy_poll_flag_is_checked_by_the_core():
    bad = subprocess.run([sys.executable, "-m", "netcore", "serve", "--busy-poll-us", "100001"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "busy_poll must be at most 100000" in bad.stderr, bad.stderr
    p, lines = start("--listen", "127.0.0.1:0", "--busy-poll-us", "50")
    try:
        port = int(re.search(r"on tcp 127\.0\.0\.1:(\d+)", "".join(lines)).group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(b"os\n")
            assert c.makefile("rb").readline() == b"[posix]\n"
    finally:
        stop(p, signal.SIGTERM)


def test_huge_seconds_flags_are_refused_with_the_cores_words():
    bad = subprocess.run([sys.executable, "-m", "netcore", "serve", "--idle-timeout", "1e300"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "timestamp out of range" in bad.stderr, bad.stderr
    assert "panicked" not in bad.stderr
