/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration loader.
 *
 * Two passes.  read_ini() turns text into an rte_cfgfile, one line at a
 * time, so that syntax errors can name their line; it refuses what
 * rte_cfgfile_load() would let through silently (a line that is neither a
 * section nor an entry, a key given twice, a section opened twice, a value
 * that rte_cfgfile would truncate).  apply_ini() then walks the sections
 * and entries against the `keys` table, the single list of what a
 * configuration may say: section, key, kind and range.
 *
 * Defaults are not in the table: the embedded configs/default.ini is read
 * first, through the same parsers, and the given text over it.  So every
 * default is written down once, where users read it, and cannot be out of
 * range.  A section of named entries ([routes], [acl], [apps], the app
 * entries of [quotas]) is a list, and a layer that gives the section
 * replaces the list (reset_lists()).  Relations between keys are checked
 * last, in validate(); each app's quotas are resolved after that.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cfgfile.h>
#include <rte_ether.h>

#include "embedded_pvt.h"
#include "rs_config.h"

/* Files larger than this are surely not configurations. */
#define FILE_MAX (1024 * 1024)

_Static_assert(RS_CONFIG_VALUE_MAX == CFG_VALUE_LEN,
	       "values must fit rte_cfgfile entries exactly");

/* K_ROUTE and the kinds after it are entries of lists, named by the user:
 * see parse_value(). */
enum kind {
	K_STR,
	K_UINT,
	K_BOOL,
	K_IPV4,
	K_MAC,
	K_ROUTE,
	K_ACL,
	K_APP,
	K_QUOTA,
	K_HOST,
	K_IPLIST,  /* [dns] servers: not a list entry, but a list in a value */
	K_NETLIST, /* [rpc] clients: prefixes in a value */
	K_CC,	   /* [tcp] congestion: one of cc_names */
};

/* The words of enum rs_config_cc, in its order. */
static const char *const cc_names[] = {
    [RS_CONFIG_CC_NEWRENO] = "newreno",
    [RS_CONFIG_CC_CUBIC] = "cubic",
};

#define F_REQUIRED 1u /* no default: the file must say it */
#define F_POW2 2u     /* a power of two (ring sizes) */

/* The name of a key that stands for any name: [routes], [acl] and [apps]
 * entries are named by the user, and each appends one element to a list.
 * In [quotas] it follows the fixed keys, which find_key() tries first: any
 * other name is an app's own quotas. */
#define ANY_NAME "*"

struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t off;  /* where in struct rs_config */
	size_t size; /* bytes there */
	uint32_t min, max;
	unsigned flags;
};

/* The member of struct rs_config is named after its section and key. */
/* clang-format off */
#define KEY(sec, k, kind, lo, hi, fl)                                          \
	{#sec, #k, kind, offsetof(struct rs_config, sec.k),                    \
	 sizeof(((struct rs_config *)0)->sec.k), lo, hi, fl}
/* clang-format on */

