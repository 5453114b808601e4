/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The destination ACL: the built-in denials at both edges of every range,
 * prefixes of length 0 and 32, first match wins, ports and port ranges,
 * pinned rules that no allow overrides, the rules of a configuration, and
 * the compiled lookup against a plain first-match model on random rules.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rs_acl.h"
#include "rs_config.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct rs_acl_rule rule(bool allow, const char *prefix, uint8_t len,
			       uint16_t lo, uint16_t hi, const char *name)
{
	struct rs_acl_rule r;

	memset(&r, 0, sizeof(r));
	r.allow = allow;
	r.prefix = ip(prefix);
	r.len = len;
	r.port_lo = lo;
	r.port_hi = hi;
	snprintf(r.name, sizeof(r.name), "%s", name);
	return r;
}

/* The deciding rule, formatted. */
static const char *decide(const struct rs_acl *acl, const char *addr,
			  uint16_t port)
{
	static char buf[128];

	rs_acl_rule_format(rs_acl_lookup(acl, ip(addr), port), buf,
			   sizeof(buf));
	return buf;
}

static bool allowed(const struct rs_acl *acl, uint32_t be, uint16_t port)
{
	return rs_acl_allows(acl, be, port, NULL);
}

/* The built-in ranges, as the header lists them: prefix, length, last
 * address the rule decides (240/4 stops short of 255.255.255.255). */
static const struct {
	const char *first;
	uint8_t len;
	const char *last, *name;
} ranges[] = {
    {"0.0.0.0", 8, "0.255.255.255", "this network"},
    {"10.0.0.0", 8, "10.255.255.255", "private"},
    {"100.64.0.0", 10, "100.127.255.255", "shared (CGNAT)"},
    {"127.0.0.0", 8, "127.255.255.255", "loopback"},
    {"169.254.0.0", 16, "169.254.255.255", "link-local"},
    {"172.16.0.0", 12, "172.31.255.255", "private"},
    {"192.168.0.0", 16, "192.168.255.255", "private"},
    {"198.18.0.0", 15, "198.19.255.255", "benchmarking"},
    {"224.0.0.0", 4, "239.255.255.255", "multicast"},
    {"255.255.255.255", 32, "255.255.255.255", "limited broadcast"},
    {"240.0.0.0", 4, "255.255.255.254", "reserved"},
};

#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/* The addresses next to each range that no built-in denial covers. */
static const char *const outside[] = {
    "1.0.0.0",	   "9.255.255.255",   "11.0.0.0",   "100.63.255.255",
    "100.128.0.0", "126.255.255.255", "128.0.0.0",  "169.253.255.255",
    "169.255.0.0", "172.15.255.255",  "172.32.0.0", "192.167.255.255",
    "192.169.0.0", "198.17.255.255",  "198.20.0.0", "223.255.255.255",
};

static void test_builtin_edges(void **state)
{
	struct rs_acl *acl = rs_acl_create(NULL, 0, NULL, 0, NULL);
	const struct rs_acl_rule *r;

	assert_non_null(acl);
	assert_int_equal(rs_acl_rule_count(acl), NRANGES + 1);
	for (size_t i = 0; i < NRANGES; i++) {
		for (int port = 0; port <= 65535; port += 65535) {
			assert_false(
			    rs_acl_allows(acl, ip(ranges[i].first), port, &r));
			assert_int_equal(r->origin, RS_ACL_BUILTIN);
			assert_string_equal(r->name, ranges[i].name);
			assert_false(
			    rs_acl_allows(acl, ip(ranges[i].last), port, &r));
			assert_string_equal(r->name, ranges[i].name);
		}
	}
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		assert_true(rs_acl_allows(acl, ip(outside[i]), 80, &r));
		assert_int_equal(r->origin, RS_ACL_DEFAULT);
	}
	assert_string_equal(decide(acl, "8.8.8.8", 53),
			    "default: allow 0.0.0.0/0");
	assert_string_equal(decide(acl, "127.0.0.1", 80),
			    "built-in loopback: deny 127.0.0.0/8");
	assert_string_equal(decide(acl, "100.100.0.1", 80),
			    "built-in shared (CGNAT): deny 100.64.0.0/10");
	assert_string_equal(decide(acl, "255.255.255.255", 9),
			    "built-in limited broadcast: deny "
			    "255.255.255.255/32");
	assert_string_equal(decide(acl, "240.0.0.1", 9),
			    "built-in reserved: deny 240.0.0.0/4");
	rs_acl_free(acl);
}

#define DEFAULT "default: allow 0.0.0.0/0"

/* A destination and the rule that must decide it, formatted. */
struct probe {
	const char *addr;
	uint16_t port;
	const char *rule;
};

