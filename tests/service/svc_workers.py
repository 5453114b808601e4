# SPDX-License-Identifier: BSD-3-Clause
"""remsockd with two workers, from the test namespace: calls on a socket
that the other worker holds.  Each RPC connection lands on the worker its
flow hashes to (computed here with tests/stack/rss_owner.py), so the test
opens one connection on each worker and uses the sockets of one from the
other: data calls (forwarded between the workers, a parked one too, a
megabyte each way), control-plane calls (run where the socket lives,
answered to the other), an Accept waiting on the other worker, a
forwarded call cancelled when its connection closes (its quota shares
given back) and an Accept waiting there too, and batches over both
workers' sockets split and merged (at once, waiting, and cancelled).
Prints 'check NAME ok|FAIL: why'.

    svc_workers.py PROTO_DIR STACK_DIR PROXY PORT PEER ECHO_PORT LISTEN_PORT
"""

import errno
import hashlib
import socket
import sys
import threading
import traceback

import rsclient
from rsclient import Client, addr, raises, unaddr, until

PROTO, STACK, PROXY, PORT, PEER, ECHO_PORT, LISTEN_PORT = sys.argv[1:8]
PORT, ECHO_PORT, LISTEN_PORT = int(PORT), int(ECHO_PORT), int(LISTEN_PORT)
sys.path.insert(0, STACK)
import rss_owner  # noqa: E402  (tests/stack, given on the command line)

pb = rsclient.load_protos(PROTO)
SYSTEM_ERROR, SOCKET_CLOSED = 1, 7
TCP = 1
failures = 0


def check(name, ok, why=''):
    global failures
    failures += not ok
    print(f'check {name} ' + ('ok' if ok else f'FAIL: {why}'), flush=True)


def conn_on(worker):
    """An authenticated connection that lands on @worker: its flow
    hashes there (tries up to 64 source ports)."""
    for _ in range(64):
        c = Client(PROXY, PORT)
        lport = c.sock.getsockname()[1]
        if rss_owner.owner(2, PROXY, PEER, PORT, lport) == worker:
            c.authenticate('demo', b'demo-secret-not-for-production')
            return c
        c.close()
    raise RuntimeError(f'no connection on worker {worker} in 64 tries')


