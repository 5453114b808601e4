#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# `meson install` of libremsock into a scratch DESTDIR: the header, the
# shared and static libraries and remsock.pc are there, and a program
# built with `pkg-config remsock` (and `--static`) compiles against the
# header, links and runs.  The shared library exports the rsk_* API only.
# The remsock command is installed too and runs on the installed library.
#
#   install.sh BUILD_DIR
set -uo pipefail
BUILD=$1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
command -v pkg-config >/dev/null || skip_all "needs pkg-config"
# A sanitizer build's libraries need the sanitizer's runtime in whatever
# links them: packaging is checked on the plain build.
SAN=$(meson introspect "$BUILD" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"))')
[[ $SAN == none ]] || skip_all "a sanitizer build ($SAN): see the plain build"
DEST=$(mktemp -d /tmp/rsk-install.XXXXXX)
trap 'rm -rf "$DEST"' EXIT

check "meson install" meson install -C "$BUILD" --no-rebuild --quiet \
	--destdir "$DEST"
PREFIX=$(meson introspect "$BUILD" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
PC=$(find "$DEST" -name remsock.pc | head -1)
LIB=$(dirname "$(dirname "$PC")")
expect "the header is installed" 1 "$(find "$DEST" -name remsock.h | wc -l)"
expect "libremsock.so, libremsock.a and remsock.pc are installed" "1 1 1" \
	"$(find "$LIB" -maxdepth 1 -name 'libremsock.so' | wc -l) $(find "$LIB" \
		-maxdepth 1 -name libremsock.a | wc -l) $([[ -f $PC ]] && echo 1)"
expect "the shared library exports rsk_* only" "" \
	"$(nm -D --defined-only "$LIB/libremsock.so" | awk '$3 !~ /^(rsk_|REMSOCK_)/ {print $3}')"

CMD=$(find "$DEST" -path '*/bin/remsock' -type f | head -1)
HELP=$("$CMD" --help 2>&1)
expect "the remsock command is installed and runs on the installed library, with no LD_LIBRARY_PATH or ldconfig" \
	"0 NAME $(realpath "$LIB/libremsock.so.0")" "$? $(head -1 <<<"$HELP") $(realpath \
		"$(ldd "$CMD" 2>/dev/null | awk '$1 == "libremsock.so.0" {print $3}')")"

DAEMON=$(find "$DEST" -path '*/sbin/remsockd' -type f | head -1)
expect "remsockd is installed in sbin and runs" "remsockd $(meson introspect \
	"$BUILD" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" \
	"$("$DAEMON" --version 2>&1)"
ETC=$(find "$DEST" -path '*/remsock/remsockd.ini' | head -1)
expect "a configuration is installed: nic-example.ini, as remsockd.ini (0640)" \
	"640 same" "$(stat -c %a "$ETC") $(cmp -s "$ETC" \
	"$(dirname "$0")/../../configs/nic-example.ini" && echo same)"
UNIT=$(find "$DEST" -path '*/systemd/system/remsockd.service' | head -1)
# systemd-analyze checks the unit as systemd reads it, against the
# installed programs (their DESTDIR paths here).
sed "s#=$PREFIX/#=$DEST$PREFIX/#g" "$UNIT" >"$DEST/unit-check.service"
expect "the systemd unit is installed and systemd-analyze verify finds nothing" \
	"0 " "$(systemd-analyze verify "$DEST/unit-check.service" 2>&1; echo "$? ")"
check "the examples are installed" test -f \
	"$(find "$DEST" -path '*/share/remsock/examples/default.ini' | head -1)"
expect "the man pages are installed: remsock(1) and its commands', libremsock(3), remsockd.ini(5), remsockd(8), remsock-preload(8)" \
	"libremsock.3 remsock-fetch.1 remsock-nc.1 remsock-preload.8 remsock-resolve.1 remsock-run.1 remsock-stats.1 remsock.1 remsockd.8 remsockd.ini.5" \
	"$(find "$DEST" -path '*/share/man/man[1358]/*' -type f -printf '%f\n' | LC_ALL=C sort | paste -sd' ')"
MAN5=$(find "$DEST" -path '*/man/man5/remsockd.ini.5' | head -1)
expect "remsockd.ini(5) is installed and names the installed config" 1 \
	"$(grep -c "^\.B $PREFIX/etc/remsock/remsockd.ini\$" "${MAN5:-/dev/null}")"
rc=0
"$DAEMON" -c "$ETC" --check-config >/dev/null 2>"$DEST/check.err" || rc=$?
expect "remsockd refuses it until its secrets are set (exit 2)" \
	"2 1" "$rc $(grep -c "the secret is still the example's placeholder" "$DEST/check.err")"
echo "; an operator's edit" >>"$ETC"
check "meson install again" meson install -C "$BUILD" --no-rebuild --quiet \
	--destdir "$DEST"
check "leaves an existing remsockd.ini as it is" grep -q "an operator's edit" "$ETC"

cat >"$DEST/use.c" <<'C'
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <remsock.h>

int main(void)
{
	/* No proxy needed: the error tables, and a socket call that fails
	 * for want of a configured connection. */
	int fd = rsk_socket(AF_INET, SOCK_STREAM, 0);

	printf("%d %d %d %d\n", rsk_errno_from_error(0, 1, ECONNREFUSED),
	       rsk_eai_from_error(8) == EAI_NONAME, fd, errno == EINVAL);
	return 0;
}
C
export PKG_CONFIG_PATH="$DEST$PREFIX/${LIB#"$DEST$PREFIX/"}/pkgconfig"
# The .pc names the real prefix; point it at the scratch tree.
export PKG_CONFIG_SYSROOT_DIR=$DEST
unset REMSOCK_ADDR REMSOCK_APP REMSOCK_SECRET
WANT="$(printf '%d 1 -1 1' "$(python3 -c 'import errno; print(errno.ECONNREFUSED)')")"
# shellcheck disable=SC2046 # pkg-config's words on purpose
check "a program builds with pkg-config remsock" cc -o "$DEST/use" \
	"$DEST/use.c" $(pkg-config --cflags --libs remsock)
expect "and runs against the shared library" "$WANT" \
	"$(LD_LIBRARY_PATH=$LIB "$DEST/use" 2>&1)"
# shellcheck disable=SC2046
check "a program builds with pkg-config --static remsock" cc -o \
	"$DEST/use_static" "$DEST/use.c" -Wl,-Bstatic \
	$(pkg-config --static --libs-only-L remsock) -lremsock -Wl,-Bdynamic \
	$(pkg-config --static --libs-only-other remsock) \
	$(pkg-config --static --libs-only-l remsock | sed "s/-lremsock//") \
	$(pkg-config --cflags remsock)
expect "and runs without libremsock.so" "$WANT" "$("$DEST/use_static" 2>&1)"
expect "the static program does not need libremsock.so" "" \
	"$(ldd "$DEST/use_static" | grep remsock)"

# The README's C example, as printed there: it builds, and without a
# proxy configured it says what to set.
sed -n '/^  ```c$/,/^  ```$/p' "$(dirname "$0")/../../README.md" |
	sed '1d;$d;s/^  //' >"$DEST/readme.c"
# shellcheck disable=SC2046
check "the README's C example builds (-Wall -Werror)" cc -Wall -Werror \
	-o "$DEST/readme" "$DEST/readme.c" $(pkg-config --cflags --libs remsock)
rc=0
LD_LIBRARY_PATH=$LIB "$DEST/readme" >/dev/null 2>"$DEST/readme.err" || rc=$?
expect "and, with REMSOCK_ADDR unset, fails saying to set it" \
	"1 Invalid argument: REMSOCK_ADDR is not set" \
	"$rc $(cut -d: -f1-2 "$DEST/readme.err")"

# Uninstall removes what install put there (the install log names the
# DESTDIR paths); the operator's configuration stays.
check "ninja uninstall" ninja -C "$BUILD" uninstall
expect "no program or library is left" "" \
	"$(find "$DEST" -type f \( -name 'remsock*' -o -name 'libremsock*' \) ! -name remsockd.ini)"
check "remsockd.ini is kept" test -f "$ETC"
finish
