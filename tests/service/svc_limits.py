# SPDX-License-Identifier: BSD-3-Clause
"""remsockd's limits, from the test namespace: the authentication time-out,
the default ACL's denial of the benchmark range with one hole, the pending
call and buffered bytes quotas, and idle sockets reaped.  Prints 'check NAME ok|FAIL: why'.

    svc_limits.py PROTO_DIR PROXY PORT PEER OPEN_PORT
"""

import errno
import socket
import sys
import threading
import time
import traceback

import rsclient
from rsclient import Client, addr, raises, until

PROTO, PROXY, PORT, PEER, OPEN_PORT = sys.argv[1:6]
PORT, OPEN_PORT = int(PORT), int(OPEN_PORT)
pb = rsclient.load_protos(PROTO)
RPC = pb.rpc
SYSTEM_ERROR, PERMISSION_DENIED, SOCKET_CLOSED = 1, 5, 7
failures = 0


def check(name, ok, why=''):
    global failures
    failures += not ok
    print(f'check {name} ' + ('ok' if ok else f'FAIL: {why}'), flush=True)


def client():
    c = Client(PROXY, PORT)
    c.authenticate('demo', b'demo-secret-not-for-production')
    return c


def tcp_socket(c):
    return c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=1)).socket_descriptor


def t_auth_timeout():
    s = socket.create_connection((PROXY, PORT), timeout=60)
    t0 = time.monotonic()
    try:
        got = s.recv(10)
    except OSError as e:
        got = e
    dt = time.monotonic() - t0
    # auth_timeout_ms = 2000: not at once, and not never (the upper bound
    # is only for a hang).
    check('a connection that does not authenticate is closed at '
          'auth_timeout_ms', got == b'' and 1.9 <= dt < 30, (got, dt))


