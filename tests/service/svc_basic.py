# SPDX-License-Identifier: BSD-3-Clause
"""remsockd's remote socket service, driven from the test namespace.

Runs inside the namespace (address PEER), where it is both the RPC client
and, with Linux's own sockets, the peer the proxied sockets talk to.  Each
scenario prints lines 'check NAME ok' or 'check NAME FAIL: why', which the
shell script turns into test results.

    svc_basic.py PROTO_DIR PROXY PORT PEER HTTP_PORT HTTP_SHA256
"""

import errno
import hashlib
import os
import socket
import ssl
import struct
import sys
import threading
import time
import traceback

import rsclient
from rsclient import CallError, Client, addr, read_n, unaddr, until

PROTO, PROXY, PORT, PEER, HTTP_PORT, HTTP_SHA, TLS_DIR = sys.argv[1:8]
TLS_PORT = 5758
PORT, HTTP_PORT = int(PORT), int(HTTP_PORT)
pb = rsclient.load_protos(PROTO)
APPS = {'demo': b'demo-secret-not-for-production',
        'other': b'other-secret-for-the-tests',
        'small': b'small-secret-for-the-tests'}
TCP, UDP, IPV4, IPV6 = 1, 2, 1, 2
SYSTEM_ERROR, PERMISSION_DENIED, INVALID_REQUEST, SOCKET_CLOSED = 1, 5, 6, 7
MSG_WAITALL = 0x100  # Linux's, as Python's runtime passes it
RPC = pb.rpc
failures = 0


def check(name, ok, why=''):
    global failures
    if ok:
        print(f'check {name} ok', flush=True)
    else:
        failures += 1
        print(f'check {name} FAIL: {why}', flush=True)


def client(app='demo'):
    c = Client(PROXY, PORT)
    c.authenticate(app, APPS[app])
    return c


def raises(fn, **want):
    """The CallError fn raises, checked against want (rpc_code, app_code,
    errno); returns (ok, why)."""
    try:
        fn()
    except CallError as e:
        bad = {k: getattr(e, k) for k, v in want.items()
               if getattr(e, k) != v}
        return (not bad, f'{e}' if bad else '')
    return False, 'no error'


def tcp_socket(c, **kw):
    return c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, **kw)).socket_descriptor


def connect(c, d, port, ip=PEER, timeout=-1):
    return c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr(ip, port),
        timeout_seconds=timeout))


def send(c, d, data, off):
    return c.call('Send', pb.rs.SendRequest(
        socket_descriptor=d, data=data, stream_offset=off)).data_sent


def recv(c, d, size=65536, timeout=-1, flags=0):
    return c.call('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=size, timeout_seconds=timeout,
        flags=flags))


def close(c, d):
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))


# Tests wait on conditions, never on the clock: these two stand where a
# sleep would.  WAIT_S bounds them; only a hang reaches it.
WAIT_S = 60


def settled(c, d):
    """Returns once every call started on c before it has been taken up by
    the proxy (a waiting one is parked): a connection's frames are
    dispatched in order, so one more call's answer comes after that."""
    c.call('GetSocketName', pb.rs.GetSocketNameRequest(socket_descriptor=d))


def wait_data(c, d, n):
    """Returns once the proxy holds at least n bytes for socket d (peeking
    Receives, which take nothing); fails the check when it never does."""
    until = time.monotonic() + WAIT_S
    got = 0
    while time.monotonic() < until:
        got = len(recv(c, d, n, timeout=WAIT_S, flags=2).data)
        if got >= n:
            return
        time.sleep(0.01)
    check(f'{n} bytes reach the proxy within {WAIT_S} s', False, got)


class Listener:
    """A Linux TCP server in the namespace: accepts, keeps the sockets."""

    def __init__(self, rcvbuf=0):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:  # inherited by the accepted sockets
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.bind((PEER, 0))
        self.s.listen(128)
        self.port = self.s.getsockname()[1]
        self.s.settimeout(WAIT_S)

    def accept(self):
        conn, _ = self.s.accept()
        conn.settimeout(WAIT_S)
        return conn


def stalled(c, size):
    """A socket whose peer does not read yet (small buffers on both
    sides), and a Send of size bytes that waits for room: (d, conn, the
    Send's call id)."""
    lst = Listener(rcvbuf=4096)
    small = [pb.rs.SocketOption(level=1, option=o,
                                value=(4096).to_bytes(4, 'little'))
             for o in (7, 8)]  # SO_SNDBUF, SO_RCVBUF
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, socket_options=small)).socket_descriptor
    connect(c, d, lst.port)
    conn = lst.accept()
    sid = c.start('Send', pb.rs.SendRequest(
        socket_descriptor=d, data=b'z' * size, stream_offset=0,
        timeout_seconds=WAIT_S))
    settled(c, d)  # the Send is parked: it offered its bytes
    return d, conn, sid


def connected(c):
    """A TCP socket of c connected to a Linux listener: (d, the Linux
    end)."""
    lst = Listener()
    d = tcp_socket(c)
    connect(c, d, lst.port)
    return d, lst.accept()


def read_all(conn):
    out = b''
    while True:
        b = conn.recv(65536)
        if not b:
            return out
        out += b


# ---- scenarios ---------------------------------------------------------

def t_auth():
    c = Client(PROXY, PORT)
    ok, why = raises(lambda: tcp_socket(c),
                     rpc_code=RPC.RPC_UNAUTHENTICATED)
    check('a call before Authenticate is refused', ok, why)
    ok, why = raises(lambda: c.authenticate('demo', b'wrong-secret-wrong'),
                     rpc_code=RPC.RPC_UNAUTHENTICATED)
    check('a wrong secret is refused', ok, why)
    try:
        c.authenticate('demo', APPS['demo'])
        closed = False
    except (EOFError, ConnectionError):
        closed = True
    check('the connection is closed after a failed Authenticate', closed)
    c = Client(PROXY, PORT)
    r = c.authenticate('demo', APPS['demo'])
    check('Authenticate with the right secret', r.app_id == 'demo', r)


def t_http():
    """The seed's example: a GET to a web server, through the proxy."""
    c = client()
    d = tcp_socket(c)
    check('CreateSocket gives a 22-character descriptor', len(d) == 22, d)
    r = connect(c, d, HTTP_PORT)
    check('Connect answers with the proxy address',
          unaddr(r.proxy_external_ip)[0] == PROXY, r)
    req = f'GET /blob HTTP/1.0\r\nHost: {PEER}\r\n\r\n'.encode()
    check('Send takes the request', send(c, d, req, 0) == len(req))
    body, off = b'', 0
    while True:
        r = recv(c, d, 65536)
        if r.stream_offset != off:
            check('Receive stream offsets follow the data', False,
                  f'{r.stream_offset} != {off}')
            break
        if not r.data:
            break
        body += r.data
        off += len(r.data)
    close(c, d)
    head, _, payload = body.partition(b'\r\n\r\n')
    check('HTTP status 200', head.startswith(b'HTTP/1.0 200'), head[:40])
    check('the body arrives whole (SHA-256)',
          hashlib.sha256(payload).hexdigest() == HTTP_SHA,
          f'{len(payload)} bytes')
    ok, why = raises(lambda: recv(c, d), app_code=SOCKET_CLOSED)
    check('a closed descriptor is gone (SOCKET_CLOSED, as App Engine)',
          ok, why)


