/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock run: a program under the shim, and with --isolate in a network
 * namespace of its own with no way out, so that whatever goes around the
 * shim (a static binary, Go's runtime, raw system calls) fails instead of
 * reaching the network.
 *
 * Isolated, the program reaches the proxy through a Unix socket in a
 * private directory (paths, unlike abstract names, are seen from every
 * network namespace): the shim's libremsock connects there
 * (REMSOCK_ADDR=unix:PATH), and this process, still in the first
 * namespace, relays each such connection to the proxy's TCP address,
 * bytes as they are (TLS, when used, runs end to end: REMSOCK_TLS_NAME
 * keeps the name the certificate is checked against).  It ends when the
 * program has ended and its connections are done (5 s at most), with the
 * program's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_pvt.h"
#include "remsock.h"

#define RUN_PAIRS 256	     /* connections relayed at once */
#define RUN_BUF (64u * 1024) /* bytes a direction holds */
#define RUN_LINGER_MS 5000   /* after the program: connections' end */
#define PRELOAD_NAME "libremsock-preload.so"

#ifndef RS_PRELOAD_PATH
#define RS_PRELOAD_PATH "/usr/local/lib/" PRELOAD_NAME
#endif

static const char run_help[] =
    "NAME\n"
    "    remsock run - run a program with its sockets through the proxy\n"
    "\n"
    "SYNOPSIS\n"
    "    remsock [GLOBAL-OPTIONS] run [--isolate] [--preload PATH]\n"
    "            [--] PROGRAM [ARG...]\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs PROGRAM with libremsock-preload.so (remsock-preload(8)) in\n"
    "    LD_PRELOAD and the proxy, app and secret in its environment, so\n"
    "    that its TCP and UDP sockets and its name resolution go through\n"
    "    remsockd.  The shim is named by its full path: the loader cannot\n"
    "    skip it unseen.\n"
    "\n"
    "    The shim sees only what goes through libc.  With --isolate,\n"
    "    PROGRAM also runs in a network namespace of its own, which has\n"
    "    no interface but a loopback that is down: whatever goes around\n"
    "    the shim (a statically linked program, a Go binary, raw system\n"
    "    calls) finds no network and fails, instead of reaching it\n"
    "    unproxied.  The shim reaches the proxy through a Unix socket\n"
    "    that remsock run relays to it.  Making the namespace takes root,\n"
    "    or unprivileged user namespaces (then PROGRAM runs as root of a\n"
    "    user namespace mapped to the caller).\n"
    "\n"
    "OPTIONS\n"
    "    -i, --isolate\n"
    "        Run PROGRAM in a network namespace of its own (see above).\n"
    "    -p, --preload PATH\n"
    "        The shim to use.  Default: $REMSOCK_PRELOAD, else " PRELOAD_NAME
    "\n"
    "        beside this command's build (client/preload/), else the\n"
    "        installed one (" RS_PRELOAD_PATH ").\n"
    "    -h, --help\n"
    "        Print this manual and exit.\n"
    "\n"
    "EXIT STATUS\n"
    "    PROGRAM's own; 128 + N when signal N ended it; 126 when it\n"
    "    cannot be run, 127 when it is not found; 1 when remsock run\n"
    "    cannot set it up (no shim, no namespace); 2 usage error.\n"
    "\n"
    "ENVIRONMENT\n"
    "    REMSOCK_ADDR, REMSOCK_APP, REMSOCK_SECRET (see remsock --help),\n"
    "    REMSOCK_TLS_CA and the rest of remsock-preload(8)'s, passed on;\n"
    "    REMSOCK_PRELOAD, the shim.\n"
    "\n"
    "EXAMPLES\n"
    "    remsock run -- curl -s http://198.18.0.1:8080/\n"
    "    remsock run --isolate -- ./static-go-binary\n";

struct run_ctx {
	bool isolate;
	const char *preload;
};

static int run_opt(int ch, const char *arg, void *ctx)
{
	struct run_ctx *r = ctx;

	if (ch == 'i')
		r->isolate = true;
	else if (ch == 'p')
		r->preload = arg;
	else
		return cli_usage("run", "unknown option");
	return -1;
}

/* The shim's path into @p buf.  @return buf, or NULL once said why. */
static const char *preload_find(const char *given, char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (given == NULL)
		given = getenv("REMSOCK_PRELOAD");
	if (given != NULL) {
		if (realpath(given, buf) == NULL || access(buf, R_OK) != 0) {
			cli_err("run", "the shim '%s': %s", given,
				strerror(errno));
			return NULL;
		}
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = 0;
			if (snprintf(buf, len, "%.*s/../preload/%s",
				     (int)(len - 64), exe,
				     PRELOAD_NAME) < (int)len &&
			    realpath(buf, exe) != NULL &&
			    access(exe, R_OK) == 0) {
				snprintf(buf, len, "%s", exe);
				return buf;
			}
		}
	}
	if (access(RS_PRELOAD_PATH, R_OK) == 0) {
		snprintf(buf, len, "%s", RS_PRELOAD_PATH);
		return buf;
	}
	cli_err("run",
		"cannot find %s (give --preload PATH or REMSOCK_PRELOAD)",
		PRELOAD_NAME);
	return NULL;
}

