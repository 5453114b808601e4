# SPDX-License-Identifier: BSD-3-Clause
"""remsockd's App Engine API-host endpoint, driven from the test namespace.

An independent client (rshttp.py: http.client and App Engine's own .proto
files) that speaks only HTTP POST /rpc_http, as an App Engine runtime
does: the seed's socket example (a GET through the proxy, SHA-256) and
DNS example, error mapping, malformed HTTP and bodies, pipelining, many
keep-alive requests on one connection and many connections at once.
Prints 'check NAME ok|FAIL: why' lines for the shell script.

    svc_http.py APPENGINE_DIR PROXY HTTP_PORT PEER WEB_PORT WEB_SHA256
"""

import errno
import hashlib
import os
import random
import socket
import ssl
import sys
import threading
import time
import traceback

import rshttp
from rshttp import CallError, Client, envelope, raw_request, read_response
from rsclient import read_n

AE, PROXY, PORT, PEER, WEB_PORT, WEB_SHA, TLS_DIR = sys.argv[1:8]
HTTPS_PORT = 8443
PORT, WEB_PORT = int(PORT), int(WEB_PORT)
pb = rshttp.load_protos(AE)
TICKET = 'demo:demo-secret-not-for-production'
TCP, UDP, IPV4, IPV6 = 1, 2, 1, 2
SYSTEM_ERROR, GAI_ERROR, PERMISSION_DENIED, SOCKET_CLOSED = 1, 2, 5, 7
INVALID_REQUEST = 6
RPC = pb.api.RpcError
failures = 0


def check(name, ok, why=''):
    global failures
    if ok:
        print(f'check {name} ok', flush=True)
    else:
        failures += 1
        print(f'check {name} FAIL: {why}', flush=True)


def raises(fn, **want):
    try:
        fn()
    except CallError as e:
        bad = {k: getattr(e, k) for k in want if getattr(e, k) != want[k]}
        return not bad, (str(e) if bad else '')
    return False, 'no error'


def addr(ip, port):
    return pb.rs.AddressPort(port=port, packed_address=socket.inet_aton(ip))


def tcp_socket(c, **kw):
    return c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP, **kw)).socket_descriptor


def raw(timeout=20):
    s = socket.create_connection((PROXY, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def resolve_body(name, ticket=TICKET):
    return envelope('Resolve', pb.rs.ResolveRequest(name=name), ticket)


def ips(r):
    return [socket.inet_ntoa(a) for a in r.packed_address]


def closed(s):
    """Whether the server closed s (EOF or reset) within its timeout."""
    try:
        return s.recv(1) == b''
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# ---- the seed's examples ---------------------------------------------

def t_socket_example():
    c = Client(PROXY, PORT, TICKET)
    d = tcp_socket(c)
    check('CreateSocket over HTTP gives a descriptor', len(d) == 22, d)
    r = c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr(PEER, WEB_PORT)), deadline=10)
    check('Connect over HTTP', socket.inet_ntoa(
        r.proxy_external_ip.packed_address) == PROXY, r)
    req = f'GET /blob HTTP/1.0\r\nHost: {PEER}\r\n\r\n'.encode()
    n = c.call('Send', pb.rs.SendRequest(socket_descriptor=d, data=req,
                                         stream_offset=0)).data_sent
    check('Send over HTTP', n == len(req), n)
    data, off, ok = b'', 0, True
    while True:
        r = c.call('Receive', pb.rs.ReceiveRequest(
            socket_descriptor=d, data_size=65536, timeout_seconds=10),
            deadline=20)
        if not r.data:
            break
        ok = ok and r.stream_offset == off
        off += len(r.data)
        data += r.data
    body = data.split(b'\r\n\r\n', 1)[-1]
    check('the web page arrives whole, offsets in order (SHA-256)',
          ok and hashlib.sha256(body).hexdigest() == WEB_SHA,
          f'{len(body)} bytes')
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    check('the whole example ran on one keep-alive connection',
          c.connects == 1, c.connects)
    c.close()


