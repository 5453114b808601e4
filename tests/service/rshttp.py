# SPDX-License-Identifier: BSD-3-Clause
"""An App Engine-style client of remsockd's API-host HTTP endpoint.

It speaks only what an App Engine runtime speaks to its API host: HTTP/1.1
POST /rpc_http with the X-Google-RPC-Service-* headers and a remote_api
Request body, read back as a remote_api Response.  The messages come from
App Engine's own .proto files (Debian's golang-google-appengine-dev),
compiled for Python (python3-protobuf: run it with /usr/bin/python3) by
load_protos(); nothing is shared with remsock's C code or its .proto files.

    pb = load_protos('/usr/share/gocode/src/google.golang.org/appengine/'
                     'internal')
    c = Client('198.18.0.2', 8088, 'demo:demo-secret-not-for-production')
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(family=1,
               protocol=1)).socket_descriptor

A failed call raises CallError: rpc_code for a remote_api RpcError,
app_code for an ApplicationError with the errno parsed from its detail as
App Engine's runtimes do (`system_error: N error_detail: "TEXT"`), or
status for an HTTP error.
"""

import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types

pb = types.SimpleNamespace()

HEADERS = {
    'Content-Type': 'application/octet-stream',
    'X-Google-RPC-Service-Endpoint': 'app-engine-apis',
    'X-Google-RPC-Service-Method': '/VMRemoteAPI.CallRemoteAPI',
}
# The pattern App Engine's Java runtime applies to a socket error's detail.
DETAIL_RE = re.compile(r'system_error:\s*(-?\d+)\s*,?\s*'
                       r'error_detail:\s*"([^"]*)"\s*')


def load_protos(appengine_dir, protoc='protoc'):
    """Compile App Engine's remote_api and socket_service protos."""
    out = tempfile.mkdtemp(prefix='rshttp-')
    for rel in ('remote_api/remote_api.proto', 'socket/socket_service.proto'):
        shutil.copy(os.path.join(appengine_dir, rel), out)
    subprocess.run([protoc, '--proto_path=' + out, '--python_out=' + out,
                    'remote_api.proto', 'socket_service.proto'], check=True)
    sys.path.insert(0, out)
    import remote_api_pb2
    import socket_service_pb2
    pb.api = remote_api_pb2
    pb.rs = socket_service_pb2
    return pb


class CallError(Exception):
    def __init__(self, method, status=200, rpc_code=None, app_code=None,
                 errno_=0, detail=''):
        self.method = method
        self.status = status        # HTTP status
        self.rpc_code = rpc_code    # remote_api RpcError.ErrorCode
        self.app_code = app_code    # RemoteSocketServiceError.ErrorCode
        self.errno = errno_         # from the detail, for app errors
        self.detail = detail
        super().__init__(f'{method}: http={status} rpc={rpc_code} '
                         f'app={app_code} errno={errno_} {detail}')


def envelope(method, req, ticket, service='remote_socket'):
    """The remote_api Request body of a call."""
    r = pb.api.Request(service_name=service, method=method,
                       request=req.SerializeToString())
    if ticket is not None:
        r.request_id = ticket
    return r.SerializeToString()


def raw_request(body, deadline=None, path='/rpc_http', method='POST',
                headers=None, version='HTTP/1.1', length=None):
    """The bytes of one HTTP request (for pipelining on a raw socket);
    length: the Content-Length to announce, 'chunked' for none."""
    h = dict(HEADERS)
    if deadline is not None:
        h['X-Google-RPC-Service-Deadline'] = str(deadline)
    h.update(headers or {})
    if length != 'chunked':
        h['Content-Length'] = str(len(body) if length is None else length)
    lines = [f'{method} {path} {version}', 'Host: api'] + \
        [f'{k}: {v}' for k, v in h.items() if v is not None]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode() + body


def reply_of(method, status, data):
    """A call's reply from its HTTP response, or CallError."""
    if status != 200:
        raise CallError(method, status=status, detail=data[:200])
    r = pb.api.Response()
    r.ParseFromString(data)
    if r.HasField('rpc_error'):
        raise CallError(method, rpc_code=r.rpc_error.code,
                        detail=r.rpc_error.detail)
    if r.HasField('application_error'):
        ae = r.application_error
        m = DETAIL_RE.fullmatch(ae.detail)
        raise CallError(method, app_code=ae.code,
                        errno_=int(m.group(1)) if m else 0,
                        detail=m.group(2) if m else ae.detail)
    reply = getattr(pb.rs, method + 'Reply')()
    reply.ParseFromString(r.response)
    return reply


class Client:
    """One keep-alive HTTP connection (http.client) to the endpoint."""

    def __init__(self, host, port, ticket, timeout=20.0, tls=None):
        """tls: an ssl.SSLContext for HTTPS ([rpc] https_port)."""
        self.conn = (http.client.HTTPConnection(host, port, timeout=timeout)
                     if tls is None else
                     http.client.HTTPSConnection(host, port, timeout=timeout,
                                                 context=tls))
        self.ticket = ticket
        self.connects = 0

    def close(self):
        self.conn.close()

    def post(self, body, deadline=None, headers=None, path='/rpc_http',
             method='POST'):
        """(status, headers, body) of one request."""
        h = dict(HEADERS)
        if deadline is not None:
            h['X-Google-RPC-Service-Deadline'] = str(deadline)
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        if self.conn.sock is None:
            self.connects += 1
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, r, data

    def call(self, method, req, deadline=None, ticket=None,
             service='remote_socket'):
        t = self.ticket if ticket is None else ticket
        status, _, data = self.post(envelope(method, req, t, service),
                                    deadline=deadline)
        return reply_of(method, status, data)


def read_response(sock, buf=b''):
    """One HTTP response from a raw socket: (status, headers, body, rest).
    Enough HTTP for remsockd's answers (Content-Length always given)."""
    while b'\r\n\r\n' not in buf:
        b = sock.recv(65536)
        if not b:
            raise EOFError('closed before a response')
        buf += b
    head, buf = buf.split(b'\r\n\r\n', 1)
    lines = head.decode().split('\r\n')
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in
            (ln.split(':', 1) for ln in lines[1:])}
    n = int(hdrs.get('content-length', '0'))
    while len(buf) < n:
        b = sock.recv(65536)
        if not b:
            raise EOFError('closed inside a response')
        buf += b
    return status, hdrs, buf[:n], buf[n:]
