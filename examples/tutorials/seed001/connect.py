#!/usr/bin/env python3
"""Seed 001's connect.py on netcore: look up the http port, connect by host name, print both ends.

The seed connects to a public web server; here the target is local: host and port default to
localhost and the `http` service port, and can be given as arguments.
"""
import sys

import netcore as socket  # the seed's `import socket`

host = sys.argv[1] if len(sys.argv) > 1 else "localhost"

print("Creating socket... ")
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
print("Done!")

print("Looking up port number... ")
port = socket.getservbyname("http", "tcp")
print("Done!")
if len(sys.argv) > 2:
    port = int(sys.argv[2])

print("Connecting to remote host on port %d..." % port)
s.connect((host, port))
print("Done!")

print("Connected from ", s.getsockname())
print("Connected to ", s.getpeername())
s.close()
