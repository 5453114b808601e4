#!/bin/bash
# remsock set-up for a Debian 12 machine, as root: packages, hugepages, build.
#
# Idempotent and cheap to re-run: packages already present are not fetched
# again, hugepages already reserved are left alone, and the build is
# incremental.  Usage: scripts/setup.sh [--asan] [BUILD_DIR]
#   --asan     also configure and build the AddressSanitizer/UBSan tree
#              (build-asan), which the test command runs the unit suite in.
#   BUILD_DIR  the main build tree (default: build).
set -euo pipefail

cd "$(dirname "$0")/.."
ASAN=0
BUILD=build
for a in "$@"; do
	case "$a" in
	--asan) ASAN=1 ;;
	-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "setup: unknown option '$a' (try --help)" >&2; exit 2 ;;
	*) BUILD=$a ;;
	esac
done

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: it installs packages and reserves hugepages"

# Build, test and perf tools.  golang-google-appengine-dev is only read: it
# installs App Engine's .proto files, which the wire test checks against;
# python3-scapy crafts the malformed frames of tests/stack/malformed.sh;
# dnsmasq-base is the DNS server (binary only, no service) that the
# service tests resolve names against; iperf3 is perf/tcp_bulk.py's
# Linux baseline; libhttp-parser-dev parses the API-host endpoint's HTTP;
# curl and iperf3 run under the LD_PRELOAD shim in tests/client/preload.sh.
# The remote socket benchmark (perf/run): haproxy is a baseline,
# dpdk-dev has dpdk-testpmd (the link's ceiling), gnuplot-nox draws the
# plots, linux-perf profiles remsockd (--profile).  systemd (Debian's
# init; named for its systemd-analyze) checks the installed unit.
# libssl-dev: the TLS port; openssl makes the tests' certificates.
# prometheus (promtool too) checks and scrapes GET /metrics in the tests;
# its own service is not left running where this installs it (nor is
# redis-server's: the shim's tests run redis-server and redis-cli, dig
# from bind9-dnsutils, in the test namespace).  man-db
# renders the man pages the build makes (test man_pages).
PACKAGES=(
	build-essential pkg-config meson ninja-build
	libdpdk-dev dpdk
	protobuf-c-compiler libprotobuf-c-dev protobuf-compiler python3
	python3-protobuf python3-scapy golang-google-appengine-dev
	libjemalloc-dev libcmocka-dev libc-ares-dev libhttp-parser-dev
	libssl-dev openssl
	iproute2 iputils-ping procps dnsmasq-base iperf3 curl
	haproxy dpdk-dev gnuplot-nox linux-perf systemd prometheus man-db
	redis-server redis-tools bind9-dnsutils
)

install_packages() {
	local missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "packages: all ${#PACKAGES[@]} present"
		return
	fi
	say "packages: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
	if [[ -d /run/systemd/system ]]; then
		for p in prometheus redis-server; do
			if [[ " ${missing[*]} " == *" $p "* ]]; then
				systemctl disable --now "$p" >/dev/null 2>&1 || true
			fi
		done
	fi
}

# DPDK takes its memory from 2 MiB hugepages.  1 GiB is enough for the
# proxy, a bridge and the test programs side by side.
HUGEPAGES=${RS_HUGEPAGES:-512}
setup_hugepages() {
	local have
	have=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
	if [ "$have" -lt "$HUGEPAGES" ]; then
		echo "$HUGEPAGES" >/proc/sys/vm/nr_hugepages ||
			die "cannot write /proc/sys/vm/nr_hugepages"
		have=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
		[ "$have" -ge 64 ] ||
			die "only $have hugepages could be reserved (memory too fragmented?)"
	fi
	if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
		mkdir -p /dev/hugepages
		mount -t hugetlbfs nodev /dev/hugepages ||
			die "cannot mount hugetlbfs on /dev/hugepages"
	fi
	say "hugepages: $have x 2 MiB, hugetlbfs on /dev/hugepages"
}

build_tree() { # dir, extra meson options...
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		say "meson: configuring $dir $*"
		meson setup "$dir" "$@" >"/tmp/remsock-meson-$$.log" 2>&1 || {
			cat "/tmp/remsock-meson-$$.log" >&2
			die "meson setup $dir failed"
		}
		rm -f "/tmp/remsock-meson-$$.log"
	fi
	say "ninja: building $dir"
	ninja -C "$dir" >"/tmp/remsock-ninja-$$.log" 2>&1 || {
		cat "/tmp/remsock-ninja-$$.log" >&2
		die "build of $dir failed"
	}
	rm -f "/tmp/remsock-ninja-$$.log"
}

install_packages
setup_hugepages
build_tree "$BUILD"
if [ "$ASAN" = 1 ]; then
	build_tree build-asan -Dbuildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
if [ "$ASAN" = 1 ]; then say "ready: $BUILD and build-asan"; else say "ready: $BUILD"; fi