/* The environment the shim reads: the global options, LD_PRELOAD.
 * @return -1 to go on, or the exit status. */
static int env_set(const char *shim)
{
	const struct rsk_conn_opts *o = cli_conn_opts();
	const char *old = getenv("LD_PRELOAD");
	char *pre;

	if ((o->addr != NULL && setenv("REMSOCK_ADDR", o->addr, 1) < 0) ||
	    (o->app != NULL && setenv("REMSOCK_APP", o->app, 1) < 0) ||
	    (o->secret != NULL && setenv("REMSOCK_SECRET", o->secret, 1) < 0)) {
		cli_err("run", "%s", strerror(errno));
		return CLI_FAIL;
	}
	if (getenv("REMSOCK_ADDR") == NULL || getenv("REMSOCK_APP") == NULL ||
	    getenv("REMSOCK_SECRET") == NULL)
		return cli_usage("run", "no proxy, app or secret: give --addr, "
					"--app, --secret or REMSOCK_ADDR, "
					"REMSOCK_APP, REMSOCK_SECRET");
	if (old != NULL && old[0] != 0 ? asprintf(&pre, "%s:%s", shim, old) < 0
				       : (pre = strdup(shim)) == NULL) {
		cli_err("run", "%s", strerror(ENOMEM));
		return CLI_FAIL;
	}
	setenv("LD_PRELOAD", pre, 1);
	free(pre);
	return -1;
}

/* exec PROGRAM; only returns on failure, with the status to exit with. */
static int program_exec(char **argv)
{
	int err;

	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, "remsock run: %s: %s\n", argv[0], strerror(err));
	return err == ENOENT ? 127 : 126;
}

/* ---- isolation ---------------------------------------------------------- */

static int file_put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		rc = -1;
	close(fd);
	return rc;
}

/* This process into a network namespace of its own: as root directly,
 * else inside a user namespace mapped to the caller.  @return 0 or -1
 * with errno. */
static int net_isolate(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];

	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (file_put("/proc/self/uid_map", map) < 0)
		return -1;
	if (file_put("/proc/self/setgroups", "deny") < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return file_put("/proc/self/gid_map", map);
}

/* The proxy's TCP address from REMSOCK_ADDR ("HOST[:PORT]").  @return 0,
 * or -1 once said why. */
