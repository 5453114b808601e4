# SPDX-License-Identifier: BSD-3-Clause
"""What the proxy's [acl] says of a destination, now: a Connect to it
through a new socket.  Prints 'denied' (PERMISSION_DENIED), 'allowed'
(connected, or refused by the far host itself), or the error.

    svc_acl_probe.py PROTO_DIR PROXY PORT HOST DPORT
"""

import sys

import rsclient
from rsclient import CallError, Client, addr

PROTO, PROXY, PORT, HOST, DPORT = sys.argv[1:6]
pb = rsclient.load_protos(PROTO)
PERMISSION_DENIED = 5

c = Client(PROXY, int(PORT))
c.authenticate('demo', b'demo-secret-not-for-production')
d = c.call('CreateSocket', pb.rs.CreateSocketRequest(
    family=1, protocol=1)).socket_descriptor
try:
    c.call('Connect', pb.rs.ConnectRequest(
        socket_descriptor=d, remote_ip=addr(HOST, int(DPORT)),
        timeout_seconds=30))
    print('allowed')
except CallError as e:
    print('denied' if e.app_code == PERMISSION_DENIED else
          'allowed' if 'refused' in e.detail.lower() else f'error {e}')
c.call('Close', pb.rs.CloseRequest(socket_descriptor=d))
c.close()
