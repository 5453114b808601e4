/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The remsock command: what its subcommands share.  Private to client/cli/.
 *
 *   remsock.c  main: global options, help, the connection, errors,
 *              resolve and stats
 *   fetch.c    remsock fetch: HTTP/1.1 GET through the proxy
 *   nc.c       remsock nc: stdin/stdout through a proxied TCP or UDP
 *              socket
 *   run.c      remsock run: a program under the shim, or isolated
 *
 * Every subcommand returns its exit status; only main() exits.  Errors
 * are one line on stderr, "remsock SUBCOMMAND: what failed: why".
 */
#ifndef RS_CLI_PVT_H
#define RS_CLI_PVT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit statuses, as --help documents them. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Most addresses one name resolves to that the command uses. */
#define CLI_ADDRS_MAX 64

struct rsk_conn;

/* A subcommand: its name, its manual, its body. */
struct cli_cmd {
	const char *name;
	const char *help;		   /* the subcommand's manual */
	int (*run)(int argc, char **argv); /* argv[0]: the subcommand */
};

extern const struct cli_cmd cli_fetch, cli_nc, cli_run;

struct rsk_conn_opts;

/* The global options as given (fields NULL where not given). */
const struct rsk_conn_opts *cli_conn_opts(void);

/* "remsock SUBCOMMAND: " + the message, on stderr. */
void cli_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The usage error "remsock CMD: message" plus a pointer to --help;
 * @return CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct option;

/*
 * Parse a subcommand's options: -h/--help prints @p c's manual.  @p opts
 * are getopt short options beyond "h"; @p longopts its long ones (NULL
 * for --help alone; else it must hold {"help", 0, NULL, 'h'}).  Calls
 * @p opt for each other option; it returns -1 to go on, or an exit
 * status.
 *
 * @return -1 to go on (optind at the first operand), or the exit status.
 */
int cli_opts(const struct cli_cmd *c, int argc, char **argv, const char *opts,
	     const struct option *longopts,
	     int (*opt)(int ch, const char *arg, void *ctx), void *ctx);

/*
 * The connection to the proxy, opened on first use from the global
 * options (or REMSOCK_ADDR, REMSOCK_APP, REMSOCK_SECRET) and made the
 * default for the rsk_* socket calls; main() closes it.
 *
 * @return the connection, or NULL once the reason is printed (as
 *   "remsock CMD: ...") with the exit status in *status: CLI_USAGE when
 *   no proxy, app or secret is given or the address does not parse,
 *   CLI_FAIL when the proxy cannot be reached or refuses the app.
 */
struct rsk_conn *cli_connect(const char *cmd, int *status);

/*
 * Resolve @p name through the proxy's Resolve (numeric addresses, its
 * [hosts] and DNS).
 *
 * @param addrs  receives up to CLI_ADDRS_MAX addresses.
 * @param why    receives the reason of a failure: the EAI message and the
 *               proxy's detail.
 * @return the number of addresses (>= 1), or -1 with @p why set.
 */
int cli_resolve(struct rsk_conn *conn, const char *name, struct in_addr *addrs,
		char *why, size_t whylen);

/*
 * A socket of @p type (SOCK_STREAM, SOCK_DGRAM) connected to @p host
 * (resolved by the proxy; each address in turn until one connects) and
 * @p port, with SO_RCVTIMEO and SO_SNDTIMEO (which bounds the connect)
 * of @p timeout_s seconds when it is above 0.
 *
 * @return the rsk_* socket handle, or -1 once the reason is printed.
 */
int cli_dial(const char *cmd, struct rsk_conn *conn, const char *host, int port,
	     int type, int timeout_s);

/* A port number 1..65535 from @p s; @return it, or -1. */
int cli_port(const char *s);

/* Write all of @p buf to fd 1.  @return 0, or -1 with errno. */
int cli_write_out(const void *buf, size_t len);

#endif /* RS_CLI_PVT_H */
