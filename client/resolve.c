/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * getaddrinfo through the proxy's Resolve.  Numeric hosts, a NULL host
 * and services are answered here; names go to the proxy, whose GAI_ERROR
 * carries the EAI code.  One addrinfo per address and socket type; each
 * is one allocation holding its sockaddr (and the first one the canonical
 * name), so freeing walks the list.
 *
 * The proxy reaches IPv4 only, and its IPv6 sockets take IPv4-mapped
 * addresses (::ffff:a.b.c.d): asked for AF_INET6, a name's IPv4
 * addresses come back mapped, as Java's runtime and AI_V4MAPPED want
 * them; a numeric IPv6 host comes back as it is (the proxy refuses a
 * connection to it, ENETUNREACH: nothing goes around it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sock_pvt.h"

#define GAI_ERROR REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__GAI_ERROR

struct ai_block {
	struct addrinfo ai;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
	char name[];
};

/* An address as the list carries it: IPv4, or 16 bytes for AF_INET6. */
struct ai_addr {
	uint8_t b[16];
};

/* The port of @p service for @p socktype into *port.  @return 0 or an
 * EAI_* code. */
static int service_port(const char *service, int socktype, int flags, int *port)
{
	struct servent se, *r = NULL;
	char buf[1024], *end;
	unsigned long v;

	*port = 0;
	if (service == NULL)
		return 0;
	v = strtoul(service, &end, 10);
	if (*service != 0 && *end == 0) {
		*port = (int)v;
		return v <= 65535 ? 0 : EAI_SERVICE;
	}
	if (flags & AI_NUMERICSERV)
		return EAI_NONAME;
	getservbyname_r(service, socktype == SOCK_DGRAM ? "udp" : "tcp", &se,
			buf, sizeof(buf), &r);
	if (r == NULL)
		return EAI_SERVICE;
	*port = ntohs((uint16_t)r->s_port);
	return 0;
}

static int ai_add(struct addrinfo ***tail, int family, const struct ai_addr *ip,
		  int port, int socktype, const char *canon)
{
	size_t nlen = canon != NULL ? strlen(canon) + 1 : 0;
	struct ai_block *b = calloc(1, sizeof(*b) + nlen);

	if (b == NULL)
		return EAI_MEMORY;
	if (family == AF_INET6) {
		b->sa.v6.sin6_family = AF_INET6;
		b->sa.v6.sin6_port = htons((uint16_t)port);
		memcpy(&b->sa.v6.sin6_addr, ip->b, 16);
		b->ai.ai_addrlen = sizeof(b->sa.v6);
	} else {
		b->sa.v4.sin_family = AF_INET;
		b->sa.v4.sin_port = htons((uint16_t)port);
		memcpy(&b->sa.v4.sin_addr, ip->b, 4);
		b->ai.ai_addrlen = sizeof(b->sa.v4);
	}
	b->ai.ai_family = family;
	b->ai.ai_socktype = socktype;
	b->ai.ai_protocol = socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
	b->ai.ai_addr = (struct sockaddr *)&b->sa;
	if (canon != NULL) {
		memcpy(b->name, canon, nlen);
		b->ai.ai_canonname = b->name;
	}
	**tail = &b->ai;
	*tail = &b->ai.ai_next;
	return 0;
}

/* Ask the proxy; the addresses (4 bytes each) into *ips. */
static int resolve_remote(const char *node, Remsock__ResolveReply **rep)
{
	Remsock__ResolveRequest req = REMSOCK__RESOLVE_REQUEST__INIT;
	Remsock__CreateSocketRequest__SocketFamily fam =
	    REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4;
	struct rsk_call_error e;
	struct rsk_conn *c = rsk_default_conn();
	int rc;

	if (c == NULL)
		return EAI_SYSTEM; /* errno says why */
	req.name = (char *)node;
	req.n_address_families = 1;
	req.address_families = &fam;
	rc = rskp_call_sync(c, "Resolve", &req.base,
			    &remsock__resolve_reply__descriptor,
			    (ProtobufCMessage **)rep, RSK_CALL_RETRY, &e);
	if (rc == 0)
		return 0;
	if (e.rpc_code == 0 && e.app_code == GAI_ERROR)
		return rsk_eai_from_error(e.sys_error);
	errno = -rc;
	return EAI_SYSTEM;
}

static int ai_build(const struct addrinfo *h, int family,
		    const struct ai_addr *ips, size_t n, int port,
		    const char *canon, struct addrinfo **res)
{
	static const int both[] = {SOCK_STREAM, SOCK_DGRAM};
	struct addrinfo *list = NULL, **tail = &list;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		for (unsigned t = 0; t < 2 && rc == 0; t++)
			if (h->ai_socktype == 0 || h->ai_socktype == both[t])
				rc = ai_add(
				    &tail, family, &ips[i], port, both[t],
				    list == NULL && (h->ai_flags & AI_CANONNAME)
					? canon
					: NULL);
	if (rc != 0) {
		rsk_freeaddrinfo(list);
		return rc;
	}
	*res = list;
	return list != NULL ? 0 : EAI_NONAME;
}

static int check_hints(const struct addrinfo *h)
{
	if (h->ai_family != AF_UNSPEC && h->ai_family != AF_INET &&
	    h->ai_family != AF_INET6)
		return EAI_FAMILY;
	if (h->ai_socktype != 0 && h->ai_socktype != SOCK_STREAM &&
	    h->ai_socktype != SOCK_DGRAM)
		return EAI_SOCKTYPE;
	if (h->ai_flags &
	    ~(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_NUMERICSERV |
	      AI_ADDRCONFIG | AI_V4MAPPED | AI_ALL))
		return EAI_BADFLAGS;
	return 0;
}

int rsk_getaddrinfo(const char *node, const char *service,
		    const struct addrinfo *hints, struct addrinfo **res)
{
	static const struct addrinfo none = {.ai_family = AF_UNSPEC};
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	const struct addrinfo *h = hints != NULL ? hints : &none;
	Remsock__ResolveReply *rep = NULL;
	struct ai_addr one[1] = {0}, *ips = one;
	/* What the list holds: IPv4 unless asked for AF_INET6 (mapped). */
	int family = h->ai_family == AF_INET6 ? AF_INET6 : AF_INET;
	size_t n = 1;
	int port, rc;

	if (res == NULL || (node == NULL && service == NULL))
		return EAI_NONAME;
	rc = check_hints(h);
	if (rc != 0)
		return rc;
	rc = service_port(service, h->ai_socktype, h->ai_flags, &port);
	if (rc != 0)
		return rc;
	if (node == NULL) {
		uint32_t a = htonl(h->ai_flags & AI_PASSIVE ? INADDR_ANY
							    : INADDR_LOOPBACK);

		if (family == AF_INET6 && (h->ai_flags & AI_PASSIVE))
			; /* :: */
		else if (family == AF_INET6)
			one[0].b[15] = 1; /* ::1 */
		else
			memcpy(one[0].b, &a, 4);
	} else if (inet_pton(AF_INET6, node, one[0].b) == 1) {
		if (h->ai_family == AF_INET) /* an IPv6 literal for IPv4 */
			return EAI_ADDRFAMILY;
		family = AF_INET6;
	} else if (inet_pton(AF_INET, node, one[0].b) == 1) {
		if (family == AF_INET6) {
			memmove(one[0].b + 12, one[0].b, 4);
			memcpy(one[0].b, mapped, 12);
		}
	} else {
		if (h->ai_flags & AI_NUMERICHOST)
			return EAI_NONAME;
		rc = resolve_remote(node, &rep);
		if (rc != 0)
			return rc;
		n = rep->n_packed_address;
		ips = calloc(n + 1, sizeof(*ips));
		if (ips == NULL) {
			remsock__resolve_reply__free_unpacked(rep, NULL);
			return EAI_MEMORY;
		}
		for (size_t i = 0, k = 0; i < rep->n_packed_address; i++) {
			if (rep->packed_address[i].len != 4) {
				n--;
				continue;
			}
			if (family == AF_INET6)
				memcpy(ips[k].b, mapped, 12);
			memcpy(ips[k++].b + (family == AF_INET6 ? 12 : 0),
			       rep->packed_address[i].data, 4);
		}
	}
	rc = ai_build(h, family, ips, n, port,
		      rep != NULL && rep->canonical_name != NULL
			  ? rep->canonical_name
			  : node,
		      res);
	if (ips != one)
		free(ips);
	if (rep != NULL)
		remsock__resolve_reply__free_unpacked(rep, NULL);
	return rc;
}

void rsk_freeaddrinfo(struct addrinfo *res)
{
	while (res != NULL) {
		struct addrinfo *next = res->ai_next;

		free(res); /* the block starts with its addrinfo */
		res = next;
	}
}

const char *rsk_gai_strerror(int code)
{
	return gai_strerror(code);
}
