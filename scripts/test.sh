#!/bin/bash
# Runs the suites in already-built trees and prints one closing line,
# "N passed, N failed", counted from meson's own test logs.
#   scripts/test.sh BUILD ASAN_BUILD
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ASAN=${2:-build-asan}
status=0

run() { # dir, meson test args...
	local dir=$1
	shift
	echo "[test] meson test -C $dir $*"
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs "$@" || status=1
	cp "$dir/meson-logs/testlog.json" "$dir/meson-logs/testlog-$RUN_TAG.json" 2>/dev/null
}

# The DPDK integration tests share two cores and the hugepages: one at a
# time.  Everything else runs two at a time.
RUN_TAG=main run "$BUILD" --suite unit --suite wire --suite fuzz --num-processes 2
RUN_TAG=integ run "$BUILD" --suite integration --num-processes 1
# ASan/UBSan code runs a few times slower: the meson timeouts (hang
# guards) scale with it.
RUN_TAG=asan run "$ASAN" --suite unit --suite fuzz --num-processes 2 \
	--timeout-multiplier 3
# The remote socket service's end-to-end tests again under ASan/UBSan:
# remsockd's own code on every method, against real peers; and
# libremsock's threads (calls in flight, reconnects) against it; and
# remsock.Stats with the remsock command (cli_virtio); and the
# API-host HTTP endpoint (service_http); and the tenants' attacks
# (service_attacks); and two workers forwarding calls between them
# (service_workers_tap, client_2w_tap).
RUN_TAG=asan-integ run "$ASAN" --num-processes 1 --timeout-multiplier 3 \
	service_tap service_virtio service_limits client_virtio cli_virtio \
	service_http service_attacks service_workers_tap client_2w_tap

/usr/bin/python3 - "$BUILD/meson-logs/testlog-main.json" \
	"$BUILD/meson-logs/testlog-integ.json" \
	"$ASAN/meson-logs/testlog-asan.json" \
	"$ASAN/meson-logs/testlog-asan-integ.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1   # a suite that left no log did not run
        print(f"[test] missing log {path}")
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
rc=$?
[ $rc -ne 0 ] && exit $rc
exit $status
