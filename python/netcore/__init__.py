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
    IPPROTO_TCP,
    IPPROTO_UDP,
    NI_DGRAM,
    NI_NAMEREQD,
    NI_NOFQDN,
    NI_NUMERICHOST,
    NI_NUMERICSERV,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_SEQPACKET,
    SOCK_STREAM,
    UrlResponse,
    __version__,
    getfqdn,
    gethostbyaddr,
    gethostbyname,
    gethostbyname_ex,
    gethostname,
    getnameinfo,
    getservbyname,
    getservbyport,
    udp_request,
    urlopen,
    urlretrieve,
)

# The stdlib's own classes, so `except socket.gaierror` catches netcore's errors and back.
error = OSError
gaierror = _socket.gaierror
herror = _socket.herror
timeout = _socket.timeout
AddressFamily = _socket.AddressFamily
SocketKind = _socket.SocketKind

_Address = Union[Tuple[str, int], Tuple[str, int, int, int]]


def _intenum(value: int, enum_class: Any) -> Any:
    try:
        return enum_class(value)
    except ValueError:
        return value


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
    "EAI_AGAIN",
    "EAI_FAIL",
    "EAI_FAMILY",
    "EAI_NONAME",
    "EAI_SERVICE",
    "EAI_SOCKTYPE",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "NI_DGRAM",
    "NI_NAMEREQD",
    "NI_NOFQDN",
    "NI_NUMERICHOST",
    "NI_NUMERICSERV",
    "SOCK_DGRAM",
    "SOCK_RAW",
    "SOCK_SEQPACKET",
    "SOCK_STREAM",
    "SocketKind",
    "UrlResponse",
    "__version__",
    "error",
    "gaierror",
    "getaddrinfo",
    "getfqdn",
    "gethostbyaddr",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostname",
    "getnameinfo",
    "getservbyname",
    "getservbyport",
    "herror",
    "timeout",
    "udp_request",
    "urlopen",
    "urlretrieve",
]