static const struct key keys[] = {
    KEY(eal, args, K_STR, 0, 0, 0),

    KEY(port, devargs, K_STR, 0, 0, F_REQUIRED),
    KEY(port, rx_desc, K_UINT, 64, 16384, 0),
    KEY(port, tx_desc, K_UINT, 64, 16384, 0),
    KEY(port, mbufs, K_UINT, 512, 1u << 20, 0),
    KEY(port, mbuf_cache, K_UINT, 0, 512, 0),
    KEY(port, mtu, K_UINT, 68, 9600, 0),
    KEY(port, link_timeout_ms, K_UINT, 100, 60000, 0),
    KEY(port, tso, K_BOOL, 0, 0, 0),
    KEY(port, lro, K_BOOL, 0, 0, 0),

    KEY(net, ip, K_IPV4, 0, 0, F_REQUIRED),
    KEY(net, prefix, K_UINT, 1, 32, 0),
    KEY(net, gateway, K_IPV4, 0, 0, 0),
    KEY(net, mac, K_MAC, 0, 0, 0),

    KEY(workers, count, K_UINT, 1, RS_CONFIG_WORKERS_MAX, 0),
    KEY(workers, burst, K_UINT, 1, 256, 0),
    KEY(workers, idle_backoff, K_BOOL, 0, 0, 0),
    KEY(workers, idle_polls, K_UINT, 1, 1000000, 0),
    KEY(workers, idle_sleep_max_us, K_UINT, 1, 100000, 0),

    KEY(rpc, listen_port, K_UINT, 0, 65535, 0),
    KEY(rpc, http_port, K_UINT, 0, 65535, 0),
    KEY(rpc, tls_port, K_UINT, 0, 65535, 0),
    KEY(rpc, https_port, K_UINT, 0, 65535, 0),
    KEY(rpc, tls_cert, K_STR, 0, 0, 0),
    KEY(rpc, tls_key, K_STR, 0, 0, 0),
    KEY(rpc, tls_client_ca, K_STR, 0, 0, 0),
    KEY(rpc, tls_client_crl, K_STR, 0, 0, 0),
    KEY(rpc, http_idle_s, K_UINT, 0, 86400, 0),
    KEY(rpc, http_request_s, K_UINT, 0, 86400, 0),
    KEY(rpc, max_conns, K_UINT, 0, 1u << 20, 0),
    KEY(rpc, max_request_mb, K_UINT, 4, 64, 0),
    KEY(rpc, unauth_per_source, K_UINT, 1, 65536, 0),
    KEY(rpc, unauth_max, K_UINT, 0, 1u << 20, 0),
    KEY(rpc, auth_fail_per_min, K_UINT, 0, 1u << 20, 0),
    KEY(rpc, auth_fail_burst, K_UINT, 1, 1u << 16, 0),
    {"rpc", "clients", K_NETLIST, 0, 0, 0, 0, 0},

    KEY(limits, msg_ring_size, K_UINT, 64, 65536, F_POW2),
    KEY(limits, sock_rx_ring, K_UINT, 4096, 1u << 26, F_POW2),
    KEY(limits, sock_tx_ring, K_UINT, 4096, 1u << 26, F_POW2),

    KEY(sockets, max, K_UINT, 16, 1u << 20, 0),
    KEY(sockets, udp_rx_ring, K_UINT, 4096, 1u << 26, F_POW2),
    KEY(sockets, ephemeral_min, K_UINT, 1024, 65535, 0),
    KEY(sockets, ephemeral_max, K_UINT, 1024, 65535, 0),
    KEY(sockets, icmp_unreach_rate, K_UINT, 0, 100000, 0),

    KEY(arp, pending, K_UINT, 1, 4096, 0),
    KEY(arp, queue, K_UINT, 1, 256, 0),
    KEY(arp, retries, K_UINT, 1, 100, 0),
    KEY(arp, retry_ms, K_UINT, 10, 60000, 0),
    KEY(arp, ttl_s, K_UINT, 1, 86400, 0),

    KEY(tcp, max_conns, K_UINT, 16, 1u << 22, 0),
    KEY(tcp, backlog, K_UINT, 1, 65535, 0),
    KEY(tcp, mss, K_UINT, 0, 9560, 0),
    KEY(tcp, rto_min_ms, K_UINT, 1, 60000, 0),
    KEY(tcp, rto_max_ms, K_UINT, 100, 600000, 0),
    KEY(tcp, syn_retries, K_UINT, 1, 20, 0),
    KEY(tcp, retries, K_UINT, 1, 30, 0),
    KEY(tcp, time_wait_ms, K_UINT, 0, 240000, 0),
    KEY(tcp, tw_reuse_ms, K_UINT, 0, 240000, 0),
    KEY(tcp, delack_ms, K_UINT, 0, 500, 0),
    KEY(tcp, keepidle_s, K_UINT, 1, 86400, 0),
    KEY(tcp, keepintvl_s, K_UINT, 1, 3600, 0),
    KEY(tcp, keepcnt, K_UINT, 1, 100, 0),
    KEY(tcp, close_grace_ms, K_UINT, 0, 60000, 0),
    KEY(tcp, rmem_max, K_UINT, 4096, 1u << 26, F_POW2),
    KEY(tcp, wmem_max, K_UINT, 4096, 1u << 26, F_POW2),
    KEY(tcp, tune_mem_mb, K_UINT, 0, 1u << 20, 0),
    KEY(tcp, timestamps, K_BOOL, 0, 0, 0),
    KEY(tcp, sack, K_BOOL, 0, 0, 0),
    KEY(tcp, syncookies, K_BOOL, 0, 0, 0),
    KEY(tcp, hystart, K_BOOL, 0, 0, 0),
    KEY(tcp, tlp, K_BOOL, 0, 0, 0),
    KEY(tcp, rack, K_BOOL, 0, 0, 0),
    KEY(tcp, pacing, K_BOOL, 0, 0, 0),
    KEY(tcp, congestion, K_CC, 0, 0, 0),

    {"routes", ANY_NAME, K_ROUTE, 0, 0, 0, 0, 0},

    KEY(service, idle_timeout_s, K_UINT, 0, 7 * 86400, 0),
    KEY(service, auth_timeout_ms, K_UINT, 100, 600000, 0),
    KEY(service, close_wait_ms, K_UINT, 0, 600000, 0),
    KEY(service, session_grace_s, K_UINT, 0, 86400, 0),
    KEY(service, operator, K_STR, 0, 0, 0),

    {"acl", ANY_NAME, K_ACL, 0, 0, 0, 0, 0},

    {"apps", ANY_NAME, K_APP, 0, 0, 0, 0, 0},

    KEY(quotas, sockets, K_UINT, 1, 1u << 22, 0),
    KEY(quotas, buffered_bytes, K_UINT, 4096, UINT32_MAX, 0),
    KEY(quotas, pending_calls, K_UINT, 1, 1u << 20, 0),
    KEY(quotas, output_bytes, K_UINT, 1u << 20, UINT32_MAX, 0),
    KEY(quotas, listeners, K_UINT, 1, 1u << 16, 0),
    KEY(quotas, parked_bytes, K_UINT, 1u << 20, UINT32_MAX, 0),
    KEY(quotas, control_calls, K_UINT, 1, 1u << 16, 0),
    {"quotas", ANY_NAME, K_QUOTA, 0, 0, 0, 0, 0},

    {"dns", "servers", K_IPLIST, 0, 0, 0, 0, 0},
    KEY(dns, timeout_ms, K_UINT, 10, 60000, 0),
    KEY(dns, tries, K_UINT, 1, 10, 0),

    {"hosts", ANY_NAME, K_HOST, 0, 0, 0, 0, 0},

};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Everything a parse needs to say where it is, when it fails. */
struct where {
	const char *file;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(const struct where *w,
						      const char *fmt, ...)
{
	va_list ap;

	if (w->err == NULL || w->errlen == 0)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- pass 1: text to rte_cfgfile ------------------------------------- */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* A ';' or '#' opens a comment at the start of a line or after a blank, so
 * that device arguments may still contain either character. */
static void strip_comment(char *s)
{
	for (char *p = s; *p != '\0'; p++) {
		if ((*p == ';' || *p == '#') &&
		    (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

static bool is_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

static int read_section(struct rte_cfgfile *ini, char *line, unsigned lineno,
			char *cur, const struct where *w)
{
	char *close = strchr(line, ']');
	char *name;

	if (close == NULL || *trim(close + 1) != '\0')
		return fail(w, "%s:%u: '%s': a section line is '[name]'",
			    w->file, lineno, line);
	*close = '\0';
	name = trim(line + 1);
	if (!is_name(name) || strlen(name) >= CFG_NAME_LEN)
		return fail(w, "%s:%u: [%s]: not a section name", w->file,
			    lineno, name);
	if (rte_cfgfile_has_section(ini, name))
		return fail(w, "%s:%u: [%s]: section given twice", w->file,
			    lineno, name);
	if (rte_cfgfile_add_section(ini, name) < 0)
		return -ENOMEM;
	strcpy(cur, name);
	return 0;
}

static int read_entry(struct rte_cfgfile *ini, char *line, unsigned lineno,
		      const char *cur, const struct where *w)
{
	char *eq = strchr(line, '=');
	char *key, *value;
	int rc;

	if (eq == NULL)
		return fail(w,
			    "%s:%u: '%s': expected 'key = value' or "
			    "'[section]'",
			    w->file, lineno, line);
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (cur[0] == '\0')
		return fail(w, "%s:%u: %s: key before any [section]", w->file,
			    lineno, key);
	if (!is_name(key) || strlen(key) >= CFG_NAME_LEN)
		return fail(w, "%s:%u: [%s] '%s': not a key name", w->file,
			    lineno, cur, key);
	if (*value == '\0')
		return fail(w, "%s:%u: [%s] %s: empty value", w->file, lineno,
			    cur, key);
	if (strlen(value) >= CFG_VALUE_LEN)
		return fail(w, "%s:%u: [%s] %s: value longer than %d bytes",
			    w->file, lineno, cur, key, CFG_VALUE_LEN - 1);
	rc = rte_cfgfile_add_entry(ini, cur, key, value);
	if (rc == -EEXIST)
		return fail(w, "%s:%u: [%s] %s: key given twice", w->file,
			    lineno, cur, key);
	return rc < 0 ? -ENOMEM : 0;
}

static int read_line(struct rte_cfgfile *ini, char *line, unsigned lineno,
		     char *cur, const struct where *w)
{
	strip_comment(line);
	line = trim(line);
	if (*line == '\0')
		return 0;
	if (*line == '[')
		return read_section(ini, line, lineno, cur, w);
	return read_entry(ini, line, lineno, cur, w);
}

static struct rte_cfgfile *read_ini(const char *text, size_t len,
				    const struct where *w, int *rc)
{
	struct rte_cfgfile *ini = rte_cfgfile_create(0);
	char cur[CFG_NAME_LEN] = "";
	char *copy = malloc(len + 1);
	char *line, *next;
	unsigned lineno = 0;

	*rc = -ENOMEM;
	if (ini == NULL || copy == NULL)
		goto err_alloc;
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (memchr(copy, '\0', len) != NULL) {
		*rc = fail(w, "%s: contains a NUL byte: not a text file",
			   w->file);
		goto err_alloc;
	}
	for (line = copy; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		*rc = read_line(ini, line, ++lineno, cur, w);
		if (*rc < 0)
			goto err_alloc;
	}
	free(copy);
	*rc = 0;
	return ini;

err_alloc:
	free(copy);
	if (ini != NULL)
		rte_cfgfile_close(ini);
	return NULL;
}

/* ---- pass 2: entries to struct rs_config ---------------------------- */

static int parse_uint(const struct key *k, const char *v, uint32_t *out,
		      const struct where *w)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0')
		return fail(w, "%s: [%s] %s: '%s' is not a number", w->file,
			    k->section, k->name, v);
	if (errno == ERANGE || n < k->min || n > k->max)
		return fail(w, "%s: [%s] %s: '%s' is out of range (%u..%u)",
			    w->file, k->section, k->name, v, k->min, k->max);
	if ((k->flags & F_POW2) && (n & (n - 1)) != 0)
		return fail(w, "%s: [%s] %s: '%s' is not a power of two",
			    w->file, k->section, k->name, v);
	*out = (uint32_t)n;
	return 0;
}

static int parse_bool(const struct key *k, const char *v, bool *out,
		      const struct where *w)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return fail(w,
		    "%s: [%s] %s: '%s' is not on/off (on, off, yes, no, "
		    "true, false, 1, 0)",
		    w->file, k->section, k->name, v);
}

static int parse_cc(const struct key *k, const char *v, enum rs_config_cc *out,
		    const struct where *w)
{
	for (size_t i = 0; i < sizeof(cc_names) / sizeof(cc_names[0]); i++) {
		if (strcmp(v, cc_names[i]) == 0) {
			*out = (enum rs_config_cc)i;
			return 0;
		}
	}
	return fail(w, "%s: [%s] %s: '%s' is not cubic or newreno", w->file,
		    k->section, k->name, v);
}

static int parse_ipv4(const struct key *k, const char *v, uint32_t *out,
		      const struct where *w)
{
	struct in_addr a;

	if (inet_pton(AF_INET, v, &a) != 1)
		return fail(w, "%s: [%s] %s: '%s' is not an IPv4 address",
			    w->file, k->section, k->name, v);
	*out = a.s_addr;
	return 0;
}

static int parse_mac(const struct key *k, const char *v, uint8_t out[6],
		     const struct where *w)
{
	struct rte_ether_addr ea;

	if (rte_ether_unformat_addr(v, &ea) != 0)
		return fail(w,
			    "%s: [%s] %s: '%s' is not a MAC address "
			    "(xx:xx:xx:xx:xx:xx)",
			    w->file, k->section, k->name, v);
	if (!rte_is_valid_assigned_ether_addr(&ea))
		return fail(w,
			    "%s: [%s] %s: '%s' is not a unicast MAC "
			    "address",
			    w->file, k->section, k->name, v);
	memcpy(out, ea.addr_bytes, 6);
	return 0;
}

/* "A.B.C.D/LEN" with no address bits past LEN: 0; -1 when it is not
 * that shape; -2 when bits are set past the prefix length. */
static int parse_cidr(const char *s, uint32_t *prefix, uint32_t *len)
{
	char addr[INET_ADDRSTRLEN], end;
	unsigned n;
	uint32_t mask;

	if (sscanf(s, "%15[0-9.]/%u%c", addr, &n, &end) != 2 || n > 32 ||
	    inet_pton(AF_INET, addr, prefix) != 1)
		return -1;
	mask = (uint32_t)(~0ull << (32 - n));
	*len = n;
	return (ntohl(*prefix) & ~mask) != 0 ? -2 : 0;
}

/* The refusal of list entry @p name whose prefix parse_cidr() refused
 * with @p rc, or whose value is not @p shape. */
static int cidr_fail(const struct where *w, const char *section,
		     const char *name, const char *v, int rc, const char *shape)
{
	if (rc == -2)
		return fail(w,
			    "%s: [%s] %s: '%s' has address bits set past the "
			    "prefix length",
			    w->file, section, name, v);
	return fail(w, "%s: [%s] %s: '%s' is not %s", w->file, section, name, v,
		    shape);
}

/* "PREFIX/LEN via GATEWAY", appended to cfg->routes. */
static int parse_route(struct rs_config *cfg, const char *name, const char *v,
		       const struct where *w)
{
	struct rs_config_route *r = &cfg->routes[cfg->nroutes];
	char cidr[32], via[INET_ADDRSTRLEN], end;
	int rc = -1;

	if (cfg->nroutes == RS_CONFIG_ROUTES_MAX)
		return fail(w, "%s: [routes] %s: more than %d routes", w->file,
			    name, RS_CONFIG_ROUTES_MAX);
	if (sscanf(v, "%31s via %15[0-9.]%c", cidr, via, &end) == 2 &&
	    inet_pton(AF_INET, via, &r->via) == 1)
		rc = parse_cidr(cidr, &r->prefix, &r->len);
	if (rc < 0)
		return cidr_fail(w, "routes", name, v, rc,
				 "'PREFIX/LEN via GATEWAY' (e.g. "
				 "203.0.113.0/24 via 198.18.0.1)");
	snprintf(r->name, sizeof(r->name), "%s", name);
	cfg->nroutes++;
	return 0;
}

/* "PORT" or "LO-HI", both within 0..65535 and in order. */
static bool parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	a = b = strtoul(s, &end, 10);
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return false;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end != '\0' || a > b || b > 65535)
		return false;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

/* "allow|deny PREFIX/LEN [PORT|LO-HI]", appended to cfg->acl. */
static int parse_acl(struct rs_config *cfg, const char *name, const char *v,
		     const struct where *w)
{
	struct rs_config_acl_rule *r = &cfg->acl[cfg->nacl];
	char verb[8], cidr[32], ports[16], end;
	int n, rc = -1;

	if (cfg->nacl == RS_CONFIG_ACL_MAX)
		return fail(w, "%s: [acl] %s: more than %d rules", w->file,
			    name, RS_CONFIG_ACL_MAX);
	n = sscanf(v, "%7s %31s %15s %c", verb, cidr, ports, &end);
	r->port_lo = 0;
	r->port_hi = 65535;
	if ((n == 2 ||
	     (n == 3 && parse_ports(ports, &r->port_lo, &r->port_hi))) &&
	    (strcmp(verb, "allow") == 0 || strcmp(verb, "deny") == 0))
		rc = parse_cidr(cidr, &r->prefix, &r->len);
	if (rc < 0)
		return cidr_fail(w, "acl", name, v, rc,
				 "'allow|deny PREFIX/LEN [PORT|LO-HI]' (e.g. "
				 "allow 198.18.0.0/15, deny 203.0.113.0/24 "
				 "25)");
	r->allow = verb[0] == 'a';
	snprintf(r->name, sizeof(r->name), "%s", name);
	cfg->nacl++;
	return 0;
}

/* "APP_ID = SECRET", appended to cfg->apps.  The secret is printable
 * ASCII without blanks, so that it survives any client's quoting. */
static int parse_app(struct rs_config *cfg, const char *name, const char *v,
		     const struct where *w)
{
	struct rs_config_app *a = &cfg->apps[cfg->napps];

	if (cfg->napps == RS_CONFIG_APPS_MAX)
		return fail(w, "%s: [apps] %s: more than %d apps", w->file,
			    name, RS_CONFIG_APPS_MAX);
	for (const char *p = v; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return fail(w,
				    "%s: [apps] %s: the secret may hold only "
				    "printable ASCII without blanks",
				    w->file, name);
	if (strlen(v) < RS_CONFIG_SECRET_MIN)
		return fail(w,
			    "%s: [apps] %s: the secret is shorter than %d "
			    "bytes",
			    w->file, name, RS_CONFIG_SECRET_MIN);
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", name);
	snprintf(a->secret, sizeof(a->secret), "%s", v);
	cfg->napps++;
	return 0;
}

static const struct key *find_key(const char *section, const char *name);

/* "APP_ID = QUOTA=N ..." (blanks or commas between), appended to
 * cfg->quota_overrides; each QUOTA is a fixed key of [quotas], with its
 * range.  Whether the app exists is checked once all layers are read. */
static int parse_quota(struct rs_config *cfg, const char *name, const char *v,
		       const struct where *w)
{
	struct rs_config_quota_override *o =
	    &cfg->quota_overrides[cfg->nquota_overrides];
	char buf[RS_CONFIG_VALUE_MAX], label[2 * RS_CONFIG_NAME_MAX];
	char *save = NULL, *word, *eq;
	const struct key *k;
	struct key named;
	unsigned nwords = 0;
	int rc;

	if (cfg->nquota_overrides == RS_CONFIG_APPS_MAX)
		return fail(w, "%s: [quotas] %s: more than %d apps", w->file,
			    name, RS_CONFIG_APPS_MAX);
	memset(o, 0, sizeof(*o));
	snprintf(buf, sizeof(buf), "%s", v);
	for (word = strtok_r(buf, " \t,", &save); word != NULL;
	     word = strtok_r(NULL, " \t,", &save), nwords++) {
		eq = strchr(word, '=');
		if (eq == NULL)
			goto err_shape;
		*eq = '\0';
		k = find_key("quotas", word);
		if (k == NULL || k->kind != K_UINT)
			goto err_shape;
		/* The fixed key's range, under the name "APP: QUOTA". */
		snprintf(label, sizeof(label), "%s: %s", name, k->name);
		named = *k;
		named.name = label;
		rc =
		    parse_uint(&named, eq + 1,
			       (uint32_t *)((char *)&o->quota + k->off -
					    offsetof(struct rs_config, quotas)),
			       w);
		if (rc < 0)
			return rc;
	}
	if (nwords == 0)
		goto err_shape;
	snprintf(o->app, sizeof(o->app), "%s", name);
	cfg->nquota_overrides++;
	return 0;

err_shape:
	return fail(w,
		    "%s: [quotas] %s: '%s' is not a list of QUOTA=N (sockets, "
		    "buffered_bytes, pending_calls, output_bytes, listeners, "
		    "parked_bytes, control_calls)",
		    w->file, name, v);
}

/* Up to @p max IPv4 addresses separated by blanks or commas; @return
 * how many, or -1 (a word that is not one, or too many). */
static int parse_addrs(const char *v, uint32_t *out, unsigned max,
		       char bad[RS_CONFIG_VALUE_MAX])
{
	char buf[RS_CONFIG_VALUE_MAX], *save = NULL, *word;
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", v);
	for (word = strtok_r(buf, " \t,", &save); word != NULL;
	     word = strtok_r(NULL, " \t,", &save)) {
		snprintf(bad, RS_CONFIG_VALUE_MAX, "%s", word);
		if (n == max || inet_pton(AF_INET, word, &out[n]) != 1)
			return -1;
		n++;
	}
	return (int)n;
}

/* [dns] servers = ADDRESS... */
/* [rpc] clients: PREFIX/LEN ..., blanks or commas between. */
static int parse_clients(struct rs_config *cfg, const char *v,
			 const struct where *w)
{
	char buf[RS_CONFIG_VALUE_MAX], *save = NULL, *word;
	struct rs_config_prefix *p;
	uint32_t n = 0;

	snprintf(buf, sizeof(buf), "%s", v);
	for (word = strtok_r(buf, " \t,", &save); word != NULL;
	     word = strtok_r(NULL, " \t,", &save)) {
		p = &cfg->rpc.clients[n];
		if (n == RS_CONFIG_CLIENTS_MAX ||
		    parse_cidr(word, &p->prefix, &p->len) < 0)
			return fail(w,
				    "%s: [rpc] clients: '%s' is not a network "
				    "(PREFIX/LEN, no bits past LEN), or more "
				    "than %d",
				    w->file, word, RS_CONFIG_CLIENTS_MAX);
		n++;
	}
	if (n == 0)
		return fail(w,
			    "%s: [rpc] clients: none (0.0.0.0/0 lets every "
			    "host connect)",
			    w->file);
	cfg->rpc.nclients = n;
	return 0;
}

static int parse_servers(struct rs_config *cfg, const char *v,
			 const struct where *w)
{
	char bad[RS_CONFIG_VALUE_MAX];
	int n = parse_addrs(v, cfg->dns.servers, RS_CONFIG_DNS_MAX, bad);

	if (n < 0)
		return fail(w,
			    "%s: [dns] servers: '%s' is not an IPv4 address, "
			    "or more than %d servers",
			    w->file, bad, RS_CONFIG_DNS_MAX);
	cfg->dns.nservers = (uint32_t)n;
	return 0;
}

/* A host name: letters, digits, '-' and '.', not empty. */
static bool is_hostname(const char *s)
{
	if (*s == '\0' || *s == '.' || strlen(s) >= RS_CONFIG_HOSTNAME_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	return true;
}

/* [hosts] KEY = HOSTNAME ADDRESS... */
static int parse_host(struct rs_config *cfg, const char *key, const char *v,
		      const struct where *w)
{
	struct rs_config_host *h = &cfg->hosts[cfg->nhosts];
	char name[RS_CONFIG_VALUE_MAX], bad[RS_CONFIG_VALUE_MAX] = "";
	int used = 0, n;

	if (cfg->nhosts == RS_CONFIG_HOSTS_MAX)
		return fail(w, "%s: [hosts] %s: more than %d hosts", w->file,
			    key, RS_CONFIG_HOSTS_MAX);
	memset(h, 0, sizeof(*h));
	if (sscanf(v, "%255s %n", name, &used) != 1 || !is_hostname(name))
		return fail(w,
			    "%s: [hosts] %s: '%s': expected 'HOSTNAME "
			    "ADDRESS...' (e.g. web.example 198.18.0.1)",
			    w->file, key, v);
	n = parse_addrs(v + used, h->addr, RS_CONFIG_HOST_ADDRS, bad);
	if (n <= 0)
		return fail(w,
			    "%s: [hosts] %s: '%s': 1 to %d IPv4 addresses "
			    "after the name",
			    w->file, key, bad[0] ? bad : v,
			    RS_CONFIG_HOST_ADDRS);
	for (char *c = name; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	snprintf(h->key, sizeof(h->key), "%s", key);
	memcpy(h->name, name, strlen(name) + 1); /* is_hostname(): fits */
	h->naddr = (uint32_t)n;
	cfg->nhosts++;
	return 0;
}

/* Entry @p name = @p v of key @p k (whose name is ANY_NAME for lists). */
static int parse_value(struct rs_config *cfg, const struct key *k,
		       const char *name, const char *v, const struct where *w)
{
	void *dst = (char *)cfg + k->off;

	switch (k->kind) {
	case K_STR:
		if (strlen(v) >= k->size)
			return fail(w, "%s: [%s] %s: longer than %zu bytes",
				    w->file, k->section, k->name, k->size - 1);
		strcpy(dst, v);
		return 0;
	case K_UINT:
		return parse_uint(k, v, dst, w);
	case K_BOOL:
		return parse_bool(k, v, dst, w);
	case K_IPV4:
		return parse_ipv4(k, v, dst, w);
	case K_MAC:
		return parse_mac(k, v, dst, w);
	case K_ROUTE:
		return parse_route(cfg, name, v, w);
	case K_ACL:
		return parse_acl(cfg, name, v, w);
	case K_APP:
		return parse_app(cfg, name, v, w);
	case K_QUOTA:
		return parse_quota(cfg, name, v, w);
	case K_HOST:
		return parse_host(cfg, name, v, w);
	case K_IPLIST:
		return parse_servers(cfg, v, w);
	case K_NETLIST:
		return parse_clients(cfg, v, w);
	case K_CC:
		return parse_cc(k, v, dst, w);
	}
	return -EINVAL;
}

/* A layer that gives a list's section replaces the list. */
static void reset_lists(struct rs_config *cfg, const char *section)
{
	const struct key *k = find_key(section, ANY_NAME);

	switch (k != NULL ? k->kind : K_STR) {
	case K_ROUTE:
		cfg->nroutes = 0;
		break;
	case K_ACL:
		cfg->nacl = 0;
		break;
	case K_APP:
		cfg->napps = 0;
		cfg->apps_given = true;
		break;
	case K_QUOTA:
		cfg->nquota_overrides = 0;
		break;
	case K_HOST:
		cfg->nhosts = 0;
		break;
	default:
		break;
	}
}

static bool known_section(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, name) == 0)
			return true;
	return false;
}

/* "a, b, c": the keys of @p section, or with NULL every section, to help
 * the reader of a message.  The table keeps each section's keys together. */
static void list_names(const char *section, char *buf, size_t len)
{
	const char *name, *prev = NULL;
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NKEYS && used < len; i++) {
		if (section != NULL && strcmp(keys[i].section, section) != 0)
			continue;
		name = section != NULL ? keys[i].name : keys[i].section;
		if (prev != NULL && strcmp(prev, name) == 0)
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 prev != NULL ? ", " : "", name);
		prev = name;
	}
}

static const struct key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    (strcmp(keys[i].name, name) == 0 ||
		     strcmp(keys[i].name, ANY_NAME) == 0))
			return &keys[i];
	return NULL;
}

