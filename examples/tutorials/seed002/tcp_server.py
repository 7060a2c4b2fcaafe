# -*- coding: utf-8 -*-
"""Seed 002's threaded TCP server on netcore: greets, answers `Hello, <msg>!`, `exit` closes.

Unchanged from the seed but for the import (and an optional port argument for tests).
"""
import sys
import time
import threading

import netcore as socket  # the seed's `import socket`

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8000


def dealtcp(sock, addr):
    """
    接收传来的数据,并发送给对方数据
    """
    print('Accept new connection from %s:%s' % addr, flush=True)
    # 发送数据
    sock.send(b'Hello, I am server')
    # 循环接收数据
    while True:
        # 每次接收1024字节
        data = sock.recv(1024)
        # 等待1s
        time.sleep(1)
        # 如果data为空或客户端发送过来exit循环中断
        if not data or data.decode('utf-8') == 'exit':
            break
        print('客户端发来的数据:%s' % data.decode('utf-8'), flush=True)
        sock.send(('Hello, %s!' % data.decode('utf-8')).encode('utf-8'))
    # 关闭socket
    sock.close()
    print('Connection from %s:%s closed.' % addr, flush=True)


if __name__ == '__main__':
    # 创建一个基于IPv4和TCP协议的Socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # 绑定本地ip和端口
    s.bind(('127.0.0.1', PORT))
    # 监听端口,传入的参数表示等待连接的最大连接数
    s.listen(10)
    print('Waiting for connection...', flush=True)
    # 等待连接
    while True:
        # accept等待连接进入,返回新的socket和ip:端口
        sock, addr = s.accept()
        # 创建线程执行
        t = threading.Thread(target=dealtcp, args=(sock, addr))
        # 启动线程
        t.start()
