/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The destination ACL, compiled for lookup.
 *
 * All rules (pinned, configured, built-in, default) go into one array in
 * the order they are tried.  Every rule's first address and the address
 * after its last are breakpoints; sorted, they cut the address space into
 * disjoint intervals inside which every rule either covers each address
 * or none.  Each interval keeps the indices of the rules that cover it, in
 * order, up to and including the first one that covers every port: no
 * later rule can ever decide there.  The closing default covers all
 * addresses and ports, so every list ends with a rule that matches.
 *
 * A lookup finds the interval by binary search and returns the first rule
 * of its list whose port range holds the port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_acl.h"
#include "rs_config.h"

struct rs_acl {
	struct rs_acl_rule *rules; /* in the order they are tried */
	unsigned nrules;
	uint32_t *starts; /* first address of each interval, host order */
	uint32_t *first;  /* interval i's rules: idx[first[i]..first[i+1]) */
	uint16_t *idx;	  /* indices into rules[] */
	unsigned nintervals;
	uint64_t *denials; /* per rule, atomic: rs_acl_count_denial() */
};

/* The built-in denials, tried after the configured rules.  255.255.255.255
 * comes before 240/4 so that a denial names it. */
static const struct {
	const char *name;
	const char *prefix;
	uint8_t len;
} builtin[] = {
    {"this network", "0.0.0.0", 8},
    {"private", "10.0.0.0", 8},
    {"shared (CGNAT)", "100.64.0.0", 10},
    {"loopback", "127.0.0.0", 8},
    {"link-local", "169.254.0.0", 16},
    {"private", "172.16.0.0", 12},
    {"private", "192.168.0.0", 16},
    {"benchmarking", "198.18.0.0", 15},
    {"multicast", "224.0.0.0", 4},
    {"limited broadcast", "255.255.255.255", 32},
    {"reserved", "240.0.0.0", 4},
};

#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

static uint32_t mask_of(uint8_t len)
{
	return len == 0 ? 0 : ~0u << (32 - len);
}

static uint32_t first_addr(const struct rs_acl_rule *r)
{
	return ntohl(r->prefix);
}

static uint32_t last_addr(const struct rs_acl_rule *r)
{
	return ntohl(r->prefix) | ~mask_of(r->len);
}

static bool all_ports(const struct rs_acl_rule *r)
{
	return r->port_lo == 0 && r->port_hi == 65535;
}

static bool rule_ok(const struct rs_acl_rule *r)
{
	return r->len <= 32 && (ntohl(r->prefix) & ~mask_of(r->len)) == 0 &&
	       r->port_lo <= r->port_hi;
}

static void set_rule(struct rs_acl_rule *r, const char *name,
		     const char *prefix, uint8_t len, bool allow,
		     enum rs_acl_origin origin)
{
	memset(r, 0, sizeof(*r));
	inet_pton(AF_INET, prefix, &r->prefix);
	r->len = len;
	r->allow = allow;
	r->port_hi = 65535;
	r->origin = origin;
	snprintf(r->name, sizeof(r->name), "%s", name);
}

void rs_acl_rule_host(struct rs_acl_rule *r, uint32_t addr, const char *name)
{
	set_rule(r, name, "0.0.0.0", 32, false, RS_ACL_PINNED);
	r->prefix = addr;
}

