"""netcore.urlopen and netcore.urlretrieve (seed 003) on the same Rust code as `fetch`."""

import os
import socket
import subprocess
import sys
import urllib.error

import pytest

import netcore
from client_servers import GOPHER_ABOUT, start_gopher_server, start_http_server, unused_port


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello http\nsecond line\nthird\n")
    port, stop = start_http_server(str(root))
    yield "http://127.0.0.1:%d" % port
    stop()


def test_urlopen_is_file_like(site):
    with netcore.urlopen(site + "/hello.txt", timeout=10) as resp:
        assert resp.status == 200 and resp.getcode() == 200
        assert resp.reason == "OK"
        assert resp.headers["content-length"] == "29"
        assert resp.headers.get("Content-Type") == "text/plain"
        assert resp.readline() == b"hello http\n"
        assert resp.read(3) == b"sec"
        assert resp.readline(100) == b"ond line\n"
        assert list(resp) == [b"third\n"]
        assert resp.read() == b""
    assert resp.closed
    with pytest.raises(ValueError):
        resp.read()


def test_urlopen_follows_redirects_and_raises_http_error(site):
    resp = netcore.urlopen(site + "/redirect")
    assert resp.url == site + "/hello.txt"
    assert resp.readlines()[0] == b"hello http\n"
    with pytest.raises(urllib.error.HTTPError) as err:
        netcore.urlopen(site + "/missing")
    assert err.value.code == 404
    assert err.value.headers["Content-Type"].startswith("text/html")


def test_urlopen_network_errors():
    # urllib's errors: URLError wrapping the cause (test_tls_url.py compares with CPython).
    with pytest.raises(urllib.error.URLError) as info:
        netcore.urlopen("http://no-such-host.invalid/")
    assert isinstance(info.value.reason, socket.gaierror)
    with pytest.raises(urllib.error.URLError) as info:
        netcore.urlopen("http://127.0.0.1:%d/" % unused_port(), timeout=5)
    assert isinstance(info.value.reason, ConnectionRefusedError)
    with pytest.raises(urllib.error.URLError, match="unknown url type: ftp"):
        netcore.urlopen("ftp://localhost/")
    with pytest.raises(ValueError):
        netcore.urlopen("http://localhost/", timeout=-1)


def test_urlopen_file_and_gopher(tmp_path):
    f = tmp_path / "seed.txt"
    f.write_bytes(b"line one\nline two\n")
    resp = netcore.urlopen("file:" + str(f))
    assert resp.readline(4) == b"line"
    assert resp.headers["Content-Length"] == "18"
    port, stop = start_gopher_server()
    try:
        assert netcore.urlopen("gopher://localhost:%d/0/about" % port).read() == GOPHER_ABOUT
        with pytest.raises(OSError, match="does not exist"):
            netcore.urlopen("gopher://localhost:%d/0/nope" % port)
    finally:
        stop()


def test_urlretrieve(site, tmp_path):
    dest = tmp_path / "saved.txt"
    name, headers = netcore.urlretrieve(site + "/hello.txt", str(dest))
    assert name == str(dest)
    assert dest.read_bytes() == b"hello http\nsecond line\nthird\n"
    assert headers["Content-Length"] == "29"
    name, _ = netcore.urlretrieve(site + "/hello.txt")
    try:
        with open(name, "rb") as f:
            assert f.read().startswith(b"hello http")
    finally:
        os.remove(name)
    with pytest.raises(urllib.error.HTTPError):
        netcore.urlretrieve(site + "/missing", str(tmp_path / "never.txt"))
    assert not (tmp_path / "never.txt").exists()


STALLING_HTTP = """
import os, signal, socket, sys, threading, time
import netcore

# A server that answers with headers and the start of a 100-byte body, then goes quiet
# (or, with "headers", never answers at all).
stage = sys.argv[1]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
held = []

def serve():
    conn, _ = srv.accept()
    held.append(conn)
    conn.recv(65536)
    if stage == "body":
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\nhello\\n")

threading.Thread(target=serve, daemon=True).start()
url = "http://127.0.0.1:%d/" % srv.getsockname()[1]
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
start = time.monotonic()
resp = None
try:
    resp = netcore.urlopen(url)  # no timeout: only Ctrl+C can end the wait
    print("line", resp.readline())
    resp.read()
except KeyboardInterrupt:
    print("interrupted after %.1f s" % (time.monotonic() - start))
if resp is not None:
    resp.close()
    print("closed", resp.closed)
    try:
        resp.read()
    except ValueError as e:
        print("after close:", e)
"""


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_ctrl_c_interrupts_urlopen_and_its_reads(stage):
    """Ctrl+C ends a wait inside the HTTP library: for the response's headers (urlopen) and
    for a body that stalls (read); buffered lines are still read without waiting, and the
    response closes cleanly after the interruption."""
    out = subprocess.run([sys.executable, "-c", STALLING_HTTP, stage], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "interrupted after 0." in out.stdout, out.stdout
    if stage == "body":
        assert "line b'hello\\n'" in out.stdout
        assert "closed True" in out.stdout
        assert "after close: I/O operation on closed response" in out.stdout


INTERRUPTED_RETRIEVE = """
import os, signal, socket, sys, threading, time
import netcore

# Headers and the start of a 100-byte body, then nothing until the client was interrupted;
# then the rest, so a download left running would complete.
target = sys.argv[1]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
interrupted = threading.Event()

def serve():
    conn, _ = srv.accept()
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\n" + b"x" * 10)
    interrupted.wait(10)
    conn.sendall(b"y" * 90)
    conn.close()

threading.Thread(target=serve, daemon=True).start()
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    netcore.urlretrieve("http://127.0.0.1:%d/" % srv.getsockname()[1], target)
    print("completed")
except KeyboardInterrupt:
    print("interrupted")
interrupted.set()
time.sleep(1.0)  # the rest of the body arrives meanwhile
print("file exists:", os.path.exists(target))
print("left beside it:", sorted(os.listdir(os.path.dirname(target))))
"""


def test_ctrl_c_cancels_urlretrieve_without_leaving_a_file(tmp_path):
    """An interrupted download stops: neither the file nor its temporary appear afterwards,
    even though the server goes on to send the whole body."""
    target = tmp_path / "out.bin"
    out = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_RETRIEVE, str(target)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["interrupted", "file exists: False", "left beside it: []"], out.stdout


READ_AFTER_INTERRUPT = """
import os, signal, socket, sys, threading, time
import netcore

# A 100-byte body: 10 bytes, a stall until the client was interrupted, then the rest.
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
interrupted = threading.Event()

def serve():
    conn, _ = srv.accept()
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\n" + b"x" * 10)
    interrupted.wait(10)
    time.sleep(0.3)
    conn.sendall(b"y" * 90)
    conn.close()

threading.Thread(target=serve, daemon=True).start()
resp = netcore.urlopen("http://127.0.0.1:%d/" % srv.getsockname()[1])
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    resp.read(50)
except KeyboardInterrupt:
    print("interrupted")
interrupted.set()
# The interrupted read still owns the body until it ends (its 50 bytes are dropped); this
# read waits for it and goes on from there.
print("rest", resp.read())
"""


def test_a_read_after_an_interrupted_one_waits_for_it_and_goes_on():
    out = subprocess.run([sys.executable, "-c", READ_AFTER_INTERRUPT], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["interrupted", "rest " + repr(b"y" * 50)], out.stdout
