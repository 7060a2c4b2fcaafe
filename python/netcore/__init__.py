"""netcore: a Rust networking engine with Python's ``socket`` semantics.

Where a name matches the stdlib's ``socket`` module it behaves the same: same results, same
exceptions (``netcore.gaierror`` *is* ``socket.gaierror``), so existing code only changes its
import.
"""

from __future__ import annotations

# The stdlib's socket module has these names too (it imports them); so does netcore.
import array
import errno
import io
import os
import selectors
import socket as _socket
import sys
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any, List, Tuple, Union

from . import _netcore

# The platform's socket constants (AF_*, SO_*, MSG_*, ...; generated at build time). Type
# checkers read their names from the stub's __all__.
if TYPE_CHECKING:
    from ._netcore import *  # noqa: F401,F403
else:
    globals().update({n: v for n, v in vars(_netcore).items() if n[:1].isupper() and type(v) is int})
from ._netcore import (
    CMSG_LEN,
    CMSG_SPACE,
    Client,
    UrlResponse,
    __version__,
    close,
    create_server,
    dup,
    fromfd,
    getdefaulttimeout,
    getfqdn,
    gethostbyaddr,
    gethostbyname,
    gethostbyname_ex,
    gethostname,
    getnameinfo,
    getprotobyname,
    getservbyname,
    getservbyport,
    has_dualstack_ipv6,
    has_ipv6,
    htonl,
    htons,
    if_indextoname,
    if_nameindex,
    if_nametoindex,
    inet_aton,
    inet_ntoa,
    inet_ntop,
    inet_pton,
    ntohl,
    ntohs,
    recv_fds,
    send_fds,
    setdefaulttimeout,
    sethostname,
    socket,
    socketpair,
    udp_request,
    urlopen,
    urlretrieve,
)
from ._netcore import Request
from ._reply import ReplyError, SimpleString
from ._server import CommandServer, Server, UDPServer

# The stdlib's own classes, so `except socket.gaierror` catches netcore's errors and back.
error = OSError
gaierror = _socket.gaierror
herror = _socket.herror
timeout = _socket.timeout
AddressFamily = _socket.AddressFamily
SocketKind = _socket.SocketKind
MsgFlag = _socket.MsgFlag
AddressInfo = _socket.AddressInfo
# The type of socket objects, as socket.SocketType; makefile()'s raw layer is the stdlib's own.
SocketType = socket
SocketIO = _socket.SocketIO
# The stdlib's C API capsule: it describes the stdlib's socket objects (netcore's have no C
# struct API in Python), kept so code that looks it up finds it.
CAPI: Any = getattr(_socket, "CAPI")
# Raised by socket._sendfile_use_sendfile() where sendfile(2) cannot be used.
_GiveupOnSendfile: Any = getattr(_socket, "_GiveupOnSendfile")

# The constants as the stdlib's enum members where it has one (socket.AF_INET is
# AddressFamily.AF_INET), so repr, == and isinstance agree; the values are netcore's own.
for _enum in (AddressFamily, SocketKind, MsgFlag, AddressInfo):
    for _name, _member in _enum.__members__.items():
        if globals().get(_name) == _member:
            globals()[_name] = _member