static int proxy_addr(struct sockaddr_storage *sa, socklen_t *len, char *host,
		      size_t hostlen)
{
	const char *addr = getenv("REMSOCK_ADDR"), *colon = strrchr(addr, ':');
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_STREAM},
			*res;
	size_t hl = colon != NULL ? (size_t)(colon - addr) : strlen(addr);
	int rc;

	if (hl == 0 || hl >= hostlen) {
		cli_err("run", "REMSOCK_ADDR '%s': no host", addr);
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = 0;
	rc =
	    getaddrinfo(host, colon != NULL ? colon + 1 : "5757", &hints, &res);
	if (rc != 0) {
		cli_err("run", "REMSOCK_ADDR '%s': %s", addr, gai_strerror(rc));
		return -1;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* One relayed connection: [0] the program's side (Unix), [1] the
 * proxy's (TCP); buf[d] holds what was read from side d for the other. */
struct pair {
	int fd[2];
	uint8_t *buf[2];
	size_t len[2], off[2];
	bool eof[2]; /* side d sent its end (and the other was told) */
};

static void pair_close(struct pair *p)
{
	for (int d = 0; d < 2; d++) {
		close(p->fd[d]);
		free(p->buf[d]);
	}
	memset(p, 0, sizeof(*p));
	p->fd[0] = p->fd[1] = -1;
}

/* Move what side @p d has for the other.  @return false when the pair
 * is done with (both ends told, or an error). */
static bool pair_step(struct pair *p, int d, short rev)
{
	int o = !d;
	ssize_t n;

	if ((rev & (POLLIN | POLLHUP | POLLERR)) && p->len[d] == 0 &&
	    !p->eof[d]) {
		n = read(p->fd[d], p->buf[d], RUN_BUF);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (n == 0) {
			p->eof[d] = true;
			shutdown(p->fd[o], SHUT_WR);
		} else if (n > 0) {
			p->len[d] = (size_t)n;
			p->off[d] = 0;
		}
	}
	if (p->len[d] != 0) { /* non-blocking: EAGAIN waits for POLLOUT */
		n = send(p->fd[o], p->buf[d] + p->off[d], p->len[d] - p->off[d],
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (n > 0) {
			p->off[d] += (size_t)n;
			if (p->off[d] == p->len[d])
				p->len[d] = p->off[d] = 0;
		}
	}
	return !(p->eof[0] && p->eof[1]);
}

/* A new connection from the program: joined to a new one to the proxy
 * (or closed, when the proxy cannot be reached: the shim says why). */
static void pair_open(struct pair *pairs, int lfd,
		      const struct sockaddr_storage *sa, socklen_t salen)
{
	int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), b;
	struct pair *p = NULL;

	if (a < 0)
		return;
	for (int i = 0; i < RUN_PAIRS && p == NULL; i++)
		if (pairs[i].fd[0] < 0)
			p = &pairs[i];
	b = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p == NULL || b < 0 ||
	    connect(b, (const struct sockaddr *)sa, salen) < 0) {
		close(a);
		if (b >= 0)
			close(b);
		return;
	}
	fcntl(b, F_SETFL, O_NONBLOCK);
	p->fd[0] = a;
	p->fd[1] = b;
	p->buf[0] = malloc(RUN_BUF);
	p->buf[1] = malloc(RUN_BUF);
	if (p->buf[0] == NULL || p->buf[1] == NULL)
		pair_close(p);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Relay until the program (@p pidfd) has ended and its connections are
 * done.  @return its wait status. */
static int relay(int lfd, int pidfd, pid_t pid,
		 const struct sockaddr_storage *sa, socklen_t salen)
{
	static struct pair pairs[RUN_PAIRS];
	struct pollfd pf[2 + 2 * RUN_PAIRS];
	int status = 0, npf, live;
	int64_t until = -1;
	bool ended = false;

	for (int i = 0; i < RUN_PAIRS; i++)
		pairs[i].fd[0] = pairs[i].fd[1] = -1;
	for (;;) {
		pf[0] =
		    (struct pollfd){.fd = ended ? -1 : pidfd, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = lfd, .events = POLLIN};
		npf = 2;
		live = 0;
		for (int i = 0; i < RUN_PAIRS; i++) {
			struct pair *p = &pairs[i];

			for (int d = 0; d < 2; d++) {
				short ev = 0;

				if (p->fd[0] >= 0 && p->len[d] == 0 &&
				    !p->eof[d])
					ev |= POLLIN;
				if (p->fd[0] >= 0 && p->len[!d] != 0)
					ev |= POLLOUT;
				pf[npf++] = (struct pollfd){
				    .fd = p->fd[0] >= 0 ? p->fd[d] : -1,
				    .events = ev};
			}
			live += p->fd[0] >= 0;
		}
		if (ended && (live == 0 || now_ms() >= until))
			break;
		if (poll(pf, (nfds_t)npf, ended ? 100 : -1) < 0 &&
		    errno != EINTR)
			break;
		if (pf[0].revents & POLLIN) {
			waitpid(pid, &status, 0);
			ended = true;
			until = now_ms() + RUN_LINGER_MS;
		}
		if (pf[1].revents & POLLIN)
			pair_open(pairs, lfd, sa, salen);
		for (int i = 0; i < RUN_PAIRS; i++) {
			struct pair *p = &pairs[i];
			short r0 = pf[2 + 2 * i].revents,
			      r1 = pf[3 + 2 * i].revents;

			if (p->fd[0] < 0 || (r0 | r1) == 0)
				continue;
			if (!pair_step(p, 0, r0) || !pair_step(p, 1, r1))
				pair_close(p);
		}
	}
	for (int i = 0; i < RUN_PAIRS; i++)
		if (pairs[i].fd[0] >= 0)
			pair_close(&pairs[i]);
	return status;
}

/* @return the exit status remsock run ends with for wait status @p st. */
static int status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return CLI_FAIL;
}

/* In the namespace: @return only on failure, the status to exit with. */
static int isolated_exec(char **argv)
{
	if (net_isolate() < 0) {
		fprintf(stderr,
			"remsock run: cannot make a network namespace: %s "
			"(root, or unprivileged user namespaces, are needed)\n",
			strerror(errno));
		return CLI_FAIL;
	}
	return program_exec(argv);
}

/* REMSOCK_ADDR is a Unix socket already (a relay's): seen from the new
 * namespace as it is, so no relay of ours. */
static int run_isolated_unix(char **argv)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(isolated_exec(argv));
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		cli_err("run", "fork: %s", strerror(errno));
		return CLI_FAIL;
	}
	return status_of(st);
}

