#!/usr/bin/env python3
"""Seed 001's server.py on netcore: SO_REUSEADDR, bind, listen(1), report each connection.

Test it with `telnet localhost 51423` (or `netcore send localhost 51423 hi`): the server
prints the peer and closes the connection at once. The seed's `cliendsock` typo is fixed and
it binds 127.0.0.1 rather than every interface; an optional argument sets the port.
"""
import sys

import netcore as socket  # the seed's `import socket`

host = '127.0.0.1'
port = int(sys.argv[1]) if len(sys.argv) > 1 else 51423

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
print("Waiting for connections... ", flush=True)
s.listen(1)

while 1:
    clientsock, clientaddr = s.accept()
    print("Got connection from ", clientsock.getpeername(), flush=True)
    clientsock.close()
