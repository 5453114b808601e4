# SPDX-License-Identifier: BSD-3-Clause
"""The demo's client: an HTTP GET through remsockd's remote socket API.

    demo_get.py PROTO_DIR PROXY_IP RPC_PORT APP SECRET HOST PORT PATH

Run with /usr/bin/python3 (Debian's python3-protobuf).  It prints every
call it makes and what remsockd answered, then the HTTP response.
Exit status 0 when the server answered 200.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests', 'service'))
import rsclient  # noqa: E402
from rsclient import Client, addr, unaddr  # noqa: E402

proto, proxy, rpc_port, app, secret, host, port, path = sys.argv[1:9]
pb = rsclient.load_protos(proto)
rs = pb.rs

c = Client(proxy, int(rpc_port))
print(f'connected to remsockd at {proxy}:{rpc_port} (through its DPDK port)')
print(f'Authenticate(app_id={app!r}) -> app {c.authenticate(app, secret.encode()).app_id!r}')
d = c.call('CreateSocket', rs.CreateSocketRequest(family=1, protocol=1)) \
    .socket_descriptor
print(f'CreateSocket(IPv4, TCP) -> descriptor {d}')
r = c.call('Connect', rs.ConnectRequest(socket_descriptor=d,
                                        remote_ip=addr(host, int(port))))
print(f'Connect({host}:{port}) -> from the proxy\'s '
      f'{"%s:%d" % unaddr(r.proxy_external_ip)}')
req = f'GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: remsock-demo\r\n\r\n'
n = c.call('Send', rs.SendRequest(socket_descriptor=d, data=req.encode(),
                                  stream_offset=0)).data_sent
print(f'Send({len(req)} bytes at stream offset 0) -> {n} sent')
data, calls = b'', 0
while True:
    r = c.call('Receive', rs.ReceiveRequest(socket_descriptor=d,
                                            data_size=65536))
    calls += 1
    if not r.data:
        break
    data += r.data
print(f'Receive x{calls} -> {len(data)} bytes, then EOF (an empty reply)')
c.call('Close', rs.CloseRequest(socket_descriptor=d))
print('Close -> ok')
head, _, body = data.partition(b'\r\n\r\n')
print('\nHTTP response through the proxy:')
for line in head.decode(errors='replace').splitlines():
    print('    ' + line)
print('    ')
for line in body.decode(errors='replace').splitlines()[:5]:
    print('    ' + line)
sys.exit(0 if head.startswith(b'HTTP/1.0 200') else 1)
