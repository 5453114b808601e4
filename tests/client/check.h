/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the C test programs of tests/client share: 'check NAME ok|FAIL:
 * why' lines (svc_lib.sh turns them into results), counted in
 * check_failures; a monotonic clock; an IPv4 address from text.
 */
#ifndef RS_TEST_CLIENT_CHECK_H
#define RS_TEST_CLIENT_CHECK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static int check_failures;

static void check(const char *name, int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("check %s ok\n", name);
	} else {
		check_failures++;
		printf("check %s FAIL: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in sin_of(const char *ip, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};

	inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

#define SA(x) ((struct sockaddr *)&(x))

#endif
