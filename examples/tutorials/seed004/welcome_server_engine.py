#!/usr/bin/python3
"""Seed 004's welcome server on netcore's engine: the `banner` service.

Each client gets `欢迎访问！\r\n` and the connection is closed, as in welcome_server.py;
welcome_client.py works unchanged. `framing="message"` sends the text exactly as given.

Arguments (optional): host (default: this machine's name, as in the seed) and port (9999).
"""
import sys

import netcore

host = sys.argv[1] if len(sys.argv) > 1 else netcore.gethostname()
port = int(sys.argv[2]) if len(sys.argv) > 2 else 9999

server = netcore.Server((host, port), "banner", banner="欢迎访问！" + "\r\n", framing="message")
print("Serving on %s:%d" % server.server_address, flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