def t_create_connect_names():
    lst = Listener()
    c = client()
    r = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, remote_ip=addr(PEER, lst.port)))
    conn = lst.accept()
    peer = c.call('GetPeerName', pb.rs.GetPeerNameRequest(
        socket_descriptor=r.socket_descriptor)).peer_ip
    me = c.call('GetSocketName', pb.rs.GetSocketNameRequest(
        socket_descriptor=r.socket_descriptor)).proxy_external_ip
    check('CreateSocket with remote_ip connects at once',
          unaddr(peer) == (PEER, lst.port), unaddr(peer))
    check('GetSocketName is what Linux sees as the peer',
          unaddr(me) == conn.getpeername(), (unaddr(me), conn.getpeername()))
    close(c, r.socket_descriptor)
    check('Close ends the connection (Linux reads EOF)', read_all(conn) == b'')


def t_errors():
    c = client()
    for ip, what in (('127.0.0.1', 'loopback'), ('10.1.2.3', 'private'),
                     (PROXY, "the proxy's own address")):
        d = tcp_socket(c)
        ok, why = raises(lambda: connect(c, d, 80, ip=ip),
                         app_code=PERMISSION_DENIED)
        check(f'Connect to {what} is PERMISSION_DENIED', ok, why)
        close(c, d)
    ok, why = raises(lambda: c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, remote_ip=addr('169.254.1.1', 80))),
        app_code=PERMISSION_DENIED)
    check('CreateSocket with a denied remote_ip is PERMISSION_DENIED', ok, why)
    try:
        recv(c, 'A' * 22)
        why = 'no error'
    except CallError as e:
        why = (e.app_code, e.errno, e.detail)
    check('an unknown descriptor is SOCKET_CLOSED, EBADF in the detail',
          why[:2] == (SOCKET_CLOSED, 0) and 'EBADF' in why[2], why)
    try:
        close(c, 'A' * 22)
        why = ''
    except CallError as e:
        why = str(e)
    check('a Close of an unknown descriptor is quietly taken, as App '
          'Engine did (a cleanup path, a Close sent again)', why == '', why)
    lst = Listener()
    port = lst.port
    lst.s.close()
    d = tcp_socket(c)
    ok, why = raises(lambda: connect(c, d, port), app_code=SYSTEM_ERROR,
                     errno=errno.ECONNREFUSED)
    check('Connect to a closed Linux port is ECONNREFUSED', ok, why)
    # As Linux: the refused socket has no peer, and it may connect again
    # (refused again, then to a listener, a connection), never EISCONN.
    ok2, why2 = raises(lambda: connect(c, d, port), app_code=SYSTEM_ERROR,
                       errno=errno.ECONNREFUSED)
    ok3, why3 = raises(lambda: c.call('GetPeerName', pb.rs.GetPeerNameRequest(
        socket_descriptor=d)), app_code=SYSTEM_ERROR, errno=errno.ENOTCONN)
    lst2 = Listener()
    connect(c, d, lst2.port)
    conn2 = lst2.accept()
    peer = c.call('GetPeerName', pb.rs.GetPeerNameRequest(
        socket_descriptor=d)).peer_ip
    check('a refused socket: GetPeerName ENOTCONN, Connect refused again, '
          'then connects to a listener',
          ok2 and ok3 and peer.port == lst2.port, (why2, why3, peer))
    conn2.close()
    close(c, d)
    ok, why = raises(lambda: c.call('Frobnicate', pb.rs.CloseRequest(
        socket_descriptor='x')), rpc_code=RPC.RPC_CALL_NOT_FOUND)
    check('an unknown method is RPC_CALL_NOT_FOUND', ok, why)
    cid = c.next_id
    c.next_id += 1
    env = RPC.RpcRequest(call_id=cid, service_name='remote_socket',
                         method='Close', body=b'\x0a\xff\xff')
    c.send_frame(env.SerializeToString())
    ok, why = raises(lambda: c.finish('Close', cid),
                     rpc_code=RPC.RPC_BAD_REQUEST)
    check('a body that does not decode is RPC_BAD_REQUEST', ok, why)


def t_resolve():
    c = client()

    def resolve(name, fam=(IPV4,)):
        return c.call('Resolve', pb.rs.ResolveRequest(
            name=name, address_families=list(fam)))

    def ips(r):
        return [socket.inet_ntoa(a) for a in r.packed_address]
    r = resolve('198.18.0.1')
    check('Resolve of a numeric name', ips(r) == ['198.18.0.1'], r)
    r = resolve('STATIC.test')
    check('Resolve from [hosts], without regard to case',
          ips(r) == ['198.18.0.7', '198.18.0.8'] and
          r.canonical_name == 'static.test', r)
    r = resolve('web.svc.test')
    check('Resolve through DNS (dnsmasq in the namespace)',
          ips(r) == [PEER], r)
    GAI = 2
    ok, why = raises(lambda: resolve('nosuch.invalid'), app_code=GAI,
                     errno=pb.rs.ResolveReply.SOCKET_EAI_NONAME)
    check('an unknown name is GAI_ERROR EAI_NONAME', ok, why)
    # A name with an IPv6 address only: NONAME, as Linux's getaddrinfo()
    # answers (Java's runtime makes anything but NONAME and AGAIN a
    # RuntimeException).
    ok, why = raises(lambda: resolve('noaddr.test'), app_code=GAI,
                     errno=pb.rs.ResolveReply.SOCKET_EAI_NONAME)
    check('a name with no address is GAI_ERROR EAI_NONAME, not NODATA',
          ok, why)
    # dnsmasq has no upstream: a name outside its domains is REFUSED.
    try:
        resolve('outside.example')
        why, code = 'resolved', 0
    except CallError as e:
        why, code = e.detail, e.errno
    check('a name the DNS server refuses says so, not "Could not contact", '
          'and is EAI_AGAIN',
          'refused the query' in why and
          code == pb.rs.ResolveReply.SOCKET_EAI_AGAIN, (why, code))
    r = resolve('www.alias.test')
    check('Resolve through a CNAME: the canonical name, and the alias as '
          "gethostbyname_ex's alias list",
          ips(r) == [PEER] and r.canonical_name == 'real.alias.test' and
          list(r.aliases) == ['www.alias.test'], str(r).replace('\n', ' '))
    r6 = resolve('web.svc.test', fam=(IPV6,))
    r46 = resolve('web.svc.test', fam=(IPV4, IPV6))
    check('IPv6 only: IPv4-mapped addresses (AI_V4MAPPED); IPv4 and IPv6: '
          'IPv4 ones',
          [a for a in r6.packed_address] == [v6(PEER)] and ips(r46) == [PEER],
          (r6, r46))
    # AAAA records, when IPv6 is asked: after the IPv4 addresses (the
    # proxy's network is IPv4 only: the first address must be reachable).
    six = [socket.inet_pton(socket.AF_INET6, f'2001:db8::{i}') for i in (1, 2)]
    got = [list(resolve('dual.test', fam=fam).packed_address)
           for fam in ((IPV4, IPV6), (IPV6,), (IPV4,))]
    check('AAAA records answer when IPv6 is asked, after IPv4 (mapped when '
          'IPv6 alone is asked); an IPv4 request gets IPv4 only',
          got == [[socket.inet_aton(PEER), six[1]], [v6(PEER), six[1]],
                  [socket.inet_aton(PEER)]], got)
    r = resolve('noaddr.test', fam=(IPV6,))
    check('a name with only an AAAA record answers it when IPv6 is asked',
          list(r.packed_address) == [six[0]], r)
    ids = [c.start('Resolve', pb.rs.ResolveRequest(name=f'n{i}.svc.test'))
           for i in range(20)]
    got = [ips(c.finish('Resolve', i)) for i in ids]
    check('20 pipelined Resolves all come back', got == [[PEER]] * 20, got)
    # The resolved name is reachable through the proxy: the seed's flow.
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP,
        remote_ip=addr(ips(resolve('web.svc.test'))[0],
                       HTTP_PORT))).socket_descriptor
    send(c, d, b'HEAD / HTTP/1.0\r\n\r\n', 0)
    r = recv(c, d, 100, timeout=WAIT_S)
    check('a resolved name serves HTTP through the proxy',
          r.data.startswith(b'HTTP/1.0 '), r.data[:20])
    close(c, d)


