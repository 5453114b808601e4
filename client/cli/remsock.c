/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock: remsockd's remote sockets from the shell, on libremsock.
 *
 *   remsock [GLOBAL-OPTIONS] COMMAND [OPTIONS] [ARGS]
 *
 * main() takes the global options (where the proxy is, the app and its
 * secret), finds the subcommand and runs it; the subcommand opens the
 * connection when it needs one (so that "COMMAND --help" needs no proxy)
 * and returns the exit status.  This file also holds the two small
 * subcommands, resolve and stats, and what all of them share (cli_pvt.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_pvt.h"
#include "remote_socket.pb-c.h"
#include "remsock.h"
#include "rpc.pb-c.h"
#include "rs_metrics.h"

#ifndef RS_VERSION
#define RS_VERSION "unknown"
#endif

#define GAI_ERROR REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__GAI_ERROR
#define RPC_CALL_NOT_FOUND REMSOCK__RPC__RPC_ERROR_CODE__RPC_CALL_NOT_FOUND

/* The global options; main() sets them once, before any subcommand. */
static struct rsk_conn_opts conn_opts;
static struct rsk_conn *conn;

static const char usage_text[] =
    "NAME\n"
    "    remsock - remsockd's remote sockets from the shell\n"
    "\n"
    "SYNOPSIS\n"
    "    remsock [--addr HOST[:PORT]] [--app ID] [--secret SECRET]\n"
    "            COMMAND [OPTIONS] [ARGS]\n"
    "    remsock COMMAND --help\n"
    "    remsock --help | --version\n"
    "\n"
    "DESCRIPTION\n"
    "    remsock talks to remsockd, the remote socket proxy, as an app\n"
    "    would through libremsock: it connects to the proxy over TCP,\n"
    "    authenticates with an app id and secret from the proxy's [apps],\n"
    "    and then every socket it uses is one the proxy holds, and every\n"
    "    name it resolves is resolved by the proxy ([hosts], then [dns]).\n"
    "    The proxy's ACL applies: destinations it denies fail with\n"
    "    'Permission denied'.\n"
    "\n"
    "COMMANDS\n"
    "    fetch URL\n"
    "        HTTP/1.1 GET of an http:// URL; the body to stdout.\n"
    "    resolve NAME\n"
    "        The addresses of NAME, one per line.\n"
    "    nc [-u] HOST PORT\n"
    "        stdin to a proxied TCP (or UDP) socket, what it receives to\n"
    "        stdout.\n"
    "    stats [PREFIX...]\n"
    "        The proxy's counters (remsock.Stats).\n"
    "    run [--isolate] PROGRAM [ARG...]\n"
    "        PROGRAM with its sockets through the proxy (the shim); with\n"
    "        --isolate in a network namespace with no way out.\n"
    "    Each has its own manual: remsock COMMAND --help.\n"
    "\n"
    "OPTIONS\n"
    "    These go before COMMAND.\n"
    "    -a, --addr HOST[:PORT]\n"
    "        The proxy: its RPC address ([net] ip) and port ([rpc]\n"
    "        listen_port, 5757 when left out).  Default: $REMSOCK_ADDR.\n"
    "    --app ID\n"
    "        The app to authenticate as.  Default: $REMSOCK_APP.\n"
    "    --secret SECRET\n"
    "        The app's secret.  Default: $REMSOCK_SECRET, which other\n"
    "        users cannot read from the process list, unlike this option.\n"
    "    --connect-timeout MS\n"
    "        How long connecting and authenticating to the proxy may take\n"
    "        (default 5000).\n"
    "    -h, --help\n"
    "        Print this manual and exit.\n"
    "    -V, --version\n"
    "        Print the version and exit.\n"
    "\n"
    "EXIT STATUS\n"
    "    0   success\n"
    "    1   run-time failure: the proxy cannot be reached or refuses the\n"
    "        app; a name does not resolve; a connection is refused or\n"
    "        denied; an HTTP status other than 2xx; an I/O error\n"
    "    2   usage error: an unknown command or option, a missing or bad\n"
    "        argument, no proxy, app or secret given\n"
    "    Errors are one line on stderr: 'remsock COMMAND: what failed:\n"
    "    why', with the proxy's reason where it gives one.\n"
    "\n"
    "ENVIRONMENT\n"
    "    REMSOCK_ADDR     the proxy, HOST or HOST:PORT\n"
    "    REMSOCK_APP      the app id\n"
    "    REMSOCK_SECRET   the app's secret\n"
    "    REMSOCK_TLS_CA   the CA (PEM) that signed the proxy's certificate:\n"
    "                     TLS 1.3 to its [rpc] tls_port then\n"
    "\n"
    "EXAMPLES\n"
    "    export REMSOCK_ADDR=198.18.0.2 REMSOCK_APP=demo\n"
    "    export REMSOCK_SECRET=demo-secret-not-for-production\n"
    "    remsock fetch http://198.18.0.1:8080/ | sha256sum\n"
    "    remsock resolve static.test\n"
    "    echo hello | remsock nc 198.18.0.1 7\n"
    "    remsock stats rpc.\n";

static const char resolve_help[] =
    "NAME\n"
    "    remsock resolve - resolve a name through the proxy\n"
    "\n"
    "SYNOPSIS\n"
    "    remsock [GLOBAL-OPTIONS] resolve NAME\n"
    "\n"
    "DESCRIPTION\n"
    "    Asks the proxy's Resolve for the IPv4 addresses of NAME and\n"
    "    prints them, one per line, in the proxy's order.  The proxy\n"
    "    answers numeric addresses and its [hosts] table itself and asks\n"
    "    its [dns] servers for other names, over its own UDP stack; the\n"
    "    local resolver is never used.\n"
    "\n"
    "OPTIONS\n"
    "    -h, --help   Print this manual and exit.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the addresses were printed; 1 the name does not resolve (the\n"
    "    getaddrinfo message and the proxy's reason are printed) or the\n"
    "    proxy cannot be reached; 2 usage error.\n"
    "\n"
    "ENVIRONMENT\n"
    "    REMSOCK_ADDR, REMSOCK_APP, REMSOCK_SECRET (see remsock --help).\n"
    "\n"
    "EXAMPLES\n"
    "    remsock resolve static.test\n"
    "    remsock resolve 198.18.0.1\n";

static const char stats_help[] =
    "NAME\n"
    "    remsock stats - print the proxy's counters\n"
    "\n"
    "SYNOPSIS\n"
    "    remsock [GLOBAL-OPTIONS] stats [-a APP] [-p] [-w SECS [-n COUNT]]\n"
    "                                   [PREFIX...]\n"
    "\n"
    "DESCRIPTION\n"
    "    Calls remsock.Stats and prints one 'NAME VALUE' line per\n"
    "    counter: this app's use of its quotas (quota.NAME.used, .limit,\n"
    "    .refused), and, when the app is remsockd's [service] operator,\n"
    "    the counters remsockd prints when it stops, read now -- rpc.*\n"
    "    (connections, calls, parked calls...), the data plane's rx/tx\n"
    "    packets and bytes, its drops (drop.*) and events (event.*) that\n"
    "    are not zero.  With PREFIX arguments only counters whose names\n"
    "    start with one of them are printed.\n"
    "\n"
    "OPTIONS\n"
    "    -a, --app APP\n"
    "        The view of app APP: its quotas only.  An app may ask for\n"
    "        its own; the operator for any app.\n"
    "    -p, --prometheus\n"
    "        Print the counters as GET /metrics does, in Prometheus' text\n"
    "        format, by the same metric names (docs/operations.md).\n"
    "    -w, --watch SECS\n"
    "        Read the counters every SECS seconds (1-3600), each time\n"
    "        after a line '# TIME' (UTC); from the second time on, each\n"
    "        counter that moved also shows how much and its rate:\n"
    "        'NAME VALUE +DELTA RATE/s' (gauges such as quota.*.used move\n"
    "        both ways).  Until interrupted, or -n COUNT times.\n"
    "    -n, --count COUNT\n"
    "        With -w: read the counters COUNT times (1-1000000), then\n"
    "        exit.\n"
    "    -h, --help   Print this manual and exit.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 counters printed; 1 the proxy cannot be reached or refused the\n"
    "    call, or no counter matches a PREFIX; 2 usage error.\n"
    "\n"
    "ENVIRONMENT\n"
    "    REMSOCK_ADDR, REMSOCK_APP, REMSOCK_SECRET (see remsock --help).\n"
    "\n"
    "EXAMPLES\n"
    "    remsock stats\n"
    "    remsock stats rpc.calls quota.\n"
    "    remsock stats -w 1 rpc.calls rx_\n"
    "    remsock stats -a demo quota.sockets\n"
    "    remsock stats -p | promtool check metrics\n";

/* ---- shared helpers ----------------------------------------------------- */

static void verr(const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "remsock%s%s: ", cmd != NULL ? " " : "",
		cmd != NULL ? cmd : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(cmd, fmt, ap);
	va_end(ap);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'remsock %s%s--help'.\n", cmd != NULL ? cmd : "",
		cmd != NULL ? " " : "");
	return CLI_USAGE;
}