static int apply_entries(struct rs_config *cfg, const char *section,
			 const struct rte_cfgfile_entry *ent, int n,
			 bool seen[NKEYS], const struct where *w)
{
	char known[512];
	const struct key *k;
	int rc;

	for (int i = 0; i < n; i++) {
		k = find_key(section, ent[i].name);
		if (k == NULL) {
			list_names(section, known, sizeof(known));
			return fail(w, "%s: [%s] %s: unknown key (known: %s)",
				    w->file, section, ent[i].name, known);
		}
		rc = parse_value(cfg, k, ent[i].name, ent[i].value, w);
		if (rc < 0)
			return rc;
		seen[k - keys] = true;
	}
	return 0;
}

static int apply_section(struct rs_config *cfg, struct rte_cfgfile *ini,
			 int idx, bool seen[NKEYS], const struct where *w)
{
	struct rte_cfgfile_entry *ent;
	char name[CFG_NAME_LEN];
	char known[512];
	int n, rc;

	n = rte_cfgfile_section_num_entries_by_index(ini, name, idx);
	if (n < 0)
		return -EINVAL;
	if (!known_section(name)) {
		list_names(NULL, known, sizeof(known));
		return fail(w, "%s: [%s]: unknown section (known: %s)", w->file,
			    name, known);
	}
	reset_lists(cfg, name);
	if (n == 0)
		return 0;
	ent = calloc(n, sizeof(*ent));
	if (ent == NULL)
		return -ENOMEM;
	n = rte_cfgfile_section_entries_by_index(ini, idx, name, ent, n);
	rc = n < 0 ? -EINVAL : apply_entries(cfg, name, ent, n, seen, w);
	free(ent);
	return rc;
}

