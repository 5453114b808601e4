/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet-script runner for the TCP core: reads one script (language in
 * README.md), drives a struct rs_tcp_stack with a virtual clock, feeds it
 * the crafted segments, checks every segment it emits against the
 * script, and ends by closing everything, letting TIME-WAIT and any
 * orphan run out, and checking that the connection pool is empty.
 *
 * No DPDK, no kernel: segments are bytes in memory.  The checksum and
 * option encoding here are written independently of tcp/ so that the
 * stack's own wire code is checked rather than trusted.
 *
 * Exit status: 0 when the script passes; 1 with "file:line: what
 * differed (expected vs got)" on stderr otherwise.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_tcp.h"
#include "tcp_pvt.h"

#define NS_PER_S 1000000000ULL
#define MAX_FLOWS 512
#define MAX_LISTENERS 8
#define MAX_QUEUE 4096
#define MAX_LINE 1024
#define DRAIN_LIMIT (48ULL * 3600 * NS_PER_S)

struct out_seg {
	uint64_t t;
	struct rs_tcp_seg s; /* payload pointers not kept: see data */
	uint8_t *data;
	bool has_iss;
	uint32_t iss; /* the sending connection's ISS, for payload checks */
};

struct flow {
	uint16_t rport, lport;
	uint32_t raddr;
	uint32_t rem_isn;
	bool isn_known;
	uint32_t our_isn;
	bool ts_known;	 /* our TSval offset learnt from our first TS */
	uint32_t ts_off; /* our TSval - the clock in ms */
	struct rs_tcp_conn *conn;
	unsigned events;
	uint64_t written, read;
};

struct lis {
	struct rs_tcp_listener *l;
	uint16_t port;
	unsigned events;
};

/* A segment as a script line describes it. */
struct spec {
	uint8_t flags;
	uint32_t seq, end, len;
	bool has_ack, has_win, has_opts, bad_csum;
	uint32_t ack, win;
	uint8_t opts[RS_TCP_OPT_MAX];
	unsigned opt_len;
	int port, doff;
	bool raw;
	uint8_t rawbuf[256];
	size_t raw_len;
};

struct runner {
	const char *file;
	int line;
	struct rs_tcp_config cfg;
	struct rs_tcp_sockopts sopts;
	bool sopts_set;
	struct rs_tcp_stack *st;
	uint64_t now, t_prev;
	uint64_t tol;
	uint32_t laddr, raddr;
	uint16_t def_rport, listen_port;
	uint32_t def_rem_isn;
	bool fixed_isn;
	uint32_t fixed_isn_value;
	struct flow flows[MAX_FLOWS];
	int n_flows, cur;
	struct lis lis[MAX_LISTENERS];
	int n_lis;
	struct out_seg *q[MAX_QUEUE];
	int qn;
	int last_verdict;
	int emit_fail;
	int emit_block;
	const char *result; /* text after " = " on the current line */
	bool draining;
};

static struct runner R;

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", R.file, R.line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---------------------------------------------------------------------- */
/* Patterns, checksum, options (independent of tcp/)                      */
/* ---------------------------------------------------------------------- */

/* The peer's byte with sequence number s. */
static uint8_t peer_pat(uint32_t s)
{
	return (uint8_t)(s * 31u + (s >> 9) + 7u);
}

/* Our stream's byte at offset k (the application writes these). */
static uint8_t local_pat(uint64_t k)
{
	return (uint8_t)(k * 13u + (k >> 7) + 101u);
}

static uint16_t csum(uint32_t saddr, uint32_t daddr, const uint8_t *p,
		     size_t len)
{
	uint32_t sum = 0;
	const uint8_t *a = (const uint8_t *)&saddr,
		      *b = (const uint8_t *)&daddr;

	sum += (uint32_t)(a[0] << 8 | a[1]) + (uint32_t)(a[2] << 8 | a[3]);
	sum += (uint32_t)(b[0] << 8 | b[1]) + (uint32_t)(b[2] << 8 | b[3]);
	sum += 6 + (uint32_t)len;
	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8) + (i + 1 < len ? p[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Add @p sack to every SACK block edge, @p val to TSval and @p ecr to
 * TSecr of an option list: between the script's relative numbers and
 * the wire's absolute ones. */
static void opts_shift(uint8_t *p, unsigned len, uint32_t sack, uint32_t val,
		       uint32_t ecr)
{
	for (unsigned i = 0; i < len;) {
		unsigned k = p[i], l = i + 1 < len ? p[i + 1] : 0;

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (l < 2 || i + l > len)
			break;
		if (k == 8 && l == 10) {
			put_be32(p + i + 2, get_be32(p + i + 2) + val);
			put_be32(p + i + 6, get_be32(p + i + 6) + ecr);
		}
		for (unsigned j = i + 2; k == 5 && j + 4 <= i + l; j += 4)
			put_be32(p + j, get_be32(p + j) + sack);
		i += l;
	}
}

/* Canonical option list: "kind:len:hex" items, NOP and EOL left out. */
static void opts_canon(const uint8_t *p, unsigned len, char *out, size_t n)
{
	size_t o = 0;

	out[0] = 0;
	for (unsigned i = 0; i < len && o + 8 < n;) {
		unsigned k = p[i], l;

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		l = i + 1 < len ? p[i + 1] : 0;
		if (l < 2 || i + l > len) {
			o += (size_t)snprintf(out + o, n - o, "bad@%u ", i);
			break;
		}
		o += (size_t)snprintf(out + o, n - o, "%u:", k);
		for (unsigned j = 2; j < l && o + 4 < n; j++)
			o += (size_t)snprintf(out + o, n - o, "%02x", p[i + j]);
		o += (size_t)snprintf(out + o, n - o, " ");
		i += l;
	}
}

/* Human form of an option list, as the script language writes it. */
static void opts_str(const uint8_t *p, unsigned len, char *out, size_t n)
{
	size_t o = 0;

	out[0] = 0;
	for (unsigned i = 0; i < len && o + 24 < n;) {
		unsigned k = p[i],
			 l = k <= 1 ? 1 : (i + 1 < len ? p[i + 1] : 0);
		const char *sep = o ? "," : "";

		if (k == 0) {
			o += (size_t)snprintf(out + o, n - o, "%seol", sep);
			i++;
		} else if (k == 1) {
			o += (size_t)snprintf(out + o, n - o, "%snop", sep);
			i++;
		} else if (k == 2 && l == 4 && i + 4 <= len) {
			o += (size_t)snprintf(out + o, n - o, "%smss %u", sep,
					      p[i + 2] << 8 | p[i + 3]);
			i += 4;
		} else if (k == 3 && l == 3 && i + 3 <= len) {
			o += (size_t)snprintf(out + o, n - o, "%swscale %u",
					      sep, p[i + 2]);
			i += 3;
		} else if (k == 4 && l == 2) {
			o += (size_t)snprintf(out + o, n - o, "%ssackOK", sep);
			i += 2;
		} else if (k == 8 && l == 10 && i + 10 <= len) {
			o += (size_t)snprintf(
			    out + o, n - o, "%sTS val %u ecr %u", sep,
			    get_be32(p + i + 2), get_be32(p + i + 6));
			i += 10;
		} else if (k == 5 && l >= 10 && (l - 2) % 8 == 0 &&
			   i + l <= len) {
			o += (size_t)snprintf(out + o, n - o, "%ssack", sep);
			for (unsigned j = i + 2; j < i + l && o + 24 < n;
			     j += 8)
				o += (size_t)snprintf(out + o, n - o, " %u:%u",
						      get_be32(p + j),
						      get_be32(p + j + 4));
			i += l;
		} else {
			o +=
			    (size_t)snprintf(out + o, n - o, "%sopt%u", sep, k);
			i += l >= 2 ? l : len;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Flows and names                                                        */
/* ---------------------------------------------------------------------- */

static struct flow *flow_get(uint16_t rport, bool create)
{
	for (int i = 0; i < R.n_flows; i++)
		if (R.flows[i].rport == rport)
			return &R.flows[i];
	if (!create)
		return NULL;
	if (R.n_flows == MAX_FLOWS)
		fail("too many flows");
	struct flow *f = &R.flows[R.n_flows++];

	memset(f, 0, sizeof(*f));
	f->rport = rport;
	f->lport = R.listen_port;
	f->raddr = R.raddr;
	f->rem_isn = R.def_rem_isn;
	return f;
}

static struct flow *cur_flow(void)
{
	if (R.cur < 0)
		R.cur = (int)(flow_get(R.def_rport, true) - R.flows);
	return &R.flows[R.cur];
}

static struct rs_tcp_conn *cur_conn(void)
{
	struct flow *f = cur_flow();

	if (f->conn == NULL)
		fail("no connection on the current flow (port %u)", f->rport);
	return f->conn;
}

static const struct {
	const char *name;
	int val;
} errnames[] = {
    {"0", 0},
    {"ECONNREFUSED", ECONNREFUSED},
    {"ECONNRESET", ECONNRESET},
    {"ETIMEDOUT", ETIMEDOUT},
    {"EPIPE", EPIPE},
    {"ENOTCONN", ENOTCONN},
    {"EAGAIN", EAGAIN},
    {"EADDRINUSE", EADDRINUSE},
    {"EADDRNOTAVAIL", EADDRNOTAVAIL},
    {"ENOBUFS", ENOBUFS},
    {"EINVAL", EINVAL},
    {"EBUSY", EBUSY},
    {"ERANGE", ERANGE},
    {"ENOMEM", ENOMEM},
    {"EHOSTUNREACH", EHOSTUNREACH},
    {"ENETUNREACH", ENETUNREACH},
    {"ENOPROTOOPT", ENOPROTOOPT},
};

static int err_val(const char *s)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strcmp(s, errnames[i].name) == 0)
			return errnames[i].val;
	fail("unknown error name '%s'", s);
}

static const char *err_name(int v)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].val == v)
			return errnames[i].name;
	return "E?";
}

