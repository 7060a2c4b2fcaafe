"""Type stubs for the compiled core, ``netcore._netcore``."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, final

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