def echo_server():
    """Linux: echo every connection on ECHO_PORT until its FIN."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((PEER, ECHO_PORT))
    lst.listen(16)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def loop():
        while True:
            conn, _ = lst.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def connected(c):
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=TCP)).socket_descriptor
    c.call('Connect', pb.rs.ConnectRequest(socket_descriptor=d,
                                           remote_ip=addr(PEER, ECHO_PORT)))
    return d


def send_all(c, d, data, off=0):
    done = 0
    while done < len(data):
        done += c.call('Send', pb.rs.SendRequest(
            socket_descriptor=d, data=data[done:done + (1 << 20)],
            stream_offset=off + done, timeout_seconds=30)).data_sent
    return off + done


def recv_n(c, d, n):
    got = b''
    while len(got) < n:
        got += c.call('Receive', pb.rs.ReceiveRequest(
            socket_descriptor=d, data_size=n - len(got),
            timeout_seconds=30)).data
    return got


def quota(c, name):
    """An app's quota use; control_calls counts the Stats call that
    asks, so none other in flight is 1."""
    return c.stats().get(f'quota.{name}.used', -1)


def main():
    echo_server()
    c0, c1 = conn_on(0), conn_on(1)  # raises when it cannot

    # Data calls on worker 0's socket from worker 1's connection.
    d = connected(c0)
    off = send_all(c1, d, b'hello')
    check('a Send on the other worker\'s socket is taken',
          off == 5, off)
    got = recv_n(c1, d, 5)
    check('... and a Receive there returns the echo', got == b'hello', got)
    blob = bytes(range(256)) * 4096  # 1 MiB: frames above an entry
    send_all(c1, d, blob, off)
    got = recv_n(c1, d, len(blob))
    check('a megabyte each way through the other worker, unchanged',
          hashlib.sha256(got).digest() == hashlib.sha256(blob).digest(),
          len(got))
    off += len(blob)
    # Control-plane calls run where the socket lives.
    r = c1.call('GetPeerName', pb.rs.GetPeerNameRequest(socket_descriptor=d))
    check('GetPeerName from the other worker\'s connection',
          unaddr(r.peer_ip) == (PEER, ECHO_PORT), r)
    # A parked Receive, forwarded, woken on the owner, answered here.
    rid = c1.start('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=100, timeout_seconds=60))
    until(lambda: quota(c0, 'pending_calls') == 1, 30,
          'the forwarded Receive parks')
    off = send_all(c0, d, b'wake', off)
    got = c1.finish('Receive', rid).data
    check('a forwarded Receive waits on the owner and is answered when '
          'data comes', got == b'wake', got)
    # A forwarded call whose connection closes while it waits.
    c2 = conn_on(1)
    c2.start('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=100, timeout_seconds=-1))
    parked = until(lambda: quota(c0, 'pending_calls') == 1, 30)
    c2.close()
    gone = until(lambda: quota(c0, 'pending_calls') == 0 and
                 quota(c0, 'control_calls') == 1, 30)
    check('a forwarded call waiting on the other worker is cancelled when '
          'its connection closes, its shares given back', parked and gone,
          (parked, gone))
    # Batches over both workers' sockets: split, run where the sockets
    # are, merged in order.
    e = connected(c1)
    eoff = 0

    def rbatch(c, timeout):
        return c.start('ReceiveBatch', pb.rs.ReceiveBatchRequest(
            receives=[pb.rs.ReceiveRequest(socket_descriptor=x,
                                           data_size=100)
                      for x in (d, e)], timeout_seconds=timeout))

    def entries(r):
        return [(x.reply.data if x.HasField('reply') else None,
                 x.error.system_error if x.HasField('error') else 0)
                for x in r.entries]
    r = c1.finish('ReceiveBatch', rbatch(c1, 0))
    check('a ReceiveBatch over both workers\' sockets, nothing to read: '
          'EAGAIN for each, in order',
          entries(r) == [(None, errno.EAGAIN)] * 2, entries(r))
    bid = rbatch(c1, 60)
    parked = until(lambda: quota(c0, 'pending_calls') >= 2, 30)
    off = send_all(c0, d, b'to d', off)
    r = c1.finish('ReceiveBatch', bid)
    check('a waiting ReceiveBatch over both workers wakes with the data of '
          'the one that has some', parked and
          entries(r) == [(b'to d', 0), (None, errno.EAGAIN)],
          (parked, entries(r)))
    pid = c1.start('Poll', pb.rs.PollRequest(events=[
        pb.rs.PollEvent(socket_descriptor=x, requested_events=1,
                        observed_events=0) for x in (d, e)],
        timeout_seconds=60))
    until(lambda: quota(c0, 'pending_calls') >= 2, 30)
    eoff = send_all(c1, e, b'to e', eoff)
    r = c1.finish('Poll', pid)
    got = [x.observed_events for x in r.events]
    check('a waiting Poll over both workers wakes for the one ready',
          got[0] == 0 and got[1] & 1, got)
    recv_n(c1, e, 4)
    r = c1.call('SendBatch', pb.rs.SendBatchRequest(sends=[
        pb.rs.SendRequest(socket_descriptor=d, data=b'batch d',
                          stream_offset=off),
        pb.rs.SendRequest(socket_descriptor=e, data=b'batch e',
                          stream_offset=eoff)]))
    sent = [x.reply.data_sent for x in r.entries]
    off += 7
    eoff += 7
    check('a SendBatch over both workers sends on each',
          sent == [7, 7] and recv_n(c0, d, 7) == b'batch d' and
          recv_n(c1, e, 7) == b'batch e', sent)
    c4 = conn_on(1)
    c4.start('ReceiveBatch', pb.rs.ReceiveBatchRequest(
        receives=[pb.rs.ReceiveRequest(socket_descriptor=x, data_size=10)
                  for x in (d, e)], timeout_seconds=-1))
    parked = until(lambda: quota(c0, 'pending_calls') >= 2, 30)
    c4.close()
    gone = until(lambda: quota(c0, 'pending_calls') == 0 and
                 quota(c0, 'control_calls') == 1, 30)
    check('a split batch ends with its connection, on both workers',
          parked and gone, (parked, gone, quota(c0, 'pending_calls')))
    r = c1.call('Poll', pb.rs.PollRequest(events=[pb.rs.PollEvent(
        socket_descriptor=d, requested_events=4, observed_events=0)],
        timeout_seconds=10))
    check('a Poll of the other worker\'s socket alone is answered',
          r.events[0].observed_events & 4 != 0, r)
    # An Accept waiting on the listener's worker, for the other's
    # connection; the accepted socket lives with its listener.
    lst = c0.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=TCP, proxy_external_ip=addr(PROXY, LISTEN_PORT),
        listen_backlog=4)).socket_descriptor
    aid = c1.start('Accept', pb.rs.AcceptRequest(socket_descriptor=lst,
                                                 timeout_seconds=60))
    lin = socket.create_connection((PROXY, LISTEN_PORT), timeout=30)
    a = c1.finish('Accept', aid).new_socket_descriptor.decode()
    send_all(c1, a, b'from the proxy')
    lin.settimeout(30)
    got = lin.recv(100)
    check('an Accept waits on the listener\'s worker for the other\'s '
          'connection, and its socket serves both', got == b'from the proxy',
          got)
    lin.close()
    c3 = conn_on(1)
    c3.start('Accept', pb.rs.AcceptRequest(socket_descriptor=lst,
                                           timeout_seconds=-1))
    parked = until(lambda: quota(c0, 'pending_calls') == 1, 30)
    c3.close()
    gone = until(lambda: quota(c0, 'pending_calls') == 0, 30)
    check('an Accept waiting on the other worker ends with its connection',
          parked and gone, (parked, gone))
    # Close from the other worker's connection: closed for everyone.
    for x in (d, a, lst):
        c1.call('Close', pb.rs.CloseRequest(socket_descriptor=x))
    ok, why = raises(lambda: c0.call('Receive', pb.rs.ReceiveRequest(
        socket_descriptor=d, data_size=10)), app_code=SOCKET_CLOSED)
    check('a Close from the other worker closes it for every connection',
          ok, why)
    c1.call('Close', pb.rs.CloseRequest(socket_descriptor=e))
    check('no share of the app left in flight',
          until(lambda: quota(c0, 'control_calls') == 1 and
                quota(c0, 'pending_calls') == 0, 30),
          (quota(c0, 'control_calls'), quota(c0, 'pending_calls')))
    c0.close()
    c1.close()


try:
    main()
except Exception:  # a crash is a failure, and says where
    traceback.print_exc()
    check('the client runs without an exception', False)
print(f'done failures={failures}', flush=True)
sys.exit(1 if failures else 0)