static int apply_ini(struct rs_config *cfg, struct rte_cfgfile *ini,
		     bool seen[NKEYS], const struct where *w)
{
	int nsec = rte_cfgfile_num_sections(ini, "", 0);
	int rc = 0;

	for (int i = 0; rc == 0 && i < nsec; i++)
		rc = apply_section(cfg, ini, i, seen, w);
	return rc;
}

/* Read one layer of configuration over what @p cfg already holds. */
static int load_layer(struct rs_config *cfg, const char *name, const char *text,
		      size_t len, bool seen[NKEYS], char *err, size_t errlen)
{
	const struct where w = {name, err, errlen};
	struct rte_cfgfile *ini;
	int rc;

	ini = read_ini(text, len, &w, &rc);
	if (ini == NULL) {
		if (rc == -ENOMEM && err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		return rc;
	}
	rc = apply_ini(cfg, ini, seen, &w);
	rte_cfgfile_close(ini);
	return rc;
}

/* ---- relations between keys ----------------------------------------- */

static bool is_unicast(uint32_t be)
{
	uint32_t a = ntohl(be);

	return a != 0 && (a >> 24) != 127 && (a >> 28) < 14;
}

static const char *ntoa(uint32_t be, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &be, buf, INET_ADDRSTRLEN);
}

