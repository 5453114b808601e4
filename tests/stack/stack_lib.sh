# SPDX-License-Identifier: BSD-3-Clause
# What the stack test scripts share, on top of tests/integration/lib.sh
# (ok/not ok lines) and tests/testbed/testbed.sh (the test network).
#
#   . stack_lib.sh MODE RS_STACKTEST RS_BRIDGE NAME
#       loads both, brings the testbed up in MODE (tap|virtio) as NAME
#   st_stack LOG ARGS...     start rs_stacktest on the testbed's config;
#                            client modes wait for the network (go file)
#   st_stack_wait [SECS]     wait for it to finish by itself; ST_RC
#   st_stack_stop            SIGTERM it (servers); ST_RC
#   st_peer LOG ARGS...      peer.py in the namespace, in the background;
#                            returns once a server peer is listening;
#                            ST_PEER_PID
#   st_peer_run LOG ARGS...  peer.py in the namespace, in the foreground;
#                            ST_PEER_RC
#   st_peer_wait [SECS]      wait for the background peer; ST_PEER_RC
#   st_val LOG KEY           KEY's value on the last "result" line of LOG
#                            that has it
#   st_ge A B                1 when A is a number >= B, else 0
#   st_established FILTER    whether Linux has an established TCP socket
#                            matching the ss(8) FILTER ("dport = :7030");
#                            for tb_until
#   st_segs_in FILTER        segments Linux's first socket matching the
#                            ss(8) FILTER has received (0 when none)
#   st_clean LOG WHAT [--tx-drops-ok] [DROP...]
#                            the checks every run of the stack ends with:
#                            no packet unexplained, nothing leaked, and no
#                            drop except IPv6/multicast noise and the
#                            DROPs named (reasons expected by the test);
#                            nothing refused by the TX queue (or only a
#                            note of it)
#   st_echo_from_linux N BYTES PORT
#                            Linux opens N connections at once to the
#                            stack's tcp-echo on PORT, each echoing BYTES:
#                            all must echo correctly on both sides; S and
#                            P are then the stack's and Linux's logs
#   st_nstat FILE, st_delta FILE0 FILE1 NAME, st_clean_tcp LOG WHAT F0 F1
#                            Linux's counters, and st_clean for runs with
#                            retransmissions (see st_clean_tcp)

ST_MODE=$1
ST_STACKTEST=$2
TB_BRIDGE=$3
ST_NAME=$4
ST_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ST_PEER_PY=$ST_HERE/peer.py
. "$ST_HERE/../integration/lib.sh"
. "$ST_HERE/../testbed/testbed.sh"

# Short timers, so that a test's connections are gone before the stack
# stops: TIME-WAIT in 0.5 s (ST_TIME_WAIT_MS); closes at the end may take
# 10 s (a lost FIN and its backed-off retransmission on a loaded host),
# which costs nothing when they finish sooner.  A script may set
# ST_TCP_EXTRA to [tcp] lines of its own before sourcing this (they
# replace the close_grace_ms line, so give one), and ST_INI_EXTRA to more
# sections.
TB_INI_EXTRA="[tcp]
time_wait_ms = ${ST_TIME_WAIT_MS:-500}
${ST_TCP_EXTRA:-close_grace_ms = 10000}
${ST_INI_EXTRA:-}"

if ! tb_up "$ST_MODE" "$ST_NAME"; then
	fail "the $ST_MODE testbed comes up"
	finish
	exit 1
fi

st_stack() {
	local log=$1
	shift
	ST_LOG=$log
	tb_start "$log" "$ST_STACKTEST" -c "$TB_CONF" --go-file "$TB_GO" "$@"
}

st_stack_wait() {
	tb_wait "${1:-60}"
	ST_RC=$TB_RC
}

st_stack_stop() {
	tb_stop
	ST_RC=$TB_RC
}

