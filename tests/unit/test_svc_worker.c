/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker half of the service, on two workers without a port, in one
 * thread: host A (198.18.0.2) runs remsockd's worker and control
 * (rs_svc_ctl_poll() in the same loop), host B (198.18.0.1) the client and
 * the tenants' peers, each on its own stack.  The frames one stack queues
 * for TX are the other's input; the clock is the harness's and moves only
 * when a test says so, so deadlines and timers are exact.
 *
 * The client speaks the native framing over a TCP connection of B's stack
 * to A's [rpc] listen_port, the peers are B's sockets: everything between
 * them is remsockd's code as it runs in production, but for the port.
 *
 * What is checked: parked calls and their wake-ups (an event on the
 * socket, and no other), the deadline heap (parked calls expire in the
 * order of their deadlines, each at its time), cancellation when the RPC
 * connection goes (quotas given back, sockets kept), Close waking the
 * calls on its socket, ReceiveBatch's entries (data, nothing yet, closed;
 * a batch that waits and the one socket that wakes it), and a Send
 * larger than the socket's ring that waits for room and takes every byte
 * in order; and that what one round writes to a connection leaves in one
 * segment (the replies on the RPC connection, the Sends to a peer).  The
 * EAL runs without hugepages.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "../../net/dp_pvt.h"
#include "../../net/sock_pvt.h"
#include "../../net/stack_pvt.h"
#include "remote_socket.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_apps.h"
#include "rs_config.h"
#include "rs_frame.h"
#include "rs_sock.h"
#include "rs_svc.h"
#include "rs_svc_ctl.h"
#include "rs_svc_dp.h"
#include "svc_pvt.h"

#define IP_A 0xc6120002u /* 198.18.0.2: remsockd */
#define IP_B 0xc6120001u /* 198.18.0.1: client and peers */
#define PEER_PORT 7000
#define RPC_PORT 5757
#define NS_MS 1000000ull
/* Rounds of the loop with nothing moving before a pump gives up
 * waiting; and rounds in all (a livelock fails the test). */
#define ROUNDS_MAX 200000
#define ERR(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name
#define POLL(name) REMSOCK__POLL_EVENT__POLL_EVENT_FLAG__SOCKET_POLL##name

struct host {
	struct rs_dp *dp;
	struct rs_lcore *lc;
	/* TCP segments with data this host put on the wire, by source port
	 * (RPC_PORT: the RPC connection's replies) and by destination port
	 * (PEER_PORT: a proxied socket's data to its peer). */
	unsigned from_rpc_port, to_peer_port;
};

/* A reply the client read, by call id. */
struct reply {
	uint64_t id;
	Remsock__Rpc__RpcResponse *r;
};

#define REPLIES_MAX 64

struct world {
	struct rte_mempool *pool;
	struct host a, b;
	struct rs_svc_shared *sh;
	struct rs_svc_ctl *ctl;
	struct rs_svc_dp *sdp;
	uint64_t now_ns;
	/* The client's RPC connection, and what it read of it. */
	struct rs_sock *conn;
	uint8_t *in;
	size_t in_len, in_cap;
	uint64_t next_id;
	struct reply replies[REPLIES_MAX];
	unsigned nreplies;
	uint64_t session; /* the client's Authenticate names it (0: none) */
	/* The peers: B's listener, and the connections it accepted. */
	struct rs_sock *lst;
	struct rs_sock *peers[16];
	unsigned npeers;
};

/* ---- the two hosts ------------------------------------------------------- */

static void clock_set(struct world *w, uint64_t ns)
{
	struct rs_lcore *lcs[2] = {w->a.lc, w->b.lc};

	w->now_ns = ns;
	for (int i = 0; i < 2; i++) {
		lcs[i]->now_ns = ns;
		lcs[i]->now_tsc =
		    lcs[i]->tsc0 + (uint64_t)((unsigned __int128)ns *
					      lcs[i]->tsc_hz / NS_PER_S);
	}
}

static void host_make(struct world *w, struct host *h,
		      const struct rs_config *base, uint32_t ip, uint8_t mac)
{
	struct rs_dp *dp = rte_zmalloc("tw_dp", sizeof(*dp), 64);

	assert_non_null(dp);
	dp->cfg = *base;
	dp->cfg.net.ip = htonl(ip);
	dp->pool = w->pool;
	dp->port_id = mac; /* names the host's tables */
	dp->ifc = (struct rs_iface){
	    .mac = {{0x02, 0, 0xc6, 0x12, 0, mac}},
	    .ip = htonl(ip),
	    .netmask = htonl(~0u << (32 - dp->cfg.net.prefix)),
	    .mtu = (uint16_t)dp->cfg.port.mtu,
	};
	assert_int_equal(rs_route_create(dp), 0);
	h->lc = rs_dp_lcore_create(dp, rte_lcore_id(), 0);
	assert_non_null(h->lc);
	h->lc->pool = w->pool;
	h->lc->route = dp->route;
	dp->lc[0] = h->lc;
	dp->nworkers = 1;
	h->dp = dp;
}

/* Frames a host queued that nobody will read. */
static void tx_free(struct rs_lcore *lc)
{
	for (uint16_t i = 0; i < lc->tx_n; i++)
		rte_pktmbuf_free(lc->tx[i]);
	lc->tx_n = 0;
}

static void host_free(struct host *h)
{
	struct rs_lcore *lc = h->lc;

	/* What freeing the tables sends (resets) goes nowhere. */
	rs_socks_free(lc);
	tx_free(lc);
	rs_tcp_glue_free(lc);
	tx_free(lc);
	rs_arp_flush(lc);
	tx_free(lc);
	rs_dp_lcore_free(lc);
	rs_route_free(h->dp);
	rte_free(h->dp);
}

/* A frame on the wire: counted in @p from's tallies if it is a TCP
 * segment with data. */
