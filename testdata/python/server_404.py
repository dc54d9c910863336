#!/usr/bin/env python3
"""A server that answers a missing file with the number 404, as a web
server would, and otherwise serves its working directory correctly, one
client at a time.

usage: server_404.py PORT
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
        if not data:
            break
        name = data.decode()[4:]
        if not os.path.isfile(name):
            conn.send(b"404")
            continue
        with open(name, "rb") as f:
            body = f.read()
        conn.send(str(len(body)).encode())
        conn.recv(1024)
        conn.sendall(body)
        conn.send(hashlib.md5(body).hexdigest().encode())
    conn.close()
