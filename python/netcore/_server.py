"""The command-server engine from Python, with ``socketserver``'s names where they fit.

The server binds and starts serving (on the Rust engine's threads) as soon as it is created;
``serve_forever()`` blocks until ``shutdown()`` — from another thread, a handler or Ctrl+C.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar, Union

from . import _netcore
from ._netcore import Request

if TYPE_CHECKING:
    # The Literal types of the names the core takes (Server.SERVICES, Server.FRAMINGS).
    from ._netcore import _FramingName, _ServiceName

_Address = Union[Tuple[str, int], Tuple[str, int, int, int]]
_PathLike = Union[str, "os.PathLike[str]"]

_Reply = Union[str, bytes, bytearray, int, float, None, List[Any], Tuple[Any, ...], Dict[Any, Any], BaseException]
_Handler = Callable[[Request], _Reply]
_F = TypeVar("_F", bound=_Handler)


def _path_or_none(value: Optional[_PathLike]) -> Optional[str]:
    return None if value is None else os.fspath(value)


class Server:
    """A netcore server running one of the built-in services.

    ``service``: ``"command"`` (seed 000: date, os, ls, help, quit), ``"greet"`` (seed 002),
    ``"banner"`` (send ``banner`` and close), ``"echo"``, or ``"custom"`` (only your commands).
    ``server_address`` is a TCP ``(host, port)`` (default ``("127.0.0.1", 0)``: loopback and a
    free port; host names resolve) or a Unix socket path; ``udp`` and ``unix`` add more
    listeners.
    ``framing``: ``"line"`` (one request per line) or ``"message"`` (each received chunk is
    one request and replies go back as they are — the tutorials' clients).

    Limits: ``max_connections``, ``max_line`` (bytes; a longer line gets an error reply and
    the connection is closed), ``idle_timeout`` (seconds; ``0``: never), ``max_output`` (bytes
    of replies buffered per client), ``backlog`` (connections the kernel queues per TCP
    listener before they are accepted), ``workers`` (engine threads), ``token`` (a shared secret
    clients must send as their first line), ``busy_poll_us`` (after each reply, look for the
    client's next request this long before sleeping, while it keeps coming back that quickly:
    lower latency at one request in flight, for a worker's CPU; ``0``: off). An option left ``None`` takes the engine's
    default: ``Server.DEFAULTS`` lists them.

    Deployment (docs/deploy.md): ``reuse_port`` (SO_REUSEPORT: several processes on one
    port), ``proxy_protocol`` (``True``: every stream listener expects a PROXY protocol
    header from a load balancer, or a list of the listener addresses that do),
    ``handshake_timeout`` (seconds to send it), ``metrics`` (``(host, port)`` of a
    Prometheus ``/metrics`` endpoint), ``fds`` (descriptors of bound sockets to serve — the
    server owns them, pass ``sock.detach()``), ``systemd`` (serve the sockets systemd passed
    in ``LISTEN_FDS``), ``log_connections`` (a line on stderr per client).

    TLS: ``tls_cert`` and ``tls_key`` (PEM files) make every TCP listener a TLS listener;
    ``tls_client_ca`` also requires client certificates signed by that CA (mutual TLS), whose
    subject handlers find in ``request.peer_cert``. ``reload_tls()`` re-reads the files.
    ``handshake_timeout`` also bounds the TLS handshake.

    Handlers are called as ``handler(request)`` with the GIL held and return ``str``,
    ``bytes`` or ``None`` (no reply). By default a handler runs on the engine thread that read
    the request, the requests a client pipelined answered together under one GIL hold; while
    it runs, that engine thread serves no other client, so a handler that blocks (sleeps,
    does I/O) is registered with ``blocking=True`` and runs on the server's own Python
    threads (four) instead. An exception becomes ``error: internal error in handler`` for the
    client and a record on the ``netcore.server`` logger; serving goes on.
    """

    service: Optional[_ServiceName] = None
    #: The engine's defaults for every option left ``None`` (read from the core).
    DEFAULTS: Dict[str, Any] = _netcore.SERVER_DEFAULTS
    #: The names ``service=`` and ``framing=`` take.
    SERVICES: List[str] = _netcore.SERVICE_NAMES
    FRAMINGS: List[str] = _netcore.FRAMING_NAMES

    def __init__(
        self,
        server_address: Union[_Address, _PathLike, None] = ("127.0.0.1", 0),
        service: Optional[_ServiceName] = None,
        *,
        framing: Optional[_FramingName] = None,
        udp: Union[None, _Address, Iterable[_Address]] = None,
        unix: Union[None, _PathLike, Iterable[_PathLike]] = None,
        root: Optional[_PathLike] = None,
        banner: Union[str, bytes, None] = None,
        token: Optional[str] = None,
        max_connections: Optional[int] = None,
        max_line: Optional[int] = None,
        idle_timeout: Optional[float] = None,
        max_output: Optional[int] = None,
        backlog: Optional[int] = None,
        workers: Optional[int] = None,
        busy_poll_us: Optional[int] = None,
        reuse_port: Optional[bool] = None,
        proxy_protocol: Union[None, bool, Iterable[Union[_Address, _PathLike]]] = None,
        handshake_timeout: Optional[float] = None,
        metrics: Optional[_Address] = None,
        fds: Optional[Iterable[int]] = None,
        systemd: Optional[bool] = None,
        log_connections: Optional[bool] = None,
        tls_cert: Optional[_PathLike] = None,
        tls_key: Optional[_PathLike] = None,
        tls_client_ca: Optional[_PathLike] = None,
    ) -> None:
        self._core = _netcore.ServerCore(
            service or self.service,
            tcp=server_address,
            udp=udp,
            unix=unix,
            framing=framing,
            root=os.fspath(root) if root is not None else None,
            banner=banner,
            token=token,
            max_connections=max_connections,
            max_line=max_line,
            idle_timeout=idle_timeout,
            max_output=max_output,
            backlog=backlog,
            workers=workers,
            busy_poll_us=busy_poll_us,
            reuse_port=reuse_port,
            proxy_protocol=proxy_protocol,
            handshake_timeout=handshake_timeout,
            metrics=metrics,
            fds=list(fds) if fds is not None else None,
            systemd=systemd,
            log_connections=log_connections,
            tls_cert=_path_or_none(tls_cert),
            tls_key=_path_or_none(tls_key),
            tls_client_ca=_path_or_none(tls_client_ca),
        )
        # Stop at interpreter exit at the latest, before handlers can no longer take the GIL.
        self._finalizer = weakref.finalize(self, self._core.stop, 1.0)

    # -- addresses
    @property
    def server_address(self) -> Union[_Address, str]:
        """The first bound address: ``(host, port)`` with the real port, or a socket path."""
        return self._core.addresses()[0][1]  # type: ignore[no-any-return]

    @property
    def addresses(self) -> List[Tuple[str, Any]]:
        """Every bound address as ``(kind, address)``, kind ``"tcp"``, ``"udp"`` or ``"unix"``."""
        return self._core.addresses()

    # -- commands
    def add_command(self, name: str, handler: _Handler, blocking: bool = False) -> None:
        """Adds or replaces the command ``name`` (the first word of a request).
        ``blocking=True`` for a handler that may block (sleeps, does I/O, waits for a lock):
        it then runs on the server's own Python threads, so it stalls no other client."""
        self._core.add_command(name, handler, blocking)

    def command(self, name: str, blocking: bool = False) -> Callable[[_F], _F]:
        """Decorator: ``@server.command("hello")`` registers the function for ``hello``;
        ``@server.command("fetch", blocking=True)`` one that may block (see ``add_command``)."""

        def register(func: _F) -> _F:
            self._core.add_command(name, func, blocking)
            return func

        return register

    def default(self, func: _F) -> _F:
        """Decorator: the handler for requests no command matches."""
        self._core.set_default_handler(func)
        return func

    def set_default_handler(self, handler: Optional[_Handler], blocking: bool = False) -> None:
        self._core.set_default_handler(handler, blocking)

    def reload_tls(self) -> None:
        """Re-reads the TLS certificate, key and client CA files: new handshakes use them,
        open connections keep theirs. On an error (raised) the old ones stay in use."""
        self._core.reload_tls()

    # -- lifecycle
    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Blocks until ``shutdown()`` (from any thread or a handler) or Ctrl+C, which stops
        the server and raises ``KeyboardInterrupt``."""
        self._core.serve_forever(poll_interval)

    def shutdown(self) -> None:
        """Stops the server: no new clients, replies in flight finished, clients closed.
        From a handler it only asks for the stop (``serve_forever`` then returns)."""
        self._core.stop(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        """As ``shutdown()``, waiting at most ``timeout`` seconds for replies in flight."""
        self._core.stop(timeout)

    def server_close(self) -> None:
        self._core.stop(5.0)

    @property
    def running(self) -> bool:
        return self._core.running

    @property
    def stats(self) -> Dict[str, int]:
        """connections_open, connections_total, requests, bytes_in, bytes_out, errors, rejected,
        handshakes, handshake_failures."""
        return self._core.stats()

    @property
    def metrics_address(self) -> Optional[Tuple[str, int]]:
        """``(host, port)`` of the Prometheus endpoint (``metrics=``), or ``None``."""
        return self._core.metrics_address()  # type: ignore[no-any-return]

    def metrics_text(self) -> str:
        """The counters in the Prometheus text format, as ``GET /metrics`` answers."""
        return self._core.metrics_text()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self._core.stop(5.0)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<netcore.{type(self).__name__} {self._core.service} {self.addresses!r} {state}>"


class CommandServer(Server):
    """Seed 000's command server: ``date``, ``os``, ``ls [PATH]`` (confined to ``root``),
    ``help``, ``quit``/``exit``, your commands, anything else ``welcome``."""

    service = "command"


class UDPServer(Server):
    """A server on UDP: one datagram is one request, one reply datagram goes back."""

    def __init__(
        self,
        server_address: _Address = ("127.0.0.1", 0),
        service: Optional[_ServiceName] = None,
        **options: Any,
    ) -> None:
        super().__init__(None, service, udp=server_address, **options)
