"""netcore sockets with the rest of Python: select, selectors, asyncio's add_reader, threads
sharing sockets, the GIL released while blocked, and fork()."""

from __future__ import annotations

import asyncio
import os
import select
import selectors
import socket as stdsocket
import sys
import threading
import time

import pytest

import netcore


def pair():
    return netcore.socketpair()


def test_select_sees_readable_and_writable():
    a, b = pair()
    with a, b:
        r, w, _ = select.select([a], [a], [], 0)
        assert (r, w) == ([], [a])
        b.sendall(b"x")
        r, _, _ = select.select([a], [], [], 5)
        assert r == [a]
        assert a.recv(1) == b"x"


def test_selectors_echo_server_with_non_blocking_sockets():
    sel = selectors.DefaultSelector()
    srv = netcore.create_server(("127.0.0.1", 0))
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ, data=None)
    clients = [stdsocket.create_connection(srv.getsockname(), timeout=10) for _ in range(3)]
    for i, c in enumerate(clients):
        c.sendall(b"msg%d" % i)
    replies: dict[int, bytes] = {}
    deadline = time.monotonic() + 10
    while len(replies) < 3 and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            if key.data is None:
                conn, _ = key.fileobj.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, data="conn")
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(100)
                except BlockingIOError:
                    continue
                if data:
                    conn.sendall(data.upper())
                else:
                    sel.unregister(conn)
                    conn.close()
        for i, c in enumerate(clients):
            if i not in replies:
                c.settimeout(0.01)
                try:
                    replies[i] = c.recv(100)
                except stdsocket.timeout:
                    pass
    assert replies == {0: b"MSG0", 1: b"MSG1", 2: b"MSG2"}
    for c in clients:
        c.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()


def test_asyncio_add_reader_and_sock_methods():
    async def main():
        loop = asyncio.get_running_loop()
        a, b = pair()
        a.setblocking(False)
        got = loop.create_future()
        loop.add_reader(a, lambda: got.set_result(a.recv(100)))
        b.sendall(b"ping")
        data = await asyncio.wait_for(got, 10)
        loop.remove_reader(a)
        # The loop's own socket helpers work on non-blocking netcore sockets too.
        await loop.sock_sendall(a, b"pong")
        reply = await asyncio.wait_for(loop.run_in_executor(None, b.recv, 100), 10)
        b.sendall(b"back")
        back = await asyncio.wait_for(loop.sock_recv(a, 100), 10)
        a.close()
        b.close()
        return data, reply, back

    assert asyncio.run(main()) == (b"ping", b"pong", b"back")


def test_gil_is_released_while_blocked():
    """A thread blocked in recv does not stop other Python threads from running."""
    a, b = pair()
    result = []
    t = threading.Thread(target=lambda: result.append(a.recv(10)))
    t.start()
    count = 0
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        count += 1
    b.sendall(b"done")
    t.join(10)
    assert result == [b"done"]
    assert count > 1000, "the main thread kept running while the other was blocked"
    a.close()
    b.close()


def test_threaded_server_many_clients_share_nothing_but_the_listener():
    srv = netcore.create_server(("127.0.0.1", 0), backlog=16)
    port = srv.getsockname()[1]
    errors = []

    def handle(conn):
        with conn:
            f = conn.makefile("rwb")
            for line in f:
                f.write(b"echo:" + line)
                f.flush()
            f.close()

    def accept_loop():
        for _ in range(8):
            conn, _ = srv.accept()
            threading.Thread(target=handle, args=(conn,)).start()

    acceptor = threading.Thread(target=accept_loop)
    acceptor.start()

    def client(i):
        try:
            with netcore.create_connection(("localhost", port), timeout=20) as c:
                f = c.makefile("rwb")
                for j in range(20):
                    f.write(b"%d-%d\n" % (i, j))
                    f.flush()
                    assert f.readline() == b"echo:%d-%d\n" % (i, j)
                f.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    clients = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(60)
    acceptor.join(60)
    srv.close()
    assert errors == []


def test_one_socket_used_from_two_threads():
    """One thread sends while another receives on the same netcore socket."""
    a, b = pair()
    total = 4 << 20
    received = bytearray()

    def reader():
        while len(received) < total:
            chunk = a.recv(65536)
            if not chunk:
                break
            received.extend(chunk)

    def writer():
        b.sendall(b"z" * total)

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(received) == total
    a.close()
    b.close()


def test_calls_after_close_fail_with_ebadf():
    a, b = pair()
    a.close()
    with pytest.raises(OSError) as info:
        a.sendall(b"x")
    assert info.value.errno == 9
    b.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_child_keeps_using_inherited_sockets():
    srv = netcore.create_server(("127.0.0.1", 0))
    a, b = pair()
    pid = os.fork()
    if pid == 0:  # child: serve one connection and report on the pair, then leave at once
        code = 1
        try:
            conn, _ = srv.accept()
            data = conn.recv(100)
            conn.sendall(b"child got " + data)
            conn.close()
            a.sendall(b"child done")
            code = 0
        finally:
            os._exit(code)
    try:
        with netcore.create_connection(srv.getsockname(), timeout=20) as c:
            c.sendall(b"hello")
            assert c.recv(100) == b"child got hello"
        b.settimeout(20)
        assert b.recv(100) == b"child done"
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    for s in (srv, a, b):
        s.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_from_a_thread_child_can_still_be_interrupted():
    """After fork() in a non-main thread the child's only thread is its main thread: its
    blocking calls must still run signal handlers (SIGALRM here) promptly."""
    code = r"""
import os, signal, sys, threading, time
import netcore
result = {}
def forker():
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
        a, b = netcore.socketpair()
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            a.recv(1)
        except KeyboardInterrupt:
            os._exit(42)
        os._exit(1)
    result["status"] = os.waitpid(pid, 0)[1]
t = threading.Thread(target=forker)
t.start()
t.join(30)
sys.exit(os.WEXITSTATUS(result["status"]) if "status" in result else 2)
"""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True, text=True)
    assert proc.returncode == 42, proc.stderr


def test_no_sigpipe_even_with_the_default_sigpipe_action():
    """Python ignores SIGPIPE, which would hide a missing MSG_NOSIGNAL: this child restores the
    default action (terminate), then writes to peers that are gone. It must see BrokenPipeError
    and ConnectionResetError and live on."""
    import subprocess

    code = r"""
import signal, socket as std, struct, time
import netcore
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
results = []
a, b = netcore.socketpair()
b.close()
for call in (lambda: a.send(b"x"), lambda: a.sendall(b"x" * 100000), lambda: a.send(b"y")):
    try:
        call()
    except OSError as e:
        results.append(type(e).__name__)
srv = std.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
c = netcore.create_connection(srv.getsockname(), timeout=10)
conn, _ = srv.accept()
conn.setsockopt(std.SOL_SOCKET, std.SO_LINGER, struct.pack("ii", 1, 0))
conn.close()
time.sleep(0.05)
for _ in range(3):
    try:
        c.sendall(b"z" * 1000)
    except OSError as e:
        results.append(type(e).__name__)
print(" ".join(results))
"""
    proc = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    names = proc.stdout.split()
    assert names[:3] == ["BrokenPipeError"] * 3
    assert names[3] in ("ConnectionResetError", "BrokenPipeError") and len(names) == 6
