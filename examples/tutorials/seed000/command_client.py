#!/usr/bin/env python3
"""Seed 000's interactive client, ported to Python 3 on netcore sockets.

Lines typed at `>` are joined until Ctrl+D, then sent; the reply is printed. Ctrl+C or an
empty message quits. Optional arguments: host and port (default 127.0.0.1 21560).
"""
from netcore import *  # the seed's `from socket import *`
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 21560
BUFSIZ = 1024
ADDR = (HOST, PORT)
tcpCstmSock = socket(AF_INET, SOCK_STREAM)
tcpCstmSock.connect_ex(ADDR)
while True:
    try:
        data = ''
        while True:
            try:
                tp = input('>')
                data = data + tp
            except EOFError:
                break
    except KeyboardInterrupt:
        break
    if not data:
        break
    tcpCstmSock.send(data.encode('utf-8'))
    data = tcpCstmSock.recv(BUFSIZ)
    if not data:
        break
    print(data.decode('utf-8'))
tcpCstmSock.close()