static const char *const evnames[] = {"READABLE",   "WRITABLE", "CONNECTED",
				      "ACCEPTABLE", "PEER_FIN", "ERROR",
				      "CLOSED"};

static unsigned ev_bits(const char *list)
{
	char buf[256], *tok, *save;
	unsigned bits = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < 7; i++)
			if (strcmp(tok, evnames[i]) == 0)
				break;
		if (i == 7)
			fail("unknown event '%s'", tok);
		bits |= 1u << i;
	}
	return bits;
}

static void ev_str(unsigned bits, char *out, size_t n)
{
	size_t o = 0;

	out[0] = 0;
	for (unsigned i = 0; i < 7; i++)
		if (bits & (1u << i))
			o += (size_t)snprintf(out + o, n - o, "%s%s",
					      o ? "," : "", evnames[i]);
	if (o == 0)
		snprintf(out, n, "none");
}

/* ---------------------------------------------------------------------- */
/* Stack callbacks                                                        */
/* ---------------------------------------------------------------------- */

static int emit_cb(void *io, const struct rs_tcp_seg *s)
{
	struct out_seg *o;

	(void)io;
	if (R.draining)
		return 0;
	if (R.emit_fail > 0) {
		R.emit_fail--;
		return -ENOBUFS;
	}
	if (R.emit_block > 0) {
		R.emit_block--;
		return -EAGAIN;
	}
	if (R.qn == MAX_QUEUE)
		fail("more than %d segments emitted without being expected",
		     MAX_QUEUE);
	o = calloc(1, sizeof(*o));
	o->t = R.now;
	o->s = *s;
	o->data = malloc(s->payload_len + 1);
	memcpy(o->data, s->payload.seg[0].ptr, s->payload.seg[0].len);
	memcpy(o->data + s->payload.seg[0].len, s->payload.seg[1].ptr,
	       s->payload.seg[1].len);
	if (s->conn != NULL) {
		struct rs_tcp_info info;

		rs_tcp_info_get(s->conn, &info);
		o->has_iss = true;
		o->iss = info.iss;
	}
	R.q[R.qn++] = o;
	return 0;
}

static void event_cb(void *user, struct rs_tcp_conn *c, unsigned ev)
{
	if (c == NULL)
		((struct lis *)user)->events |= ev;
	else
		((struct flow *)user)->events |= ev;
}

/* ---------------------------------------------------------------------- */
/* Segment formatting                                                     */
/* ---------------------------------------------------------------------- */

static void flags_str(uint8_t f, char *out)
{
	static const struct {
		uint8_t bit;
		char c;
	} map[] = {{RS_TCP_SYN, 'S'}, {RS_TCP_FIN, 'F'}, {RS_TCP_RST, 'R'},
		   {RS_TCP_PSH, 'P'}, {RS_TCP_URG, 'U'}, {RS_TCP_ECE, 'E'},
		   {RS_TCP_CWR, 'W'}, {RS_TCP_ACK, '.'}};
	int n = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (f & map[i].bit)
			out[n++] = map[i].c;
	out[n] = 0;
}

static uint32_t rel_seq(const struct flow *f, uint32_t seq)
{
	return f && f->isn_known ? seq - f->our_isn : seq;
}

static uint32_t rel_ack(const struct flow *f, uint32_t ack)
{
	return f ? ack - f->rem_isn : ack;
}

static void out_str(const struct out_seg *o, const struct flow *f, char *buf,
		    size_t n)
{
	char fl[12], opt[200];
	uint32_t seq = rel_seq(f, o->s.seq);
	int k;

	flags_str(o->s.flags, fl);
	k = snprintf(buf, n, "%s %u:%u(%u)", fl, seq, seq + o->s.payload_len,
		     o->s.payload_len);
	if (o->s.flags & RS_TCP_ACK)
		k += snprintf(buf + k, n - (size_t)k, " ack %u",
			      rel_ack(f, o->s.ack));
	k += snprintf(buf + k, n - (size_t)k, " win %u", o->s.window);
	opts_str(o->s.opt, o->s.opt_len, opt, sizeof(opt));
	if (o->s.opt_len)
		k += snprintf(buf + k, n - (size_t)k, " <%s>", opt);
	snprintf(buf + k, n - (size_t)k, " (port %u, t=%.6f)", o->s.dport,
		 (double)o->t / NS_PER_S);
}

/* ---------------------------------------------------------------------- */
/* Parsing                                                                */
/* ---------------------------------------------------------------------- */

