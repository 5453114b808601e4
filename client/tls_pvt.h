/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS to remsockd's [rpc] tls_port (tls.c), for conn.c: a context from
 * $REMSOCK_TLS_CA, and one session a transport.
 */
#ifndef RSK_TLS_PVT_H
#define RSK_TLS_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rskp_tls;

/** A client context trusting the CA certificates in @p ca_file, TLS 1.3
 *  only, showing the certificate chain @p cert_file with its key
 *  @p key_file (both NULL: none; remsockd's [rpc] tls_client_ca asks for
 *  one).  @return it, or NULL with the reason in @p why. */
void *rskp_tls_ctx(const char *ca_file, const char *cert_file,
		   const char *key_file, char *why, size_t len);
void rskp_tls_ctx_free(void *ctx);

/**
 * Handshake over the connected socket @p fd (made non-blocking), checking
 * the proxy's certificate against the context's CA and @p host (an IPv4
 * address: a SAN IP; a name: the certificate's names).
 *
 * @return 0 with the session in @p out, or -EPROTO with the reason in
 *   @p why (-ENOMEM).
 */
int rskp_tls_open(void *ctx, int fd, const char *host, int timeout_ms,
		  struct rskp_tls **out, char *why, size_t len);
void rskp_tls_close(struct rskp_tls *t);

/** Write all of @p p, waiting for room (not holding the session while
 *  it waits).  @return 0, or -EPIPE / -errno. */
int rskp_tls_write(struct rskp_tls *t, const uint8_t *p, size_t len);

/** @return bytes read, 0 at the end, -EAGAIN when none yet, -EIO. */
ssize_t rskp_tls_read(struct rskp_tls *t, uint8_t *buf, size_t len);

/** Whether decrypted bytes wait in the session (poll() cannot see
 *  them). */
bool rskp_tls_pending(struct rskp_tls *t);

#endif /* RSK_TLS_PVT_H */
