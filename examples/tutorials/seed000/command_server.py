#!/usr/bin/env python3
"""Seed 000's multi-command server, ported to Python 3 on netcore sockets.

Original: 000_14116942218cbe71.txt (python网络编程入门). Replies: `date` -> `[<ctime>] date`,
`os` -> `[<os.name>]`, `ls` -> `[.]`, `ls PATH` -> `[<listdir(PATH)>]`, else `welcome`.
Changes from the seed: Python 3 bytes, HOST is 127.0.0.1 instead of '' (all interfaces), and
an optional port argument so tests can pick a free one.
"""
from netcore import *  # the seed's `from socket import *`
import os
import sys
from time import ctime

HOST = '127.0.0.1'
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 21560
BUFSIZ = 1024
ADDR = (HOST, PORT)
tcpSerSock = socket(AF_INET, SOCK_STREAM)
tcpSerSock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
tcpSerSock.bind(ADDR)
tcpSerSock.listen(5)
while True:
    print('waiting for connection...', flush=True)
    tcpCliSock, addr = tcpSerSock.accept()
    print('...Connected from:', addr, flush=True)
    while True:
        try:
            data = tcpCliSock.recv(BUFSIZ).decode('utf-8')
            print(data, '', len(data), flush=True)
            if not data:
                break
            if data == 'date':
                tcpCliSock.send(('[%s] %s' % (ctime(), data)).encode('utf-8'))
                continue
            if data == 'os':
                tcpCliSock.send(('[%s]' % os.name).encode('utf-8'))
                continue
            if data[0:2] == 'ls':
                if len(data) == 2:
                    tcpCliSock.send(('[%s]' % os.curdir).encode('utf-8'))
                else:
                    data_dir = data[3:len(data)]
                    tcpCliSock.send(('[%s]' % os.listdir(data_dir)).encode('utf-8'))
                continue
            tcpCliSock.send(b'welcome')
        except Exception:
            # A client that vanishes (or asks for a missing directory) ends its session only.
            break
    print(addr, 'connection closed', flush=True)
    tcpCliSock.close()
tcpSerSock.close()
