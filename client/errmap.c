/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The service's error codes as the host's errno and EAI_* values, and
 * poll(2) bits as the wire's PollEventFlag bits.  The wire's numbers are
 * Linux's; the tables say so once, so that the library stays right on a
 * host whose numbers differ.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>

#include "client_pvt.h"

#define SYSE(name)                                                             \
	REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__SYSTEM_ERROR__SYS_##name
#define APPE(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name
#define RPCE(name) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##name
#define GAIE(name) REMSOCK__RESOLVE_REPLY__ERROR_CODE__SOCKET_EAI_##name
#define POLLW(name) REMSOCK__POLL_EVENT__POLL_EVENT_FLAG__SOCKET_##name

/* The errnos a socket call can meet; the rest of the enum maps by number
 * through the same table when the host agrees (Linux). */
#define E(name)                                                                 \
	{                                                                       \
		REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__SYSTEM_ERROR__SYS_##name, \
		    name                                                        \
	}
static const struct {
	int wire, host;
} sys_map[] = {
    E(EPERM),		E(ENOENT),	  E(EINTR),	   E(EIO),
    E(EBADF),		E(EAGAIN),	  E(ENOMEM),	   E(EACCES),
    E(EFAULT),		E(EBUSY),	  E(EEXIST),	   E(EXDEV),
    E(ENODEV),		E(EINVAL),	  E(ENFILE),	   E(EMFILE),
    E(ENOSPC),		E(EPIPE),	  E(ERANGE),	   E(ENOSYS),
    E(ENODATA),		E(ETIME),	  E(EPROTO),	   E(EBADMSG),
    E(EOVERFLOW),	E(EBADFD),	  E(ENOTSOCK),	   E(EDESTADDRREQ),
    E(EMSGSIZE),	E(EPROTOTYPE),	  E(ENOPROTOOPT),  E(EPROTONOSUPPORT),
    E(ESOCKTNOSUPPORT), E(EOPNOTSUPP),	  E(EPFNOSUPPORT), E(EAFNOSUPPORT),
    E(EADDRINUSE),	E(EADDRNOTAVAIL), E(ENETDOWN),	   E(ENETUNREACH),
    E(ENETRESET),	E(ECONNABORTED),  E(ECONNRESET),   E(ENOBUFS),
    E(EISCONN),		E(ENOTCONN),	  E(ESHUTDOWN),	   E(ETOOMANYREFS),
    E(ETIMEDOUT),	E(ECONNREFUSED),  E(EHOSTDOWN),	   E(EHOSTUNREACH),
    E(EALREADY),	E(EINPROGRESS),	  E(ECANCELED),	   E(EDQUOT),
};
#undef E

int rskp_errno_from_sys(int sys_error)
{
	for (unsigned i = 0; i < sizeof(sys_map) / sizeof(sys_map[0]); i++)
		if (sys_map[i].wire == sys_error)
			return sys_map[i].host;
#ifdef __linux__
	if (sys_error > 0 && sys_error <= SYSE(ERFKILL))
		return sys_error; /* the wire's numbers are Linux's */
#endif
	return EIO;
}

static int errno_from_rpc(int rpc_code)
{
	switch (rpc_code) {
	case RPCE(OVER_QUOTA):
		return ENOBUFS;
	case RPCE(DEADLINE_EXCEEDED):
		return ETIMEDOUT;
	case RPCE(UNAUTHENTICATED):
	case RPCE(SECURITY_VIOLATION):
		return EACCES;
	case RPCE(CALL_NOT_FOUND):
		return ENOSYS;
	case RPCE(CAPABILITY_DISABLED):
	case RPCE(FEATURE_DISABLED):
		return EOPNOTSUPP;
	case RPCE(PARSE_ERROR):
	case RPCE(BAD_REQUEST):
		return EINVAL;
	case RPCE(REQUEST_TOO_LARGE):
	case RPCE(RESPONSE_TOO_LARGE):
		return EMSGSIZE;
	case RPCE(CANCELLED):
		return ECANCELED;
	default:
		return EIO;
	}
}

int rsk_errno_from_error(int rpc_code, int app_code, int sys_error)
{
	if (rpc_code != 0)
		return errno_from_rpc(rpc_code);
	switch (app_code) {
	case 0:
		return 0;
	case APPE(SYSTEM_ERROR):
		return sys_error != 0 ? rskp_errno_from_sys(sys_error) : EIO;
	case APPE(PERMISSION_DENIED):
		return EACCES;
	case APPE(INVALID_REQUEST):
		return EINVAL;
	case APPE(SOCKET_CLOSED):
		return EBADF;
	default: /* FAILURE, GAI_ERROR outside Resolve, unknown codes */
		return EIO;
	}
}

int rsk_eai_from_error(int resolve_code)
{
	static const struct {
		int wire, host;
	} map[] = {
	    {GAIE(ADDRFAMILY), EAI_ADDRFAMILY}, {GAIE(AGAIN), EAI_AGAIN},
	    {GAIE(BADFLAGS), EAI_BADFLAGS},	{GAIE(FAIL), EAI_FAIL},
	    {GAIE(FAMILY), EAI_FAMILY},		{GAIE(MEMORY), EAI_MEMORY},
	    {GAIE(NODATA), EAI_NODATA},		{GAIE(NONAME), EAI_NONAME},
	    {GAIE(SERVICE), EAI_SERVICE},	{GAIE(SOCKTYPE), EAI_SOCKTYPE},
	    {GAIE(SYSTEM), EAI_SYSTEM},		{GAIE(OVERFLOW), EAI_OVERFLOW},
	};

	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].wire == resolve_code)
			return map[i].host;
	return EAI_FAIL;
}

static const struct {
	int host, wire;
} poll_map[] = {
    {POLLIN, POLLW(POLLIN)},	     {POLLPRI, POLLW(POLLPRI)},
    {POLLOUT, POLLW(POLLOUT)},	     {POLLERR, POLLW(POLLERR)},
    {POLLHUP, POLLW(POLLHUP)},	     {POLLNVAL, POLLW(POLLNVAL)},
    {POLLRDNORM, POLLW(POLLRDNORM)}, {POLLRDBAND, POLLW(POLLRDBAND)},
    {POLLWRNORM, POLLW(POLLWRNORM)}, {POLLWRBAND, POLLW(POLLWRBAND)},
    {POLLMSG, POLLW(POLLMSG)},	     {POLLRDHUP, POLLW(POLLRDHUP)},
};

int rskp_poll_to_wire(int events)
{
	int w = 0;

	for (unsigned i = 0; i < sizeof(poll_map) / sizeof(poll_map[0]); i++)
		if (events & poll_map[i].host)
			w |= poll_map[i].wire;
	return w;
}

int rskp_poll_from_wire(int events)
{
	int h = 0;

	for (unsigned i = 0; i < sizeof(poll_map) / sizeof(poll_map[0]); i++)
		if (events & poll_map[i].wire)
			h |= poll_map[i].host;
	return h;
}

/* Per thread, as errno: rsk_last_detail(). */
static _Thread_local char last_detail[256];

void rskp_detail_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(last_detail, sizeof(last_detail), fmt, ap) < 0)
		last_detail[0] = '\0';
	va_end(ap);
}

const char *rsk_last_detail(void)
{
	return last_detail;
}
