/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS to remsockd's [rpc] tls_port, when $REMSOCK_TLS_CA names the CA
 * that signed its certificate (tls_pvt.h).
 *
 * One SSL object a transport, over a non-blocking socket.  Callers write
 * (under the connection's write lock) while the I/O thread reads, and an
 * SSL object takes one thread at a time: each SSL_write() and SSL_read()
 * runs under the session's own mutex, and neither waits while holding
 * it -- a write with no room lets go and polls for it, so the reader
 * can always drain the proxy's replies (which is what makes room).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <fcntl.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls_pvt.h"

struct rskp_tls {
	SSL *ssl;
	int fd;
	pthread_mutex_t mu;
};

static const char *reason(char *why, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(why, len, "no reason given");
	else
		ERR_error_string_n(e, why, len);
	ERR_clear_error();
	return why;
}

void *rskp_tls_ctx(const char *ca_file, const char *cert_file,
		   const char *key_file, char *why, size_t len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char r[256];

	if (ctx == NULL) {
		snprintf(why, len, "no TLS context: %s", reason(r, sizeof(r)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		snprintf(why, len, "REMSOCK_TLS_CA=%s: %s", ca_file,
			 reason(r, sizeof(r)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if ((cert_file == NULL) != (key_file == NULL)) {
		snprintf(why, len,
			 "REMSOCK_TLS_CERT and REMSOCK_TLS_KEY go together (a "
			 "client certificate and its key)");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cert_file != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) !=
		 1 ||
	     SSL_CTX_check_private_key(ctx) != 1)) {
		snprintf(why, len,
			 "REMSOCK_TLS_CERT=%s, REMSOCK_TLS_KEY=%s: %s",
			 cert_file, key_file, reason(r, sizeof(r)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void rskp_tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll @p fd for what SSL's error @p err asks, up to @p ms. */
static int wait_for(int fd, int err, int ms)
{
	struct pollfd p = {
	    .fd = fd, .events = err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};

	return poll(&p, 1, ms);
}

int rskp_tls_open(void *ctx, int fd, const char *host, int timeout_ms,
		  struct rskp_tls **out, char *why, size_t len)
{
	int64_t until = now_ms() + timeout_ms;
	struct rskp_tls *t = calloc(1, sizeof(*t));
	struct in_addr ip;
	char r[256];
	int rc, err;

	if (t == NULL)
		return -ENOMEM;
	t->fd = fd;
	pthread_mutex_init(&t->mu, NULL);
	t->ssl = SSL_new(ctx);
	if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1) {
		snprintf(why, len, "TLS: %s", reason(r, sizeof(r)));
		goto fail;
	}
	/* The certificate must name the proxy as it was given: its
	 * address (a SAN IP) or its host name. */
	if (inet_pton(AF_INET, host, &ip) == 1)
		rc =
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
	else
		rc = SSL_set1_host(t->ssl, host) &&
		     SSL_set_tlsext_host_name(t->ssl, host);
	if (rc != 1) {
		snprintf(why, len, "TLS: %s", reason(r, sizeof(r)));
		goto fail;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while ((rc = SSL_connect(t->ssl)) != 1) {
		int64_t left = until - now_ms();

		err = SSL_get_error(t->ssl, rc);
		if ((err != SSL_ERROR_WANT_READ &&
		     err != SSL_ERROR_WANT_WRITE) ||
		    left <= 0 || wait_for(fd, err, (int)left) <= 0)
			break;
	}
	if (rc != 1) {
		long v = SSL_get_verify_result(t->ssl);

		if (v != X509_V_OK)
			snprintf(why, len,
				 "the proxy's TLS certificate does not check "
				 "out against REMSOCK_TLS_CA: %s",
				 X509_verify_cert_error_string(v));
		else
			snprintf(why, len,
				 "no TLS handshake with the proxy (is this "
				 "its [rpc] tls_port?): %s",
				 reason(r, sizeof(r)));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	ERR_clear_error();
	SSL_free(t->ssl);
	pthread_mutex_destroy(&t->mu);
	free(t);
	return -EPROTO;
}

void rskp_tls_close(struct rskp_tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int rskp_tls_write(struct rskp_tls *t, const uint8_t *p, size_t len)
{
	while (len > 0) {
		int n, err = 0;

		pthread_mutex_lock(&t->mu);
		n = SSL_write(t->ssl, p,
			      len > INT32_MAX ? INT32_MAX : (int)len);
		if (n <= 0)
			err = SSL_get_error(t->ssl, n);
		pthread_mutex_unlock(&t->mu);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) {
			ERR_clear_error();
			return -EPIPE;
		}
		/* Outside the lock: the reader drains replies meanwhile. */
		if (wait_for(t->fd, err, 100) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

ssize_t rskp_tls_read(struct rskp_tls *t, uint8_t *buf, size_t len)
{
	int n, err = 0;

	pthread_mutex_lock(&t->mu);
	n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n <= 0)
		err = SSL_get_error(t->ssl, n);
	pthread_mutex_unlock(&t->mu);
	if (n > 0)
		return n;
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return err == SSL_ERROR_SYSCALL && errno == 0 ? 0 : -EIO;
	}
}

bool rskp_tls_pending(struct rskp_tls *t)
{
	int n;

	pthread_mutex_lock(&t->mu);
	n = SSL_pending(t->ssl);
	pthread_mutex_unlock(&t->mu);
	return n > 0;
}