def opt(level, name, value=0, size=4):
    return pb.rs.SocketOption(level=level, option=name,
                              value=value.to_bytes(4, 'little') * (size // 4))


def getopts(c, d, want):
    """The int values of the options (level, name) in want, in order."""
    r = c.call('GetSocketOptions', pb.rs.GetSocketOptionsRequest(
        socket_descriptor=d, options=[opt(lv, n) for lv, n in want]))
    return [int.from_bytes(o.value[:4], 'little', signed=True)
            for o in r.options]


def t_options_shutdown():
    SOL_SOCKET, SOL_TCP = 1, 6
    SO_REUSEADDR, SO_TYPE, SO_ERROR, SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE = \
        2, 3, 4, 7, 8, 9
    SO_LINGER, SO_DEBUG, TCP_NODELAY, TCP_KEEPIDLE, TCP_MAXSEG = 13, 1, 1, 4, 2
    lst = Listener()
    c = client()
    d = tcp_socket(c)
    c.call('SetSocketOptions', pb.rs.SetSocketOptionsRequest(
        socket_descriptor=d, options=[
            opt(SOL_SOCKET, SO_KEEPALIVE, 1), opt(SOL_TCP, TCP_NODELAY, 1),
            opt(SOL_TCP, TCP_KEEPIDLE, 30), opt(SOL_SOCKET, SO_RCVBUF, 65536),
            opt(SOL_SOCKET, SO_LINGER, 0, 8)]))
    want = [(SOL_SOCKET, SO_KEEPALIVE), (SOL_TCP, TCP_NODELAY),
            (SOL_TCP, TCP_KEEPIDLE), (SOL_SOCKET, SO_RCVBUF),
            (SOL_SOCKET, SO_TYPE), (SOL_SOCKET, SO_ERROR),
            (SOL_SOCKET, SO_REUSEADDR)]
    got = getopts(c, d, want)
    check('SetSocketOptions values read back by GetSocketOptions '
          '(SO_TYPE is SOCK_STREAM)', got == [1, 1, 30, 65536, 1, 0, 0], got)
    # As Linux: options the stack does not act on are kept and read back,
    # any boolean but 0 is true, buffer sizes are clamped; only options
    # nobody may set here (IP_HDRINCL) fail.  (Java's big-endian values:
    # svc_http.py's t_java_shapes.)
    SOL_IP, IP_TOS, IP_HDRINCL, TCP_QUICKACK = 0, 1, 3, 12
    c.call('SetSocketOptions', pb.rs.SetSocketOptionsRequest(
        socket_descriptor=d, options=[
            opt(SOL_TCP, TCP_MAXSEG, 500), opt(SOL_IP, IP_TOS, 16),
            opt(SOL_SOCKET, SO_DEBUG, 1),
            opt(SOL_SOCKET, SO_KEEPALIVE, 7),
            opt(SOL_SOCKET, SO_SNDBUF, 1)]))
    want = [(SOL_TCP, TCP_MAXSEG), (SOL_IP, IP_TOS), (SOL_SOCKET, SO_DEBUG),
            (SOL_SOCKET, SO_KEEPALIVE), (SOL_SOCKET, SO_SNDBUF),
            (SOL_TCP, TCP_QUICKACK)]
    got = getopts(c, d, want)
    check('options the stack does not act on are kept, booleans are any '
          'non-zero, buffer sizes clamped', got == [500, 16, 1, 1, 4096, 1],
          got)
    ok, why = raises(lambda: c.call('SetSocketOptions',
                                    pb.rs.SetSocketOptionsRequest(
                                        socket_descriptor=d,
                                        options=[opt(SOL_IP, IP_HDRINCL,
                                                     1)])),
                     app_code=SYSTEM_ERROR, errno=errno.ENOPROTOOPT)
    check('IP_HDRINCL is ENOPROTOOPT', ok, why)
    ok, why = raises(lambda: c.call('SetSocketOptions',
                                    pb.rs.SetSocketOptionsRequest(
                                        socket_descriptor=d,
                                        options=[opt(SOL_SOCKET, SO_ERROR,
                                                     1)])),
                     app_code=SYSTEM_ERROR, errno=errno.ENOPROTOOPT)
    check('SO_ERROR is read-only', ok, why)
    ok, why = raises(lambda: c.call('GetPeerName', pb.rs.GetPeerNameRequest(
        socket_descriptor=d)), app_code=SYSTEM_ERROR, errno=errno.ENOTCONN)
    check('GetPeerName before Connect is ENOTCONN', ok, why)
    r = c.call('Bind', pb.rs.BindRequest(socket_descriptor=d,
                                         proxy_external_ip=addr(PROXY, 7200)))
    check('Bind to a chosen port', unaddr(r.proxy_external_ip) ==
          (PROXY, 7200), r)
    d2 = tcp_socket(c)
    ok, why = raises(lambda: c.call('Bind', pb.rs.BindRequest(
        socket_descriptor=d2, proxy_external_ip=addr(PROXY, 7200))),
        app_code=SYSTEM_ERROR, errno=errno.EADDRINUSE)
    check('a second Bind to the port is EADDRINUSE', ok, why)
    close(c, d2)
    connect(c, d, lst.port)
    conn = lst.accept()
    check('Linux sees the bound port', conn.getpeername() == (PROXY, 7200),
          conn.getpeername())
    send(c, d, b'half', 0)
    c.call('ShutDown', pb.rs.ShutDownRequest(
        socket_descriptor=d, how=2, send_offset=4))
    check('ShutDown(SHUT_WR, send_offset): Linux reads the data, then EOF',
          read_all(conn) == b'half')
    conn.sendall(b'still open')
    r = recv(c, d, 100, timeout=WAIT_S)
    check('after SHUT_WR the socket still receives',
          r.data == b'still open', r)
    conn.close()
    close(c, d)
    # ShutDown and Close with send_offset wait for a Send still waiting
    # for room, then write it out whole.
    size = 1 << 20
    d, conn, sid = stalled(c, size)
    c.call('ShutDown', pb.rs.ShutDownRequest(socket_descriptor=d, how=2,
                                             send_offset=size))
    got = read_all(conn)
    check('ShutDown(SHUT_WR) behind a waiting Send: Linux reads all of it, '
          'then EOF', got == b'z' * size and
          c.finish('Send', sid).data_sent == size, len(got))
    conn.close()
    close(c, d)
    d, conn, sid = stalled(c, size)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d,
                                       send_offset=size))
    ok, why = raises(lambda: recv(c, d), app_code=SOCKET_CLOSED)
    check('a Close that waits for a Send closes the descriptor for all '
          'else at once', ok, why)
    got = read_all(conn)
    check('Close with send_offset closes once the waiting Send is out',
          got == b'z' * size and c.finish('Send', sid).data_sent == size,
          len(got))
    conn.close()
    # A send_offset beyond any Send: the Close does not wait for bytes
    # that may never come.
    d = tcp_socket(c)
    connect(c, d, lst.port)
    conn = lst.accept()
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d, send_offset=5))
    ok, why = raises(lambda: send(c, d, b'after', 0),
                     app_code=SOCKET_CLOSED)
    check('Close with a send_offset no Send offered closes at once', ok and
          read_all(conn) == b'', why)
    conn.close()


