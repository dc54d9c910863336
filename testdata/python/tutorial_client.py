#!/usr/bin/env python3
"""A client that speaks the tutorial's lockstep exchange, warts and all.

usage: tutorial_client.py HOST PORT NAME OUT [--variant naive|article]

It sends "get NAME", takes one recv(1024) as the size, sends the ack, and
reads the body as the tutorial does:

  naive    recv(1024) until it has at least SIZE bytes (the first client:
           its last read can swallow the digest)
  article  recv(min(1024, remaining)) (the article's fix)

It writes everything it read to OUT, then takes one recv(1024), with a 2s
timeout, as the digest. It prints "local MD5 X" and "server MD5 Y" and
exits 1 when they differ.
"""
import argparse
import hashlib
import socket
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("name")
    p.add_argument("out")
    p.add_argument("--variant", choices=["naive", "article"], default="article")
    args = p.parse_args()

    client = socket.create_connection((args.host, args.port))
    client.send(("get " + args.name).encode())
    reply = client.recv(1024)
    try:
        total = int(reply.decode())
    except ValueError:
        print("bad size reply:", repr(reply), file=sys.stderr)
        sys.exit(2)
    client.send(b"ready to recv file")

    local = hashlib.md5()
    received = 0
    with open(args.out, "wb") as f:
        while received < total:
            if args.variant == "naive":
                want = 1024
            else:
                want = min(1024, total - received)
            data = client.recv(want)
            if not data:
                break
            received += len(data)
            local.update(data)
            f.write(data)

    client.settimeout(2)
    try:
        server_md5 = client.recv(1024).decode(errors="replace")
    except socket.timeout:
        server_md5 = ""
    client.close()

    print("local MD5", local.hexdigest())
    print("server MD5", server_md5)
    sys.exit(0 if server_md5 == local.hexdigest() else 1)


if __name__ == "__main__":
    main()
