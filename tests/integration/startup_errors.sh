#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Start-up failures past the configuration check exit 1 and say what went
# wrong: an EAL option the EAL does not know, a port that does not probe,
# more workers than lcores.
#
#   startup_errors.sh REMSOCKD
set -uo pipefail
REMSOCKD=$1
. "$(dirname "$0")/lib.sh"
require_tap_host

TMP=$(mktemp -d /tmp/rs-err.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# run WHAT EXPECTED-STDERR-PART ARGS...: exit 1 and the message.
run_fails() {
	local what=$1 want=$2 rc=0
	shift 2
	timeout 60 "$REMSOCKD" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	expect "$what: exit 1" 1 "$rc"
	if grep -qF -- "$want" "$TMP/err"; then
		pass "$what: says '$want'"
	else
		fail "$what: says '$want'" "stderr was:" "$(cat "$TMP/err")"
	fi
}

run_fails "an unknown EAL option" "EAL initialisation failed" \
	-- --no-such-eal-option
check "... and what DPDK said while starting is shown after all" \
	grep -q "^remsockd: DPDK said while starting:" "$TMP/err"

printf '[port]\ndevargs = net_nosuch0\n[net]\nip = 198.18.0.2\n' >"$TMP/port.ini"
run_fails "a port that does not probe" \
	"port: cannot probe 'net_nosuch0' ([port] devargs in $TMP/port.ini)" \
	-c "$TMP/port.ini" --test-secrets

cat >"$TMP/workers.ini" <<'INI'
[eal]
args = -l 0,1 --in-memory --no-pci --no-telemetry
[port]
devargs = net_ring0
[net]
ip = 198.18.0.2
[workers]
count = 1
INI
sed -i 's/^args = .*/args = -l 0 --in-memory --no-pci --no-telemetry/' \
	"$TMP/workers.ini"
run_fails "more workers than lcores" \
	"[workers] count: 1 workers need 1 lcores besides the main one; the EAL has 0" \
	-c "$TMP/workers.ini" --test-secrets
# Two workers on a port with one queue pair (af_packet on loopback, which
# is configured, never started: no packet is sent).
sed -i 's/^count = 1/count = 2/; s/^devargs = .*/devargs = net_af_packet0,iface=lo,qpairs=1/; s/^args = .*/args = --lcores 0@0,1@1,2@0 --in-memory --no-pci --no-telemetry/' \
	"$TMP/workers.ini"
run_fails "more workers than the port has queue pairs" \
	"[workers] count: 2 workers need 2 queue pairs; port net_af_packet0,iface=lo,qpairs=1 has 1 RX and 1 TX queues" \
	-c "$TMP/workers.ini" --test-secrets

finish