def t_https():
    """The endpoint over TLS 1.3 ([rpc] https_port), as runtimes reach an
    API host by HTTPS."""
    ctx = ssl.create_default_context(cafile=f'{TLS_DIR}/ca.crt')
    ctx.load_cert_chain(f'{TLS_DIR}/demo-app.crt', f'{TLS_DIR}/demo-app.key')
    c = Client(PROXY, HTTPS_PORT, TICKET, tls=ctx)
    d = tcp_socket(c, remote_ip=addr(PEER, WEB_PORT))
    c.call('Send', pb.rs.SendRequest(socket_descriptor=d,
                                     data=b'HEAD / HTTP/1.0\r\n\r\n',
                                     stream_offset=0))
    r = c.call('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=100, timeout_seconds=5))
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    check('HTTPS: CreateSocket, Send, Receive, Close on one keep-alive '
          'TLS 1.3 connection', r.data.startswith(b'HTTP/1.0 ') and
          c.conn.sock.version() == 'TLSv1.3', r.data[:20])
    c.close()
    # [rpc] tls_client_ca: demo's certificate carries demo's tickets only.
    c = Client(PROXY, HTTPS_PORT, 'small:small-secret-for-the-tests', tls=ctx)
    status, _, data = c.post(envelope(
        'Resolve', pb.rs.ResolveRequest(name='198.18.0.1'),
        'small:small-secret-for-the-tests'))
    ok, why = raises(lambda: rshttp.reply_of('Resolve', status, data),
                     rpc_code=RPC.SECURITY_VIOLATION)
    check("HTTPS: demo's client certificate does not carry small's ticket",
          ok, why)
    c.close()
    bare = ssl.create_default_context(cafile=f'{TLS_DIR}/ca.crt')
    c = Client(PROXY, HTTPS_PORT, TICKET, tls=bare)
    try:
        c.call('Resolve', pb.rs.ResolveRequest(name='198.18.0.1'))
        why = 'answered'
    except Exception as e:  # the handshake fails: no client certificate
        why = type(e).__name__
    check('HTTPS: a client without a certificate gets no answer',
          why != 'answered', why)
    c.close()
    plain = Client(PROXY, HTTPS_PORT, TICKET)
    try:
        plain.call('Resolve', pb.rs.ResolveRequest(name='198.18.0.1'))
        why = 'answered'
    except Exception as e:  # no HTTP response comes: the handshake fails
        why = type(e).__name__
    check('HTTPS: plain HTTP at the HTTPS port gets no answer',
          why != 'answered', why)
    plain.close()


def t_dns_example():
    c = Client(PROXY, PORT, TICKET)

    def resolve(name, fam=(IPV4,)):
        return c.call('Resolve', pb.rs.ResolveRequest(
            name=name, address_families=list(fam)))
    check('Resolve of a numeric name', ips(resolve('198.18.0.1')) ==
          ['198.18.0.1'])
    r = resolve('STATIC.test')
    check('Resolve from [hosts]', ips(r) == ['198.18.0.7', '198.18.0.8'], r)
    r = resolve('web.svc.test')
    check('Resolve through DNS (dnsmasq)', ips(r) == [PEER], r)
    ok, why = raises(lambda: resolve('nosuch.invalid'), app_code=GAI_ERROR,
                     errno=pb.rs.ResolveReply.SOCKET_EAI_NONAME)
    check('an unknown name is GAI_ERROR with EAI_NONAME in the detail',
          ok, why)
    d = tcp_socket(c, remote_ip=addr(ips(resolve('web.svc.test'))[0],
                                     WEB_PORT))
    c.call('Send', pb.rs.SendRequest(socket_descriptor=d,
                                     data=b'HEAD / HTTP/1.0\r\n\r\n',
                                     stream_offset=0))
    r = c.call('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=100, timeout_seconds=5))
    check('a resolved name serves HTTP through the proxy',
          r.data.startswith(b'HTTP/1.0 '), r.data[:20])
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    c.close()


def t_bulk():
    """3 MiB up in one Send (a body of 3 MiB, the Send parked until the
    ring took it all), 2 MiB down in Receives of up to 1 MiB."""
    lst = socket.socket()
    lst.bind((PEER, 0))
    lst.listen(4)
    c = Client(PROXY, PORT, TICKET)
    d = tcp_socket(c, remote_ip=addr(PEER, lst.getsockname()[1]))
    peer, _ = lst.accept()
    up = random.randbytes(3 << 20)
    got = []
    reader = threading.Thread(target=lambda: got.append(read_n(peer, len(up))))
    reader.start()
    n = c.call('Send', pb.rs.SendRequest(socket_descriptor=d, data=up,
                                         stream_offset=0), deadline=30).data_sent
    reader.join(30)
    check('a 3 MiB Send in one request arrives whole',
          n == len(up) and got and got[0] == up, (n, len(got)))
    down = random.randbytes(2 << 20)
    threading.Thread(target=lambda: peer.sendall(down)).start()
    data = b''
    while len(data) < len(down):
        r = c.call('Receive', pb.rs.ReceiveRequest(
            socket_descriptor=d, data_size=1 << 20, timeout_seconds=10))
        if not r.data or r.stream_offset != len(data):
            break
        data += r.data
    check('2 MiB come back in Receives of up to 1 MiB', data == down,
          len(data))
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    peer.close()
    lst.close()
    c.close()


# ---- error mapping -----------------------------------------------------

def t_errors():
    c = Client(PROXY, PORT, TICKET)
    cr = pb.rs.CreateSocketRequest(family=IPV4, protocol=TCP)
    for name, t in (('a wrong secret', 'demo:wrong-secret-wrong'),
                    ('no ticket', None), ('an unknown app', 'x:y'),
                    ('a ticket without a colon', 'demo')):
        status, _, data = c.post(envelope('CreateSocket', cr, t))
        ok, why = raises(lambda: rshttp.reply_of('CreateSocket', status,
                                                 data),
                         rpc_code=RPC.SECURITY_VIOLATION)
        check(f'{name} is SECURITY_VIOLATION', ok, why)
    # One guess per connection: a wrong ticket ends it, and the requests
    # pipelined behind it (a right one among them) are never served.
    s = raw()
    s.sendall(raw_request(resolve_body('198.18.0.9', 'demo:wrong')) +
              raw_request(resolve_body('198.18.0.9', TICKET)) * 2)
    status, hdrs, data, rest = read_response(s)
    ok, why = raises(lambda: rshttp.reply_of('Resolve', status, data),
                     rpc_code=RPC.SECURITY_VIOLATION)
    check('a wrong ticket is answered Connection: close, and nothing '
          'pipelined after it is served', ok and
          hdrs.get('connection') == 'close' and rest == b'' and closed(s),
          (why, hdrs.get('connection'), rest[:40]))
    s.close()
    ok, why = raises(lambda: c.call('CreateSocket', cr, service='nosuch'),
                     rpc_code=RPC.CALL_NOT_FOUND)
    check('an unknown service is CALL_NOT_FOUND', ok, why)
    ok, why = raises(lambda: c.call('Frobnicate', cr),
                     rpc_code=RPC.CALL_NOT_FOUND)
    check('an unknown method is CALL_NOT_FOUND', ok, why)
    ok, why = raises(lambda: c.call('Authenticate', cr, service='remsock'),
                     rpc_code=RPC.CALL_NOT_FOUND)
    check('remsock.Authenticate is not served over HTTP', ok, why)
    body = pb.api.Request(service_name='remote_socket', method='Connect',
                          request=b'\xff\xff\xff', request_id=TICKET)
    status, _, data = c.post(body.SerializeToString())
    ok, why = raises(lambda: rshttp.reply_of('Connect', status, data),
                     rpc_code=RPC.BAD_REQUEST)
    check('an inner request that does not decode is BAD_REQUEST', ok, why)
    status, _, data = c.post(b'\x0a\x03abc\xff')
    ok, why = raises(lambda: rshttp.reply_of('?', status, data),
                     rpc_code=RPC.PARSE_ERROR)
    check('a body that is no remote_api Request is PARSE_ERROR', ok, why)
    status, _, data = c.post(b'')
    ok, why = raises(lambda: rshttp.reply_of('?', status, data),
                     rpc_code=RPC.PARSE_ERROR)
    check('an empty body is PARSE_ERROR', ok, why)
    ok, why = raises(lambda: c.call('Receive', pb.rs.ReceiveRequest(
        socket_descriptor='A' * 22, data_size=1)), app_code=SOCKET_CLOSED)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor='A' * 22))
    check('an unknown descriptor is SOCKET_CLOSED, and its Close is '
          'quietly taken (as App Engine)', ok, why)
    d = tcp_socket(c)
    ok, why = raises(lambda: c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr('127.0.0.1', 80))),
        app_code=PERMISSION_DENIED)
    check('the ACL answers PERMISSION_DENIED', ok, why)
    ok, why = raises(lambda: c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr(PEER, 1))),
        app_code=SYSTEM_ERROR, errno=errno.ECONNREFUSED)
    check('a refused connection is SYSTEM_ERROR ECONNREFUSED', ok, why)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    d6 = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV6, protocol=TCP)).socket_descriptor
    me = c.call('GetSocketName', pb.rs.GetSocketNameRequest(
        socket_descriptor=d6)).proxy_external_ip
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d6))
    check('an IPv6 socket (as Java makes them) answers in 16 bytes',
          me.packed_address == bytes(16), me)
    c.close()


