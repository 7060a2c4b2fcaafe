#!/usr/bin/env python3
"""Seed 001's UDP server on netcore's engine: every datagram goes to one Python function.

The engine receives the datagrams (no recvfrom loop) and calls `show` for each, on its own
Python threads; returning None sends no reply, like udp_server.py. The peer is given as
`IP:PORT` text rather than a tuple.

Optional argument: the port (default 51423).
"""
import sys

import netcore

port = int(sys.argv[1]) if len(sys.argv) > 1 else 51423

server = netcore.UDPServer(("127.0.0.1", port), "custom")


@server.default
def show(request):
    print("Got data from", request.peer, ":", request.line.decode("utf-8", "replace"), flush=True)
    return None  # no reply datagram


print("Waiting for datagrams... ", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
