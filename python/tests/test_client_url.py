"""netcore.urlopen and netcore.urlretrieve (seed 003) on the same Rust code as `fetch`."""

import os
import socket
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
    with pytest.raises(socket.gaierror):
        netcore.urlopen("http://no-such-host.invalid/")
    with pytest.raises(ConnectionRefusedError):
        netcore.urlopen("http://127.0.0.1:%d/" % unused_port(), timeout=5)
    with pytest.raises(ValueError, match="unsupported URL"):
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
