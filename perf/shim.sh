#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The shim's cost: the same transfers made by programs under
# libremsock-preload and by remsock's own commands (libremsock called
# directly), side by side, through one remsockd.
#
#   perf/shim.sh [--build DIR] [--mib N] [--runs R] [--mode virtio|tap]
#                [--profile DIR] [--smoke]
#
# remsockd runs on the test network (tests/testbed/testbed.sh: virtio
# mode by default, rs_bridge between remsockd and a network namespace);
# the clients and their Linux peers run in the namespace, as in
# tests/client/preload.sh, so the RPC traffic and the proxied traffic
# both cross the proxy's port.  Transfers, N MiB each (default 256):
#
#   http-down  remsock fetch URL            | curl under the shim
#              (python3 -m http.server sends a file)
#   tcp-down   remsock nc PEER PORT          | python3 under the shim,
#              (a Linux source sends N MiB)    recv_into 1 MiB buffers
#                                              (both write a file)
#   tcp-up     remsock nc PEER PORT < file   | python3 under the shim,
#              (a Linux sink counts)           sendall of 1 MiB reads
#
# Each run alternates the two clients of a transfer; printed per run
# and as medians over R runs (default 3): MB/s, the client's CPU seconds
# (user + system, its threads and children), and the ratio shim / remsock
# of the times.  Every transfer is checked (bytes counted, or SHA-256 for
# http-down); speed is never asserted: the exit status says whether all
# transfers completed and were whole (0) or not (1).
#
# --profile DIR records each client under `perf record -g` (linux-perf)
# and leaves DIR/perf-TRANSFER-CLIENT.data and a flat report (.txt) of
# the last run.  --smoke: 8 MiB, one run (the test suite runs this).
#
# Addresses: the testbed's 198.18.0.0/24; the namespace, the bridge and
# remsockd are the script's own and go at its end, also on failure.  Needs
# root, hugepages (scripts/setup.sh), curl and python3.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$ROOT/build
MIB=256
RUNS=3
MODE=virtio
PROFILE=

usage() {
	sed -n '4,40p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

while (($#)); do
	case $1 in
	--build) BUILD=$(realpath "${2:?--build DIR}") && shift ;;
	--mib) MIB=${2:?--mib N} && shift ;;
	--runs) RUNS=${2:?--runs R} && shift ;;
	--mode) MODE=${2:?--mode virtio|tap} && shift ;;
	--profile) PROFILE=$(realpath -m "${2:?--profile DIR}") && shift ;;
	--smoke) MIB=8 RUNS=1 ;;
	-h | --help) usage 0 ;;
	*) echo "shim.sh: unknown argument '$1' (see --help)" >&2 && exit 2 ;;
	esac
	shift
done
[[ $MIB =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ ]] ||
	{ echo "shim.sh: --mib and --runs take positive integers" >&2 && exit 2; }
[[ $MODE == virtio || $MODE == tap ]] ||
	{ echo "shim.sh: --mode is virtio or tap" >&2 && exit 2; }
REMSOCKD=$BUILD/remsockd/remsockd
CLI=$BUILD/client/cli/remsock
PRELOAD=$BUILD/client/preload/libremsock-preload.so
TB_BRIDGE=$BUILD/tests/stack/rs_bridge
for f in "$REMSOCKD" "$CLI" "$PRELOAD" "$TB_BRIDGE"; do
	[[ -e $f ]] || { echo "shim.sh: $f is missing: build $BUILD first" >&2 && exit 2; }
done
if [[ -n $PROFILE ]]; then
	command -v perf >/dev/null ||
		{ echo "shim.sh: --profile needs perf (Debian's linux-perf)" >&2 && exit 2; }
	mkdir -p "$PROFILE" || exit 2
fi
[[ $(id -u) == 0 ]] || { echo "shim.sh: run as root (namespaces, hugepages)" >&2 && exit 2; }

. "$ROOT/tests/testbed/testbed.sh"

SECRET=demo-secret-not-for-production
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
[apps]
demo = $SECRET"
tb_up "$MODE" shimbench || exit 1
tb_start "$TB_DIR/remsockd.log" "$REMSOCKD" -c "$TB_CONF" --test-secrets ||
	{ echo "shim.sh: remsockd did not start ($TB_DIR/remsockd.log)" >&2 && exit 1; }

PEER=$TB_PEER_IP
BYTES=$((MIB << 20))
AUTH=(env REMSOCK_ADDR="$TB_PROXY_IP:5757" REMSOCK_APP=demo
	REMSOCK_SECRET="$SECRET")
SHIM=("${AUTH[@]}" LD_PRELOAD="$PRELOAD")
WWW=$TB_DIR/www
mkdir -p "$WWW"
head -c "$BYTES" /dev/urandom >"$WWW/blob" || exit 1
SHA=$(sha256sum <"$WWW/blob" | cut -d' ' -f1)

# The Linux peers: a web server, a source of BYTES zero bytes a
# connection, a sink that prints what each connection brought.
tb_ns_bg "$TB_DIR/http.log" python3 -m http.server -b "$PEER" -d "$WWW" 8080
cat >"$TB_DIR/peers.py" <<'PY'
import socket, sys, threading
peer, n = sys.argv[1], int(sys.argv[2])
def source(s):
    buf = bytes(1 << 20)
    while True:
        c, _ = s.accept()
        left = n
        while left:
            left -= c.send(memoryview(buf)[:min(left, len(buf))])
        c.close()