int cli_opts(const struct cli_cmd *c, int argc, char **argv, const char *opts,
	     const struct option *longopts,
	     int (*opt)(int ch, const char *arg, void *ctx), void *ctx)
{
	static const struct option help_opt[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char shortopts[32];
	int ch, rc;

	snprintf(shortopts, sizeof(shortopts), "+:h%s", opts);
	optind = 0; /* glibc: start afresh at argv[1] */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts,
				 longopts != NULL ? longopts : help_opt,
				 NULL)) != -1) {
		if (ch == 'h') {
			fputs(c->help, stdout);
			return CLI_OK;
		}
		if (ch == '?')
			return cli_usage(c->name, "unknown option '%s'",
					 argv[optind - 1]);
		if (ch == ':')
			return cli_usage(c->name, "option '%s' needs a value",
					 argv[optind - 1]);
		rc = opt(ch, optarg, ctx);
		if (rc >= 0)
			return rc;
	}
	return -1;
}

int cli_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return *end == 0 && errno == 0 && v >= 1 && v <= 65535 ? (int)v : -1;
}

int cli_write_out(const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Why a call failed: the errno's text and the proxy's detail. */
static void call_why(const struct rsk_call_error *e, char *buf, size_t len)
{
	int err = e->local != 0 ? -e->local
				: rsk_errno_from_error(e->rpc_code, e->app_code,
						       e->sys_error);

	if (e->rpc_code == 0 && e->app_code == GAI_ERROR)
		snprintf(buf, len, "%s",
			 rsk_gai_strerror(rsk_eai_from_error(e->sys_error)));
	else
		snprintf(buf, len, "%s", strerror(err));
	if (e->detail[0] != 0)
		snprintf(buf + strlen(buf), len - strlen(buf), " (proxy: %s)",
			 e->detail);
}

/*
 * One synchronous call on the connection.  @return the call (FINISHING,
 * with its reply), or NULL with @p why set.  Free it with rsk_call_free().
 */
static struct rsk_call *call_sync(struct rsk_conn *c, const char *service,
				  const char *method,
				  const ProtobufCMessage *req, char *why,
				  size_t whylen)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len + 1);
	struct rsk_call *call = rsk_call_new(c);
	int rc = -ENOMEM;

	if (buf != NULL && call != NULL) {
		protobuf_c_message_pack(req, buf);
		rc = rsk_call_start(call, service, method, buf, len, -1,
				    RSK_CALL_RETRY);
	}
	free(buf);
	if (rc == 0 && rsk_call_check_success(call) == 0)
		return call;
	if (rc == 0)
		call_why(rsk_call_error(call), why, whylen);
	else
		snprintf(why, whylen, "%s", strerror(-rc));
	rsk_call_free(call);
	return NULL;
}

