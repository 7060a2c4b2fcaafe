"""`netcore client` and `netcore send` as a person and a script use them: through a
pseudo-terminal (typing, editing, history, Ctrl+C, Ctrl+D) and through pipes."""

import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time

import netcore
import pytest
from client_servers import (
    start_command_server,
    start_greet_server,
    start_thanks_server,
    start_udp_server,
    unused_port,
)

NETCORE = [sys.executable, "-m", "netcore"]


class Terminal:
    """A program on a pseudo-terminal: `type` sends keys, `expect` waits for output."""

    def __init__(self, argv):
        # After the program ends, the shell reports its exit code and the terminal modes,
        # so the test can see the terminal was restored.
        script = "%s; echo \"exit=$?\"; stty -a" % " ".join(shlex.quote(a) for a in argv)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp("sh", ["sh", "-c", script])
        self.output = b""
        self.pos = 0  # output before this was matched by an earlier expect

    def type(self, keys):
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)

    def expect(self, pattern, timeout=15):
        """Waits for `pattern` in the output not yet matched, and consumes up to its end."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while not regex.search(self.output, self.pos):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r not seen; output so far: %r" % (pattern, self.output))
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("program ended before %r; output: %r" % (pattern, self.output))
                self.output += chunk
        self.pos = regex.search(self.output, self.pos).end()
        return self.output

    def finish(self, timeout=15):
        """Reads to the end and returns (exit code of netcore, whole output)."""
        self.expect(r"exit=\d+", timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        code = int(re.search(rb"exit=(\d+)", self.output).group(1))
        return code, self.output.decode(errors="replace")


def restored(output):
    """True when `stty -a` after the program shows a cooked terminal again."""
    modes = output.split("exit=", 1)[1]
    return re.search(r"(?<!-)icanon", modes) and re.search(r"(?<![-\w])echo(?![\w])", modes)


def test_terminal_type_edit_history_then_ctrl_c(line_port):
    t = Terminal(NETCORE + ["client", "127.0.0.1", str(line_port)])
    t.expect("Enter sends a line")
    t.expect("> ")
    t.type("hello\r")
    t.expect("got hello\r\n")
    t.expect("> ")
    # Edit: type "helo", move left once, insert "l" -> "hello world" after appending.
    t.type("helo")
    t.type("\x1b[D")  # Left arrow
    t.type("l")
    t.type("\x1b[F")  # End
    t.type(" world\r")
    t.expect("got hello world\r\n")
    # History: Up arrow brings back the last line.
    t.expect("> ")
    t.type("\x1b[A\r")
    t.expect("got hello world\r\n")
    t.expect("> ")
    # An empty Enter sends nothing.
    t.type("\r")
    t.expect("> ")
    t.type("\x03")  # Ctrl+C
    code, out = t.finish()
    assert code == 0, out
    assert out.count("got ") == 3
    assert restored(out), out


def test_terminal_ctrl_d_on_empty_line_quits(line_port):
    t = Terminal(NETCORE + ["client", "localhost", str(line_port)])
    t.expect("> ")
    t.type("abc\r")
    t.expect("got abc")
    t.expect("> ")
    t.type("x\x04")  # Ctrl+D on a non-empty line does not quit...
    t.type("\x7f")   # ...Backspace empties it again...
    t.type("\x04")   # ...and now Ctrl+D quits.
    code, out = t.finish()
    assert code == 0, out
    assert "got x" not in out
    assert restored(out), out


def test_terminal_message_mode_like_seed_000():
    port, stop = start_command_server()
    try:
        t = Terminal(NETCORE + ["client", "--message", "--quiet", "0.1", "127.0.0.1", str(port)])
        t.expect(r"Ctrl\+D sends")
        t.expect(">")
        # Each key sequence waits for the prompt: keys typed while the terminal is between
        # two prompts (cooked mode) would be taken by the tty driver, not the editor.
        t.type("da\r")
        t.expect(">")
        t.type("te\r")       # lines are joined with nothing between: "date"
        t.expect(">")
        t.type("\x04")       # Ctrl+D sends
        t.expect(r"\[\w{3} .*\] date")
        t.expect(">")
        t.type("os\r")
        t.expect(">")
        t.type("\x04")
        t.expect(r"\[posix\]")
        t.expect(">")
        t.type("\x04")       # Ctrl+D with nothing gathered quits
        code, out = t.finish()
        assert code == 0, out
        assert restored(out), out
    finally:
        stop()


def test_terminal_server_going_away_is_reported(line_port):
    t = Terminal(NETCORE + ["client", "127.0.0.1", str(line_port)])
    t.expect("> ")
    t.type("half\r")
    code, out = t.finish()
    assert code == 1
    assert "netcore: connection closed by 127.0.0.1:%d before replying in full" % line_port in out
    assert restored(out), out


@pytest.fixture
def engine_port():
    """The port of netcore's own command server (line framing), as `netcore serve` runs it."""
    with netcore.CommandServer(("127.0.0.1", 0)) as server:
        yield server.server_address[1]


