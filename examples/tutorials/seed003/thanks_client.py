"""Seed 003's socket client on netcore: prints what the thank-you server says."""
import sys

import netcore as socket  # the seed's `import socket`

s = socket.socket()
host = sys.argv[1] if len(sys.argv) > 1 else socket.gethostname()
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8088
s.connect((host, port))
print(s.recv(1024).decode('utf-8'))
s.close()
