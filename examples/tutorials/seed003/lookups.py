"""Seed 003's look-ups on netcore: service ports, host addresses, fully qualified names.

The seed looks up public names; here they are local (`localhost` by default, or the
arguments), so the program runs anywhere without a network.
"""
import sys

import netcore as socket  # the seed's `import socket`

hosts = sys.argv[1:] or ['localhost']

port = socket.getservbyname('http', 'tcp')
print("getservbyname('http', 'tcp') ->", port)
port = socket.getservbyname('smtp', 'tcp')
print("getservbyname('smtp', 'tcp') ->", port)
for host in hosts:
    try:
        address = socket.gethostbyname(host)
        print('gethostbyname(%r) -> %r' % (host, address))
        print('getfqdn(%r) -> %r' % (address, socket.getfqdn(address)))
    except socket.gaierror as e:
        print('gethostbyname(%r) failed: %s' % (host, e))
