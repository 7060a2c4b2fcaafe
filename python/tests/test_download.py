"""One download path (src/client/download.rs) for `netcore fetch -o` and `netcore.urlretrieve`:
the target is the complete file or nothing, and no temporary file is left behind, however the
download dies: SIGINT, SIGTERM, a dropped connection, a full disk."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import netcore

NETCORE = [sys.executable, "-m", "netcore"]
TOTAL = 4 * 1024 * 1024


class StallingServer:
    """Answers one GET with Content-Length TOTAL, sends the first `sent` bytes, then stalls
    (or, with drop=True, closes the connection mid-body)."""

    def __init__(self, sent=256 * 1024, drop=False):
        self.sent, self.drop = sent, drop
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen()
        self.release = threading.Event()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/big.bin" % self.srv.getsockname()[1]

    def serve(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % TOTAL)
                conn.sendall(b"x" * self.sent)
            except OSError:
                return  # the client gave up (a full disk): that is the test
            self.started.set()
            if not self.drop:
                self.release.wait(30)

    def close(self):
        self.release.set()
        self.srv.close()
        self.thread.join(10)


def leftovers(directory):
    return sorted(os.listdir(directory))


def wait_for_temporary(directory, deadline=20.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if any(".netcore-part-" in n for n in os.listdir(directory)):
            return
        time.sleep(0.02)
    raise AssertionError("no download started in %s: %s" % (directory, leftovers(directory)))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_fetch_killed_mid_download_leaves_nothing(tmp_path, sig):
    server = StallingServer()
    try:
        target = tmp_path / "big.bin"
        p = subprocess.Popen(NETCORE + ["fetch", server.url, "-o", str(target)], stderr=subprocess.PIPE)
        wait_for_temporary(tmp_path)
        p.send_signal(sig)
        p.communicate(timeout=30)
        assert p.returncode in (-sig, 128 + sig, 130), p.returncode
        assert leftovers(tmp_path) == [], "the complete file or nothing"
    finally:
        server.close()


URLRETRIEVE = """
import sys, netcore
netcore.urlretrieve(sys.argv[1], sys.argv[2])
"""


def test_urlretrieve_killed_by_sigterm_leaves_nothing(tmp_path):
    server = StallingServer()
    try:
        target = tmp_path / "big.bin"
        p = subprocess.Popen([sys.executable, "-c", URLRETRIEVE, server.url, str(target)], stderr=subprocess.PIPE)
        wait_for_temporary(tmp_path)
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        assert p.returncode == -signal.SIGTERM
        assert leftovers(tmp_path) == []
    finally:
        server.close()


def test_a_dropped_connection_leaves_nothing(tmp_path):
    server = StallingServer(drop=True)
    try:
        target = tmp_path / "big.bin"
        out = subprocess.run(NETCORE + ["fetch", server.url, "-o", str(target)], capture_output=True, timeout=60)
        assert out.returncode == 1, out.stderr
        assert b"saving to %s failed" % str(target).encode() in out.stderr
        assert leftovers(tmp_path) == []
    finally:
        server.close()
    server = StallingServer(drop=True)
    try:
        with pytest.raises(OSError) as info:
            netcore.urlretrieve(server.url, str(tmp_path / "again.bin"))
        assert "[Errno 0]" not in str(info.value)
        assert leftovers(tmp_path) == []
    finally:
        server.close()


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % done.stderr.decode().strip())
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_a_full_disk_names_the_users_path_and_leaves_nothing(small_disk):
    server = StallingServer(sent=TOTAL)
    try:
        target = small_disk / "big.bin"
        out = subprocess.run(NETCORE + ["fetch", server.url, "-o", str(target)], capture_output=True, timeout=60)
        assert out.returncode == 1
        err = out.stderr.decode()
        assert "[Errno 28] No space left on device: '%s'" % target in err, err
        assert ".netcore-part-" not in err and "[Errno 0]" not in err
        assert leftovers(small_disk) == []
    finally:
        server.close()
    server = StallingServer(sent=TOTAL)
    try:
        target = small_disk / "again.bin"
        with pytest.raises(OSError) as info:
            netcore.urlretrieve(server.url, str(target))
        assert (info.value.errno, info.value.filename) == (28, str(target))
        assert leftovers(small_disk) == []
    finally:
        server.close()
