#!/usr/bin/env python3
"""A server that takes a file's size from os.stat() and sends it, and
opens the file only once the client has acknowledged: a file it may not
read then fails after the size, and it drops that client. It serves its
working directory, one client at a time, and answers ERR not-found.

usage: server_stat.py PORT
"""
import hashlib
import os
import socket
import sys


def serve(conn):
    while True:
        data = conn.recv(1024)
        if not data:
            return
        name = data.decode()[4:]
        if not os.path.isfile(name):
            conn.send(b"ERR not-found no such file")
            continue
        conn.send(str(os.stat(name).st_size).encode())
        conn.recv(1024)
        md5 = hashlib.md5()
        with open(name, "rb") as f:
            for block in iter(lambda: f.read(4096), b""):
                md5.update(block)
                conn.sendall(block)
        conn.send(md5.hexdigest().encode())


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
while True:
    conn, addr = server.accept()
    try:
        serve(conn)
    except OSError as e:
        print("dropped a client:", e)
    conn.close()
