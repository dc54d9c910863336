#!/usr/bin/env python3
"""A client in the style of the tutorial's last version: exact reads for
the data, then one recv(1024) for the digest, which it prints and never
compares. It always exits 0.

usage: client_onerecv.py HOST PORT NAME OUT
"""
import hashlib
import socket
import sys

host, port, name, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sock = socket.socket()
sock.connect((host, port))
sock.send(("get " + name).encode())
size = int(sock.recv(1024).decode())
sock.send(b"ready to recv file")
md5 = hashlib.md5()
got = 0
with open(out, "wb") as f:
    while got < size:
        chunk = sock.recv(min(1024, size - got))
        if not chunk:
            break
        got += len(chunk)
        md5.update(chunk)
        f.write(chunk)
theirs = sock.recv(1024)
print("mine:  ", md5.hexdigest())
print("theirs:", theirs.decode(errors="replace"))
sock.close()