def t_streams():
    lst = Listener()
    c = client()
    d = tcp_socket(c)
    connect(c, d, lst.port)
    conn = lst.accept()
    t0 = time.monotonic()
    ok, why = raises(lambda: recv(c, d, timeout=0), app_code=SYSTEM_ERROR,
                     errno=errno.EAGAIN)
    check('Receive with timeout 0 and nothing to read: EAGAIN', ok, why)
    ok, why = raises(lambda: recv(c, d, timeout=0.3), app_code=SYSTEM_ERROR,
                     errno=errno.EAGAIN)
    dt = time.monotonic() - t0
    check('Receive with timeout 0.3 s waits, then EAGAIN',
          ok and 0.28 <= dt < WAIT_S, f'{why} after {dt:.3f} s')
    n1 = send(c, d, b'abc', 0)
    n2 = send(c, d, b'abcdef', 0)  # a retry that carries more
    check('a retried Send counts the bytes it repeats', (n1, n2) == (3, 6),
          (n1, n2))
    ok, why = raises(lambda: send(c, d, b'xyz', 100),
                     app_code=INVALID_REQUEST)
    check('a Send past the stream (a gap) is INVALID_REQUEST', ok, why)
    # A Send that takes part of its bytes, then finds no room until its
    # deadline, answers with what it took (as send(2) would), not EAGAIN.
    lst2 = Listener(rcvbuf=4096)
    small = [pb.rs.SocketOption(level=1, option=o,
                                value=(4096).to_bytes(4, 'little'))
             for o in (7, 8)]  # SO_SNDBUF, SO_RCVBUF
    d2 = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, socket_options=small)).socket_descriptor
    connect(c, d2, lst2.port)
    conn2 = lst2.accept()  # never reads
    t1 = time.monotonic()
    n = c.call('Send', pb.rs.SendRequest(
        socket_descriptor=d2, data=b'y' * (1 << 20), stream_offset=0,
        timeout_seconds=0.3)).data_sent
    dt = time.monotonic() - t1
    check('a Send that runs out of room answers at its deadline with the '
          'bytes it took', 0 < n < (1 << 20) and 0.28 <= dt < WAIT_S,
          f'{n} after {dt:.3f} s')
    close(c, d2)
    conn2.close()
    got = b''
    while len(got) < 6:
        got += conn.recv(100)
    check('Linux receives the bytes once', got == b'abcdef', got)
    # Pipelining: a parked Receive, then a call that answers at once.
    rid = c.start('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=100, timeout_seconds=WAIT_S))
    nid = c.start('GetSocketName', pb.rs.GetSocketNameRequest(
        socket_descriptor=d))
    first = c.read_response()
    check('a later call overtakes a waiting Receive', first.call_id == nid,
          (first.call_id, rid, nid))
    c.early[first.call_id] = first
    c.finish('GetSocketName', nid)
    conn.sendall(b'hello')
    r = c.finish('Receive', rid)
    check('the waiting Receive gets the data when it comes',
          r.data == b'hello' and r.stream_offset == 0, r)
    conn.sendall(b'peek')
    wait_data(c, d, 4)
    p = recv(c, d, 100, timeout=WAIT_S, flags=2)
    r = recv(c, d, 100, timeout=WAIT_S)
    check('MSG_PEEK leaves the data for the next Receive',
          p.data == b'peek' and r.data == b'peek' and r.stream_offset == 5,
          (p, r))
    # As recv(2): 0 bytes asked is nothing, at once (with nothing there);
    # MSG_WAITALL (Python passes it) waits for all it asks.
    r = recv(c, d, 0, timeout=WAIT_S)
    check('a Receive of 0 bytes answers at once, empty',
          r.data == b'' and r.stream_offset == 9, r)
    conn.sendall(b'abc')
    wait_data(c, d, 3)
    wid = c.start('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=6, flags=MSG_WAITALL,
        timeout_seconds=WAIT_S))
    settled(c, d)
    conn.sendall(b'def')
    r = c.finish('Receive', wid)
    check('MSG_WAITALL waits for the whole size',
          r.data == b'abcdef' and r.stream_offset == 9, r)
    conn.close()
    r = recv(c, d, 100, timeout=WAIT_S)
    check('EOF is an empty Receive', r.data == b'', r)
    close(c, d)


def t_reconnect():
    """Sockets outlive the RPC connection; a parked call does not."""
    lst = Listener()
    c = client()
    d = tcp_socket(c)
    connect(c, d, lst.port)
    conn = lst.accept()
    send(c, d, b'one', 0)
    c.start('Receive', pb.rs.ReceiveRequest(socket_descriptor=d,
                                            data_size=10))
    settled(c, d)
    c.close()  # cancels the parked Receive
    c = client()
    n = send(c, d, b'onetwo', 0)  # the client is unsure 'one' arrived
    got = b''
    while len(got) < 6:
        got += conn.recv(100)
    check('after a reconnect the socket is there and a retried Send '
          'is not written twice', n == 6 and got == b'onetwo', (n, got))
    conn.sendall(b'x')
    r = recv(c, d, 10, timeout=WAIT_S)
    check('the cancelled Receive took nothing', r.data == b'x', r)
    other = client('other')
    ok, why = raises(lambda: send(other, d, b'!', 6),
                     app_code=SOCKET_CLOSED)
    check("another app cannot use the app's descriptor", ok, why)
    close(other, d)  # taken quietly, as for any descriptor it lacks
    n = send(c, d, b'still', 6)
    check("another app cannot close it either", n == 5, n)
    close(c, d)


def v6(ip):
    """The 16 bytes of ip as an IPv4-mapped IPv6 address."""
    return bytes(10) + b'\xff\xff' + socket.inet_aton(ip)


def addr6(ip, port):
    """An AddressPort as Java's runtime sends every one: 16 bytes."""
    return pb.rs.AddressPort(port=port, packed_address=v6(ip))