st_peer() {
	local log=$1
	shift
	tb_ns_bg "$log" python3 "$ST_PEER_PY" "$@"
	ST_PEER_PID=$TB_BG_PID
	ST_PEER_LOG=$log
	case $1 in
	--timeout) [[ $3 == tcp-listen-* ]] || return 0 ;;
	tcp-listen-*) ;;
	*) return 0 ;;
	esac
	tb__wait_for "$log" '^listening' 60 "$ST_PEER_PID"
}

# st__show LOG WHO: the result lines, as comments.
st__show() {
	grep '^result' "$1" 2>/dev/null | sed "s/^/# $2: /"
}

st_peer_run() {
	local log=$1
	shift
	ST_PEER_RC=0
	tb_ns python3 "$ST_PEER_PY" "$@" >"$log" 2>&1 || ST_PEER_RC=$?
	st__show "$log" "Linux"
}

st_peer_wait() {
	local secs=${1:-60} i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$ST_PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$ST_PEER_PID" 2>/dev/null; then
		tb__kill "$ST_PEER_PID" 5
		ST_PEER_RC=124
	else
		ST_PEER_RC=0
		wait "$ST_PEER_PID" || ST_PEER_RC=$?
	fi
	st__show "$ST_PEER_LOG" "Linux"
}

st_val() {
	awk -v k="$2" '
		$1 == "result" {
			for (i = 2; i <= NF; i++)
				if (index($i, k "=") == 1)
					v = substr($i, length(k) + 2)
		}
		END { print v }' "$1"
}

st_established() {
	tb_ns ss -Htn state established "$1" | grep -q .
}

st_segs_in() {
	tb_ns ss -Htni state established "$1" |
		sed -n 's/.*segs_in:\([0-9]*\).*/\1/p' | head -1 | grep . || echo 0
}

st_ge() {
	if [[ ${1:-x} =~ ^[0-9]+$ ]] && (($1 >= $2)); then echo 1; else echo 0; fi
}

st_echo_from_linux() {
	local n=$1 bytes=$2 port=$3
	st_stack "$TB_DIR/server.log" --timeout 120 --count "$n" tcp-echo \
		"$port" || fail "tcp-echo starts"
	st_peer_run "$TB_DIR/client.log" --timeout 90 tcp-many \
		"$TB_PROXY_IP" "$port" "$n" "$bytes" 9
	P=$TB_DIR/client.log
	expect "Linux -> stack: $n connections echoed correctly (exit 0)" \
		"$n 0 0" "$(st_val "$P" ok) $(st_val "$P" failed) $ST_PEER_RC"
	st_stack_wait 30
	S=$TB_DIR/server.log
	expect "Linux -> stack: tcp-echo served $n, none failed (exit 0)" \
		"$n 0 0" "$(st_val "$S" conns) $(st_val "$S" failed) $ST_RC"
	echo "# $ST_MODE mode, Linux -> stack: $n connections in" \
		"$(st_val "$P" seconds) s"
}

# st_nstat FILE: Linux's counters in the namespace now (per namespace, so
# exactly the test's traffic).
st_nstat() {
	tb_ns nstat -saz >"$1" 2>/dev/null
}

# st_delta FILE0 FILE1 NAME: how much a counter grew.
st_delta() {
	local a b
	a=$(awk -v k="$3" '$1 == k {print $2}' "$1")
	b=$(awk -v k="$3" '$1 == k {print $2}' "$2")
	echo $((${b:-0} - ${a:-0}))
}