static int validate_net(const struct rs_config *cfg, const struct where *w)
{
	const struct rs_config_net *n = &cfg->net;
	uint32_t mask = n->prefix == 32 ? ~0u : ~(~0u >> n->prefix);
	uint32_t ip = ntohl(n->ip), gw = ntohl(n->gateway);
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	if (!is_unicast(n->ip))
		return fail(w,
			    "%s: [net] ip: '%s' is not a usable unicast "
			    "address",
			    w->file, ntoa(n->ip, a));
	if (n->prefix <= 30 && ((ip & ~mask) == 0 || (ip & ~mask) == ~mask))
		return fail(w,
			    "%s: [net] ip: '%s' is the network or broadcast "
			    "address of its /%u subnet",
			    w->file, ntoa(n->ip, a), n->prefix);
	if (n->gateway == 0)
		return 0;
	if (!is_unicast(n->gateway) || n->gateway == n->ip)
		return fail(w,
			    "%s: [net] gateway: '%s' is not a usable "
			    "unicast address other than [net] ip",
			    w->file, ntoa(n->gateway, a));
	if ((gw & mask) != (ip & mask))
		return fail(w, "%s: [net] gateway: '%s' is not inside %s/%u",
			    w->file, ntoa(n->gateway, a), ntoa(n->ip, b),
			    n->prefix);
	return 0;
}

