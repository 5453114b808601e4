#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux peers of preload.sh, in the test namespace (no shim): a TCP
echo server and a UDP echo server on IP.  Each logs the address of every
client it serves ('tcp ADDR' / 'udp ADDR' lines on stdout), so the test
can see that the shim's traffic came from the proxy.

    preload_peer.py IP TCP_PORT UDP_PORT
"""
import socket
import sys
import threading

LOG = threading.Lock()


def log(*words):
    with LOG:  # one whole line per client, whatever the threads do
        print(*words, flush=True)


def echo_conn(c, addr):
    log("tcp", addr[0])
    with c:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            c.sendall(b)


def tcp_server(ip, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(64)
    while True:
        c, addr = ls.accept()
        threading.Thread(target=echo_conn, args=(c, addr), daemon=True).start()


def udp_server(ip, port):
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    us.bind((ip, port))
    while True:
        b, addr = us.recvfrom(65536)
        log("udp", addr[0])
        us.sendto(b, addr)


ip, tport, uport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
threading.Thread(target=udp_server, args=(ip, uport), daemon=True).start()
print("ready", flush=True)
tcp_server(ip, tport)