/* Next token of *p; "<...>" is one token.  NULL at the end. */
static char *tok(char **p)
{
	char *s = *p, *e;

	while (*s && isspace((unsigned char)*s))
		s++;
	if (*s == 0)
		return NULL;
	if (*s == '<' && s[1] && !isspace((unsigned char)s[1])) {
		e = strchr(s, '>');
		if (e == NULL)
			fail("missing '>'");
		e++;
	} else {
		e = s;
		while (*e && !isspace((unsigned char)*e))
			e++;
	}
	if (*e)
		*e++ = 0;
	*p = e;
	return s;
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	if (s == NULL)
		fail("number missing");
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		fail("bad number '%s'", s);
	return v;
}

static int64_t snum(const char *s)
{
	if (s && s[0] == '-')
		return -(int64_t)num(s + 1);
	return (int64_t)num(s);
}

/* Seconds (decimal) to ns. */
static uint64_t secs(const char *s)
{
	char *end;
	double v;

	if (s == NULL)
		fail("time missing");
	v = strtod(s, &end);
	if (*end || end == s || v < 0)
		fail("bad time '%s'", s);
	return (uint64_t)(v * 1e9 + 0.5);
}

static uint8_t flag_bits(const char *s)
{
	uint8_t f = 0;

	for (; *s; s++) {
		switch (*s) {
		case 'S':
			f |= RS_TCP_SYN;
			break;
		case 'F':
			f |= RS_TCP_FIN;
			break;
		case 'R':
			f |= RS_TCP_RST;
			break;
		case 'P':
			f |= RS_TCP_PSH;
			break;
		case '.':
			f |= RS_TCP_ACK;
			break;
		case 'U':
			f |= RS_TCP_URG;
			break;
		case 'E':
			f |= RS_TCP_ECE;
			break;
		case 'W':
			f |= RS_TCP_CWR;
			break;
		case '-':
			break; /* no flags at all */
		default:
			fail("bad flag '%c'", *s);
		}
	}
	return f;
}

static void opt_put(struct spec *sp, const uint8_t *b, unsigned n)
{
	if (sp->opt_len + n > RS_TCP_OPT_MAX)
		fail("options longer than 40 bytes");
	memcpy(sp->opts + sp->opt_len, b, n);
	sp->opt_len += n;
}

static void hex_bytes(const char *h, uint8_t *out, size_t max, size_t *n)
{
	*n = 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned v;

		if (*n == max || sscanf(h, "%2x", &v) != 1)
			fail("bad hex '%s'", h);
		out[(*n)++] = (uint8_t)v;
	}
	if (*h)
		fail("odd hex digit count");
}

/* "sack L:R L:R ...": a SACK option, edges relative (see opts_shift). */
static void sack_item(struct spec *sp, char *p)
{
	uint8_t o[RS_TCP_OPT_MAX] = {5, 2};
	unsigned a, b, used;

	while (sscanf(p, " %u:%u%n", &a, &b, &used) == 2) {
		if (o[1] + 8 > RS_TCP_OPT_MAX)
			fail("too many SACK blocks");
		put_be32(o + o[1], a);
		put_be32(o + o[1] + 4, b);
		o[1] = (uint8_t)(o[1] + 8);
		p += used;
	}
	if (o[1] == 2 || *p)
		fail("bad SACK blocks near '%s'", p);
	opt_put(sp, o, o[1]);
}

/* One item of "<mss 1460,wscale 7,nop,sackOK,TS val 1 ecr 0,x0102>". */
static void opt_item(struct spec *sp, char *it)
{
	unsigned a, b;
	uint8_t buf[40];
	size_t n;

	while (isspace((unsigned char)*it))
		it++;
	if (sscanf(it, "mss %u", &a) == 1) {
		uint8_t o[4] = {2, 4, (uint8_t)(a >> 8), (uint8_t)a};

		opt_put(sp, o, 4);
	} else if (sscanf(it, "wscale %u", &a) == 1) {
		uint8_t o[3] = {3, 3, (uint8_t)a};

		opt_put(sp, o, 3);
	} else if (strncmp(it, "nop", 3) == 0) {
		opt_put(sp, (const uint8_t *)"\x01", 1);
	} else if (strncmp(it, "eol", 3) == 0) {
		opt_put(sp, (const uint8_t *)"\x00", 1);
	} else if (strncmp(it, "sackOK", 6) == 0) {
		opt_put(sp, (const uint8_t *)"\x04\x02", 2);
	} else if (sscanf(it, "TS val %u ecr %u", &a, &b) == 2) {
		uint8_t o[10] = {8,
				 10,
				 (uint8_t)(a >> 24),
				 (uint8_t)(a >> 16),
				 (uint8_t)(a >> 8),
				 (uint8_t)a,
				 (uint8_t)(b >> 24),
				 (uint8_t)(b >> 16),
				 (uint8_t)(b >> 8),
				 (uint8_t)b};

		opt_put(sp, o, 10);
	} else if (strncmp(it, "sack ", 5) == 0) {
		sack_item(sp, it + 5);
	} else if (it[0] == 'x') {
		hex_bytes(it + 1, buf, sizeof(buf), &n);
		opt_put(sp, buf, (unsigned)n);
	} else if (*it) {
		fail("unknown option '%s'", it);
	}
}

static void parse_opts(struct spec *sp, char *t)
{
	char *save, *it;

	t[strlen(t) - 1] = 0; /* '>' */
	sp->has_opts = true;
	for (it = strtok_r(t + 1, ",", &save); it;
	     it = strtok_r(NULL, ",", &save))
		opt_item(sp, it);
}

static void parse_range(struct spec *sp, const char *t)
{
	unsigned long long a, b, l;

	if (t == NULL || sscanf(t, "%llu:%llu(%llu)", &a, &b, &l) != 3)
		fail("expected START:END(LEN), got '%s'", t ? t : "");
	if ((uint32_t)(b - a) != (uint32_t)l)
		fail("END - START != LEN in '%s'", t);
	sp->seq = (uint32_t)a;
	sp->end = (uint32_t)b;
	sp->len = (uint32_t)l;
}

