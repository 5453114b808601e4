# SPDX-License-Identifier: BSD-3-Clause
# The testbed: a Linux peer in a network namespace of the test's own, wired
# to the proxy's DPDK port in one of two topologies.  Sourced by the stack
# tests (bash); uses tests/integration/lib.sh's result helpers if loaded.
#
#   tap     the stack program's port is net_tap; once the port has started,
#           its kernel interface is moved into the namespace.
#   virtio  the stack program's port is virtio_user on a vhost-user socket
#           served by rs_bridge (net_vhost), whose net_tap interface is in
#           the namespace.  The namespace is ready before the stack starts.
#
#   198.18.0.1/24  Linux, in the namespace (MAC 02:00:c6:12:00:01)
#   198.18.0.2/24  the proxy's port          (MAC 02:00:c6:12:00:02)
#
# Use:
#   TB_BRIDGE=path/to/rs_bridge      (virtio mode)
#   tb_up tap|virtio NAME            namespace, config file; bridge (virtio)
#   tb_start LOG PROGRAM ARGS...     start the stack program in the
#                                    background (pass it -c "$TB_CONF" or
#                                    whatever it takes); wait for its
#                                    "...: ready" line; tap mode: move
#                                    its interface into the namespace.
#                                    Then $TB_GO exists (a program may wait
#                                    for it before talking to the peer).
#   tb_ns CMD...                     run CMD in the namespace
#   tb_ns_bg LOG CMD...              same, in the background (killed by
#                                    tb_down); sets TB_BG_PID
#   tb_wait [SECS]                   wait for the stack program to exit by
#                                    itself; TB_RC = its status, 124 when
#                                    it had to be stopped
#   tb_stop                          SIGTERM it and wait; TB_RC
#   tb_bridge_stop                   stop rs_bridge; TB_BRIDGE_RC
#   tb_counter LOG NAME              value of a "  NAME VALUE" line
#   tb_until SECS CMD...             run CMD every 0.1 s until it
#                                    succeeds (0), or 1 after SECS: how a
#                                    test waits for a condition instead of
#                                    sleeping (SECS only bounds a hang)
#   tb_down                          stop and remove everything; run by
#                                    the EXIT trap that tb_up installs,
#                                    which also prints the logs of a
#                                    failed run
#
# Before tb_up, TB_INI_EXTRA may hold more INI sections for the config
# file, TB_MBUFS the port's pool size, TB_WORKERS the stack's workers
# (default 1; each a queue pair of the port, their lcores spread over the
# CPUs), and TB_BRIDGE_ARGS more options
# for rs_bridge, e.g. "--impair loss=1"; in tap mode they put an rs_bridge
# (af_packet on the stack's tap <-> a tap in the namespace) on the wire.  Names carry the PID, so runs
# can overlap.

TB_PEER_IP=198.18.0.1
TB_PROXY_IP=198.18.0.2
TB_PEER_MAC=02:00:c6:12:00:01
TB_PROXY_MAC=02:00:c6:12:00:02
TB_READY=${TB_READY:-'^[a-z_]*: ready'}
TB_STOP_S=${TB_STOP_S:-60}
TB_PID=
TB_BRIDGE_PID=
TB_BG_PIDS=()
TB_DIR=
TB_NS=

tb__log() {
	echo "# testbed: $*"
}

# tb__wait_for LOG PATTERN SECS [PID]: until LOG matches PATTERN; 1 when
# SECS pass or PID exits first.
tb__wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		[[ -n ${4:-} ]] && ! kill -0 "$4" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "$2" "$1" 2>/dev/null
}

# tb__kill PID SECS: SIGTERM, wait up to SECS, then SIGKILL; the exit
# status in TB__RC (the shell must be PID's parent to collect it).
tb__kill() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	TB__RC=0
	wait "$pid" 2>/dev/null || TB__RC=$?
}

tb__host_ok() {
	[[ $(id -u) -eq 0 ]] || { echo "needs root"; return 1; }
	[[ -c /dev/net/tun ]] || { echo "needs /dev/net/tun"; return 1; }
	command -v ip >/dev/null || { echo "needs iproute2"; return 1; }
	local free
	free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
	[[ ${free:-0} -ge 16 ]] || { echo "needs free hugepages"; return 1; }
}

# The config file of the stack program.
# tb__lcores N: EAL lcores for the main one and N workers: "-l 0,1" for
# one; for more, lcore i on CPU i mod (the CPUs there are).
tb__lcores() {
	local n=$1 cpus i l="0@0"
	((n <= 1)) && { echo "-l 0,1"; return; }
	cpus=$(nproc)
	for ((i = 1; i <= n; i++)); do l+=",$i@$((i % cpus))"; done
	echo "--lcores $l"
}

