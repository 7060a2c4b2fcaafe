"""HTTPS for urlopen, urlretrieve and `netcore fetch`, against Python's http.server wrapped in
ssl and `openssl s_server -WWW`; and urllib's errors, side by side with CPython's urlopen on
the same inputs."""

import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest

import netcore
from tutorial_programs import TUTORIALS

BODY = b"hello over tls\n" * 100


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/to/"):  # /to/URL: a redirect there
            self.send_response(302)
            self.send_header("Location", self.path[4:])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


@contextmanager
def web_server(directory, pki=None, cert="server"):
    """http.server on 127.0.0.1 serving `directory`; TLS with `cert` when pki is given."""
    handler = lambda *a, **kw: Handler(*a, directory=str(directory), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if pki is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(tmp_path):
    (tmp_path / "hello.txt").write_bytes(BODY)
    return tmp_path


def test_urlopen_and_urlretrieve_over_https(pki, site, tmp_path):
    with web_server(site, pki) as port:
        url = f"https://localhost:{port}/hello.txt"
        with netcore.urlopen(url, cafile=pki / "ca.pem", timeout=10) as r:
            assert r.status == 200 and r.read() == BODY
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with netcore.urlopen(url, context=ctx) as r:
            assert r.read() == BODY
        with netcore.urlopen(url, capath=pki) as r:  # a directory of CA files
            assert r.read() == BODY
        saved, headers = netcore.urlretrieve(url, tmp_path / "copy.txt", cafile=pki / "ca.pem")
        with open(saved, "rb") as f:
            assert f.read() == BODY and headers["Content-Length"] == str(len(BODY))


def test_a_context_is_honoured_for_verify_mode_and_check_hostname(pki, site):
    with web_server(site, pki, cert="other") as port:
        url = f"https://127.0.0.1:{port}/hello.txt"
        strict = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        for opener in (netcore.urlopen, urllib.request.urlopen):
            with pytest.raises(urllib.error.URLError) as info:
                opener(url, context=strict)
            assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
            assert info.value.reason.verify_code == 64  # IP address mismatch, as OpenSSL says
            assert "IP address mismatch, certificate is not valid for '127.0.0.1'." in str(info.value.reason)
        no_name = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        no_name.check_hostname = False
        unchecked = ssl.create_default_context()
        unchecked.check_hostname = False
        unchecked.verify_mode = ssl.CERT_NONE
        for ctx in (no_name, unchecked):
            for opener in (netcore.urlopen, urllib.request.urlopen):
                with opener(url, context=ctx) as r:
                    assert r.read() == BODY
        with pytest.raises(ValueError, match="both context and"):
            netcore.urlopen(url, context=strict, cafile=pki / "ca.pem")
        with pytest.raises(TypeError):
            netcore.urlopen(url, context="not a context")


def test_certificate_failures_are_urllib_errors_like_cpythons(pki, site):
    cases = [("expired", "localhost", 10), ("server", "localhost", 20)]
    for cert, host, code in cases:
        with web_server(site, pki, cert=cert) as port:
            url = f"https://{host}:{port}/hello.txt"
            # code 20: trust only the other CA.
            ca = pki / ("ca.pem" if code != 20 else "rogue-ca.pem")
            seen = []
            for opener, kw in (
                (netcore.urlopen, dict(cafile=ca)),
                (urllib.request.urlopen, dict(context=ssl.create_default_context(cafile=str(ca)))),
            ):
                with pytest.raises(urllib.error.URLError) as info:
                    opener(url, timeout=10, **kw)
                reason = info.value.reason
                seen.append((type(info.value), type(reason), reason.verify_code, reason.reason))
                assert "CERTIFICATE_VERIFY_FAILED" in str(reason)
            assert seen[0] == seen[1], seen


def test_http_to_https_redirect_followed_and_https_to_http_refused(pki, site):
    with web_server(site, pki) as tls_port, web_server(site) as plain_port:
        up = f"http://127.0.0.1:{plain_port}/to/https://localhost:{tls_port}/hello.txt"
        with netcore.urlopen(up, cafile=pki / "ca.pem") as r:
            assert r.read() == BODY and r.geturl().startswith("https://")
        down = f"https://localhost:{tls_port}/to/http://127.0.0.1:{plain_port}/hello.txt"
        with pytest.raises(urllib.error.URLError, match="from https to plain http refused"):
            netcore.urlopen(down, cafile=pki / "ca.pem")


def test_openssl_s_server_serves_fetch_and_urlopen(pki, site, tmp_path, run_cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["openssl", "s_server", "-WWW", "-accept", str(port), "-cert", str(pki / "server.pem"),
         "-key", str(pki / "server.key"), "-quiet"],
        cwd=site, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"https://localhost:{port}/hello.txt"
        deadline = time.monotonic() + 20
        while True:
            try:
                with netcore.urlopen(url, cafile=pki / "ca.pem", timeout=5) as r:
                    assert r.read() == BODY
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        out = tmp_path / "fetched.txt"
        done = run_cli("fetch", url, "--cafile", str(pki / "ca.pem"), "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == BODY
        refused = run_cli("fetch", url)  # the system's store does not know the test CA
        assert refused.returncode == 1 and "unable to get local issuer certificate" in refused.stderr
        insecure = run_cli("fetch", url, "--insecure")
        assert insecure.returncode == 0 and "--insecure" in insecure.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)


STDLIB_URLS = (
    "import runpy, sys, urllib.request; sys.modules['netcore'] = urllib.request; "
    "prog = sys.argv[1]; sys.argv = sys.argv[1:]; runpy.run_path(prog, run_name='__main__')"
)


@pytest.mark.parametrize("flavour", ["netcore", "stdlib"])
def test_seed003_urls_program_fetches_https_with_ssl_cert_file(pki, site, flavour):
    """Seed 003's urlopen/urlretrieve program, changed only in its import, trusts the test CA
    through SSL_CERT_FILE as the stdlib does."""
    program = str(TUTORIALS / "seed003" / "urls.py")
    with web_server(site, pki) as port:
        url = f"https://localhost:{port}/hello.txt"
        argv = [sys.executable, program, url] if flavour == "netcore" else [sys.executable, "-c", STDLIB_URLS, program, url]
        env = dict(os.environ, SSL_CERT_FILE=str(pki / "ca.pem"))
        env.pop("SSL_CERT_DIR", None)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        assert "hello over tls" in done.stdout
        assert f"{len(BODY)} bytes saved" in done.stdout


def error_shape(opener, url):
    try:
        opener(url, timeout=5)
    except Exception as e:  # noqa: BLE001 - comparing what each raises
        reason = getattr(e, "reason", None)
        return type(e), type(reason) if isinstance(reason, BaseException) else reason
    return None


def test_urllib_errors_side_by_side(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    inputs = [
        f"http://127.0.0.1:{closed_port}/",
        "http://no-such-host.invalid/",
        "file:" + str(tmp_path / "missing.txt"),
        "nohost",
    ]
    for url in inputs:
        ours, theirs = error_shape(netcore.urlopen, url), error_shape(urllib.request.urlopen, url)
        assert ours == theirs, url
    # An unknown scheme: URLError with a string reason in both (netcore adds what it opens).
    for opener in (netcore.urlopen, urllib.request.urlopen):
        with pytest.raises(urllib.error.URLError, match="unknown url type: foo"):
            opener("foo://x/")
    with pytest.raises(urllib.error.URLError) as info:
        netcore.urlopen(f"http://127.0.0.1:{closed_port}/")
    assert isinstance(info.value.reason, ConnectionRefusedError)
    assert isinstance(info.value, OSError)  # old `except OSError` clauses still work