int cli_resolve(struct rsk_conn *c, const char *name, struct in_addr *addrs,
		char *why, size_t whylen)
{
	Remsock__ResolveRequest req = REMSOCK__RESOLVE_REQUEST__INIT;
	Remsock__CreateSocketRequest__SocketFamily fam =
	    REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4;
	Remsock__ResolveReply *rep = NULL;
	struct rsk_call *call;
	const void *body;
	size_t len;
	int n = 0;

	req.name = (char *)name;
	req.n_address_families = 1;
	req.address_families = &fam;
	call = call_sync(c, RSK_SERVICE, "Resolve", &req.base, why, whylen);
	if (call == NULL)
		return -1;
	body = rsk_call_reply(call, &len);
	rep = remsock__resolve_reply__unpack(NULL, len, body);
	for (size_t i = 0; rep != NULL && i < rep->n_packed_address; i++)
		if (rep->packed_address[i].len == 4 && n < CLI_ADDRS_MAX)
			memcpy(&addrs[n++], rep->packed_address[i].data, 4);
	if (rep == NULL)
		snprintf(why, whylen, "the proxy's reply does not decode");
	else if (n == 0)
		snprintf(why, whylen, "the proxy gave no IPv4 address");
	remsock__resolve_reply__free_unpacked(rep, NULL);
	rsk_call_free(call);
	return n > 0 ? n : -1;
}

