#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Start-up failures past the configuration check exit 1 and say what went
# wrong: an EAL option the EAL does not know, a port that does not probe,
# more workers than lcores or queue pairs, TLS files that do not load (a
# client CA file without a certificate, a CRL file without a CRL, a
# certificate not there, a key not the certificate's).
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

# TLS files that do not load: each refused at start with OpenSSL's reason
# (the port is net_ring0: nothing is sent).
key_cert() { # KEY CERT: a key and a self-signed certificate for it
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1" -out "$2" -subj /CN=remsockd -days 1 2>/dev/null
}
key_cert "$TMP/k.pem" "$TMP/c.pem" && key_cert "$TMP/k2.pem" "$TMP/c2.pem" ||
	fail "openssl makes the test's certificates"
echo "not a certificate" >"$TMP/bad.pem"
tls_ini() { # CERT KEY CLIENT_CA
	sed 's/^count = .*/count = 1/; s/^devargs = .*/devargs = net_ring0/; s/^args = .*/args = -l 0,1 --in-memory --no-pci --no-telemetry/' \
		"$TMP/workers.ini" >"$TMP/tls.ini"
	printf '[rpc]\ntls_port = 5758\ntls_cert = %s\ntls_key = %s\n' \
		"$1" "$2" >>"$TMP/tls.ini"
	[[ -n ${3:-} ]] && printf 'tls_client_ca = %s\n' "$3" >>"$TMP/tls.ini"
	[[ -n ${4:-} ]] && printf 'tls_client_crl = %s\n' "$4" >>"$TMP/tls.ini"
	return 0
}
tls_ini "$TMP/c.pem" "$TMP/k.pem" "$TMP/bad.pem"
run_fails "a client CA file that holds no certificate" \
	"[rpc] tls_client_ca: $TMP/bad.pem: " -c "$TMP/tls.ini" --test-secrets
tls_ini "$TMP/c.pem" "$TMP/k.pem" "$TMP/c.pem" "$TMP/bad.pem"
run_fails "a CRL file that holds no CRL" \
	"[rpc] tls_client_crl: $TMP/bad.pem: " -c "$TMP/tls.ini" --test-secrets
tls_ini "$TMP/none.pem" "$TMP/k.pem"
run_fails "a certificate file that is not there" \
	"[rpc] tls_cert: $TMP/none.pem: " -c "$TMP/tls.ini" --test-secrets
tls_ini "$TMP/c.pem" "$TMP/k2.pem"
run_fails "a key that is not the certificate's" \
	"[rpc] tls_key: $TMP/k2.pem: " -c "$TMP/tls.ini" --test-secrets
check "... with OpenSSL's reason: the key values mismatch" \
	grep -q "key values mismatch" "$TMP/err"

finish