def partial(c, method, req):
    """A call whose request lacks required fields, as Java's runtime
    sends some (SerializePartialToString)."""
    body = pb.api.Request(service_name='remote_socket', method=method,
                          request=req.SerializePartialToString(),
                          request_id=TICKET)
    status, _, data = c.post(body.SerializeToString())
    return rshttp.reply_of(method, status, data)


def t_java_shapes():
    """Required fields App Engine's Java runtime leaves unset: a datagram
    Send's stream_offset and GetSocketOptions' values."""
    c = Client(PROXY, PORT, TICKET)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((PEER, 0))
    u.settimeout(20)
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=UDP)).socket_descriptor
    r = partial(c, 'Send', pb.rs.SendRequest(
        socket_descriptor=d, data=b'java datagram',
        send_to=addr(PEER, u.getsockname()[1])))
    got = u.recv(100)
    check('a datagram Send without stream_offset goes (Java leaves it '
          'unset)', r.data_sent == 13 and got == b'java datagram',
          (r, got))
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    u.close()
    d = tcp_socket(c)
    ok, why = raises(lambda: partial(c, 'Send', pb.rs.SendRequest(
        socket_descriptor=d, data=b'x')), app_code=INVALID_REQUEST)
    check('a TCP Send without stream_offset is INVALID_REQUEST', ok, why)
    SO = pb.rs.SocketOption
    r = partial(c, 'GetSocketOptions', pb.rs.GetSocketOptionsRequest(
        socket_descriptor=d, options=[SO(level=SO.SOCKET_SOL_SOCKET,
                                         option=SO.SOCKET_SO_RCVBUF)]))
    check('GetSocketOptions with options lacking their value answers them',
          len(r.options) == 1 and len(r.options[0].value) == 4 and
          int.from_bytes(r.options[0].value, 'little') > 0, r)
    # Java packs option values big-endian (AppEngineSocketOptions):
    # values only that reading makes sense of are taken so, and the
    # socket's reads answer big-endian from then on.
    opts = [(SO.SOCKET_SOL_SOCKET, SO.SOCKET_SO_KEEPALIVE, 1),
            (SO.SOCKET_SOL_TCP, SO.SOCKET_TCP_KEEPIDLE, 60),
            (SO.SOCKET_SOL_SOCKET, SO.SOCKET_SO_RCVBUF, 131072)]
    c.call('SetSocketOptions', pb.rs.SetSocketOptionsRequest(
        socket_descriptor=d, options=[
            SO(level=lv, option=o, value=v.to_bytes(4, 'big'))
            for lv, o, v in opts]))
    r = partial(c, 'GetSocketOptions', pb.rs.GetSocketOptionsRequest(
        socket_descriptor=d, options=[SO(level=lv, option=o)
                                      for lv, o, _ in opts]))
    got = [int.from_bytes(o.value, 'big') for o in r.options]
    check("Java's big-endian option values are read as such and answered "
          'big-endian (keepalive 1, keepidle 60 s, rcvbuf 128 KiB)',
          got == [v for _, _, v in opts], got)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    c.close()


