#!/usr/bin/env python3
"""A server that speaks the tutorial's lockstep exchange, warts and all.

usage: tutorial_server.py PORT ROOT [ADDR_FILE]

It behaves as the tutorial's server does: one client at a time, one
recv(1024) per request, `cmd, filename = data.decode().split()` (so a name
with a space is fatal), nothing at all sent for a missing file, and no
confinement of names to ROOT. It binds 127.0.0.1 and prints
"listening PORT" once bound (PORT 0 picks a free port); with ADDR_FILE it
also writes "127.0.0.1:PORT" there, for scripts that wait for the file.
"""
import hashlib
import os
import socket
import sys


def serve_client(conn, root):
    while True:
        data = conn.recv(1024)
        if not data:
            return
        cmd, filename = data.decode().split()
        path = os.path.join(root, filename)
        if not os.path.isfile(path):
            continue  # the tutorial sends nothing: the client waits forever
        size = os.stat(path).st_size
        conn.send(str(size).encode())
        conn.recv(1024)  # the ack, content ignored
        digest = hashlib.md5()
        with open(path, "rb") as f:
            while True:
                chunk = f.read(4096)
                if not chunk:
                    break
                digest.update(chunk)
                conn.sendall(chunk)
        conn.send(digest.hexdigest().encode())


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: tutorial_server.py PORT ROOT [ADDR_FILE]")
    port, root = int(sys.argv[1]), sys.argv[2]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    print("listening", server.getsockname()[1], flush=True)
    if len(sys.argv) == 4:
        tmp = sys.argv[3] + ".tmp"
        with open(tmp, "w") as f:
            f.write("127.0.0.1:%d\n" % server.getsockname()[1])
        os.rename(tmp, sys.argv[3])
    while True:
        conn, _ = server.accept()
        with conn:
            serve_client(conn, root)


if __name__ == "__main__":
    main()