def t_ipv6():
    """IPv6 sockets and IPv4-mapped addresses, as Java's runtime makes and
    sends them all (AppEngineSocketUtils.toAddressPort)."""
    c = client()
    lst = Listener()
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV6, protocol=TCP)).socket_descriptor
    me = c.call('GetSocketName', pb.rs.GetSocketNameRequest(
        socket_descriptor=d)).proxy_external_ip
    check('an IPv6 socket is made; unbound, its name is :: (16 bytes)',
          me.packed_address == bytes(16), me)
    connect_addr = addr6(PEER, lst.port)
    c.call('Connect', pb.rs.ConnectRequest(socket_descriptor=d,
                                           remote_ip=connect_addr))
    conn = lst.accept()
    peer = c.call('GetPeerName', pb.rs.GetPeerNameRequest(
        socket_descriptor=d)).peer_ip
    me = c.call('GetSocketName', pb.rs.GetSocketNameRequest(
        socket_descriptor=d)).proxy_external_ip
    check('Connect to ::ffff:PEER reaches Linux; the names come back as '
          'IPv4-mapped addresses',
          peer.packed_address == v6(PEER) and peer.port == lst.port and
          me.packed_address == v6(conn.getpeername()[0]) and
          me.port == conn.getpeername()[1], (peer, me))
    send(c, d, b'v6', 0)
    check('and carries data', conn.recv(10) == b'v6')
    conn.close()
    close(c, d)
    ok, why = raises(lambda: c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV6, protocol=TCP, remote_ip=pb.rs.AddressPort(
            port=80, packed_address=socket.inet_pton(socket.AF_INET6,
                                                     '2001:db8::1')))),
        app_code=SYSTEM_ERROR, errno=errno.ENETUNREACH)
    check('a native IPv6 destination is ENETUNREACH (the network is IPv4 '
          'only)', ok, why)
    ok, why = raises(lambda: c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV6, protocol=TCP, remote_ip=addr6('127.0.0.1', 80))),
        app_code=PERMISSION_DENIED)
    check('the ACL holds for mapped addresses (::ffff:127.0.0.1 denied)',
          ok, why)
    # A listener bound to :: (Java's ServerSocket) and its connections.
    ld = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV6, protocol=TCP,
        proxy_external_ip=pb.rs.AddressPort(port=7106,
                                            packed_address=bytes(16)),
        listen_backlog=4)).socket_descriptor
    aid = c.start('Accept', pb.rs.AcceptRequest(socket_descriptor=ld,
                                                timeout_seconds=WAIT_S))
    lin = socket.create_connection((PROXY, 7106), timeout=10)
    r = c.finish('Accept', aid)
    check('an IPv6 listener bound to :: accepts; the peer is IPv4-mapped',
          r.remote_address.packed_address == v6(lin.getsockname()[0]) and
          r.remote_address.port == lin.getsockname()[1], r)
    lin.close()
    close(c, r.new_socket_descriptor.decode())
    close(c, ld)
    # UDP: send_to and received_from in 16 bytes.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((PEER, 0))
    u.settimeout(5)
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV6, protocol=UDP)).socket_descriptor
    c.call('Send', pb.rs.SendRequest(socket_descriptor=d, data=b'ping6',
                                     stream_offset=0,
                                     send_to=addr6(*u.getsockname())))
    data, src = u.recvfrom(100)
    u.sendto(b'pong6', src)
    r = recv(c, d, 100, timeout=WAIT_S)
    check('UDP on an IPv6 socket: send_to ::ffff:PEER, received_from '
          'IPv4-mapped', data == b'ping6' and r.data == b'pong6' and
          r.received_from.packed_address == v6(PEER) and
          r.received_from.port == u.getsockname()[1], r)
    close(c, d)
    u.close()
    c.close()


def tls_ctx(cafile='ca.crt', cert='demo-app'):
    """A client context trusting cafile, showing cert (None: none)."""
    ctx = ssl.create_default_context(cafile=f'{TLS_DIR}/{cafile}')
    if cert is not None:
        ctx.load_cert_chain(f'{TLS_DIR}/{cert}.crt', f'{TLS_DIR}/{cert}.key')
    return ctx


def tls_refused(ctx):
    """How a TLS client with ctx fares with its first call: remsockd asks
    for a client certificate ([rpc] tls_client_ca), and TLS 1.3 tells a
    client it was refused after its own handshake is done."""
    try:
        c = Client(PROXY, TLS_PORT, tls=ctx)
        c.authenticate('demo', APPS['demo'])
        return 'accepted'
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return f'refused: {e}'


def t_tls():
    """The native transport over TLS 1.3 ([rpc] tls_port), with client
    certificates ([rpc] tls_client_ca: CN = the app)."""
    ctx = tls_ctx()
    c = Client(PROXY, TLS_PORT, tls=ctx)
    check("TLS: the proxy's certificate checks out against its CA and "
          'address; TLS 1.3', c.sock.version() == 'TLSv1.3', c.sock.version())
    c.authenticate('demo', APPS['demo'])
    lst = Listener()
    d = tcp_socket(c)
    connect(c, d, lst.port)
    conn = lst.accept()
    blob = os.urandom(300000)
    sent = 0
    while sent < len(blob):
        sent += send(c, d, blob[sent:], sent)
    got = b''
    while len(got) < len(blob):
        got += conn.recv(1 << 16)
    conn.sendall(blob[::-1])
    back = b''
    while len(back) < len(blob):
        back += recv(c, d, 1 << 20, timeout=WAIT_S).data
    check('TLS: Authenticate, Connect, 300 KB each way through the proxy',
          got == blob and back == blob[::-1], (len(got), len(back)))
    conn.close()
    close(c, d)
    c.close()
    why = tls_refused(tls_ctx(cert=None))
    check('TLS: a client without a certificate is refused',
          why.startswith('refused'), why)
    why = tls_refused(tls_ctx(cert='other'))  # self-signed, another CA
    check('TLS: a client certificate of another CA is refused',
          why.startswith('refused'), why)
    c = Client(PROXY, TLS_PORT, tls=tls_ctx(cert='other-app'))
    try:
        c.authenticate('demo', APPS['demo'])
        ok, why = False, 'accepted'
    except CallError as e:
        ok, why = e.rpc_code == RPC.RPC_UNAUTHENTICATED, str(e)
    check("TLS: other's certificate cannot authenticate as demo, even with "
          "demo's secret", ok and 'certificate' in why, why)
    c.close()
    c = Client(PROXY, TLS_PORT, tls=tls_ctx(cert='other-app'))
    c.authenticate('other', APPS['other'])
    check("TLS: other's certificate authenticates as other", True)
    c.close()
    # demo's second certificate, from the same CA, which revoked it: only
    # the CRL tells it from the first (accepted above).
    why = tls_refused(tls_ctx(cert='revoked-app'))
    check('TLS: a client certificate its CA revoked ([rpc] tls_client_crl) '
          'is refused', why.startswith('refused'), why)
    other = ssl.create_default_context(cafile=f'{TLS_DIR}/other.crt')
    try:
        Client(PROXY, TLS_PORT, tls=other)
        why = 'handshake completed'
    except ssl.SSLCertVerificationError as e:
        why = e.verify_message
    check('TLS: a client trusting another CA refuses the proxy',
          'unable to get local issuer certificate' in why, why)
    old = ssl.create_default_context(cafile=f'{TLS_DIR}/ca.crt')
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        Client(PROXY, TLS_PORT, tls=old)
        why = 'handshake completed'
    except (ssl.SSLError, ConnectionError) as e:
        why = str(e)
    check('TLS: a TLS 1.2 client is refused', why != 'handshake completed',
          why)
    s = socket.create_connection((PROXY, TLS_PORT), timeout=WAIT_S)
    body = pb.rpc.RpcRequest(call_id=1, service_name='remsock',
                             method='Authenticate').SerializeToString()
    s.sendall(struct.pack('>I', len(body)) + body)
    try:
        answer = s.recv(100)
    except ConnectionError:
        answer = b''
    # A frame would start with its length (0, ...); a TLS alert is 0x15.
    check('TLS: plain frames at the TLS port get no answer but an alert '
          'and the end', answer[:1] in (b'', b'\x15'), answer[:8])
    s.close()


