"""The seed tutorials' socket programs (../shared/seeds/) on netcore sockets.

Each program is the seed's code in its Python 3 form, run as its own process with only the
import changed (`import socket` -> `import netcore as socket`, `from socket import *` ->
`from netcore import *`). Every server runs against clients of both modules and every client
against servers of both, and the transcripts must match the stdlib-only run.

Changes to the seed text besides the import, all required by the test rules: fixed ports become
free ports; servers bind 127.0.0.1 instead of '' or gethostname() and clients connect to
localhost, so only loopback is used; the seeds' misspellings (cliendsock) are fixed; Python 2
prints and str sockets become Python 3 prints and bytes; the threaded server's sleep(1) per
message is 0.05 s.
"""

from __future__ import annotations

import os
import re
import select
import socket as stdsocket
import subprocess
import sys
import time

import pytest

MODULES = ["netcore", "socket"]
COMBOS = [(s, c) for s in MODULES for c in MODULES]
IDS = [f"server-{s}-client-{c}" for s, c in COMBOS]


def with_module(src: str, module: str) -> str:
    if module == "socket":
        return src
    out = src.replace("from socket import *", "from netcore import *")
    out = re.sub(r"^import socket$", "import netcore as socket", out, flags=re.M)
    out = out.replace("import socket,sys", "import netcore as socket,sys")
    assert out != src, "the program has no socket import to change"
    return out


