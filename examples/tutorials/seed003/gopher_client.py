"""Seed 003's Gopher client on netcore, with every failure caught and reported.

Usage: gopher_client.py HOST SELECTOR [PORT]   (port 70 by default, as in the seed)
"""
import sys

import netcore as socket  # the seed's `import socket`

port = int(sys.argv[3]) if len(sys.argv) > 3 else 70
host = sys.argv[1]
filename = sys.argv[2]

try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
except socket.error as e:
    print("建立socket错误:%s" % e)
    sys.exit(1)

try:
    s.connect((host, port))
except socket.gaierror as e:
    print("host或者端口错误:%s" % e)
    sys.exit(1)
except socket.error as e:
    print("连接错误:%s" % e)
    sys.exit(1)

try:
    s.sendall((filename + "\r\n").encode('utf-8'))
except socket.error as e:
    print("数据发送错误:%s" % e)
    sys.exit(1)

while 1:
    try:
        buf = s.recv(2048)
    except socket.error as e:
        print("接收错误:%s" % e)
        sys.exit(1)
    if b'does not exist' in buf:
        print("%s文件不存在" % filename)
        break
    else:
        if not len(buf):
            break
        sys.stdout.write(buf.decode('utf-8', 'replace'))
sys.stdout.flush()
