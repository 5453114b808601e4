#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# remsockd's command line and configuration checks: no root, no hugepages.
#
#   config_cli.sh REMSOCKD SOURCE_ROOT
set -uo pipefail
REMSOCKD=$1
SRC=$2
. "$(dirname "$0")/lib.sh"

TMP=$(mktemp -d /tmp/rs-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# run ARGS...: sets OUT, ERR and RC.
run() {
	RC=0
	"$REMSOCKD" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

run --check-config
expect "--check-config on the embedded default exits 0" 0 "$RC"
expect "... and says so" "remsockd: <embedded default.ini>: configuration OK" "$OUT"

# A file serves tenants: the secrets published in remsock's own files
# are refused there, unless --test-secrets says this is a test machine;
# the example's CHANGE-ME placeholder always.
for f in default virtio; do
	run --check-config -c "$SRC/configs/$f.ini"
	expect "configs/$f.ini: its published secrets are refused (exit 2)" \
		"2 1" "$RC $(grep -c 'this secret is published in remsock' "$TMP/err")"
	run --check-config --test-secrets -c "$SRC/configs/$f.ini"
	expect "configs/$f.ini passes --check-config --test-secrets" 0 "$RC"
done
run --check-config --test-secrets -c "$SRC/configs/nic-example.ini"
expect "configs/nic-example.ini: its CHANGE-ME secrets are refused (exit 2)" \
	"2 1" "$RC $(grep -c "still the example's placeholder" "$TMP/err")"
sed 's/CHANGE-ME-/my-own-secret-/' "$SRC/configs/nic-example.ini" >"$TMP/nic.ini"
run --check-config -c "$TMP/nic.ini"
expect "configs/nic-example.ini with secrets of one's own passes" 0 "$RC"
printf '[port]\ndevargs = net_null0\n[net]\nip = 198.18.0.2\n' >"$TMP/noapps.ini"
run --check-config -c "$TMP/noapps.ini"
expect "a file without [apps] does not inherit the demo app (exit 2)" \
	"2 remsockd: $TMP/noapps.ini: [apps]: none: a file given with -c names its own apps and secrets (the embedded default's demo app is for the demo alone)" \
	"$RC $(cat "$TMP/err")"

run --print-default-config
if cmp -s <(printf '%s\n' "$OUT") "$SRC/configs/default.ini"; then
	pass "--print-default-config prints configs/default.ini as built in"
else
	fail "--print-default-config prints configs/default.ini as built in"
fi

printf '[port]\ndevargs = net_tap0\n[net]\nip = 198.18.0.999\n' >"$TMP/bad.ini"
run -c "$TMP/bad.ini"
expect "a bad value is refused with exit code 2" 2 "$RC"
expect "... naming file, section, key and reason" \
	"remsockd: $TMP/bad.ini: [net] ip: '198.18.0.999' is not an IPv4 address" "$ERR"

printf '[port]\ndevargs = net_tap0\nrxdesc = 64\n[net]\nip = 198.18.0.2\n' >"$TMP/key.ini"
run --check-config -c "$TMP/key.ini"
expect "an unknown key is refused by --check-config with exit code 2" 2 "$RC"
expect "... naming it and the known keys" \
	"remsockd: $TMP/key.ini: [port] rxdesc: unknown key (known: devargs, rx_desc, tx_desc, mbufs, mbuf_cache, mtu, link_timeout_ms, tso, lro)" "$ERR"

printf '[ports]\n' >"$TMP/sec.ini"
run -c "$TMP/sec.ini"
expect "an unknown section is refused with exit code 2" 2 "$RC"
expect "... naming it" \
	"remsockd: $TMP/sec.ini: [ports]: unknown section (known: eal, port, net, workers, rpc, limits, sockets, arp, tcp, routes, service, acl, apps, quotas, dns, hosts)" "$ERR"

run -c "$TMP/missing.ini"
expect "a missing file is refused with exit code 2" 2 "$RC"
expect "... saying why" "remsockd: $TMP/missing.ini: cannot read: No such file or directory" "$ERR"

run --stats-interval 0
expect "--stats-interval 0 is a usage error (exit 2)" 2 "$RC"
run --no-such-option
expect "an unknown option is a usage error (exit 2)" 2 "$RC"
run stray
expect "a stray argument before '--' is a usage error (exit 2)" 2 "$RC"

run --help
expect "--help exits 0" 0 "$RC"
for section in NAME SYNOPSIS DESCRIPTION OPTIONS FILES "EXIT STATUS" EXAMPLES; do
	if grep -qx "$section" <<<"$OUT"; then
		pass "--help has a $section section"
	else
		fail "--help has a $section section"
	fi
done

run --version
expect "--version exits 0" 0 "$RC"

finish