/* Gateways must be reachable directly: on the subnet, not ourselves. */
static int validate_routes(const struct rs_config *cfg, const struct where *w)
{
	const struct rs_config_net *n = &cfg->net;
	uint32_t mask = n->prefix == 32 ? ~0u : ~(~0u >> n->prefix);
	const struct rs_config_route *r;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	for (uint32_t i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		if (!is_unicast(r->via) || r->via == n->ip ||
		    (ntohl(r->via) & mask) != (ntohl(n->ip) & mask))
			return fail(w,
				    "%s: [routes] %s: gateway '%s' is not a "
				    "unicast address inside %s/%u other than "
				    "[net] ip",
				    w->file, r->name, ntoa(r->via, a),
				    ntoa(n->ip, b), n->prefix);
	}
	return 0;
}

/* Ranges given by two keys must not be upside down. */
static int validate_ranges(const struct rs_config *cfg, const struct where *w)
{
	if (cfg->sockets.ephemeral_min > cfg->sockets.ephemeral_max)
		return fail(w,
			    "%s: [sockets] ephemeral_min: '%u' is above "
			    "ephemeral_max (%u)",
			    w->file, cfg->sockets.ephemeral_min,
			    cfg->sockets.ephemeral_max);
	if (cfg->tcp.rto_min_ms > cfg->tcp.rto_max_ms)
		return fail(w,
			    "%s: [tcp] rto_min_ms: '%u' is above rto_max_ms "
			    "(%u)",
			    w->file, cfg->tcp.rto_min_ms, cfg->tcp.rto_max_ms);
	/* The service's connections may not take the whole TCP pool: the
	 * tenants' sockets need their share. */
	if (cfg->rpc.max_conns >= cfg->tcp.max_conns ||
	    cfg->rpc.max_conns >= cfg->sockets.max)
		return fail(w,
			    "%s: [rpc] max_conns: '%u' leaves the tenants no "
			    "room: it must be below [tcp] max_conns (%u) and "
			    "[sockets] max (%u)",
			    w->file, cfg->rpc.max_conns, cfg->tcp.max_conns,
			    cfg->sockets.max);
	return 0;
}