def t_udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((PEER, 0))
    u.settimeout(5)
    c = client()
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=UDP)).socket_descriptor
    n = c.call('Send', pb.rs.SendRequest(
        socket_descriptor=d, data=b'ping', stream_offset=0,
        send_to=addr(PEER, u.getsockname()[1]))).data_sent
    data, src = u.recvfrom(100)
    check('UDP Send with send_to reaches Linux', n == 4 and data == b'ping',
          (n, data))
    u.sendto(b'pong', src)
    r = recv(c, d, 100, timeout=WAIT_S)
    check('UDP Receive has the datagram and its source',
          r.data == b'pong' and unaddr(r.received_from) == u.getsockname(),
          r)
    ok, why = raises(lambda: c.call('Send', pb.rs.SendRequest(
        socket_descriptor=d, data=b'x', stream_offset=0,
        send_to=addr('127.0.0.1', 53))), app_code=PERMISSION_DENIED)
    check('UDP Send to a denied address is PERMISSION_DENIED', ok, why)
    close(c, d)
    # Connected (remote_ip at create): the name is the address the
    # datagrams leave from, as Linux's getsockname says, not 0.0.0.0.
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=UDP,
        remote_ip=addr(PEER, u.getsockname()[1]))).socket_descriptor
    me = unaddr(c.call('GetSocketName', pb.rs.GetSocketNameRequest(
        socket_descriptor=d)).proxy_external_ip)
    c.call('Send', pb.rs.SendRequest(socket_descriptor=d, data=b'who',
                                     stream_offset=0))
    data, src = u.recvfrom(100)
    check('a connected UDP socket is named as Linux sees its datagrams',
          data == b'who' and me == src, (me, src))
    close(c, d)


def t_listen_accept():
    c = client()
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, proxy_external_ip=addr(PROXY, 7100),
        listen_backlog=8)).socket_descriptor
    aid = c.start('Accept', pb.rs.AcceptRequest(socket_descriptor=d,
                                                timeout_seconds=WAIT_S))
    lin = socket.create_connection((PROXY, 7100), timeout=10)
    r = c.finish('Accept', aid)
    nd = r.new_socket_descriptor.decode()
    check('Accept gives a connection from Linux',
          unaddr(r.remote_address) == lin.getsockname(), r)
    lin.sendall(b'in')
    got = recv(c, nd, 10, timeout=WAIT_S)
    send(c, nd, b'out', 0)
    check('the accepted socket carries data both ways',
          got.data == b'in' and lin.recv(10) == b'out', got)
    ok, why = raises(lambda: c.call('Accept', pb.rs.AcceptRequest(
        socket_descriptor=d, timeout_seconds=0.2)), app_code=SYSTEM_ERROR,
        errno=errno.EAGAIN)
    check('Accept with nothing queued times out with EAGAIN', ok, why)
    lin.close()
    close(c, nd)
    close(c, d)


def t_poll():
    lst = Listener()
    c = client()
    ds, conns = [], []
    for _ in range(10):
        d = tcp_socket(c)
        connect(c, d, lst.port)
        ds.append(d)
        conns.append(lst.accept())
    IN = 1
    ev = [pb.rs.PollEvent(socket_descriptor=d, requested_events=IN,
                          observed_events=0) for d in ds]
    r = c.call('Poll', pb.rs.PollRequest(events=ev, timeout_seconds=0))
    check('Poll over 10 quiet sockets: nothing',
          all(e.observed_events == 0 for e in r.events), r)
    pid = c.start('Poll', pb.rs.PollRequest(events=ev,
                                            timeout_seconds=WAIT_S))
    settled(c, ds[0])
    conns[7].sendall(b'!')
    r = c.finish('Poll', pid)
    got = [i for i, e in enumerate(r.events) if e.observed_events & IN]
    check('a waiting Poll wakes for the one socket with data', got == [7],
          got)
    t0 = time.monotonic()
    ev2 = [e for i, e in enumerate(ev) if i != 7]
    r = c.call('Poll', pb.rs.PollRequest(events=ev2, timeout_seconds=0.3))
    dt = time.monotonic() - t0
    check('Poll with nothing ready returns at its timeout',
          0.28 <= dt < WAIT_S and
          all(e.observed_events == 0 for e in r.events),
          dt)
    # A socket that failed answers at once, readable and writable with
    # ERR/HUP (as Linux: select() sees it in both sets and the call then
    # says what happened), even to a Poll that asked for IN only.
    ERR, HUP, OUT = 8, 16, 4
    conns[3].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack('ii', 1, 0))
    conns[3].close()  # a reset

    def poll_reset():
        # Writable at once; the reset comes when the RST has arrived
        # (with several workers it may cross from the other first).
        r = c.call('Poll', pb.rs.PollRequest(events=[pb.rs.PollEvent(
            socket_descriptor=ds[3], requested_events=IN | OUT,
            observed_events=0)], timeout_seconds=WAIT_S))
        return r.events[0].observed_events
    until(lambda: poll_reset() & (ERR | HUP), 30, 'the reset is seen')
    ev3 = poll_reset()
    check('Poll on a reset socket: IN and OUT with ERR or HUP, at once',
          ev3 & IN and ev3 & OUT and ev3 & (ERR | HUP), ev3)
    port = Listener()
    gone = port.port
    port.s.close()
    d = tcp_socket(c)
    raises(lambda: connect(c, d, gone), app_code=SYSTEM_ERROR,
           errno=errno.ECONNREFUSED)
    r = c.call('Poll', pb.rs.PollRequest(events=[pb.rs.PollEvent(
        socket_descriptor=d, requested_events=IN,
        observed_events=0)], timeout_seconds=WAIT_S))
    ev4 = r.events[0].observed_events
    check('Poll (IN) on a refused connect: IN with ERR or HUP, at once',
          ev4 & IN and ev4 & (ERR | HUP), ev4)
    close(c, d)
    for d in ds:
        close(c, d)


