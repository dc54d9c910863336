#!/usr/bin/env python3
"""A server that accepts one client only: it serves the requests of the
first client to connect, from its working directory, until that client
leaves, and then its program ends. Its address is written into it.

usage: server_once.py
"""
import hashlib
import os
import socket

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 28654))
server.listen()
conn, addr = server.accept()
while True:
    data = conn.recv(1024)
    if not data:
        break
    name = data.decode()[4:]
    if not os.path.isfile(name):
        conn.send(b"ERR not-found no such file")
        continue
    with open(name, "rb") as f:
        body = f.read()
    conn.send(str(len(body)).encode())
    conn.recv(1024)
    conn.sendall(body)
    conn.send(hashlib.md5(body).hexdigest().encode())
print("client left; bye")
