"""`import netcore as socket`: every public name of the stdlib's socket module is in netcore, with
the same values, types and behaviour (the module-level functions, compared side by side)."""

from __future__ import annotations

import os
import socket as stdsocket
import subprocess
import sys
from pathlib import Path

import pytest

import netcore
from test_socket_compat import same

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_of_the_stdlib_socket_module_is_there():
    ours, theirs = set(dir(netcore)), {n for n in dir(stdsocket) if not n.startswith("_")}
    missing = sorted(theirs - ours)
    extra = sorted(n for n in ours - theirs if not n.startswith("_"))
    print(f"{len(theirs)} stdlib names; missing from netcore: {missing}; netcore's own: {extra}")
    assert not missing, f"missing from netcore: {missing}"


def test_constants_have_the_stdlibs_values_types_and_reprs():
    ints = [n for n in dir(stdsocket) if not n.startswith("_") and isinstance(getattr(stdsocket, n), int)]
    assert len(ints) > 300
    for name in ints:
        ours, theirs = getattr(netcore, name), getattr(stdsocket, name)
        assert ours == theirs, name
        assert type(ours) is type(theirs), (name, type(ours), type(theirs))
        assert repr(ours) == repr(theirs), name
    # `from netcore import *` exports them, as `from socket import *` does.
    assert set(ints) - {"has_ipv6"} <= set(netcore.__all__)


def test_the_enum_classes_are_the_stdlibs():
    for name in ("AddressFamily", "SocketKind", "MsgFlag", "AddressInfo", "IntEnum", "IntFlag", "SocketIO"):
        assert getattr(netcore, name) is getattr(stdsocket, name), name
    assert isinstance(netcore.AF_INET, stdsocket.AddressFamily) and netcore.AF_INET is stdsocket.AF_INET
    assert netcore.MSG_PEEK | netcore.MSG_WAITALL == stdsocket.MSG_PEEK | stdsocket.MSG_WAITALL
    assert netcore.SocketType is netcore.socket
    with netcore.socket(netcore.AF_INET6, netcore.SOCK_DGRAM) as s:
        assert repr(s.family) == "<AddressFamily.AF_INET6: 10>" and s.type is stdsocket.SOCK_DGRAM
    assert isinstance(netcore.getaddrinfo("127.0.0.1", 80)[0][0], stdsocket.AddressFamily)


@pytest.mark.parametrize("func", ["htons", "ntohs", "htonl", "ntohl"])
@pytest.mark.parametrize("value", [0, 1, 0x1234, 0xFFFF, 0x10000, 0x12345678, 0xFFFFFFFF, 1 << 32, -1, 1.5, "1", True])
def test_byte_order(func, value):
    same(lambda m: getattr(m, func)(value))


@pytest.mark.parametrize(
    "text", ["1.2.3.4", "127.1", "0x7f000001", "255.255.255.255", "256.1.1.1", "x", "", "1.2.3.4 ", "1.2.3.4\0", b"1.2.3.4", 5]
)
def test_inet_aton(text):
    same(lambda m: m.inet_aton(text))


@pytest.mark.parametrize("packed", [b"\x01\x02\x03\x04", b"\x7f\0\0\x01", b"123", b"12345", bytearray(b"abcd"), "abcd", None])
def test_inet_ntoa(packed):
    same(lambda m: m.inet_ntoa(packed))


@pytest.mark.parametrize(
    "family, text",
    [
        (stdsocket.AF_INET, "1.2.3.4"),
        (stdsocket.AF_INET, "127.1"),
        (stdsocket.AF_INET, b"1.2.3.4"),
        (stdsocket.AF_INET6, "::1"),
        (stdsocket.AF_INET6, "fe80::1%lo"),
        (stdsocket.AF_INET6, "::ffff:1.2.3.4"),
        (stdsocket.AF_INET6, "1:2:3:4:5:6:7:8:9"),
        (99, "1.2.3.4"),
    ],
)
def test_inet_pton_and_back(family, text):
    packed = same(lambda m: m.inet_pton(family, text))
    if packed[0] == "ok":
        same(lambda m: m.inet_ntop(family, packed[1]))


@pytest.mark.parametrize(
    "family, packed",
    [(stdsocket.AF_INET, b"123"), (stdsocket.AF_INET6, b"\0" * 15), (99, b"1234"), (stdsocket.AF_INET6, memoryview(b"\1" * 16))],
)
def test_inet_ntop_errors(family, packed):
    same(lambda m: m.inet_ntop(family, packed))


@pytest.mark.parametrize("name", ["lo", b"lo", "no-such-if0", 5, "a\0b"])
def test_if_nametoindex(name):
    same(lambda m: m.if_nametoindex(name))


@pytest.mark.parametrize("index", [1, 0, 999999, -1, "x", 1 << 40])
def test_if_indextoname(index):
    same(lambda m: m.if_indextoname(index))


def test_if_nameindex():
    same(lambda m: m.if_nameindex())


@pytest.mark.parametrize("name", ["tcp", "udp", "icmp", "nope", b"tcp", 6, "t\0cp"])
def test_getprotobyname(name):
    same(lambda m: m.getprotobyname(name))


@pytest.mark.parametrize("length", [0, 1, 4, 255, 0x7FFFFFFF, -1, sys.maxsize, "1"])
@pytest.mark.parametrize("func", ["CMSG_LEN", "CMSG_SPACE"])
def test_cmsg_macros(func, length):
    same(lambda m: getattr(m, func)(length))


@pytest.mark.parametrize("name", [5, None, b"x" * 100])
def test_sethostname_argument_errors(name):
    # Only arguments that fail before the name changes (too long is the kernel's EINVAL):
    # anything else runs in a namespace of its own, below.
    same(lambda m: m.sethostname(name))


SETHOSTNAME_CHILD = """
import netcore, socket
for name in ("a\\0b", b"a\\0b"):
    try:
        netcore.sethostname(name)
        print("accepted", repr(name))
    except ValueError as e:
        print("refused", e)
netcore.sethostname("netcore-test")
print(socket.gethostname())
"""


def test_sethostname_in_a_namespace_of_its_own():
    """In a fresh UTS namespace (where the call is harmless) the name changes; a name with a
    NUL byte is refused as by the stdlib."""
    try:
        proc = subprocess.run(
            ["unshare", "--uts", sys.executable, "-c", SETHOSTNAME_CHILD], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError:
        pytest.skip("no unshare")
    if proc.returncode != 0 and "unshare" in proc.stderr:
        pytest.skip(f"cannot make a UTS namespace here: {proc.stderr.strip()}")
    assert proc.stdout.split("\n")[:3] == ["refused embedded null byte"] * 2 + ["netcore-test"], proc.stdout + proc.stderr


def test_close_and_dup_of_descriptors():
    for mod in (netcore, stdsocket):
        a, b = mod.socketpair()
        fd = mod.dup(a.fileno())
        assert fd != a.fileno() and not os.get_inheritable(fd)
        mod.close(fd)
        with pytest.raises(OSError) as e:
            os.fstat(fd)
        assert e.value.errno == 9
        a.close()
        b.close()
    same(lambda m: m.close(-1))
    same(lambda m: m.dup(-1))
    same(lambda m: m.close("x"))


def test_cpython_socket_test_classes_pass_against_netcore():
    """A bounded subset of scripts/cpython-socket-tests (the full run is in the README)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts/cpython-socket-tests"), "--quick"],
        capture_output=True, text=True, timeout=600,
    )
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