/* Copy every rule into one array, in the order they are tried. */
static int gather(struct rs_acl *acl, const struct rs_acl_rule *rules,
		  unsigned nrules, const struct rs_acl_rule *pinned,
		  unsigned npinned)
{
	struct rs_acl_rule *r;
	unsigned n = 0;

	acl->rules = calloc(npinned + nrules + NBUILTIN + 1, sizeof(*r));
	acl->denials =
	    calloc(npinned + nrules + NBUILTIN + 1, sizeof(*acl->denials));
	if (acl->rules == NULL || acl->denials == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < npinned + nrules; i++) {
		r = &acl->rules[n++];
		*r = i < npinned ? pinned[i] : rules[i - npinned];
		/* A caller's rule may be a built-in one of its own. */
		r->origin = i < npinned			  ? RS_ACL_PINNED
			    : r->origin == RS_ACL_BUILTIN ? RS_ACL_BUILTIN
							  : RS_ACL_CONFIG;
		r->name[RS_ACL_NAME_MAX - 1] = '\0';
		if (!rule_ok(r))
			return -EINVAL;
	}
	for (unsigned i = 0; i < NBUILTIN; i++)
		set_rule(&acl->rules[n++], builtin[i].name, builtin[i].prefix,
			 builtin[i].len, false, RS_ACL_BUILTIN);
	set_rule(&acl->rules[n++], "default", "0.0.0.0", 0, true,
		 RS_ACL_DEFAULT);
	acl->nrules = n;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The sorted, distinct breakpoints: 0 and every rule's first address and
 * the address after its last. */
static int cut(struct rs_acl *acl)
{
	uint32_t *s = malloc((2 * acl->nrules + 1) * sizeof(*s));
	unsigned n = 0, m = 0;

	if (s == NULL)
		return -ENOMEM;
	s[n++] = 0;
	for (unsigned i = 0; i < acl->nrules; i++) {
		s[n++] = first_addr(&acl->rules[i]);
		if (last_addr(&acl->rules[i]) != UINT32_MAX)
			s[n++] = last_addr(&acl->rules[i]) + 1;
	}
	qsort(s, n, sizeof(*s), cmp_u32);
	for (unsigned i = 0; i < n; i++)
		if (m == 0 || s[m - 1] != s[i])
			s[m++] = s[i];
	acl->starts = s;
	acl->nintervals = m;
	return 0;
}

/* Rules that can decide at @p a, in order; with @p out NULL, count them. */
static unsigned candidates(const struct rs_acl *acl, uint32_t a, uint16_t *out)
{
	const struct rs_acl_rule *r;
	unsigned n = 0;

	for (unsigned i = 0; i < acl->nrules; i++) {
		r = &acl->rules[i];
		if (a < first_addr(r) || a > last_addr(r))
			continue;
		if (out != NULL)
			out[n] = (uint16_t)i;
		n++;
		if (all_ports(r))
			break;
	}
	return n;
}

static int index_intervals(struct rs_acl *acl)
{
	unsigned total = 0;

	acl->first = malloc((acl->nintervals + 1) * sizeof(*acl->first));
	if (acl->first == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < acl->nintervals; i++) {
		acl->first[i] = total;
		total += candidates(acl, acl->starts[i], NULL);
	}
	acl->first[acl->nintervals] = total;
	acl->idx = malloc(total * sizeof(*acl->idx));
	if (acl->idx == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < acl->nintervals; i++)
		candidates(acl, acl->starts[i], acl->idx + acl->first[i]);
	return 0;
}

struct rs_acl *rs_acl_create(const struct rs_acl_rule *rules, unsigned nrules,
			     const struct rs_acl_rule *pinned, unsigned npinned,
			     int *err)
{
	struct rs_acl *acl;
	int rc = -E2BIG;

	if (nrules > RS_ACL_RULES_MAX || npinned > RS_ACL_RULES_MAX - nrules)
		goto err_out;
	rc = -ENOMEM;
	acl = calloc(1, sizeof(*acl));
	if (acl == NULL)
		goto err_out;
	rc = gather(acl, rules, nrules, pinned, npinned);
	if (rc == 0)
		rc = cut(acl);
	if (rc == 0)
		rc = index_intervals(acl);
	if (rc < 0)
		goto err_free;
	if (err != NULL)
		*err = 0;
	return acl;

err_free:
	rs_acl_free(acl);
err_out:
	if (err != NULL)
		*err = rc;
	return NULL;
}

struct rs_acl *rs_acl_create_from_config(const struct rs_config *cfg, int *err)
{
	struct rs_acl_rule rules[RS_CONFIG_ACL_MAX + 1], pinned[2];
	const struct rs_config_acl_rule *c;
	uint32_t host = ~mask_of((uint8_t)cfg->net.prefix);
	unsigned npinned = 1;

	for (uint32_t i = 0; i < cfg->nacl; i++) {
		c = &cfg->acl[i];
		memset(&rules[i], 0, sizeof(rules[i]));
		rules[i].prefix = c->prefix;
		rules[i].len = (uint8_t)c->len;
		rules[i].allow = c->allow;
		rules[i].port_lo = c->port_lo;
		rules[i].port_hi = c->port_hi;
		snprintf(rules[i].name, sizeof(rules[i].name), "%s", c->name);
	}
	/* The proxy's own subnet (its neighbours, its gateway): denied
	 * unless a rule above allows it. */
	rs_acl_rule_host(&rules[cfg->nacl], cfg->net.ip & ~htonl(host),
			 "proxy subnet");
	rules[cfg->nacl].len = (uint8_t)cfg->net.prefix;
	rules[cfg->nacl].origin = RS_ACL_BUILTIN;
	rs_acl_rule_host(&pinned[0], cfg->net.ip, "proxy address");
	/* /31 and /32 subnets have no broadcast address (RFC 3021). */
	if (cfg->net.prefix <= 30)
		rs_acl_rule_host(&pinned[npinned++], cfg->net.ip | htonl(host),
				 "subnet broadcast");
	return rs_acl_create(rules, cfg->nacl + 1, pinned, npinned, err);
}

void rs_acl_free(struct rs_acl *acl)
{
	if (acl == NULL)
		return;
	free(acl->idx);
	free(acl->first);
	free(acl->starts);
	free(acl->rules);
	free(acl->denials);
	free(acl);
}

const struct rs_acl_rule *rs_acl_lookup(const struct rs_acl *acl, uint32_t addr,
					uint16_t port)
{
	uint32_t a = ntohl(addr);
	unsigned lo = 0, hi = acl->nintervals, mid;
	const struct rs_acl_rule *r = NULL;

	/* starts[0] is 0: find the last interval starting at or below a. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (acl->starts[mid] <= a)
			lo = mid;
		else
			hi = mid;
	}
	for (uint32_t j = acl->first[lo]; j < acl->first[lo + 1]; j++) {
		r = &acl->rules[acl->idx[j]];
		if (port >= r->port_lo && port <= r->port_hi)
			return r;
	}
	return r; /* not reached: each list ends with an all-ports rule */
}

int rs_acl_rule_format(const struct rs_acl_rule *rule, char *buf, size_t len)
{
	static const char *const origin[] = {
	    [RS_ACL_PINNED] = "",
	    [RS_ACL_CONFIG] = "[acl] ",
	    [RS_ACL_BUILTIN] = "built-in ",
	    [RS_ACL_DEFAULT] = "",
	};
	char a[INET_ADDRSTRLEN], ports[24] = "";

	inet_ntop(AF_INET, &rule->prefix, a, sizeof(a));
	if (rule->port_lo == rule->port_hi)
		snprintf(ports, sizeof(ports), " port %u", rule->port_lo);
	else if (!all_ports(rule))
		snprintf(ports, sizeof(ports), " ports %u-%u", rule->port_lo,
			 rule->port_hi);
	return snprintf(buf, len, "%s%s: %s %s/%u%s", origin[rule->origin],
			rule->name, rule->allow ? "allow" : "deny", a,
			rule->len, ports);
}

unsigned rs_acl_rule_count(const struct rs_acl *acl)
{
	return acl->nrules;
}

void rs_acl_count_denial(const struct rs_acl *acl,
			 const struct rs_acl_rule *rule)
{
	__atomic_fetch_add(&acl->denials[rule - acl->rules], 1,
			   __ATOMIC_RELAXED);
}

uint64_t rs_acl_denials(const struct rs_acl *acl, unsigned i,
			const struct rs_acl_rule **rule)
{
	if (i >= acl->nrules)
		return 0;
	if (rule != NULL)
		*rule = &acl->rules[i];
	return __atomic_load_n(&acl->denials[i], __ATOMIC_RELAXED);
}
