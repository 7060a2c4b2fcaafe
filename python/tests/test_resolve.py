"""netcore's look-ups against the stdlib `socket` module: same inputs, same results, same
exception types (and for resolver errors the same errno and message)."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import netcore
from gil_probe import ticker


def outcome(func, *args):
    """('ok', result) or ('raise', exception type, args) — comparable across modules."""
    try:
        return ("ok", func(*args))
    except Exception as exc:  # noqa: BLE001 - we compare whatever is raised
        args_ = exc.args if isinstance(exc, (socket.gaierror, socket.herror)) else None
        return ("raise", type(exc), args_)


def agree(name, *args):
    ours = outcome(getattr(netcore, name), *args)
    theirs = outcome(getattr(socket, name), *args)
    assert ours == theirs, f"{name}{args}: netcore {ours!r} != socket {theirs!r}"
    return ours


SERVICE_CASES = [
    ("http", "tcp"),
    ("smtp", "tcp"),
    ("gopher", "tcp"),
    ("domain", "udp"),
    ("www", "tcp"),  # alias
    ("http", "udp"),  # not in /etc/services for udp on every system: both must agree
    ("no-such-service", "tcp"),
    ("http", "nosuchproto"),
    ("ht\0tp", "tcp"),  # ValueError: embedded null character
    (80, "tcp"),  # TypeError
    ("http", 6),  # TypeError
]


@pytest.mark.parametrize("args", SERVICE_CASES)
def test_getservbyname_agrees(args):
    agree("getservbyname", *args)


def test_getservbyname_seed_values():
    assert netcore.getservbyname("http", "tcp") == 80
    assert netcore.getservbyname("smtp", "tcp") == 25
    assert netcore.getservbyname("http") == socket.getservbyname("http")


@pytest.mark.parametrize(
    "args",
    [(80,), (80, "tcp"), (25, "tcp"), (70,), (53, "udp"), (9999, "udp"), (0,), (65535,),
     (-1,), (65536,), (70000,), (2**70,), ("80",), (80.0,)],
)
def test_getservbyport_agrees(args):
    agree("getservbyport", *args)


def test_unknown_service_message_matches_python():
    with pytest.raises(OSError, match=r"^service/proto not found$"):
        netcore.getservbyname("no-such-service", "tcp")
    with pytest.raises(OSError, match=r"^port/proto not found$"):
        netcore.getservbyport(9999, "udp")
    with pytest.raises(OverflowError, match="port must be 0-65535"):
        netcore.getservbyport(70000)


HOSTS = ["localhost", "127.0.0.1", "::1", "", "<broadcast>", "255.255.255.255",
         "no-such-host.invalid", "local\0host", b"localhost", bytearray(b"127.0.0.1"),
         "1.2.3.4", 12345, None, "a" * 300]


@pytest.mark.parametrize("host", HOSTS, ids=repr)
def test_gethostbyname_agrees(host):
    agree("gethostbyname", host)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "no-such-host.invalid", 42], ids=repr)
def test_gethostbyname_ex_agrees(host):
    agree("gethostbyname_ex", host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "no-such-host.invalid"], ids=repr)
def test_gethostbyaddr_agrees(host):
    agree("gethostbyaddr", host)


def test_unknown_host_is_gaierror_with_errno():
    with pytest.raises(socket.gaierror) as info:
        netcore.gethostbyname("no-such-host.invalid")
    assert info.value.errno == socket.EAI_NONAME
    assert info.value.strerror == "Name or service not known"
    # The same class, so existing `except socket.gaierror` code catches it.
    assert netcore.gaierror is socket.gaierror
    assert netcore.herror is socket.herror
    assert netcore.timeout is socket.timeout
    assert netcore.error is OSError


def test_gethostname_and_getfqdn_agree():
    assert netcore.gethostname() == socket.gethostname()
    for name in ["", "localhost", "127.0.0.1", "0.0.0.0", "  localhost  "]:
        assert netcore.getfqdn(name) == socket.getfqdn(name), name
    assert netcore.getfqdn() == socket.getfqdn()


def test_getfqdn_is_bounded_by_its_timeout():
    # A zero timeout gives up on the reverse look-up at once and returns the name as given.
    assert netcore.getfqdn("localhost", timeout=0.0) in ("localhost", socket.getfqdn("localhost"))
    with pytest.raises(ValueError):
        netcore.getfqdn("localhost", timeout=-1)


GAI_CASES = [
    ("localhost", 80),
    ("localhost", "http"),
    ("localhost", b"http"),
    ("127.0.0.1", None),
    ("::1", 8080),
    ("::1", 80, 0, 0, 0, socket.AI_CANONNAME),
    ("localhost", 80, socket.AF_INET, socket.SOCK_STREAM),
    ("localhost", 80, socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP),
    (None, 80, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE),
    (None, None),
    ("localhost", "nosuchservice"),
    ("localhost", -1),
    ("localhost", 70000),
    ("localhost", 1.5),
    ("localhost", 80, 99),
    ("no-such-host.invalid", 80),
    (b"localhost", 80),
    (42, 80),
]


@pytest.mark.parametrize("args", GAI_CASES, ids=repr)
def test_getaddrinfo_agrees(args):
    agree("getaddrinfo", *args)


def test_getaddrinfo_uses_stdlib_enums():
    family, kind, proto, canon, addr = netcore.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)[0]
    assert family is socket.AddressFamily.AF_INET
    assert kind is socket.SocketKind.SOCK_STREAM
    assert (proto, canon, addr) == (socket.IPPROTO_TCP, "", ("127.0.0.1", 80))


NAMEINFO_CASES = [
    (("127.0.0.1", 80), 0),
    (("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV),
    (("::1", 80, 0, 0), 0),
    (("::1", 80), socket.NI_NUMERICHOST),
    (("127.0.0.1", 80, 1), 0),  # OSError: IPv4 sockaddr must be 2 tuple
    (["127.0.0.1", 80], 0),  # TypeError: must be a tuple
    (("127.0.0.1",), 0),  # TypeError: illegal sockaddr
    (("127.0.0.1", "80"), 0),  # TypeError
    (("localhost", 80), 0),  # gaierror: numeric host required
    (("::1", 80, 0xFFFFF + 1, 0), 0),  # OverflowError
    (("127.0.0.1", 80000), 0),
    (("127.0.0.1", 80), socket.NI_NAMEREQD),
]


@pytest.mark.parametrize("args", NAMEINFO_CASES, ids=repr)
def test_getnameinfo_agrees(args):
    agree("getnameinfo", *args)


def test_constants_match_the_stdlib():
    for name in ["AF_INET", "AF_INET6", "AF_UNIX", "AF_UNSPEC", "SOCK_STREAM", "SOCK_DGRAM",
                 "SOCK_RAW", "AI_PASSIVE", "AI_CANONNAME", "AI_NUMERICHOST", "NI_NUMERICHOST",
                 "NI_NUMERICSERV", "NI_NAMEREQD", "EAI_NONAME", "IPPROTO_TCP", "IPPROTO_UDP"]:
        assert getattr(netcore, name) == getattr(socket, name), name


def test_services_fallback_without_etc_services():
    code = "import netcore; print(netcore.getservbyname('http','tcp'), netcore.getservbyport(25))"
    env = {"NETCORE_SERVICES_FILE": "/nonexistent/services", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["80", "smtp"]


def test_lookups_release_the_gil(tmp_path, monkeypatch):
    # The services file is a FIFO: getservbyname blocks opening it until a writer comes. The
    # writer is a Python thread, so it can only run if the look-up released the GIL (held, the
    # test would hang until pytest-timeout fails it).
    fifo = tmp_path / "services"
    os.mkfifo(fifo)
    monkeypatch.setenv("NETCORE_SERVICES_FILE", str(fifo))

    def write_services():
        time.sleep(0.3)
        with open(fifo, "w") as f:
            f.write("gopher 70/tcp\n")

    writer = threading.Thread(target=write_services)
    with ticker() as ticks:
        writer.start()
        assert netcore.getservbyname("gopher", "tcp") == 70
    writer.join()
    assert len(ticks) > 5  # the ticker ran during the blocked look-up too


def test_version_matches_the_package():
    assert netcore.__version__ == netcore._netcore.__version__
    assert netcore.__version__.count(".") == 2
