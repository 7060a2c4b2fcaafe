"""Python handlers in batches (issue 13): the requests a client pipelined reach the handlers
together, on the engine thread that read them (the default) or on the server's Python threads
(blocking=True), and everything a client sees stays as without batches: order, error
replies and log records, stopping from a handler, other clients never stalled."""

import logging
import socket
import threading

import pytest

import netcore

T = 20.0


def connect(addr):
    return socket.create_connection(addr, timeout=T)


def read_all(c):
    chunks = []
    while True:
        b = c.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def pipelined(addr, lines):
    """Sends every line in one write, half-closes, returns the reply lines."""
    c = connect(addr)
    try:
        c.sendall(b"".join(line.encode() + b"\n" for line in lines))
        c.shutdown(socket.SHUT_WR)
        return read_all(c).decode().splitlines()
    finally:
        c.close()


def thread_name():
    """The OS name of the calling thread (netcore names its threads)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
        return f.read().strip()


@pytest.fixture(params=[False, True], ids=["engine-thread", "python-threads"])
def blocking(request):
    return request.param


def test_a_pipelined_batch_is_answered_in_order_with_builtins_between(blocking):
    with netcore.CommandServer() as server:
        server.add_command("inc", lambda r: str(int(r.args) + 1), blocking=blocking)
        server.add_command("neg", lambda r: str(-int(r.args)), blocking=not blocking)
        lines, expected = [], []
        for i in range(600):
            kind = i % 7
            if kind == 3:
                lines.append("os")
                expected.append("[posix]")
            elif kind == 5:
                lines.append(f"neg {i}")
                expected.append(str(-i))
            else:
                lines.append(f"inc {i}")
                expected.append(str(i + 1))
        assert pipelined(server.server_address, lines) == expected
        assert server.stats["requests"] == 600


def test_an_exception_in_the_middle_of_a_batch_answers_the_others(blocking, caplog):
    server = netcore.Server(service="custom")
    calls = []

    def inc(request):
        calls.append(int(request.args))
        if request.args == b"13":
            raise ValueError("thirteen")
        return str(int(request.args) + 1)

    server.add_command("inc", inc, blocking=blocking)
    with server, caplog.at_level(logging.ERROR, logger="netcore.server"):
        replies = pipelined(server.server_address, [f"inc {i}" for i in range(20)])
        assert replies == [str(i + 1) if i != 13 else "error: internal error in handler" for i in range(20)]
        assert calls == list(range(20))
        assert server.stats["errors"] == 1
    records = [r for r in caplog.records if r.name == "netcore.server"]
    assert len(records) == 1 and records[0].exc_info[0] is ValueError
    assert "inc" in records[0].getMessage()


def test_a_handler_stops_its_server_in_the_middle_of_a_batch(blocking):
    server = netcore.CommandServer()

    def stop(request):
        server.shutdown()  # only asks: the requests already read are still answered
        return "stopping"

    server.add_command("stop", stop, blocking=blocking)
    server.add_command("inc", lambda r: str(int(r.args) + 1), blocking=blocking)
    c = connect(server.server_address)
    c.sendall(b"inc 1\ninc 2\nstop\ninc 3\nos\ninc 4\n")
    server.serve_forever(poll_interval=0.05)
    assert read_all(c).decode().splitlines() == ["2", "3", "stopping", "4", "[posix]", "5"]
    c.close()
    assert not server.running


def test_handlers_run_on_the_engine_thread_unless_marked_blocking():
    seen = {}
    with netcore.CommandServer() as server:

        @server.command("where")
        def where(request):
            seen["quick"] = thread_name()
            return "ok"

        @server.command("where-blocking", blocking=True)
        def where_blocking(request):
            seen["blocking"] = thread_name()
            return "ok"

        server.set_default_handler(lambda r: thread_name(), blocking=True)
        assert pipelined(server.server_address, ["where", "where-blocking", "nothing"]) == [
            "ok", "ok", "netcore-python"]
    assert seen == {"quick": "netcore-server", "blocking": "netcore-python"}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_blocking_handler_stalls_no_other_client_even_on_one_engine_thread(workers):
    release = threading.Event()
    with netcore.CommandServer(workers=workers) as server:

        @server.command("block", blocking=True)
        def block(request):
            release.wait(T)
            return "released"

        server.add_command("inc", lambda r: str(int(r.args) + 1))
        a = connect(server.server_address)
        fa = a.makefile("rb")
        a.sendall(b"block\ninc 1\n")  # the inc waits behind the block on its own connection only
        try:
            for i in range(5):
                b = connect(server.server_address)
                b.settimeout(5)  # far less than the handler blocks: a stalled reply fails here
                assert pipelined_on(b, [f"inc {i}", "os"]) == [str(i + 1), "[posix]"]
                b.close()
        finally:
            release.set()
        assert fa.readline() == b"released\n"
        assert fa.readline() == b"2\n"
        a.close()


def pipelined_on(c, lines):
    c.sendall(b"".join(line.encode() + b"\n" for line in lines))
    f = c.makefile("rb")
    return [f.readline().decode().rstrip("\n") for _ in lines]


def test_a_closing_reply_in_a_batch_ends_it(blocking):
    with netcore.CommandServer() as server:
        calls = []
        server.add_command("inc", lambda r: calls.append(r.args) or str(int(r.args) + 1), blocking=blocking)
        # quit closes the connection: the requests after it are never answered, nor run.
        assert pipelined(server.server_address, ["inc 1", "quit", "inc 2"]) == ["2", "bye"]
        assert calls == [b"1"]


def test_big_replies_in_a_batch_stay_within_max_output(blocking):
    with netcore.CommandServer(max_output=4096) as server:
        server.add_command("big", lambda r: "x" * 3000 + r.args.decode(), blocking=blocking)
        replies = pipelined(server.server_address, [f"big {i}" for i in range(50)])
        assert replies == ["x" * 3000 + str(i) for i in range(50)]


def test_many_clients_pipelining_at_once_each_get_their_order(blocking):
    with netcore.Server(service="custom", workers=2) as server:
        server.add_command("inc", lambda r: str(int(r.args) + 1), blocking=blocking)
        results = {}

        def client(k):
            results[k] = pipelined(server.server_address, [f"inc {k * 1000 + i}" for i in range(300)])

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(T)
        assert results == {k: [str(k * 1000 + i + 1) for i in range(300)] for k in range(8)}


def test_udp_and_message_framing_use_the_same_lanes(blocking, tmp_path):
    server = netcore.Server(service="custom", framing="message", udp=("127.0.0.1", 0))
    server.add_command("inc", lambda r: str(int(r.args) + 1), blocking=blocking)
    with server:
        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        d.settimeout(T)
        d.sendto(b"inc 41", server.addresses[1][1])
        assert d.recv(100) == b"42"
        d.close()
        c = connect(server.server_address)
        c.sendall(b"inc 9")
        assert c.recv(100) == b"10"
        c.close()


def test_blocking_must_be_a_flag():
    with netcore.CommandServer() as server:
        with pytest.raises(TypeError):
            server.add_command("x", lambda r: "x", blocking="yes")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            server.add_command("x", 42)  # type: ignore[arg-type]