def t_go_shapes():
    """App Engine Go's socket package (socket_classic.go) as it calls:
    Resolve asks IPv4 and IPv6 and the first address's length picks the
    family; CreateSocket connects at once (remote_ip, with hostname_hint
    when the name was resolved); Write is a Send with stream_offset and
    a timeout, Read a Receive; Close has no send_offset."""
    c = Client(PROXY, PORT, TICKET)
    r = c.call('Resolve', pb.rs.ResolveRequest(
        name='web.svc.test', address_families=[IPV4, IPV6]))
    first = r.packed_address[0]
    check('Go: the first address of an IPv4 + IPv6 Resolve is an IPv4 one '
          '(the proxy reaches it)', len(first) == 4 and
          socket.inet_ntoa(first) == PEER, r)
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4 if len(first) == 4 else IPV6, protocol=TCP,
        remote_ip=pb.rs.AddressPort(port=WEB_PORT, packed_address=first,
                                    hostname_hint='web.svc.test'))
    ).socket_descriptor
    req = b'GET /blob HTTP/1.0\r\n\r\n'
    n = c.call('Send', pb.rs.SendRequest(
        socket_descriptor=d, data=req, stream_offset=0,
        timeout_seconds=10)).data_sent
    data = b''
    while True:
        r = c.call('Receive', pb.rs.ReceiveRequest(
            socket_descriptor=d, data_size=65536, timeout_seconds=10))
        if not r.data:
            break
        data += r.data
    body = data.split(b'\r\n\r\n', 1)[-1]
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    check('Go: CreateSocket with remote_ip and hostname_hint, Send, '
          'Receive to EOF, Close without send_offset: the page, whole',
          n == len(req) and hashlib.sha256(body).hexdigest() == WEB_SHA,
          (n, len(body)))
    c.close()


