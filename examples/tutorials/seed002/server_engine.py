# -*- coding: utf-8 -*-
"""Seed 002's threaded TCP server and its UDP server, both on netcore's `greet` service.

One engine serves both: over TCP it greets with `Hello, I am server`, answers each message with
`Hello, <msg>!` and closes on `exit` or EOF; over UDP each datagram gets `Hello, <data>`.
`framing="message"` keeps the seed's model (one recv() is one message, replies sent as they
are), so tcp_client.py and udp_client.py work unchanged. The engine answers at once: it does
not copy the seed's one-second `time.sleep` per message, and prints no per-message log.

Optional arguments: TCP port (default 8000) and UDP port (default 9000).
"""
import sys

import netcore

TCP_PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
UDP_PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 9000

server = netcore.Server(("127.0.0.1", TCP_PORT), "greet", framing="message", udp=("127.0.0.1", UDP_PORT))
print("Waiting for connection...", flush=True)
print("Bind udp on %d..." % UDP_PORT, flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
