# -*- coding: utf-8 -*-
"""Seed 002's UDP server on netcore: each datagram is answered with `Hello, <data>`."""
import sys

import netcore as socket  # the seed's `import socket`

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000

# 创建基于ipv4和UDP协议的socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# 绑定IP和端口
s.bind(('127.0.0.1', PORT))
print('Bind udp on %d...' % PORT, flush=True)
while True:
    # recvfrom为接收UDP数据,接收到数据和客户端ip:端口
    data, addr = s.recvfrom(1024)
    print('Received from %s:%s' % addr, flush=True)
    # sendto发送UDP数据
    s.sendto(b'Hello, %s' % data, addr)