def t_big_send():
    """Java's runtime sends each write whole: a Send of 6 MiB, above the
    4 MiB body limit, on a connection that has served an authenticated
    call (its app is charged for it: [rpc] max_request_mb); on a fresh
    connection it is refused (413), since nothing has authenticated its
    sender yet."""
    size = 6 << 20
    blob = os.urandom(size)
    lst = socket.socket()
    lst.bind((PEER, 0))
    lst.listen(1)
    lst.settimeout(20)
    c = Client(PROXY, PORT, TICKET)
    d = tcp_socket(c)
    c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr(PEER, lst.getsockname()[1]),
        timeout_seconds=20))
    conn, _ = lst.accept()
    conn.settimeout(20)
    got = {}

    def reader():
        got['data'] = read_n(conn, size)
    t = threading.Thread(target=reader)
    t.start()
    r = c.call('Send', pb.rs.SendRequest(socket_descriptor=d, data=blob,
                                         stream_offset=0,
                                         timeout_seconds=20))
    t.join(40)
    check('HTTP: one Send of 6 MiB is taken whole, and Linux receives it '
          'intact', r.data_sent == size and got.get('data') == blob,
          (r.data_sent, len(got.get('data', b''))))
    body = envelope('Send', pb.rs.SendRequest(
        socket_descriptor=d, data=blob, stream_offset=size), TICKET)
    s = raw()  # the head alone: the answer comes before the body
    s.sendall(raw_request(b'', length=len(body)))
    status, _, why, _ = read_response(s)
    check('HTTP: the same as the first request of a connection is 413',
          status == 413, (status, why[:80]))
    s.close()
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    c.close()
    conn.close()
    lst.close()


