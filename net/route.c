/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing: which next hop a destination goes to (RFC 1812 section 5.2.4,
 * longest prefix match).
 *
 * The table is built once from the configuration -- the attached subnet
 * (on-link), [net] gateway as the default route, the [routes] entries --
 * and then only read, by every worker at once: an rte_fib of the RIB-only
 * kind (RTE_FIB_DUMMY), whose lookups do not write.  The DIR24_8 kind
 * would answer in one memory access but costs 16 MiB or more of hugepages
 * per table, too much for a handful of routes on a shared test machine.
 * The common case, a destination on the subnet, skips the tree when no
 * configured route is more specific than the subnet.
 *
 * Next hops in the FIB are indexes into rs_route.via: NH_DIRECT means
 * on-link (the next hop is the destination itself).
 */
#include <errno.h>
#include <stdio.h>

#include <rte_fib.h>
#include <rte_malloc.h>
#include <rte_memzone.h>

#include "dp_pvt.h"
#include "stack_pvt.h"

#define NH_DIRECT 0
#define NH_NONE UINT64_MAX

struct rs_route {
	struct rte_fib *fib;
	uint32_t net, mask; /* the subnet, host order */
	bool subnet_fast;   /* no route inside the subnet */
	uint32_t nvia;	    /* entries of via[] used, [0] unused */
	rte_be32_t via[RS_CONFIG_ROUTES_MAX + 2];
};

static uint32_t prefix_mask(uint32_t len)
{
	return (uint32_t)(~0ull << (32 - len));
}

/* Add one route; @p via 0 is on-link. */
static int route_add(struct rs_route *rt, rte_be32_t prefix, uint32_t len,
		     rte_be32_t via)
{
	uint64_t nh = NH_DIRECT;

	if (via != 0) {
		nh = rt->nvia;
		rt->via[rt->nvia++] = via;
	}
	if (len > 0 && (rte_be_to_cpu_32(prefix) & rt->mask) == rt->net &&
	    prefix_mask(len) > rt->mask)
		rt->subnet_fast = false;
	return rte_fib_add(rt->fib, rte_be_to_cpu_32(prefix), len, nh);
}

static int routes_fill(struct rs_route *rt, const struct rs_config *cfg)
{
	int rc;

	rc = route_add(rt, rte_cpu_to_be_32(rt->net), cfg->net.prefix, 0);
	if (rc == 0 && cfg->net.gateway != 0)
		rc = route_add(rt, 0, 0, cfg->net.gateway);
	for (uint32_t i = 0; rc == 0 && i < cfg->nroutes; i++)
		rc = route_add(rt, cfg->routes[i].prefix, cfg->routes[i].len,
			       cfg->routes[i].via);
	return rc;
}

int rs_route_create(struct rs_dp *dp)
{
	struct rte_fib_conf conf = {
	    .type = RTE_FIB_DUMMY,
	    .default_nh = NH_NONE,
	    .max_routes = RS_CONFIG_ROUTES_MAX + 2,
	};
	char name[RTE_MEMZONE_NAMESIZE];
	struct rs_route *rt;
	int rc;

	rt = rte_zmalloc("rs_route", sizeof(*rt), RTE_CACHE_LINE_SIZE);
	if (rt == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "rs_fib_%u", dp->port_id);
	rt->fib = rte_fib_create(name, SOCKET_ID_ANY, &conf);
	if (rt->fib == NULL) {
		rc = -rte_errno;
		rs_dp_err("routes: cannot create the table: %s",
			  rte_strerror(rte_errno));
		goto err_fib;
	}
	rt->mask = prefix_mask(dp->cfg.net.prefix);
	rt->net = rte_be_to_cpu_32(dp->cfg.net.ip) & rt->mask;
	rt->subnet_fast = true;
	rt->nvia = 1;
	rc = routes_fill(rt, &dp->cfg);
	if (rc < 0) {
		rs_dp_err("routes: cannot add a route: %s", strerror(-rc));
		goto err_add;
	}
	dp->route = rt;
	return 0;

err_add:
	rte_fib_free(rt->fib);
err_fib:
	rte_free(rt);
	return rc;
}

void rs_route_free(struct rs_dp *dp)
{
	if (dp->route == NULL)
		return;
	rte_fib_free(dp->route->fib);
	rte_free(dp->route);
	dp->route = NULL;
}

/* A destination we may send to: not 0, loopback, multicast, class E, nor
 * the subnet's broadcast (a /31 or /32 has none, RFC 3021). */
static bool dst_ok(const struct rs_route *rt, uint32_t a)
{
	uint32_t host = ~rt->mask;

	return a != 0 && (a >> 24) != 127 && (a >> 28) < 14 &&
	       (host <= 1 || (a & rt->mask) != rt->net || (a & host) != host);
}

int rs_route_lookup(const struct rs_lcore *lc, rte_be32_t dst, rte_be32_t *nh)
{
	const struct rs_route *rt = lc->route;
	uint32_t a = rte_be_to_cpu_32(dst);
	uint64_t hop;

	if (!dst_ok(rt, a) || dst == lc->ifc->ip)
		return -ENETUNREACH;
	if (rt->subnet_fast && (a & rt->mask) == rt->net) {
		*nh = dst;
		return 0;
	}
	/* The DUMMY lookup only reads; the cast is the API's. */
	rte_fib_lookup_bulk((struct rte_fib *)rt->fib, &a, &hop, 1);
	if (hop == NH_NONE)
		return -ENETUNREACH;
	*nh = hop == NH_DIRECT ? dst : rt->via[hop];
	return 0;
}