def listener():
    """A Linux listener on the port the [acl] opens."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((PEER, OPEN_PORT))
    lst.listen(4)
    return lst


def t_acl():
    lst = listener()
    c = client()
    d = tcp_socket(c)
    r = c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr(PEER, OPEN_PORT)))
    conn, _ = lst.accept()
    check('the [acl] hole is open: Linux accepts the connection',
          conn.getpeername()[0] == PROXY and
          socket.inet_ntoa(r.proxy_external_ip.packed_address) == PROXY,
          conn.getpeername())
    conn.close()
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    d = tcp_socket(c)
    ok, why = raises(lambda: c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr(PEER, OPEN_PORT + 1))),
        app_code=PERMISSION_DENIED)
    check('the rest of the proxy\'s subnet is denied by the built-in rule',
          ok and 'built-in proxy subnet' in why, why)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    u = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=2)).socket_descriptor
    ok, why = raises(lambda: c.call('Send', pb.rs.SendRequest(
        socket_descriptor=u, data=b'x', stream_offset=0,
        send_to=addr(PEER, 53))), app_code=PERMISSION_DENIED)
    check('UDP to a denied port is PERMISSION_DENIED', ok, why)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=u))
    lst.close()
    # Inbound too: a peer the ACL denies (the subnet, from its ephemeral
    # port) that connects to a tenant's listener is reset, unseen.
    denied0 = c.stats().get('acl.denied.builtin.proxy_subnet', 0)
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=1, proxy_external_ip=addr(PROXY, 7600),
        listen_backlog=4)).socket_descriptor
    k = socket.create_connection((PROXY, 7600), timeout=60)
    c.call('Poll', pb.rs.PollRequest(events=[pb.rs.PollEvent(
        socket_descriptor=d, requested_events=1, observed_events=0)],
        timeout_seconds=60))  # until it waits to be accepted
    ok, why = raises(lambda: c.call('Accept', pb.rs.AcceptRequest(
        socket_descriptor=d, timeout_seconds=0)), app_code=SYSTEM_ERROR,
        errno=errno.EAGAIN)
    try:
        reset = k.recv(10) == b''
    except ConnectionResetError:
        reset = True
    denied = c.stats().get('acl.denied.builtin.proxy_subnet', 0) - denied0
    check('a denied peer connecting to a tenant\'s listener is reset, '
          'never accepted, and counted by its rule',
          reset and ok and denied >= 1, (reset, why, denied))
    k.close()
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))


def t_pending_quota():
    lst = listener()
    c = client()
    d = tcp_socket(c)
    c.call('Connect', pb.rs.ConnectRequest(socket_descriptor=d,
                                           remote_ip=addr(PEER, OPEN_PORT)))
    conn, _ = lst.accept()

    def park():
        return c.start('Receive', pb.rs.ReceiveRequest(
            socket_descriptor=d, data_size=10, timeout_seconds=60))
    a, b = park(), park()
    ok, why = raises(lambda: c.finish('Receive', park()),
                     rpc_code=RPC.RPC_OVER_QUOTA)
    check('a third parked call over pending_calls=2 is RPC_OVER_QUOTA',
          ok, why)
    conn.sendall(b'1')
    r1 = c.finish('Receive', a)
    conn.sendall(b'2')
    r2 = c.finish('Receive', b)
    check('the parked calls complete', (r1.data, r2.data) == (b'1', b'2'),
          (r1, r2))
    p = park()
    conn.sendall(b'3')
    check('and the quota is back', c.finish('Receive', p).data == b'3')
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    conn.close()
    lst.close()


def t_buffered():
    """[quotas] buffered_bytes = 1100000: two TCP sockets of 512 KiB rings
    and a small one."""
    c = client()
    a, b = tcp_socket(c), tcp_socket(c)
    ok, why = raises(lambda: tcp_socket(c), rpc_code=RPC.RPC_OVER_QUOTA)
    check('a third socket of 512 KiB rings is over buffered_bytes',
          ok and 'buffered_bytes' in why, why)

    def opt(name, v):
        return pb.rs.SocketOption(level=1, option=name,
                                  value=v.to_bytes(4, 'little'))
    small = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=1,
        socket_options=[opt(8, 4096), opt(7, 4096)])).socket_descriptor
    check('one with 4 KiB rings still fits', len(small) == 22)
    ok, why = raises(lambda: c.call('SetSocketOptions',
                                    pb.rs.SetSocketOptionsRequest(
                                        socket_descriptor=small,
                                        options=[opt(8, 1 << 20)])),
                     rpc_code=RPC.RPC_OVER_QUOTA)
    r = c.call('GetSocketOptions', pb.rs.GetSocketOptionsRequest(
        socket_descriptor=small, options=[opt(8, 0)]))
    check('growing its rings past the quota is refused and undone',
          ok and int.from_bytes(r.options[0].value, 'little') == 4096,
          (why, r))
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=a))
    d = tcp_socket(c)
    check('a Close gives its ring bytes back', len(d) == 22)
    for x in (b, small, d):
        c.call('Close', pb.rs.CloseRequest(socket_descriptor=x))


def t_reap():
    c = client()
    d = tcp_socket(c)
    # b: its app is as quiet as d's, but its peer is not.
    lst = listener()
    b = tcp_socket(c)
    c.call('Connect', pb.rs.ConnectRequest(socket_descriptor=b,
                                           remote_ip=addr(PEER, OPEN_PORT)))
    peer, _ = lst.accept()
    stop = threading.Event()

    def trickle():
        while not stop.wait(0.3):
            peer.sendall(b'.')
    t = threading.Thread(target=trickle)
    t.start()

    def used_falls_to(n):
        until(lambda: c.stats().get('quota.sockets.used', 0) <= n)
    # [service] idle_timeout_s = 3: wait for the reaper, not for the clock.
    # The app's count falls to 1 when the reaper has taken d (Stats
    # touches no socket).
    used_falls_to(1)
    ok, why = raises(lambda: c.call('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=10, timeout_seconds=0)),
        app_code=SOCKET_CLOSED)
    check('a socket idle past idle_timeout_s is reaped (SOCKET_CLOSED)',
          ok, why)
    ok, why = raises(lambda: c.call('GetSocketName',
                                    pb.rs.GetSocketNameRequest(
                                        socket_descriptor=d)),
                     app_code=SOCKET_CLOSED)
    c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
    check('control forgot its descriptor too; a Close of it is quietly '
          'taken, as App Engine did', ok, why)
    r = c.call('Receive', pb.rs.ReceiveRequest(socket_descriptor=b,
                                               data_size=1000,
                                               timeout_seconds=0))
    check('a socket whose peer is not idle is kept (idle on both sides '
          'only)', len(r.data) > 0 and set(r.data) == {ord('.')}, r)
    stop.set()
    t.join()
    used_falls_to(0)
    ok, why = raises(lambda: c.call('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=b, data_size=10, timeout_seconds=0)),
        app_code=SOCKET_CLOSED)
    check('once its peer is quiet too, it is reaped', ok, why)
    peer.close()
    lst.close()


for t in (t_auth_timeout, t_acl, t_pending_quota, t_buffered, t_reap):
    try:
        t()
    except Exception as e:
        check(t.__name__, False, f'{type(e).__name__}: {e} ' +
              traceback.format_exc().replace('\n', ' | '))
print(f'done failures={failures}', flush=True)
sys.exit(1 if failures else 0)
