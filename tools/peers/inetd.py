"""A minimal inetd for the peer matrix: listens on HOST PORT and runs PROGRAM ARGS... for every
connection with the accepted socket as its stdin and stdout (what inetd's "nowait" services expect).

usage: python3 inetd.py HOST PORT PROGRAM [ARGS...]
Prints "inetd listening HOST PORT" once the socket listens; exits on SIGTERM/SIGINT, killing the
servers it started.
"""
import os
import signal
import socket
import subprocess
import sys

host, port, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
family = socket.AF_INET6 if ':' in host else socket.AF_INET
srv = socket.socket(family, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(64)
children = []


def stop(*_):
    for c in children:
        if c.poll() is None:
            c.kill()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print(f'inetd listening {host} {port}', flush=True)
while True:
    conn, peer = srv.accept()
    print(f'inetd connection from {peer[0]} {peer[1]}', flush=True)
    children = [c for c in children if c.poll() is None]
    children.append(subprocess.Popen(argv, stdin=conn.fileno(), stdout=conn.fileno(), close_fds=True))
    conn.close()