def sink(s):
    buf = bytearray(1 << 20)
    while True:
        c, _ = s.accept()
        got = 0
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            got += k
        c.sendall(b'%d\n' % got)
        c.close()
for port, fn in ((7001, source), (7002, sink)):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((peer, port))
    s.listen(8)
    threading.Thread(target=fn, args=(s,), daemon=True).start()
print('listening', flush=True)
threading.Event().wait()
PY
tb_ns_bg "$TB_DIR/peers.log" python3 "$TB_DIR/peers.py" "$PEER" "$BYTES"
# shellcheck disable=SC2317 # called by tb_until
listening() {
	tb_ns ss -Hltn "sport = :8080" | grep -q LISTEN &&
		grep -q listening "$TB_DIR/peers.log"
}
tb_until 60 listening || { echo "shim.sh: the Linux peers did not start" >&2 && exit 1; }

# The shimmed Python clients (python3 -c's text: its quotes are Python's).
PY_DOWN='import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
buf, out = bytearray(1 << 20), sys.stdout.buffer
while True:
    k = s.recv_into(buf)
    if not k:
        break
    out.write(memoryview(buf)[:k])'
# shellcheck disable=SC2089
PY_UP='import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
with open(sys.argv[3], "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        s.sendall(b)
s.shutdown(socket.SHUT_WR)
print(s.makefile().readline().strip())'

# client TRANSFER WHICH: the command of one client.
client() {
	case $1/$2 in
	http-down/remsock) echo "${AUTH[*]} $CLI fetch http://$PEER:8080/blob" ;;
	http-down/shim) echo "${SHIM[*]} curl -sS http://$PEER:8080/blob" ;;
	tcp-down/remsock) echo "${AUTH[*]} $CLI nc $PEER 7001" ;;
	tcp-down/shim) echo "${SHIM[*]} python3 -c \"\$PY_DOWN\" $PEER 7001" ;;
	tcp-up/remsock) echo "${AUTH[*]} $CLI nc $PEER 7002" ;;
	tcp-up/shim) echo "${SHIM[*]} python3 -c \"\$PY_UP\" $PEER 7002 $WWW/blob" ;;
	esac
}

# measure TRANSFER WHICH RUN: one transfer; sets SECS, CPU and OK.
measure() {
	local t=$1 which=$2 out=$TB_DIR/out.$1.$2 cmd rec=() tm
	cmd=$(client "$t" "$which")
	[[ -n $PROFILE ]] && rec=(perf record -q -g -o "$PROFILE/perf-$t-$which.data" --)
	local in=/dev/null
	[[ $t == tcp-up && $which == remsock ]] && in=$WWW/blob
	# shellcheck disable=SC2090
	export PY_DOWN PY_UP
	tm=$( { TIMEFORMAT='%R %U %S'; time tb_ns "${rec[@]}" bash -c "$cmd" \
		<"$in" >"$out" 2>"$out.err"; } 2>&1)
	read -r SECS u s <<<"$tm"
	CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	case $t/$which in
	http-down/*) [[ $(sha256sum <"$out" | cut -d' ' -f1) == "$SHA" ]] ;;
	tcp-down/*) [[ $(stat -c %s "$out") == "$BYTES" ]] ;;
	tcp-up/*) [[ $(tr -d '\n' <"$out") == "$BYTES" ]] ;;
	esac && OK=1 || OK=0
	((OK)) || echo "# $t $which: incomplete ($(head -c 200 "$out.err"))"
	rm -f "$out"
}

mbs() { awk -v b="$BYTES" -v s="$1" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "# shim.sh: $MIB MiB a transfer, $RUNS runs, $MODE mode, remsockd $(
	"$REMSOCKD" --version 2>/dev/null | head -1)"
FAILED=0
declare -A T C
for t in http-down tcp-down tcp-up; do
	for ((r = 1; r <= RUNS; r++)); do
		for which in remsock shim; do
			measure "$t" "$which"
			((OK)) || FAILED=1
			T[$t/$which]+="$SECS "
			C[$t/$which]+="$CPU "
			printf '%-9s %-7s run %d: %5s MB/s, %6.2f s, client CPU %5s s\n' \
				"$t" "$which" "$r" "$(mbs "$SECS")" "$SECS" "$CPU"
		done
	done
done
echo
printf '%-9s %12s %12s %10s %10s %8s\n' transfer "remsock MB/s" "shim MB/s" \
	"CPU rsk s" "CPU shim s" "shim/rsk"
for t in http-down tcp-down tcp-up; do
	tr=$(tr ' ' '\n' <<<"${T[$t/remsock]}" | grep . | median)
	ts=$(tr ' ' '\n' <<<"${T[$t/shim]}" | grep . | median)
	cr=$(tr ' ' '\n' <<<"${C[$t/remsock]}" | grep . | median)
	cs=$(tr ' ' '\n' <<<"${C[$t/shim]}" | grep . | median)
	printf '%-9s %12s %12s %10s %10s %7.2fx\n' "$t" "$(mbs "$tr")" \
		"$(mbs "$ts")" "$cr" "$cs" "$(awk -v a="$ts" -v b="$tr" \
			'BEGIN { print a / b }')"
done
if [[ -n $PROFILE ]]; then
	for f in "$PROFILE"/perf-*.data; do
		perf report -i "$f" --no-children --sort dso,symbol --stdio -g none \
			2>/dev/null | head -60 >"${f%.data}.txt"
	done
	echo "# profiles: $PROFILE"
fi
tb_stop
((TB_RC == 0)) || { echo "# remsockd exited $TB_RC" && FAILED=1; }
exit "$FAILED"
