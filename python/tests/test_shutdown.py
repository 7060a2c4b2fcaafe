"""A Python program that exits while other threads are inside netcore must exit cleanly.

CPython (before 3.14) ends such threads with pthread_exit when they re-enter the interpreter
during finalization, which aborts a process with Rust frames on the stack ("FATAL: exception
not rethrown", exit status 134). netcore stops its servers and parks those threads instead."""

import subprocess
import sys
import textwrap

import pytest

SCENARIOS = {
    "server handlers still running": """
        import threading, time, netcore
        srv = netcore.CommandServer(("127.0.0.1", 0))
        @srv.command("slow")
        def slow(req):
            time.sleep(0.3)
            return "done"
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        time.sleep(0.2)
        port = srv.server_address[1]
        def client():
            with netcore.Client("127.0.0.1", port) as c:
                c.request("slow")
        for _ in range(4):
            threading.Thread(target=client, daemon=True).start()
        time.sleep(0.1)
    """,
    "handlers on the engine threads answering pipelined batches": """
        import threading, time, netcore
        srv = netcore.CommandServer(("127.0.0.1", 0))
        srv.add_command("inc", lambda r: str(int(r.args) + 1))
        srv.add_command("nap", lambda r: time.sleep(0.05) or "ok")
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.server_address[1]
        def client(word):
            with netcore.Client("127.0.0.1", port) as c:
                while True:
                    c.pipeline([word + " 1"] * (50 if word == "inc" else 5))
        for word in ("inc", "inc", "nap", "nap"):
            threading.Thread(target=client, args=(word,), daemon=True).start()
        time.sleep(0.3)
    """,
    "blocking handlers on the Python threads answering pipelined batches": """
        import threading, time, netcore
        srv = netcore.CommandServer(("127.0.0.1", 0))
        srv.add_command("slow", lambda r: time.sleep(0.1) or "done", blocking=True)
        port = srv.server_address[1]
        def client():
            with netcore.Client("127.0.0.1", port) as c:
                while True:
                    c.pipeline(["slow"] * 5)
        for _ in range(6):
            threading.Thread(target=client, daemon=True).start()
        time.sleep(0.3)
    """,
    "daemon threads blocked and looping in netcore": """
        import socket, threading, time, netcore
        ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen()
        port = ls.getsockname()[1]
        def waiting_client():
            with netcore.Client("127.0.0.1", port, timeout=None) as c:
                c.request("never answered")
        def resolver_loop():
            while True:
                netcore.getaddrinfo("localhost", 80)
        def socket_loop():
            a, b = netcore.socketpair()
            while True:
                a.send(b"x"); b.recv(1)
        for target in (waiting_client, resolver_loop, socket_loop):
            threading.Thread(target=target, daemon=True).start()
        time.sleep(0.2)
    """,
    "netcore used from an atexit handler that runs after netcore's own": """
        import atexit
        def late():
            print(netcore.getservbyname("http", "tcp"))
        atexit.register(late)   # registered before the import: runs after netcore's hooks
        import netcore
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_exit_is_clean(name):
    code = textwrap.dedent(SCENARIOS[name]) + "\nprint('exiting', flush=True)\n"
    for _ in range(3):  # the hazard is a race: try it a few times
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
        assert "FATAL" not in done.stderr
        assert "exiting" in done.stdout