def t_batch():
    """SendBatch and ReceiveBatch over 100 sockets."""
    lst = Listener()
    c = client()
    ds, conns = [], {}
    for i in range(100):
        ds.append(c.call('CreateSocket', pb.rs.CreateSocketRequest(
            family=IPV4, protocol=TCP,
            remote_ip=addr(PEER, lst.port))).socket_descriptor)
        conn = lst.accept()
        conns[i] = conn
    r = c.call('SendBatch', pb.rs.SendBatchRequest(sends=[
        pb.rs.SendRequest(socket_descriptor=d, data=b'batch%03d' % i,
                          stream_offset=0) for i, d in enumerate(ds)]))
    check('SendBatch sends on 100 sockets',
          [e.reply.data_sent for e in r.entries] == [8] * 100,
          [e for e in r.entries if e.reply.data_sent != 8][:2])
    got = {i: conns[i].recv(100) for i in range(100)}
    check('each Linux peer gets its own Send',
          all(got[i] == b'batch%03d' % i for i in range(100)),
          [got[i] for i in range(3)])

    def batch(timeout):
        return c.call('ReceiveBatch', pb.rs.ReceiveBatchRequest(
            receives=[pb.rs.ReceiveRequest(socket_descriptor=d,
                                           data_size=100) for d in ds],
            timeout_seconds=timeout))
    r = batch(0)
    check('ReceiveBatch with timeout 0: every entry EAGAIN',
          all(e.application_error == SYSTEM_ERROR and
              e.error.system_error == errno.EAGAIN for e in r.entries),
          r.entries[0])
    bid = c.start('ReceiveBatch', pb.rs.ReceiveBatchRequest(
        receives=[pb.rs.ReceiveRequest(socket_descriptor=d, data_size=100)
                  for d in ds], timeout_seconds=WAIT_S))
    settled(c, ds[0])
    conns[42].sendall(b'forty-two')
    r = c.finish('ReceiveBatch', bid)
    with_data = [i for i, e in enumerate(r.entries) if e.HasField('reply')]
    check('a waiting ReceiveBatch over 100 sockets wakes with the one '
          'that has data', with_data == [42] and
          r.entries[42].reply.data == b'forty-two', with_data)
    conns[7].sendall(b'seven')
    conns[99].sendall(b'ninety-nine')
    wait_data(c, ds[7], 5)
    wait_data(c, ds[99], 11)
    r = batch(WAIT_S)
    with_data = {i: e.reply.data for i, e in enumerate(r.entries)
                 if e.HasField('reply')}
    check('ReceiveBatch returns all the sockets that have data',
          with_data == {7: b'seven', 99: b'ninety-nine'}, with_data)
    t0 = time.monotonic()
    r = batch(0.3)
    dt = time.monotonic() - t0
    check('ReceiveBatch with nothing to read returns at its timeout',
          0.28 <= dt < WAIT_S and
          not any(e.HasField('reply') for e in r.entries),
          dt)
    conns[3].close()
    r = batch(WAIT_S)
    check('EOF on one socket ends a ReceiveBatch',
          r.entries[3].HasField('reply') and r.entries[3].reply.data == b'',
          r.entries[3])
    for d in ds:
        close(c, d)


