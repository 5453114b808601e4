#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# TCP through an impaired link: rs_bridge impairs both directions of the
# wire (netem's model; this kernel has no netem) -- in virtio mode the
# bridge is there anyway, in tap mode it joins the stack's tap (af_packet)
# to one in the namespace -- and 64 MiB (16 MiB for all; RS_FAULT_BYTES)
# cross it each way with SHA-256 checked at both ends:
#   1. Linux -> stack (tcp-discard);
#   2. stack -> Linux (tcp-source).
# Each direction has RS_FAULT_SECONDS (120; 240 for all) to finish.  Then the stack
# must explain every packet it dropped (corrupt frames fail checksums,
# duplicates fall out of the window) and have leaked nothing; the bridge's
# counters show the impairment really happened.
#
#   tcp_faults.sh tap|virtio RS_STACKTEST RS_BRIDGE PROFILE
#   PROFILE: loss | dup | reorder | delay | corrupt | all | wan
#   (wan: the impairment RS_FAULT_SPEC, e.g. delay=50:5,order=keep,loss=1,
#   with room in the bridge for a long path's frames; perf/wan.py's)
# RS_FAULT_SEED seeds the bridge's draws (7); RS_FAULT_WAYS picks the
# transfers: both (the default), to (1. only) or from (2. only) -- a
# fresh bridge for each, so that a transfer meets the same losses, frame
# for frame, as another run with the same seed (perf/wan.py pairs the
# stack's transfer with Linux's so).
set -uo pipefail
PROFILE=$4
case $PROFILE in
loss) SPEC=loss=1 ;;
dup) SPEC=dup=1 ;;
reorder) SPEC=delay=5,reorder=25:50 ;;
delay) SPEC=delay=5:2 ;;
corrupt) SPEC=corrupt=0.1 ;;
all) SPEC=loss=1,dup=1,delay=5:2,reorder=25:50,corrupt=0.1 ;;
wan) SPEC=${RS_FAULT_SPEC:?"RS_FAULT_SPEC: the impairment"} ;;
*) echo "unknown profile '$PROFILE'" >&2; exit 2 ;;
esac
WAYS=${RS_FAULT_WAYS:-both}
case $WAYS in
both | to | from) ;;
*) echo "RS_FAULT_WAYS: both, to or from, not '$WAYS'" >&2; exit 2 ;;
esac
TB_BRIDGE_ARGS="--impair $SPEC --seed ${RS_FAULT_SEED:-7}"
[[ $PROFILE == wan ]] && TB_BRIDGE_ARGS+=" --mbufs 65535"
. "$(dirname "$0")/stack_lib.sh" "$1" "$2" "$3" "f$PROFILE"
BYTES=${RS_FAULT_BYTES:-67108864}
DEFAULT_LIMIT=120
# All faults at once: a quarter of the bytes, twice the time (about 10 s
# a direction here), so the limit stays a bound for a hang, not a rate.
[[ $PROFILE == all ]] && BYTES=${RS_FAULT_BYTES:-16777216} DEFAULT_LIMIT=240
LIMIT=${RS_FAULT_SECONDS:-$DEFAULT_LIMIT}
echo "# impairment: $SPEC, both directions"

