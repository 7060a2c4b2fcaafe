#!/usr/bin/env python3
"""Seed 001's UDP server on netcore: no listen() or accept(), only recvfrom().

Each datagram is printed with the sender's address. Port 51423 by default (an argument sets
another); bound to 127.0.0.1.
"""
import sys

import netcore as socket  # the seed's `import socket`

host = '127.0.0.1'
port = int(sys.argv[1]) if len(sys.argv) > 1 else 51423

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
print("Waiting for datagrams... ", flush=True)

while 1:
    message, address = s.recvfrom(8192)
    print("Got data from", address, ":", message.decode('utf-8', 'replace'), flush=True)
