"""Type stubs for the compiled core, ``netcore._netcore``."""

from typing import List, Optional, Tuple, Union

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
