/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL start-up from the configuration, and the explanation of its most
 * common failures.  The EAL's own messages say what it tripped over;
 * what they rarely say is how to fix the machine, so after a failure we
 * look at the usual suspects ourselves: hugepages, their mount point and
 * privileges.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "dp_pvt.h"
#include "rs_log.h"

#define ARGV_MAX (1 + 2 * RS_CONFIG_EAL_ARGS_MAX)

static bool has_arg(int argc, char **argv, const char *arg)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], arg) == 0)
			return true;
	return false;
}

/* HugePages_Total and HugePages_Free of the default page size. */
static void hugepages_count(long *total, long *free_pages)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];

	*total = *free_pages = -1;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "HugePages_Total: %ld", total);
		sscanf(line, "HugePages_Free: %ld", free_pages);
	}
	fclose(f);
}

static bool hugetlbfs_mounted(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[512];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, " hugetlbfs ") != NULL;
	fclose(f);
	return found;
}

static void explain_hugepages(int argc, char **argv)
{
	long total, free_pages;

	if (has_arg(argc, argv, "--no-huge"))
		return;
	hugepages_count(&total, &free_pages);
	if (total == 0)
		rs_dp_err("no hugepages are reserved.  As root:\n"
			  "    echo 256 > /proc/sys/vm/nr_hugepages\n"
			  "    mkdir -p /dev/hugepages && "
			  "mount -t hugetlbfs nodev /dev/hugepages");
	else if (free_pages == 0)
		rs_dp_err("all %ld hugepages are in use (other DPDK "
			  "processes?); reserve more in "
			  "/proc/sys/vm/nr_hugepages",
			  total);
	else if (!has_arg(argc, argv, "--in-memory") && !hugetlbfs_mounted())
		rs_dp_err("hugetlbfs is not mounted.  As root:\n"
			  "    mkdir -p /dev/hugepages && "
			  "mount -t hugetlbfs nodev /dev/hugepages\n"
			  "or add --in-memory to [eal] args");
}

static void explain(const struct rs_config *cfg, int err, int argc, char **argv)
{
	rs_dp_err("EAL initialisation failed: %s (see the EAL messages "
		  "above)",
		  rte_strerror(err));
	if (err == EALREADY)
		return;
	if (geteuid() != 0)
		rs_dp_err("not running as root: the EAL needs root (or "
			  "CAP_SYS_ADMIN, CAP_IPC_LOCK and access to "
			  "/dev/hugepages and /dev/vfio)");
	explain_hugepages(argc, argv);
	if (err == EINVAL)
		rs_dp_err("check [eal] args in %s and any arguments after "
			  "'--'",
			  cfg->source);
}

int rs_dp_eal_init(const struct rs_config *cfg, int argc, char **argv)
{
	char buf[RS_CONFIG_VALUE_MAX];
	char *args[ARGV_MAX + 1];
	char *copy[ARGV_MAX + 1];
	int n, rc;

	args[0] = "remsockd";
	n = rs_config_eal_split(cfg, buf, args + 1, RS_CONFIG_EAL_ARGS_MAX);
	if (n < 0 || argc > ARGV_MAX - 1 - n) {
		rs_dp_err("too many EAL arguments (at most %d)", ARGV_MAX - 1);
		return -E2BIG;
	}
	if (argc > 0) /* argv may be NULL then */
		memcpy(args + 1 + n, argv, argc * sizeof(*argv));
	n += 1 + argc;
	args[n] = NULL;
	/* rte_eal_init() permutes its argv: keep ours for the messages. */
	memcpy(copy, args, (n + 1) * sizeof(*args));
	rc = rte_eal_init(n, copy);
	if (rc < 0) {
		explain(cfg, rte_errno, n, args);
		return -rte_errno;
	}
	rs_log_init(); /* takes --log-level=remsock.*:LEVEL given above */
	if (rc != n - 1) {
		rs_dp_err("EAL arguments: '%s' is not an EAL option (check "
			  "[eal] args in %s)",
			  copy[rc + 1], cfg->source);
		rte_eal_cleanup();
		return -EINVAL;
	}
	return 0;
}