def t_apps():
    """Two apps' tickets on one connection: each sees its own sockets
    only, and the small app's quotas hold."""
    c = Client(PROXY, PORT, TICKET)
    small = 'small:small-secret-for-the-tests'
    d = tcp_socket(c)
    ok, why = raises(lambda: c.call('GetSocketName',
                                    pb.rs.GetSocketNameRequest(
                                        socket_descriptor=d), ticket=small),
                     app_code=SOCKET_CLOSED)
    check("another app's descriptor is SOCKET_CLOSED on the same "
          "connection", ok, why)
    mine = [c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP), ticket=small).socket_descriptor
        for _ in range(2)]
    ok, why = raises(lambda: c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=IPV4, protocol=TCP), ticket=small),
        rpc_code=RPC.OVER_QUOTA)
    check('a third socket of the small app is OVER_QUOTA', ok, why)
    for x in mine:
        c.call('Close', pb.rs.CloseRequest(socket_descriptor=x),
               ticket=small)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    check('both apps on one keep-alive connection', c.connects == 1,
          c.connects)
    c.close()


def t_deadlines():
    lst = socket.socket()
    lst.bind((PEER, 0))
    lst.listen(4)
    c = Client(PROXY, PORT, TICKET)
    d = tcp_socket(c, remote_ip=addr(PEER, lst.getsockname()[1]))
    peer, _ = lst.accept()
    recv = pb.rs.ReceiveRequest(socket_descriptor=d, data_size=10)
    t0 = time.monotonic()
    ok, why = raises(lambda: c.call('Receive', recv, deadline=0.5),
                     rpc_code=RPC.DEADLINE_EXCEEDED)
    dt = time.monotonic() - t0
    check('a Receive past its deadline header is DEADLINE_EXCEEDED',
          ok and 0.4 <= dt < 30, f'{why} after {dt:.2f} s')
    recv.timeout_seconds = 0.3
    ok, why = raises(lambda: c.call('Receive', recv, deadline=5),
                     app_code=SYSTEM_ERROR, errno=errno.EAGAIN)
    check('its own timeout first is SYSTEM_ERROR EAGAIN', ok, why)
    ok, why = raises(lambda: c.call('Receive', recv, deadline=0),
                     rpc_code=RPC.DEADLINE_EXCEEDED)
    check('a deadline of 0 is DEADLINE_EXCEEDED at once', ok, why)
    # A parked Receive answered by data before its deadline.
    threading.Timer(0.3, lambda: peer.sendall(b'late')).start()
    recv.timeout_seconds = -1
    r = c.call('Receive', recv, deadline=10)
    check('a parked Receive completes with the data', r.data == b'late',
          r)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    peer.close()
    lst.close()
    c.close()


# ---- HTTP itself -------------------------------------------------------

def t_http_errors():
    c = Client(PROXY, PORT, TICKET)
    ok_body = resolve_body('198.18.0.9')
    cases = [
        ('GET is 405', dict(method='GET', body=None), 405),
        ('another path is 404', dict(path='/other', body=ok_body), 404),
        ('another Content-Type is 415',
         dict(headers={'Content-Type': 'text/plain'}, body=ok_body), 415),
        ('no Content-Type is 415',
         dict(headers={'Content-Type': None}, body=ok_body), 415),
        ('a wrong endpoint header is 400',
         dict(headers={'X-Google-RPC-Service-Endpoint': 'x'}, body=ok_body),
         400),
        ('no method header is 400',
         dict(headers={'X-Google-RPC-Service-Method': None}, body=ok_body),
         400),
        ('a deadline that is not a number is 400',
         dict(headers={'X-Google-RPC-Service-Deadline': 'soon'},
              body=ok_body), 400),
    ]
    for name, kw, want in cases:
        body = kw.pop('body')
        status, r, _ = c.post(body, **kw)
        extra = r.getheader('Allow') == 'POST' if want == 405 else True
        check(name, status == want and extra, status)
    r = c.call('Resolve', pb.rs.ResolveRequest(name='198.18.0.9'))
    check('the connection still serves after the HTTP errors',
          ips(r) == ['198.18.0.9'] and c.connects == 1, c.connects)
    c.close()

    s = raw()
    s.sendall(raw_request(b'', length=5000000))
    status, _, _, _ = read_response(s)
    check('a body above the limit is 413, then the connection closes',
          status == 413 and closed(s), status)
    s.close()

    s = raw()
    s.sendall(b'HELLO THERE\r\n\r\n')
    status, hdrs, _, _ = read_response(s)
    check('garbage is 400 with Connection: close, then closed',
          status == 400 and hdrs.get('connection') == 'close' and closed(s),
          (status, hdrs))
    s.close()

    s = raw()
    s.sendall(b'POST /rpc_http HTTP/1.1\r\nX-Big: ' + b'a' * 100000 +
              b'\r\n\r\n')
    status, _, _, _ = read_response(s)
    check('headers above 80 KiB are 431', status == 431, status)
    s.close()

    s = raw()
    s.sendall(raw_request(ok_body, version='HTTP/1.0'))
    status, hdrs, data, _ = read_response(s)
    r = rshttp.reply_of('Resolve', status, data)
    check('HTTP/1.0 is answered, then the connection closes',
          ips(r) == ['198.18.0.9'] and closed(s), hdrs)
    s.close()

    s = raw()
    chunked = raw_request(b'', headers={'Transfer-Encoding': 'chunked'},
                          length='chunked')
    half = len(ok_body) // 2
    chunked += b'%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n' % (
        half, ok_body[:half], len(ok_body) - half, ok_body[half:])
    for i in range(len(chunked)):  # one byte at a time
        s.send(chunked[i:i + 1])
    status, _, data, _ = read_response(s)
    r = rshttp.reply_of('Resolve', status, data)
    check('a chunked request sent one byte at a time',
          ips(r) == ['198.18.0.9'], r)
    s.sendall(raw_request(ok_body, headers={'Expect': '100-continue'}))
    status, _, _, rest = read_response(s)
    status2, _, data, _ = read_response(s, rest)
    check('Expect: 100-continue gets 100, then the answer',
          status == 100 and status2 == 200, (status, status2))
    s.close()


