#!/usr/bin/env python3
"""Seed 001's server.py on netcore's engine: accept each connection and close it at once.

The `banner` service with an empty text does exactly that, on every core, with no accept loop
to write. The engine calls no Python code per connection (handlers answer requests, and this
server gets none), so instead of printing each peer as server.py does it counts them:
Ctrl+C stops it and prints how many connections it served. Test it with
`telnet localhost 51423` or `python examples/tutorials/seed001/connect.py localhost 51423`.

Optional argument: the port (default 51423).
"""
import signal
import sys

import netcore

port = int(sys.argv[1]) if len(sys.argv) > 1 else 51423

server = netcore.Server(("127.0.0.1", port), "banner", banner=b"", framing="message")
print("Waiting for connections... ", flush=True)
# `kill` (SIGTERM) stops it like Ctrl+C: serve_forever raises KeyboardInterrupt.
signal.signal(signal.SIGTERM, signal.default_int_handler)
try:
    server.serve_forever()  # SO_REUSEADDR, bind and listen are the engine's
except KeyboardInterrupt:
    print("Connections served: %d" % server.stats["connections_total"], flush=True)
