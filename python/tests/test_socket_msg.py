"""sendmsg / recvmsg / recvmsg_into with ancillary data, send_fds / recv_fds and sendfile, side by
side with the stdlib (CPython's own test classes run in scripts/cpython-socket-tests; these
cover mixed peers, typed items, errors, buffers, timeouts and the GIL)."""

from __future__ import annotations

import array
import io
import os
import socket as stdsocket
import struct
import threading
import time
import warnings

import pytest

import netcore
from gil_probe import ticker
from test_socket_compat import same


def pair(mod, family=stdsocket.AF_UNIX, kind=stdsocket.SOCK_STREAM):
    return mod.socketpair(family, kind)


@pytest.mark.parametrize("sender, receiver", [(netcore, stdsocket), (stdsocket, netcore), (netcore, netcore)])
def test_descriptors_pass_between_netcore_and_the_stdlib(sender, receiver):
    """SCM_RIGHTS from one implementation to the other: the received fd is the same pipe."""
    a, _ = pair(sender)
    b = receiver.socket(fileno=os.dup(_.fileno()))
    _.close()
    r, w = os.pipe()
    try:
        fds = array.array("i", [r, r])
        assert a.sendmsg([b"x", b"yz"], [(stdsocket.SOL_SOCKET, stdsocket.SCM_RIGHTS, fds)]) == 3
        data, anc, flags, addr = b.recvmsg(10, stdsocket.CMSG_SPACE(2 * fds.itemsize))
        assert (data, flags, len(anc)) == (b"xyz", 0, 1)
        level, kind, raw = anc[0]
        assert (level, kind, len(raw)) == (stdsocket.SOL_SOCKET, stdsocket.SCM_RIGHTS, 8)
        got = array.array("i", raw)
        os.write(w, b"via fd")
        assert os.read(got[0], 10) == b"via fd"
        for fd in got:
            os.close(fd)
    finally:
        os.close(r)
        os.close(w)
        a.close()
        b.close()


def test_send_fds_and_recv_fds_accept_either_kind_of_socket():
    for mod in (netcore, stdsocket):
        a, b = mod.socketpair()
        r, w = os.pipe()
        assert netcore.send_fds(a, [b"m"], [w]) == 1
        msg, fds, flags, _ = netcore.recv_fds(b, 10, 4)
        assert (msg, len(fds), flags) == (b"m", 1, 0)
        os.write(fds[0], b"!")
        assert os.read(r, 1) == b"!"
        for fd in fds + [r, w]:
            os.close(fd)
        a.close()
        b.close()


def test_credentials_are_the_senders():
    for mod in (netcore, stdsocket):
        a, b = pair(mod)
        b.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_PASSCRED, 1)
        creds = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
        a.sendmsg([b"c"], [(stdsocket.SOL_SOCKET, stdsocket.SCM_CREDENTIALS, creds)])
        data, anc, flags, _ = b.recvmsg(1, stdsocket.CMSG_SPACE(12))
        assert anc == [(stdsocket.SOL_SOCKET, stdsocket.SCM_CREDENTIALS, creds)], mod
        a.close()
        b.close()


def udp6_exchange(mod, options, anc=(), bufsize=64, ancbufsize=256):
    """Sends one datagram over ::1 and returns what recvmsg gave; the receiver sets `options`."""
    rx = mod.socket(stdsocket.AF_INET6, stdsocket.SOCK_DGRAM)
    tx = mod.socket(stdsocket.AF_INET6, stdsocket.SOCK_DGRAM)
    try:
        rx.bind(("::1", 0))
        for opt in options:
            rx.setsockopt(stdsocket.IPPROTO_IPV6, opt, 1)
        rx.settimeout(5)
        tx.sendmsg([b"hello"], list(anc), 0, rx.getsockname())
        data, got, flags, addr = rx.recvmsg(bufsize, ancbufsize)
        return data, got, flags, addr[0]
    finally:
        rx.close()
        tx.close()