def t_malformed_bodies():
    """Mutated remote_api Requests: each answered, the connection lives."""
    rnd = random.Random(int(os.environ.get('RS_FUZZ_SEED', '5757')))
    c = Client(PROXY, PORT, TICKET)
    d = tcp_socket(c)
    reqs = [('Receive', pb.rs.ReceiveRequest(socket_descriptor=d,
                                             data_size=10,
                                             timeout_seconds=0)),
            ('Send', pb.rs.SendRequest(socket_descriptor=d, data=b'x',
                                       stream_offset=0)),
            ('Resolve', pb.rs.ResolveRequest(name='198.18.0.3')),
            ('GetSocketName', pb.rs.GetSocketNameRequest(
                socket_descriptor=d))]
    bad = ended = 0
    for i in range(600):
        m, req = rnd.choice(reqs)
        b = bytearray(envelope(m, req, TICKET))
        for _ in range(rnd.randint(1, 4)):
            k = rnd.randrange(3)
            if k == 0 and b:
                b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
            elif k == 1 and b:
                del b[rnd.randrange(len(b)):]
            else:
                b.insert(rnd.randrange(len(b) + 1), rnd.randrange(256))
        status, _, data = c.post(bytes(b), deadline=rnd.choice(
            [None, 0.05, 2, 1e12]))
        if status != 200:
            bad += 1
            continue
        try:
            rshttp.reply_of(m, status, data)
        except CallError as e:
            # A mangled ticket ends the connection (one guess each).
            ended += e.rpc_code == RPC.SECURITY_VIOLATION
        except Exception:
            bad += 1
    check('600 mutated bodies are each answered 200', bad == 0, bad)
    r = c.call('Resolve', pb.rs.ResolveRequest(name='198.18.0.4'))
    check('after them the connection still serves, having ended only at '
          'each bad ticket', ips(r) == ['198.18.0.4'] and
          c.connects == 1 + ended, (c.connects, ended))
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    c.close()


# ---- many requests -----------------------------------------------------

