#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Virtio mode: configs/virtio.ini (virtio_user) against a second remsockd
# on net_vhost as the vhost-user backend, DPDK to DPDK with no kernel
# between.  Neither side originates traffic yet except the gratuitous ARPs
# announcing its address at start (two, 2 s apart), so the test checks
# that each side receives the other's: the virtqueues carry packets both
# ways.  Then both must stop cleanly.
#
#   virtio_pair.sh REMSOCKD SOURCE_ROOT
set -uo pipefail
REMSOCKD=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../testbed/testbed.sh" # tb__wait_for
require_tap_host

TMP=$(mktemp -d /tmp/rs-virtio.XXXXXX)
SOCK=$TMP/vhost.sock
VH_PID=
VU_PID=

# stop PID: SIGTERM, wait at most 15 s, then SIGKILL; sets RC.
stop() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 150); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	RC=0
	wait "$1" || RC=$?
}

cleanup() {
	local rc=$?
	[[ -n $VU_PID ]] && stop "$VU_PID"
	[[ -n $VH_PID ]] && stop "$VH_PID"
	if [[ $rc -ne 0 ]]; then
		for f in "$TMP"/*.log; do
			echo "# $f:"
			grep -v VHOST_CONFIG "$f" | sed 's/^/#   /'
		done
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

counter() {
	awk -v k="$2" '$1 == k {print $2; exit}' "$1"
}

cat >"$TMP/vhost.ini" <<INI
[eal]
args = -l 0,1 --in-memory --no-pci --no-telemetry --log-level=lib.eal:notice --log-level=lib.vhost.config:warning
[port]
devargs = net_vhost0,iface=$SOCK,queues=1
link_timeout_ms = 20000
[net]
ip = 198.18.0.3
INI
sed "s|path=/tmp/remsock-vhost.sock|path=$SOCK|" "$SRC/configs/virtio.ini" >"$TMP/virtio.ini"
check "configs/virtio.ini with the test's socket passes --check-config" \
	"$REMSOCKD" -c "$TMP/virtio.ini" --test-secrets --check-config

"$REMSOCKD" -c "$TMP/vhost.ini" --test-secrets --stats-interval 1 >"$TMP/vhost.log" 2>&1 &
VH_PID=$!
check "the vhost-user backend creates its socket" \
	bash -c "for i in \$(seq 600); do [[ -S $SOCK ]] && exit 0; sleep 0.1; done; exit 1"
"$REMSOCKD" -c "$TMP/virtio.ini" --test-secrets --stats-interval 1 >"$TMP/virtio.log" 2>&1 &
VU_PID=$!

check "the virtio_user side comes up" tb__wait_for "$TMP/virtio.log" '^remsockd: ready' 60
check "the vhost side comes up once the virtio side connects" \
	tb__wait_for "$TMP/vhost.log" '^remsockd: ready' 60
check "the virtio side receives the vhost side's gratuitous ARP" \
	tb__wait_for "$TMP/virtio.log" 'Z stats: rx [1-9]' 60
check "the vhost side receives the virtio side's gratuitous ARP" \
	tb__wait_for "$TMP/vhost.log" 'Z stats: rx [1-9]' 60

stop "$VU_PID"
VU_PID=
expect "the virtio side exits 0 on SIGTERM" 0 "$RC"
stop "$VH_PID"
VH_PID=
expect "the vhost side exits 0 on SIGTERM" 0 "$RC"
for side in virtio vhost; do
	log=$TMP/$side.log
	expect "$side side: no packet unexplained" 0 "$(counter "$log" unexplained)"
	expect "$side side: no mbuf in use after close" 0 \
		"$(counter "$log" mbufs_in_use_after_close)"
	seen=$(counter "$log" drop.arp_not_ours)
	if [[ ${seen:-0} -ge 1 ]]; then
		pass "$side side: the peer's announcements were seen, not answered ($seen)"
	else
		fail "$side side: the peer's announcements were seen, not answered" \
			"drop.arp_not_ours = ${seen:-missing}"
	fi
done

finish
