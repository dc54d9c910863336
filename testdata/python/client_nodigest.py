#!/usr/bin/env python3
"""A client in the style of the tutorial's first version: recv(1024) until
it has at least SIZE bytes, everything it read written to OUT. It reads
no digest and exits 0 once the loop ends.

usage: client_nodigest.py HOST PORT NAME OUT
"""
import socket
import sys

host, port, name, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sock = socket.socket()
sock.connect((host, port))
sock.send(("get " + name).encode())
size = int(sock.recv(1024).decode())
sock.send(b"ready to recv file")
got = 0
with open(out, "wb") as f:
    while got < size:
        chunk = sock.recv(1024)
        got += len(chunk)
        f.write(chunk)
print("received", got, "of", size)
sock.close()
