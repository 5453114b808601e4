/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock fetch: one HTTP/1.1 GET through the proxy.
 *
 *   parse the URL → resolve the host (the proxy's Resolve) → connect a
 *   proxied TCP socket → send the request (Host, Connection: close) →
 *   status line and headers (interim 1xx responses skipped) → the body,
 *   framed by chunked transfer coding, else Content-Length, else the end
 *   of the connection (RFC 9112 section 6.3) → stdout.
 *
 * Reading goes through a small buffer over rsk_recv(), so header lines
 * and chunk sizes cost no round trip each (the library reads ahead too).
 */
#include <ctype.h>
#include <getopt.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_pvt.h"
#include "remsock.h"

#define LINE_MAX_LEN (16u * 1024)
#define BUF_LEN (64u * 1024)

static const char fetch_help[] =
    "NAME\n"
    "    remsock fetch - HTTP GET through the proxy\n"
    "\n"
    "SYNOPSIS\n"
    "    remsock [GLOBAL-OPTIONS] fetch [-i] [-q] [-o FILE] [-t SECS] URL\n"
    "\n"
    "DESCRIPTION\n"
    "    Fetches URL, which must be http://HOST[:PORT][/PATH] (port 80\n"
    "    when left out), with one HTTP/1.1 GET over a TCP socket the\n"
    "    proxy holds, and writes the body to stdout (or FILE).  HOST is\n"
    "    resolved by the proxy.  The request sends Host and Connection:\n"
    "    close; the body is read as the response frames it: chunked\n"
    "    transfer coding, Content-Length, or up to the end of the\n"
    "    connection.  Interim (1xx) responses are skipped; redirects are\n"
    "    not followed.\n"
    "\n"
    "    A status other than 2xx is reported on stderr (with Location for\n"
    "    a redirect) and its body is not written, unless -i is given.\n"
    "    https:// is refused: remsock has no TLS.\n"
    "\n"
    "OPTIONS\n"
    "    -o, --output FILE\n"
    "        Write to FILE instead of stdout (created, or emptied first).\n"
    "        When the fetch fails, FILE is removed: a FILE that is there\n"
    "        afterwards holds the whole body.\n"
    "    -q, --quiet\n"
    "        No progress line.  Without it, when stderr is a terminal and\n"
    "        the body does not go to that terminal, a line there shows the\n"
    "        bytes received (of how many, when the server said), the rate,\n"
    "        four times a second and at the end.\n"
    "    -i, --include\n"
    "        Write the status line and the headers before the body, and\n"
    "        the body whatever the status.\n"
    "    -t, --timeout SECS\n"
    "        Give up when connecting takes, or the server sends nothing\n"
    "        for, SECS seconds (1-86400; default: wait for ever).\n"
    "    -h, --help\n"
    "        Print this manual and exit.\n"
    "\n"
    "EXIT STATUS\n"
    "    0   a 2xx response, its whole body written\n"
    "    1   a status other than 2xx; the name does not resolve; the\n"
    "        connection is refused, denied by the proxy's ACL or times\n"
    "        out; the response is malformed or ends early; stdout (or\n"
    "        FILE) fails;\n"
    "        the proxy cannot be reached\n"
    "    2   usage error, a URL that does not parse, https://\n"
    "\n"
    "ENVIRONMENT\n"
    "    REMSOCK_ADDR, REMSOCK_APP, REMSOCK_SECRET (see remsock --help).\n"
    "\n"
    "EXAMPLES\n"
    "    remsock fetch http://198.18.0.1:8080/blob | sha256sum\n"
    "    remsock fetch -i http://static.test/\n"
    "    remsock fetch -o blob http://198.18.0.1:8080/blob\n";

struct url {
	char host[256];
	int port;
	const char *path;   /* from the first '/', or "/" */
	char hostport[272]; /* the Host header */
};

/* The progress line: bytes of the body written so far, on stderr. */
struct progress {
	bool on;	/* stderr is a terminal the body does not go to */
	uint64_t total; /* Content-Length; 0: not known */
	uint64_t done;
	uint64_t start_ns, last_ns;
};

/* A buffered reader over a proxied socket. */
struct rd {
	int fd;
	size_t off, len;
	uint64_t total; /* bytes received */
	struct progress pg;
	char buf[BUF_LEN];
};

struct fetch_opts {
	bool include;
	bool quiet;
	const char *output; /* -o FILE, or NULL */
	int timeout_s;
};

/* @return 0, or CLI_USAGE once the reason is printed. */
static int url_parse(const char *s, struct url *u)
{
	const char *host, *end, *colon;
	size_t hlen;

	if (strncasecmp(s, "https://", 8) == 0)
		return cli_usage("fetch",
				 "%s: https is not supported (remsock "
				 "has no TLS): use http://",
				 s);
	if (strncasecmp(s, "http://", 7) != 0)
		return cli_usage("fetch", "%s: not an http:// URL", s);
	host = s + 7;
	end = host + strcspn(host, "/?#");
	u->path = *end == '/' ? end : "/";
	if (*end == '?' || *end == '#')
		return cli_usage("fetch", "%s: a path must start with '/'", s);
	if (memchr(host, '@', (size_t)(end - host)) != NULL || *host == '[')
		return cli_usage("fetch",
				 "%s: user info and IPv6 literals are "
				 "not supported",
				 s);
	colon = memchr(host, ':', (size_t)(end - host));
	hlen = (size_t)((colon != NULL ? colon : end) - host);
	if (hlen == 0 || hlen >= sizeof(u->host))
		return cli_usage("fetch", "%s: no host, or one too long", s);
	memcpy(u->host, host, hlen);
	u->host[hlen] = 0;
	u->port = 80;
	if (colon != NULL) {
		char port[8] = "";
		size_t plen = (size_t)(end - colon - 1);

		if (plen < sizeof(port))
			memcpy(port, colon + 1, plen);
		port[plen < sizeof(port) ? plen : 0] = 0;
		u->port = cli_port(port);
		if (u->port < 0)
			return cli_usage("fetch", "%s: bad port", s);
	}
	snprintf(u->hostport, sizeof(u->hostport), "%.*s", (int)(end - host),
		 host);
	for (const char *p = u->path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return cli_usage("fetch",
					 "%s: spaces and control characters "
					 "must be %%-encoded",
					 s);
	return 0;
}

/* ---- the reader --------------------------------------------------------- */

/* @return bytes now buffered (0 at the end of the stream), or -1 with
 * errno. */
static ssize_t rd_fill(struct rd *r)
{
	ssize_t n;

	if (r->off < r->len)
		return (ssize_t)(r->len - r->off);
	n = rsk_recv(r->fd, r->buf, sizeof(r->buf), 0);
	if (n < 0)
		return -1;
	r->off = 0;
	r->len = (size_t)n;
	r->total += (uint64_t)n;
	return n;
}

/* One line without its CRLF (or LF), NUL-terminated in @p line.
 * @return 0; -1 with errno (EPROTO: too long, ENODATA: the stream ended
 * first). */
static int rd_line(struct rd *r, char *line)
{
	size_t n = 0;
	ssize_t got;

	for (;;) {
		got = rd_fill(r);
		if (got <= 0) {
			if (got == 0)
				errno = ENODATA;
			return -1;
		}
		while (r->off < r->len) {
			char ch = r->buf[r->off++];

			if (ch == '\n') {
				if (n > 0 && line[n - 1] == '\r')
					n--;
				line[n] = 0;
				return 0;
			}
			if (n == LINE_MAX_LEN - 1) {
				errno = EPROTO;
				return -1;
			}
			line[n++] = ch;
		}
	}
}

/* ---- the progress line -------------------------------------------------- */

#define PROGRESS_EVERY_NS 250000000ull

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void progress_show(struct progress *p, uint64_t now)
{
	double mib = 1024.0 * 1024.0, secs = (double)(now - p->start_ns) / 1e9;
	char of[64] = "";

	if (p->total != 0)
		snprintf(of, sizeof(of), " of %.1f MiB (%" PRIu64 "%%)",
			 (double)p->total / mib, p->done * 100 / p->total);
	fprintf(stderr, "\r  %.1f MiB%s, %.1f MiB/s   ", (double)p->done / mib,
		of, secs > 0 ? (double)p->done / mib / secs : 0.0);
	p->last_ns = now;
}

static void progress_add(struct progress *p, size_t n)
{
	uint64_t now;

	p->done += n;
	if (!p->on)
		return;
	now = mono_ns();
	if (p->start_ns == 0)
		p->start_ns = p->last_ns = now;
	if (now - p->last_ns >= PROGRESS_EVERY_NS)
		progress_show(p, now);
}

/* The last figures (even for a body too quick for a line before), and
 * the line ended. */
static void progress_end(struct progress *p)
{
	if (!p->on || p->done == 0)
		return;
	progress_show(p, mono_ns());
	fputc('\n', stderr);
}

/* Copy @p n bytes (UINT64_MAX: up to the end) to stdout, or drop them
 * when !out.  @return bytes copied, or -1 with errno (EPIPE etc. from
 * stdout as -2). */
static int64_t rd_copy(struct rd *r, uint64_t n, bool out)
{
	uint64_t done = 0;

	while (done < n) {
		ssize_t got = rd_fill(r);
		size_t take;

		if (got < 0)
			return -1;
		if (got == 0)
			break;
		take = (size_t)got;
		if (take > n - done)
			take = (size_t)(n - done);
		if (out && cli_write_out(r->buf + r->off, take) < 0)
			return -2;
		if (out)
			progress_add(&r->pg, take);
		r->off += take;
		done += take;
	}
	return (int64_t)done;
}

/* ---- the response ------------------------------------------------------- */

struct resp {
	int status;
	char reason[128];
	bool chunked;
	bool has_length;
	uint64_t length;
	char location[512];
};

static int fail_io(const char *url, const char *what, int err)
{
	if (err == ENODATA)
		cli_err("fetch", "%s: the server closed the connection %s", url,
			what);
	else if (err == EPROTO)
		cli_err("fetch", "%s: %s: a line over %u bytes", url, what,
			LINE_MAX_LEN);
	else if (err == EAGAIN)
		cli_err("fetch", "%s: %s: timed out", url, what);
	else
		cli_err("fetch", "%s: %s: %s", url, what, strerror(err));
	return CLI_FAIL;
}

static int echo_line(const struct fetch_opts *o, const char *line)
{
	if (!o->include)
		return 0;
	return cli_write_out(line, strlen(line)) < 0 ||
		       cli_write_out("\r\n", 2) < 0
		   ? -1
		   : 0;
}

/* "HTTP/1.x NNN reason".  @return 0, or -1 when it is not one. */
static int status_parse(const char *line, struct resp *rs)
{
	char *end;
	long code;

	if (strncmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ')
		return -1;
	code = strtol(line + 9, &end, 10);
	if (end != line + 12 || code < 100 || code > 999 ||
	    (*end != ' ' && *end != 0))
		return -1;
	rs->status = (int)code;
	snprintf(rs->reason, sizeof(rs->reason), "%s",
		 *end == ' ' ? end + 1 : "");
	return 0;
}

/* One header line into @p rs.  @return 0, or -1 for a bad
 * Content-Length. */
static int header_parse(char *line, struct resp *rs)
{
	char *colon = strchr(line, ':'), *v, *end;

	if (colon == NULL)
		return 0;
	*colon = 0;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (strcasecmp(line, "Transfer-Encoding") == 0) {
		/* chunked is the last coding when present (RFC 9112 6.1) */
		size_t n = strlen(v);

		rs->chunked = n >= 7 && strcasecmp(v + n - 7, "chunked") == 0;
	} else if (strcasecmp(line, "Content-Length") == 0) {
		errno = 0;
		rs->length = strtoull(v, &end, 10);
		if (!isdigit((unsigned char)*v) || errno != 0 ||
		    (*end != 0 && *end != ' '))
			return -1;
		rs->has_length = true;
	} else if (strcasecmp(line, "Location") == 0) {
		snprintf(rs->location, sizeof(rs->location), "%s", v);
	}
	*colon = ':';
	return 0;
}

/* The status line and the headers of the final response. */
static int head_read(struct rd *r, const struct fetch_opts *o, const char *url,
		     struct resp *rs, char *line)
{
	do {
		memset(rs, 0, sizeof(*rs));
		if (rd_line(r, line) < 0)
			return fail_io(url,
				       r->total == 0 ? "before responding"
						     : "in the status line",
				       errno);
		if (status_parse(line, rs) < 0) {
			cli_err("fetch",
				"%s: not an HTTP/1.x response: '%.60s'", url,
				line);
			return CLI_FAIL;
		}
		if (echo_line(o, line) < 0)
			return fail_io(url, "write to stdout", errno);
		for (;;) {
			if (rd_line(r, line) < 0)
				return fail_io(url, "in the headers", errno);
			if (echo_line(o, line) < 0)
				return fail_io(url, "write to stdout", errno);
			if (line[0] == 0)
				break;
			if (header_parse(line, rs) < 0) {
				cli_err("fetch", "%s: bad Content-Length", url);
				return CLI_FAIL;
			}
		}
	} while (rs->status >= 100 && rs->status < 200 && rs->status != 101);
	return -1;
}

static int body_chunked(struct rd *r, const char *url, bool out, char *line)
{
	uint64_t size;
	int64_t got;
	char *end;

	for (;;) {
		if (rd_line(r, line) < 0)
			return fail_io(url, "in a chunk size", errno);
		errno = 0;
		size = strtoull(line, &end, 16);
		if (!isxdigit((unsigned char)line[0]) || errno != 0 ||
		    (*end != 0 && *end != ';' && *end != ' ' && *end != '\t')) {
			cli_err("fetch", "%s: bad chunk size '%.40s'", url,
				line);
			return CLI_FAIL;
		}
		if (size == 0)
			break;
		got = rd_copy(r, size, out);
		if (got == -2)
			return fail_io(url, "write to stdout", errno);
		if (got < 0)
			return fail_io(url, "in a chunk", errno);
		if ((uint64_t)got < size)
			return fail_io(url, "in a chunk", ENODATA);
		if (rd_line(r, line) < 0 || line[0] != 0) {
			cli_err("fetch", "%s: a chunk does not end with CRLF",
				url);
			return CLI_FAIL;
		}
	}
	do { /* trailer fields, up to the empty line */
		if (rd_line(r, line) < 0)
			return fail_io(url, "in the trailer", errno);
	} while (line[0] != 0);
	return CLI_OK;
}

static int body_read(struct rd *r, const struct resp *rs, const char *url,
		     bool out, char *line)
{
	int64_t got;

	if (rs->status == 204 || rs->status == 304)
		return CLI_OK;
	r->pg.total = rs->has_length ? rs->length : 0;
	if (rs->chunked)
		return body_chunked(r, url, out, line);
	got = rd_copy(r, rs->has_length ? rs->length : UINT64_MAX, out);
	if (got == -2)
		return fail_io(url, "write to stdout", errno);
	if (got < 0)
		return fail_io(url, "in the body", errno);
	if (rs->has_length && (uint64_t)got < rs->length) {
		cli_err("fetch",
			"%s: the server closed the connection after %" PRId64
			" of %" PRIu64 " body bytes",
			url, got, rs->length);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* ---- the command -------------------------------------------------------- */

static int request_send(int fd, const struct url *u, const char *url)
{
	char req[LINE_MAX_LEN + 512];
	int n;

	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: remsock/%s\r\n"
		     "Accept: */*\r\nConnection: close\r\n\r\n",
		     u->path, u->hostport, RS_VERSION);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		cli_err("fetch", "%s: the path is too long", url);
		return CLI_USAGE;
	}
	if (rsk_send(fd, req, (size_t)n, 0) != n)
		return fail_io(url, "sending the request", errno);
	return CLI_OK;
}

static int fetch_opt(int ch, const char *arg, void *ctx)
{
	struct fetch_opts *o = ctx;
	char *end;
	long v;

	if (ch == 'i') {
		o->include = true;
		return -1;
	}
	if (ch == 'q') {
		o->quiet = true;
		return -1;
	}
	if (ch == 'o') {
		if (*arg == 0)
			return cli_usage("fetch", "-o: an empty file name");
		o->output = arg;
		return -1;
	}
	v = strtol(arg, &end, 10);
	if (*arg == 0 || *end != 0 || v < 1 || v > 86400)
		return cli_usage("fetch", "-t: '%s' is not seconds (1-86400)",
				 arg);
	o->timeout_s = (int)v;
	return -1;
}

static int fetch_url(struct rsk_conn *c, const struct url *u,
		     const struct fetch_opts *o, const char *url, struct rd *r,
		     char *line)
{
	struct resp rs = {0};
	bool ok;
	int rc;

	r->fd =
	    cli_dial("fetch", c, u->host, u->port, SOCK_STREAM, o->timeout_s);
	if (r->fd < 0)
		return CLI_FAIL;
	rc = request_send(r->fd, u, url);
	if (rc == CLI_OK)
		rc = head_read(r, o, url, &rs, line);
	if (rc >= 0)
		goto out;
	ok = rs.status >= 200 && rs.status < 300;
	rc = CLI_OK;
	if (ok || o->include)
		rc = body_read(r, &rs, url, true, line);
	progress_end(&r->pg);
	if (rc == CLI_OK && !ok) {
		cli_err("fetch", "%s: HTTP %d %s%s%s%s", url, rs.status,
			rs.reason, rs.location[0] ? " (Location: " : "",
			rs.location,
			rs.location[0] ? "; redirects are not followed)" : "");
		rc = CLI_FAIL;
	}
out:
	rsk_close(r->fd);
	return rc;
}

/* -o FILE: stdout from now on (what writes the body writes there). */
static int output_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		cli_err("fetch", "-o %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int fetch_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"include", no_argument, NULL, 'i'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"output", required_argument, NULL, 'o'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct fetch_opts o = {0};
	struct rsk_conn *c;
	struct url u;
	struct rd *r;
	char *line;
	int rc;

	rc =
	    cli_opts(&cli_fetch, argc, argv, "iqo:t:", longopts, fetch_opt, &o);
	if (rc >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage("fetch", "%s",
				 argc - optind == 0 ? "URL is missing"
						    : "one URL only");
	rc = url_parse(argv[optind], &u);
	if (rc != 0)
		return rc;
	c = cli_connect("fetch", &rc);
	if (c == NULL)
		return rc;
	if (o.output != NULL && output_open(o.output) < 0)
		return CLI_FAIL;
	r = calloc(1, sizeof(*r));
	line = malloc(LINE_MAX_LEN);
	if (r == NULL || line == NULL) {
		cli_err("fetch", "%s", strerror(ENOMEM));
		rc = CLI_FAIL;
	} else {
		r->pg.on =
		    !o.quiet && isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO);
		rc = fetch_url(c, &u, &o, argv[optind], r, line);
	}
	free(line);
	free(r);
	if (o.output != NULL && rc != CLI_OK)
		unlink(o.output); /* no half body under the name asked for */
	return rc;
}

const struct cli_cmd cli_fetch = {"fetch", fetch_help, fetch_run};