static int validate_port(const struct rs_config *cfg, const struct where *w)
{
	const struct rs_config_port *p = &cfg->port;
	const struct rs_config_workers *wk = &cfg->workers;
	uint64_t need;

	/* rte_mempool_create() refuses a cache above 2/3 of the pool. */
	if (p->mbuf_cache * 3ull > p->mbufs * 2ull)
		return fail(w,
			    "%s: [port] mbuf_cache: '%u' is too large for "
			    "%u mbufs (at most 2/3 of [port] mbufs)",
			    w->file, p->mbuf_cache, p->mbufs);
	/* Every descriptor may hold an mbuf, every lcore cache may hoard
	 * some, and a burst is in flight on each worker. */
	need = (uint64_t)wk->count * (p->rx_desc + p->tx_desc + 2 * wk->burst) +
	       (uint64_t)(wk->count + 1) * p->mbuf_cache;
	if (p->mbufs < need)
		return fail(w,
			    "%s: [port] mbufs: '%u' is too few for %u "
			    "worker(s) with %u RX + %u TX descriptors "
			    "(need at least %llu)",
			    w->file, p->mbufs, wk->count, p->rx_desc,
			    p->tx_desc, (unsigned long long)need);
	if (wk->burst > p->rx_desc)
		return fail(w,
			    "%s: [workers] burst: '%u' is larger than "
			    "[port] rx_desc (%u)",
			    w->file, wk->burst, p->rx_desc);
	return 0;
}

/* Every connection authenticates as an app: with none, nothing could.
 * The HTTP endpoint needs a port of its own. */
static int validate_apps(const struct rs_config *cfg, const struct where *w)
{
	const struct rs_config_rpc *r = &cfg->rpc;

	const struct {
		const char *name;
		uint32_t port;
	} ports[] = {{"listen_port", r->listen_port},
		     {"http_port", r->http_port},
		     {"tls_port", r->tls_port},
		     {"https_port", r->https_port}};
	bool any = false;

	/* Each service port its own; 0 is off, and one at least is on. */
	for (size_t i = 0; i < RTE_DIM(ports); i++) {
		any |= ports[i].port != 0;
		for (size_t j = 0; j < i && ports[i].port != 0; j++)
			if (ports[j].port == ports[i].port)
				return fail(w, "%s: [rpc] %s: %u is %s already",
					    w->file, ports[i].name,
					    ports[i].port, ports[j].name);
	}
	if (!any)
		return fail(w,
			    "%s: [rpc]: listen_port, http_port, tls_port and "
			    "https_port are all 0: no client could reach the "
			    "service",
			    w->file);
	if ((r->tls_port != 0 || r->https_port != 0) !=
	    (r->tls_cert[0] != '\0' && r->tls_key[0] != '\0'))
		return fail(
		    w,
		    "%s: [rpc] tls_port or https_port, and tls_cert and "
		    "tls_key, go together (a TLS port needs a "
		    "certificate and its key, and they need a port)",
		    w->file);
	if (r->tls_client_ca[0] != '\0' && r->tls_port == 0 &&
	    r->https_port == 0)
		return fail(w,
			    "%s: [rpc] tls_client_ca needs tls_port or "
			    "https_port (client certificates are asked in TLS "
			    "handshakes only)",
			    w->file);
	if (r->tls_client_crl[0] != '\0' && r->tls_client_ca[0] == '\0')
		return fail(w,
			    "%s: [rpc] tls_client_crl needs tls_client_ca (the "
			    "certificates it revokes are client certificates)",
			    w->file);
	if (cfg->napps == 0)
		return fail(w,
			    "%s: [apps]: no app (at least one 'APP_ID = "
			    "SECRET' is needed)",
			    w->file);
	for (uint32_t i = 0; cfg->service.operator[0] != '\0'; i++) {
		if (i == cfg->napps)
			return fail(w,
				    "%s: [service] operator: no app '%s' in "
				    "[apps]",
				    w->file, cfg->service.operator);
		if (strcmp(cfg->apps[i].id, cfg->service.operator) == 0)
			break;
	}
	return 0;
}

/* Each app's quota: [quotas], with its own entry's values over it. */
static int resolve_quotas(struct rs_config *cfg, const struct where *w)
{
	const struct rs_config_quota_override *o;
	struct rs_config_quota *q;
	uint32_t i, j;

	for (i = 0; i < cfg->napps; i++)
		cfg->apps[i].quota = cfg->quotas;
	for (j = 0; j < cfg->nquota_overrides; j++) {
		o = &cfg->quota_overrides[j];
		for (i = 0; i < cfg->napps; i++)
			if (strcmp(cfg->apps[i].id, o->app) == 0)
				break;
		if (i == cfg->napps)
			return fail(w, "%s: [quotas] %s: no app '%s' in [apps]",
				    w->file, o->app, o->app);
		q = &cfg->apps[i].quota;
		q->sockets = o->quota.sockets ? o->quota.sockets : q->sockets;
		q->buffered_bytes = o->quota.buffered_bytes
					? o->quota.buffered_bytes
					: q->buffered_bytes;
		q->pending_calls = o->quota.pending_calls
				       ? o->quota.pending_calls
				       : q->pending_calls;
		q->output_bytes = o->quota.output_bytes ? o->quota.output_bytes
							: q->output_bytes;
		q->listeners =
		    o->quota.listeners ? o->quota.listeners : q->listeners;
		q->parked_bytes = o->quota.parked_bytes ? o->quota.parked_bytes
							: q->parked_bytes;
		q->control_calls = o->quota.control_calls
				       ? o->quota.control_calls
				       : q->control_calls;
	}
	return 0;
}

/* A host name given twice, or a DNS server that is the proxy itself. */
static int validate_dns(const struct rs_config *cfg, const struct where *w)
{
	for (uint32_t i = 0; i < cfg->dns.nservers; i++)
		if (cfg->dns.servers[i] == cfg->net.ip)
			return fail(w,
				    "%s: [dns] servers: the proxy's own "
				    "address cannot be its DNS server",
				    w->file);
	for (uint32_t i = 0; i < cfg->nhosts; i++)
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(cfg->hosts[i].name, cfg->hosts[j].name) == 0)
				return fail(w,
					    "%s: [hosts] %s: %s is given by "
					    "%s already",
					    w->file, cfg->hosts[i].key,
					    cfg->hosts[i].name,
					    cfg->hosts[j].key);
	return 0;
}