static void expect_all(const struct rs_acl *acl, const struct probe *p,
		       size_t n)
{
	const char *got;

	for (size_t i = 0; i < n; i++) {
		got = decide(acl, p[i].addr, p[i].port);
		if (strcmp(got, p[i].rule) != 0)
			fail_msg("%s port %u: decided by '%s', not '%s'",
				 p[i].addr, p[i].port, got, p[i].rule);
	}
}

#define EXPECT(acl, ...)                                                       \
	do {                                                                   \
		static const struct probe p_[] = {__VA_ARGS__};                \
		expect_all(acl, p_, sizeof(p_) / sizeof(p_[0]));               \
	} while (0)

static void test_prefix_0_and_32(void **state)
{
	struct rs_acl_rule rules[] = {
	    rule(true, "10.1.2.3", 32, 0, 65535, "one"),
	    rule(false, "0.0.0.0", 0, 0, 65535, "rest"),
	};
	struct rs_acl *acl = rs_acl_create(rules, 2, NULL, 0, NULL);

	assert_non_null(acl);
#define REST "[acl] rest: deny 0.0.0.0/0"
	EXPECT(acl, {"10.1.2.3", 1, "[acl] one: allow 10.1.2.3/32"},
	       {"10.1.2.2", 1, REST}, {"10.1.2.4", 1, REST},
	       {"8.8.8.8", 1, REST}, {"0.0.0.0", 0, REST},
	       {"255.255.255.255", 65535, REST});
#undef REST
	rs_acl_free(acl);

	/* allow 0/0 opens even the built-in denials. */
	rules[0] = rule(true, "0.0.0.0", 0, 0, 65535, "all");
	acl = rs_acl_create(rules, 1, NULL, 0, NULL);
	EXPECT(acl, {"127.0.0.1", 80, "[acl] all: allow 0.0.0.0/0"},
	       {"255.255.255.255", 80, "[acl] all: allow 0.0.0.0/0"});
	rs_acl_free(acl);
}

static void test_first_match_wins(void **state)
{
	struct rs_acl_rule rules[] = {
	    rule(true, "198.18.0.0", 15, 0, 65535, "testnet"),
	    rule(false, "198.18.5.0", 24, 0, 65535, "hole"),
	};
	struct rs_acl *acl = rs_acl_create(rules, 2, NULL, 0, NULL);

#define TESTNET "[acl] testnet: allow 198.18.0.0/15"
	EXPECT(acl, {"198.18.5.1", 80, TESTNET},
	       {"198.19.255.255", 80, TESTNET}, {"198.17.255.255", 80, DEFAULT},
	       {"198.20.0.0", 80, DEFAULT});
	rs_acl_free(acl);

	rules[0] = rule(false, "198.18.5.0", 24, 0, 65535, "hole");
	rules[1] = rule(true, "198.18.0.0", 15, 0, 65535, "testnet");
	acl = rs_acl_create(rules, 2, NULL, 0, NULL);
	EXPECT(acl, {"198.18.5.1", 80, "[acl] hole: deny 198.18.5.0/24"},
	       {"198.18.5.255", 80, "[acl] hole: deny 198.18.5.0/24"},
	       {"198.18.4.255", 80, TESTNET}, {"198.18.6.0", 80, TESTNET});
#undef TESTNET
	rs_acl_free(acl);
}

static void test_ports(void **state)
{
	struct rs_acl_rule rules[] = {
	    rule(false, "0.0.0.0", 0, 25, 25, "smtp"),
	    rule(true, "10.0.0.0", 8, 8000, 8099, "app"),
	    rule(true, "192.168.0.0", 16, 0, 0, "zero"),
	    rule(true, "172.16.0.0", 12, 65535, 65535, "top"),
	};
	struct rs_acl *acl = rs_acl_create(rules, 4, NULL, 0, NULL);

#define SMTP "[acl] smtp: deny 0.0.0.0/0 port 25"
#define APP "[acl] app: allow 10.0.0.0/8 ports 8000-8099"
	EXPECT(
	    acl, {"8.8.8.8", 25, SMTP}, {"8.8.8.8", 24, DEFAULT},
	    {"8.8.8.8", 26, DEFAULT}, {"10.9.9.9", 8000, APP},
	    {"10.9.9.9", 8099, APP}, {"10.255.255.255", 8050, APP},
	    {"10.9.9.9", 7999, "built-in private: deny 10.0.0.0/8"},
	    {"10.9.9.9", 8100, "built-in private: deny 10.0.0.0/8"},
	    {"10.9.9.9", 25, SMTP}, {"11.0.0.0", 25, SMTP},
	    {"11.0.0.0", 8100, DEFAULT},
	    {"192.168.1.1", 0, "[acl] zero: allow 192.168.0.0/16 port 0"},
	    {"192.168.1.1", 1, "built-in private: deny 192.168.0.0/16"},
	    {"172.31.0.1", 65535, "[acl] top: allow 172.16.0.0/12 port 65535"},
	    {"172.31.0.1", 65534, "built-in private: deny 172.16.0.0/12"});
#undef SMTP
#undef APP
	rs_acl_free(acl);
}

