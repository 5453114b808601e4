#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# libremsock-preload without a proxy (suite unit): programs still run,
# Unix-domain sockets and local answers work, and a socket() that needs
# the proxy fails with a clear errno and, with REMSOCK_DEBUG, one line on
# stderr.  The proxy address is a closed port on loopback.
#
#   preload_unit.sh PRELOAD_SO
set -uo pipefail
PRELOAD=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"

SHIM=(env LD_PRELOAD="$PRELOAD" REMSOCK_ADDR=127.0.0.1:1 REMSOCK_APP=demo
	REMSOCK_SECRET=demo-secret-not-for-production)

check "ls runs under the shim" "${SHIM[@]}" ls /
expect "a shell pipeline runs under the shim" hi \
	"$("${SHIM[@]}" sh -c 'echo hi | cat')"

PY='
import errno, socket, sys
out = []
try:
    socket.socket()
    out.append("socket made")
except OSError as e:
    out.append("socket " + errno.errorcode.get(e.errno, str(e.errno)))
a, b = socket.socketpair()
a.sendall(b"pair"); out.append("socketpair " + b.recv(4).decode())
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.bind(b"\0preload_unit"); u.sendto(b"dg", b"\0preload_unit")
out.append("unix " + u.recv(2).decode())
out.append("numeric " + socket.getaddrinfo("198.18.0.9", 80, socket.AF_INET)[0][4][0])
out.append("localhost " + socket.getaddrinfo("localhost", 80, socket.AF_INET)[0][4][0])
try:
    socket.getaddrinfo("peer.remsock.test", 80)
    out.append("name resolved")
except socket.gaierror as e:
    out.append("name " + str(e.errno == socket.EAI_AGAIN))
print(" | ".join(out))
'
ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT
expect "without a proxy: socket() fails with ECONNREFUSED, the rest works" \
	"socket ECONNREFUSED | socketpair pair | unix dg | numeric 198.18.0.9 | localhost 127.0.0.1 | name True" \
	"$(REMSOCK_DEBUG=1 "${SHIM[@]}" python3 -c "$PY" 2>"$ERR")"
expect "REMSOCK_DEBUG: one line on stderr says why" \
	"1 remsock-preload: no connection to remsockd: nothing listens at 127.0.0.1:1: is remsockd running, with [rpc] listen_port 1? (Connection refused)" \
	"$(wc -l <"$ERR") $(head -1 "$ERR")"
expect "without REMSOCK_DEBUG: nothing on stderr" "socket ECONNREFUSED" \
	"$("${SHIM[@]}" python3 -c "$PY" 2>&1 | cut -d'|' -f1 | sed 's/ $//')"
expect "REMSOCK_ADDR unset: socket() fails with EINVAL" "socket EINVAL" \
	"$(env -u REMSOCK_ADDR "${SHIM[@]/REMSOCK_ADDR=127.0.0.1:1/REMSOCK_X=}" python3 -c "$PY" 2>&1 | cut -d'|' -f1 | sed 's/ $//')"
finish