static int validate(const struct rs_config *cfg, const struct where *w)
{
	char buf[RS_CONFIG_VALUE_MAX];
	char *argv[RS_CONFIG_EAL_ARGS_MAX];
	int rc;

	rc = validate_net(cfg, w);
	if (rc == 0)
		rc = validate_routes(cfg, w);
	if (rc == 0)
		rc = validate_ranges(cfg, w);
	if (rc == 0)
		rc = validate_port(cfg, w);
	if (rc == 0)
		rc = validate_apps(cfg, w);
	if (rc == 0)
		rc = validate_dns(cfg, w);
	if (rc == 0 &&
	    rs_config_eal_split(cfg, buf, argv, RS_CONFIG_EAL_ARGS_MAX) < 0)
		rc = fail(w, "%s: [eal] args: more than %d arguments", w->file,
			  RS_CONFIG_EAL_ARGS_MAX);
	return rc;
}

/* ---- entry points ---------------------------------------------------- */

/*
 * The embedded default is read first and the given text over it, so that
 * configs/default.ini is the one place where defaults are written down.
 * Only the given text counts for required keys.
 */
int rs_config_load_buffer(struct rs_config *cfg, const char *name,
			  const char *text, size_t len, char *err,
			  size_t errlen)
{
	const struct where w = {name, err, errlen};
	bool base[NKEYS] = {false}, seen[NKEYS] = {false};
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = load_layer(cfg, RS_CONFIG_DEFAULT_NAME, rs_config_embedded_default,
			rs_config_embedded_default_len, base, err, errlen);
	cfg->apps_given = false; /* the default's are not the file's */
	if (rc == 0)
		rc = load_layer(cfg, name, text, len, seen, err, errlen);
	for (size_t i = 0; rc == 0 && i < NKEYS; i++)
		if ((keys[i].flags & F_REQUIRED) && !seen[i])
			rc = fail(&w, "%s: [%s] %s: missing (required)", name,
				  keys[i].section, keys[i].name);
	if (rc == 0)
		rc = validate(cfg, &w);
	if (rc == 0)
		rc = resolve_quotas(cfg, &w);
	snprintf(cfg->source, sizeof(cfg->source), "%s", name);
	return rc;
}

/* Read up to FILE_MAX bytes.  Not stat()-based, so that pipes such as
 * /dev/stdin work too. */
static int read_file(const char *path, char **text, size_t *len)
{
	size_t cap = 4096, got = 0;
	char *buf, *bigger;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	while (buf != NULL && rc == 0) {
		if (got == cap) {
			cap *= 2;
			bigger = cap > 2 * FILE_MAX ? NULL : realloc(buf, cap);
			if (bigger == NULL) {
				rc = cap > 2 * FILE_MAX ? -EFBIG : -ENOMEM;
				break;
			}
			buf = bigger;
		}
		n = read(fd, buf + got, cap - got);
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			rc = -errno;
		got += n > 0 ? (size_t)n : 0;
		if (got > FILE_MAX)
			rc = -EFBIG;
	}
	close(fd);
	if (buf == NULL)
		return -ENOMEM;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = got;
	return 0;
}

int rs_config_load_file(struct rs_config *cfg, const char *path, char *err,
			size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(path, &text, &len);
	if (rc < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 rc == -EFBIG ? "larger than 1 MiB"
					      : strerror(-rc));
		return rc;
	}
	rc = rs_config_load_buffer(cfg, path, text, len, err, errlen);
	free(text);
	return rc;
}

int rs_config_load_default(struct rs_config *cfg, char *err, size_t errlen)
{
	return rs_config_load_buffer(
	    cfg, RS_CONFIG_DEFAULT_NAME, rs_config_embedded_default,
	    rs_config_embedded_default_len, err, errlen);
}

/* Secrets anyone can read in remsock's own files: the embedded demo's
 * and configs/virtio.ini's (tests/integration/config_cli.sh checks that
 * each shipped file is caught). */
static const char *const published[] = {
    "demo-secret-not-for-production",
    "other-secret-not-for-production",
};
#define PLACEHOLDER "CHANGE-ME"

int rs_config_check_secrets(const struct rs_config *cfg, bool test_secrets,
			    char *err, size_t errlen)
{
	const struct where w = {cfg->source, err, errlen};
	const struct rs_config_app *a;

	if (!cfg->apps_given && !test_secrets)
		return fail(&w,
			    "%s: [apps]: none: a file given with -c names its "
			    "own apps and secrets (the embedded default's demo "
			    "app is for the demo alone)",
			    cfg->source);
	for (uint32_t i = 0; i < cfg->napps; i++) {
		a = &cfg->apps[i];
		if (strncmp(a->secret, PLACEHOLDER, strlen(PLACEHOLDER)) == 0)
			return fail(
			    &w,
			    "%s: [apps] %s: the secret is still the "
			    "example's placeholder: put one of your "
			    "own (e.g. head -c 24 /dev/urandom | base64)",
			    cfg->source, a->id);
		for (size_t j = 0; !test_secrets &&
				   j < sizeof(published) / sizeof(published[0]);
		     j++)
			if (strcmp(a->secret, published[j]) == 0)
				return fail(
				    &w,
				    "%s: [apps] %s: this secret is "
				    "published in remsock's own files: "
				    "choose your own (e.g. head -c 24 "
				    "/dev/urandom | base64), or run with "
				    "--test-secrets on a test machine",
				    cfg->source, a->id);
	}
	return 0;
}

const char *rs_config_default_text(size_t *len)
{
	if (len != NULL)
		*len = rs_config_embedded_default_len;
	return rs_config_embedded_default;
}

int rs_config_eal_split(const struct rs_config *cfg,
			char buf[RS_CONFIG_VALUE_MAX], char **argv, int max)
{
	char *save = NULL, *word;
	int n = 0;

	snprintf(buf, RS_CONFIG_VALUE_MAX, "%s", cfg->eal.args);
	for (word = strtok_r(buf, " \t", &save); word != NULL;
	     word = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return -E2BIG;
		argv[n++] = word;
	}
	return n;
}
