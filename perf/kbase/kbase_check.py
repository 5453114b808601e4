#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""kbase's functional check (meson suite perf-smoke).

Starts kbase on 127.0.0.1 at a port the kernel picks (the ready line
says which), and local TCP peers in Python threads: sources that stream
known bytes and close, an echo, and sinks that record what they get
(optionally only once a gate opens, so that Sends must wait).  It drives
kbase with tests/service/rsclient.py, the independent client of the
native transport, and prints 'check NAME ok' or 'check NAME FAIL: why'
for each claim; the exit status is 1 if any failed.  Nothing sleeps for
a fixed time: waits are on conditions (rsclient.until) or on replies.

    kbase_check.py KBASE SOURCE_ROOT       (run with /usr/bin/python3)
"""

import errno
import hashlib
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

KBASE, ROOT = sys.argv[1:3]
sys.path.insert(0, os.path.join(ROOT, 'tests', 'service'))
import rsclient  # noqa: E402
from rsclient import CallError, Client, addr, raises, until  # noqa: E402

pb = rsclient.load_protos(os.path.join(ROOT, 'proto'))
RPC = pb.rpc
APPS = {'demo': b'demo-secret', 'other': b'other-secret'}
TCP, UDP, IPV4 = 1, 2, 1
SYSTEM_ERROR, INVALID_REQUEST = 1, 6
failures = 0


def check(name, ok, why=''):
    global failures
    if ok:
        print(f'check {name} ok', flush=True)
    else:
        failures += 1
        print(f'check {name} FAIL: {why}', flush=True)


def pattern(n, seed):
    """n deterministic bytes that differ at every offset."""
    out, i = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(f'{seed}:{i}'.encode()).digest()
        i += 1
    return bytes(out[:n])


# ---- local peers -------------------------------------------------------------

class Peer:
    """A listener on 127.0.0.1 whose connections serve() handles, each
    in a thread of its own."""

    def __init__(self, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf:  # inherited by accepted sockets
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.bind(('127.0.0.1', 0))
        self.s.listen(16)
        self.port = self.s.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            self.serve(conn)
        finally:
            conn.close()


class Source(Peer):
    def __init__(self, data):
        self.data = data
        super().__init__()

    def serve(self, conn):
        conn.sendall(self.data)


class Echo(Peer):
    def serve(self, conn):
        while True:
            b = conn.recv(65536)
            if not b:
                return
            conn.sendall(b)


class Sink(Peer):
    """Records each connection's bytes up to EOF in self.got (a queue),
    reading only once self.gate is set."""

    def __init__(self, rcvbuf=None, gated=False):
        self.got = queue.Queue()
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        super().__init__(rcvbuf)

    def serve(self, conn):
        self.gate.wait()
        buf = bytearray()
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            buf += b
        self.got.put(bytes(buf))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- calls -------------------------------------------------------------------

PORT = None


def client(app='demo'):
    c = Client('127.0.0.1', PORT, timeout=30)
    c.authenticate(app, APPS[app])
    return c


def create(c, port=None, **kw):
    if port is not None:
        kw['remote_ip'] = addr('127.0.0.1', port)
    return c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, **kw))


def send_req(d, data, off, **kw):
    return pb.rs.SendRequest(socket_descriptor=d, data=data,
                             stream_offset=off, **kw)


def send(c, d, data, off):
    return c.call('Send', send_req(d, data, off)).data_sent


def recv_req(d, size=65536, **kw):
    return pb.rs.ReceiveRequest(socket_descriptor=d, data_size=size, **kw)


def recv(c, d, size=65536, **kw):
    return c.call('Receive', recv_req(d, size, **kw))


def close(c, d, **kw):
    return c.call('Close', pb.rs.CloseRequest(socket_descriptor=d, **kw))


def stats(c):
    return c.stats()


# ---- the checks --------------------------------------------------------------

def t_auth():
    c = Client('127.0.0.1', PORT)
    ok, why = raises(lambda: create(c), rpc_code=RPC.RPC_UNAUTHENTICATED)
    check('a call before Authenticate is RPC_UNAUTHENTICATED', ok, why)
    ok, why = raises(lambda: c.authenticate('demo', b'wrong'),
                     rpc_code=RPC.RPC_UNAUTHENTICATED)
    check('a wrong secret is RPC_UNAUTHENTICATED', ok, why)
    try:
        c.authenticate('demo', APPS['demo'])
        closed = False
    except (EOFError, ConnectionError):
        closed = True
    check('a failed Authenticate closes the connection', closed)
    c = Client('127.0.0.1', PORT)
    ok, why = raises(lambda: c.authenticate('nobody', APPS['demo']),
                     rpc_code=RPC.RPC_UNAUTHENTICATED)
    check('an unknown app is RPC_UNAUTHENTICATED', ok, why)
    c = Client('127.0.0.1', PORT)
    c.sock.sendall(struct.pack('>I', 8192) + b'x' * 100)
    try:
        c.read_response()
        closed = False
    except (EOFError, ConnectionError):
        closed = True
    check('a frame above 4 KiB before Authenticate closes', closed)
    c = Client('127.0.0.1', PORT)
    r = c.authenticate('demo', APPS['demo'])
    check('Authenticate with the right secret', r.app_id == 'demo', r)
    s = c.stats()
    check('Stats answers rpc.calls, rpc.conns_accepted, rpc.socks_open',
          {'rpc.calls', 'rpc.conns_accepted', 'rpc.socks_open'} <= set(s), s)


def t_stream():
    data = pattern(3 << 20, 'stream')
    src = Source(data)
    c = client()
    r = create(c, src.port)
    d = r.socket_descriptor
    check('CreateSocket with remote_ip gives a descriptor',
          len(d) == 22, d)
    check('CreateSocket answers with the local address',
          rsclient.unaddr(r.proxy_external_ip)[0] == '127.0.0.1', r)
    p = recv(c, d, 1000, flags=pb.rs.ReceiveRequest.MSG_PEEK)
    got, eof, bad = b'', False, ''
    r = recv(c, d, 1000, consumed_offset=0)
    check('MSG_PEEK leaves the bytes for the next Receive',
          p.stream_offset == 0 and r.stream_offset == 0 and p.data and
          r.data.startswith(p.data[:len(r.data)]) and
          data.startswith(p.data), (p.stream_offset, len(p.data)))
    got += r.data
    ok, why = raises(lambda: recv(c, d, consumed_offset=1),
                     app_code=INVALID_REQUEST)
    check('consumed_offset other than the bytes handed out is refused',
          ok, why)
    while not eof:
        r = recv(c, d, 65536, consumed_offset=len(got))
        if r.stream_offset != len(got):
            bad = f'offset {r.stream_offset}, expected {len(got)}'
            break
        eof = not r.data
        got += r.data
    check('Receive stream offsets follow the data', not bad, bad)
    check('the streamed bytes arrive whole and in order', got == data,
          f'{len(got)} of {len(data)} bytes')
    r = recv(c, d)
    check('EOF is an empty data reply, again and again',
          r.data == b'' and r.stream_offset == len(data), r)
    close(c, d)
    ok, why = raises(lambda: recv(c, d), app_code=SYSTEM_ERROR,
                     errno=errno.EBADF)
    check('a closed descriptor is EBADF', ok, why)


def t_batch():
    a, b = pattern(1 << 20, 'a'), pattern(300000, 'b')
    srcs = [Source(a), Source(b)]
    c = client()
    ds = [create(c, s.port).socket_descriptor for s in srcs]
    got = {d: b'' for d in ds}
    live, bad = set(ds), ''
    while live and not bad:
        order = sorted(live)
        r = c.call('ReceiveBatch', pb.rs.ReceiveBatchRequest(
            receives=[recv_req(d, 65536) for d in order]))
        news = 0
        for d, e in zip(order, r.entries):
            if e.HasField('error'):
                if e.error.system_error != errno.EAGAIN:
                    bad = f'{e}'
                continue
            news += 1
            if e.reply.stream_offset != len(got[d]):
                bad = f'offset {e.reply.stream_offset} != {len(got[d])}'
            if not e.reply.data:
                live.discard(d)
            got[d] += e.reply.data
        if news == 0:
            bad = 'a blocking ReceiveBatch answered with nothing'
    check('ReceiveBatch: offsets follow, EAGAIN for entries without news',
          not bad, bad)
    check('ReceiveBatch: both streams arrive whole',
          got[ds[0]] == a and got[ds[1]] == b,
          (len(got[ds[0]]), len(got[ds[1]])))
    for d in ds:
        close(c, d)
    echo = Echo()
    d = create(c, echo.port).socket_descriptor
    r = c.call('ReceiveBatch', pb.rs.ReceiveBatchRequest(
        receives=[recv_req(d)], timeout_seconds=0))
    check('ReceiveBatch with timeout 0 and nothing there: EAGAIN',
          len(r.entries) == 1 and
          r.entries[0].error.system_error == errno.EAGAIN, r)
    t0 = time.monotonic()
    r = c.call('ReceiveBatch', pb.rs.ReceiveBatchRequest(
        receives=[recv_req(d)], timeout_seconds=0.2))
    check('ReceiveBatch with timeout 0.2 waits, then EAGAIN',
          time.monotonic() - t0 >= 0.19 and
          r.entries[0].error.system_error == errno.EAGAIN, r)
    cid = c.start('ReceiveBatch', pb.rs.ReceiveBatchRequest(
        receives=[recv_req(d)]))
    send(c, d, b'wake', 0)
    r = c.finish('ReceiveBatch', cid)
    check('a waiting ReceiveBatch answers when data comes',
          r.entries[0].reply.data == b'wake', r)
    close(c, d)


def t_send():
    sink = Sink()
    c = client()
    d = create(c, sink.port).socket_descriptor
    n1 = send(c, d, b'hello ', 0)
    n2 = send(c, d, b'hello ', 0)
    n3 = send(c, d, b'o world', 4)
    check('Send takes its data; a duplicate and an overlap are skipped',
          (n1, n2, n3) == (6, 6, 7), (n1, n2, n3))
    ok, why = raises(lambda: send(c, d, b'x', 100), app_code=INVALID_REQUEST)
    check('a Send beyond the bytes taken is INVALID_REQUEST', ok, why)
    close(c, d, send_offset=11)
    got = sink.got.get(timeout=30)
    check('the peer gets each byte once, then EOF at Close',
          got == b'hello world', got)


def t_pipelined():
    chunk, count = 65536, 64
    data = pattern(chunk * count, 'pipe')
    sink = Sink(rcvbuf=65536, gated=True)
    c = client()
    opt = pb.rs.SocketOption(level=1, option=7,  # SO_SNDBUF
                             value=struct.pack('<i', 65536))
    d = create(c, sink.port, socket_options=[opt]).socket_descriptor
    ids = [c.start('Send', send_req(d, data[i * chunk:(i + 1) * chunk],
                                    i * chunk)) for i in range(count)]
    dup = c.start('Send', send_req(d, data[:chunk], 0))
    ok = until(lambda: c.stats()['rpc.waiting'] > 0, 30)
    check('Sends into a full socket buffer wait', ok)
    r = c.finish('Send', dup)
    check('a duplicate of a taken Send answers at once, all of it',
          r.data_sent == chunk, r)
    cl = c.start('Close', pb.rs.CloseRequest(socket_descriptor=d,
                                             send_offset=len(data)))
    c.finish('Close', cl)
    ok, why = raises(lambda: recv(c, d), app_code=SYSTEM_ERROR,
                     errno=errno.EBADF)
    check('after Close only its Sends use the descriptor', ok, why)
    sink.gate.set()
    sent = [c.finish('Send', i).data_sent for i in ids]
    check('every pipelined Send answers with all of its data',
          sent == [chunk] * count, sent)
    got = sink.got.get(timeout=30)
    check('the peer gets the pipelined bytes in order, then EOF',
          got == data, f'{len(got)} of {len(data)} bytes')


def t_echo():
    echo = Echo()
    c = client()
    d = create(c).socket_descriptor
    r = c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr('127.0.0.1', echo.port)))
    check('Connect answers with the local address',
          rsclient.unaddr(r.proxy_external_ip)[0] == '127.0.0.1', r)
    r1 = c.start('Receive', recv_req(d, 3))
    r2 = c.start('Receive', recv_req(d, 3))
    n = send(c, d, b'abcdef', 0)
    a, b = c.finish('Receive', r1), c.finish('Receive', r2)
    check('a Send goes through while Receives wait', n == 6, n)
    check('waiting Receives on a socket keep their order',
          a.stream_offset == 0 and b.stream_offset == len(a.data) and
          b'abcdef'.startswith(a.data + b.data) and a.data and b.data,
          (a, b))
    rest = len(a.data + b.data)
    while rest < 6:
        rest += len(recv(c, d).data)
    ok, why = raises(lambda: recv(c, d, timeout_seconds=0),
                     app_code=SYSTEM_ERROR, errno=errno.EAGAIN)
    check('Receive with timeout 0 and nothing there: EAGAIN', ok, why)
    t0 = time.monotonic()
    ok, why = raises(lambda: recv(c, d, timeout_seconds=0.2),
                     app_code=SYSTEM_ERROR, errno=errno.EAGAIN)
    check('Receive with timeout 0.2 waits, then EAGAIN',
          ok and time.monotonic() - t0 >= 0.19, why)
    o = client('other')
    ok, why = raises(lambda: recv(o, d, timeout_seconds=0),
                     app_code=SYSTEM_ERROR, errno=errno.EBADF)
    check("another app's descriptor is EBADF", ok, why)
    close(c, d)


def t_errors():
    c = client()
    port = free_port()
    ok, why = raises(lambda: create(c, port), app_code=SYSTEM_ERROR,
                     errno=errno.ECONNREFUSED)
    check('CreateSocket to a closed port is ECONNREFUSED', ok, why)
    d = create(c).socket_descriptor
    ok, why = raises(lambda: c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr('127.0.0.1', port))),
        app_code=SYSTEM_ERROR, errno=errno.ECONNREFUSED)
    check('Connect to a closed port is ECONNREFUSED', ok, why)
    close(c, d)
    ok, why = raises(lambda: recv(c, 'A' * 22), app_code=SYSTEM_ERROR,
                     errno=errno.EBADF)
    check('an unknown descriptor is EBADF', ok, why)
    ok, why = raises(lambda: c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=UDP)), app_code=SYSTEM_ERROR,
        errno=errno.EPROTONOSUPPORT)
    check('a UDP socket is EPROTONOSUPPORT', ok, why)
    ok, why = raises(lambda: c.call('Frobnicate', pb.rs.CloseRequest(
        socket_descriptor='x')), rpc_code=RPC.RPC_CALL_NOT_FOUND)
    check('an unknown method is RPC_CALL_NOT_FOUND', ok, why)


def t_leaks():
    c = client()
    ok = until(lambda: (lambda s: s['rpc.socks_open'] == 0 and
                        s['rpc.waiting'] == 0)(c.stats()), 30)
    check('no socket and no parked call is left', ok, c.stats())


def main():
    global PORT
    proc = subprocess.Popen(
        [KBASE, '--listen', '127.0.0.1:0'] +
        [f'--app={k}={v.decode()}' for k, v in APPS.items()],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    check('kbase prints its ready line', line.startswith('kbase: ready on '),
          line)
    if not line.startswith('kbase: ready on '):
        proc.kill()
        return 1
    PORT = int(line.rsplit(':', 1)[1])
    try:
        for t in (t_auth, t_stream, t_batch, t_send, t_pipelined, t_echo,
                  t_errors, t_leaks):
            try:
                t()
            except (CallError, OSError, EOFError, queue.Empty) as e:
                check(t.__name__, False, f'{type(e).__name__}: {e}')
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    check('SIGTERM stops kbase with status 0', proc.returncode == 0,
          proc.returncode)
    check('kbase prints its counters at exit', 'kbase: stopped:' in out, out)
    print(out.strip(), flush=True)
    print(f'{failures} failed', flush=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
