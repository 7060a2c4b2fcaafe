"""Seed 003's socket server on netcore: thanks each client and closes.

Arguments (optional): host (default: this machine's name, as in the seed) and port (8088).
"""
import sys

import netcore as socket  # the seed's `import socket`

s = socket.socket()
host = sys.argv[1] if len(sys.argv) > 1 else socket.gethostname()
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8088
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(5)
while True:
    c, addr = s.accept()
    print('Got connection from', addr, flush=True)
    c.send(b'Thank you for connection')
    c.close()