/* strerror(@p err), and the proxy's words on it where they say more than
 * the errno (which [acl] rule denied a Connect, which quota is used up,
 * what in a request was wrong): into @p buf. */
static const char *err_text(int err, char *buf, size_t len)
{
	const char *detail = rsk_last_detail();
	bool says_more = err == EACCES || err == EPERM || err == ENOBUFS ||
			 err == EINVAL || err == EMSGSIZE;

	if (says_more && detail[0] != '\0')
		snprintf(buf, len, "%s (%s)", strerror(err), detail);
	else
		snprintf(buf, len, "%s", strerror(err));
	return buf;
}

int cli_dial(const char *cmd, struct rsk_conn *c, const char *host, int port,
	     int type, int timeout_s)
{
	struct timeval tv = {.tv_sec = timeout_s};
	struct in_addr a[CLI_ADDRS_MAX];
	char why[512], ip[INET_ADDRSTRLEN];
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	int n, fd;

	n = cli_resolve(c, host, a, why, sizeof(why));
	if (n < 0) {
		cli_err(cmd, "resolve %s: %s", host, why);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		inet_ntop(AF_INET, &a[i], ip, sizeof(ip));
		fd = rsk_socket_on(c, AF_INET, type, 0);
		if (fd < 0) {
			cli_err(cmd, "socket: %s",
				err_text(errno, why, sizeof(why)));
			return -1;
		}
		if (timeout_s > 0) {
			rsk_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				       sizeof(tv));
			rsk_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				       sizeof(tv));
		}
		sa.sin_addr = a[i];
		if (rsk_connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		err_text(errno, why, sizeof(why));
		rsk_close(fd);
		if (strcmp(host, ip) == 0)
			cli_err(cmd, "connect to %s:%d: %s", ip, port, why);
		else
			cli_err(cmd, "connect to %s:%d (%s): %s", host, port,
				ip, why);
	}
	return -1;
}

struct rsk_conn *cli_connect(const char *cmd, int *status)
{
	const char *addr =
	    conn_opts.addr ? conn_opts.addr : getenv("REMSOCK_ADDR");
	const char *app = conn_opts.app ? conn_opts.app : getenv("REMSOCK_APP");
	const char *secret =
	    conn_opts.secret ? conn_opts.secret : getenv("REMSOCK_SECRET");

