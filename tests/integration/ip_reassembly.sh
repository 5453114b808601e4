#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# IPv4 reassembly (net/frag.c) against Linux, tap mode: rs_stacktest
# runs udp-echo; from the namespace
#   - small datagrams until one comes back (the stack is up), and one
#     at the end (still working);
#   - three 4,000-byte datagrams, which Linux fragments (DF off): each is
#     reassembled and reaches the socket, and its echo goes back in
#     fragments (udp.c), which Linux reassembles: byte for byte;
#   - crafted fragments (raw socket): two that overlap (refused, and the
#     one held for that datagram freed), one that ends past 65,535 bytes,
#     and a first fragment alone, which times out after 5 s.
# The stack's counters must say exactly that, with every packet
# explained and no mbuf left.
#
#   ip_reassembly.sh RS_STACKTEST RS_BRIDGE
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../stack/stack_lib.sh" tap "$1" "$2" frag
PORT=7000

CTRS=$TB_DIR/counters
st_stack "$TB_DIR/stack.log" --timeout 120 --counters-file "$CTRS" \
	udp-echo $PORT ||
	{ fail "rs_stacktest udp-echo starts"; finish; exit 1; }

tb_ns python3 - "$TB_PROXY_IP" $PORT "$CTRS" >"$TB_DIR/peer.log" 2>&1 <<'PY'
import socket, struct, sys, time

dst, port, ctrs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER: PMTUDISC_DONT

def echo(n):
    """Whether a datagram of n bytes comes back; sent again every 0.2 s
    (the first may go while ARP resolves), for 60 s at most."""
    u.settimeout(0.2)
    for _ in range(300):
        u.sendto(b"x" * n, (dst, port))
        try:
            return len(u.recv(65535)) == n
        except socket.timeout:
            pass
    return False

def echo_of(d):
    """Whether d comes back within 60 s; a late echo of echo()'s retries
    is passed over."""
    until = time.monotonic() + 60
    u.sendto(d, (dst, port))
    while time.monotonic() < until:
        u.settimeout(max(until - time.monotonic(), 0.01))
        try:
            got = u.recv(65535)
        except socket.timeout:
            return False
        if len(got) == len(d):
            return got == d
    return False

def counter(name):
    try:
        for line in open(ctrs):
            f = line.split()
            if f and f[0] == name:
                return int(f[1])
    except OSError:
        pass
    return 0

up = echo(100)
big = sum(echo_of(bytes(range(i, i + 250)) * 16) for i in range(3))

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
src = socket.inet_aton(u.getsockname()[0] if u.getsockname()[0] != "0.0.0.0"
                       else "198.18.0.1")

def frag(ident, off, mf, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident,
                      (0x2000 if mf else 0) | (off // 8), 64, 17, 0, src,
                      socket.inet_aton(dst))
    raw.sendto(hdr + payload, (dst, 0))

udp = struct.pack("!HHHH", 40000, port, 1808, 0)
frag(0x1111, 0, True, udp + b"a" * 1472)      # overlaps the next
frag(0x1111, 1000, False, b"b" * 808)
frag(0x2222, 65512, False, b"c" * 100)         # ends past 65535
frag(0x3333, 0, True, udp + b"d" * 1472)      # alone: times out
# Until the stack's reassembly timer (5 s) has let the lone one go: the
# counter, not the clock, says so (60 s bounds a hang).
until = time.monotonic() + 60
while counter("event.ip_frag_timed_out") < 1 and time.monotonic() < until:
    time.sleep(0.1)
print("result up=%d big_echoes=%d small_echo=%d" % (up, big, echo(200)))
PY
P=$TB_DIR/peer.log
sed 's/^/# Linux: /' "$P"
expect "Linux: the stack echoes a small datagram" 1 "$(st_val "$P" up)"
expect "Linux: three 4,000-byte echoes, each equal to its datagram" 3 \
	"$(st_val "$P" big_echoes)"
expect "Linux: and still does after the fragments" 1 "$(st_val "$P" small_echo)"
st_stack_stop
S=$TB_DIR/stack.log
expect "rs_stacktest exits 0 on SIGTERM" 0 "$ST_RC"
expect "three datagrams reassembled" 3 "$(tb_counter "$S" event.ip_reassembled)"
expect "no echo refused" 0 "$(st_val "$S" send_errors)"
expect "overlapping fragment refused" 1 "$(tb_counter "$S" drop.ip_frag_bad)"
expect "the fragment held with it freed" 1 \
	"$(tb_counter "$S" event.ip_frag_dropped)"
expect "fragment past 65535 refused" 1 \
	"$(tb_counter "$S" drop.ip_frag_too_big)"
expect "lone fragment timed out" 1 "$(tb_counter "$S" event.ip_frag_timed_out)"
st_clean "$S" "ip_reassembly" ip_frag_bad ip_frag_too_big
finish
