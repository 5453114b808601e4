# SPDX-License-Identifier: BSD-3-Clause
"""What the proxy says of an app, now, for the reload tests.

    svc_app_probe.py PROTO_DIR PROXY PORT APP SECRET auth
        'ok' when APP authenticates with SECRET, else 'refused'
    svc_app_probe.py PROTO_DIR PROXY PORT APP SECRET sockets
        how many sockets APP may hold (up to 8): 'sockets N'
    svc_app_probe.py PROTO_DIR PROXY PORT APP SECRET resolve NAME
        the addresses Resolve answers for NAME, or 'error' and why
    svc_app_probe.py PROTO_DIR PROXY PORT APP SECRET park
        a Receive that waits (a UDP socket, 60 s); 'parked' once the
        proxy holds it, then how it ended: 'cancelled DETAIL' for
        RPC_CANCELLED, else what came
    svc_app_probe.py PROTO_DIR PROXY PORT APP SECRET hold GOFILE
        authenticate, print 'ready', wait (60 s at most) for GOFILE to
        exist, then make and close a socket on the same connection:
        'still-served' or the error
    svc_app_probe.py PROTO_DIR PROXY TLS_PORT APP SECRET tls-auth DIR CERT
        over TLS, trusting DIR/ca.crt and showing the client certificate
        DIR/CERT.crt: 'ok' when APP authenticates, else 'refused: WHY'
"""

import os
import socket
import ssl
import sys
import threading

import rsclient
from rsclient import CallError, Client, until

PROTO, PROXY, PORT, APP, SECRET, WHAT = sys.argv[1:7]
pb = rsclient.load_protos(PROTO)


def new_socket(c):
    return c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=1)).socket_descriptor


if WHAT == 'tls-auth':
    d, cert = sys.argv[7:9]
    ctx = ssl.create_default_context(cafile=f'{d}/ca.crt')
    ctx.load_cert_chain(f'{d}/{cert}.crt', f'{d}/{cert}.key')
    try:
        # TLS 1.3 tells a client its certificate was refused only after
        # its own handshake: the first call's answer is the alert.
        Client(PROXY, int(PORT), tls=ctx).authenticate(APP, SECRET.encode())
        print('ok')
    except (ssl.SSLError, OSError, CallError) as e:
        print(f'refused: {e}')
    sys.exit(0)

c = Client(PROXY, int(PORT))
try:
    c.authenticate(APP, SECRET.encode())
except CallError:
    print('refused', flush=True)
    sys.exit(0)
if WHAT == 'auth':
    print('ok')
elif WHAT == 'sockets':
    held = []
    try:
        while len(held) < 8:
            held.append(new_socket(c))
    except CallError:
        pass
    print(f'sockets {len(held)}')
    for d in held:
        c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
elif WHAT == 'resolve':
    try:
        r = c.call('Resolve', pb.rs.ResolveRequest(name=sys.argv[7]))
        print(' '.join(socket.inet_ntoa(a) for a in r.packed_address))
    except CallError as e:
        print(f'error {e.detail}')
elif WHAT == 'park':
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
        family=1, protocol=2)).socket_descriptor
    c.call('Bind', pb.rs.BindRequest(socket_descriptor=d, proxy_external_ip=(
        pb.rs.AddressPort(port=0, packed_address=bytes(4)))))
    end = []

    def wait():
        try:
            c.call('Receive', pb.rs.ReceiveRequest(
                socket_descriptor=d, data_size=10, timeout_seconds=60))
            end.append('received')
        except CallError as e:
            end.append(f'cancelled {e.detail}' if e.rpc_code == 10
                       else f'error {e}')
        except Exception as e:
            end.append(f'lost {type(e).__name__}')
    t = threading.Thread(target=wait)
    t.start()
    watch = Client(PROXY, int(PORT))
    watch.authenticate(APP, SECRET.encode())
    until(lambda: watch.stats().get('quota.pending_calls.used', 0) >= 1)
    print('parked', flush=True)
    t.join(90)
    print(end[0] if end else 'no end', flush=True)
    sys.exit(0)
elif WHAT == 'hold':
    print('ready', flush=True)
    until(lambda: os.path.exists(sys.argv[7]))
    try:
        c.call('Close', pb.rs.CloseRequest(socket_descriptor=new_socket(c)))
        print('still-served', flush=True)
    except CallError as e:
        print(f'error {e}', flush=True)
c.close()
