#!/usr/bin/env python3
"""A server in the style of the tutorial's: it serves the files of its
working directory, one client at a time, and splits every request in two
with split(). It has no check for an empty recv(), so when a client
leaves, split() of b"" raises, and the whole server dies with a
traceback. Nothing for a missing file, as in the tutorial.

usage: server_dies.py PORT
"""
import hashlib
import os
import socket
import sys

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
while True:
    conn, addr = server.accept()
    while True:
        data = conn.recv(1024)
        cmd, filename = data.decode().split()
        if os.path.isfile(filename):
            conn.send(str(os.stat(filename).st_size).encode())
            conn.recv(1024)
            md5 = hashlib.md5()
            with open(filename, "rb") as f:
                for line in f:
                    md5.update(line)
                    conn.send(line)
            conn.send(md5.hexdigest().encode())
