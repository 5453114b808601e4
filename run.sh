#!/bin/bash
# remsock's two ways in; each sets the machine up first (scripts/setup.sh).
#
#   ./run.sh demo   run remsockd on its embedded default config (tap mode) in
#                   a namespace of its own and show it answering there
#   ./run.sh test   run every test suite: unit, wire, integration in the main
#                   build, and the unit suite and the service tests again
#                   under ASan/UBSan; ends with the line "N passed, N failed"
set -euo pipefail
cd "$(dirname "$0")"

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
demo)
	scripts/setup.sh build
	RS_BUILD=build exec scripts/demo.sh
	;;
test)
	scripts/setup.sh --asan build
	exec scripts/test.sh build build-asan
	;;
-h|--help|help) usage ;;
*) usage >&2; exit 2 ;;
esac