def test_ipv6_packet_info_and_hop_limit_match_the_stdlib():
    opts = [stdsocket.IPV6_RECVPKTINFO, stdsocket.IPV6_RECVHOPLIMIT]
    hop = (stdsocket.IPPROTO_IPV6, stdsocket.IPV6_HOPLIMIT, array.array("i", [7]))
    ours, theirs = udp6_exchange(netcore, opts, [hop]), udp6_exchange(stdsocket, opts, [hop])
    assert ours == theirs
    kinds = {kind: data for _, kind, data in ours[1]}
    assert array.array("i", kinds[stdsocket.IPV6_HOPLIMIT])[0] == 7
    assert kinds[stdsocket.IPV6_PKTINFO][:16] == stdsocket.inet_pton(stdsocket.AF_INET6, "::1")


def test_ip_tos_is_received_as_sent():
    def exchange(mod):
        rx, tx = mod.socket(type=stdsocket.SOCK_DGRAM), mod.socket(type=stdsocket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.setsockopt(stdsocket.IPPROTO_IP, stdsocket.IP_RECVTOS, 1)
        rx.settimeout(5)
        tx.sendmsg([b"t"], [(stdsocket.IPPROTO_IP, stdsocket.IP_TOS, array.array("i", [0x10]))], 0, rx.getsockname())
        got = rx.recvmsg(8, 64)[:3]
        rx.close()
        tx.close()
        return got

    assert exchange(netcore) == exchange(stdsocket) == (b"t", [(stdsocket.IPPROTO_IP, stdsocket.IP_TOS, b"\x10")], 0)


def test_truncation_flags_match_the_stdlib():
    """MSG_TRUNC for a datagram cut short, MSG_CTRUNC for ancillary data that does not fit (and
    the same warnings, if any: Linux cuts cmsg_len with the data, so CPython's "improperly
    truncated" warning does not fire here)."""

    def cut(mod):
        a, b = pair(mod, kind=stdsocket.SOCK_DGRAM)
        r, w = os.pipe()
        a.sendmsg([b"0123456789"], [(stdsocket.SOL_SOCKET, stdsocket.SCM_RIGHTS, array.array("i", [r, w]))])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data, anc, flags, _ = b.recvmsg(4, stdsocket.CMSG_LEN(4) + 1)
        for _, _, raw in anc:
            for fd in array.array("i", raw[: len(raw) - len(raw) % 4]):
                os.close(fd)
        a.close()
        b.close()
        os.close(r)
        os.close(w)
        return data, [(lvl, kind, len(raw)) for lvl, kind, raw in anc], flags, [str(w.message) for w in caught]

    ours, theirs = cut(netcore), cut(stdsocket)
    assert ours == theirs
    assert ours[2] & stdsocket.MSG_TRUNC and ours[2] & stdsocket.MSG_CTRUNC


BAD_SENDMSG = [
    ((b"not in an iterable",), {}),
    ((object(),), {}),
    (([object()],), {}),
    (([b"x"], object()), {}),
    (([b"x"], [object()]), {}),
    (([b"x"], [(object(), 0, b"d")]), {}),
    (([b"x"], [(0, object(), b"d")]), {}),
    (([b"x"], [(0, 0, object())]), {}),
    (([b"x"], [(0, 0)]), {}),
    (([b"x"], [(0, 0, b"d", 42)]), {}),
    (([b"x"], [(1 << 40, 0, b"d")]), {}),
    (([b"x"], [], object()), {}),
    (([b"x"], [], 0, object()), {}),
    (([b"x"], [], 0, 5), {}),
    (([b"x"], None), {}),
    (([b"x"], [], 0, None, 1), {}),
    (([b"x"], [], 1 << 40), {}),
    (([b"x"], [(stdsocket.SOL_SOCKET, stdsocket.SCM_RIGHTS, b"\xff\xff\xff\x7f")]), {}),
    (([b"x"], [(stdsocket.SOL_SOCKET, 12345, b"")]), {}),
]


def test_sendmsg_without_arguments_is_a_type_error():
    # The messages that differ: PyO3 names the missing argument or the keyword it refuses.
    for mod in (netcore, stdsocket):
        with mod.socket() as s:
            with pytest.raises(TypeError):
                s.sendmsg()
            with pytest.raises(TypeError):
                s.sendmsg([b"x"], flags=0)


@pytest.mark.parametrize("args, kwargs", BAD_SENDMSG)
def test_sendmsg_argument_errors_match_the_stdlib(args, kwargs):
    def call(mod):
        a, b = pair(mod)
        try:
            return a.sendmsg(*args, **kwargs)
        finally:
            a.close()
            b.close()

    got = same(call)
    assert got[0] == "err"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.recvmsg(-1),
        lambda s: s.recvmsg(1, -1),
        lambda s: s.recvmsg("1"),
        lambda s: s.recvmsg_into(b"x"),
        lambda s: s.recvmsg_into([b"read-only"]),
        lambda s: s.recvmsg_into([memoryview(bytearray(8))[::2]]),
        lambda s: s.recvmsg_into(5),
        lambda s: s.recvmsg_into([bytearray(1)], -1),
    ],
)
def test_recvmsg_argument_errors_match_the_stdlib(call):
    def run(mod):
        a, b = pair(mod)
        try:
            return call(a)
        finally:
            a.close()
            b.close()

    assert same(run)[0] == "err"


