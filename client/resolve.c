/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * getaddrinfo through the proxy's Resolve.  Numeric hosts, a NULL host
 * and services are answered here; names go to the proxy, whose GAI_ERROR
 * carries the EAI code.  One addrinfo per address and socket type; each
 * is one allocation holding its sockaddr (and the first one the canonical
 * name), so freeing walks the list.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sock_pvt.h"

#define GAI_ERROR REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__GAI_ERROR

struct ai_block {
	struct addrinfo ai;
	struct sockaddr_in sa;
	char name[];
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

static int ai_add(struct addrinfo ***tail, const uint8_t ip[4], int port,
		  int socktype, const char *canon)
{
	size_t nlen = canon != NULL ? strlen(canon) + 1 : 0;
	struct ai_block *b = calloc(1, sizeof(*b) + nlen);

	if (b == NULL)
		return EAI_MEMORY;
	b->sa.sin_family = AF_INET;
	b->sa.sin_port = htons((uint16_t)port);
	memcpy(&b->sa.sin_addr, ip, 4);
	b->ai.ai_family = AF_INET;
	b->ai.ai_socktype = socktype;
	b->ai.ai_protocol = socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
	b->ai.ai_addrlen = sizeof(b->sa);
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

static int ai_build(const struct addrinfo *h, const uint8_t (*ips)[4], size_t n,
		    int port, const char *canon, struct addrinfo **res)
{
	static const int both[] = {SOCK_STREAM, SOCK_DGRAM};
	struct addrinfo *list = NULL, **tail = &list;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		for (unsigned t = 0; t < 2 && rc == 0; t++)
			if (h->ai_socktype == 0 || h->ai_socktype == both[t])
				rc = ai_add(&tail, ips[i], port, both[t],
					    list == NULL &&
						    (h->ai_flags & AI_CANONNAME)
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
	if (h->ai_family != AF_UNSPEC && h->ai_family != AF_INET)
		return h->ai_family == AF_INET6 ? EAI_ADDRFAMILY : EAI_FAMILY;
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
	const struct addrinfo *h = hints != NULL ? hints : &none;
	Remsock__ResolveReply *rep = NULL;
	uint8_t one[1][4], (*ips)[4] = one;
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
		memcpy(one[0], &a, 4);
	} else if (inet_pton(AF_INET, node, one[0]) != 1) {
		if (h->ai_flags & AI_NUMERICHOST)
			return EAI_NONAME;
		rc = resolve_remote(node, &rep);
		if (rc != 0)
			return rc;
		n = rep->n_packed_address;
		ips = calloc(n + 1, 4);
		if (ips == NULL) {
			remsock__resolve_reply__free_unpacked(rep, NULL);
			return EAI_MEMORY;
		}
		for (size_t i = 0, k = 0; i < rep->n_packed_address; i++)
			if (rep->packed_address[i].len == 4)
				memcpy(ips[k++], rep->packed_address[i].data,
				       4);
			else
				n--;
	}
	rc = ai_build(h, (const uint8_t(*)[4])ips, n, port,
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
