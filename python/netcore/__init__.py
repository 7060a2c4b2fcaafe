"""netcore: a Rust networking engine with Python's ``socket`` semantics.

Where a name matches the stdlib's ``socket`` module it behaves the same: same results, same
exceptions (``netcore.gaierror`` *is* ``socket.gaierror``), so existing code only changes its
import.
"""

from __future__ import annotations

import socket as _socket
from typing import Any, List, Tuple, Union

from . import _netcore
from ._netcore import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    AF_UNSPEC,
    AI_ADDRCONFIG,
    AI_ALL,
    AI_CANONNAME,
    AI_NUMERICHOST,
    AI_NUMERICSERV,
    AI_PASSIVE,
    AI_V4MAPPED,
    Client,
    EAI_AGAIN,
    EAI_FAIL,
    EAI_FAMILY,
    EAI_NONAME,
    EAI_SERVICE,
    EAI_SOCKTYPE,
    INADDR_ANY,
    INADDR_BROADCAST,
    INADDR_LOOPBACK,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPPROTO_RAW,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV6_UNICAST_HOPS,
    IPV6_V6ONLY,
    IP_ADD_MEMBERSHIP,
    IP_DROP_MEMBERSHIP,
    IP_HDRINCL,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_TOS,
    IP_TTL,
    MSG_CMSG_CLOEXEC,
    MSG_CTRUNC,
    MSG_DONTROUTE,
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_MORE,
    MSG_NOSIGNAL,
    MSG_OOB,
    MSG_PEEK,
    MSG_TRUNC,
    MSG_WAITALL,
    NI_DGRAM,
    NI_NAMEREQD,
    NI_NOFQDN,
    NI_NUMERICHOST,
    NI_NUMERICSERV,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_RAW,
    SOCK_SEQPACKET,
    SOCK_STREAM,
    SOL_SOCKET,
    SOMAXCONN,
    SO_ACCEPTCONN,
    SO_BROADCAST,
    SO_DOMAIN,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_OOBINLINE,
    SO_PEERCRED,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_RCVLOWAT,
    SO_RCVTIMEO,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_SNDBUF,
    SO_SNDLOWAT,
    SO_SNDTIMEO,
    SO_TYPE,
    TCP_FASTOPEN,
    TCP_KEEPCNT,
    TCP_KEEPIDLE,
    TCP_KEEPINTVL,
    TCP_MAXSEG,
    TCP_NODELAY,
    TCP_QUICKACK,
    TCP_USER_TIMEOUT,
    UrlResponse,
    __version__,
    create_server,
    fromfd,
    getdefaulttimeout,
    getfqdn,
    gethostbyaddr,
    gethostbyname,
    gethostbyname_ex,
    gethostname,
    getnameinfo,
    getservbyname,
    getservbyport,
    has_dualstack_ipv6,
    has_ipv6,
    setdefaulttimeout,
    socket,
    socketpair,
    udp_request,
    urlopen,
    urlretrieve,
)
from ._netcore import Request
from ._server import CommandServer, Server, UDPServer

# The stdlib's own classes, so `except socket.gaierror` catches netcore's errors and back.
error = OSError
gaierror = _socket.gaierror
herror = _socket.herror
timeout = _socket.timeout
AddressFamily = _socket.AddressFamily
SocketKind = _socket.SocketKind

_Address = Union[Tuple[str, int], Tuple[str, int, int, int]]

# The stdlib's "no timeout given" marker, so code passing socket._GLOBAL_DEFAULT_TIMEOUT works.
_GLOBAL_DEFAULT_TIMEOUT: Any = getattr(_socket, "_GLOBAL_DEFAULT_TIMEOUT")


def _intenum(value: int, enum_class: Any) -> Any:
    try:
        return enum_class(value)
    except ValueError:
        return value


def create_connection(
    address: Tuple[Any, Any],
    timeout: Any = _GLOBAL_DEFAULT_TIMEOUT,
    source_address: Any = None,
    *,
    all_errors: bool = False,
) -> socket:
    """Connect to ``(host, port)`` and return the socket, exactly as ``socket.create_connection``.

    Tries every address ``getaddrinfo`` gives in turn; raises the last error (or an
    ``ExceptionGroup`` of all of them with ``all_errors=True``). Only the default argument lives
    here: the work is done by the Rust core with the GIL released.
    """
    return _netcore._create_connection(address, timeout, source_address, all_errors)


