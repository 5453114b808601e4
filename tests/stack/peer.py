#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux side of the stack tests, run inside the test namespace.

Each command does one thing against the proxy (rs_stacktest) and prints
machine-readable lines:
    listening port=N          (servers, once they accept connections)
    result key=value ...      (what the test checks)
It exits 0 when it saw what it expected, 1 otherwise, and gives up after
--timeout seconds (exit 3).  Byte streams come from random.Random(SEED),
so both ends can hash or regenerate them.

    peer.py [--timeout S] COMMAND ARGS...   (see --help)
"""
import argparse
import errno
import hashlib
import os
import random
import resource
import selectors
import signal
import socket
import struct
import sys
import time

CHUNK = 1 << 20


def out(*words):
    print(" ".join(str(w) for w in words), flush=True)


def errname(e):
    return errno.errorcode.get(e, "E%d" % e) if e else "0"


def stream(seed, nbytes):
    """The deterministic byte stream of SEED, in chunks."""
    rng = random.Random(seed)
    left = nbytes
    while left > 0:
        n = min(CHUNK, left)
        yield rng.randbytes(n)
        left -= n


def tcp_socket():
    """A TCP socket; with RS_PEER_CC set, of that congestion control
    (TCP_CONGESTION: root may pick any the kernel has, whatever the
    namespace's default or allowed list says)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cc = os.environ.get("RS_PEER_CC")
    if cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    return s


def listen(port, backlog=128):
    s = tcp_socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(backlog)
    out("listening", "port=%d" % port)
    return s


def connect(host, port, timeout=10.0):
    s = tcp_socket()
    try:
        s.settimeout(timeout)
        s.connect((host, port))
    except OSError:
        s.close()
        raise
    s.settimeout(None)
    return s


def read_to_eof(conn, sha=None):
    """Bytes read until EOF; hashed into sha when given."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = conn.recv_into(buf)
        if n == 0:
            return total
        total += n
        if sha is not None:
            sha.update(view[:n])


def reset(conn):
    """Close with an RST: SO_LINGER on, timeout 0."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    conn.close()


def rate(nbytes, secs):
    return "seconds=%.3f mbit_s=%.1f" % (secs, nbytes * 8 / secs / 1e6
                                          if secs > 0 else 0)


# --- UDP ------------------------------------------------------------------

def udp_payload(seq, size):
    """seq in the first 4 bytes, then bytes that depend on seq."""
    body = random.Random(seq).randbytes(max(size - 4, 0))
    return (struct.pack("!I", seq) + body)[:size]


def udp_echo_client(a):
    """Datagrams of many sizes, a window at a time; each echo must be
    byte for byte the datagram sent (boundaries kept)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    s.settimeout(30.0)  # a stalled host, not a lost datagram
    rng = random.Random(a.seed)
    sizes = [4, 5, 8, 64, 512, 1000, 1471, 1472]
    sizes += [rng.randint(4, a.max_size) for _ in range(a.count - len(sizes))]
    pending, lost, corrupt, received, nbytes = {}, 0, 0, 0, 0
    # The smallest datagrams cannot carry a sequence number: one at a time.
    for size in (0, 1, 3):
        data = bytes(range(size))
        s.send(data)
        try:
            got = s.recv(65536)
            received += 1
            corrupt += got != data
        except socket.timeout:
            lost += 1
    t0 = time.monotonic()
    seq = 0
    while seq < len(sizes) or pending:
        while seq < len(sizes) and len(pending) < a.window:
            pending[seq] = udp_payload(seq, sizes[seq])
            s.send(pending[seq])
            seq += 1
        try:
            got = s.recv(65536)
        except socket.timeout:
            lost += len(pending)
            pending.clear()
            continue
        key = struct.unpack("!I", got[:4])[0] if len(got) >= 4 else -1
        want = pending.pop(key, None)
        received += 1
        nbytes += len(got)
        if want != got:
            corrupt += 1
    secs = time.monotonic() - t0
    out("result", "sent=%d" % (len(sizes) + 3), "received=%d" % received,
        "lost=%d" % lost, "corrupt=%d" % corrupt, "bytes=%d" % nbytes,
        "seconds=%.3f" % secs)
    return 0 if lost == 0 and corrupt == 0 else 1


# --- TCP, Linux as the server --------------------------------------------

def tcp_listen_discard(a):
    """Read COUNT connections to their end; hash each.  With --pause S
    (and --pause-after B), stop reading for S seconds after B bytes, so
    that the sender meets a zero window; --rcvbuf makes that come soon."""
    ls = listen(a.port)
    if a.rcvbuf:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    for i in range(a.count):
        conn, _ = ls.accept()
        sha, t0 = hashlib.sha256(), time.monotonic()
        n = 0
        if a.pause:
            while n < a.pause_after:
                b = conn.recv(min(CHUNK, a.pause_after - n))
                if not b:
                    break
                sha.update(b)
                n += len(b)
            out("paused", "bytes=%d" % n, "seconds=%g" % a.pause)
            time.sleep(a.pause)
        n += read_to_eof(conn, sha)
        secs = time.monotonic() - t0
        conn.close()
        out("result", "conn=%d" % i, "bytes=%d" % n,
            "sha256=%s" % sha.hexdigest(), rate(n, secs))
    return 0


def tcp_listen_send(a):
    """Send BYTES of SEED's stream to one connection, then close."""
    ls = listen(a.port)
    conn, _ = ls.accept()
    sha, t0 = hashlib.sha256(), time.monotonic()
    for chunk in stream(a.seed, a.bytes):
        conn.sendall(chunk)
        sha.update(chunk)
    conn.shutdown(socket.SHUT_WR)
    read_to_eof(conn)  # the proxy closes once it has read everything
    secs = time.monotonic() - t0
    conn.close()
    out("result", "bytes=%d" % a.bytes, "sha256=%s" % sha.hexdigest(),
        rate(a.bytes, secs))
    return 0


def tcp_listen_accept(a):
    """Accept one connection and wait for its end."""
    ls = listen(a.port)
    conn, peer = ls.accept()
    n = read_to_eof(conn)
    conn.close()
    out("result", "accepted=1", "peer_port=%d" % peer[1], "bytes=%d" % n)
    return 0


def tcp_listen_echo(a):
    """Echo every connection until its FIN, then close it; after COUNT
    connections (or at SIGTERM) report."""
    ls = listen(a.port, backlog=4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    done = nbytes = peak = 0
    live = {}
    peers = []
    while done < a.count:
        for key, _ in sel.select(timeout=1.0):
            if key.data is None:
                while True:
                    try:
                        conn, peer = ls.accept()
                    except BlockingIOError:
                        break
                    peers.append(peer[1])
                    conn.setblocking(True)
                    live[conn.fileno()] = conn
                    peak = max(peak, len(live))
                    sel.register(conn, selectors.EVENT_READ, 1)
                continue
            conn = key.fileobj
            data = conn.recv(65536)
            if data:
                conn.sendall(data)
                nbytes += len(data)
                continue
            sel.unregister(conn)
            del live[conn.fileno()]
            conn.close()
            done += 1
    out("result", "conns=%d" % done, "bytes=%d" % nbytes, "peak=%d" % peak)
    if a.log_peers:
        out("peer_ports", *peers)
    return 0


def tcp_listen_reset(a):
    """Read AFTER bytes of one connection, then reset it."""
    ls = listen(a.port)
    conn, _ = ls.accept()
    n = 0
    while n < a.after:
        data = conn.recv(65536)
        if not data:
            out("result", "error=EOF", "bytes=%d" % n)
            return 1
        n += len(data)
    reset(conn)
    out("result", "reset_after=%d" % n)
    return 0


def tcp_listen_expect_reset(a):
    """Read one connection until it fails; it must be reset."""
    ls = listen(a.port)
    conn, _ = ls.accept()
    n, err = 0, "EOF"
    try:
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            n += len(data)
    except OSError as e:
        err = errname(e.errno)
    out("result", "error=%s" % err, "bytes=%d" % n)
    return 0 if err == "ECONNRESET" else 1


def tcp_listen_halfclose(a):
    """Read one connection to its FIN; then, the proxy having shut down
    its side, answer 'BYTES SHA256' and close."""
    ls = listen(a.port)
    conn, _ = ls.accept()
    sha = hashlib.sha256()
    n = read_to_eof(conn, sha)
    time.sleep(0.2)  # the half-closed state lasts a while
    conn.sendall(b"%d %s\n" % (n, sha.hexdigest().encode()))
    conn.close()
    out("result", "bytes=%d" % n, "sha256=%s" % sha.hexdigest(), "replied=1")
    return 0


# --- TCP, Linux as the client --------------------------------------------

def tcp_send(a):
    """Send BYTES of SEED's stream, shut down, wait for the proxy's FIN."""
    conn = connect(a.host, a.port)
    sha, t0 = hashlib.sha256(), time.monotonic()
    for chunk in stream(a.seed, a.bytes):
        conn.sendall(chunk)
        sha.update(chunk)
    conn.shutdown(socket.SHUT_WR)
    read_to_eof(conn)
    secs = time.monotonic() - t0
    conn.close()
    out("result", "bytes=%d" % a.bytes, "sha256=%s" % sha.hexdigest(),
        rate(a.bytes, secs))
    return 0


def tcp_send_reset(a):
    """Send AFTER bytes, then reset the connection."""
    conn = connect(a.host, a.port)
    for chunk in stream(a.seed, a.after):
        conn.sendall(chunk)
    time.sleep(0.2)  # let the data arrive first
    reset(conn)
    out("result", "reset_after=%d" % a.after)
    return 0


def tcp_connect(a):
    """Connect; print how it ended; when accepted, one echo round."""
    try:
        conn = connect(a.host, a.port, timeout=5.0)
    except OSError as e:
        err = errname(e.errno) if e.errno else "ETIMEDOUT"
        out("result", "error=%s" % err)
        return 0 if err == a.expect else 1
    conn.sendall(b"hello\n")
    got = b""
    while len(got) < 6:
        data = conn.recv(64)
        if not data:
            break
        got += data
    conn.shutdown(socket.SHUT_WR)
    eof = conn.recv(64) == b""
    conn.close()
    echo = "ok" if got == b"hello\n" and eof else "bad"
    out("result", "error=0", "echo=%s" % echo)
    return 0 if a.expect == "0" and echo == "ok" else 1


def tcp_halfclose(a):
    """Send, shut down, then the proxy's reply must be 'BYTES SHA256'."""
    conn = connect(a.host, a.port)
    sha = hashlib.sha256()
    for chunk in stream(a.seed, a.bytes):
        conn.sendall(chunk)
        sha.update(chunk)
    conn.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        data = conn.recv(4096)
        if not data:
            break
        reply += data
    conn.close()
    want = b"%d %s\n" % (a.bytes, sha.hexdigest().encode())
    ok = reply == want
    out("result", "sent=%d" % a.bytes, "reply_ok=%s" % ("yes" if ok else "no"),
        "reply=%r" % reply[:100])
    return 0 if ok else 1


class ManyConn:
    def __init__(self, i, seed, nbytes):
        self.i = i
        self.tx = b"".join(stream(seed + i, nbytes))
        self.sent = 0
        self.rx = bytearray()
        self.sock = None


def many_connect(conns, host, port):
    """Connect all, the first alone (ARP), the rest at once; @return the
    peak of connections open together."""
    for c in conns:
        c.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.sock.settimeout(20.0)
        if c.i == 0:
            c.sock.connect((host, port))
        else:
            c.sock.setblocking(False)
            c.sock.connect_ex((host, port))
    sel = selectors.DefaultSelector()
    for c in conns[1:]:
        sel.register(c.sock, selectors.EVENT_WRITE, c)
    waiting = len(conns) - 1
    deadline = time.monotonic() + 60
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, "connect %d: %s" % (key.data.i,
                                                      errname(err)))
            sel.unregister(key.fileobj)
            waiting -= 1
    if waiting:
        raise OSError(errno.ETIMEDOUT, "%d connects pending" % waiting)
    return len(conns)


def many_exchange(conns):
    sel = selectors.DefaultSelector()
    for c in conns:
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    ok = failed = 0
    while ok + failed < len(conns):
        for key, ev in sel.select(timeout=5.0):
            c = key.data
            if ev & selectors.EVENT_WRITE and c.sent < len(c.tx):
                try:
                    c.sent += c.sock.send(c.tx[c.sent:c.sent + 65536])
                except BlockingIOError:
                    pass
                if c.sent == len(c.tx):
                    c.sock.shutdown(socket.SHUT_WR)
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    out("result", "conn=%d" % c.i, "error=%s" %
                        errname(e.errno))
                    data, c.rx = b"", None
                if data:
                    c.rx += data
                    continue
                sel.unregister(c.sock)
                c.sock.close()
                if c.rx is not None and bytes(c.rx) == c.tx:
                    ok += 1
                else:
                    failed += 1
    return ok, failed


def tcp_many(a):
    """N connections at once to the proxy's echo server; each sends
    BYTES, shuts down, and must read the same bytes back to EOF."""
    conns = [ManyConn(i, a.seed, a.bytes) for i in range(a.n)]
    t0 = time.monotonic()
    peak = many_connect(conns, a.host, a.port)
    ok, failed = many_exchange(conns)
    out("result", "conns=%d" % a.n, "ok=%d" % ok, "failed=%d" % failed,
        "peak=%d" % peak, "seconds=%.3f" % (time.monotonic() - t0))
    return 0 if ok == a.n else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timeout", type=float, default=120)
    sub = p.add_subparsers(dest="cmd", required=True)

    def cmd(name, fn, *args):
        sp = sub.add_parser(name, help=fn.__doc__.split("\n")[0])
        for arg in args:
            kind = str if arg in ("host", "expect") else int
            sp.add_argument(arg, type=kind)
        sp.set_defaults(fn=fn)
        return sp

    cmd("udp-echo-client", udp_echo_client, "host", "port", "count", "seed")
    sub.choices["udp-echo-client"].add_argument("--window", type=int,
                                                default=32)
    # Larger than 1472, datagrams travel as IPv4 fragments both ways.
    sub.choices["udp-echo-client"].add_argument("--max-size", type=int,
                                                default=1472)
    sp = cmd("tcp-listen-discard", tcp_listen_discard, "port", "count")
    sp.add_argument("--pause", type=float, default=0)
    sp.add_argument("--pause-after", type=int, default=1 << 20)
    sp.add_argument("--rcvbuf", type=int, default=0)
    cmd("tcp-listen-send", tcp_listen_send, "port", "bytes", "seed")
    cmd("tcp-listen-accept", tcp_listen_accept, "port")
    sp = cmd("tcp-listen-echo", tcp_listen_echo, "port", "count")
    sp.add_argument("--log-peers", action="store_true",
                    help="then a line: peer_ports PORT...")
    cmd("tcp-listen-reset", tcp_listen_reset, "port", "after")
    cmd("tcp-listen-expect-reset", tcp_listen_expect_reset, "port")
    cmd("tcp-listen-halfclose", tcp_listen_halfclose, "port")
    cmd("tcp-send", tcp_send, "host", "port", "bytes", "seed")
    cmd("tcp-send-reset", tcp_send_reset, "host", "port", "after", "seed")
    cmd("tcp-connect", tcp_connect, "host", "port", "expect")
    cmd("tcp-halfclose", tcp_halfclose, "host", "port", "bytes", "seed")
    cmd("tcp-many", tcp_many, "host", "port", "n", "bytes", "seed")
    a = p.parse_args()

    def on_alarm(sig, frame):
        out("result", "error=TIMEOUT", "seconds=%g" % a.timeout)
        os._exit(3)

    # A thousand sockets at once: lift the descriptor limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.timeout)
    try:
        return a.fn(a)
    except OSError as e:
        out("result", "error=%s" % errname(e.errno or 0), "what=%r" % str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