static void test_pinned(void **state)
{
	struct rs_acl_rule pinned[2];
	struct rs_acl_rule rules[] = {
	    rule(true, "0.0.0.0", 0, 0, 65535, "all"),
	};
	struct rs_acl *acl;

	rs_acl_rule_host(&pinned[0], ip("198.18.0.2"), "proxy address");
	rs_acl_rule_host(&pinned[1], ip("203.0.113.9"), "second address");
	acl = rs_acl_create(rules, 1, pinned, 2, NULL);
#define ALL "[acl] all: allow 0.0.0.0/0"
	EXPECT(acl, {"198.18.0.2", 5757, "proxy address: deny 198.18.0.2/32"},
	       {"203.0.113.9", 1, "second address: deny 203.0.113.9/32"},
	       {"198.18.0.1", 5757, ALL}, {"198.18.0.3", 5757, ALL},
	       {"203.0.113.8", 1, ALL}, {"203.0.113.10", 1, ALL});
#undef ALL
	rs_acl_free(acl);
}

static struct rs_acl *from_text(const char *text)
{
	struct rs_config cfg;
	struct rs_acl *acl;
	int err = 1;

	assert_int_equal(
	    rs_config_load_buffer(&cfg, "x.ini", text, strlen(text), NULL, 0),
	    0);
	acl = rs_acl_create_from_config(&cfg, &err);
	assert_non_null(acl);
	assert_int_equal(err, 0);
	return acl;
}

static void test_from_config(void **state)
{
	struct rs_acl *acl;

	/* The default: the test network open, but not the proxy itself
	 * nor its subnet's broadcast address. */
	acl = from_text("[port]\ndevargs = x\n[net]\nip = 198.18.0.2\n");
#define TESTNET "[acl] testnet: allow 198.18.0.0/15"
	EXPECT(acl, {"198.18.0.1", 80, TESTNET}, {"198.18.1.255", 80, TESTNET},
	       {"198.18.0.2", 80, "proxy address: deny 198.18.0.2/32"},
	       {"198.18.0.255", 80, "subnet broadcast: deny 198.18.0.255/32"},
	       {"127.0.0.1", 80, "built-in loopback: deny 127.0.0.0/8"},
	       {"10.0.0.1", 80, "built-in private: deny 10.0.0.0/8"});
	rs_acl_free(acl);

	/* Rules in file order: the later port rule never decides. */
	acl = from_text("[port]\ndevargs = x\n[net]\nip = 198.18.0.2\n"
			"[acl]\ntestnet = allow 198.18.0.0/15\n"
			"web = deny 198.18.0.1/32 80\n");
	EXPECT(acl, {"198.18.0.1", 443, TESTNET}, {"198.18.0.1", 80, TESTNET});
#undef TESTNET
	rs_acl_free(acl);

	/* A /31 has no broadcast address: only the proxy's is pinned; its
	 * neighbour is the subnet's, denied unless allowed. */
	acl = from_text("[port]\ndevargs = x\n[net]\nip = 203.0.113.0\n"
			"prefix = 31\n");
	EXPECT(acl, {"203.0.113.0", 1, "proxy address: deny 203.0.113.0/32"},
	       {"203.0.113.1", 1, "built-in proxy subnet: deny 203.0.113.0/31"},
	       {"203.0.113.2", 1, DEFAULT});
	rs_acl_free(acl);
	acl = from_text("[port]\ndevargs = x\n[net]\nip = 203.0.113.9\n"
			"[acl]\nnext = allow 203.0.113.10/32\n");
	EXPECT(
	    acl, {"203.0.113.10", 1, "[acl] next: allow 203.0.113.10/32"},
	    {"203.0.113.11", 1, "built-in proxy subnet: deny 203.0.113.0/24"},
	    {"203.0.113.0", 1, "built-in proxy subnet: deny 203.0.113.0/24"});
	rs_acl_free(acl);
}

