# SPDX-License-Identifier: BSD-3-Clause
"""A small, independent client of remsockd's native RPC transport.

Independent on purpose: it shares nothing with the C code but the .proto
files, which protoc compiles for Python (Debian's python3-protobuf, so run
it with /usr/bin/python3) when load_protos() is called.

    pb = load_protos('proto')
    c = Client('198.18.0.2', 5757)
    c.authenticate('demo', b'demo-secret-not-for-production')
    d = c.call('CreateSocket', pb.rs.CreateSocketRequest(family=1,
               protocol=1)).socket_descriptor

A call that fails raises CallError with the RPC error code, or the
application error code with the errno a SYSTEM_ERROR carries.
"""

import socket
import struct
import subprocess
import sys
import tempfile
import time
import types

pb = types.SimpleNamespace()


def load_protos(proto_dir, protoc='protoc'):
    """Compile rpc.proto and remote_socket.proto; fill and return pb."""
    out = tempfile.mkdtemp(prefix='rsclient-')
    subprocess.run([protoc, '--proto_path=' + proto_dir,
                    '--python_out=' + out, 'rpc.proto', 'remote_socket.proto'],
                   check=True)
    sys.path.insert(0, out)
    import rpc_pb2
    import remote_socket_pb2
    pb.rpc = rpc_pb2
    pb.rs = remote_socket_pb2
    return pb


# Method -> reply message name (the request is <Method>Request).
REPLY = {'Authenticate': 'AuthenticateReply'}


class CallError(Exception):
    def __init__(self, method, rpc_code=0, app_code=0, errno_=0, detail=''):
        self.method = method
        self.rpc_code = rpc_code      # RpcErrorCode, 0 for an app error
        self.app_code = app_code      # RemoteSocketServiceError.ErrorCode
        self.errno = errno_           # with SYSTEM_ERROR (or GAI's code)
        self.detail = detail
        super().__init__(f'{method}: rpc={rpc_code} app={app_code} '
                         f'errno={errno_} {detail}')


class Client:
    def __init__(self, host, port, timeout=60.0, source=None, tls=None):
        """source: the local address to connect from (None: any); tls:
        an ssl.SSLContext to speak TLS with (remsockd's [rpc] tls_port),
        the server's name being host."""
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_id = 1
        self.early = {}  # responses that came before they were waited for
        self.buf = b''

    def close(self):
        self.sock.close()

    # ---- framing -------------------------------------------------------

    def send_frame(self, body):
        self.sock.sendall(struct.pack('>I', len(body)) + body)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError('remsockd closed the connection')
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self):
        (n,) = struct.unpack('>I', self._read(4))
        r = pb.rpc.RpcResponse()
        r.ParseFromString(self._read(n))
        return r

    # ---- calls -----------------------------------------------------------

    def start(self, method, req, service=None, deadline=None, call_id=None):
        """Send a call without waiting; returns its call id."""
        if service is None:
            service = 'remsock' if method in ('Authenticate', 'Stats') \
                else 'remote_socket'
        if call_id is None:
            call_id = self.next_id
            self.next_id += 1
        env = pb.rpc.RpcRequest(call_id=call_id, service_name=service,
                                method=method, body=req.SerializeToString())
        if deadline is not None:
            env.deadline_seconds = deadline
        self.send_frame(env.SerializeToString())
        return call_id

    def wait_raw(self, call_id):
        if call_id in self.early:
            return self.early.pop(call_id)
        while True:
            r = self.read_response()
            if r.call_id == call_id:
                return r
            self.early[r.call_id] = r

    def finish(self, method, call_id):
        """The reply of a started call, or CallError."""
        r = self.wait_raw(call_id)
        if r.HasField('rpc_error'):
            raise CallError(method, rpc_code=r.rpc_error.code,
                            detail=r.rpc_error.detail)
        if r.HasField('application_error'):
            ae = r.application_error
            e = pb.rs.RemoteSocketServiceError()
            e.ParseFromString(ae.error_body)
            raise CallError(method, app_code=ae.code, errno_=e.system_error,
                            detail=ae.detail)
        mod = pb.rpc if method in ('Authenticate', 'Stats') else pb.rs
        reply = getattr(mod, REPLY.get(method, method + 'Reply'))()
        reply.ParseFromString(r.body)
        return reply

    def call(self, method, req, **kw):
        return self.finish(method, self.start(method, req, **kw))

    def stats(self):
        """remsock.Stats: remsockd's counters and the caller app's quota
        use, as a dict."""
        r = self.call('Stats', pb.rpc.StatsRequest())
        return {x.name: x.value for x in r.counter}

    def authenticate(self, app, secret):
        return self.call('Authenticate', pb.rpc.AuthenticateRequest(
            app_id=app, secret=secret))


def read_n(s, n):
    """Up to n bytes from socket s: fewer only when it ends first."""
    out = b''
    while len(out) < n:
        b = s.recv(min(n - len(out), 1 << 20))
        if not b:
            break
        out += b
    return out


def until(cond, secs=60, what=''):
    """Poll cond() until it holds (True), or False after secs: how the
    tests wait for a condition instead of sleeping (secs bounds a hang)."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    if what:
        print(f'# never: {what}', flush=True)
    return False


def raises(fn, **want):
    """Whether fn raises a CallError with the fields of want (rpc_code,
    app_code, errno...): (ok, the error's text)."""
    try:
        fn()
    except CallError as e:
        bad = [k for k, v in want.items() if getattr(e, k) != v]
        return not bad, str(e)
    return False, 'no error'


def addr(ip, port):
    """An AddressPort for IPv4 ip:port."""
    return pb.rs.AddressPort(port=port, packed_address=socket.inet_aton(ip))


def unaddr(ap):
    return socket.inet_ntoa(ap.packed_address), ap.port
