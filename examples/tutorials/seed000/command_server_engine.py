#!/usr/bin/env python3
"""Seed 000's command server on netcore's engine: the whole server in a few lines.

The socket version beside this file (command_server.py) writes the accept loop by hand; here
the engine's built-in `command` service does it, on all cores, with limits. `framing="message"`
makes each chunk the client sends one request and sends replies back as they are, so the
seed's own client (command_client.py, `send(b"date")` / `recv(1024)`) works unchanged.

Same replies as the seed for `date`, `os` and anything else (`welcome`). `ls` differs on
purpose: the engine lists the server's directory as a JSON array and never leaves it
(the seed's `ls` prints `[.]`, and `ls PATH` lists any directory on the machine).
The engine also knows `help` and `quit`. Optional argument: the port (default 21560).
"""
import signal
import sys

import netcore

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 21560

server = netcore.CommandServer(("127.0.0.1", PORT), framing="message")
print("waiting for connection...", flush=True)
# `kill` (SIGTERM) stops it like Ctrl+C: serve_forever raises KeyboardInterrupt.
signal.signal(signal.SIGTERM, signal.default_int_handler)
try:
    server.serve_forever()  # Ctrl+C stops it
except KeyboardInterrupt:
    n = server.stats["connections_total"]
    print("stopped after %d connection%s" % (n, "" if n == 1 else "s"))