static int run_isolated(char **argv)
{
	char dir[] = "/tmp/remsock-run.XXXXXX", path[sizeof(dir) + 16];
	char host[256], unix_addr[sizeof(path) + 8];
	struct sockaddr_storage sa;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	socklen_t salen;
	int lfd, pidfd, st = 0;
	pid_t pid;

	const char *addr = getenv("REMSOCK_ADDR");

	if (addr[0] == '/' || strncmp(addr, "unix:", 5) == 0)
		return run_isolated_unix(argv);
	if (proxy_addr(&sa, &salen, host, sizeof(host)) < 0)
		return CLI_USAGE;
	if (mkdtemp(dir) == NULL) {
		cli_err("run", "mkdtemp: %s", strerror(errno));
		return CLI_FAIL;
	}
	snprintf(path, sizeof(path), "%s/proxy.sock", dir);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&un, sizeof(un)) < 0 ||
	    listen(lfd, 64) < 0) {
		cli_err("run", "the relay's socket %s: %s", path,
			strerror(errno));
		rmdir(dir);
		return CLI_FAIL;
	}
	/* A user namespace's root is not the caller: the socket must be
	 * its to connect to. */
	chmod(dir, 0711);
	snprintf(unix_addr, sizeof(unix_addr), "unix:%s", path);
	pid = fork();
	if (pid == 0) {
		close(lfd);
		if (getenv("REMSOCK_TLS_CA") != NULL &&
		    getenv("REMSOCK_TLS_NAME") == NULL)
			setenv("REMSOCK_TLS_NAME", host, 1);
		setenv("REMSOCK_ADDR", unix_addr, 1);
		_exit(isolated_exec(argv));
	}
	pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
	if (pid < 0 || pidfd < 0) {
		cli_err("run", "%s: %s", pid < 0 ? "fork" : "pidfd_open",
			strerror(errno));
		if (pid > 0)
			waitpid(pid, &st, 0);
		st = -1;
	} else {
		st = relay(lfd, pidfd, pid, &sa, salen);
		close(pidfd);
	}
	close(lfd);
	unlink(path);
	rmdir(dir);
	return st < 0 ? CLI_FAIL : status_of(st);
}

static int run_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"isolate", no_argument, NULL, 'i'},
	    {"preload", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct run_ctx r = {0};
	char shim[PATH_MAX];
	int rc;

	rc = cli_opts(&cli_run, argc, argv, "+ip:", longopts, run_opt, &r);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage("run", "no PROGRAM to run");
	if (preload_find(r.preload, shim, sizeof(shim)) == NULL)
		return CLI_FAIL;
	rc = env_set(shim);
	if (rc >= 0)
		return rc;
	fflush(stdout);
	if (!r.isolate)
		return program_exec(argv + optind);
	return run_isolated(argv + optind);
}

const struct cli_cmd cli_run = {"run", run_help, run_run};
