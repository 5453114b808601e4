/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The destination ACL: which IPv4 addresses and ports a tenant's Connect
 * and Send-to may reach.
 *
 * Rules are tried in this order, and the first that matches decides:
 *  1. pinned rules, which nothing can override: the proxy's own
 *     addresses and its subnet's broadcast address (deny);
 *  2. the configured rules ([acl]), in the order given;
 *  3. the built-in denials: the proxy's own subnet (for a configuration,
 *     rs_acl_create_from_config()), 0/8, 10/8, 100.64/10, 127/8, 169.254/16,
 *     172.16/12, 192.168/16, 198.18/15, 224/4, 255.255.255.255, 240/4;
 *  4. the default: allow.
 *
 * rs_acl_create() compiles the rules into a sorted array of disjoint
 * address intervals, each with the short list of rules that can match in
 * it (cut after the first that covers every port).  A lookup is a binary
 * search and a scan of that list: no allocation, no lock, and the ACL is
 * read-only once built, so every lcore may use it at once.
 */
#ifndef RS_ACL_H
#define RS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rs_config;

/** Room for a rule's name, terminator included. */
#define RS_ACL_NAME_MAX 64

/** Most rules, pinned and configured together. */
#define RS_ACL_RULES_MAX 1024

/** Where a rule comes from (how rs_acl_rule_format() names it). */
enum rs_acl_origin {
	RS_ACL_PINNED,	/**< the proxy's own addresses and the like */
	RS_ACL_CONFIG,	/**< an [acl] entry */
	RS_ACL_BUILTIN, /**< one of the built-in denials */
	RS_ACL_DEFAULT, /**< the closing allow */
};

/** One rule: an address prefix and a port range, allowed or denied. */
struct rs_acl_rule {
	uint32_t prefix;	    /**< network order; no bits past len */
	uint8_t len;		    /**< prefix length 0..32 */
	bool allow;		    /**< allow, or deny */
	uint16_t port_lo, port_hi;  /**< inclusive; 0..65535 for any port */
	enum rs_acl_origin origin;  /**< set by rs_acl_create() */
	char name[RS_ACL_NAME_MAX]; /**< e.g. the [acl] key */
};

/** A compiled ACL (opaque). */
struct rs_acl;

/**
 * Build an ACL.
 *
 * @param rules    configured rules, in order (may be NULL when @p nrules
 *                 is 0); copied.
 * @param nrules   entries of @p rules.
 * @param pinned   rules tried before @p rules (see rs_acl_rule_host());
 *                 copied.
 * @param npinned  entries of @p pinned.
 * @param err      receives 0, -EINVAL (a prefix with bits past its length,
 *                 a length over 32, a port range upside down), -E2BIG (more
 *                 than RS_ACL_RULES_MAX rules) or -ENOMEM; may be NULL.
 * @return the ACL, or NULL.
 */
struct rs_acl *rs_acl_create(const struct rs_acl_rule *rules, unsigned nrules,
			     const struct rs_acl_rule *pinned, unsigned npinned,
			     int *err);

/**
 * Build the ACL of a configuration: its [acl] rules, pinned denials of
 * [net] ip and of the subnet's broadcast address, and a built-in denial
 * of the subnet after the [acl] rules.
 *
 * @return as rs_acl_create().
 */
struct rs_acl *rs_acl_create_from_config(const struct rs_config *cfg, int *err);

/** Free an ACL; NULL is ignored. */
void rs_acl_free(struct rs_acl *acl);

/**
 * Fill @p r with a denial of one address on every port.
 *
 * @param r     the rule.
 * @param addr  network order.
 * @param name  its name (truncated to RS_ACL_NAME_MAX - 1 bytes).
 */
void rs_acl_rule_host(struct rs_acl_rule *r, uint32_t addr, const char *name);

/**
 * The rule that decides a destination.
 *
 * @param acl   an ACL.
 * @param addr  destination address, network order.
 * @param port  destination port, host order.
 * @return the first rule that matches; never NULL.  It lives as long as
 *   @p acl.
 */
const struct rs_acl_rule *rs_acl_lookup(const struct rs_acl *acl, uint32_t addr,
					uint16_t port);

/**
 * Whether a destination is allowed.
 *
 * @param rule  receives the deciding rule (may be NULL).
 * @return true when allowed.
 */
static inline bool rs_acl_allows(const struct rs_acl *acl, uint32_t addr,
				 uint16_t port, const struct rs_acl_rule **rule)
{
	const struct rs_acl_rule *r = rs_acl_lookup(acl, addr, port);

	if (rule != NULL)
		*rule = r;
	return r->allow;
}

/**
 * Describe a rule for a message, e.g. "[acl] testnet: allow
 * 198.18.0.0/15" or "built-in loopback: deny 127.0.0.0/8".
 *
 * @return as snprintf().
 */
int rs_acl_rule_format(const struct rs_acl_rule *rule, char *buf, size_t len);

/** Rules of @p acl, all four kinds together (for tests and telemetry). */
unsigned rs_acl_rule_count(const struct rs_acl *acl);

/** Count a denial by @p rule (a rule of @p acl, from rs_acl_lookup()):
 *  atomic, from any lcore. */
void rs_acl_count_denial(const struct rs_acl *acl,
			 const struct rs_acl_rule *rule);

/**
 * Denials counted for rule @p i (in the order rules are tried).
 *
 * @param rule  receives the rule (may be NULL).
 * @return the count; 0 for @p i out of range.
 */
uint64_t rs_acl_denials(const struct rs_acl *acl, unsigned i,
			const struct rs_acl_rule **rule);

#endif /* RS_ACL_H */