def test_terminal_quit_ends_the_session_at_once_with_exit_0(engine_port):
    t = Terminal(NETCORE + ["client", "127.0.0.1", str(engine_port)])
    t.expect("> ")
    t.type("os\r")
    t.expect(r"\[posix\]\r\n")
    t.expect("> ")
    t.type("quit\r")
    t.expect("bye\r\n")
    code, out = t.finish()
    assert code == 0, out
    after = out.split("bye\r\n", 1)[1]
    # One line saying so, and no fresh prompt.
    assert after.startswith("netcore: connection closed by 127.0.0.1:%d\r\n" % engine_port), after
    assert "> " not in after.split("exit=")[0], after
    assert "before replying" not in out
    assert restored(out), out


def one_reply_then_hang_up():
    """A server that answers one line, then closes without being asked. Returns (port, stop)."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        conn.makefile("rb").readline()
        conn.sendall(b"one reply\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], srv.close


def test_terminal_server_closing_unasked_is_exit_1():
    port, stop = one_reply_then_hang_up()
    try:
        t = Terminal(NETCORE + ["client", "127.0.0.1", str(port)])
        t.expect("> ")
        t.type("a\r")
        t.expect("one reply\r\n")
        t.type("b\r")  # if the close was not seen with the reply, it is before sending this
        code, out = t.finish()
    finally:
        stop()
    assert code == 1, out
    assert "netcore: connection closed by 127.0.0.1:%d\r\n" % port in out
    assert "before replying" not in out
    assert restored(out), out


def test_terminal_quit_answered_by_a_bare_close_is_exit_0(line_port):
    # The line server closes without a word on `quit`: the close the client asked for.
    t = Terminal(NETCORE + ["client", "127.0.0.1", str(line_port)])
    t.expect("> ")
    t.type("quit\r")
    code, out = t.finish()
    assert code == 0, out
    assert "netcore: connection closed by 127.0.0.1:%d\r\n" % line_port in out
    assert restored(out), out


def test_pipe_quit_stops_reading_input_and_exits_0(engine_port):
    out = run("client", "127.0.0.1", str(engine_port), stdin="os\nquit\nos\n")
    assert (out.returncode, out.stdout) == (0, "[posix]\nbye\n")
    assert out.stderr == "netcore: connection closed by 127.0.0.1:%d\n" % engine_port


def test_pipe_close_not_asked_for_is_one_line_and_exit_1():
    port, stop = one_reply_then_hang_up()
    try:
        out = run("client", "127.0.0.1", str(port), stdin="a\nb\nc\n")
    finally:
        stop()
    assert (out.returncode, out.stdout) == (1, "one reply\n")
    assert out.stderr == "netcore: connection closed by 127.0.0.1:%d\n" % port


def test_pipe_close_before_any_reply_does_not_say_in_full(line_port):
    # `quit` on the line server closes at once: the client sent it, so exit 0.
    out = run("client", "127.0.0.1", str(line_port), stdin="x\nquit\nnever\n")
    assert (out.returncode, out.stdout) == (0, "got x\n")
    assert out.stderr == "netcore: connection closed by 127.0.0.1:%d\n" % line_port
    # Part of a reply, then the close: the one case that says "before replying in full".
    out = run("client", "127.0.0.1", str(line_port), stdin="half\nnever\n")
    assert out.returncode == 1
    assert out.stderr == "netcore: connection closed by 127.0.0.1:%d before replying in full\n" % line_port


def test_a_message_without_reply_suggests_line_framing(engine_port):
    out = run("send", "--message", "--timeout", "0.5", "127.0.0.1", str(engine_port), "date")
    assert out.returncode == 1
    assert out.stderr == (
        "netcore: request to 127.0.0.1:%d failed: timed out after 0.5 s with no reply "
        "(the server may be using line framing: try without --message)\n" % engine_port
    )
    out = run("client", "--message", "--timeout", "0.5", "127.0.0.1", str(engine_port), stdin="date\n")
    assert out.returncode == 1
    assert "the server may be using line framing" in out.stderr


def run(*args, stdin=None, timeout=60):
    return subprocess.run(NETCORE + list(args), input=stdin, capture_output=True, text=True, timeout=timeout)


def test_pipe_reads_lines_and_prints_replies(line_port):
    out = run("client", "127.0.0.1", str(line_port), stdin="one\n\ntwo\r\nthree")
    assert (out.returncode, out.stdout, out.stderr) == (0, "got one\ngot two\ngot three\n", "")


def test_pipe_message_mode_each_line_is_a_message():
    port, stop = start_command_server()
    try:
        out = run("client", "--message", "--quiet", "0.1", "127.0.0.1", str(port), stdin="os\nhi\n")
        assert (out.returncode, out.stdout) == (0, "[posix]\nwelcome\n")
    finally:
        stop()


def test_pipe_message_mode_shows_greetings_first():
    port, stop = start_greet_server()
    try:
        out = run("client", "--message", "--quiet", "0.1", "127.0.0.1", str(port), stdin="client1\nclient2\n")
        assert (out.returncode, out.stdout) == (0, "Hello, I am server\nHello, client1!\nHello, client2!\n")
    finally:
        stop()
    port, stop = start_thanks_server()
    try:
        out = run("client", "--message", "127.0.0.1", str(port), stdin="")
        assert (out.returncode, out.stdout, out.stderr) == (0, "Thank you for connection\n", "")
    finally:
        stop()


def test_greeting_then_line_replies_stay_aligned():
    import socketserver
    import threading

    class Greeter(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(b"220 ready\r\n")
            for line in self.rfile:
                self.wfile.write(b"got " + line)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Greeter)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = str(server.server_address[1])
    try:
        out = run("client", "127.0.0.1", port, stdin="a\nb\n")
        assert (out.returncode, out.stdout) == (0, "220 ready\ngot a\ngot b\n")
        out = run("send", "127.0.0.1", port, "x")
        assert (out.returncode, out.stdout) == (0, "220 ready\ngot x\n")
        # Without waiting for it, the greeting is taken for the first reply.
        out = run("send", "--greeting-wait", "0", "127.0.0.1", port, "x")
        assert (out.returncode, out.stdout) == (0, "220 ready\n")
    finally:
        server.shutdown()
        server.server_close()
    greet, stop = start_greet_server()
    try:
        out = run("send", "--message", "127.0.0.1", str(greet), "client1", "client2")
        assert (out.returncode, out.stdout) == (0, "Hello, I am server\nHello, client1!\nHello, client2!\n")
    finally:
        stop()
    thanks, stop = start_thanks_server()
    try:
        out = run("send", "--message", "127.0.0.1", str(thanks), "hi")
        assert out.returncode == 1
        assert out.stdout == "Thank you for connection\n"
        assert out.stderr == "netcore: 127.0.0.1:%d closed the connection after its greeting\n" % thanks
    finally:
        stop()


def test_pipe_errors_are_one_line_with_exit_1(line_port):
    refused = unused_port()
    out = run("client", "127.0.0.1", str(refused), stdin="x\n")
    assert out.returncode == 1
    assert out.stderr == "netcore: cannot connect to 127.0.0.1:%d: [Errno 111] Connection refused\n" % refused
    out = run("client", "no-such-host.invalid", "1", stdin="x\n")
    assert out.returncode == 1
    assert out.stderr.startswith("netcore: cannot connect to no-such-host.invalid:1: [Errno -2]")
    out = run("client", "--timeout", "0.3", "127.0.0.1", str(line_port), stdin="ok\nsilent\nnever sent\n")
    assert out.returncode == 1
    assert out.stdout == "got ok\n"
    assert out.stderr == "netcore: request to 127.0.0.1:%d failed: timed out after 0.3 s\n" % line_port


def test_client_usage_errors_exit_2():
    assert run("client").returncode == 2
    assert run("client", "127.0.0.1").returncode == 2
    assert run("client", "127.0.0.1", "99999").returncode == 2
    out = run("client", "--timeout", "0", "127.0.0.1", "1")
    assert out.returncode == 2
    assert "--timeout must be a positive number" in out.stderr


def test_client_over_unix_socket(tmp_path):
    import socket
    import threading

    path = str(tmp_path / "s.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        f = conn.makefile("rwb", buffering=0)
        for line in f:
            f.write(b"unix " + line)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    out = run("client", "--unix", path, stdin="a\nb\n")
    srv.close()
    assert (out.returncode, out.stdout) == (0, "unix a\nunix b\n")


def test_send_tcp_message_and_udp(line_port):
    out = run("send", "localhost", str(line_port), "PING", "ECHO hi")
    assert (out.returncode, out.stdout) == (0, "got PING\ngot ECHO hi\n")
    port, stop = start_udp_server()
    try:
        out = run("send", "--udp", "127.0.0.1", str(port), "client1", "client2")
        assert (out.returncode, out.stdout) == (0, "Hello, client1\nHello, client2\n")
    finally:
        stop()
    out = run("send", "--udp", "--timeout", "0.5", "--retries", "0", "127.0.0.1", str(unused_port()), "x")
    assert out.returncode == 1
    assert "UDP request to 127.0.0.1:" in out.stderr and "Connection refused" in out.stderr
    out = run("send", "127.0.0.1", str(line_port), "quit", "more")
    assert out.returncode == 1
    assert out.stderr == "netcore: connection closed by 127.0.0.1:%d after 1 of 2 messages\n" % line_port
    assert run("send", "127.0.0.1", str(line_port)).returncode == 2  # no message


def test_help_has_examples():
    for cmd in ("client", "send", "bench", "gopher", "fetch"):
        out = run(cmd, "--help")
        assert out.returncode == 0
        assert "Examples:" in out.stdout, cmd
        assert "netcore %s " % cmd in out.stdout, cmd
