"""`netcore serve` processes for the deployment tests: started, their stderr collected on a
thread (so a chatty server never blocks on a full pipe), stopped by PID."""

import re
import signal
import socket
import subprocess
import sys
import threading
import time


class Serve:
    def __init__(self, *args, prefix=(), env=None, pass_fds=(), preexec_fn=None):
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "netcore", "serve", *args],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            pass_fds=pass_fds,
            preexec_fn=preexec_fn,
        )
        self.lines = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(60):
            self.kill()
            raise AssertionError("serve did not start: " + self.text())
        if "press Ctrl+C" not in self.text():
            self.kill()
            raise AssertionError("serve exited early: " + self.text())

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if "press Ctrl+C" in line:
                self._ready.set()
        self._ready.set()

    def text(self):
        return "".join(self.lines)

    def addrs(self, kind="tcp"):
        """The addresses announced for `kind` (tcp, udp, unix), in order."""
        return re.findall(rf"on {kind} (\S+)", self.text())

    def tcp(self):
        host, port = self.addrs("tcp")[0].rsplit(":", 1)
        return host.strip("[]"), int(port)

    def metrics(self):
        m = re.search(r"metrics on http://(\S+):(\d+)/metrics", self.text())
        return m.group(1), int(m.group(2))

    def clients(self):
        """The client addresses `--log-connections` logged."""
        return re.findall(r"client (\S+) connected", self.text())

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends `sig` and waits; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(10)
        self.proc.stderr.close()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(10)
        self.proc.stderr.close()

    def summary(self):
        """(connections, requests) from the line `netcore serve` prints when it stops."""
        m = re.search(r"stopped after (\d+) connections, (\d+) requests", self.text())
        assert m, self.text()
        return int(m.group(1)), int(m.group(2))


def ask(addr, line, timeout=20, source=None):
    with socket.create_connection(addr, timeout=timeout, source_address=source) as c:
        c.sendall(line.encode() + b"\n")
        return read_line(c)


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()