del _enum, _name, _member

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
    "AddressFamily",
    "AddressInfo",
    "CAPI",
    "CMSG_LEN",
    "CMSG_SPACE",
    "Client",
    "CommandServer",
    "MsgFlag",
    "ReplyError",
    "Request",
    "Server",
    "SimpleString",
    "SocketIO",
    "SocketKind",
    "SocketType",
    "UDPServer",
    "UrlResponse",
    "__version__",
    "close",
    "create_connection",
    "create_server",
    "dup",
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
    "getprotobyname",
    "getservbyname",
    "getservbyport",
    "has_dualstack_ipv6",
    "has_ipv6",
    "herror",
    "htonl",
    "htons",
    "if_indextoname",
    "if_nameindex",
    "if_nametoindex",
    "inet_aton",
    "inet_ntoa",
    "inet_ntop",
    "inet_pton",
    "ntohl",
    "ntohs",
    "recv_fds",
    "send_fds",
    "setdefaulttimeout",
    "sethostname",
    "socket",
    "socketpair",
    "timeout",
    "udp_request",
    "urlopen",
    "urlretrieve",
]
# BEGIN socket constants (generated by scripts/regen-socket-names)
__all__ += [
    "AF_ALG", "AF_APPLETALK", "AF_ASH", "AF_ATMPVC", "AF_ATMSVC", "AF_AX25", "AF_BRIDGE",
    "AF_CAN", "AF_DECnet", "AF_ECONET", "AF_INET", "AF_INET6", "AF_IPX", "AF_IRDA", "AF_KEY",
    "AF_LLC", "AF_NETBEUI", "AF_NETLINK", "AF_NETROM", "AF_PACKET", "AF_PPPOX", "AF_QIPCRTR",
    "AF_RDS", "AF_ROSE", "AF_ROUTE", "AF_SECURITY", "AF_SNA", "AF_TIPC", "AF_UNIX", "AF_UNSPEC",
    "AF_VSOCK", "AF_WANPIPE", "AF_X25", "AI_ADDRCONFIG", "AI_ALL", "AI_CANONNAME",
    "AI_NUMERICHOST", "AI_NUMERICSERV", "AI_PASSIVE", "AI_V4MAPPED", "ALG_OP_DECRYPT",
    "ALG_OP_ENCRYPT", "ALG_OP_SIGN", "ALG_OP_VERIFY", "ALG_SET_AEAD_ASSOCLEN",
    "ALG_SET_AEAD_AUTHSIZE", "ALG_SET_IV", "ALG_SET_KEY", "ALG_SET_OP", "ALG_SET_PUBKEY",
    "CAN_BCM", "CAN_BCM_CAN_FD_FRAME", "CAN_BCM_RX_ANNOUNCE_RESUME", "CAN_BCM_RX_CHANGED",
    "CAN_BCM_RX_CHECK_DLC", "CAN_BCM_RX_DELETE", "CAN_BCM_RX_FILTER_ID",
    "CAN_BCM_RX_NO_AUTOTIMER", "CAN_BCM_RX_READ", "CAN_BCM_RX_RTR_FRAME", "CAN_BCM_RX_SETUP",
    "CAN_BCM_RX_STATUS", "CAN_BCM_RX_TIMEOUT", "CAN_BCM_SETTIMER", "CAN_BCM_STARTTIMER",
    "CAN_BCM_TX_ANNOUNCE", "CAN_BCM_TX_COUNTEVT", "CAN_BCM_TX_CP_CAN_ID", "CAN_BCM_TX_DELETE",
    "CAN_BCM_TX_EXPIRED", "CAN_BCM_TX_READ", "CAN_BCM_TX_RESET_MULTI_IDX", "CAN_BCM_TX_SEND",
    "CAN_BCM_TX_SETUP", "CAN_BCM_TX_STATUS", "CAN_EFF_FLAG", "CAN_EFF_MASK", "CAN_ERR_FLAG",
    "CAN_ERR_MASK", "CAN_ISOTP", "CAN_J1939", "CAN_RAW", "CAN_RAW_FD_FRAMES", "CAN_RAW_FILTER",
    "CAN_RAW_JOIN_FILTERS", "CAN_RAW_LOOPBACK", "CAN_RAW_RECV_OWN_MSGS", "CAN_RTR_FLAG",
    "CAN_SFF_MASK", "EAGAIN", "EAI_ADDRFAMILY", "EAI_AGAIN", "EAI_BADFLAGS", "EAI_FAIL",
    "EAI_FAMILY", "EAI_MEMORY", "EAI_NODATA", "EAI_NONAME", "EAI_OVERFLOW", "EAI_SERVICE",
    "EAI_SOCKTYPE", "EAI_SYSTEM", "EBADF", "EWOULDBLOCK", "INADDR_ALLHOSTS_GROUP", "INADDR_ANY",
    "INADDR_BROADCAST", "INADDR_LOOPBACK", "INADDR_MAX_LOCAL_GROUP", "INADDR_NONE",
    "INADDR_UNSPEC_GROUP", "IOCTL_VM_SOCKETS_GET_LOCAL_CID", "IPPORT_RESERVED",
    "IPPORT_USERRESERVED", "IPPROTO_AH", "IPPROTO_DSTOPTS", "IPPROTO_EGP", "IPPROTO_ESP",
    "IPPROTO_FRAGMENT", "IPPROTO_GRE", "IPPROTO_HOPOPTS", "IPPROTO_ICMP", "IPPROTO_ICMPV6",
    "IPPROTO_IDP", "IPPROTO_IGMP", "IPPROTO_IP", "IPPROTO_IPIP", "IPPROTO_IPV6",
    "IPPROTO_MPTCP", "IPPROTO_NONE", "IPPROTO_PIM", "IPPROTO_PUP", "IPPROTO_RAW",
    "IPPROTO_ROUTING", "IPPROTO_RSVP", "IPPROTO_SCTP", "IPPROTO_TCP", "IPPROTO_TP",
    "IPPROTO_UDP", "IPPROTO_UDPLITE", "IPV6_CHECKSUM", "IPV6_DONTFRAG", "IPV6_DSTOPTS",
    "IPV6_HOPLIMIT", "IPV6_HOPOPTS", "IPV6_JOIN_GROUP", "IPV6_LEAVE_GROUP",
    "IPV6_MULTICAST_HOPS", "IPV6_MULTICAST_IF", "IPV6_MULTICAST_LOOP", "IPV6_NEXTHOP",
    "IPV6_PATHMTU", "IPV6_PKTINFO", "IPV6_RECVDSTOPTS", "IPV6_RECVHOPLIMIT", "IPV6_RECVHOPOPTS",
    "IPV6_RECVPATHMTU", "IPV6_RECVPKTINFO", "IPV6_RECVRTHDR", "IPV6_RECVTCLASS", "IPV6_RTHDR",
    "IPV6_RTHDRDSTOPTS", "IPV6_RTHDR_TYPE_0", "IPV6_TCLASS", "IPV6_UNICAST_HOPS", "IPV6_V6ONLY",
    "IP_ADD_MEMBERSHIP", "IP_BIND_ADDRESS_NO_PORT", "IP_DEFAULT_MULTICAST_LOOP",
    "IP_DEFAULT_MULTICAST_TTL", "IP_DROP_MEMBERSHIP", "IP_HDRINCL", "IP_MAX_MEMBERSHIPS",
    "IP_MULTICAST_IF", "IP_MULTICAST_LOOP", "IP_MULTICAST_TTL", "IP_OPTIONS", "IP_RECVOPTS",
    "IP_RECVRETOPTS", "IP_RECVTOS", "IP_RETOPTS", "IP_TOS", "IP_TRANSPARENT", "IP_TTL",
    "J1939_EE_INFO_NONE", "J1939_EE_INFO_TX_ABORT", "J1939_FILTER_MAX", "J1939_IDLE_ADDR",
    "J1939_MAX_UNICAST_ADDR", "J1939_NLA_BYTES_ACKED", "J1939_NLA_PAD", "J1939_NO_ADDR",
    "J1939_NO_NAME", "J1939_NO_PGN", "J1939_PGN_ADDRESS_CLAIMED", "J1939_PGN_ADDRESS_COMMANDED",
    "J1939_PGN_MAX", "J1939_PGN_PDU1_MAX", "J1939_PGN_REQUEST", "MSG_CMSG_CLOEXEC",
    "MSG_CONFIRM", "MSG_CTRUNC", "MSG_DONTROUTE", "MSG_DONTWAIT", "MSG_EOR", "MSG_ERRQUEUE",
    "MSG_FASTOPEN", "MSG_MORE", "MSG_NOSIGNAL", "MSG_OOB", "MSG_PEEK", "MSG_TRUNC",
    "MSG_WAITALL", "NETLINK_CRYPTO", "NETLINK_DNRTMSG", "NETLINK_FIREWALL", "NETLINK_IP6_FW",
    "NETLINK_NFLOG", "NETLINK_ROUTE", "NETLINK_USERSOCK", "NETLINK_XFRM", "NI_DGRAM",
    "NI_MAXHOST", "NI_MAXSERV", "NI_NAMEREQD", "NI_NOFQDN", "NI_NUMERICHOST", "NI_NUMERICSERV",
    "PACKET_BROADCAST", "PACKET_FASTROUTE", "PACKET_HOST", "PACKET_LOOPBACK",
    "PACKET_MULTICAST", "PACKET_OTHERHOST", "PACKET_OUTGOING", "PF_CAN", "PF_PACKET", "PF_RDS",
    "SCM_CREDENTIALS", "SCM_J1939_DEST_ADDR", "SCM_J1939_DEST_NAME", "SCM_J1939_ERRQUEUE",
    "SCM_J1939_PRIO", "SCM_RIGHTS", "SHUT_RD", "SHUT_RDWR", "SHUT_WR", "SOCK_CLOEXEC",
    "SOCK_DGRAM", "SOCK_NONBLOCK", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET", "SOCK_STREAM",
    "SOL_ALG", "SOL_CAN_BASE", "SOL_CAN_RAW", "SOL_IP", "SOL_RDS", "SOL_SOCKET", "SOL_TCP",
    "SOL_TIPC", "SOL_UDP", "SOMAXCONN", "SO_ACCEPTCONN", "SO_BINDTODEVICE", "SO_BROADCAST",
    "SO_DEBUG", "SO_DOMAIN", "SO_DONTROUTE", "SO_ERROR", "SO_INCOMING_CPU", "SO_J1939_ERRQUEUE",
    "SO_J1939_FILTER", "SO_J1939_PROMISC", "SO_J1939_SEND_PRIO", "SO_KEEPALIVE", "SO_LINGER",
    "SO_MARK", "SO_OOBINLINE", "SO_PASSCRED", "SO_PASSSEC", "SO_PEERCRED", "SO_PEERSEC",
    "SO_PRIORITY", "SO_PROTOCOL", "SO_RCVBUF", "SO_RCVLOWAT", "SO_RCVTIMEO", "SO_REUSEADDR",
    "SO_REUSEPORT", "SO_SNDBUF", "SO_SNDLOWAT", "SO_SNDTIMEO", "SO_TYPE",
    "SO_VM_SOCKETS_BUFFER_MAX_SIZE", "SO_VM_SOCKETS_BUFFER_MIN_SIZE",
    "SO_VM_SOCKETS_BUFFER_SIZE", "TCP_CONGESTION", "TCP_CORK", "TCP_DEFER_ACCEPT",
    "TCP_FASTOPEN", "TCP_INFO", "TCP_KEEPCNT", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_LINGER2",
    "TCP_MAXSEG", "TCP_NODELAY", "TCP_NOTSENT_LOWAT", "TCP_QUICKACK", "TCP_SYNCNT",
    "TCP_USER_TIMEOUT", "TCP_WINDOW_CLAMP", "TIPC_ADDR_ID", "TIPC_ADDR_NAME",
    "TIPC_ADDR_NAMESEQ", "TIPC_CFG_SRV", "TIPC_CLUSTER_SCOPE", "TIPC_CONN_TIMEOUT",
    "TIPC_CRITICAL_IMPORTANCE", "TIPC_DEST_DROPPABLE", "TIPC_HIGH_IMPORTANCE",
    "TIPC_IMPORTANCE", "TIPC_LOW_IMPORTANCE", "TIPC_MEDIUM_IMPORTANCE", "TIPC_NODE_SCOPE",
    "TIPC_PUBLISHED", "TIPC_SRC_DROPPABLE", "TIPC_SUBSCR_TIMEOUT", "TIPC_SUB_CANCEL",
    "TIPC_SUB_PORTS", "TIPC_SUB_SERVICE", "TIPC_TOP_SRV", "TIPC_WAIT_FOREVER", "TIPC_WITHDRAWN",
    "TIPC_ZONE_SCOPE", "UDPLITE_RECV_CSCOV", "UDPLITE_SEND_CSCOV", "VMADDR_CID_ANY",
    "VMADDR_CID_HOST", "VMADDR_PORT_ANY", "VM_SOCKETS_INVALID_VERSION",
]
# END socket constants