def free_port(kind=stdsocket.SOCK_STREAM) -> int:
    with stdsocket.socket(stdsocket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# free_port() closes its socket before the seed program binds the port, so another process (a
# test in another worktree) may take it in between. The start is then retried on a new port.
PORT_TRIES = 5


class PortTaken(Exception):
    """The port was bound by someone else before the seed server bound it."""


def sockets_on(port: int, kind) -> set[int]:
    """The inodes of this network namespace's IPv4 and IPv6 sockets bound to `port`."""
    tables = ["tcp", "tcp6"] if kind == stdsocket.SOCK_STREAM else ["udp", "udp6"]
    inodes = set()
    for table in tables:
        try:
            with open(f"/proc/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def sockets_of(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds open."""
    inodes = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return inodes
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def wait_bound(port: int, kind, proc) -> None:
    """Waits until `proc` itself has bound 127.0.0.1:port, without connecting. PortTaken when
    it died of EADDRINUSE or someone else holds the port."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sockets_on(port, kind) & sockets_of(proc.pid):
            return
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            if "Address already in use" in err:
                raise PortTaken(f"port {port}: {err.strip().splitlines()[-1]}")
            raise AssertionError(f"server exited early: {err}")
        time.sleep(0.02)
    if sockets_on(port, kind):
        raise PortTaken(f"port {port} is held by another process")
    raise AssertionError(f"nothing bound port {port}")


class Server:
    """A seed server in its own process; killed (by PID) when the test ends. `program(port)` is
    its text for a port; `Server.start` picks the port."""

    def __init__(self, src: str, module: str, port: int, kind=stdsocket.SOCK_STREAM):
        self.port = str(port)
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-c", with_module(src, module)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.out = b""
        try:
            wait_bound(port, kind, self.proc)
        except BaseException:
            self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc.stdout.close()
            self.proc.stderr.close()
            raise

    @classmethod
    def start(cls, program, module: str, kind=stdsocket.SOCK_STREAM) -> Server:
        """Runs `program(port)` on a free port, on a new one if another process took it first
        (at most PORT_TRIES times)."""
        taken = []
        for _ in range(PORT_TRIES):
            port = free_port(kind)
            try:
                return cls(program(str(port)), module, port, kind)
            except PortTaken as e:
                taken.append(str(e))
        raise AssertionError(f"every port tried was taken before the server bound it: {taken}")

    def expect(self, text: str, count: int = 1, timeout: float = 20) -> None:
        """Reads the server's output until `count` whole lines hold `text` (bounded in time)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout

        def seen() -> int:
            lines = self.out.decode("utf-8", "replace").split("\n")[:-1]  # complete lines only
            return sum(text in line for line in lines)

        while seen() < count and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.out += chunk

    def stop(self) -> tuple[str, str]:
        self.proc.kill()
        self.proc.wait(timeout=20)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        rest = self.proc.stdout.buffer.read() if hasattr(self.proc.stdout, "buffer") else b""
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return (self.out + rest).decode("utf-8"), err


def client(src: str, module: str, *args: str, stdin: str = "") -> str:
    proc = subprocess.run(
        [sys.executable, "-c", with_module(src, module), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def normalise(text: str) -> str:
    """Ports and times differ between runs; nothing else may."""
    text = re.sub(r"\b\d{4,5}\b", "PORT", text)
    return re.sub(r"\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}", "CTIME", text)


# ---------------------------------------------------------------------------------------
# 000: the multi-command server and its interactive client

CMD_SERVER = """\
from socket import *
import os
from time import ctime
HOST = '127.0.0.1'
PORT = 21560
BUFSIZ = 1024
ADDR = (HOST,PORT)
tcpSerSock = socket(AF_INET,SOCK_STREAM)
tcpSerSock.bind(ADDR)
tcpSerSock.listen(5)
while True:
    print('waiting for connection...')
    tcpCliSock, addr = tcpSerSock.accept()
    print('...Connected from:', addr)
    while True:
        try:
            data = tcpCliSock.recv(BUFSIZ).decode()
            print(data,'',len(data))
            if not data:
                break
            if data == 'date':
                tcpCliSock.send(('[%s] %s' %(ctime(),data)).encode())
                continue
            if data == 'os':
                tcpCliSock.send(('[%s]' %os.name).encode())
                continue
            if data[0:2] == 'ls':
                if len(data) == 2:
                    tcpCliSock.send(('[%s]' %os.curdir).encode())
                else:
                    data_dir = data[3:len(data)]
                    tcpCliSock.send(('[%s]' %os.listdir(data_dir)).encode())
                continue
            tcpCliSock.send(b'welcome')
        except Exception:
            break
    print(addr,'connection closed')
    tcpCliSock.close()
tcpSerSock.close()
"""

CMD_CLIENT = """\
from socket import *
HOST = '127.0.0.1'
PORT = 21560
BUFSIZ = 1024
ADDR = (HOST,PORT)
tcpCstmSock = socket(AF_INET,SOCK_STREAM)
tcpCstmSock.connect_ex(ADDR)
while True:
    try:
        data = ''
        while True:
            try:
                tp = input('>')
                data = data + tp
            except EOFError:
                break
    except KeyboardInterrupt:
        break
    if not data:
        break
    tcpCstmSock.send(data.encode())
    data = tcpCstmSock.recv(BUFSIZ)
    if not data:
        break
    print(data.decode())
tcpCstmSock.close()
"""

VANISHING_CLIENT = """\
import struct
import socket
s = socket.socket()
s.connect(('127.0.0.1', 21560))
s.send(b'os')
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
"""


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed000_command_server(server_mod, client_mod, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    srv = Server.start(lambda port: CMD_SERVER.replace("21560", port), server_mod)
    port = srv.port
    try:
        run = lambda stdin: client(CMD_CLIENT.replace("21560", port), client_mod, stdin=stdin)  # noqa: E731
        # The client prompts '>' per line read, the EOF included, and once more after a reply.
        date = run("date\n")
        assert re.fullmatch(r">>\[\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}\] date\n>", date), date
        assert run("os\n") == f">>[{os.name}]\n>"
        assert run("ls\n") == ">>[.]\n>"
        assert run(f"ls {tmp_path}\n") == ">>[['a.txt']]\n>"
        assert run("hello\n") == ">>welcome\n>"
        # Lines typed before Ctrl+D are joined into one command.
        assert run("o\ns\n") == f">>>[{os.name}]\n>"
        # The server survives a client that vanishes (connection reset) ...
        client(VANISHING_CLIENT.replace("21560", port), client_mod)
        # ... and serves the next one.
        assert run("hello\n") == ">>welcome\n>"
        # An empty input sends nothing and quits.
        assert run("") == ">"
        srv.expect("connection closed", 8)
    finally:
        out, err = srv.stop()
    assert "waiting for connection..." in out and "...Connected from: ('127.0.0.1'," in out, err
    assert "connection closed" in out


# ---------------------------------------------------------------------------------------
# 001: connect.py, server.py (SO_REUSEADDR), a UDP server, the error classes, makefile

CONNECT_PY = """\
import socket
print("Creating socket... ")
s = socket.socket( socket.AF_INET, socket.SOCK_STREAM )
print("Done!")
print("Looking up port number... ")
port = socket.getservbyname( "http", "tcp" )
print("Done!", port)
port = 51423
print("Connecting to remote host on port %d..." % port)
s.connect(( "localhost", port ))
print("Done!")
print("Connected from ", s.getsockname()[0])
print("Connected to ", s.getpeername())
"""

SERVER_PY = """\
import socket
host = '127.0.0.1'
port = 51423
s = socket.socket( socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt( socket.SOL_SOCKET, socket.SO_REUSEADDR, 1 )
s.bind((host, port))
print("Waiting for connections... ")
s.listen(1)
while 1:
    clientsock, clientaddr = s.accept()
    print("Got connection from ", clientsock.getpeername())
    clientsock.close()
"""

UDP_SERVER_001 = """\
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 51423))
while 1:
    message, address = s.recvfrom(8192)
    print("Got data from", address)
    s.sendto(message, address)
"""

UDP_CLIENT_001 = """\
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('127.0.0.1', 51423))
s.sendall(b"ping over udp")
s.settimeout(10)
print(s.recv(2048))
"""

ERRORS_001 = """\
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.connect(("no-such-host.invalid", 80))
except socket.gaierror as e:
    print("gaierror", e.errno < 0)
except socket.error as e:
    print("error", e)
s.close()
a = socket.socket()
a.bind(("127.0.0.1", 0))
a.listen(1)
s = socket.socket()
s.connect(a.getsockname())
s.settimeout(0.2)
try:
    s.recv(10)
except socket.timeout as e:
    print("timeout", e)
f = s.makefile("rw")
conn, _ = a.accept()
conn.sendall(b"line one\\nline two\\n")
print(repr(f.readline()), repr(f.readline()))
f.write("reply\\n")
f.flush()
print(conn.recv(100))
print(socket.herror.__name__, issubclass(socket.timeout, socket.error))
"""


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed001_connect_and_base_server(server_mod, client_mod):
    srv = Server.start(lambda port: SERVER_PY.replace("51423", port), server_mod)
    port = srv.port
    try:
        out = client(CONNECT_PY.replace("51423", port), client_mod)
        srv.expect("Got connection from")
    finally:
        server_out, err = srv.stop()
    assert out == (
        "Creating socket... \nDone!\nLooking up port number... \nDone! 80\n"
        f"Connecting to remote host on port {port}...\nDone!\nConnected from  127.0.0.1\n"
        f"Connected to  ('127.0.0.1', {port})\n"
    )
    assert server_out.startswith("Waiting for connections... \nGot connection from  ('127.0.0.1', "), err


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed001_udp_server(server_mod, client_mod):
    srv = Server.start(lambda port: UDP_SERVER_001.replace("51423", port), server_mod, stdsocket.SOCK_DGRAM)
    port = srv.port
    try:
        out = client(UDP_CLIENT_001.replace("51423", port), client_mod)
        srv.expect("Got data from")
    finally:
        server_out, _ = srv.stop()
    assert out == "b'ping over udp'\n"
    assert server_out.startswith("Got data from ('127.0.0.1', ")


def test_seed001_error_classes_and_makefile():
    results = {m: client(ERRORS_001, m) for m in MODULES}
    assert results["netcore"] == results["socket"]
    assert results["netcore"] == (
        "gaierror True\ntimeout timed out\n'line one\\n' 'line two\\n'\nb'reply\\n'\nherror True\n"
    )


# ---------------------------------------------------------------------------------------
# 002: threaded TCP server and client, UDP server and client, with the seed's transcripts

TCP_SERVER_002 = """\
# -*- coding: utf-8 -*-
import time
import socket
import threading

def dealtcp(sock, addr):
    print('Accept new connection from %s:%s' % addr)
    sock.send(b'Hello, I am server')
    while True:
        data = sock.recv(1024)
        time.sleep(0.05)
        if not data or data.decode('utf-8') == 'exit':
            break
        print('客户端发来的数据:%s' % data.decode('utf-8'))
        sock.send(('Hello, %s!' % data.decode('utf-8')).encode('utf-8'))
    sock.close()
    print('Connection from %s:%s closed.' % addr)

if __name__ == '__main__':
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 8000))
    s.listen(10)
    print('Waiting for connection...')
    while True:
        sock, addr = s.accept()
        t = threading.Thread(target=dealtcp, args=(sock, addr))
        t.start()
"""

TCP_CLIENT_002 = """\
# -*- coding: utf-8 -*-
import socket

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(('127.0.0.1', 8000))
print('接收到的服务端数据:%s' % s.recv(1024).decode('utf-8'))
for data in [b'client1', b'client2', b'client3']:
    s.send(data)
    print('服务端又返回来的数据:%s ' % s.recv(1024).decode('utf-8'))
s.send(b'exit')
s.close()
"""

UDP_SERVER_002 = """\
# -*- coding: utf-8 -*-
import socket

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 9000))
print('Bind udp on 9000...')
while True:
    data, addr = s.recvfrom(1024)
    print('Received from %s:%s' % addr)
    s.sendto(b'Hello, %s' % data, addr)
"""

UDP_CLIENT_002 = """\
# -*- coding: utf-8 -*-
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for data in [b'client1', b'client2']:
    s.sendto(data, ('127.0.0.1', 9000))
    print('Received %s' % s.recv(1024).decode('utf-8'))
s.close()
"""


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed002_threaded_tcp_transcript(server_mod, client_mod):
    srv = Server.start(lambda port: TCP_SERVER_002.replace("8000", port), server_mod)
    port = srv.port
    try:
        out = client(TCP_CLIENT_002.replace("8000", port), client_mod)
        srv.expect("closed.")  # the handler thread's goodbye
    finally:
        server_out, err = srv.stop()
    assert out == (
        "接收到的服务端数据:Hello, I am server\n"
        "服务端又返回来的数据:Hello, client1! \n"
        "服务端又返回来的数据:Hello, client2! \n"
        "服务端又返回来的数据:Hello, client3! \n"
    )
    assert normalise(server_out) == (
        "Waiting for connection...\n"
        "Accept new connection from 127.0.0.1:PORT\n"
        "客户端发来的数据:client1\n客户端发来的数据:client2\n客户端发来的数据:client3\n"
        "Connection from 127.0.0.1:PORT closed.\n"
    ), err


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed002_udp_transcript(server_mod, client_mod):
    srv = Server.start(lambda port: UDP_SERVER_002.replace("9000", port), server_mod, stdsocket.SOCK_DGRAM)
    port = srv.port
    try:
        out = client(UDP_CLIENT_002.replace("9000", port), client_mod)
        srv.expect("Received from", 2)
    finally:
        server_out, _ = srv.stop()
    assert out == "Received Hello, client1\nReceived Hello, client2\n"
    assert normalise(server_out) == "Bind udp on PORT...\nReceived from 127.0.0.1:PORT\nReceived from 127.0.0.1:PORT\n"


# ---------------------------------------------------------------------------------------
# 003: the thank-you server and client, and the Gopher client with its error handling

THANKS_SERVER = """\
import socket
s = socket.socket()
host = 'localhost'
port = 8088
s.bind((host,port))
s.listen(5)
while True:
    c, addr = s.accept()
    print('Got connection from', addr)
    c.send(b'Thank you for connection')
    c.close()
"""

THANKS_CLIENT = """\
import socket
s = socket.socket()
host = 'localhost'
port = 8088
s.connect((host,port))
print(s.recv(1024))
"""

GOPHER_SERVER = """\
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 70))
s.listen(5)
while True:
    c, addr = s.accept()
    f = c.makefile('rb')
    selector = f.readline().decode().strip()
    f.close()
    if selector == 'about':
        c.sendall(b'iAbout this server\\tfake\\t(NULL)\\t0\\r\\n' * 200 + b'.\\r\\n')
    else:
        c.sendall(b'3' + selector.encode() + b' does not exist\\r\\n')
    c.close()
"""

GOPHER_CLIENT = """\
import socket,sys
port =70
host=sys.argv[1]
filename=sys.argv[2]

try:
    s=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
except socket.error as e:
    print("建立socket错误:%s"%e)

try:
    s.connect((host,port))
except socket.gaierror as e:
    print("host或者端口错误:%s" %e)
except socket.error as e:
    print("连接错误:%s" %e)

try:
    s.sendall((filename+"\\r\\n").encode())
except socket.error as e:
    print("数据发送错误:%s" %e)
    sys.exit(1)

while 1:
    try:
        buf=s.recv(2048)
    except socket.error as e:
        print("接收错误:%s"%e)
        sys.exit(1)
    if b'does not exist' in buf:
        print("%s文件不存在" %filename)
    else:
        if not len(buf):
            break
        sys.stdout.write(buf.decode())
"""


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed003_thank_you_server(server_mod, client_mod):
    srv = Server.start(lambda port: THANKS_SERVER.replace("8088", port), server_mod)
    port = srv.port
    try:
        out = client(THANKS_CLIENT.replace("8088", port), client_mod)
        srv.expect("Got connection from")
    finally:
        server_out, _ = srv.stop()
    assert out == "b'Thank you for connection'\n"
    assert server_out.startswith("Got connection from ('127.0.0.1', ")


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed003_gopher_client(server_mod, client_mod):
    srv = Server.start(lambda port: GOPHER_SERVER.replace("70))", port + "))"), server_mod)
    port = srv.port
    gopher = GOPHER_CLIENT.replace("port =70", "port =" + port)
    try:
        page = client(gopher, client_mod, "127.0.0.1", "about")
        missing = client(gopher, client_mod, "localhost", "nothing")
    finally:
        srv.stop()
    # (The pipe is read in text mode: CRLF arrives as LF.)
    assert page == "iAbout this server\tfake\t(NULL)\t0\n" * 200 + ".\n"
    assert missing == "nothing文件不存在\n"


def test_seed003_gopher_client_failures_match_the_stdlib():
    refused = str(free_port())
    gopher = GOPHER_CLIENT.replace("port =70", "port =" + refused)
    for host in ["no-such-host.invalid", "127.0.0.1"]:
        outs = {m: client(gopher, m, host, "about") for m in MODULES}
        assert outs["netcore"] == outs["socket"]
        first = outs["netcore"].splitlines()[0]
        assert first.startswith("host或者端口错误:[Errno -2]" if "invalid" in host else "连接错误:[Errno 111] Connection refused")
        assert outs["netcore"].splitlines()[1].startswith("数据发送错误:[Errno 32] Broken pipe")


# ---------------------------------------------------------------------------------------
# 004: the UDP sender and the welcome server with its client

UDP_SENDER = """\
#coding=utf-8
from socket import *
udpSocket = socket(AF_INET,SOCK_DGRAM)
sendAddr = ('127.0.0.1',8080)
sendData = input('发送的数据:')
udpSocket.sendto(sendData.encode(),sendAddr)
udpSocket.close()
"""

WELCOME_SERVER = """\
import socket
import sys
serversocket = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM)
host = 'localhost'
port = 9999
serversocket.bind((host, port))
serversocket.listen(5)
while True:
    clientsocket,addr = serversocket.accept()
    print("连接地址: %s" % str(addr))
    msg='欢迎访问！'+ "\\r\\n"
    clientsocket.send(msg.encode('utf-8'))
    clientsocket.close()
"""

WELCOME_CLIENT = """\
import socket
import sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
host = 'localhost'
port = 9999
s.connect((host, port))
msg = s.recv(1024)
s.close()
print (msg.decode('utf-8'))
"""


@pytest.mark.parametrize("module", MODULES)
def test_seed004_udp_sender(module):
    with stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(20)
        port = str(receiver.getsockname()[1])
        out = client(UDP_SENDER.replace("8080", port), module, stdin="hello,socket\n")
        data, addr = receiver.recvfrom(100)
    assert out == "发送的数据:"
    assert data == b"hello,socket" and addr[0] == "127.0.0.1"


@pytest.mark.parametrize("server_mod,client_mod", COMBOS, ids=IDS)
def test_seed004_welcome_server(server_mod, client_mod):
    srv = Server.start(lambda port: WELCOME_SERVER.replace("9999", port), server_mod)
    port = srv.port
    try:
        out = client(WELCOME_CLIENT.replace("9999", port), client_mod)
        srv.expect("连接地址")
    finally:
        server_out, _ = srv.stop()
    assert out == "欢迎访问！\n\n"
    assert server_out.startswith("连接地址: ('127.0.0.1', ")


def test_every_program_changes_only_its_import():
    programs = [CMD_SERVER, CMD_CLIENT, VANISHING_CLIENT, CONNECT_PY, SERVER_PY, UDP_SERVER_001, UDP_CLIENT_001,
                ERRORS_001, TCP_SERVER_002, TCP_CLIENT_002, UDP_SERVER_002, UDP_CLIENT_002, THANKS_SERVER,
                THANKS_CLIENT, GOPHER_SERVER, GOPHER_CLIENT, UDP_SENDER, WELCOME_SERVER, WELCOME_CLIENT]
    for src in programs:
        changed = [(a, b) for a, b in zip(src.splitlines(), with_module(src, "netcore").splitlines()) if a != b]
        assert len(changed) == 1 and "import" in changed[0][0], changed


def test_a_server_start_moves_to_a_new_port_when_its_port_was_taken(monkeypatch):
    """The race behind a past EADDRINUSE failure: another process binds the free port first."""
    holder = stdsocket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    ports = iter([taken])
    real_free_port = free_port
    monkeypatch.setitem(globals(), "free_port", lambda kind=stdsocket.SOCK_STREAM: next(ports, None) or real_free_port(kind))
    try:
        srv = Server.start(lambda port: THANKS_SERVER.replace("8088", port), "netcore")
    finally:
        holder.close()
    try:
        assert srv.port != str(taken)
        out = client(THANKS_CLIENT.replace("8088", srv.port), "socket")
    finally:
        srv.stop()
    assert out == "b'Thank you for connection'\n"
