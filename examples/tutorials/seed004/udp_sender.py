# coding=utf-8
"""Seed 004's UDP sender on netcore: reads one line and sends it as one datagram.

The seed sends to a LAN address; here the receiver is 127.0.0.1 (port 8080, or the argument).
"""
import sys

from netcore import *  # the seed's `from socket import *`

# 1.创建套接字
udpSocket = socket(AF_INET, SOCK_DGRAM)
# 2.准备接收方的地址
sendAddr = ('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 8080)
# 3.从键盘获取数据
sendData = input('发送的数据:')
# 4. 发送数据到指定的电脑上 (Python 3: bytes)
udpSocket.sendto(sendData.encode('utf-8'), sendAddr)
# 5. 关闭套接字
udpSocket.close()