static void parse_spec(struct spec *sp, char *p)
{
	char *t = tok(&p);

	memset(sp, 0, sizeof(*sp));
	sp->port = -1;
	sp->doff = -1;
	if (t && strcmp(t, "raw") == 0) {
		sp->raw = true;
		hex_bytes(tok(&p) ?: "", sp->rawbuf, sizeof(sp->rawbuf),
			  &sp->raw_len);
		return;
	}
	if (t == NULL)
		fail("segment flags missing");
	sp->flags = flag_bits(t);
	parse_range(sp, tok(&p));
	while ((t = tok(&p)) != NULL) {
		if (strcmp(t, "ack") == 0) {
			sp->has_ack = true;
			sp->ack = (uint32_t)num(tok(&p));
		} else if (strcmp(t, "win") == 0) {
			sp->has_win = true;
			sp->win = (uint32_t)num(tok(&p));
		} else if (strcmp(t, "port") == 0) {
			sp->port = (int)num(tok(&p));
		} else if (strcmp(t, "doff") == 0) {
			sp->doff = (int)num(tok(&p));
		} else if (strcmp(t, "badcsum") == 0) {
			sp->bad_csum = true;
		} else if (t[0] == '<') {
			parse_opts(sp, t);
		} else {
			fail("unknown segment field '%s'", t);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* The clock                                                              */
/* ---------------------------------------------------------------------- */

static void run_timers_until(uint64_t limit, bool stop_on_emit)
{
	for (unsigned guard = 0; guard < 10000000; guard++) {
		uint64_t nt = rs_tcp_next_timer(R.st);

		if (nt > limit)
			return;
		if (nt > R.now)
			R.now = nt;
		rs_tcp_timers_run(R.st, R.now);
		if (stop_on_emit && R.qn > 0)
			return;
	}
	fail("timer loop does not end");
}

/* Bring the clock to t (never backwards), running due timers. */
static void advance_to(uint64_t t)
{
	run_timers_until(t, false);
	if (t > R.now)
		R.now = t;
	rs_tcp_timers_run(R.st, R.now);
}

static void no_pending_output(const char *before)
{
	char buf[300];

	if (R.qn == 0)
		return;
	out_str(R.q[0], flow_get(R.q[0]->s.dport, false), buf, sizeof(buf));
	fail("unexpected outbound segment %s: %s", before, buf);
}

/* ---------------------------------------------------------------------- */
/* Inbound                                                                */
/* ---------------------------------------------------------------------- */

static size_t build_in(const struct spec *sp, struct flow *f, uint8_t *b)
{
	unsigned ol = (sp->opt_len + 3) & ~3u, hl = RS_TCP_HDR_MIN + ol;
	uint32_t seq = f->rem_isn + sp->seq;
	uint32_t ack = f->isn_known ? f->our_isn + sp->ack : sp->ack;
	uint32_t dseq = seq + !!(sp->flags & RS_TCP_SYN);
	uint16_t c;

	memset(b, 0, hl);
	b[0] = (uint8_t)(f->rport >> 8);
	b[1] = (uint8_t)f->rport;
	b[2] = (uint8_t)(f->lport >> 8);
	b[3] = (uint8_t)f->lport;
	for (int i = 0; i < 4; i++) {
		b[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		b[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	b[12] = (uint8_t)((sp->doff >= 0 ? (unsigned)sp->doff : hl / 4) << 4);
	b[13] = sp->flags;
	b[14] = (uint8_t)((sp->has_win ? sp->win : 65535) >> 8);
	b[15] = (uint8_t)(sp->has_win ? sp->win : 65535);
	memcpy(b + RS_TCP_HDR_MIN, sp->opts, sp->opt_len);
	opts_shift(b + RS_TCP_HDR_MIN, sp->opt_len,
		   f->isn_known ? f->our_isn : 0, 0,
		   f->ts_known ? f->ts_off : 0);
	for (uint32_t i = 0; i < sp->len; i++)
		b[hl + i] = peer_pat(dseq + i);
	c = csum(f->raddr, R.laddr, b, hl + sp->len);
	if (sp->bad_csum)
		c ^= 0x0100;
	b[16] = (uint8_t)(c >> 8);
	b[17] = (uint8_t)c;
	return hl + sp->len;
}

/* An ICMP type or code: a name from @p names (index = value), or a
 * number. */
static uint8_t icmp_val(const char *t, const char *const *names, size_t n)
{
	if (t == NULL)
		fail("ICMP type or code missing");
	for (size_t i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(t, names[i]) == 0)
			return (uint8_t)i;
	return (uint8_t)num(t);
}

/* < icmp TYPE CODE [mtu N] [seq S] [port P]: an ICMP error quoting a
 * segment of ours on the flow (sequence S relative to our ISN; default
 * the connection's SND.UNA). */
static void do_icmp(char *p)
{
	static const char *const types[] = {[3] = "unreach",
					    [4] = "source_quench",
					    [11] = "time_exceeded",
					    [12] = "param_problem"};
	static const char *const codes[] = {"net", "host", "proto", "port",
					    "frag_needed"};
	uint8_t type = icmp_val(tok(&p), types, 13);
	uint8_t code = icmp_val(tok(&p), codes, 5);
	struct flow *f = cur_flow();
	uint32_t mtu = 0, seq;
	bool has_seq = false;
	uint8_t q[8];
	char *t;

	while ((t = tok(&p)) != NULL) {
		if (strcmp(t, "mtu") == 0) {
			mtu = (uint32_t)num(tok(&p));
		} else if (strcmp(t, "seq") == 0) {
			seq = (uint32_t)num(tok(&p));
			has_seq = true;
		} else if (strcmp(t, "port") == 0) {
			f = flow_get((uint16_t)num(tok(&p)), true);
		} else {
			fail("unknown icmp field '%s'", t);
		}
	}
	if (!has_seq) {
		struct rs_tcp_info i;

		if (f->conn == NULL)
			fail("icmp: no connection on the flow, give seq");
		rs_tcp_info_get(f->conn, &i);
		seq = i.snd_una;
	} else {
		seq += f->isn_known ? f->our_isn : 0;
	}
	q[0] = (uint8_t)(f->lport >> 8);
	q[1] = (uint8_t)f->lport;
	q[2] = (uint8_t)(f->rport >> 8);
	q[3] = (uint8_t)f->rport;
	for (int i = 0; i < 4; i++)
		q[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
	R.last_verdict =
	    rs_tcp_icmp_input(R.st, R.now, type, code, (uint16_t)mtu, R.laddr,
			      f->raddr, q, sizeof(q));
}

static void do_inbound(char *p)
{
	struct spec sp;
	struct flow *f;
	static uint8_t buf[RS_TCP_HDR_MAX + 70000];
	size_t len;

	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, "icmp ", 5) == 0) {
		do_icmp(p + 5);
		return;
	}
	parse_spec(&sp, p);
	f = sp.port >= 0 ? flow_get((uint16_t)sp.port, true) : cur_flow();
	if (sp.raw) {
		memcpy(buf, sp.rawbuf, sp.raw_len);
		len = sp.raw_len;
		if (len >= RS_TCP_HDR_MIN) { /* a valid checksum */
			uint16_t c;

			buf[16] = buf[17] = 0;
			c = csum(f->raddr, R.laddr, buf, len);
			buf[16] = (uint8_t)(c >> 8);
			buf[17] = (uint8_t)c;
		}
	} else {
		if (sp.len > 65000)
			fail("payload too long");
		len = build_in(&sp, f, buf);
	}
	R.last_verdict = rs_tcp_input(R.st, R.now, f->raddr, R.laddr, buf, len,
				      RS_TCP_IN_CSUM);
}

/* ---------------------------------------------------------------------- */
/* Outbound                                                               */
/* ---------------------------------------------------------------------- */

static void check_payload(const struct out_seg *o, const char *got)
{
	uint32_t k0;

	if (o->s.payload_len == 0 || !o->has_iss)
		return;
	k0 = o->s.seq - (o->iss + 1);
	for (uint32_t i = 0; i < o->s.payload_len; i++)
		if (o->data[i] != local_pat((uint64_t)k0 + i))
			fail("payload byte %u of %s differs from what was "
			     "written (stream offset %u)",
			     i, got, k0 + i);
}

static void check_fields(const struct spec *sp, const struct out_seg *o,
			 const struct flow *f, const char *want,
			 const char *got)
{
	char a[200], b[200];

	if (o->s.flags != sp->flags || rel_seq(f, o->s.seq) != sp->seq ||
	    o->s.payload_len != sp->len)
		fail("expected %s\n    got %s", want, got);
	if (sp->has_ack &&
	    ((o->s.flags & RS_TCP_ACK) == 0 || rel_ack(f, o->s.ack) != sp->ack))
		fail("ack differs: expected %s\n    got %s", want, got);
	if (sp->has_win && o->s.window != sp->win)
		fail("window differs: expected %s\n    got %s", want, got);
	if (sp->port >= 0 && o->s.dport != sp->port)
		fail("port differs: expected %s\n    got %s", want, got);
	if (sp->has_opts) {
		opts_canon(sp->opts, sp->opt_len, a, sizeof(a));
		opts_canon(o->s.opt, o->s.opt_len, b, sizeof(b));
		if (strcmp(a, b) != 0)
			fail("options differ: expected %s\n    got %s", want,
			     got);
	}
	if (o->s.saddr != R.laddr || o->s.daddr != f->raddr ||
	    o->s.sport != f->lport)
		fail("addresses or source port differ: got %s", got);
}

/* Our TSval offset, learnt from the first TS option we send on @p f (and
 * again from each SYN); then the segment's options in relative form: our
 * TSval as the clock in ms, SACK edges relative to the peer's ISN. */
static void rel_opts(struct out_seg *o, struct flow *f)
{
	uint8_t *p = o->s.opt;
	unsigned len = o->s.opt_len;

	for (unsigned i = 0; i + 10 <= len;) {
		if (p[i] == 0)
			break;
		if (p[i] == 1) {
			i++;
			continue;
		}
		if (p[i] == 8 && p[i + 1] == 10 &&
		    ((o->s.flags & RS_TCP_SYN) || !f->ts_known)) {
			f->ts_known = true;
			f->ts_off = get_be32(p + i + 2) -
				    (uint32_t)(o->t / (NS_PER_S / 1000));
		}
		if (p[i + 1] < 2)
			break;
		i += p[i + 1];
	}
	opts_shift(p, len, -f->rem_isn, f->ts_known ? -f->ts_off : 0, 0);
}

static void do_outbound(char *p, const char *line, uint64_t t)
{
	struct spec sp;
	struct out_seg *o;
	struct flow *f;
	char got[300];

	parse_spec(&sp, p);
	if (R.qn == 0)
		run_timers_until(t + R.tol, true);
	if (R.qn == 0)
		fail("expected %s at t=%.6f; nothing was sent by t=%.6f", line,
		     (double)t / NS_PER_S, (double)(t + R.tol) / NS_PER_S);
	o = R.q[0];
	memmove(R.q, R.q + 1, (size_t)--R.qn * sizeof(R.q[0]));
	f = flow_get(o->s.dport, true);
	if (f->lport == 0)
		f->lport = o->s.sport;
	if (o->s.flags & RS_TCP_SYN) {
		f->isn_known = true;
		f->our_isn = o->s.seq;
	}
	rel_opts(o, f);
	out_str(o, f, got, sizeof(got));
	if (o->t + R.tol < t || o->t > t + R.tol)
		fail("timing: expected %s at t=%.6f (+-%.6f)\n    got %s", line,
		     (double)t / NS_PER_S, (double)R.tol / NS_PER_S, got);
	check_fields(&sp, o, f, line, got);
	check_payload(o, got);
	free(o->data);
	free(o);
}

/* "synflood N PORT": N SYNs from ports PORT, PORT + 1, ... */
static void do_synflood(char *p)
{
	uint64_t n = num(tok(&p)), port = num(tok(&p));
	char spec[64];

	for (uint64_t i = 0; i < n; i++) {
		snprintf(spec, sizeof(spec), "S 0:0(0) win 65535 port %u",
			 (unsigned)(port + i));
		do_inbound(spec);
	}
}

/* "drain FLAGS N": exactly N segments were sent, all with FLAGS (for
 * floods, where one line per segment would drown the script). */
static void do_drain(char *p)
{
	uint8_t flags = flag_bits(tok(&p) ?: "");
	uint64_t n = num(tok(&p));
	char got[300];

	if ((uint64_t)R.qn != n)
		fail("drain: expected %" PRIu64 " segments, %d were sent", n,
		     R.qn);
	for (int i = 0; i < R.qn; i++) {
		struct out_seg *o = R.q[i];

		if (o->s.flags != flags) {
			out_str(o, flow_get(o->s.dport, false), got,
				sizeof(got));
			fail("drain: segment %d is %s", i, got);
		}
		free(o->data);
		free(o);
	}
	R.qn = 0;
}

/* ---------------------------------------------------------------------- */
/* Application calls                                                      */
/* ---------------------------------------------------------------------- */

/* "= X" after a call (split off the line into R.result): @return the
 * expected value, -errno for an error name, @p dflt when there is none. */
static int64_t want_result(int64_t dflt)
{
	const char *t = R.result;

	if (t == NULL)
		return dflt;
	while (isspace((unsigned char)*t))
		t++;
	if (*t == 0)
		fail("result missing after '='");
	if (strcmp(t, "EOF") == 0)
		return 0;
	if (isdigit((unsigned char)t[0]))
		return (int64_t)num(t);
	return -err_val(t);
}

static void check_result(const char *what, int64_t got, int64_t want)
{
	if (got == want)
		return;
	fail("%s returned %s%" PRId64 " (%s), expected %" PRId64 " (%s)", what,
	     "", got, got < 0 ? err_name((int)-got) : "ok", want,
	     want < 0 ? err_name((int)-want) : "ok");
}

static const struct rs_tcp_sockopts *sock_opts(void)
{
	return R.sopts_set ? &R.sopts : NULL;
}

static void do_listen(char *p)
{
	uint16_t port = (uint16_t)num(tok(&p));
	unsigned backlog = 128;
	uint32_t addr = R.laddr;
	struct rs_tcp_listener *l;
	char *t;
	int64_t want = want_result(0);

	while ((t = tok(&p)) != NULL) {
		if (strcmp(t, "backlog") == 0)
			backlog = (unsigned)num(tok(&p));
		else if (strcmp(t, "any") == 0)
			addr = 0;
		else
			fail("unknown listen argument '%s'", t);
	}
	if (R.n_lis == MAX_LISTENERS)
		fail("too many listeners");
	l = rs_tcp_listen(R.st, addr, port, backlog, sock_opts(),
			  &R.lis[R.n_lis]);
	check_result("listen", l ? 0 : -errno, want);
	if (l == NULL)
		return;
	R.lis[R.n_lis].l = l;
	R.lis[R.n_lis].port = port;
	R.lis[R.n_lis++].events = 0;
	R.listen_port = port;
	for (int i = 0; i < R.n_flows; i++)
		if (R.flows[i].conn == NULL && R.flows[i].lport == 0)
			R.flows[i].lport = port;
}

static void do_connect(char *p)
{
	char *t = tok(&p), *colon;
	uint16_t lport = 0, rport;
	uint32_t raddr;
	struct rs_tcp_conn *c;
	struct rs_tcp_tuple tu;
	struct flow *f;
	int64_t want;

	if (t == NULL || (colon = strchr(t, ':')) == NULL)
		fail("connect IP:PORT");
	*colon = 0;
	if (inet_pton(AF_INET, t, &raddr) != 1)
		fail("bad address '%s'", t);
	rport = (uint16_t)num(colon + 1);
	t = tok(&p);
	if (t && strcmp(t, "lport") == 0)
		lport = (uint16_t)num(tok(&p));
	else if (t)
		fail("unknown connect argument '%s'", t);
	want = want_result(0);
	f = flow_get(rport, true);
	f->raddr = raddr;
	c = rs_tcp_connect(R.st, R.now, R.laddr, lport, raddr, rport,
			   sock_opts(), f);
	check_result("connect", c ? 0 : -errno, want);
	if (c == NULL)
		return;
	rs_tcp_tuple_get(c, &tu);
	f->lport = tu.lport;
	f->conn = c;
	f->events = 0;
	f->written = f->read = 0;
	R.cur = (int)(f - R.flows);
}

static void do_accept(char *p)
{
	int64_t want = want_result(0);
	struct rs_tcp_conn *c;
	struct rs_tcp_tuple tu;
	struct flow *f;

	if (R.n_lis == 0)
		fail("accept without listen");
	c = rs_tcp_accept(R.lis[R.n_lis - 1].l, NULL);
	check_result("accept", c ? 0 : -errno, want);
	if (c == NULL)
		return;
	rs_tcp_tuple_get(c, &tu);
	f = flow_get(tu.rport, true);
	f->conn = c;
	f->events = 0;
	f->written = f->read = 0;
	rs_tcp_set_user(c, f);
	R.cur = (int)(f - R.flows);
}

static void do_write(char *p)
{
	uint64_t n = num(tok(&p));
	int64_t want = want_result((int64_t)n);
	struct flow *f = cur_flow();
	uint8_t *buf = malloc(n + 1);
	ssize_t r;

	for (uint64_t i = 0; i < n; i++)
		buf[i] = local_pat(f->written + i);
	r = rs_tcp_send(cur_conn(), R.now, buf, n);
	free(buf);
	check_result("write", r, want);
	if (r > 0)
		f->written += (uint64_t)r;
}

static void do_read(char *p)
{
	uint64_t n = num(tok(&p));
	int64_t want = want_result((int64_t)n);
	struct flow *f = cur_flow();
	struct rs_tcp_info info;
	uint8_t *buf = malloc(n + 1);
	ssize_t r;

	rs_tcp_info_get(cur_conn(), &info);
	r = rs_tcp_recv(f->conn, R.now, buf, n);
	check_result("read", r, want);
	for (ssize_t i = 0; i < r; i++) {
		uint32_t seq = info.irs + 1 + (uint32_t)(f->read + (uint64_t)i);

		if (buf[i] != peer_pat(seq))
			fail("read byte %zd (stream offset %" PRIu64
			     ") differs from what the peer sent",
			     i, f->read + (uint64_t)i);
	}
	if (r > 0)
		f->read += (uint64_t)r;
	free(buf);
}

static void do_shutdown(char *p)
{
	char *t = tok(&p);
	int how;

	if (t && strcmp(t, "rd") == 0)
		how = RS_TCP_SHUT_RD;
	else if (t && strcmp(t, "wr") == 0)
		how = RS_TCP_SHUT_WR;
	else if (t && strcmp(t, "rdwr") == 0)
		how = RS_TCP_SHUT_RDWR;
	else
		fail("shutdown rd|wr|rdwr");
	check_result("shutdown", rs_tcp_shutdown(cur_conn(), R.now, how),
		     want_result(0));
}

static void do_letgo(const char *what, char *p)
{
	struct flow *f = cur_flow();
	struct rs_tcp_conn *c = cur_conn();
	int r;

	if (strcmp(what, "close") == 0)
		r = rs_tcp_close(c, R.now);
	else if (strcmp(what, "abort") == 0)
		r = rs_tcp_abort(c, R.now);
	else
		r = rs_tcp_release(c);
	check_result(what, r, want_result(0));
	if (r == 0)
		f->conn = NULL;
}

static void do_setopt(char *p)
{
	static const struct {
		const char *name;
		enum rs_tcp_opt opt;
		bool time;
	} m[] = {
	    {"nodelay", RS_TCP_OPT_NODELAY, false},
	    {"autocork", RS_TCP_OPT_AUTOCORK, false},
	    {"keepalive", RS_TCP_OPT_KEEPALIVE, false},
	    {"keepidle", RS_TCP_OPT_KEEPIDLE, true},
	    {"keepintvl", RS_TCP_OPT_KEEPINTVL, true},
	    {"keepcnt", RS_TCP_OPT_KEEPCNT, false},
	    {"linger", RS_TCP_OPT_LINGER, true},
	};
	char *name = tok(&p), *v = tok(&p);

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		int64_t val;

		if (name == NULL || strcmp(name, m[i].name) != 0)
			continue;
		if (v == NULL)
			fail("setopt %s: value missing", name);
		if (m[i].time && v[0] == '-')
			val = -1;
		else
			val = m[i].time ? (int64_t)secs(v) : snum(v);
		check_result("setopt",
			     rs_tcp_setopt(cur_conn(), R.now, m[i].opt, val),
			     want_result(0));
		return;
	}
	fail("unknown option '%s'", name ? name : "");
}

/* ---------------------------------------------------------------------- */
/* Expectations                                                           */
/* ---------------------------------------------------------------------- */

static uint64_t stat_by_name(const char *kind, const char *name)
{
	struct rs_tcp_stats s;

	rs_tcp_stats_get(R.st, &s);
	if (strcmp(kind, "drop") == 0) {
		for (unsigned i = 1; i < RS_TCP_DROP_MAX; i++)
			if (strcmp(rs_tcp_drop_name(i), name) == 0)
				return s.drops[i];
	} else {
		for (unsigned i = 0; i < RS_TCP_CTR_MAX; i++)
			if (strcmp(rs_tcp_counter_name(i), name) == 0)
				return s.ctr[i];
	}
	fail("unknown %s '%s'", kind, name);
}

static uint64_t info_field(const char *name)
{
	struct rs_tcp_info i;
	static const char *const names[] = {
	    "cwnd",	   "ssthresh",	 "snd_wnd", "rcv_wnd", "snd_mss",
	    "snd_wscale",  "rcv_wscale", "rto_ms",  "srtt_ms", "in_recovery",
	    "retransmits", "snd_una",	 "snd_nxt", "sacked",  "pipe",
	    "w_max",	   "k_ms",	 "rcv_buf", "snd_buf", "rcv_rtt_ms",
	};
	const struct rs_tcp_conn *c = cur_conn();
	uint64_t sacked = 0;
	size_t k;

	rs_tcp_info_get(cur_conn(), &i);
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strcmp(names[k], name) == 0)
			break;
	switch (k) {
	case 0:
		return i.cwnd;
	case 1:
		return i.ssthresh;
	case 2:
		return i.snd_wnd;
	case 3:
		return i.rcv_wnd;
	case 4:
		return i.snd_mss;
	case 5:
		return i.snd_wscale;
	case 6:
		return i.rcv_wscale;
	case 7:
		return i.rto_ns / 1000000;
	case 8:
		return i.srtt_ns / 1000000;
	case 9:
		return i.in_recovery;
	case 10:
		return i.retransmits;
	case 11:
		return i.snd_una - cur_flow()->our_isn;
	case 12:
		return i.snd_nxt - cur_flow()->our_isn;
	case 13: /* white-box: the SACK scoreboard's bytes */
		for (unsigned b = 0; b < c->n_sb; b++)
			sacked += c->sb[b].right - c->sb[b].left;
		return sacked;
	case 14: /* white-box: RFC 6675 pipe */
		return rs_tcp_sack_pipe(c);
	case 15: /* white-box: CUBIC's W_max and K (RFC 9438 §4.2) */
		return c->cub.w_max;
	case 16:
		return c->cub.k_ms;
	case 17:
		return i.rcv_buf;
	case 18:
		return i.snd_buf;
	case 19:
		return i.rcv_rtt_ns / 1000000;
	default:
		fail("unknown info field '%s'", name);
	}
}

static unsigned *ev_target(unsigned bits)
{
	if (bits & RS_TCP_EV_ACCEPTABLE) {
		if (R.n_lis == 0)
			fail("no listener for ACCEPTABLE");
		return &R.lis[R.n_lis - 1].events;
	}
	return &cur_flow()->events;
}

static void expect_event(const char *list, bool negate)
{
	unsigned bits = ev_bits(list), *ev = ev_target(bits);
	char have[128];

	ev_str(*ev, have, sizeof(have));
	if (!negate && (*ev & bits) != bits)
		fail("expected event(s) %s; delivered so far: %s", list, have);
	if (negate && (*ev & bits))
		fail("expected no %s; delivered so far: %s", list, have);
	*ev &= ~bits;
}

static void expect_eq(const char *what, uint64_t got, uint64_t want)
{
	if (got != want)
		fail("%s: expected %" PRIu64 ", got %" PRIu64, what, want, got);
}

static void do_expect(char *p)
{
	char *what = tok(&p), *a = tok(&p), *b = tok(&p);

	if (what == NULL || a == NULL)
		fail("expect WHAT VALUE");
	if (strcmp(what, "state") == 0) {
		const char *s = rs_tcp_state_name(rs_tcp_state(cur_conn()));

		if (strcmp(s, a) != 0)
			fail("state: expected %s, got %s", a, s);
	} else if (strcmp(what, "error") == 0) {
		int e = rs_tcp_error(cur_conn());

		if (e != err_val(a))
			fail("error: expected %s, got %s", a, err_name(e));
	} else if (strcmp(what, "event") == 0) {
		expect_event(a, false);
	} else if (strcmp(what, "noevent") == 0) {
		expect_event(a, true);
	} else if (strcmp(what, "readable") == 0) {
		expect_eq("readable", rs_tcp_readable(cur_conn()), num(a));
	} else if (strcmp(what, "writable") == 0) {
		expect_eq("writable", rs_tcp_writable(cur_conn()), num(a));
	} else if (strcmp(what, "conns") == 0) {
		expect_eq("connections", rs_tcp_conn_count(R.st), num(a));
	} else if (strcmp(what, "drop") == 0 || strcmp(what, "counter") == 0) {
		expect_eq(a, stat_by_name(what, a), num(b));
	} else if (strcmp(what, "info") == 0) {
		expect_eq(a, info_field(a), num(b));
	} else if (strcmp(what, "verdict") == 0) {
		const char *v = R.last_verdict
				    ? rs_tcp_drop_name((unsigned)R.last_verdict)
				    : "ok";

		if (strcmp(v, a) != 0)
			fail("verdict: expected %s, got %s", a, v);
	} else {
		fail("unknown expectation '%s'", what);
	}
}

/* ---------------------------------------------------------------------- */
/* Directives and the main loop                                           */
/* ---------------------------------------------------------------------- */

static void config_kv(const char *k, const char *v)
{
	static const struct {
		const char *name;
		size_t off;
		int kind; /* 0: u32, 1: ns from seconds, 2: u16, 3: bool */
	} m[] = {
#define F(n, f, k) {n, offsetof(struct rs_tcp_config, f), k}
	    F("max_conns", max_conns, 0),
	    F("max_syn_recv", max_syn_recv, 0),
	    F("mss", mss, 2),
	    F("snd_buf", snd_buf, 0),
	    F("rcv_buf", rcv_buf, 0),
	    F("rcv_buf_max", rcv_buf_max, 0),
	    F("snd_buf_max", snd_buf_max, 0),
	    F("tune_mem", tune_mem, 4),
	    F("tick", tick_ns, 1),
	    F("delack", delack_ns, 1),
	    F("rto_init", rto_init_ns, 1),
	    F("rto_min", rto_min_ns, 1),
	    F("rto_max", rto_max_ns, 1),
	    F("max_retries", max_retries, 0),
	    F("max_syn_retries", max_syn_retries, 0),
	    F("keepalive", keepalive, 3),
	    F("syncookies", syncookies, 3),
	    F("keep_idle", keep_idle_ns, 1),
	    F("keep_intvl", keep_intvl_ns, 1),
	    F("keep_cnt", keep_cnt, 0),
	    F("time_wait", time_wait_ns, 1),
	    F("fin_wait2", fin_wait2_ns, 1),
	    F("init_cwnd", init_cwnd, 0),
	    F("challenge_ack_limit", challenge_ack_limit, 0),
	    F("challenge_ack_conn", challenge_ack_conn_ns, 1),
	    F("port_lo", port_lo, 2),
	    F("port_hi", port_hi, 2),
	    F("timestamps", timestamps, 3),
	    F("sack", sack, 3),
	    F("hystart", hystart, 3),
	    F("tlp", tlp, 3),
	    F("rack", rack, 3),
	    F("pacing", pacing, 3),
	    F("ooo_max", ooo_max, 2),
#undef F
	};
	char *base = (char *)&R.cfg;

	if (strcmp(k, "cc") == 0) {
		if (strcmp(v, "cubic") == 0)
			R.cfg.cc = RS_TCP_CC_CUBIC;
		else if (strcmp(v, "newreno") == 0)
			R.cfg.cc = RS_TCP_CC_NEWRENO;
		else
			fail("cc: '%s' is not cubic or newreno", v);
		return;
	}
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (strcmp(k, m[i].name) != 0)
			continue;
		if (m[i].kind == 0)
			*(uint32_t *)(base + m[i].off) = (uint32_t)num(v);
		else if (m[i].kind == 1)
			*(uint64_t *)(base + m[i].off) = secs(v);
		else if (m[i].kind == 2)
			*(uint16_t *)(base + m[i].off) = (uint16_t)num(v);
		else if (m[i].kind == 4)
			*(uint64_t *)(base + m[i].off) = (uint64_t)num(v);
		else
			*(bool *)(base + m[i].off) = num(v) != 0;
		return;
	}
	fail("unknown config key '%s'", k);
}

static void sock_kv(const char *k, const char *v)
{
	if (!R.sopts_set)
		rs_tcp_sockopts_init(R.st, &R.sopts);
	R.sopts_set = true;
	if (strcmp(k, "snd_buf") == 0)
		R.sopts.snd_buf = (uint32_t)num(v);
	else if (strcmp(k, "rcv_buf") == 0)
		R.sopts.rcv_buf = (uint32_t)num(v);
	else if (strcmp(k, "nodelay") == 0)
		R.sopts.nodelay = num(v) != 0;
	else if (strcmp(k, "autocork") == 0)
		R.sopts.autocork = num(v) != 0;
	else if (strcmp(k, "keepalive") == 0)
		R.sopts.keepalive = num(v) != 0;
	else if (strcmp(k, "rcv_lock") == 0)
		R.sopts.rcv_lock = num(v) != 0;
	else if (strcmp(k, "snd_lock") == 0)
		R.sopts.snd_lock = num(v) != 0;
	else
		fail("unknown socket option '%s'", k);
}

static void start_stack(void)
{
	if (R.st != NULL)
		return;
	R.st = rs_tcp_stack_create(&R.cfg);
	if (R.st == NULL)
		fail("rs_tcp_stack_create: %s", strerror(errno));
	R.st->test_isn = R.fixed_isn;
	R.st->test_isn_value = R.fixed_isn_value;
}

static void directive(char *p)
{
	char *d = tok(&p), *t, *eq;

	if (strcmp(d, "%sock") == 0)
		start_stack();
	else if (R.st != NULL)
		fail("%s must come before the first timed line", d);
	while ((t = tok(&p)) != NULL) {
		if (strcmp(d, "%tolerance") == 0) {
			R.tol = secs(t);
		} else if (strcmp(d, "%remote_isn") == 0) {
			R.def_rem_isn = (uint32_t)num(t);
		} else if (strcmp(d, "%local_isn") == 0) {
			R.fixed_isn = true;
			R.fixed_isn_value = (uint32_t)num(t);
		} else if (strcmp(d, "%remote_port") == 0) {
			R.def_rport = (uint16_t)num(t);
		} else if ((eq = strchr(t, '=')) != NULL) {
			*eq = 0;
			if (strcmp(d, "%config") == 0)
				config_kv(t, eq + 1);
			else if (strcmp(d, "%sock") == 0)
				sock_kv(t, eq + 1);
			else
				fail("unknown directive '%s'", d);
		} else {
			fail("bad directive argument '%s'", t);
		}
	}
}

/* resume [= N]: rs_tcp_output_resume(), N connections pushed. */
static void do_resume(void)
{
	unsigned n = rs_tcp_output_resume(R.st, R.now);

	if (R.result != NULL)
		check_result("resume", n, want_result(0));
}

static void do_flush(void)
{
	unsigned n = rs_tcp_flush(R.st, R.now);

	if (R.result != NULL)
		check_result("flush", n, want_result(0));
}

static void app_line(char *cmd, char *p)
{
	if (strcmp(cmd, "listen") == 0)
		do_listen(p);
	else if (strcmp(cmd, "connect") == 0)
		do_connect(p);
	else if (strcmp(cmd, "accept") == 0)
		do_accept(p);
	else if (strcmp(cmd, "write") == 0)
		do_write(p);
	else if (strcmp(cmd, "read") == 0)
		do_read(p);
	else if (strcmp(cmd, "shutdown") == 0)
		do_shutdown(p);
	else if (!strcmp(cmd, "close") || !strcmp(cmd, "abort") ||
		 !strcmp(cmd, "release"))
		do_letgo(cmd, p);
	else if (strcmp(cmd, "setopt") == 0)
		do_setopt(p);
	else if (strcmp(cmd, "expect") == 0)
		do_expect(p);
	else if (strcmp(cmd, "flow") == 0)
		R.cur = (int)(flow_get((uint16_t)num(tok(&p)), true) - R.flows);
	else if (strcmp(cmd, "drain") == 0)
		do_drain(p);
	else if (strcmp(cmd, "synflood") == 0)
		do_synflood(p);
	else if (strcmp(cmd, "emitfail") == 0)
		R.emit_fail = (int)num(tok(&p));
	else if (strcmp(cmd, "emitblock") == 0)
		R.emit_block = (int)num(tok(&p));
	else if (strcmp(cmd, "resume") == 0)
		do_resume();
	else if (strcmp(cmd, "flush") == 0)
		do_flush();
	else if (strcmp(cmd, "listener_close") == 0 && R.n_lis > 0)
		rs_tcp_listener_close(R.lis[--R.n_lis].l, R.now);
	else if (strcmp(cmd, "run") != 0)
		fail("unknown command '%s'", cmd);
}

static void timed_line(char *p, const char *line)
{
	char *t = tok(&p), *cmd;
	uint64_t when;

	start_stack();
	when = t[0] == '+' ? R.t_prev + secs(t + 1) : secs(t);
	R.t_prev = when;
	R.result = NULL;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '<' && *p != '>') {
		char *eq = strstr(p, " = ");

		if (eq != NULL) {
			*eq = 0;
			R.result = eq + 3;
		}
	}
	cmd = tok(&p);
	if (cmd == NULL)
		fail("command missing after the time");
	if (strcmp(cmd, ">") == 0) {
		do_outbound(p, line, when);
		return;
	}
	advance_to(when);
	if (strcmp(cmd, "drain") != 0)
		no_pending_output("before this line");
	if (strcmp(cmd, "<") == 0)
		do_inbound(p);
	else
		app_line(cmd, p);
}

/* Close what the script left open, let every timer run out, and check
 * that nothing is left in the pool. */
/* The stack's count of connections by state adds up to its pool's. */
static void states_check(void)
{
	unsigned sum = 0;

	if (R.st == NULL)
		return;
	for (unsigned s = 0; s < RS_TCP_STATE_MAX; s++)
		sum += rs_tcp_state_count(R.st, (enum rs_tcp_state)s);
	if (sum != rs_tcp_conn_count(R.st))
		fail("connections by state add up to %u, the pool has %u", sum,
		     rs_tcp_conn_count(R.st));
}

static void finish(void)
{
	unsigned left;

	R.line++;
	no_pending_output("at the end of the script");
	R.draining = true;
	for (int i = 0; i < R.n_flows; i++)
		if (R.flows[i].conn != NULL)
			rs_tcp_abort(R.flows[i].conn, R.now);
	while (R.n_lis > 0)
		rs_tcp_listener_close(R.lis[--R.n_lis].l, R.now);
	run_timers_until(R.now + DRAIN_LIMIT, false);
	left = rs_tcp_conn_count(R.st);
	states_check();
	if (left != 0)
		fail("end: %u connection(s) still in the pool after closing "
		     "everything and %llu s of timers",
		     left, (unsigned long long)(DRAIN_LIMIT / NS_PER_S));
	if (rs_tcp_listener_count(R.st) != 0)
		fail("end: listeners left");
	rs_tcp_stack_destroy(R.st);
}

static void defaults(const char *file)
{
	memset(&R, 0, sizeof(R));
	R.file = file;
	R.cur = -1;
	R.tol = 4000000; /* 4 ms: tick 1 ms, deadlines rounded up */
	R.def_rport = 40000;
	R.listen_port = 8080; /* local port of flows made before a listen */
	inet_pton(AF_INET, "198.18.0.2", &R.laddr);
	inet_pton(AF_INET, "198.18.0.1", &R.raddr);
	rs_tcp_config_init(&R.cfg);
	memcpy(R.cfg.isn_secret, "pktscript-secret", 16);
	R.cfg.emit = emit_cb;
	R.cfg.event = event_cb;
}

int main(int argc, char **argv)
{
	char buf[MAX_LINE], line[MAX_LINE];
	FILE *in;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRIPT\n", argv[0]);
		return 2;
	}
	defaults(argv[1]);
	in = fopen(argv[1], "r");
	if (in == NULL) {
		perror(argv[1]);
		return 2;
	}
	while (fgets(buf, sizeof(buf), in) != NULL) {
		char *p = buf, *hash = strchr(buf, '#');

		R.line++;
		if (hash)
			*hash = 0;
		buf[strcspn(buf, "\n")] = 0;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == 0)
			continue;
		snprintf(line, sizeof(line), "%s", p);
		if (*p == '%')
			directive(p);
		else
			timed_line(p, line);
		states_check();
	}
	fclose(in);
	start_stack();
	finish();
	return 0;
}