	if (conn != NULL)
		return conn;
	*status = CLI_USAGE;
	if (addr == NULL || *addr == 0) {
		cli_usage(cmd, "no proxy: give --addr HOST[:PORT] or set "
			       "REMSOCK_ADDR");
		return NULL;
	}
	if (app == NULL || secret == NULL) {
		cli_usage(cmd, "no %s: give --%s or set REMSOCK_%s",
			  app == NULL ? "app id" : "secret",
			  app == NULL ? "app" : "secret",
			  app == NULL ? "APP" : "SECRET");
		return NULL;
	}
	conn = rsk_conn_open(&conn_opts);
	if (conn != NULL) {
		rsk_default_conn_set(conn);
		return conn;
	}
	/* The library says what went wrong, and what to do. */
	if (errno == EINVAL) {
		cli_usage(cmd, "%s", rsk_last_detail());
		return NULL;
	}
	*status = CLI_FAIL;
	cli_err(cmd, "%s", rsk_last_detail());
	return NULL;
}

/* ---- resolve ------------------------------------------------------------ */

static int no_opt(int ch, const char *arg, void *ctx)
{
	(void)ch;
	(void)arg;
	(void)ctx;
	return CLI_USAGE; /* getopt reports unknown ones first */
}

static const struct cli_cmd cli_resolve_cmd;

static int resolve_run(int argc, char **argv)
{
	struct in_addr a[CLI_ADDRS_MAX];
	char why[512], ip[INET_ADDRSTRLEN];
	struct rsk_conn *c;
	int rc, n;

	rc = cli_opts(&cli_resolve_cmd, argc, argv, "", NULL, no_opt, NULL);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage("resolve", "%s",
				 argc - optind == 0 ? "NAME is missing"
						    : "one NAME only");
	c = cli_connect("resolve", &rc);
	if (c == NULL)
		return rc;
	n = cli_resolve(c, argv[optind], a, why, sizeof(why));
	if (n < 0) {
		cli_err("resolve", "%s: %s", argv[optind], why);
		return CLI_FAIL;
	}
	for (int i = 0; i < n; i++)
		printf("%s\n", inet_ntop(AF_INET, &a[i], ip, sizeof(ip)));
	return CLI_OK;
}

static const struct cli_cmd cli_resolve_cmd = {"resolve", resolve_help,
					       resolve_run};

/* ---- stats -------------------------------------------------------------- */

static bool wanted(const char *name, int n, char **prefixes)
{
	for (int i = 0; i < n; i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return n == 0;
}

static const struct cli_cmd cli_stats_cmd;

/* With --watch: the counters of the read before, by name. */
struct watch {
	const char *app;  /* --app, or NULL */
	bool prometheus;  /* --prometheus */
	unsigned every_s; /* 0: one read, no --watch */
	uint64_t count;	  /* reads left; 0: for ever */
	size_t n;
	char **names;
	uint64_t *values;
	struct timespec at;
};

static bool prev_value(const struct watch *w, const char *name, uint64_t *v)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->names[i], name) == 0) {
			*v = w->values[i];
			return true;
		}
	return false;
}

static void watch_free(struct watch *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
	free(w->values);
	w->n = 0;
	w->names = NULL;
	w->values = NULL;
}

/* Remember this read's counters for the next; false without memory. */
static bool watch_keep(struct watch *w, const Remsock__Rpc__StatsReply *rep,
		       const struct timespec *at)
{
	watch_free(w);
	w->names = calloc(rep->n_counter + 1, sizeof(*w->names));
	w->values = calloc(rep->n_counter + 1, sizeof(*w->values));
	if (w->names == NULL || w->values == NULL)
		return false;
	for (size_t i = 0; i < rep->n_counter; i++) {
		if (rep->counter[i]->name == NULL)
			continue;
		w->names[w->n] = strdup(rep->counter[i]->name);
		if (w->names[w->n] == NULL)
			return false;
		w->values[w->n++] = rep->counter[i]->value;
	}
	w->at = *at;
	return true;
}

