# -*- coding: utf-8 -*-
"""Seed 002's UDP client on netcore: sends client1 and client2, prints each reply."""
import sys

import netcore as socket  # the seed's `import socket`

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000

# 创建基于ipv4和UDP协议的socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)  # a lost datagram ends the program instead of hanging it
# 直接发送和接收数据
for data in [b'client1', b'client2']:
    s.sendto(data, ('127.0.0.1', PORT))
    print('Received %s' % s.recv(1024).decode('utf-8'))
s.close()