def getaddrinfo(
    host: Union[str, bytes, bytearray, None],
    port: Union[str, bytes, int, None],
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> List[Tuple[AddressFamily, SocketKind, int, str, _Address]]:
    """Resolve host and port into address tuples, exactly as ``socket.getaddrinfo``.

    Returns a list of ``(family, type, proto, canonname, sockaddr)``; family and type are the
    stdlib's ``AddressFamily`` / ``SocketKind`` enums. The GIL is released while resolving.
    """
    return [
        (_intenum(af, AddressFamily), _intenum(kind, SocketKind), pr, canon, addr)
        for af, kind, pr, canon, addr in _netcore.getaddrinfo(host, port, family, type, proto, flags)
    ]


__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "AF_UNSPEC",
    "AI_ADDRCONFIG",
    "AI_ALL",
    "AI_CANONNAME",
    "AI_NUMERICHOST",
    "AI_NUMERICSERV",
    "AI_PASSIVE",
    "AI_V4MAPPED",
    "AddressFamily",
    "Client",
    "CommandServer",
    "EAI_AGAIN",
    "EAI_FAIL",
    "EAI_FAMILY",
    "EAI_NONAME",
    "EAI_SERVICE",
    "EAI_SOCKTYPE",
    "INADDR_ANY",
    "INADDR_BROADCAST",
    "INADDR_LOOPBACK",
    "IPPROTO_ICMP",
    "IPPROTO_ICMPV6",
    "IPPROTO_IP",
    "IPPROTO_IPV6",
    "IPPROTO_RAW",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "IPV6_UNICAST_HOPS",
    "IPV6_V6ONLY",
    "IP_ADD_MEMBERSHIP",
    "IP_DROP_MEMBERSHIP",
    "IP_HDRINCL",
    "IP_MULTICAST_LOOP",
    "IP_MULTICAST_TTL",
    "IP_TOS",
    "IP_TTL",
    "MSG_CMSG_CLOEXEC",
    "MSG_CTRUNC",
    "MSG_DONTROUTE",
    "MSG_DONTWAIT",
    "MSG_EOR",
    "MSG_MORE",
    "MSG_NOSIGNAL",
    "MSG_OOB",
    "MSG_PEEK",
    "MSG_TRUNC",
    "MSG_WAITALL",
    "NI_DGRAM",
    "NI_NAMEREQD",
    "NI_NOFQDN",
    "NI_NUMERICHOST",
    "NI_NUMERICSERV",
    "Request",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_CLOEXEC",
    "SOCK_DGRAM",
    "SOCK_NONBLOCK",
    "SOCK_RAW",
    "SOCK_SEQPACKET",
    "SOCK_STREAM",
    "SOL_SOCKET",
    "SOMAXCONN",
    "SO_ACCEPTCONN",
    "SO_BROADCAST",
    "SO_DOMAIN",
    "SO_ERROR",
    "SO_KEEPALIVE",
    "SO_LINGER",
    "SO_OOBINLINE",
    "SO_PEERCRED",
    "SO_PROTOCOL",
    "SO_RCVBUF",
    "SO_RCVLOWAT",
    "SO_RCVTIMEO",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "SO_SNDBUF",
    "SO_SNDLOWAT",
    "SO_SNDTIMEO",
    "SO_TYPE",
    "Server",
    "SocketKind",
    "TCP_FASTOPEN",
    "TCP_KEEPCNT",
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "TCP_MAXSEG",
    "TCP_NODELAY",
    "TCP_QUICKACK",
    "TCP_USER_TIMEOUT",
    "UDPServer",
    "UrlResponse",
    "__version__",
    "create_connection",
    "create_server",
    "error",
    "fromfd",
    "gaierror",
    "getaddrinfo",
    "getdefaulttimeout",
    "getfqdn",
    "gethostbyaddr",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostname",
    "getnameinfo",
    "getservbyname",
    "getservbyport",
    "has_dualstack_ipv6",
    "has_ipv6",
    "herror",
    "setdefaulttimeout",
    "socket",
    "socketpair",
    "timeout",
    "udp_request",
    "urlopen",
    "urlretrieve",
]