def t_keepalive():
    lst = socket.socket()
    lst.bind((PEER, 0))
    lst.listen(4)
    c = Client(PROXY, PORT, TICKET)
    d = tcp_socket(c, remote_ip=addr(PEER, lst.getsockname()[1]))
    peer, _ = lst.accept()
    good = 0
    for i in range(2000):
        if i % 2:
            r = c.call('Resolve', pb.rs.ResolveRequest(
                name=f'198.18.1.{i % 250}'))
            good += ips(r) == [f'198.18.1.{i % 250}']
        else:
            ok, _ = raises(lambda: c.call('Receive', pb.rs.ReceiveRequest(
                socket_descriptor=d, data_size=10, timeout_seconds=0)),
                app_code=SYSTEM_ERROR, errno=errno.EAGAIN)
            good += ok
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    check('2000 keep-alive requests on one connection',
          good == 2000 and c.connects == 1, (good, c.connects))
    peer.close()
    lst.close()
    c.close()


def t_pipeline():
    """A parked Receive first, then 50 Resolves, in one write: the answers
    come in request order, the Receive's first."""
    lst = socket.socket()
    lst.bind((PEER, 0))
    lst.listen(4)
    c = Client(PROXY, PORT, TICKET)
    d = tcp_socket(c, remote_ip=addr(PEER, lst.getsockname()[1]))
    peer, _ = lst.accept()
    s = raw()
    out = raw_request(envelope('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=10, timeout_seconds=10), TICKET),
        deadline=20)
    for i in range(50):
        out += raw_request(resolve_body(f'198.18.2.{i}'))
    s.sendall(out)
    time.sleep(0.3)
    s.settimeout(0.2)
    try:
        early = s.recv(100)
    except socket.timeout:
        early = b''
    check('nothing is answered while the first request waits',
          early == b'', early[:40])
    s.settimeout(20)
    peer.sendall(b'first')
    status, _, data, rest = read_response(s, early)
    r = rshttp.reply_of('Receive', status, data)
    got = [r.data]
    for i in range(50):
        status, _, data, rest = read_response(s, rest)
        got.append(ips(rshttp.reply_of('Resolve', status, data))[0])
    want = [b'first'] + [f'198.18.2.{i}' for i in range(50)]
    check('51 pipelined answers in request order', got == want, got[:3])
    s.close()
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    peer.close()
    lst.close()
    c.close()


def t_many_connections():
    res, lock = [], threading.Lock()

    def one(k):
        try:
            c = Client(PROXY, PORT, TICKET)
            n = 0
            for i in range(20):
                r = c.call('Resolve', pb.rs.ResolveRequest(
                    name=f'198.18.3.{k}'))
                n += ips(r) == [f'198.18.3.{k}']
            c.close()
        except Exception as e:
            n = repr(e)
        with lock:
            res.append(n)
    ts = [threading.Thread(target=one, args=(k,)) for k in range(64)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check('64 connections at once, 20 requests each',
          res == [20] * 64, [r for r in res if r != 20][:3])
    # Connections left half-done: one idle, one mid-request; then FIN.
    s1, s2 = raw(), raw()
    t0 = time.monotonic()  # their idle clocks run from here
    s2.sendall(raw_request(resolve_body('198.18.0.5'))[:30])
    s3 = raw()
    s3.sendall(raw_request(resolve_body('198.18.0.6')))
    s3.shutdown(socket.SHUT_WR)
    status, _, data, _ = read_response(s3)
    r = rshttp.reply_of('Resolve', status, data)
    check('a request followed by FIN is answered, then closed',
          ips(r) == ['198.18.0.6'] and closed(s3), r)
    # [rpc] http_idle_s = 5: the idle one and the stalled one are closed,
    # not before (the upper bound is for a hang only).
    s1.settimeout(60)
    s2.settimeout(60)
    gone = closed(s1) and closed(s2)
    dt = time.monotonic() - t0
    check('idle and stalled connections are closed after http_idle_s',
          gone and 4.5 <= dt < 60, f'{gone} after {dt:.1f} s')
    for s in (s1, s2, s3):
        s.close()


def main():
    for t in (t_socket_example, t_https, t_dns_example, t_bulk, t_errors,
              t_java_shapes, t_go_shapes, t_big_send, t_apps,
              t_deadlines,
              t_http_errors, t_malformed_bodies, t_keepalive, t_pipeline,
              t_many_connections):
        try:
            t()
        except Exception:
            check(t.__name__, False, traceback.format_exc().replace(
                '\n', ' | '))
    print(f'done failures={failures}', flush=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
