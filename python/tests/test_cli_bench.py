"""`netcore bench` against a good line server and against stubs that answer wrongly,
hang up or stay silent: every reply is checked and every failure counted."""

import json
import re
import subprocess
import sys

import pytest

from client_servers import start_hangup_server, start_line_server, start_pong_server, unused_port

NETCORE = [sys.executable, "-m", "netcore"]


def bench(*args, timeout=120):
    return subprocess.run(NETCORE + ["bench", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def pong_port():
    port, stop = start_pong_server()
    yield port
    stop()


def test_good_server_every_reply_matches(pong_port):
    out = bench("127.0.0.1", str(pong_port), "--conns", "4", "--pipeline", "8", "--requests", "2000",
                "--request", "PING", "--expect", "+PONG", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["requests"] == report["ok"] == 2000
    assert report["errors"] == 0
    assert (report["connections"], report["pipeline"]) == (4, 8)
    lat = report["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    assert report["requests_per_sec"] > 0


def test_text_summary_and_progress_line(pong_port):
    out = bench("localhost", str(pong_port), "-c", "2", "-P", "1", "--duration", "1.5", "--request", "PING")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == 'netcore bench localhost:%d: 2 connections, pipeline 1, request "PING"' % pong_port
    # People read whole requests/s and latencies to three significant digits.
    assert re.search(r"^  throughput  \d+ requests/s$", out.stdout, re.M), out.stdout
    latency = re.search(r"^  latency ms  p50 (\S+)  p90 (\S+)  p99 (\S+)  p99.9 (\S+)  max (\S+)$", out.stdout, re.M)
    assert latency, out.stdout
    for figure in latency.groups():
        assert len(figure.replace(".", "").lstrip("0")) <= 3 or "." not in figure, figure
    assert "errors      0 (wrong reply 0, timeout 0, closed 0, other 0)" in out.stdout
    assert "latency ms  p50 " in out.stdout and " p99.9 " in out.stdout and " max " in out.stdout
    # Not a terminal: the progress line is printed once a second.
    assert out.stderr.startswith("progress: ")
    assert " req/s " in out.stderr


def test_wrong_answers_are_counted():
    port, stop = start_pong_server(wrong=True)
    try:
        out = bench("127.0.0.1", str(port), "--conns", "1", "--pipeline", "4", "--requests", "200",
                    "--request", "PING", "--expect", "+PONG", "--json")
    finally:
        stop()
    assert out.returncode == 1
    report = json.loads(out.stdout)
    # Every 10th reply on the connection is "-ERR wrong".
    assert report["error_kinds"]["wrong_reply"] == 20
    assert report["ok"] == 180
    assert report["first_error"] == 'wrong reply "-ERR wrong" (expected "+PONG")'
    assert out.stderr.strip().endswith('20 of 200 requests failed (first: wrong reply "-ERR wrong" (expected "+PONG"))')


def test_server_hanging_up_and_staying_silent():
    port, stop = start_hangup_server()
    try:
        out = bench("127.0.0.1", str(port), "--conns", "3", "--pipeline", "2", "--requests", "100",
                    "--request", "PING", "--expect", "+PONG", "--json")
    finally:
        stop()
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["ok"] == 15  # five answers per connection
    assert report["error_kinds"]["closed"] >= 3
    assert report["connections_lost"] == 3

    port, stop = start_line_server()
    try:
        out = bench("127.0.0.1", str(port), "--conns", "1", "--requests", "3", "--request", "silent",
                    "--timeout", "0.3", "--json")
    finally:
        stop()
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["error_kinds"]["timeout"] == 1
    assert report["first_error"] == "no reply within the timeout"


def test_refused_and_usage_errors():
    port = unused_port()
    out = bench("127.0.0.1", str(port), "--requests", "1", "--request", "PING")
    assert out.returncode == 1
    assert out.stderr == "netcore: cannot connect to 127.0.0.1:%d: [Errno 111] Connection refused\n" % port
    for bad in (["--request", "PING"],  # neither --requests nor --duration
                ["--requests", "1", "--duration", "1", "--request", "PING"],
                ["--requests", "0", "--request", "PING"],
                ["--requests", "1", "--conns", "0", "--request", "PING"],
                ["--requests", "1", "--pipeline", "0", "--request", "PING"],
                ["--requests", "1"]):
        out = bench("127.0.0.1", str(port), *bad)
        assert out.returncode == 2, (bad, out.stderr)
        assert out.stdout == ""


def test_ctrl_c_stops_early_with_a_summary(pong_port):
    import signal
    import time

    proc = subprocess.Popen(NETCORE + ["bench", "127.0.0.1", str(pong_port), "--conns", "2", "--duration", "60",
                                       "--request", "PING", "--expect", "+PONG"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted by Ctrl+C" in out
    assert "errors      0 " in out


def test_unix_socket_server(tmp_path):
    import socketserver
    import threading

    from client_servers import PongHandler

    class UnixPong(PongHandler):
        disable_nagle_algorithm = False  # no TCP options on a Unix socket

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    path = str(tmp_path / "pong.sock")
    server = Server(path, UnixPong)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        out = bench("--unix", path, "--conns", "3", "--pipeline", "4", "--requests", "600",
                    "--request", "PING", "--expect", "+PONG", "--json")
    finally:
        server.shutdown()
        server.server_close()
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["ok"], report["target"]) == (600, path)


def test_greeting_lines_are_skipped_and_client_cpu_reported():
    import netcore

    with netcore.Server(service="greet") as server:
        host, port = server.server_address[:2]
        out = bench(host, str(port), "--conns", "3", "--pipeline", "4", "--requests", "300",
                    "--request", "bob", "--expect", "Hello, bob!", "--greeting-lines", "1", "--json")
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["ok"] == 300 and report["errors"] == 0
        assert report["cpu_user_s"] >= 0 and report["cpu_system_s"] >= 0
        assert report["cpu_cores"] == pytest.approx(
            (report["cpu_user_s"] + report["cpu_system_s"]) / report["duration_s"])
        # Without skipping it, the greeting is taken for the first reply: every reply is off by one.
        out = bench(host, str(port), "--conns", "1", "--requests", "10",
                    "--request", "bob", "--expect", "Hello, bob!", "--json")
        assert out.returncode == 1
        assert json.loads(out.stdout)["first_error"] == 'wrong reply "Hello, I am server" (expected "Hello, bob!")'
        text = bench(host, str(port), "--conns", "1", "--requests", "10", "--request", "bob",
                     "--greeting-lines", "1")
        assert text.returncode == 0, text.stderr
        assert "  client cpu  " in text.stdout and " cores)" in text.stdout


def test_greeting_that_never_comes_is_a_network_error():
    port, stop = start_pong_server()
    try:
        out = bench("127.0.0.1", str(port), "--conns", "1", "--requests", "1", "--request", "PING",
                    "--greeting-lines", "1", "--timeout", "0.3")
    finally:
        stop()
    assert out.returncode == 1
    assert out.stderr.startswith("netcore: no greeting of 1 line(s) from 127.0.0.1:%d: " % port), out.stderr