tb__config() {
	local workers=${TB_WORKERS:-1} lcores
	lcores=$(tb__lcores "$workers")
	local eal="$lcores --in-memory --no-pci --no-telemetry"
	# TB_TELEMETRY=PREFIX: DPDK's telemetry socket, under that prefix.
	[[ -n ${TB_TELEMETRY:-} ]] &&
		eal="$lcores --in-memory --no-pci --file-prefix $TB_TELEMETRY"
	local devargs="net_tap0,iface=$TB_IFACE" desc=512
	if [[ $TB_MODE == virtio ]]; then
		eal+=" --single-file-segments"
		devargs="virtio_user0,path=$TB_SOCK,queues=$workers,queue_size=1024"
		devargs+=",mac=$TB_PROXY_MAC"
		desc=1024
	fi
	cat <<-INI
		; written by tests/testbed/testbed.sh ($TB_MODE mode)
		[eal]
		args = $eal --log-level=lib.eal:notice
		[port]
		devargs = $devargs
		rx_desc = $desc
		tx_desc = $desc
		mbufs = ${TB_MBUFS:-$((workers > 1 ? 8191 : 4095))}
		link_timeout_ms = 10000
		[net]
		ip = $TB_PROXY_IP
		prefix = 24
		mac = $TB_PROXY_MAC
		[workers]
		count = $workers
		idle_backoff = on
		idle_polls = 256
		idle_sleep_max_us = 500
	INI
	[[ -n ${TB_INI_EXTRA:-} ]] && printf '%s\n' "$TB_INI_EXTRA"
}

# tb__ns_link IFACE: move IFACE into the namespace and make it the peer.
tb__ns_link() {
	ip link set "$1" netns "$TB_NS" &&
		ip -n "$TB_NS" link set "$1" address "$TB_PEER_MAC" &&
		ip -n "$TB_NS" addr add "$TB_PEER_IP/24" dev "$1" &&
		ip -n "$TB_NS" link set "$1" up
}

# tb__ns_link_seen IFACE: tb__ns_link, and when it fails, what the host
# and the namespace have.  On a loaded host the bridge's new tap is
# sometimes nowhere for a moment after its ready line (cause not known;
# a moment later it is there): tb_until tries again.
tb__ns_link_seen() {
	tb__ns_link "$1" 2>/dev/null && return 0
	tb__log "$1 not movable yet (trying again); links here: $(ip -br link | awk '{print $1}' |
		grep "^$TB_IFACE" | tr '\n' ' ')in $TB_NS: $(ip -n "$TB_NS" -br link |
		awk '{print $1}' | tr '\n' ' ')"
	# A half-done move: back to where the next try starts.
	ip -n "$TB_NS" link set "$1" netns 1 2>/dev/null
	return 1
}

tb__bridge_up() {
	local log=$TB_DIR/bridge.log
	[[ -x ${TB_BRIDGE:-} ]] || { tb__log "TB_BRIDGE is not set"; return 1; }
	# shellcheck disable=SC2086 # TB_BRIDGE_ARGS: words on purpose
	"$TB_BRIDGE" --vhost "$TB_SOCK" --tap "$TB_IFACE" \
		--queues "${TB_WORKERS:-1}" ${TB_BRIDGE_ARGS:-} >"$log" 2>&1 &
	TB_BRIDGE_PID=$!
	tb__wait_for "$log" '^rs_bridge: ready' 60 "$TB_BRIDGE_PID" || {
		tb__log "rs_bridge did not start"
		return 1
	}
	[[ -S $TB_SOCK ]] || { tb__log "no vhost-user socket $TB_SOCK"; return 1; }
	tb__ns_link "$TB_IFACE" || { tb__log "cannot move $TB_IFACE"; return 1; }
	touch "$TB_GO"
}

tb_up() {
	local why
	TB_MODE=$1
	TB_NAME=$2
	[[ $TB_MODE == tap || $TB_MODE == virtio ]] || {
		tb__log "mode must be tap or virtio, not '$TB_MODE'"
		return 2
	}
	if ! why=$(tb__host_ok); then
		echo "SKIP: $why"
		exit 77
	fi
	TB_DIR=$(mktemp -d "/tmp/rs-tb-$TB_NAME.XXXXXX")
	trap tb__on_exit EXIT
	trap 'exit 143' TERM # meson's timeout: clean up all the same
	trap 'exit 130' INT
	TB_NS=rs-$TB_NAME-$$
	TB_IFACE=rs$$${TB_MODE:0:1}
	TB_SOCK=$TB_DIR/vhost.sock
	TB_GO=$TB_DIR/go
	TB_CONF=$TB_DIR/stack.ini
	tb__config >"$TB_CONF"
	ip netns add "$TB_NS" || return 1
	ip -n "$TB_NS" link set lo up
	# No IPv6 on the peer: less noise on the wire (router solicitations,
	# MLD), so the stack's drop counters show only what the test sent.
	ip netns exec "$TB_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	if [[ $TB_MODE == virtio ]]; then
		tb__bridge_up || return 1
	fi
	tb__log "$TB_MODE mode up: namespace $TB_NS, interface $TB_IFACE," \
		"files in $TB_DIR"
}