static void tally(struct host *from, const struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(
	    m, const struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	const struct rte_tcp_hdr *th;
	uint32_t ihl, data;

	if (rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->ether_type !=
		htons(RTE_ETHER_TYPE_IPV4) ||
	    ip->next_proto_id != IPPROTO_TCP)
		return;
	ihl = rte_ipv4_hdr_len(ip);
	th = (const void *)((const uint8_t *)ip + ihl);
	data = ntohs(ip->total_length) - ihl - ((th->data_off >> 4) * 4u);
	if (data == 0)
		return;
	from->from_rpc_port += ntohs(th->src_port) == RPC_PORT;
	from->to_peer_port += ntohs(th->dst_port) == PEER_PORT;
}

/* What @p from queued for TX, as @p to's input (worker.c's rx_handle()). */
static unsigned wire(struct host *from, struct host *to)
{
	struct rs_lcore *lc = from->lc, *dst = to->lc;
	struct rte_mbuf *m;
	unsigned n = 0;

	while (lc->tx_n != 0) {
		uint16_t k = lc->tx_n;

		lc->tx_n = 0;
		for (uint16_t i = 0; i < k; i++, n++) {
			m = lc->tx[i];
			tally(from, m);
			switch (rs_eth_input(dst, m)) {
			case RS_VERDICT_TX:
				rs_lcore_tx(dst, m);
				break;
			case RS_VERDICT_CONSUMED:
			case RS_VERDICT_DROP:
				rte_pktmbuf_free(m);
				break;
			case RS_VERDICT_TAKEN:
				break;
			}
		}
	}
	return n;
}

/* One round of each worker's loop (worker.c's loop_once() but for the
 * port), control's poll, and the frames between them.  @return work. */
static unsigned round_once(struct world *w)
{
	struct host *hs[2] = {&w->a, &w->b};
	unsigned work = 0;

	for (int i = 0; i < 2; i++) {
		struct rs_lcore *lc = hs[i]->lc;

		rs_arp_tick(lc, lc->now_tsc);
		rs_frag_tick(lc);
		rs_tcp_glue_timers(lc);
		work += rs_socks_dispatch(lc);
		if (lc->app != NULL)
			work += (unsigned)lc->app->poll(lc, lc->app->arg) > 0;
		work += rs_socks_dispatch(lc);
		work += rs_tcp_glue_flush(lc);
		work += rs_tcp_glue_resume(lc);
	}
	work += rs_svc_ctl_poll(w->ctl, 256);
	work += wire(&w->a, &w->b);
	work += wire(&w->b, &w->a);
	return work;
}

static void client_read(struct world *w);

/* Run both hosts until nothing moves at this time. */
static void pump(struct world *w)
{
	unsigned idle = 0;

	for (unsigned r = 0; idle < 4; r++) {
		assert_true(r < ROUNDS_MAX);
		idle = round_once(w) == 0 ? idle + 1 : 0;
		client_read(w);
	}
}

/* Move the clock by @p ms, a millisecond at a time, pumping at each. */
static void advance(struct world *w, uint64_t ms)
{
	for (uint64_t i = 0; i < ms; i++) {
		clock_set(w, w->now_ns + NS_MS);
		pump(w);
	}
}

/* ---- the client -------------------------------------------------------- */

static void client_read(struct world *w)
{
	ssize_t n;
	uint32_t len;

	if (w->conn == NULL)
		return;
	for (;;) {
		if (w->in_cap - w->in_len < 65536) {
			w->in_cap = w->in_cap ? 2 * w->in_cap : 1 << 20;
			w->in = realloc(w->in, w->in_cap);
			assert_non_null(w->in);
		}
		n = rs_sock_recv(w->conn, w->in + w->in_len,
				 w->in_cap - w->in_len, 0);
		if (n <= 0)
			break;
		w->in_len += (size_t)n;
	}
	while (w->in_len >= RS_FRAME_HDR_LEN &&
	       w->in_len >=
		   RS_FRAME_HDR_LEN + (len = rs_frame_header_read(w->in))) {
		Remsock__Rpc__RpcResponse *r =
		    remsock__rpc__rpc_response__unpack(
			NULL, len, w->in + RS_FRAME_HDR_LEN);

		assert_non_null(r);
		assert_true(w->nreplies < REPLIES_MAX);
		w->replies[w->nreplies++] = (struct reply){r->call_id, r};
		memmove(w->in, w->in + RS_FRAME_HDR_LEN + len,
			w->in_len - RS_FRAME_HDR_LEN - len);
		w->in_len -= RS_FRAME_HDR_LEN + len;
	}
}

/* Send a call; @return its id. */
static uint64_t call_send(struct world *w, const char *service,
			  const char *method, const ProtobufCMessage *req)
{
	Remsock__Rpc__RpcRequest env = REMSOCK__RPC__RPC_REQUEST__INIT;
	size_t blen = protobuf_c_message_get_packed_size(req), len;
	uint8_t *body = malloc(blen + 1), *frame;
	size_t off = 0;

	assert_non_null(body);
	protobuf_c_message_pack(req, body);
	env.has_call_id = 1;
	env.call_id = ++w->next_id;
	env.service_name = (char *)service;
	env.method = (char *)method;
	env.has_body = 1;
	env.body = (ProtobufCBinaryData){blen, body};
	assert_int_equal(rs_frame_pack(&env.base, NULL, 0, &len), -ENOSPC);
	frame = malloc(len);
	assert_non_null(frame);
	assert_int_equal(rs_frame_pack(&env.base, frame, len, &len), 0);
	/* As much as the connection takes, pumping for room. */
	for (unsigned r = 0; off < len; r++) {
		ssize_t n = rs_sock_send(w->conn, frame + off, len - off, 0);

		assert_true(r < ROUNDS_MAX);
		if (n > 0)
			off += (size_t)n;
		else
			advance(w, 1);
	}
	free(frame);
	free(body);
	return env.call_id;
}

/* The reply to @p id if it came (taken from the table), else NULL. */
static Remsock__Rpc__RpcResponse *reply_take(struct world *w, uint64_t id)
{
	for (unsigned i = 0; i < w->nreplies; i++) {
		Remsock__Rpc__RpcResponse *r = w->replies[i].r;

		if (w->replies[i].id != id)
			continue;
		w->replies[i] = w->replies[--w->nreplies];
		return r;
	}
	return NULL;
}

/* Pump until the reply to @p id comes. */
static Remsock__Rpc__RpcResponse *reply_wait(struct world *w, uint64_t id)
{
	Remsock__Rpc__RpcResponse *r;

	pump(w);
	for (unsigned ms = 0; (r = reply_take(w, id)) == NULL; ms++) {
		assert_true(ms < 60000);
		advance(w, 1);
	}
	return r;
}

/* A call's reply body, decoded with @p desc; fails the test on an error
 * reply. */
static void *reply_body(Remsock__Rpc__RpcResponse *r,
			const ProtobufCMessageDescriptor *desc)
{
	void *m;

	if (r->rpc_error != NULL)
		fail_msg("RPC error %d: %s", r->rpc_error->code,
			 r->rpc_error->detail);
	if (r->application_error != NULL)
		fail_msg("application error %d: %s", r->application_error->code,
			 r->application_error->detail);
	m = protobuf_c_message_unpack(desc, NULL, r->body.len, r->body.data);
	assert_non_null(m);
	return m;
}

static void *call(struct world *w, const char *method,
		  const ProtobufCMessage *req,
		  const ProtobufCMessageDescriptor *desc)
{
	Remsock__Rpc__RpcResponse *r =
	    reply_wait(w, call_send(w, RS_SVC_SERVICE, method, req));
	void *m = reply_body(r, desc);

	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	return m;
}

/* The application error code of a reply (0: none). */
static int app_error(Remsock__Rpc__RpcResponse *r)
{
	int code =
	    r->application_error != NULL ? r->application_error->code : 0;

	assert_null(r->rpc_error);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	return code;
}

static void client_connect(struct world *w)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(RPC_PORT),
				.sin_addr.s_addr = htonl(IP_A)};
	Remsock__Rpc__AuthenticateRequest req =
	    REMSOCK__RPC__AUTHENTICATE_REQUEST__INIT;
	static const char secret[] = "demo-secret-not-for-production";
	Remsock__Rpc__RpcResponse *r;

	w->conn = rs_sock_open(w->b.lc, RS_SOCK_TCP, NULL, NULL);
	assert_non_null(w->conn);
	/* As libremsock: calls are not held back for the previous ACK. */
	assert_int_equal(rs_sock_setopt(w->conn, RS_TCP_NODELAY, 1), 0);
	assert_int_equal(rs_sock_connect(w->conn, &a), -EINPROGRESS);
	w->in_len = 0;
	req.app_id = "demo";
	req.has_secret = 1;
	req.secret = (ProtobufCBinaryData){strlen(secret), (uint8_t *)secret};
	req.has_session = w->session != 0;
	req.session = w->session;
	pump(w);
	r = reply_wait(
	    w, call_send(w, RS_SVC_SERVICE_AUTH, "Authenticate", &req.base));
	assert_null(r->rpc_error);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
}