static int stats_print(const Remsock__Rpc__StatsReply *rep, int n,
		       char **prefixes, const struct watch *w,
		       const struct timespec *at)
{
	double secs = (double)(at->tv_sec - w->at.tv_sec) +
		      (double)(at->tv_nsec - w->at.tv_nsec) / 1e9;
	size_t shown = 0;
	uint64_t before;

	for (size_t i = 0; i < rep->n_counter; i++) {
		const Remsock__Rpc__StatsCounter *k = rep->counter[i];
		int64_t delta;

		if (k->name == NULL || !wanted(k->name, n, prefixes))
			continue;
		shown++;
		if (w->n == 0 || !prev_value(w, k->name, &before) ||
		    before == k->value || secs <= 0) {
			printf("%-32s %" PRIu64 "\n", k->name, k->value);
			continue;
		}
		delta = (int64_t)(k->value - before);
		printf("%-32s %" PRIu64 " %+" PRId64 " %.1f/s\n", k->name,
		       k->value, delta, (double)delta / secs);
	}
	if (rep->truncated)
		cli_err("stats", "the proxy left counters out: its reply "
				 "is full");
	if (shown == 0 && n > 0) {
		cli_err("stats", "no counter starts with '%s'%s", prefixes[0],
			n > 1 ? " or the other prefixes" : "");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* The counters as Prometheus text (rs_metrics.h). */
static int stats_prometheus(const Remsock__Rpc__StatsReply *rep, int n,
			    char **prefixes)
{
	struct rs_metrics *m = rs_metrics_new();
	size_t len;
	char *text;

	for (size_t i = 0; m != NULL && i < rep->n_counter; i++) {
		const Remsock__Rpc__StatsCounter *k = rep->counter[i];

		if (k->name != NULL && wanted(k->name, n, prefixes))
			rs_metrics_add(m, k->name, k->value, rep->app_id);
	}
	text = m != NULL ? rs_metrics_end(m, &len) : NULL;
	if (text == NULL) {
		cli_err("stats", "%s", strerror(ENOMEM));
		return CLI_FAIL;
	}
	fwrite(text, 1, len, stdout);
	free(text);
	if (rep->truncated)
		cli_err("stats", "the proxy left counters out: its reply "
				 "is full");
	return CLI_OK;
}

static int stats_opt(int ch, const char *arg, void *ctx)
{
	struct watch *w = ctx;
	char *end;
	long long v;

	if (ch == 'a') {
		w->app = arg;
		return -1;
	}
	if (ch == 'p') {
		w->prometheus = true;
		return -1;
	}
	errno = 0;
	v = strtoll(arg, &end, 10);
	if (*arg == 0 || *end != 0 || errno != 0 || v < 1 ||
	    v > (ch == 'w' ? 3600 : 1000000))
		return cli_usage("stats", "-%c: '%s' is not %s", ch, arg,
				 ch == 'w' ? "seconds (1-3600)"
					   : "a count (1-1000000)");
	if (ch == 'w')
		w->every_s = (unsigned)v;
	else
		w->count = (uint64_t)v;
	return -1;
}

/* One read of the counters, printed. */
static int stats_once(struct rsk_conn *c, int n, char **prefixes,
		      struct watch *w)
{
	Remsock__Rpc__StatsRequest req = REMSOCK__RPC__STATS_REQUEST__INIT;

	req.app_id = (char *)w->app;
	Remsock__Rpc__StatsReply *rep;
	struct rsk_call *call;
	struct timespec at;
	const void *body;
	char why[512], when[32];
	struct tm tm;
	size_t len;
	int rc;

	call = call_sync(c, "remsock", "Stats", &req.base, why, sizeof(why));
	if (call == NULL) {
		cli_err("stats", "remsock.Stats: %s", why);
		return CLI_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &at);
	body = rsk_call_reply(call, &len);
	rep = remsock__rpc__stats_reply__unpack(NULL, len, body);
	if (rep == NULL) {
		cli_err("stats", "remsock.Stats: the reply does not decode");
		rc = CLI_FAIL;
	} else {
		if (w->every_s != 0) {
			time_t now = time(NULL);

			gmtime_r(&now, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("# %s\n", when);
		}
		rc = w->prometheus ? stats_prometheus(rep, n, prefixes)
				   : stats_print(rep, n, prefixes, w, &at);
		if (rc == CLI_OK && w->every_s != 0 &&
		    !watch_keep(w, rep, &at)) {
			cli_err("stats", "%s", strerror(ENOMEM));
			rc = CLI_FAIL;
		}
	}
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
	rsk_call_free(call);
	fflush(stdout);
	return rc;
}

static int stats_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"app", required_argument, NULL, 'a'},
	    {"prometheus", no_argument, NULL, 'p'},
	    {"watch", required_argument, NULL, 'w'},
	    {"count", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct watch w = {0};
	struct rsk_conn *c;
	int rc;

	rc = cli_opts(&cli_stats_cmd, argc, argv, "a:pw:n:", longopts,
		      stats_opt, &w);
	if (rc >= 0)
		return rc;
	if (w.count != 0 && w.every_s == 0)
		return cli_usage("stats", "-n COUNT goes with -w SECS");
	c = cli_connect("stats", &rc);
	if (c == NULL)
		return rc;
	for (uint64_t i = 0;; i++) {
		rc = stats_once(c, argc - optind, argv + optind, &w);
		if (rc != CLI_OK || w.every_s == 0 ||
		    (w.count != 0 && i + 1 == w.count))
			break;
		sleep(w.every_s);
	}
	watch_free(&w);
	return rc;
}

static const struct cli_cmd cli_stats_cmd = {"stats", stats_help, stats_run};

/* ---- main --------------------------------------------------------------- */

static const struct cli_cmd *const commands[] = {
    &cli_fetch, &cli_resolve_cmd, &cli_nc, &cli_stats_cmd, &cli_run};

const struct rsk_conn_opts *cli_conn_opts(void)
{
	return &conn_opts;
}

/* @return -1 to go on, or the exit status. */
static int global_opts(int argc, char **argv)
{
	enum { O_APP = 256, O_SECRET, O_TIMEOUT };
	static const struct option longopts[] = {
	    {"addr", required_argument, NULL, 'a'},
	    {"app", required_argument, NULL, O_APP},
	    {"secret", required_argument, NULL, O_SECRET},
	    {"connect-timeout", required_argument, NULL, O_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long ms;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:a:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			conn_opts.addr = optarg;
			break;
		case O_APP:
			conn_opts.app = optarg;
			break;
		case O_SECRET:
			conn_opts.secret = optarg;
			break;
		case O_TIMEOUT:
			ms = strtol(optarg, &end, 10);
			if (*optarg == 0 || *end != 0 || ms < 1 || ms > 3600000)
				return cli_usage(NULL,
						 "--connect-timeout: '%s' is "
						 "not milliseconds (1-3600000)",
						 optarg);
			conn_opts.connect_timeout_ms = (int)ms;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_OK;
		case 'V':
			printf("remsock %s\n", RS_VERSION);
			return CLI_OK;
		case ':':
			return cli_usage(NULL, "option '%s' needs a value",
					 argv[optind - 1]);
		default:
			return cli_usage(NULL, "unknown option '%s'",
					 argv[optind - 1]);
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *name;
	int rc;

	rc = global_opts(argc, argv);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage(NULL,
				 "no COMMAND (fetch, resolve, nc, stats, run)");
	name = argv[optind];
	/* A peer that closes early must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i]->name, name) != 0)
			continue;
		rc = commands[i]->run(argc - optind, argv + optind);
		if (fflush(stdout) != 0 && rc == CLI_OK) {
			cli_err(name, "write to stdout: %s", strerror(errno));
			rc = CLI_FAIL;
		}
		rsk_conn_close(conn);
		return rc;
	}
	return cli_usage(
	    NULL, "unknown command '%s' (fetch, resolve, nc, stats, run)",
	    name);
}
