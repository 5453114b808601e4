#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run under libremsock-preload in the test namespace: Python's urllib and
socket modules, unmodified, through remsockd.  Prints 'check NAME ok' or
'check NAME FAIL: why' lines and a last 'done failures=N'.

    preload_client.py NAME HTTP_PORT FILE_SHA256 PEER TCP_PORT UDP_PORT PROXY
    preload_client.py echo PEER TCP_PORT SIZE
        only the echo: SIZE random bytes to the echo server and back,
        'echo True|False BYTES_READ'
"""
import hashlib
import os
import socket
import subprocess
import sys
import threading
import urllib.request

failures = 0


def check(what, ok, why=""):
    global failures
    if ok:
        print(f"check {what} ok", flush=True)
    else:
        failures += 1
        print(f"check {what} FAIL: {why}", flush=True)


def guard(what, fn):
    try:
        fn()
    except Exception as e:  # a check that raised failed
        check(what, False, repr(e))


def socket_errno(*args):
    """The errno socket.socket(*args) fails with, 0 when it is made."""
    try:
        socket.socket(*args).close()
        return 0
    except OSError as e:
        return e.errno


def unix_inode(ino):
    """Whether a Unix-domain socket has inode ino (/proc/net/unix)."""
    with open('/proc/net/unix') as f:
        next(f)
        return any(line.split()[6] == str(ino) for line in f)


def echo_all(s, size):
    """Send size random bytes on s (from a thread of its own, so that an
    echo larger than the buffers on the way does not stall), shut its
    writing, read the echo to the end and close it.  (Whether it came
    back whole, bytes read.)"""
    data = os.urandom(size)

    def up():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=up)
    t.start()
    got = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        got += b
    t.join()
    s.close()
    return bytes(got) == data, len(got)


if sys.argv[1] == 'echo':
    ok, n = echo_all(socket.create_connection((sys.argv[2],
                                               int(sys.argv[3]))),
                     int(sys.argv[4]))
    print('echo', ok, n)
    sys.exit(0)
name, http_port, want_sha, peer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
tcp_port, udp_port, proxy = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]


def resolve():
    addrs = {a[4][0] for a in socket.getaddrinfo(name, 80, socket.AF_INET)}
    check("python getaddrinfo of a name only the proxy knows", addrs == {peer}, addrs)


def url():
    with urllib.request.urlopen(f"http://{name}:{http_port}/small.bin", timeout=30) as r:
        body = r.read()
    got = hashlib.sha256(body).hexdigest()
    check("python urllib fetch through the proxy, SHA-256", got == want_sha, got)


def tcp_echo():
    s = socket.create_connection((peer, tcp_port), timeout=30)
    check("python tcp getsockname is the proxy's", s.getsockname()[0] == proxy, s.getsockname())
    check("python tcp getpeername", s.getpeername() == (peer, tcp_port), s.getpeername())
    ok, n = echo_all(s, 1 << 20)
    check("python tcp echo of 1 MiB with half-close", ok, n)


def many():
    # 64 threads, each its own connection: the shim's table, relay and
    # references under concurrency.
    import threading
    ok = []

    def one(i):
        try:
            with socket.create_connection((peer, tcp_port), timeout=30) as c:
                msg = os.urandom(65536)
                c.sendall(msg)
                c.shutdown(socket.SHUT_WR)
                got = bytearray()
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    got += b
                ok.append(bytes(got) == msg)
        except Exception:
            ok.append(False)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    check("python 64 connections at once, 64 KiB echoed each", ok.count(True) == 64, ok.count(True))


def udp_echo():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(10)
    ok = 0
    for i in range(20):
        msg = b"dgram %d " % i + os.urandom(100 + 50 * i)
        u.sendto(msg, (peer, udp_port))
        b, addr = u.recvfrom(65536)
        ok += b == msg and addr == (peer, udp_port)
    check("python udp sendto/recvfrom unconnected, 20 datagrams", ok == 20, ok)
    # subprocess (vfork, close_range in the child) must leave the parent's
    # sockets alone: the UDP framing would break otherwise.
    subprocess.run(["true"], check=True, close_fds=True)
    u.sendto(b"after subprocess", (peer, udp_port))
    b, addr = u.recvfrom(65536)
    check("python udp after a subprocess (vfork, close_range)", b == b"after subprocess", b)
    # Unconnected and bound by its first sendto: any address, as on Linux.
    check("python udp getsockname after sendto: a port", u.getsockname()[1] != 0, u.getsockname())
    u.close()
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(10)
    c.connect((peer, udp_port))
    c.send(b"x" * 1400)
    check("python udp connected send/recv", c.recv(2000) == b"x" * 1400)
    c.close()


def ipv6():
    """AF_INET6 sockets, as Java's runtime makes every one: through the
    proxy with IPv4-mapped addresses; nothing IPv6 goes around it."""
    mapped = "::ffff:" + peer
    addrs = {a[4][0] for a in socket.getaddrinfo(name, 80, socket.AF_INET6)}
    check("python getaddrinfo AF_INET6: the name's address, mapped",
          addrs == {mapped}, addrs)
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(30)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.connect((mapped, tcp_port))
    check("python AF_INET6 tcp: getsockname is the proxy's, mapped",
          s.getsockname()[0] == "::ffff:" + proxy, s.getsockname())
    check("python AF_INET6 tcp: getpeername", s.getpeername()[:2] == (mapped, tcp_port),
          s.getpeername())
    ok, n = echo_all(s, 256 << 10)
    check("python AF_INET6 tcp echo of 256 KiB to a mapped address", ok, n)
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.settimeout(10)
    u.sendto(b"six", (mapped, udp_port))
    b, addr = u.recvfrom(65536)
    check("python AF_INET6 udp sendto/recvfrom, the source mapped",
          b == b"six" and addr[:2] == (mapped, udp_port), (b, addr))
    u.close()
    n = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    n.settimeout(10)
    # The kernel would say ENETUNREACH here too: what shows the proxy
    # answered is that the descriptor is the shim's (one end of an AF_UNIX
    # pair, in /proc/net/unix), not a kernel IPv6 socket.
    ino = os.stat(f'/proc/self/fd/{n.fileno()}').st_ino
    try:
        n.connect(("2001:db8::1", tcp_port))  # documentation prefix
        err = 0
    except OSError as e:
        err = e.errno
    shim = unix_inode(ino)  # while the descriptor is open
    n.close()
    check("python AF_INET6 tcp to a native IPv6 address: ENETUNREACH from the "
          "proxy (a shim socket), not around it",
          err == 101 and shim, (err, shim))  # ENETUNREACH
    err = socket_errno(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    check("python raw socket: refused (EACCES), not made behind the proxy",
          err == 13, err)  # EACCES
    err = socket_errno(socket.AF_INET, socket.SOCK_STREAM, 262)  # MPTCP
    check("python MPTCP socket: EPROTONOSUPPORT (programs fall back to TCP)",
          err == 93, err)  # EPROTONOSUPPORT


guard("python getaddrinfo of a name only the proxy knows", resolve)
guard("python AF_INET6 through the proxy", ipv6)
guard("python urllib fetch through the proxy, SHA-256", url)
guard("python tcp echo", tcp_echo)
guard("python udp echo", udp_echo)
guard("python 64 connections at once", many)
print(f"done failures={failures}", flush=True)
sys.exit(1 if failures else 0)