def test_a_bytearray_that_changes_size_between_calls():
    for mod in (netcore, stdsocket):
        a, b = pair(mod)
        data = bytearray(b"ab")
        assert a.sendmsg([data]) == 2
        data.extend(b"cdef")
        assert a.sendmsg([data]) == 6
        out = bytearray(4)
        assert b.recv_into(out) == 4 and out == b"abab"
        out.extend(bytes(4))
        assert b.recvmsg_into([out])[0] == 4 and out[:4] == b"cdef"
        a.close()
        b.close()


def test_any_buffer_and_memoryview_slices_in_and_out():
    for mod in (netcore, stdsocket):
        a, b = pair(mod)
        src = bytearray(b"__hello__")
        arr = array.array("B", b"!!")
        assert a.sendmsg([memoryview(src)[2:7], arr, b"", bytearray(b"?")]) == 8
        out = bytearray(12)
        view = memoryview(out)
        n, anc, flags, _ = b.recvmsg_into([view[1:3], view[5:11]])
        assert (n, bytes(out)) == (8, b"\0he\0\0llo!!?\0"), mod
        a.close()
        b.close()


def on_a_pair(prepare, call):
    """`call(a)` on one end of a new socket pair after `prepare(a)`; both ends closed after."""

    def run(mod):
        a, b = mod.socketpair()
        with a, b:
            prepare(a)
            return call(a)

    return run


def test_recvmsg_on_a_closed_or_non_blocking_socket():
    same(on_a_pair(lambda a: a.close(), lambda a: a.recvmsg(1)))
    same(on_a_pair(lambda a: a.setblocking(False), lambda a: a.recvmsg(1)))
    same(on_a_pair(lambda a: a.settimeout(0.05), lambda a: a.recvmsg(1)))
    same(on_a_pair(lambda a: a.close(), lambda a: a.sendmsg([b"x"])))