# fault_clean LOG WHAT: every packet explained, nothing leaked.
fault_clean() {
	expect "$2: no packet unexplained" 0 "$(tb_counter "$1" unexplained)"
	expect "$2: no socket, connection or mbuf left" \
		"sockets_open=0 tcp_conns=0 tcp_conns_at_stop=0 mbufs_in_use=0" \
		"$(awk '$1 == "leak" {print $2, $3, $4, $5}' "$1")"
	echo "# stack: $(awk '$1 ~ /^drop\./ {printf "%s=%s ", $1, $2}' "$1")"
	echo "# stack: retransmitted $(tb_counter "$1" event.tcp.retrans_segs)," \
		"fast retransmits $(tb_counter "$1" event.tcp.fast_retrans)," \
		"RTOs $(tb_counter "$1" event.tcp.rto_fired)"
	echo "# stack: SACK recoveries $(tb_counter "$1" event.tcp.sack_recovery)," \
		"undone as spurious $(tb_counter "$1" event.tcp.spurious_recovery)" \
		"+ $(tb_counter "$1" event.tcp.dsack_undo) (D-SACK)," \
		"duplicate ACKs $(tb_counter "$1" event.tcp.dup_acks)," \
		"out-of-order segments in $(tb_counter "$1" event.tcp.ooo_segs)" \
		"($(tb_counter "$1" event.tcp.ooo_dropped) dropped)"
	echo "# stack: rings tuned: receive $(tb_counter "$1" event.tcp.rcv_tuned)," \
		"send $(tb_counter "$1" event.tcp.snd_tuned)," \
		"refused $(tb_counter "$1" event.tcp.tune_refused);" \
		"HyStart++ CSS $(tb_counter "$1" event.tcp.hystart_css)," \
		"to CA $(tb_counter "$1" event.tcp.hystart_ca)"
	echo "# stack: RACK lost $(tb_counter "$1" event.tcp.rack_lost)," \
		"lost resends $(tb_counter "$1" event.tcp.rack_lost_rtx)," \
		"reordering timer $(tb_counter "$1" event.tcp.rack_reo_timeouts)," \
		"reordering seen $(tb_counter "$1" event.tcp.rack_reordering);" \
		"TLP probes $(tb_counter "$1" event.tcp.tlp_probes)"
	echo "# stack: ACKs that found cwnd unused (application limited)" \
		"$(tb_counter "$1" event.tcp.app_limited_acks)," \
		"partial ACKs $(tb_counter "$1" event.tcp.partial_acks)," \
		"paced $(tb_counter "$1" event.tcp.paced)"
}

# 1. Linux -> stack
if [[ $WAYS != from ]]; then
st_stack "$TB_DIR/discard.log" --timeout $((LIMIT + 10)) --count 1 \
	tcp-discard 7010 || { fail "tcp-discard starts"; finish; exit 1; }
st_peer_run "$TB_DIR/send.log" --timeout "$LIMIT" tcp-send "$TB_PROXY_IP" \
	7010 "$BYTES" 1
st_stack_wait 30
S=$TB_DIR/discard.log P=$TB_DIR/send.log
expect "Linux -> stack through '$SPEC': $BYTES bytes within $LIMIT s" \
	"0 $BYTES $BYTES" \
	"$ST_PEER_RC $(st_val "$P" bytes) $(st_val "$S" bytes)"
expect "Linux -> stack: SHA-256 matches" "$(st_val "$P" sha256)" \
	"$(st_val "$S" sha256)"
echo "# Linux -> stack: $(st_val "$S" mbit_s) Mbit/s ($(st_val "$S" seconds) s)"
fault_clean "$S" "Linux -> stack"
fi

# 2. stack -> Linux
if [[ $WAYS != to ]]; then
st_peer "$TB_DIR/recv.log" --timeout $((LIMIT + 20)) tcp-listen-discard \
	7011 1 || fail "the Linux reader starts"
st_stack "$TB_DIR/source.log" --timeout "$LIMIT" tcp-source \
	"$TB_PEER_IP:7011" "$BYTES" 2 || fail "tcp-source starts"
st_stack_wait $((LIMIT + 10))
st_peer_wait 30
S=$TB_DIR/source.log P=$TB_DIR/recv.log
expect "stack -> Linux through '$SPEC': $BYTES bytes within $LIMIT s" \
	"0 $BYTES $BYTES" "$ST_RC $(st_val "$S" bytes) $(st_val "$P" bytes)"
expect "stack -> Linux: SHA-256 matches" "$(st_val "$S" sha256)" \
	"$(st_val "$P" sha256)"
echo "# stack -> Linux: $(st_val "$S" mbit_s) Mbit/s ($(st_val "$S" seconds) s)"
fault_clean "$S" "stack -> Linux"
fi

tb_bridge_stop
B=$TB_DIR/bridge.log
case $PROFILE in
loss | all) K=lost ;;
dup) K=duplicated ;;
reorder) K=reordered ;;
delay | wan) K=delayed ;;
corrupt) K=corrupted ;;
esac
N=$(($(tb_counter "$B" "vhost_to_tap.$K") + $(tb_counter "$B" "tap_to_vhost.$K")))
expect "the bridge really impaired the link ($K: $N frames)" 1 "$((N > 0))"
grep -E '^  (vhost_to_tap|tap_to_vhost)\.' "$B" | tr '\n' ' ' | sed 's/^/# bridge: /'
echo
finish
