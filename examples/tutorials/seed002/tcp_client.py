# -*- coding: utf-8 -*-
"""Seed 002's TCP client on netcore: reads the greeting, sends client1..3, then exit."""
import sys

import netcore as socket  # the seed's `import socket`

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8000

# 创建基于tcp和ipv4协议的socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 与服务端建立连接
s.connect(('127.0.0.1', PORT))
print('接收到的服务端数据:%s' % s.recv(1024).decode('utf-8'))
# 分别发送三个数据
for data in [b'client1', b'client2', b'client3']:
    s.send(data)
    print('服务端又返回来的数据:%s ' % s.recv(1024).decode('utf-8'))
s.send(b'exit')
# 关闭socket
s.close()
