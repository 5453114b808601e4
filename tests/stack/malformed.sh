#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Malformed frames: malformed.py sends a few hundred frames of junk from
# the namespace (scapy; see its list: truncated and inconsistent headers
# of every layer, bad checksums, bad TCP data offsets, options and flags,
# fragments, unknown protocols, ARP garbage), then a normal TCP echo
# exchange with rs_stacktest's tcp-echo.  Checked:
#   - the echo comes back whole: the junk broke nothing;
#   - the stack exits cleanly and leaks nothing (st_clean);
#   - each class of junk is counted under its drop reason, exactly (every
#     reason's counter equals the frames sent for it), except fragments:
#     dropped, or held for reassembly and timed out (at most that many
#     drops);
#   - the drops are at least the junk frames sent (fragments aside), and
#     no junk frame was answered or delivered.
#
#   malformed.sh tap|virtio RS_STACKTEST RS_BRIDGE
set -uo pipefail
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" mal
PORT=7040
PY=/usr/bin/python3 # Debian's python3-scapy is only there

if ! "$PY" -c 'import scapy.all' 2>/dev/null; then
	echo "SKIP: needs python3-scapy for $PY (scripts/setup.sh)"
	exit 77
fi

st_stack "$TB_DIR/stack.log" --timeout 90 --count 1 tcp-echo $PORT ||
	{ fail "rs_stacktest tcp-echo starts"; finish; exit 1; }
P=$TB_DIR/peer.log
tb_ns timeout 80 "$PY" "$(dirname "$0")/malformed.py" "$TB_IFACE" \
	"$TB_PROXY_IP" "$TB_PROXY_MAC" $PORT >"$P" 2>&1
expect "the junk sender and the echo client exit 0" 0 "$?"
grep '^#' "$P"
expect "Linux: the echo after the junk came back whole" "262144 1" \
	"$(st_val "$P" echo_bytes) $(st_val "$P" echo_ok)"
st_stack_wait 30
S=$TB_DIR/stack.log
expect "rs_stacktest exits 0 after its one connection" 0 "$ST_RC"

# Frames sent per reason ("a|b" reasons summed over a and b; "~" ones
# at most: fragments may be held for reassembly and time out instead).
declare -A want=()
junk=0
while read -r _ class reason n; do
	want[$reason]=$((${want[$reason]:-0} + n))
	[[ $reason == "~"* ]] || junk=$((junk + n))
	[[ $n -eq 0 ]] && fail "the kernel sent the $class frames"
done < <(grep '^junk ' "$P")
expect "malformed.py sent 300 frames of junk or more" 1 "$(st_ge "$junk" 300)"
reasons=()
for r in "${!want[@]}"; do
	got=0
	for one in ${r//[|~]/ }; do
		reasons+=("$one")
		v=$(tb_counter "$S" "drop.$one")
		got=$((got + ${v:-0}))
	done
	if [[ $r == "~"* ]]; then
		expect "junk counted as ${r#"~"} or kept" 1 \
			"$(st_ge "${want[$r]}" "$got")"
	else
		expect "junk counted as $r" "${want[$r]}" "$got"
	fi
done
dropped=$(tb_counter "$S" dropped)
expect "drops ($dropped) >= junk frames ($junk)" 1 "$(st_ge "${dropped:-0}" "$junk")"
expect "no junk answered: ARP replies are the kernel's asks only" 1 \
	"$(st_ge 2 "$(tb_counter "$S" event.arp_replied)")"
expect "no junk delivered to a socket" 0 "$(tb_counter "$S" event.udp_delivered)"
st_clean "$S" "malformed" "${reasons[@]}"
finish
