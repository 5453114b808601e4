/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * udp-echo PORT: every datagram goes back to its source as it came, one
 * datagram for one, so the peer can check that boundaries and contents
 * survive.  --count N finishes after N datagrams.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "stacktest_pvt.h"

static void udp_echo_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_app *app = user;
	struct sockaddr_in from;
	ssize_t n, sent;

	if ((events & RS_SOCK_EV_READABLE) == 0)
		return;
	for (;;) {
		n = rs_sock_recvfrom(s, app->buf, ST_BUF, 0, &from);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			st_result(app, "recv_error=%s", st_errname((int)n));
			st_app_finish(app, false);
			return;
		}
		app->datagrams++;
		app->bytes_total += (uint64_t)n;
		sent = rs_sock_sendto(s, app->buf, (size_t)n, 0, &from);
		if (sent != n) {
			app->send_errors++;
			st_result(app, "send_error=%s len=%zd",
				  st_errname(sent < 0 ? (int)sent : -EIO), n);
		}
		if (app->count != 0 && app->datagrams == app->count)
			st_app_finish(app, true);
	}
}

int st_udp_echo_start(struct st_app *app)
{
	struct sockaddr_in local;
	int rc;

	app->udp = rs_sock_open(app->lc, RS_SOCK_UDP, udp_echo_cb, app);
	if (app->udp == NULL)
		return -errno;
	/* Room for a window of full-size datagrams from the peer. */
	rc = rs_sock_setopt(app->udp, RS_SO_RCVBUF, 1 << 20);
	if (rc < 0)
		return rc;
	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_addr.s_addr = htonl(INADDR_ANY);
	local.sin_port = htons(app->port);
	return rs_sock_bind(app->udp, &local);
}

void st_udp_echo_report(struct st_app *app)
{
	st_result(app, "datagrams=%lu bytes=%lu send_errors=%lu",
		  (unsigned long)app->datagrams,
		  (unsigned long)app->bytes_total,
		  (unsigned long)app->send_errors);
	if (app->send_errors != 0)
		st_app_fail(app);
}
