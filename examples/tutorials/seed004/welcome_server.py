#!/usr/bin/python3
"""Seed 004's server.py on netcore: sends 欢迎访问！ and closes each connection.

Arguments (optional): host (default: this machine's name, as in the seed) and port (9999).
"""
import sys

import netcore as socket  # the seed's `import socket`

# 创建 socket 对象
serversocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 获取本地主机名
host = sys.argv[1] if len(sys.argv) > 1 else socket.gethostname()
port = int(sys.argv[2]) if len(sys.argv) > 2 else 9999
serversocket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
# 绑定端口号
serversocket.bind((host, port))
# 设置最大连接数，超过后排队
serversocket.listen(5)
while True:
    # 建立客户端连接
    clientsocket, addr = serversocket.accept()
    print("连接地址: %s" % str(addr), flush=True)
    msg = '欢迎访问！' + "\r\n"
    clientsocket.send(msg.encode('utf-8'))
    clientsocket.close()
