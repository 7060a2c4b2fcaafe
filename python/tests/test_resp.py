"""RESP framing with the real redis clients: redis-py (sync, pipeline, asyncio), redis-cli
(one-shot), redis-benchmark; against netcore servers with
built-in commands and with user commands from Python, C (a compiled callback through the C
API, via ctypes) and Rust (`netcore serve`'s built-ins run on the same engine path).
Loopback only, port 0 everywhere."""

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netcore

redis = pytest.importorskip("redis")
import redis.asyncio  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NETCORE = ROOT / "target" / "release" / "netcore"
T = 20.0

needs_redis_cli = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli (redis-tools) not installed")


@pytest.fixture
def resp_server(tmp_path):
    (tmp_path / "a.txt").write_text("")
    server = netcore.CommandServer(framing="resp", root=tmp_path)

    @server.command("Greet")
    def greet(request):
        return "Hello, " + b" ".join(request.argv[1:]).decode()

    @server.command("typed")
    def typed(request):
        return [request.argv, 7, None, {"k": 1}, netcore.SimpleString("OK"), 1.5]

    @server.command("fail")
    def fail(request):
        raise netcore.ReplyError("WRONGTYPE not a list")

    @server.command("incr")
    def incr(request):
        return int(request.argv[1]) + 1

    with server:
        yield server


def port_of(server):
    return server.server_address[1]


def test_redis_py_sync_calls(resp_server):
    r = redis.Redis(port=port_of(resp_server), protocol=2, socket_timeout=T)
    assert r.ping() is True
    assert r.echo("a b\r\n\0") == b"a b\r\n\0"
    assert r.execute_command("DATE").endswith(b"] date")
    assert r.execute_command("ls") == [b"a.txt"]
    assert r.execute_command("greet", "big", "world") == b"Hello, big world"
    assert r.execute_command("TYPED", b"\xff") == [[b"TYPED", b"\xff"], 7, None, [b"k", 1], b"OK", b"1.5"]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE not a list"):
        r.execute_command("fail")
    with pytest.raises(redis.ResponseError, match="unknown command 'nope'"):
        r.execute_command("nope", "x")
    assert r.client_setname("tester") is True
    assert r.client_getname() == "tester"
    assert r.client_id() > 0
    info = r.info()
    assert info["redis_mode"] == "standalone" and info["total_commands_processed"] >= 1
    assert int(r.execute_command("COMMAND COUNT")) >= 13
    r.close()


def test_redis_py_pipeline_and_resp3(resp_server):
    r = redis.Redis(port=port_of(resp_server), protocol=2, socket_timeout=T)
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.execute_command("incr", str(i))
    assert pipe.execute() == list(range(1, 101))
    r3 = redis.Redis(port=port_of(resp_server), protocol=3, socket_timeout=T)
    assert r3.ping() is True
    assert r3.execute_command("typed") == [[b"typed"], 7, None, {b"k": 1}, b"OK", 1.5]
    r.close()
    r3.close()


def test_redis_py_asyncio(resp_server):
    async def main():
        r = redis.asyncio.Redis(port=port_of(resp_server), socket_timeout=T)
        assert await r.ping() is True
        results = await asyncio.gather(*(r.execute_command("incr", str(i)) for i in range(50)))
        assert results == list(range(1, 51))
        async with r.pipeline(transaction=False) as pipe:
            pipe.echo("x").execute_command("greet", "async")
            assert await pipe.execute() == [b"x", b"Hello, async"]
        await r.aclose()

    asyncio.run(main())


def test_netcore_client_speaks_resp_to_netcore(resp_server):
    with netcore.Client("127.0.0.1", port_of(resp_server), framing="resp") as c:
        assert c.command("PING") == "PONG"
        assert isinstance(c.command("PING"), netcore.SimpleString)
        assert c.command("incr", "41") == 42
        assert c.command("typed") == [[b"typed"], 7, None, [b"k", 1], "OK", b"1.5"]
        assert c.request("greet there") == b"Hello, there"
        with pytest.raises(netcore.ReplyError, match="^WRONGTYPE not a list$"):
            c.command("fail")