static void client_close(struct world *w)
{
	rs_sock_close(w->conn);
	w->conn = NULL;
	for (unsigned i = 0; i < w->nreplies; i++)
		remsock__rpc__rpc_response__free_unpacked(w->replies[i].r,
							  NULL);
	w->nreplies = 0;
	pump(w);
}

/* ---- the service's side -------------------------------------------------- */

static struct rs_svc_dp_stats stats(struct world *w)
{
	struct rs_svc_dp_stats st;

	rs_svc_dp_stats_get(w->sdp, &st);
	return st;
}

static uint64_t pending_calls(struct world *w)
{
	return rs_apps_used(w->sh->apps, 0, RS_QUOTA_PENDING_CALLS);
}

/* A TCP socket connected to a new peer on B: its descriptor (static
 * storage, one per call of this function until freed) and the peer. */
static char *tcp_socket(struct world *w, struct rs_sock **peer)
{
	Remsock__CreateSocketRequest req = REMSOCK__CREATE_SOCKET_REQUEST__INIT;
	Remsock__AddressPort to = REMSOCK__ADDRESS_PORT__INIT;
	uint32_t ip = htonl(IP_B);
	Remsock__CreateSocketReply *rep;
	char *d;

	req.family = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4;
	req.protocol = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__TCP;
	to.port = PEER_PORT;
	to.has_packed_address = 1;
	to.packed_address = (ProtobufCBinaryData){4, (uint8_t *)&ip};
	req.remote_ip = &to;
	rep = call(w, "CreateSocket", &req.base,
		   &remsock__create_socket_reply__descriptor);
	d = strdup(rep->socket_descriptor);
	remsock__create_socket_reply__free_unpacked(rep, NULL);
	pump(w);
	*peer = rs_sock_accept(w->lst, NULL);
	assert_non_null(*peer);
	w->peers[w->npeers++] = *peer;
	return d;
}

static void peer_write(struct world *w, struct rs_sock *p, const char *s)
{
	assert_int_equal(rs_sock_send(p, s, strlen(s), 0), (ssize_t)strlen(s));
	pump(w);
}

static uint64_t receive_send(struct world *w, const char *desc, int size,
			     double timeout_s)
{
	Remsock__ReceiveRequest req = REMSOCK__RECEIVE_REQUEST__INIT;

	req.socket_descriptor = (char *)desc;
	req.data_size = size;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = timeout_s;
	return call_send(w, RS_SVC_SERVICE, "Receive", &req.base);
}

