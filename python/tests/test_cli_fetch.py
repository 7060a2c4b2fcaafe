"""`netcore gopher` and `netcore fetch` against a small Gopher server and Python's
http.server, both started by the tests on loopback."""

import os
import subprocess
import sys

import pytest

from client_servers import GOPHER_ABOUT, GOPHER_MENU, start_gopher_server, start_http_server, unused_port
from test_cli_client import Terminal

NETCORE = [sys.executable, "-m", "netcore"]
BIG = 300 * 1024


def run(*args, timeout=60):
    return subprocess.run(NETCORE + list(args), capture_output=True, timeout=timeout)


@pytest.fixture
def gopher_port():
    port, stop = start_gopher_server()
    yield port
    stop()


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello http\nsecond line\n")
    (root / "big.bin").write_bytes(bytes(range(256)) * (BIG // 256))
    port, stop = start_http_server(str(root))
    yield "http://127.0.0.1:%d" % port, root
    stop()


def test_gopher_menu_and_document(gopher_port):
    out = run("gopher", "localhost", "--port", str(gopher_port))
    assert (out.returncode, out.stdout) == (0, GOPHER_MENU)
    out = run("gopher", "127.0.0.1", "/about", "-p", str(gopher_port))
    assert (out.returncode, out.stdout, out.stderr) == (0, GOPHER_ABOUT, b"")


def test_gopher_each_failure_has_its_line_and_code(gopher_port):
    out = run("gopher", "no-such-host.invalid")
    assert out.returncode == 3
    assert out.stderr.decode().startswith("netcore: gopher: look-up of no-such-host.invalid failed: [Errno -2]")
    refused = unused_port()
    out = run("gopher", "127.0.0.1", "--port", str(refused))
    assert out.returncode == 4
    assert out.stderr.decode() == "netcore: gopher: cannot connect to 127.0.0.1:%d: [Errno 111] Connection refused\n" % refused
    out = run("gopher", "127.0.0.1", "/hang", "--port", str(gopher_port), "--timeout", "0.3")
    assert out.returncode == 6
    assert out.stderr.decode() == "netcore: gopher: receiving from 127.0.0.1:%d failed: timed out after 0.3 s\n" % gopher_port
    out = run("gopher", "127.0.0.1", "/nope", "--port", str(gopher_port))
    assert out.returncode == 7
    assert out.stdout == b""
    assert out.stderr.decode() == (
        'netcore: gopher: selector "/nope" not found on 127.0.0.1:%d: '
        "'/nope' does not exist (no handler found)\n" % gopher_port
    )
    out = run("gopher", "127.0.0.1", "a\tb", "--port", str(gopher_port))
    assert out.returncode == 2
    assert b"must not contain" in out.stderr
    assert b"Exit codes:" in run("gopher", "--help").stdout


def test_fetch_http_to_stdout_with_redirect(http_root):
    base, _ = http_root
    out = run("fetch", base + "/hello.txt")
    assert (out.returncode, out.stdout) == (0, b"hello http\nsecond line\n")
    out = run("fetch", base + "/redirect")
    assert (out.returncode, out.stdout) == (0, b"hello http\nsecond line\n")


def test_fetch_failures(http_root, tmp_path):
    base, _ = http_root
    out = run("fetch", base + "/missing.txt")
    assert out.returncode == 1
    assert out.stderr.decode() == "netcore: fetch %s/missing.txt: HTTP 404 Not Found\n" % base
    out = run("fetch", base + "/loop")
    assert out.returncode == 1
    assert "too many redirects" in out.stderr.decode()
    out = run("fetch", "http://no-such-host.invalid/x")
    assert out.returncode == 1
    assert out.stderr.decode() == "netcore: fetch http://no-such-host.invalid/x: [Errno -2] Name or service not known\n"
    refused = unused_port()
    out = run("fetch", "http://127.0.0.1:%d/" % refused)
    assert out.returncode == 1
    assert out.stderr.decode().endswith("[Errno 111] Connection refused\n")
    out = run("fetch", "ftp://localhost/x")
    assert out.returncode == 2
    assert "unknown url type: ftp" in out.stderr.decode()
    # A failed download leaves an existing file as it was, and no temporary file behind.
    keep = tmp_path / "keep.txt"
    keep.write_bytes(b"precious")
    out = run("fetch", base + "/missing.txt", "-o", str(keep))
    assert out.returncode == 1
    assert keep.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["keep.txt", "www"]


def test_fetch_to_file_reports_size(http_root, tmp_path):
    base, root = http_root
    dest = tmp_path / "copy.bin"
    out = run("fetch", base + "/big.bin", "-o", str(dest))
    assert out.returncode == 0, out.stderr
    assert dest.read_bytes() == (root / "big.bin").read_bytes()
    assert out.stderr.decode() == "saved %d bytes to %s\n" % (BIG, dest)


def test_fetch_progress_bar_at_a_terminal(http_root, tmp_path):
    base, _ = http_root
    dest = tmp_path / "bar.bin"
    t = Terminal(NETCORE + ["fetch", base + "/big.bin", "-o", str(dest)])
    code, screen = t.finish()
    assert code == 0, screen
    # The bar shows the total size (300 KiB) and ends at it.
    assert "300.00 KiB/300.00 KiB" in screen, screen
    assert "saved %d bytes" % BIG in screen
    assert dest.stat().st_size == BIG


def test_fetch_file_and_gopher_urls(tmp_path, gopher_port):
    src = tmp_path / "local.txt"
    src.write_bytes(b"from a file\n")
    assert run("fetch", "file:" + str(src)).stdout == b"from a file\n"
    assert run("fetch", "file://" + str(src)).stdout == b"from a file\n"
    out = run("fetch", "file:" + str(tmp_path / "absent"))
    assert out.returncode == 1
    assert b"No such file or directory" in out.stderr
    out = run("fetch", "gopher://127.0.0.1:%d/0/about" % gopher_port)
    assert (out.returncode, out.stdout) == (0, GOPHER_ABOUT)
    out = run("fetch", "gopher://127.0.0.1:%d/" % gopher_port)
    assert out.stdout == GOPHER_MENU


def test_ctrl_c_ends_a_waiting_gopher_at_once(gopher_port):
    import signal
    import time

    proc = subprocess.Popen(NETCORE + ["gopher", "127.0.0.1", "/hang", "--port", str(gopher_port), "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.monotonic()
    try:
        time.sleep(0.7)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Even under `python -m netcore`, Ctrl+C ends the wait like in any plain program.
    assert proc.returncode == -signal.SIGINT
    assert time.monotonic() - started < 20