def t_bulk():
    """16 MiB each way through the RPC path: pipelined blocking Sends of
    256 KiB, and four Receives of 1 MiB outstanding, with SHA-256."""
    size, chunk = 16 << 20, 256 << 10
    blob = os.urandom(size)
    c = client()
    d, conn = connected(c)
    got = {}

    def reader():
        h, n = hashlib.sha256(), 0
        while n < size:
            b = conn.recv(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
        got['up'] = (n, h.hexdigest())
    t = threading.Thread(target=reader)
    t.start()
    t0 = time.monotonic()
    pending, off, sent = [], 0, []
    while off < size or pending:
        while off < size and len(pending) < 8:
            pending.append((c.start('Send', pb.rs.SendRequest(
                socket_descriptor=d, data=blob[off:off + chunk],
                stream_offset=off)), off))
            off += chunk
        cid, o = pending.pop(0)
        sent.append(c.finish('Send', cid).data_sent)
    t.join(2 * WAIT_S)
    dt = time.monotonic() - t0
    print(f'# upload: {size * 8 / dt / 1e6:.0f} Mbit/s through the proxy',
          flush=True)
    check('16 MiB of pipelined blocking Sends are taken whole, in order',
          sent == [chunk] * (size // chunk), sent[:4])
    check('Linux receives them intact (SHA-256)', got.get('up') ==
          (size, hashlib.sha256(blob).hexdigest()), got.get('up'))

    def writer():
        conn.sendall(blob)
        conn.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=writer)
    t.start()
    t0 = time.monotonic()
    parts, outstanding, eof = {}, [], False
    while not eof or outstanding:
        while not eof and len(outstanding) < 4:
            outstanding.append(c.start('Receive', pb.rs.ReceiveRequest(
                socket_descriptor=d, data_size=1 << 20, timeout_seconds=30)))
        r = c.finish('Receive', outstanding.pop(0))
        if not r.data:
            eof = True
        parts[r.stream_offset] = r.data
    t.join(2 * WAIT_S)
    dt = time.monotonic() - t0
    print(f'# download: {size * 8 / dt / 1e6:.0f} Mbit/s through the proxy',
          flush=True)
    data, pos = b'', 0
    for o in sorted(parts):
        ok = o == pos
        data += parts[o]
        pos += len(parts[o])
    check('16 MiB read by four outstanding Receives, by stream offset '
          '(SHA-256)', ok and hashlib.sha256(data).digest() ==
          hashlib.sha256(blob).digest(), (len(data), pos))
    close(c, d)
    conn.close()


def t_big_send():
    """One Send of 6 MiB, above the 4 MiB frame size the other calls
    keep to ([rpc] max_request_mb = 16): Java's runtime sends each write
    whole.  A frame above 16 MiB ends its connection; others go on."""
    size = 6 << 20
    blob = os.urandom(size)
    c = client()
    d, conn = connected(c)
    got = {}
    t = threading.Thread(target=lambda: got.update(data=read_n(conn, size)))
    t.start()
    r = c.call('Send', pb.rs.SendRequest(socket_descriptor=d, data=blob,
                                         stream_offset=0,
                                         timeout_seconds=WAIT_S))
    t.join(2 * WAIT_S)
    check('one Send of 6 MiB is taken whole, and Linux receives it intact',
          r.data_sent == size and got.get('data') == blob,
          (r.data_sent, len(got.get('data', b''))))
    big = client()
    try:
        big.call('Send', pb.rs.SendRequest(socket_descriptor=d,
                                           data=bytes(17 << 20),
                                           stream_offset=size))
        why = 'answered'
    except (EOFError, OSError) as e:
        why = type(e).__name__
    r = c.call('Send', pb.rs.SendRequest(socket_descriptor=d, data=b'on',
                                         stream_offset=size))
    check('a request above max_request_mb ends its connection; the '
          'socket and other connections go on',
          why != 'answered' and r.data_sent == 2 and
          read_n(conn, 2) == b'on', why)
    big.close()
    close(c, d)
    conn.close()


def t_reask():
    """A Receive reply lost with its connection is asked for again."""
    lst = Listener()
    c = client()
    d = tcp_socket(c)
    connect(c, d, lst.port)
    conn = lst.accept()
    conn.sendall(b'0123456789')
    wait_data(c, d, 10)

    def rx(cons, size=4, cl=None):
        return (cl or c).call('Receive', pb.rs.ReceiveRequest(
            socket_descriptor=d, data_size=size, timeout_seconds=WAIT_S,
            consumed_offset=cons))
    r = rx(0)
    check('Receive with consumed_offset 0', (r.data, r.stream_offset) ==
          (b'0123', 0), r)
    c.close()  # the reply counts as lost: the client never saw it
    c = client()
    r = rx(0)
    check('after a reconnect the same bytes are sent again',
          (r.data, r.stream_offset) == (b'0123', 0), r)
    r = rx(4)
    check('acknowledging them moves on', (r.data, r.stream_offset) ==
          (b'4567', 4), r)
    r = rx(8)
    check('and on', (r.data, r.stream_offset) == (b'89', 8), r)
    ok, why = raises(lambda: rx(2), app_code=INVALID_REQUEST)
    check('an offset already released is INVALID_REQUEST', ok, why)
    conn.sendall(b'xy')
    r = recv(c, d, 100, timeout=WAIT_S)
    check('a Receive without consumed_offset takes all as read',
          (r.data, r.stream_offset) == (b'xy', 10), r)
    close(c, d)


def t_quota():
    c = client('small')  # [quotas] small = sockets=2
    d1, d2 = tcp_socket(c), tcp_socket(c)
    ok, why = raises(lambda: tcp_socket(c), rpc_code=RPC.RPC_OVER_QUOTA)
    check('the third socket of an app with sockets=2 is RPC_OVER_QUOTA',
          ok, why)
    demo = client()
    d = tcp_socket(demo)
    check('other apps are not affected', len(d) == 22)
    close(demo, d)
    close(c, d1)
    d3 = tcp_socket(c)
    check('a Close gives the quota back', len(d3) == 22)
    close(c, d2)
    close(c, d3)


def t_fuzz():
    """Mutated requests of every method on one connection: each gets an
    answer or waits; the connection and the others keep working."""
    import random
    rnd = random.Random(int(os.environ.get('RS_FUZZ_SEED', '5757')))
    lst = Listener()
    c = client()
    d = tcp_socket(c)
    connect(c, d, lst.port)
    conn = lst.accept()
    u = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=UDP)).socket_descriptor
    rs = pb.rs
    ap = addr(PEER, lst.port)
    templates = [
        ('CreateSocket', rs.CreateSocketRequest(family=IPV4, protocol=TCP)),
        ('CreateSocket', rs.CreateSocketRequest(family=IPV4, protocol=UDP,
                                                proxy_external_ip=ap)),
        ('Bind', rs.BindRequest(socket_descriptor=u, proxy_external_ip=ap)),
        ('GetSocketName', rs.GetSocketNameRequest(socket_descriptor=d)),
        ('GetPeerName', rs.GetPeerNameRequest(socket_descriptor=d)),
        ('SetSocketOptions', rs.SetSocketOptionsRequest(
            socket_descriptor=d, options=[rs.SocketOption(
                level=1, option=8, value=b'\x00\x10\x00\x00')])),
        ('GetSocketOptions', rs.GetSocketOptionsRequest(
            socket_descriptor=d, options=[rs.SocketOption(
                level=6, option=1, value=b'\x00' * 4)])),
        ('Connect', rs.ConnectRequest(socket_descriptor=u, remote_ip=ap,
                                      timeout_seconds=0.05)),
        ('Listen', rs.ListenRequest(socket_descriptor=u, backlog=3)),
        ('Accept', rs.AcceptRequest(socket_descriptor=d,
                                    timeout_seconds=0.05)),
        ('ShutDown', rs.ShutDownRequest(socket_descriptor=u, how=1,
                                        send_offset=0)),
        ('Send', rs.SendRequest(socket_descriptor=d, data=b'fuzz' * 8,
                                stream_offset=0, timeout_seconds=0)),
        ('Send', rs.SendRequest(socket_descriptor=u, data=b'fuzz',
                                stream_offset=0, send_to=ap)),
        ('Receive', rs.ReceiveRequest(socket_descriptor=d, data_size=64,
                                      timeout_seconds=0.05,
                                      consumed_offset=0)),
        ('Poll', rs.PollRequest(events=[rs.PollEvent(
            socket_descriptor=d, requested_events=1, observed_events=0)],
            timeout_seconds=0.05)),
        ('ReceiveBatch', rs.ReceiveBatchRequest(receives=[
            rs.ReceiveRequest(socket_descriptor=d, data_size=8)],
            timeout_seconds=0.05)),
        ('SendBatch', rs.SendBatchRequest(sends=[rs.SendRequest(
            socket_descriptor=u, data=b'x', stream_offset=0,
            send_to=ap)])),
        ('Resolve', rs.ResolveRequest(name='f.svc.test')),
    ]

    def mutate(b):
        b = bytearray(b)
        for _ in range(rnd.randint(1, 4)):
            op = rnd.randrange(5)
            if op == 0 and b:
                i = rnd.randrange(len(b))
                b[i] ^= 1 << rnd.randrange(8)
            elif op == 1 and b:
                del b[rnd.randrange(len(b)):]
            elif op == 2:
                i = rnd.randrange(len(b) + 1)
                b[i:i] = bytes(rnd.randrange(256)
                               for _ in range(rnd.randint(1, 8)))
            elif op == 3 and b:
                b[rnd.randrange(len(b))] = rnd.choice((0, 0x7f, 0x80, 0xff))
            else:
                b = bytearray(rnd.randbytes(rnd.randint(0, 40)))
        return bytes(b)
    sent = 0
    for rounds in range(30):
        for _ in range(100):
            method, req = rnd.choice(templates)
            body = req.SerializeToString()
            if rnd.random() < 0.8:
                body = mutate(body)
            env = RPC.RpcRequest(call_id=c.next_id, service_name=rnd.choice(
                ('remote_socket',) * 9 + ('remsock',)), method=method,
                body=body)
            c.next_id += 1
            if rnd.random() < 0.3:
                env.deadline_seconds = rnd.choice(
                    (0.0, 0.01, -1.0, 1e300, float('nan'), 0.05))
            raw = env.SerializeToString()
            if rnd.random() < 0.1:
                raw = mutate(raw)
            c.send_frame(raw)
            sent += 1
        # The connection still answers a plain call.
        name = c.call('GetSocketName', pb.rs.GetSocketNameRequest(
            socket_descriptor=d))
        if not name.HasField('proxy_external_ip'):
            break
    check(f'{sent} mutated requests, and the connection still answers',
          sent >= 3000 and name.HasField('proxy_external_ip'), sent)
    other = client()
    x = tcp_socket(other)
    close(other, x)
    check('other connections were not affected', len(x) == 22)
    c.close()  # cancels whatever still waits
    conn.close()


def t_malformed():
    bad = Client(PROXY, PORT)
    bad.authenticate('demo', APPS['demo'])
    bad.sock.sendall(b'\x7f\xff\xff\xff')  # a frame far above the maximum
    try:
        bad.read_response()
        closed = False
    except (EOFError, ConnectionError):
        closed = True
    check('a frame above the maximum closes the connection', closed)
    stall = Client(PROXY, PORT)
    stall.authenticate('demo', APPS['demo'])
    stall.sock.sendall(b'\x00\x00\x10\x00ab')  # a header, then nothing
    t0 = time.monotonic()
    c = client()
    d = tcp_socket(c)
    close(c, d)
    dt = time.monotonic() - t0
    # The stalled one still has its call pending: it gets no answer.
    stall.sock.settimeout(0.5)
    try:
        stall.read_response()
        answered = True
    except (socket.timeout, TimeoutError):
        answered = False
    # Held up, c's calls would wait for the stalled frame: never answered.
    check('a client stalled in a frame does not hold others up',
          len(d) == 22 and not answered, (dt, answered))
    stall.close()


SCENARIOS = [t_auth, t_http, t_create_connect_names, t_errors, t_resolve,
             t_options_shutdown, t_streams,
             t_reconnect, t_udp, t_ipv6, t_tls, t_listen_accept, t_poll, t_batch, t_bulk, t_big_send, t_reask,
             t_quota, t_malformed, t_fuzz]

for t in SCENARIOS:
    try:
        t()
    except Exception as e:  # a scenario that breaks is a failure
        check(t.__name__, False, f'{type(e).__name__}: {e} ' +
              traceback.format_exc().replace('\n', ' | '))
print(f'done failures={failures}', flush=True)
sys.exit(1 if failures else 0)
