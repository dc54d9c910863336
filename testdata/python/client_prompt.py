#!/usr/bin/env python3
"""An interactive client in the style of the tutorial: its server's
address is written into it, it reads commands ("get NAME") at a prompt,
saves each file as NAME.new in its working directory with exact reads,
reads the digest with one recv(1024) and prints both digests. It never
compares them, and it ends, like the tutorial's, with an uncaught
end-of-input error at its prompt.

usage: client_prompt.py    (then type: get NAME)
"""
import hashlib
import socket

ADDRESS = ("127.0.0.1", 28653)

client = socket.socket()
client.connect(ADDRESS)
while True:
    cmd = input(">>>:").strip()
    if not cmd.startswith("get"):
        continue
    client.send(cmd.encode())
    reply = client.recv(1024)
    print("server response:", reply)
    client.send(b"ready to recv file")
    total = int(reply.decode())
    name = cmd.split()[1]
    received = 0
    md5 = hashlib.md5()
    with open(name + ".new", "wb") as f:
        while received < total:
            data = client.recv(min(1024, total - received))
            received += len(data)
            md5.update(data)
            f.write(data)
    print("client md5:", md5.hexdigest())
    print("server md5:", client.recv(1024))
