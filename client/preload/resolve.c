/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Name resolution through the proxy: getaddrinfo, gethostbyname(_r),
 * gethostbyname2(_r) answer with rsk_getaddrinfo() (the proxy's [hosts]
 * and DNS; numeric hosts and a NULL host locally).  "localhost" is
 * answered here (127.0.0.1), never asked.  Nothing goes to libc's
 * resolver, which would ask DNS around the proxy: AF_INET6 questions get
 * the names' IPv4 addresses mapped (::ffff:a.b.c.d, what the proxy's IPv6
 * sockets reach), a numeric IPv6 host itself.
 *
 * freeaddrinfo must tell our lists from libc's: ours are remembered in a
 * small set (a list from rsk_getaddrinfo is freed by rsk_freeaddrinfo).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shim_pvt.h"

#define EXPORT __attribute__((visibility("default")))

static pthread_mutex_t ours_mu = PTHREAD_MUTEX_INITIALIZER;
static struct addrinfo **ours;
static size_t n_ours, cap_ours;

static int ours_add(struct addrinfo *ai)
{
	pthread_mutex_lock(&ours_mu);
	if (n_ours == cap_ours) {
		size_t cap = cap_ours ? cap_ours * 2 : 16;
		struct addrinfo **v = realloc(ours, cap * sizeof(*v));

		if (v == NULL) {
			pthread_mutex_unlock(&ours_mu);
			return -1;
		}
		ours = v;
		cap_ours = cap;
	}
	ours[n_ours++] = ai;
	pthread_mutex_unlock(&ours_mu);
	return 0;
}

static bool ours_take(struct addrinfo *ai)
{
	bool found = false;

	pthread_mutex_lock(&ours_mu);
	for (size_t i = 0; i < n_ours; i++)
		if (ours[i] == ai) {
			ours[i] = ours[--n_ours];
			found = true;
			break;
		}
	pthread_mutex_unlock(&ours_mu);
	return found;
}

EXPORT int getaddrinfo(const char *node, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = {.ai_family = AF_UNSPEC};
	struct in6_addr a6;
	struct in_addr a4;
	int rc;

	if (hints != NULL)
		h = *hints;
	/* Flags about IDN and address configuration change nothing here. */
	h.ai_flags &= AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST |
		      AI_NUMERICSERV | AI_V4MAPPED | AI_ALL;
	if (h.ai_socktype != SOCK_STREAM && h.ai_socktype != SOCK_DGRAM)
		h.ai_socktype = 0;
	if (node != NULL && strcasecmp(node, "localhost") == 0)
		node = "127.0.0.1";
	if (node != NULL && !(h.ai_flags & AI_NUMERICHOST) &&
	    inet_pton(AF_INET, node, &a4) != 1 &&
	    inet_pton(AF_INET6, node, &a6) != 1 && shim_conn() == NULL)
		return EAI_AGAIN; /* the proxy cannot be reached */
	rc = rsk_getaddrinfo(node, service, &h, res);
	if (rc == 0 && ours_add(*res) < 0) {
		rsk_freeaddrinfo(*res);
		return EAI_MEMORY;
	}
	return rc;
}

EXPORT void freeaddrinfo(struct addrinfo *res)
{
	if (res != NULL && ours_take(res))
		rsk_freeaddrinfo(res);
	else
		REAL(freeaddrinfo)(res);
}

/* ---- gethostbyname ------------------------------------------------------ */

/* Fill @p he in @p buf from getaddrinfo's answer.  @return 0 or an errno
 * (ERANGE: buf too small), *herr set. */
static int hostent_fill(const char *name, struct hostent *he, char *buf,
			size_t len, int *herr)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_CANONNAME};
	struct addrinfo *res, *ai;
	size_t n = 0, need, nlen;
	char **addrs, *p;
	int rc;

	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		*herr = rc == EAI_AGAIN			       ? TRY_AGAIN
			: rc == EAI_NONAME || rc == EAI_NODATA ? HOST_NOT_FOUND
							       : NO_RECOVERY;
		return ENOENT;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	nlen = strlen(res->ai_canonname ? res->ai_canonname : name) + 1;
	need = (n + 2) * sizeof(char *) + n * 4 + nlen + sizeof(char *);
	if (need > len) {
		freeaddrinfo(res);
		*herr = NETDB_INTERNAL;
		return ERANGE;
	}
	addrs = (char **)buf;
	p = buf + (n + 2) * sizeof(char *);
	n = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next, p += 4) {
		memcpy(p, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		addrs[n++] = p;
	}
	addrs[n] = NULL;
	addrs[n + 1] = NULL; /* the empty alias list */
	memcpy(p, res->ai_canonname ? res->ai_canonname : name, nlen);
	he->h_name = p;
	he->h_aliases = &addrs[n + 1];
	he->h_addrtype = AF_INET;
	he->h_length = 4;
	he->h_addr_list = addrs;
	freeaddrinfo(res);
	*herr = 0;
	return 0;
}

EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *he,
			    char *buf, size_t len, struct hostent **result,
			    int *herr)
{
	int rc;

	*result = NULL;
	if (af != AF_INET) {
		*herr = NO_RECOVERY;
		return EAFNOSUPPORT;
	}
	rc = hostent_fill(name, he, buf, len, herr);
	if (rc == 0)
		*result = he;
	return rc == ENOENT ? 0 : rc;
}

EXPORT int gethostbyname_r(const char *name, struct hostent *he, char *buf,
			   size_t len, struct hostent **result, int *herr)
{
	return gethostbyname2_r(name, AF_INET, he, buf, len, result, herr);
}

EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	static __thread struct hostent he;
	static __thread char buf[2048];
	struct hostent *r;

	gethostbyname2_r(name, af, &he, buf, sizeof(buf), &r, &h_errno);
	return r;
}

EXPORT struct hostent *gethostbyname(const char *name)
{
	return gethostbyname2(name, AF_INET);
}