def test_sendmsg_to_an_address_and_recvmsg_reports_the_sender():
    for mod in (netcore, stdsocket):
        rx = mod.socket(type=stdsocket.SOCK_DGRAM)
        tx = mod.socket(type=stdsocket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        tx.bind(("127.0.0.1", 0))
        assert tx.sendmsg([b"dgram"], [], 0, rx.getsockname()) == 5
        data, anc, flags, addr = rx.recvmsg(16)
        assert (data, anc, flags, addr) == (b"dgram", [], 0, tx.getsockname())
        rx.close()
        tx.close()


def test_recvmsg_releases_the_gil():
    a, b = netcore.socketpair()
    threading.Timer(0.3, lambda: b.send(b"late")).start()
    with ticker() as ticks:
        data = a.recvmsg(10, 64)[0]
    assert data == b"late" and len(ticks) >= 10, len(ticks)
    a.close()
    b.close()


def file_of(size: int, tmp_path):
    path = tmp_path / "data"
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


def drain(sock, into: bytearray):
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return
        into += chunk


@pytest.mark.parametrize("offset, count", [(0, None), (100, None), (7, 1000), (0, 1 << 20)])
def test_sendfile_sends_the_range_and_leaves_the_file_after_it(tmp_path, offset, count):
    path = file_of(1 << 20, tmp_path)
    for mod in (netcore, stdsocket):
        srv = mod.create_server(("127.0.0.1", 0))
        got = bytearray()
        with mod.create_connection(srv.getsockname()) as c, open(path, "rb") as f:
            conn, _ = srv.accept()
            t = threading.Thread(target=drain, args=(conn, got))
            t.start()
            sent = c.sendfile(f, offset, count)
            position = f.tell()
            c.shutdown(stdsocket.SHUT_WR)
            t.join(10)
        conn.close()
        srv.close()
        want = path.read_bytes()[offset:][:count]
        assert (sent, bytes(got), position) == (len(want), want, offset + len(want)), mod


def test_sendfile_without_a_descriptor_falls_back_to_send():
    for mod in (netcore, stdsocket):
        a, b = mod.socketpair()
        f = io.BytesIO(b"0123456789" * 1000)
        assert a.sendfile(f, 5, 20000) == 9995 and f.tell() == 10000
        with pytest.raises(stdsocket._GiveupOnSendfile):  # type: ignore[attr-defined]
            a._sendfile_use_sendfile(io.BytesIO(b"x"))
        a.close()
        got = bytearray()
        drain(b, got)
        assert bytes(got) == (b"0123456789" * 1000)[5:]
        b.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda s, f: s.sendfile(io.StringIO("text")),
        lambda s, f: s.sendfile(f, 0, "2"),
        lambda s, f: s.sendfile(f, 0, 0),
        lambda s, f: s.sendfile(f, 0, -1),
        lambda s, f: s.sendfile(f, 0, 2.5),
        lambda s, f: (s.setblocking(False), s.sendfile(f))[1],
        lambda s, f: (s.close(), s.sendfile(f))[1],
    ],
)
def test_sendfile_errors_match_the_stdlib(tmp_path, call):
    path = file_of(4096, tmp_path)

    def run(mod):
        a, b = mod.socketpair()
        with open(path, "rb") as f:
            try:
                return call(a, f)
            finally:
                a.close()
                b.close()

    assert same(run)[0] == "err"
    with netcore.socket(type=stdsocket.SOCK_DGRAM) as udp, open(path, "rb") as f:
        with pytest.raises(ValueError, match="only SOCK_STREAM"):
            udp.sendfile(f)


def test_sendfile_timeout_accounts_for_the_bytes_sent(tmp_path):
    """A timeout mid-file raises TimeoutError; the file is left after what went, as the stdlib."""
    path = file_of(32 << 20, tmp_path)
    for mod in (netcore, stdsocket):
        a, b = mod.socketpair()
        a.settimeout(0.2)
        with open(path, "rb") as f:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                a.sendfile(f)
            assert time.monotonic() - started < 5
            sent = f.tell()
        a.close()
        got = bytearray()
        drain(b, got)
        b.close()
        assert 0 < sent == len(got) < (32 << 20), mod


def test_sendfile_releases_the_gil(tmp_path):
    path = file_of(8 << 20, tmp_path)
    a, b = netcore.socketpair()
    b.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, 4096)

    def slow_reader():
        time.sleep(0.3)
        drain(b, bytearray())

    t = threading.Thread(target=slow_reader)
    t.start()
    with open(path, "rb") as f, ticker() as ticks:
        assert a.sendfile(f) == 8 << 20
    a.close()
    t.join(10)
    b.close()
    assert len(ticks) >= 10, len(ticks)
