#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# libremsock end to end: remsockd on the testbed (tap or virtio mode) and
# rsk_test, a C program linked against libremsock, in the test namespace,
# where it is also the Linux peer of the proxied sockets (echo server,
# closed port, UDP socket, client of a proxied listener).  It drives every
# socket call, error mapping, 300 asynchronous calls in flight with
# callbacks and the event fd, and 24 MiB echoed while the library's
# transport is broken every 150 ms.  Then remsockd must stop with nothing
# left behind.
#
#   client.sh tap|virtio REMSOCKD RS_BRIDGE RSK_TEST
set -uo pipefail
MODE=$1
REMSOCKD=$2
TB_BRIDGE=$3
RSK_TEST=$4
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../service/svc_lib.sh"

TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[apps]
demo = demo-secret-not-for-production
[hosts]
static = Static.Test 198.18.0.7 198.18.0.8
[rpc]
tls_port = 5758
tls_cert = @TB_DIR@/tls.crt
tls_key = @TB_DIR@/tls.key
tls_client_ca = @TB_DIR@/ca.crt"
svc_pre_start() { svc_tls_certs; }

svc_up "$MODE" rsk "$REMSOCKD"

LOG=$TB_DIR/rsk_test.log
tb_ns "$RSK_TEST" "$TB_PROXY_IP" 5757 "$TB_PEER_IP" demo \
	demo-secret-not-for-production "$TB_DIR" >"$LOG" 2>&1
RC=$?
while read -r _ name; do
	case $name in
	*" ok") pass "${name% ok}" ;;
	*" FAIL: "*) fail "${name%% FAIL: *}" "${name#* FAIL: }" ;;
	esac
done < <(grep '^check ' "$LOG")
grep '^# ' "$LOG"
expect "rsk_test ran to its end" "0 1" "$RC $(grep -c '^done failures=' "$LOG")"
[[ $RC -eq 0 ]] || sed 's/^/# rsk_test: /' "$LOG" | grep -v '^# rsk_test: check' | tail -20

svc_stop
finish
