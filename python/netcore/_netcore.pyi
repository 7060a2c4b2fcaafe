"""Type stubs for the compiled core, ``netcore._netcore``."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, final

from typing_extensions import disjoint_base

__version__: str

AF_UNSPEC: int
AF_INET: int
AF_INET6: int
AF_UNIX: int
SOCK_STREAM: int
SOCK_DGRAM: int
SOCK_RAW: int
SOCK_SEQPACKET: int
IPPROTO_TCP: int
IPPROTO_UDP: int
AI_PASSIVE: int
AI_CANONNAME: int
AI_NUMERICHOST: int
AI_NUMERICSERV: int
AI_V4MAPPED: int
AI_ALL: int
AI_ADDRCONFIG: int
NI_NUMERICHOST: int
NI_NUMERICSERV: int
NI_NOFQDN: int
NI_NAMEREQD: int
NI_DGRAM: int
EAI_NONAME: int
EAI_AGAIN: int
EAI_FAIL: int
EAI_FAMILY: int
EAI_SERVICE: int
EAI_SOCKTYPE: int

# Socket constants (netcore.socket).
SOCK_NONBLOCK: int
SOCK_CLOEXEC: int
SOL_SOCKET: int
SOMAXCONN: int
SO_REUSEADDR: int
SO_REUSEPORT: int
SO_KEEPALIVE: int
SO_BROADCAST: int
SO_LINGER: int
SO_RCVBUF: int
SO_SNDBUF: int
SO_RCVLOWAT: int
SO_SNDLOWAT: int
SO_RCVTIMEO: int
SO_SNDTIMEO: int
SO_ERROR: int
SO_TYPE: int
SO_ACCEPTCONN: int
SO_DOMAIN: int
SO_PROTOCOL: int
SO_OOBINLINE: int
SO_PEERCRED: int
IPPROTO_IP: int
IPPROTO_IPV6: int
IPPROTO_ICMP: int
IPPROTO_ICMPV6: int
IPPROTO_RAW: int
IP_TTL: int
IP_TOS: int
IP_HDRINCL: int
IP_MULTICAST_TTL: int
IP_MULTICAST_LOOP: int
IP_ADD_MEMBERSHIP: int
IP_DROP_MEMBERSHIP: int
IPV6_V6ONLY: int
IPV6_UNICAST_HOPS: int
TCP_NODELAY: int
TCP_MAXSEG: int
TCP_KEEPIDLE: int
TCP_KEEPINTVL: int
TCP_KEEPCNT: int
TCP_QUICKACK: int
TCP_FASTOPEN: int
TCP_USER_TIMEOUT: int
SHUT_RD: int
SHUT_WR: int
SHUT_RDWR: int
MSG_PEEK: int
MSG_OOB: int
MSG_WAITALL: int
MSG_DONTWAIT: int
MSG_DONTROUTE: int
MSG_NOSIGNAL: int
MSG_TRUNC: int
MSG_CTRUNC: int
MSG_EOR: int
MSG_MORE: int
MSG_CMSG_CLOEXEC: int
INADDR_ANY: int
INADDR_LOOPBACK: int
INADDR_BROADCAST: int
has_ipv6: bool

_Host = Union[str, bytes, bytearray]
_Address = Union[Tuple[str, int], Tuple[str, int, int, int]]

def cli_main(argv: List[str]) -> int: ...
def getservbyname(name: str, proto: Optional[str] = None) -> int: ...
def getservbyport(port: int, proto: Optional[str] = None) -> str: ...
def gethostbyname(host: _Host) -> str: ...
def gethostbyname_ex(host: _Host) -> Tuple[str, List[str], List[str]]: ...
def gethostbyaddr(host: _Host) -> Tuple[str, List[str], List[str]]: ...
def gethostname() -> str: ...
def getfqdn(name: str = "", timeout: float = 2.0) -> str: ...
def getaddrinfo(
    host: Union[_Host, None],
    port: Union[str, bytes, int, None],
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> List[Tuple[int, int, int, str, _Address]]: ...
def getnameinfo(sockaddr: _Address, flags: int) -> Tuple[str, str]: ...

# ---- sockets ----------------------------------------------------------------------------

_Buffer = Any  # any object with the buffer protocol (bytes, bytearray, memoryview, array, ...)
_SockAddr = Any  # (host, port), (host, port, flowinfo, scope_id), a Unix path, bytes, or None
_Timeout = Optional[float]

@disjoint_base
class socket:
    """A socket with the semantics of the stdlib's ``socket.socket``, run by netcore's core."""

    def __new__(cls, family: int = -1, type: int = -1, proto: int = -1, fileno: Optional[int] = None) -> socket: ...
    @property
    def family(self) -> int: ...
    @property
    def type(self) -> int: ...
    @property
    def proto(self) -> int: ...
    @property
    def timeout(self) -> _Timeout: ...
    @property
    def _closed(self) -> bool: ...
    @property
    def _io_refs(self) -> int: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...
    def _decref_socketios(self) -> None: ...
    def detach(self) -> int: ...
    def __enter__(self) -> socket: ...
    def __exit__(self, *_args: object) -> None: ...
    def bind(self, address: _SockAddr) -> None: ...
    def listen(self, backlog: Optional[int] = None) -> None: ...
    def accept(self) -> Tuple[socket, _SockAddr]: ...
    def connect(self, address: _SockAddr) -> None: ...
    def connect_ex(self, address: _SockAddr) -> int: ...
    def recv(self, bufsize: int, flags: int = 0) -> bytes: ...
    def recv_into(self, buffer: _Buffer, nbytes: int = 0, flags: int = 0) -> int: ...
    def recvfrom(self, bufsize: int, flags: int = 0) -> Tuple[bytes, _SockAddr]: ...
    def recvfrom_into(self, buffer: _Buffer, nbytes: int = 0, flags: int = 0) -> Tuple[int, _SockAddr]: ...
    def send(self, data: _Buffer, flags: int = 0) -> int: ...
    def sendall(self, data: _Buffer, flags: int = 0) -> None: ...
    def sendto(self, *args: Any) -> int: ...
    def shutdown(self, how: int) -> None: ...
    def dup(self) -> socket: ...
    def getsockname(self) -> _SockAddr: ...
    def getpeername(self) -> _SockAddr: ...
    def setsockopt(self, level: int, optname: int, value: Union[int, _Buffer, None], optlen: Optional[int] = None) -> None: ...
    def getsockopt(self, level: int, optname: int, buflen: Optional[int] = None) -> Union[int, bytes]: ...
    def settimeout(self, value: _Timeout) -> None: ...
    def gettimeout(self) -> _Timeout: ...
    def setblocking(self, flag: bool) -> None: ...
    def getblocking(self) -> bool: ...
    def get_inheritable(self) -> bool: ...
    def set_inheritable(self, inheritable: bool) -> None: ...
    def makefile(
        self,
        mode: str = "r",
        buffering: Optional[int] = None,
        *,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
        newline: Optional[str] = None,
    ) -> Any: ...

def socketpair(family: Optional[int] = None, type: int = 1, proto: int = 0) -> Tuple[socket, socket]: ...
def fromfd(fd: Any, family: int, type: int, proto: int = 0) -> socket: ...
def getdefaulttimeout() -> _Timeout: ...
def setdefaulttimeout(timeout: _Timeout) -> None: ...
def has_dualstack_ipv6() -> bool: ...
def _create_connection(
    address: Tuple[Any, Any], timeout: Any, source_address: Any = None, all_errors: bool = False
) -> socket: ...
def create_server(
    address: _SockAddr,
    *,
    family: int = ...,
    backlog: Optional[int] = None,
    reuse_port: bool = False,
    dualstack_ipv6: bool = False,
) -> socket: ...
@final
class Request:
    @property
    def line(self) -> bytes: ...
    @property
    def command(self) -> bytes: ...
    @property
    def args(self) -> bytes: ...
    @property
    def peer(self) -> str: ...
    @property
    def transport(self) -> str: ...

_Reply = Union[str, bytes, bytearray, None]

@final
class ServerCore:
    def __new__(
        cls,
        service: str = "command",
        *,
        tcp: Sequence[Tuple[str, int]] = ...,
        udp: Sequence[Tuple[str, int]] = ...,
        unix: Sequence[str] = ...,
        framing: str = "line",
        root: Optional[str] = None,
        banner: Union[str, bytes, None] = None,
        token: Optional[str] = None,
        max_connections: int = 1024,
        max_line: int = 65536,
        idle_timeout: Optional[float] = ...,  # 300.0
        max_output: int = 262144,
        workers: Optional[int] = None,
    ) -> ServerCore: ...
    def add_command(self, name: str, handler: Callable[[Request], _Reply]) -> None: ...
    def set_default_handler(self, handler: Optional[Callable[[Request], _Reply]]) -> None: ...
    def addresses(self) -> List[Tuple[str, Any]]: ...
    def stats(self) -> Dict[str, int]: ...
    @property
    def service(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def request_stop(self) -> None: ...
    def wait(self, timeout: Optional[float] = None) -> bool: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def serve_forever(self, poll_interval: float = 0.5, stop_timeout: float = 5.0) -> None: ...