st_clean() {
	local log=$1 what=$2 allowed="drop.eth_multicast drop.eth_ipv6" drops
	local tx_ok=0 d
	shift 2
	if [[ ${1:-} == --tx-drops-ok ]]; then
		tx_ok=1
		shift
	fi
	st__show "$log" "stack"
	for d in "$@"; do allowed+=" drop.$d"; done
	# Several workers in tap mode: the kernel's tap picks a queue for a
	# flow by its hash until the stack first writes a packet of the flow,
	# and from then on the queue it was written on -- but it learns that
	# only after handing the written packet up, so Linux's answer to it
	# (the handshake's ACK) may still leave by hash, to the other worker,
	# while the data after it goes straight to the owner.  Taken first,
	# the data makes that ACK old: an out-of-window drop.  (Seen in
	# stack_malformed_2w; a port that hashes as we ask has no such turn.)
	((${TB_WORKERS:-1} > 1)) && [[ $TB_MODE == tap ]] &&
		allowed+=" drop.tcp_out_of_window"
	expect "$what: no packet unexplained" 0 "$(tb_counter "$log" unexplained)"
	expect "$what: no socket, connection or mbuf left" \
		"sockets_open=0 tcp_conns=0 tcp_conns_at_stop=0 mbufs_in_use=0" \
		"$(awk '$1 == "leak" {print $2, $3, $4, $5}' "$log")"
	drops=$(awk '$1 ~ /^drop\./ {print $1 "=" $2}' "$log" | tr '\n' ' ')
	[[ -n $drops ]] && echo "# stack: drops $drops"
	drops=$(awk -v ok=" $allowed " '
		$1 ~ /^drop\./ && index(ok, " " $1 " ") == 0 {print $1 "=" $2}
		' "$log" | tr '\n' ' ')
	expect "$what: no drop but ${allowed// /, }" "" "$drops"
	if ((${TB_WORKERS:-1} > 1)); then
		echo "# stack, $TB_WORKERS workers: packets steered" \
			"$(tb_counter "$log" event.steered_out) (taken" \
			"$(tb_counter "$log" event.steered_in)), held back for a" \
			"full ring $(tb_counter "$log" event.steer_held)"
		expect "$what: every packet steered between workers was taken" \
			"$(tb_counter "$log" event.steered_out)" \
			"$(tb_counter "$log" event.steered_in)"
	fi
	d=$(tb_counter "$log" tx_dropped)
	if [[ $tx_ok -eq 1 ]]; then
		echo "# stack: the TX queue refused ${d:-?} packets (TCP resent them)"
	else
		expect "$what: the TX queue refused nothing" 0 "$d"
	fi
}

# st_clean_tcp LOG WHAT NSTAT0 NSTAT1: st_clean for a run whose bursts
# exceed the testbed's queues, so that segments are lost or delayed past
# a retransmission timeout.  Then duplicates reach the stack
# (tcp_out_of_window; tcp_paws when timestamps are on and an original
# comes after its resend, or after later segments, which the steering
# between two workers can also hold back), and segments or RSTs for
# connections it has
# finished with (tcp_no_socket, tcp_no_socket_rst, tcp_rst_ignored in
# TIME-WAIT), and SYNs resent for connections a SYN cookie has already
# made (tcp_syn_challenged); the stack's TX queue may refuse packets
# too.  How many
# depends on the host's load (each stall brings RTOs), so they are
# allowed as long as they stay below half the packets received (a loop
# would pass it);
# Linux's counters between NSTAT0 and NSTAT1 are printed beside them.
# (An exact account needs the stack's own retransmission count, which
# struct rs_dp_stats does not carry.)
st_clean_tcp() {
	local log=$1 what=$2 rx recovery=0 d r
	st_clean "$log" "$what" --tx-drops-ok tcp_out_of_window \
		tcp_rst_ignored tcp_no_socket tcp_no_socket_rst \
		tcp_syn_challenged tcp_paws
	for r in out_of_window rst_ignored no_socket no_socket_rst \
		syn_challenged paws; do
		d=$(tb_counter "$log" "drop.tcp_$r")
		recovery=$((recovery + ${d:-0}))
	done
	rx=$(tb_counter "$log" rx_pkts)
	echo "# Linux: $(st_delta "$3" "$4" TcpRetransSegs) retransmissions," \
		"$(st_delta "$3" "$4" TcpExtTCPTimeouts) timeouts," \
		"$(st_delta "$3" "$4" TcpOutRsts) RSTs;" \
		"the stack: $recovery recovery drops of ${rx:-?} packets"
	expect "$what: recovery drops stay under half the packets" 1 \
		"$(st_ge $((${rx:-0} / 2)) "$recovery")"
}