tb_start() {
	local log=$1
	shift
	# Tap mode: each stack program brings its own interface.
	[[ $TB_MODE == tap ]] && rm -f "$TB_GO"
	"$@" >"$log" 2>&1 &
	TB_PID=$!
	tb__wait_for "$log" "$TB_READY" 60 "$TB_PID" || {
		tb__log "$1 did not report ready"
		return 1
	}
	if [[ $TB_MODE == tap && -n ${TB_BRIDGE_ARGS:-} ]]; then
		tb__tap_bridge_up || return 1
		touch "$TB_GO"
	elif [[ $TB_MODE == tap ]]; then
		tb__ns_link "$TB_IFACE" || {
			tb__log "cannot move $TB_IFACE into $TB_NS"
			return 1
		}
		touch "$TB_GO"
	fi
}

# Tap mode with TB_BRIDGE_ARGS (an impaired wire): the stack's tap stays
# here, silent (up, no address, no IPv6), and rs_bridge joins it (DPDK
# af_packet) to a tap of its own in the namespace.  One bridge per stack
# program: its interface goes away with the program.
tb__tap_bridge_up() {
	local log=$TB_DIR/bridge.log tap
	sysctl -qw "net.ipv6.conf.$TB_IFACE.disable_ipv6=1" &&
		ip link set "$TB_IFACE" up || {
		tb__log "cannot bring $TB_IFACE up"
		return 1
	}
	# A name of its own each time: the last bridge's tap, in the
	# namespace, may not be gone yet (seen on a loaded host: the move of
	# the new one found no device).
	TB_BRIDGE_N=$((${TB_BRIDGE_N:-0} + 1))
	tap=${TB_IFACE}b$TB_BRIDGE_N
	# shellcheck disable=SC2086 # TB_BRIDGE_ARGS: words on purpose
	"$TB_BRIDGE" --af-packet "$TB_IFACE" --tap "$tap" \
		$TB_BRIDGE_ARGS >"$log" 2>&1 &
	TB_BRIDGE_PID=$!
	tb__wait_for "$log" '^rs_bridge: ready' 60 "$TB_BRIDGE_PID" &&
		tb_until 10 tb__ns_link_seen "$tap" || {
		tb__log "rs_bridge (af_packet on $TB_IFACE) did not start"
		return 1
	}
}

# The stack program ended: a tap-mode bridge ends with it.
tb__tap_bridge_down() {
	[[ $TB_MODE == tap && -n ${TB_BRIDGE_ARGS:-} ]] && tb_bridge_stop
	return 0
}

tb_ns() {
	ip netns exec "$TB_NS" "$@"
}

tb_ns_bg() {
	local log=$1
	shift
	ip netns exec "$TB_NS" "$@" >"$log" 2>&1 &
	TB_BG_PID=$!
	TB_BG_PIDS+=("$TB_BG_PID")
}

tb_wait() {
	local secs=${1:-60} i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$TB_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$TB_PID" 2>/dev/null; then
		tb__log "pid $TB_PID still running after $secs s: stopping it"
		tb__kill "$TB_PID" "$TB_STOP_S"
		TB_RC=124
	else
		TB_RC=0
		wait "$TB_PID" || TB_RC=$?
	fi
	TB_PID=
	tb__tap_bridge_down
}

tb_stop() {
	tb__kill "$TB_PID" "$TB_STOP_S"
	TB_RC=$TB__RC
	TB_PID=
	tb__tap_bridge_down
}

tb_bridge_stop() {
	TB_BRIDGE_RC=
	[[ -n $TB_BRIDGE_PID ]] || return 0
	tb__kill "$TB_BRIDGE_PID" "$TB_STOP_S"
	TB_BRIDGE_RC=$TB__RC
	TB_BRIDGE_PID=
}

tb_counter() {
	awk -v k="$2" '$1 == k {print $2; exit}' "$1"
}

tb_until() {
	local until=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < until)) || return 1
		sleep 0.1
	done
}

tb_down() {
	local pid
	[[ -n $TB_PID ]] && tb_stop
	for pid in "${TB_BG_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && tb__kill "$pid" 5
	done
	TB_BG_PIDS=()
	tb_bridge_stop
	if [[ -n $TB_NS ]]; then
		# Anything still in our own namespace was started by this test.
		for pid in $(ip netns pids "$TB_NS" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$TB_NS" 2>/dev/null
		TB_NS=
	fi
	[[ -n $TB_DIR ]] && rm -rf "$TB_DIR"
	TB_DIR=
	# DPDK's runtime directory of TB_TELEMETRY's prefix (its socket).
	[[ -n ${TB_TELEMETRY:-} ]] && rm -rf "/var/run/dpdk/$TB_TELEMETRY"
	return 0
}

tb__on_exit() {
	local rc=$? f
	trap - EXIT
	if [[ $rc -ne 0 && -n $TB_DIR ]]; then
		[[ -n $TB_PID ]] && tb_stop
		tb_bridge_stop
		for f in "$TB_DIR"/*.log; do
			[[ -f $f ]] || continue
			# Counters at 0 left out: a stack's whole block of
			# counters (tx_pkts, tx_dropped...) then fits.
			echo "# $f (last 80 lines, zero counters left out):"
			grep -v VHOST_CONFIG "$f" | grep -Ev '^ +[a-z_.]+ +0$' |
				tail -n 80 | sed 's/^/#   /'
		done
	fi
	tb_down
	exit "$rc"
}
