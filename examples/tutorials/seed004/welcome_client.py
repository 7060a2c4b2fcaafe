#!/usr/bin/python3
"""Seed 004's client.py on netcore: prints the welcome server's greeting."""
import sys

import netcore as socket  # the seed's `import socket`

# 创建 socket 对象
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 获取本地主机名
host = sys.argv[1] if len(sys.argv) > 1 else socket.gethostname()
# 设置端口号
port = int(sys.argv[2]) if len(sys.argv) > 2 else 9999
# 连接服务，指定主机和端口
s.connect((host, port))
# 接收小于 1024 字节的数据
msg = s.recv(1024)
s.close()
print(msg.decode('utf-8'))
