"""Seed 003's thank-you server on netcore's engine: the `banner` service.

Each client gets `Thank you for connection` and the connection is closed, as in
thanks_server.py; thanks_client.py works unchanged. `framing="message"` sends the text exactly
as given (in line framing it would get a `\n`).

Arguments (optional): host (default: this machine's name, as in the seed) and port (8088).
"""
import sys

import netcore

host = sys.argv[1] if len(sys.argv) > 1 else netcore.gethostname()
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8088

server = netcore.Server((host, port), "banner", banner="Thank you for connection", framing="message")
print("Serving on %s:%d" % server.server_address, flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
