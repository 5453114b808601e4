#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# meson install's last step (remsockd/meson.build):
#   post_install.sh SYSCONFDIR/remsock EXAMPLE LIBDIR   (paths as meson gives
#   them: relative ones are under the prefix)
# - puts EXAMPLE at SYSCONFDIR/remsock/remsockd.ini unless a file is there:
#   an operator's configuration is never overwritten;
# - runs ldconfig when installing into the real root as root, so that
#   libremsock.so.0 and LD_PRELOAD=libremsock-preload.so are found at once.
set -eu
under_prefix() {
	case $1 in
	/*) echo "${DESTDIR:-}$1" ;;
	*) echo "${DESTDIR:-}$MESON_INSTALL_PREFIX/$1" ;;
	esac
}
ETC=$(under_prefix "$1")
EXAMPLE=$(under_prefix "$2")
mkdir -p "$ETC"
if [ ! -e "$ETC/remsockd.ini" ]; then
	cp "$EXAMPLE" "$ETC/remsockd.ini"
	chmod 0640 "$ETC/remsockd.ini" # it will hold the apps' secrets
	echo "post_install: $ETC/remsockd.ini (from nic-example.ini: edit it)"
else
	echo "post_install: $ETC/remsockd.ini is there already: left as it is"
fi
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
	ldconfig
	echo "post_install: ldconfig (the new libraries are found)"
fi
