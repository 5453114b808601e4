/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The service registry (see rs_rpc.h): sorted arrays of (name, entry) pairs,
 * one for the services and one per service for its methods, searched by
 * bisection.  A few dozen methods make a hash table pointless; sorted arrays
 * keep the names next to each other for the cache and need no allocation to
 * search.  Entries are allocated one by one so that their addresses never
 * change: parked calls point at them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rs_rpc.h"

struct named {
	const char *name;
	void *item;
};

struct index {
	struct named *v; /* sorted by name */
	size_t n;
	size_t cap;
};

struct service {
	char *name;
	struct index methods; /* items are struct rs_rpc_method */
};

struct rs_rpc_registry {
	struct index services; /* items are struct service */
};

/* true if found; either way *slot is where `name` is or would go. */
static bool index_find(const struct index *ix, const char *name, size_t *slot)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(name, ix->v[mid].name);

		if (cmp == 0) {
			*slot = mid;
			return true;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*slot = lo;
	return false;
}

/* Room for one more entry, so that a later insert cannot fail. */
static int index_reserve(struct index *ix)
{
	size_t cap = ix->cap ? ix->cap * 2 : 8;
	struct named *v;

	if (ix->n < ix->cap)
		return 0;
	v = realloc(ix->v, cap * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	ix->v = v;
	ix->cap = cap;
	return 0;
}

static void index_insert(struct index *ix, size_t slot, const char *name,
			 void *item)
{
	memmove(&ix->v[slot + 1], &ix->v[slot],
		(ix->n - slot) * sizeof(ix->v[0]));
	ix->v[slot].name = name;
	ix->v[slot].item = item;
	ix->n++;
}

static void service_free(struct service *svc)
{
	size_t i;

	for (i = 0; i < svc->methods.n; i++) {
		struct rs_rpc_method *m = svc->methods.v[i].item;

		free((char *)m->name);
		free(m);
	}
	free(svc->methods.v);
	free(svc->name);
	free(svc);
}

static struct service *service_new(const char *name)
{
	struct service *svc = calloc(1, sizeof(*svc));

	if (svc == NULL)
		return NULL;
	svc->name = strdup(name);
	if (svc->name == NULL) {
		free(svc);
		return NULL;
	}
	return svc;
}

struct rs_rpc_registry *rs_rpc_registry_create(void)
{
	struct rs_rpc_registry *reg = calloc(1, sizeof(*reg));

	if (reg == NULL)
		errno = ENOMEM;
	return reg;
}

void rs_rpc_registry_destroy(struct rs_rpc_registry *reg)
{
	size_t i;

	if (reg == NULL)
		return;
	for (i = 0; i < reg->services.n; i++)
		service_free(reg->services.v[i].item);
	free(reg->services.v);
	free(reg);
}

static bool method_valid(const struct rs_rpc_method *m)
{
	return m != NULL && m->name != NULL && m->name[0] != '\0' &&
	       m->handler != NULL && m->req_desc != NULL &&
	       m->req_desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC &&
	       m->resp_desc != NULL &&
	       m->resp_desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC &&
	       (m->plane == RS_RPC_PLANE_CONTROL ||
		m->plane == RS_RPC_PLANE_DATA);
}

static int method_insert(struct service *svc, const struct rs_rpc_method *m)
{
	struct rs_rpc_method *copy;
	size_t slot;

	if (index_find(&svc->methods, m->name, &slot))
		return -EEXIST;
	if (index_reserve(&svc->methods) < 0)
		goto err_reserve;
	copy = malloc(sizeof(*copy));
	if (copy == NULL)
		goto err_reserve;
	*copy = *m;
	copy->name = strdup(m->name);
	if (copy->name == NULL)
		goto err_name;
	index_insert(&svc->methods, slot, copy->name, copy);
	return 0;

err_name:
	free(copy);
err_reserve:
	return -ENOMEM;
}

int rs_rpc_registry_add(struct rs_rpc_registry *reg, const char *service,
			const struct rs_rpc_method *method)
{
	struct service *svc;
	size_t slot;
	bool found;
	int rc;

	if (service == NULL || service[0] == '\0' || !method_valid(method))
		return -EINVAL;
	found = index_find(&reg->services, service, &slot);
	if (found) {
		svc = reg->services.v[slot].item;
	} else {
		if (index_reserve(&reg->services) < 0)
			return -ENOMEM;
		svc = service_new(service);
		if (svc == NULL)
			return -ENOMEM;
	}
	rc = method_insert(svc, method);
	if (rc < 0)
		goto err_method;
	if (!found)
		index_insert(&reg->services, slot, svc->name, svc);
	return 0;

err_method:
	if (!found)
		service_free(svc);
	return rc;
}

int rs_rpc_registry_lookup(const struct rs_rpc_registry *reg,
			   const char *service, const char *method,
			   const struct rs_rpc_method **found)
{
	const struct service *svc;
	size_t slot;

	if (!index_find(&reg->services, service, &slot))
		return -ESRCH;
	svc = reg->services.v[slot].item;
	if (!index_find(&svc->methods, method, &slot))
		return -ENOENT;
	*found = svc->methods.v[slot].item;
	return 0;
}