@needs_redis_cli
def test_redis_cli_one_shot(resp_server):
    port = str(port_of(resp_server))

    def cli(*args):
        return subprocess.run(["redis-cli", "-p", port, *args], capture_output=True, text=True, timeout=T)

    assert cli("PING").stdout == "PONG\n"
    assert cli("date").stdout.endswith("] date\n")
    assert cli("ls").stdout == "a.txt\n"
    assert cli("greet", "from", "cli").stdout == "Hello, from cli\n"
    assert cli("incr", "1").stdout == "(integer) 2\n" or cli("incr", "1").stdout == "2\n"
    assert "WRONGTYPE not a list" in cli("fail").stdout
    assert "unknown command 'nope'" in cli("nope").stdout
    assert cli("--no-raw", "typed").stdout.startswith('1) 1) "typed"\n')
    out = cli("COMMAND", "DOCS", "ls").stdout
    assert "ls" in out and "The names in a directory" in out


@needs_redis_cli
def test_redis_cli_interactive_with_help_from_command_docs(resp_server):
    """redis-cli at a terminal (a pty; TERM=dumb keeps linenoise from asking for the cursor
    position): commands typed one by one, and HELP for a built-in and a Python command, whose
    text redis-cli takes from COMMAND DOCS."""
    import pty
    import select

    port = str(port_of(resp_server))
    master, slave = pty.openpty()
    proc = subprocess.Popen(["redis-cli", "-p", port], env={**os.environ, "TERM": "dumb"},
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)

    def until_prompt():
        out = b""
        deadline = time.monotonic() + T
        while not out.endswith(b"> ") and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        return out.decode(errors="replace")

    try:
        assert until_prompt().endswith(f"127.0.0.1:{port}> ")
        typed = {}
        for line in ["PING", "greet a b", "incr 41", "help ls", "help greet", "nope"]:
            os.write(master, line.encode() + b"\n")
            typed[line] = until_prompt()
        assert "PONG" in typed["PING"]
        assert '"Hello, a b"' in typed["greet a b"]
        assert "(integer) 42" in typed["incr 41"]
        assert "The names in a directory of the served root." in typed["help ls"]
        assert "GREET" in typed["help greet"] and "A user command." in typed["help greet"]
        assert "unknown command 'nope'" in typed["nope"]
        os.write(master, b"quit\n")
        assert proc.wait(timeout=T) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark not installed")
def test_redis_benchmark_runs_against_netcore(resp_server):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port_of(resp_server)), "-t", "ping", "-n", "2000", "-c", "4", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "PING_INLINE" in out.stdout and "PING_MBULK" in out.stdout, out.stdout


def test_netcore_serve_resp_cli(tmp_path):
    """The CLI's `--framing resp`, with netcore's own `client --resp` and `bench --resp`."""
    proc = subprocess.Popen(
        [str(NETCORE), "serve", "--framing", "resp", "--listen", "127.0.0.1:0", "--root", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        assert "(resp framing)" in line, line
        port = line.rsplit(":", 1)[1].strip()
        out = subprocess.run(
            [str(NETCORE), "client", "--resp", "127.0.0.1", port],
            input="PING\necho 'a b'\nls\nnope\n",
            capture_output=True,
            text=True,
            timeout=T,
        )
        assert out.stdout.splitlines()[:3] == ["PONG", '"a b"', "(empty array)"], out
        bench_resp_ping(["127.0.0.1", port, "-P", "4", "-n", "400", "--json"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_netcore_client_and_bench_speak_to_redis_server(tmp_path):
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + T
        while True:
            try:
                c = netcore.Client(str(sock), framing="resp")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with c:
            assert c.command("SET", "k", b"v\x00") == "OK"
            assert c.command("GET", "k") == b"v\x00"
            assert c.command("INCR", "n") == 1
        bench_resp_ping(["--unix", str(sock), "-n", "200"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bench_resp_ping(target):
    """`netcore bench --resp` sends PING on 2 connections and every reply is PONG."""
    bench = subprocess.run(
        [str(NETCORE), "bench", *target, "--resp", "-c", "2", "--request", "PING", "--expect", "PONG", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bench.returncode == 0, bench.stderr
