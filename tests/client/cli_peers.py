#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux peers of cli.sh, in the test namespace.

    cli_peers.py IP DIR

On IP:
  8081/tcp  HTTP/1.1: /chunked sends DIR/chunked.bin in chunked transfer
            coding (chunks of odd sizes, a chunk extension, a trailer);
            /eof sends DIR/eof.bin with neither length nor chunks, then
            closes; /short promises 1000 bytes and sends 10; /host answers
            the request's Host header; /stall sends 10 of 20 bytes, then
            nothing for 3 s
  7007/tcp  echo (each connection: everything back, then close after the
            client's FIN)
  7008/udp  echo (each datagram back to its sender)
  7009/tcp  silent: reads and sends nothing back; closes at the
            client's FIN
Prints 'ready' when all listen.
"""
import os
import random
import select
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IP, DIR = sys.argv[1], sys.argv[2]


class Http(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path == '/chunked':
            self.chunked(open(os.path.join(DIR, 'chunked.bin'), 'rb').read())
        elif self.path == '/eof':
            data = open(os.path.join(DIR, 'eof.bin'), 'rb').read()
            self.wfile.write(b'HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\n')
            self.wfile.write(data)
            self.close_connection = True
        elif self.path == '/short':
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n'
                             b'Connection: close\r\n\r\n0123456789')
            self.close_connection = True
        elif self.path == '/host':
            body = self.headers.get('Host', '').encode()
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == '/stall':
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 20\r\n'
                             b'\r\n0123456789')
            self.wfile.flush()
            # Stall until the client gives up and closes (60 s bounds a
            # client that never does): its timeout ends this, not ours.
            select.select([self.connection], [], [], 60)
            self.close_connection = True
        else:
            self.send_error(404, 'no such thing here')

    def chunked(self, data):
        self.send_response(200)
        self.send_header('Transfer-Encoding', 'chunked')
        self.send_header('Connection', 'close')
        self.end_headers()
        rnd = random.Random(7)
        off, first = 0, True
        while off < len(data):
            n = min(len(data) - off, rnd.choice([1, 7, 100, 4095, 70000]))
            ext = ';name=value' if first else ''
            first = False
            self.wfile.write(b'%x%s\r\n' % (n, ext.encode()))
            self.wfile.write(data[off:off + n] + b'\r\n')
            off += n
        self.wfile.write(b'0\r\nX-Trailer: yes\r\n\r\n')
        self.close_connection = True


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b = self.request.recv(65536)
            if not b:
                break
            self.request.sendall(b)


class Silent(socketserver.BaseRequestHandler):
    def handle(self):
        while self.request.recv(65536):
            pass


class TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp_echo(s):
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)


def main():
    http = ThreadingHTTPServer((IP, 8081), Http)
    http.daemon_threads = True
    echo = TcpServer((IP, 7007), Echo)
    silent = TcpServer((IP, 7009), Silent)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((IP, 7008))
    for target in (http.serve_forever, echo.serve_forever,
                   silent.serve_forever):
        threading.Thread(target=target, daemon=True).start()
    threading.Thread(target=udp_echo, args=(udp,), daemon=True).start()
    print('ready', flush=True)
    threading.Event().wait()


if __name__ == '__main__':
    main()