/* The data of a Receive's reply, as a string (the caller frees it). */
static char *received(Remsock__Rpc__RpcResponse *r)
{
	Remsock__ReceiveReply *rep =
	    reply_body(r, &remsock__receive_reply__descriptor);
	char *s = strndup((const char *)rep->data.data, rep->data.len);

	assert_true(rep->has_data);
	remsock__receive_reply__free_unpacked(rep, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	return s;
}

static void sock_close(struct world *w, const char *desc)
{
	Remsock__CloseRequest req = REMSOCK__CLOSE_REQUEST__INIT;
	Remsock__CloseReply *rep;

	req.socket_descriptor = (char *)desc;
	rep = call(w, "Close", &req.base, &remsock__close_reply__descriptor);
	remsock__close_reply__free_unpacked(rep, NULL);
}

/* ---- set-up -------------------------------------------------------------- */

static void eal_init(void)
{
	char *argv[] = {"test_svc_worker",
			"--no-huge",
			"-m",
			"256",
			"--no-pci",
			"--no-shconf",
			"--no-telemetry",
			"-l",
			"0",
			"--log-level=*:error",
			NULL};

	assert_true(rte_eal_init((int)RTE_DIM(argv) - 1, argv) >= 0);
}

/* setup_tuned(): rings that may grow ([tcp] rmem_max); with tight, the
 * apps' buffered_bytes quota holds a socket's first rings and no more. */
static bool tuned, tight;

static void config_make(struct rs_config *cfg)
{
	char err[256];

	assert_int_equal(rs_config_load_default(cfg, err, sizeof(err)), 0);
	cfg->net.prefix = 24;
	cfg->net.gateway = 0;
	cfg->nroutes = 0;
	cfg->port.mtu = 1500;
	cfg->sockets.max = 64;
	cfg->tcp.max_conns = 64;
	cfg->limits.sock_rx_ring = 65536;
	cfg->limits.sock_tx_ring = 65536;
	/* Rings of a fixed size: the waits below are for room in them. */
	cfg->tcp.rmem_max = tuned ? 1u << 20 : 65536;
	cfg->tcp.wmem_max = 65536;
	cfg->limits.msg_ring_size = 64;
	cfg->dns.nservers = 0;
	cfg->service.session_grace_s = 2;
	for (uint32_t i = 0; tight && i < cfg->napps; i++)
		cfg->apps[i].quota.buffered_bytes = 65536 + 65536;
}

static int setup(void **state)
{
	static bool eal;
	static struct rs_config cfg;
	struct world *w = calloc(1, sizeof(*w));
	struct sockaddr_in any = {.sin_family = AF_INET,
				  .sin_port = htons(PEER_PORT)};
	char err[256] = "";

	assert_non_null(w);
	if (!eal) {
		eal_init();
		eal = true;
	}
	config_make(&cfg);
	cfg.net.ip = htonl(IP_A);
	w->pool = rte_pktmbuf_pool_create(
	    "tw_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	assert_non_null(w->pool);
	host_make(w, &w->a, &cfg, IP_A, 2);
	host_make(w, &w->b, &cfg, IP_B, 1);
	clock_set(w, 1000ull * NS_PER_S);
	w->sh = rs_svc_shared_create(&w->a.dp->cfg, 1, err, sizeof(err));
	assert_non_null(w->sh);
	w->ctl = rs_svc_ctl_create(w->sh);
	assert_non_null(w->ctl);
	w->sdp = rs_svc_dp_create(w->sh, err, sizeof(err));
	assert_non_null(w->sdp);
	assert_int_equal(rs_svc_dp_attach(w->sdp, w->a.dp), 0);
	assert_int_equal(w->a.lc->app->init(w->a.lc, w->a.lc->app->arg), 0);
	w->lst = rs_sock_open(w->b.lc, RS_SOCK_TCP, NULL, NULL);
	assert_non_null(w->lst);
	assert_int_equal(rs_sock_bind(w->lst, &any), 0);
	assert_int_equal(rs_sock_listen(w->lst, 16), 0);
	client_connect(w);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	struct host *hs[2] = {&w->a, &w->b};

	if (w->conn != NULL)
		client_close(w);
	for (unsigned i = 0; i < w->npeers; i++)
		rs_sock_abort(w->peers[i]);
	rs_sock_close(w->lst);
	pump(w);
	w->a.lc->app->fini(w->a.lc, w->a.lc->app->arg);
	pump(w);
	rs_svc_dp_free(w->sdp);
	rs_svc_ctl_free(w->ctl);
	rs_svc_shared_free(w->sh);
	for (int i = 0; i < 2; i++)
		host_free(hs[i]);
	/* Every mbuf back: nothing the service or the stacks held leaked. */
	assert_int_equal(rte_mempool_in_use_count(w->pool), 0);
	rte_mempool_free(w->pool);
	free(w->in);
	free(w);
	return 0;
}

/* ---- the tests ----------------------------------------------------------- */

/* A Receive with nothing to read waits; bytes on another socket do not
 * wake it, bytes on its own answer it with them. */
static void t_receive_parks_and_wakes(void **state)
{
	struct world *w = *state;
	struct rs_sock *p1, *p2;
	char *d1 = tcp_socket(w, &p1), *d2 = tcp_socket(w, &p2), *got;
	struct rs_svc_dp_stats st0 = stats(w), st;
	uint64_t id = receive_send(w, d1, 100, 30);

	pump(w);
	st = stats(w);
	assert_null(reply_take(w, id));
	assert_int_equal(st.waits, 1);
	assert_int_equal(st.parked, st0.parked + 1);
	assert_int_equal(pending_calls(w), 1);
	/* Another socket's event runs nothing. */
	peer_write(w, p2, "not for it");
	assert_null(reply_take(w, id));
	assert_int_equal(stats(w).woken, st0.woken);
	peer_write(w, p1, "hello");
	got = received(reply_wait(w, id));
	assert_string_equal(got, "hello");
	st = stats(w);
	assert_int_equal(st.waits, 0);
	assert_int_equal(st.woken, st0.woken + 1);
	assert_int_equal(pending_calls(w), 0);
	/* The other socket's bytes are still there. */
	free(got);
	got = received(reply_wait(w, receive_send(w, d2, 100, 0)));
	assert_string_equal(got, "not for it");
	free(got);
	free(d1);
	free(d2);
}

/* Parked calls expire in the order of their deadlines, each at its time
 * and not a millisecond before (the heap), answering EAGAIN. */
static void t_deadlines_in_order(void **state)
{
	static const int ms[] = {900, 300,  1500, 100, 700,  1300, 500,	 1100,
				 200, 1400, 600,  800, 1200, 400,  1000, 1600};
	struct world *w = *state;
	uint64_t ids[RTE_DIM(ms)];
	bool done[RTE_DIM(ms)] = {false};
	unsigned answered = 0;
	struct rs_sock *p;
	char *d = tcp_socket(w, &p);

	for (unsigned i = 0; i < RTE_DIM(ms); i++)
		ids[i] = receive_send(w, d, 10, ms[i] / 1000.0);
	pump(w);
	assert_int_equal(stats(w).waits, RTE_DIM(ms));
	for (int t = 1; t <= 1700; t++) {
		advance(w, 1);
		for (unsigned i = 0; i < RTE_DIM(ms); i++) {
			Remsock__Rpc__RpcResponse *r;

			if (done[i])
				continue;
			r = reply_take(w, ids[i]);
			if (r == NULL) {
				/* Not one before its time. */
				assert_true(t < ms[i]);
				continue;
			}
			/* Each at its time: the millisecond it is due. */
			assert_int_equal(t, ms[i]);
			assert_int_equal(app_error(r), ERR(SYSTEM_ERROR));
			done[i] = true;
			answered++;
		}
	}
	assert_int_equal(answered, RTE_DIM(ms));
	assert_int_equal(stats(w).waits, 0);
	assert_int_equal(pending_calls(w), 0);
	free(d);
}

/* The client's connection goes: its parked calls are cancelled and
 * their quota given back; the sockets stay for a client that comes
 * back, with what arrived meanwhile. */
static void t_cancel_on_close(void **state)
{
	Remsock__PollRequest req = REMSOCK__POLL_REQUEST__INIT;
	Remsock__PollEvent ev = REMSOCK__POLL_EVENT__INIT, *evs[1] = {&ev};
	struct world *w = *state;
	struct rs_sock *p;
	char *d = tcp_socket(w, &p), *got;
	struct rs_svc_dp_stats st0 = stats(w), st;

	for (int i = 0; i < 3; i++)
		receive_send(w, d, 10, -1);
	ev.socket_descriptor = d;
	ev.requested_events = POLL(IN);
	req.n_events = 1;
	req.events = evs;
	call_send(w, RS_SVC_SERVICE, "Poll", &req.base);
	pump(w);
	assert_int_equal(stats(w).waits, 4);
	assert_int_equal(pending_calls(w), 4);
	client_close(w);
	st = stats(w);
	assert_int_equal(st.waits, 0);
	assert_int_equal(st.cancelled, st0.cancelled + 4);
	assert_int_equal(st.socks_open, st0.socks_open);
	assert_int_equal(pending_calls(w), 0);
	/* Bytes that come now find no call, and wait in the socket. */
	peer_write(w, p, "later");
	assert_int_equal(stats(w).woken, st0.woken);
	client_connect(w);
	got = received(reply_wait(w, receive_send(w, d, 10, 0)));
	assert_string_equal(got, "later");
	free(got);
	free(d);
}

/* Close answers the calls waiting on its socket: a Receive SOCKET_CLOSED,
 * a Poll with NVAL. */
static void t_close_wakes_waiters(void **state)
{
	Remsock__PollRequest req = REMSOCK__POLL_REQUEST__INIT;
	Remsock__PollEvent ev = REMSOCK__POLL_EVENT__INIT, *evs[1] = {&ev};
	struct world *w = *state;
	Remsock__PollReply *pr;
	Remsock__Rpc__RpcResponse *r;
	struct rs_sock *p;
	char *d = tcp_socket(w, &p);
	uint64_t rid, pid;

	rid = receive_send(w, d, 10, 30);
	ev.socket_descriptor = d;
	ev.requested_events = POLL(IN);
	req.n_events = 1;
	req.events = evs;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = 30;
	pid = call_send(w, RS_SVC_SERVICE, "Poll", &req.base);
	pump(w);
	assert_int_equal(stats(w).waits, 2);
	sock_close(w, d);
	assert_int_equal(app_error(reply_wait(w, rid)), ERR(SOCKET_CLOSED));
	r = reply_wait(w, pid);
	pr = reply_body(r, &remsock__poll_reply__descriptor);
	assert_int_equal(pr->n_events, 1);
	assert_int_equal(pr->events[0]->observed_events, POLL(NVAL));
	remsock__poll_reply__free_unpacked(pr, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	assert_int_equal(stats(w).waits, 0);
	assert_int_equal(pending_calls(w), 0);
	free(d);
}

static void batch_entry(Remsock__ReceiveRequest *r, const char *desc)
{
	remsock__receive_request__init(r);
	r->socket_descriptor = (char *)desc;
	r->data_size = 100;
}

/* ReceiveBatch: each entry answers for its socket, in order; a batch
 * with nothing ready waits for the first of its sockets to have news. */
static void t_receive_batch(void **state)
{
	Remsock__ReceiveBatchRequest req = REMSOCK__RECEIVE_BATCH_REQUEST__INIT;
	Remsock__ReceiveRequest e[3], *ep[3] = {&e[0], &e[1], &e[2]};
	struct world *w = *state;
	Remsock__ReceiveBatchReply *rep;
	Remsock__Rpc__RpcResponse *r;
	struct rs_sock *p1, *p2, *p3;
	char *d1 = tcp_socket(w, &p1), *d2 = tcp_socket(w, &p2);
	char *d3 = tcp_socket(w, &p3);
	uint64_t id, woken;

	batch_entry(&e[0], d1);
	batch_entry(&e[1], d2);
	batch_entry(&e[2], "AAAAAAAAAAAAAAAAAAAAAA"); /* not the app's */
	req.n_receives = 3;
	req.receives = ep;
	peer_write(w, p1, "one");
	rep = call(w, "ReceiveBatch", &req.base,
		   &remsock__receive_batch_reply__descriptor);
	assert_int_equal(rep->n_entries, 3);
	assert_non_null(rep->entries[0]->reply);
	assert_int_equal(rep->entries[0]->reply->data.len, 3);
	assert_memory_equal(rep->entries[0]->reply->data.data, "one", 3);
	assert_null(rep->entries[1]->reply);
	assert_int_equal(rep->entries[1]->application_error, ERR(SYSTEM_ERROR));
	assert_null(rep->entries[2]->reply);
	assert_int_equal(rep->entries[2]->application_error,
			 ERR(SOCKET_CLOSED));
	remsock__receive_batch_reply__free_unpacked(rep, NULL);
	/* Nothing ready on d1, d2: it waits; d3 (not in it) wakes nothing,
	 * d2 answers it. */
	req.n_receives = 2;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = 30;
	id = call_send(w, RS_SVC_SERVICE, "ReceiveBatch", &req.base);
	pump(w);
	assert_int_equal(stats(w).waits, 1);
	woken = stats(w).woken;
	peer_write(w, p3, "three");
	assert_null(reply_take(w, id));
	assert_int_equal(stats(w).woken, woken); /* not even run again */
	peer_write(w, p2, "two");
	r = reply_wait(w, id);
	rep = reply_body(r, &remsock__receive_batch_reply__descriptor);
	assert_int_equal(rep->n_entries, 2);
	assert_null(rep->entries[0]->reply);
	assert_non_null(rep->entries[1]->reply);
	assert_int_equal(rep->entries[1]->reply->data.len, 3);
	assert_memory_equal(rep->entries[1]->reply->data.data, "two", 3);
	remsock__receive_batch_reply__free_unpacked(rep, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	assert_int_equal(stats(w).waits, 0);
	free(d1);
	free(d2);
	free(d3);
}

/* A batch of more entries than one bulk lookup takes (64): every entry
 * still answers for its own descriptor -- data on d1's (the first asks
 * take it all), nothing yet on d2's, SOCKET_CLOSED for a descriptor of
 * the wrong length and for one the app does not have. */
static void t_receive_batch_many(void **state)
{
	enum { N = 150 };
	Remsock__ReceiveBatchRequest req = REMSOCK__RECEIVE_BATCH_REQUEST__INIT;
	Remsock__ReceiveRequest e[N], *ep[N];
	struct world *w = *state;
	Remsock__ReceiveBatchReply *rep;
	struct rs_sock *p1, *p2;
	char *d1 = tcp_socket(w, &p1), *d2 = tcp_socket(w, &p2);
	const char *desc[4] = {d1, d2, "short", "BBBBBBBBBBBBBBBBBBBBBB"};

	for (int i = 0; i < N; i++) {
		batch_entry(&e[i], desc[(i * 7 + i / 64) % 4]);
		ep[i] = &e[i];
	}
	req.n_receives = N;
	req.receives = ep;
	peer_write(w, p1, "data");
	rep = call(w, "ReceiveBatch", &req.base,
		   &remsock__receive_batch_reply__descriptor);
	assert_int_equal(rep->n_entries, N);
	for (int i = 0, first = 1; i < N; i++) {
		const Remsock__ReceiveBatchEntry *en = rep->entries[i];
		int k = (i * 7 + i / 64) % 4;

		if (k == 0 && first) { /* d1's first ask takes its data */
			assert_non_null(en->reply);
			assert_int_equal(en->reply->data.len, 4);
			first = 0;
		} else if (k <= 1) { /* nothing (more) there: EAGAIN */
			assert_null(en->reply);
			assert_int_equal(en->application_error,
					 ERR(SYSTEM_ERROR));
		} else {
			assert_null(en->reply);
			assert_int_equal(en->application_error,
					 ERR(SOCKET_CLOSED));
		}
	}
	remsock__receive_batch_reply__free_unpacked(rep, NULL);
	free(d1);
	free(d2);
}

/* An unknown field of @p len bytes (128..16385), which a decoder keeps
 * and ignores: a request that takes that much more room as a frame.
 * protobuf-c packs an unknown field's data as it is: its length first. */
static void pad(ProtobufCMessage *m, ProtobufCMessageUnknownField *u,
		uint8_t *bytes, size_t len)
{
	memset(bytes, 'p', len);
	bytes[0] = (uint8_t)((len - 2) | 0x80);
	bytes[1] = (uint8_t)((len - 2) >> 7);
	*u = (ProtobufCMessageUnknownField){
	    .tag = 999,
	    .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
	    .len = len,
	    .data = bytes,
	};
	m->n_unknown_fields = 1;
	m->unknown_fields = u;
}

static uint64_t parked_bytes(struct world *w)
{
	return rs_apps_used(w->sh->apps, 0, RS_QUOTA_PARKED_BYTES);
}

/* A parked Receive, ReceiveBatch and Poll keep what they ask, not their
 * frames (each padded here with 2,000 unknown bytes): the app's
 * parked_bytes stays small; each runs again from it when its socket has
 * news, with the same answer a run of its frame gives, and gives the
 * bytes back. */
static void t_parked_keeps_state(void **state)
{
	static uint8_t junk[3][2000];
	ProtobufCMessageUnknownField u[3];
	Remsock__ReceiveRequest rr = REMSOCK__RECEIVE_REQUEST__INIT;
	Remsock__ReceiveBatchRequest br = REMSOCK__RECEIVE_BATCH_REQUEST__INIT;
	Remsock__ReceiveRequest e[2], *ep[2] = {&e[0], &e[1]};
	Remsock__PollRequest pr = REMSOCK__POLL_REQUEST__INIT;
	Remsock__PollEvent pe = REMSOCK__POLL_EVENT__INIT, *pep = &pe;
	struct world *w = *state;
	struct rs_sock *p1, *p2, *p3;
	char *d1 = tcp_socket(w, &p1), *d2 = tcp_socket(w, &p2);
	char *d3 = tcp_socket(w, &p3), *got;
	Remsock__ReceiveBatchReply *brep;
	Remsock__PollReply *prep;
	Remsock__Rpc__RpcResponse *r;
	uint64_t rid, bid, pid, woken = stats(w).woken;

	assert_int_equal(parked_bytes(w), 0);
	rr.socket_descriptor = d1;
	rr.data_size = 100;
	rr.has_consumed_offset = 1;
	rr.consumed_offset = 0;
	rr.has_timeout_seconds = 1;
	rr.timeout_seconds = 30;
	pad(&rr.base, &u[0], junk[0], sizeof(junk[0]));
	rid = call_send(w, RS_SVC_SERVICE, "Receive", &rr.base);
	batch_entry(&e[0], d2);
	batch_entry(&e[1], d2);
	e[1].data_size = 3;
	br.n_receives = 2;
	br.receives = ep;
	br.has_timeout_seconds = 1;
	br.timeout_seconds = 30;
	pad(&br.base, &u[1], junk[1], sizeof(junk[1]));
	bid = call_send(w, RS_SVC_SERVICE, "ReceiveBatch", &br.base);
	pe.socket_descriptor = d3;
	pe.requested_events = POLL(IN);
	pr.n_events = 1;
	pr.events = &pep;
	pr.has_timeout_seconds = 1;
	pr.timeout_seconds = 30;
	pad(&pr.base, &u[2], junk[2], sizeof(junk[2]));
	pid = call_send(w, RS_SVC_SERVICE, "Poll", &pr.base);
	pump(w);
	assert_int_equal(stats(w).waits, 3);
	/* Three asks (descriptor, sizes, offsets: tens of bytes each), not
	 * three frames of over 2,000 bytes. */
	assert_true(parked_bytes(w) > 0);
	assert_true(parked_bytes(w) < 3 * 200);

	peer_write(w, p1, "one");
	got = received(reply_wait(w, rid));
	assert_string_equal(got, "one");
	free(got);
	peer_write(w, p2, "twotwo");
	r = reply_wait(w, bid);
	brep = reply_body(r, &remsock__receive_batch_reply__descriptor);
	assert_int_equal(brep->n_entries, 2);
	assert_non_null(brep->entries[0]->reply);
	assert_int_equal(brep->entries[0]->reply->data.len, 6);
	assert_memory_equal(brep->entries[0]->reply->data.data, "twotwo", 6);
	assert_null(brep->entries[1]->reply); /* the first took them all */
	remsock__receive_batch_reply__free_unpacked(brep, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	peer_write(w, p3, "three");
	r = reply_wait(w, pid);
	prep = reply_body(r, &remsock__poll_reply__descriptor);
	assert_int_equal(prep->n_events, 1);
	assert_string_equal(prep->events[0]->socket_descriptor, d3);
	assert_int_equal(prep->events[0]->requested_events, POLL(IN));
	assert_true(prep->events[0]->observed_events & POLL(IN));
	remsock__poll_reply__free_unpacked(prep, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	assert_int_equal(stats(w).woken, woken + 3);
	assert_int_equal(stats(w).waits, 0);
	assert_int_equal(parked_bytes(w), 0);
	free(d1);
	free(d2);
	free(d3);
}

/* A Send four times the socket's TX ring waits for room while the peer
 * reads, and every byte arrives once, in order. */
static void t_send_waits_for_room(void **state)
{
	Remsock__SendRequest req = REMSOCK__SEND_REQUEST__INIT;
	struct world *w = *state;
	size_t len = 4 * 65536, got = 0;
	uint8_t *data = malloc(len), *in = malloc(len + 1);
	Remsock__SendReply *rep;
	Remsock__Rpc__RpcResponse *r = NULL;
	struct rs_sock *p;
	char *d = tcp_socket(w, &p);
	uint64_t id, parked = stats(w).parked, kept;
	ssize_t n;

	assert_true(data != NULL && in != NULL);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	req.socket_descriptor = d;
	req.data = (ProtobufCBinaryData){len, data};
	req.stream_offset = 0;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = 60;
	id = call_send(w, RS_SVC_SERVICE, "Send", &req.base);
	pump(w);
	assert_null(reply_take(w, id));
	assert_int_equal(stats(w).parked, parked + 1);
	/* It waits as what it has still to send, not as its frame: the
	 * socket took a ring's worth, and parked_bytes holds the rest. */
	kept = rs_apps_used(w->sh->apps, 0, RS_QUOTA_PARKED_BYTES);
	assert_true(kept > 0 && kept <= len - 65536 + 64);
	for (unsigned ms = 0; r == NULL; ms++) {
		assert_true(ms < 60000);
		while ((n = rs_sock_recv(p, in + got, len + 1 - got, 0)) > 0)
			got += (size_t)n;
		r = reply_take(w, id);
		if (r == NULL)
			advance(w, 1);
	}
	rep = reply_body(r, &remsock__send_reply__descriptor);
	assert_int_equal(rep->data_sent, (int32_t)len);
	remsock__send_reply__free_unpacked(rep, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	for (unsigned ms = 0; got < len; ms++) {
		assert_true(ms < 60000);
		advance(w, 1);
		while ((n = rs_sock_recv(p, in + got, len + 1 - got, 0)) > 0)
			got += (size_t)n;
	}
	assert_int_equal(got, len);
	assert_memory_equal(in, data, len);
	assert_int_equal(stats(w).waits, 0);
	free(data);
	free(in);
	free(d);
}

static uint64_t send_send(struct world *w, const char *desc,
			  const uint8_t *data, size_t len, int64_t offset,
			  double timeout_s)
{
	Remsock__SendRequest req = REMSOCK__SEND_REQUEST__INIT;

	req.socket_descriptor = (char *)desc;
	req.data = (ProtobufCBinaryData){len, (uint8_t *)data};
	req.stream_offset = offset;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = timeout_s;
	return call_send(w, RS_SVC_SERVICE, "Send", &req.base);
}

static int32_t data_sent(Remsock__Rpc__RpcResponse *r)
{
	Remsock__SendReply *rep =
	    reply_body(r, &remsock__send_reply__descriptor);
	int32_t n = rep->data_sent;

	assert_true(rep->has_data_sent);
	remsock__send_reply__free_unpacked(rep, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
	return n;
}

/* What remsockd writes in one round of its loop leaves in as few
 * segments as it fills (autocork, net/rs_sock.h RS_TCP_AUTOCORK): the
 * replies to calls that arrived together share a segment on the RPC
 * connection, and the Sends of one round to one peer share one to it.
 * With a push per write (TCP_NODELAY) there would be a segment each;
 * with Nagle, the first alone and the rest after its ACK. */
static void t_one_round_one_segment(void **state)
{
	struct world *w = *state;
	struct rs_sock *p;
	char *d = tcp_socket(w, &p);
	uint64_t ids[8];
	unsigned before;
	char in[64];

	/* Eight Sends of 4 bytes, in B's TX queue together: A reads them in
	 * one round. */
	before = w->a.to_peer_port;
	for (unsigned i = 0; i < 8; i++)
		ids[i] = send_send(w, d, (const uint8_t *)"abcd", 4, 4 * i, 30);
	pump(w);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(data_sent(reply_wait(w, ids[i])), 4);
	assert_int_equal(w->a.to_peer_port - before, 1);
	assert_int_equal(rs_sock_recv(p, in, sizeof(in), 0), 32);
	/* Eight Receives of a byte each, all answered at once: their replies
	 * (eight frames on the RPC connection) leave as one segment. */
	peer_write(w, p, "ABCDEFGH");
	before = w->a.from_rpc_port;
	for (unsigned i = 0; i < 8; i++)
		ids[i] = receive_send(w, d, 1, 30);
	pump(w);
	for (unsigned i = 0; i < 8; i++) {
		char *s = received(reply_wait(w, ids[i]));

		assert_int_equal(s[0], "ABCDEFGH"[i]);
		free(s);
	}
	assert_int_equal(w->a.from_rpc_port - before, 1);
	free(d);
}

/* Everything the peer can read now, appended at @p in + *@p got. */
static void peer_drain(struct rs_sock *p, uint8_t *in, size_t cap, size_t *got)
{
	ssize_t n;

	while ((n = rs_sock_recv(p, in + *got, cap - *got, 0)) > 0)
		*got += (size_t)n;
}

/* A Send waiting for room answers at its deadline with what the socket
 * took, and exactly those bytes reach the peer; a Send pipelined behind
 * a waiting one waits its turn, and both go whole, in order. */
static void t_send_deadline_and_pipeline(void **state)
{
	struct world *w = *state;
	size_t len = 4 * 65536, got = 0, cap = 3 * len;
	uint8_t *data = malloc(len), *in = malloc(cap);
	struct rs_sock *p;
	char *d = tcp_socket(w, &p);
	uint64_t id1, id2;
	int32_t sent;

	assert_true(data != NULL && in != NULL);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + i / 509);
	/* The peer does not read: the deadline ends the wait. */
	id1 = send_send(w, d, data, len, 0, 0.05);
	pump(w);
	assert_null(reply_take(w, id1));
	advance(w, 49);
	assert_null(reply_take(w, id1));
	advance(w, 1);
	sent = data_sent(reply_take(w, id1));
	assert_true(sent > 0 && (size_t)sent < len);
	assert_int_equal(stats(w).waits, 0);
	for (unsigned ms = 0; got < (size_t)sent; ms++) {
		assert_true(ms < 60000);
		peer_drain(p, in, cap, &got);
		advance(w, 1);
	}
	peer_drain(p, in, cap, &got);
	assert_int_equal(got, (size_t)sent);
	assert_memory_equal(in, data, got);
	/* The rest, then more behind it: the second waits for the first. */
	id1 = send_send(w, d, data + sent, len - (size_t)sent, sent, 60);
	id2 = send_send(w, d, data, len, len, 60);
	pump(w);
	assert_null(reply_take(w, id2));
	assert_int_equal(stats(w).waits, 2);
	for (unsigned ms = 0; got < 2 * len; ms++) {
		assert_true(ms < 60000);
		peer_drain(p, in, cap, &got);
		advance(w, 1);
	}
	assert_int_equal(got, 2 * len);
	assert_memory_equal(in, data, len);
	assert_memory_equal(in + len, data, len);
	assert_int_equal(data_sent(reply_wait(w, id1)),
			 (int32_t)(len - (size_t)sent));
	assert_int_equal(data_sent(reply_wait(w, id2)), (int32_t)len);
	assert_int_equal(stats(w).waits, 0);
	assert_int_equal(rs_apps_used(w->sh->apps, 0, RS_QUOTA_PARKED_BYTES),
			 0);
	free(data);
	free(in);
	free(d);
}

/* A client that names a session: its sockets stay while a connection of
 * the session is open and for [service] session_grace_s (2 s here)
 * after the last -- a reconnect within it keeps them -- then close (the
 * peer gets its FIN) and are counted.  One that names none keeps its
 * sockets. */
static void t_session_ends(void **state)
{
	struct world *w = *state;
	struct rs_sock *p0, *p;
	char *d0 = tcp_socket(w, &p0), *d, buf[8];
	struct rs_svc_dp_stats st0, st;

	client_close(w); /* setup's connection: no session */
	w->session = 0x5e5510;
	client_connect(w);
	d = tcp_socket(w, &p);
	st0 = stats(w);
	client_close(w);
	advance(w, 1500); /* within the grace */
	assert_int_equal(stats(w).socks_open, st0.socks_open);
	client_connect(w); /* the session again: it lives on */
	advance(w, 3000);
	st = stats(w);
	assert_int_equal(st.socks_open, st0.socks_open);
	assert_int_equal(st.session_closed, st0.session_closed);
	client_close(w);
	advance(w, 2000 + 300); /* the grace, and the next scan (250 ms) */
	st = stats(w);
	assert_int_equal(st.socks_open, st0.socks_open - 1);
	assert_int_equal(st.session_closed, st0.session_closed + 1);
	assert_int_equal(rs_sock_recv(p, buf, sizeof(buf), 0), 0); /* FIN */
	/* The sessionless one is still there. */
	assert_int_equal(rs_sock_recv(p0, buf, sizeof(buf), 0), -EAGAIN);
	w->session = 0;
	free(d0);
	free(d);
}

/* A session's end is judged on one worker from a time another stamped:
 * a stamp a little after the judge's own now (each worker reads the
 * clock once a round) is no time at all.  It was 2^64 ns less a little,
 * past any grace: a reconnect seen in that instant closed the session's
 * sockets (client_2w_virtio, once in CI). */
static void t_session_clock(void **state)
{
	struct world *w = *state;
	struct svc_worker *a = calloc(1, sizeof(*a)),
			  *b = calloc(1, sizeof(*b));
	const uint64_t grace = 2000 * NS_MS;
	uint64_t dead;
	int32_t idx;

	assert_non_null(a);
	assert_non_null(b);
	a->sessions = b->sessions = svc_sessions_create();
	assert_non_null(a->sessions);
	a->lc = w->a.lc;
	b->lc = w->b.lc;
	idx = svc_session_join(a, 0, 0x77);
	assert_true(idx >= 0);
	assert_false(svc_session_over(b, idx, rs_lcore_now_ns(b->lc), grace));
	svc_session_leave(a, idx); /* the last connection: dead_ns stamped */
	dead = rs_lcore_now_ns(a->lc);
	assert_false(svc_session_over(b, idx, dead - 1000, grace));
	assert_false(svc_session_over(b, idx, dead, grace));
	assert_false(svc_session_over(b, idx, dead + grace - 1, grace));
	assert_true(svc_session_over(b, idx, dead + grace, grace));
	assert_int_equal(svc_session_join(b, 0, 0x77), idx); /* back */
	assert_false(svc_session_over(a, idx, dead + 2 * grace, grace));
	svc_session_leave(b, idx);
	svc_sessions_free(a->sessions);
	free(a);
	free(b);
}

static int setup_tuned(void **state)
{
	tuned = true;
	return setup(state);
}

static int setup_tight(void **state)
{
	tight = true;
	return setup_tuned(state);
}

static int teardown_tuned(void **state)
{
	tuned = tight = false;
	return teardown(state);
}

/* The app's buffered_bytes quota: what its sockets' rings are charged. */
static uint64_t buffered(struct world *w)
{
	return rs_apps_used(w->sh->apps, 0, RS_QUOTA_BUFFERED_BYTES);
}

/* 16 KiB a millisecond from peer @p p for half a second, each received
 * through @p d as it comes: the receiver's RTT (the time a window takes to
 * arrive) is a few ms, and each round trip drains more than the first
 * window's worth.  @return the stack's counters after. */
static struct rs_tcp_stats stream_in(struct world *w, const char *d,
				     struct rs_sock *p)
{
	static uint8_t chunk[16384];
	uint64_t got = 0, sent = 0;
	struct rs_tcp_stats ts;

	for (unsigned ms = 0; ms < 500; ms++) {
		ssize_t n = rs_sock_send(p, chunk, sizeof(chunk), 0);

		sent += n > 0 ? (uint64_t)n : 0;
		advance(w, 1);
		while (got < sent) {
			Remsock__Rpc__RpcResponse *env =
			    reply_wait(w, receive_send(w, d, 1 << 20, 0));
			Remsock__ReceiveReply *r = reply_body(
			    env, &remsock__receive_reply__descriptor);

			got += r->data.len;
			remsock__receive_reply__free_unpacked(r, NULL);
			remsock__rpc__rpc_response__free_unpacked(env, NULL);
		}
	}
	assert_int_equal(got, sent);
	rs_tcp_stats_get(w->a.lc->tcp, &ts);
	return ts;
}

/* SO_RCVBUF of @p d, as GetSocketOptions answers it. */
static int32_t rcvbuf_of(struct world *w, const char *d)
{
	Remsock__GetSocketOptionsRequest req =
	    REMSOCK__GET_SOCKET_OPTIONS_REQUEST__INIT;
	Remsock__SocketOption opt = REMSOCK__SOCKET_OPTION__INIT, *opts[1];
	Remsock__GetSocketOptionsReply *rep;
	int32_t rcvbuf;

	req.socket_descriptor = (char *)d;
	opt.level =
	    REMSOCK__SOCKET_OPTION__SOCKET_OPTION_LEVEL__SOCKET_SOL_SOCKET;
	opt.option =
	    REMSOCK__SOCKET_OPTION__SOCKET_OPTION_NAME__SOCKET_SO_RCVBUF;
	opts[0] = &opt;
	req.n_options = 1;
	req.options = opts;
	rep = call(w, "GetSocketOptions", &req.base,
		   &remsock__get_socket_options_reply__descriptor);
	assert_int_equal(rep->n_options, 1);
	assert_int_equal(rep->options[0]->value.len, 4);
	memcpy(&rcvbuf, rep->options[0]->value.data, 4);
	remsock__get_socket_options_reply__free_unpacked(rep, NULL);
	return rcvbuf;
}

/* A tenant's socket whose receive ring auto-tunes ([tcp] rmem_max): the
 * growth is charged to its app, SO_RCVBUF reads the new size, and all of
 * it is given back when the socket goes. */
static void t_ring_growth_charged(void **state)
{
	struct world *w = *state;
	struct rs_sock *p;
	char *d = tcp_socket(w, &p);
	uint64_t base = buffered(w);
	struct rs_tcp_stats ts;
	int32_t rcvbuf;

	assert_int_equal(base, 65536 + 65536);
	ts = stream_in(w, d, p);
	assert_true(ts.ctr[RS_TCP_CTR_RCV_TUNED] >= 1);
	assert_true(buffered(w) > base);
	rcvbuf = rcvbuf_of(w, d);
	assert_true(rcvbuf > 65536);
	assert_int_equal(buffered(w), (uint64_t)rcvbuf + 65536);
	sock_close(w, d);
	pump(w);
	assert_int_equal(buffered(w), 0);
	free(d);
}

/* The app's buffered_bytes quota holds the socket's first rings and no
 * more: every growth is refused (tcp.tune_refused), the ring stays, and
 * the bytes all arrive all the same. */
static void t_ring_growth_refused(void **state)
{
	struct world *w = *state;
	struct rs_sock *p;
	char *d = tcp_socket(w, &p);
	struct rs_tcp_stats ts;

	assert_int_equal(buffered(w), 65536 + 65536);
	ts = stream_in(w, d, p);
	assert_int_equal(ts.ctr[RS_TCP_CTR_RCV_TUNED], 0);
	assert_true(ts.ctr[RS_TCP_CTR_TUNE_REFUSED] >= 1);
	assert_int_equal(rcvbuf_of(w, d), 65536);
	assert_int_equal(buffered(w), 65536 + 65536);
	sock_close(w, d);
	pump(w);
	assert_int_equal(buffered(w), 0);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(t_receive_parks_and_wakes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_deadlines_in_order, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_cancel_on_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_close_wakes_waiters, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_receive_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_receive_batch_many, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_parked_keeps_state, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_send_waits_for_room, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_send_deadline_and_pipeline, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_one_round_one_segment, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_session_ends, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_session_clock, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_ring_growth_charged, setup_tuned,
					    teardown_tuned),
	    cmocka_unit_test_setup_teardown(t_ring_growth_refused, setup_tight,
					    teardown_tuned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