static void test_bad_rules(void **state)
{
	static struct rs_acl_rule many[RS_ACL_RULES_MAX + 1];
	struct rs_acl_rule r;
	int err = 0;

	r = rule(true, "10.0.0.1", 8, 0, 65535, "bits");
	assert_null(rs_acl_create(&r, 1, NULL, 0, &err));
	assert_int_equal(err, -EINVAL);
	r = rule(true, "10.0.0.0", 33, 0, 65535, "len");
	assert_null(rs_acl_create(&r, 1, NULL, 0, &err));
	assert_int_equal(err, -EINVAL);
	r = rule(true, "10.0.0.0", 8, 81, 80, "ports");
	assert_null(rs_acl_create(NULL, 0, &r, 1, &err));
	assert_int_equal(err, -EINVAL);
	for (size_t i = 0; i < RS_ACL_RULES_MAX + 1; i++)
		many[i] = rule(true, "10.0.0.0", 8, 0, 65535, "x");
	assert_null(rs_acl_create(many, RS_ACL_RULES_MAX + 1, NULL, 0, &err));
	assert_int_equal(err, -E2BIG);
	assert_null(rs_acl_create(many, RS_ACL_RULES_MAX, many, 1, &err));
	assert_int_equal(err, -E2BIG);
	rs_acl_free(NULL);
}

/* ---- the compiled lookup against a plain first-match model ----------- */

static bool covers(const struct rs_acl_rule *r, uint32_t a, uint16_t port)
{
	uint32_t mask = r->len == 0 ? 0 : ~0u << (32 - r->len);

	return (a & mask) == ntohl(r->prefix) && port >= r->port_lo &&
	       port <= r->port_hi;
}

static bool model(const struct rs_acl_rule *pinned, unsigned np,
		  const struct rs_acl_rule *rules, unsigned nr, uint32_t a,
		  uint16_t port)
{
	struct rs_acl_rule b;

	for (unsigned i = 0; i < np; i++)
		if (covers(&pinned[i], a, port))
			return pinned[i].allow;
	for (unsigned i = 0; i < nr; i++)
		if (covers(&rules[i], a, port))
			return rules[i].allow;
	for (size_t i = 0; i < NRANGES; i++) {
		b.prefix = ip(ranges[i].first);
		b.len = ranges[i].len;
		b.port_lo = 0;
		b.port_hi = 65535;
		if (covers(&b, a, port))
			return false;
	}
	return true;
}

static uint32_t rnd32(void)
{
	return (uint32_t)random() << 16 ^ (uint32_t)random();
}

static void random_rule(struct rs_acl_rule *r)
{
	/* Prefixes within 10.0.0.0/16 and a few wide ones, so that rules
	 * overlap and nest often. */
	uint8_t len =
	    (uint8_t)(random() % 10 == 0 ? random() % 9 : 12 + random() % 21);
	uint32_t a =
	    random() % 10 == 0 ? rnd32() : (0x0a000000u | (rnd32() & 0xffff));
	uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
	uint16_t p1 = (uint16_t)(random() % 100),
		 p2 = (uint16_t)(random() % 100);

	memset(r, 0, sizeof(*r));
	r->prefix = htonl(a & mask);
	r->len = len;
	r->allow = random() % 2;
	if (random() % 3 == 0) {
		r->port_lo = p1 < p2 ? p1 : p2;
		r->port_hi = p1 < p2 ? p2 : p1;
	} else {
		r->port_hi = 65535;
	}
	snprintf(r->name, sizeof(r->name), "r");
}

static void test_against_model(void **state)
{
	struct rs_acl_rule rules[60], pinned[3];
	struct rs_acl *acl;
	uint32_t a, mask;
	uint16_t port;

	srandom(5);
	for (int round = 0; round < 50; round++) {
		for (unsigned i = 0; i < 60; i++)
			random_rule(&rules[i]);
		for (unsigned i = 0; i < 3; i++)
			rs_acl_rule_host(
			    &pinned[i], htonl(0x0a000000u | (rnd32() & 0xffff)),
			    "own");
		acl = rs_acl_create(rules, 60, pinned, 3, NULL);
		assert_non_null(acl);
		for (int q = 0; q < 4000; q++) {
			const struct rs_acl_rule *r = &rules[random() % 60];

			mask = r->len == 0 ? 0 : ~0u << (32 - r->len);
			/* the edges of a rule, and random addresses */
			switch (q % 4) {
			case 0:
				a = ntohl(r->prefix) - 1;
				break;
			case 1:
				a = ntohl(r->prefix);
				break;
			case 2:
				a = (ntohl(r->prefix) | ~mask) + 1;
				break;
			default:
				a = q % 8 == 3
					? rnd32()
					: (0x0a000000u | (rnd32() & 0xffff));
			}
			port = (uint16_t)(random() % 2 ? random() % 101
						       : random());
			assert_int_equal(allowed(acl, htonl(a), port),
					 model(pinned, 3, rules, 60, a, port));
		}
		rs_acl_free(acl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_builtin_edges),
	    cmocka_unit_test(test_prefix_0_and_32),
	    cmocka_unit_test(test_first_match_wins),
	    cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_from_config),
	    cmocka_unit_test(test_bad_rules),
	    cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
