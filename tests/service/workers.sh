#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsockd with two workers (issue 19): svc_workers.py in the namespace
# uses one worker's sockets from a connection on the other (forwarded data
# calls, control-plane calls run where the socket lives, an Accept, a
# cancellation, batches over both split and merged), then remsockd must
# stop with nothing left, every forwarded call taken.
#
#   workers.sh tap|virtio REMSOCKD RS_BRIDGE SOURCE_ROOT
set -uo pipefail
MODE=$1
REMSOCKD=$2
TB_BRIDGE=$3
SRC=$4
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/svc_lib.sh"

TB_WORKERS=2
TB_INI_EXTRA="[tcp]
time_wait_ms = 500
close_grace_ms = 10000
[apps]
demo = demo-secret-not-for-production"

svc_up "$MODE" workers "$REMSOCKD"
svc_client "$TB_DIR/client.log" "$HERE/svc_workers.py" "$SRC/proto" \
	"$HERE/../stack" "$TB_PROXY_IP" 5757 "$TB_PEER_IP" 7070 7071
svc_stop
FWD=$(tb_counter "$SVC_LOG" rpc.fwd_out)
expect "calls crossed between the workers" 1 "$(((${FWD:-0} > 0)))"
finish
