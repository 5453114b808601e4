/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket handles, shared by sock.c (the table, creation, names, options,
 * connection set-up and teardown) and sock_io.c (send, receive with
 * read-ahead, poll).
 *
 * Locks: the table lock guards the table, every socket's receive state
 * and flags; tx_mu serialises a socket's Sends so that their stream
 * offsets follow each other.  Order: tx_mu, then the table lock.  No lock
 * is held across a call to the proxy except tx_mu.
 */
#ifndef RSK_SOCK_PVT_H
#define RSK_SOCK_PVT_H

#include <pthread.h>

#include "client_pvt.h"

struct rsk_sock {
	struct rsk_conn *conn;
	char *desc;  /* the proxy's descriptor */
	bool stream; /* TCP; else UDP */
	int refs;    /* under the table lock */
	/* Under the table lock. */
	bool closed; /* out of the table */
	bool nonblock;
	bool connected; /* connect or accept succeeded: reads ahead */
	bool rd_shut;
	double rcvtimeo; /* seconds, negative: none */
	double sndtimeo;
	/* Read-ahead (stream sockets), under the table lock. */
	uint8_t *rx_buf;
	size_t rx_cap, rx_pos, rx_len;
	int64_t rx_next; /* offset after the last byte received */
	bool rx_eof;
	bool rx_busy; /* a Receive for it is in flight */
	int rx_err;   /* an errno to report, 0 */
	/* Under tx_mu. */
	pthread_mutex_t tx_mu;
	int64_t tx_off; /* stream offset of the next byte to send */
	bool wr_shut;
};

/** Lock and unlock the table. */
void rskp_tab_lock(void);
void rskp_tab_unlock(void);

/** Wait on the read-ahead condition (table lock held) until woken or
 *  @p until (CLOCK_MONOTONIC; NULL: no limit).  @return false at the
 *  limit. */
bool rskp_rx_wait(const struct timespec *until);

/** Wake the read-ahead waiters (table lock held). */
void rskp_rx_wake(void);

/** The socket of handle @p fd with a reference, or NULL (errno EBADF). */
struct rsk_sock *rskp_sock_get(int fd);

/** A socket by handle with the table lock held (no reference); NULL. */
struct rsk_sock *rskp_sock_peek(int fd);

/** The table's size (handles are below it), table lock held. */
int rskp_tab_size(void);

/** Take a reference (table lock held). */
void rskp_sock_hold(struct rsk_sock *s);

/** Drop a reference; the last frees the socket. */
void rskp_sock_put(struct rsk_sock *s);

/** Drop a reference with the table lock held. */
void rskp_sock_put_locked(struct rsk_sock *s);

/** -1 with errno = @p err (positive), for the BSD-style returns. */
int rskp_fail(int err);

/** sockaddr_in or sockaddr_in6 -> AddressPort (packed into @p ip, 4 or
 *  16 bytes).  @return 0, or -EAFNOSUPPORT / -EINVAL. */
int rskp_addr_to_wire(const struct sockaddr *sa, socklen_t len,
		      Remsock__AddressPort *ap, uint8_t ip[16]);

/** AddressPort -> sockaddr_in (sockaddr_in6 for 16 bytes), truncated to
 *  *len as getsockname(2) does. */
void rskp_addr_from_wire(const Remsock__AddressPort *ap, struct sockaddr *sa,
			 socklen_t *len);

/** A seconds timeout for a blocking call: 0 when non-blocking. */
double rskp_timeout(const struct rsk_sock *s, bool nonblock, bool rcv);

#endif /* RSK_SOCK_PVT_H */
