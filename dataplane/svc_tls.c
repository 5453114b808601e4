/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The native transport over TLS 1.3 ([rpc] tls_port): OpenSSL on memory
 * BIOs, over the userspace stack's TCP, on the worker that holds the
 * connection.
 *
 * Input: the ciphertext in the connection's RX ring is written into the
 * read BIO and taken from the ring; SSL_read() then gives plaintext into
 * the connection's own buffer, which goes through the same frame decoder
 * and dispatch as the plain transport (svc_conn_feed()), a frame at a
 * time while the connection takes calls.  Plaintext a full connection
 * does not take waits in that buffer, and no more is read or decrypted
 * until it has gone: back-pressure as on the plain port, one buffer of
 * 16 KiB (a TLS record) more.
 *
 * Output: a reply is SSL_write()n, and the records it makes are moved
 * from the write BIO into the TX ring, or the connection's output buffer
 * (svc_conn_write_raw()), as plain replies are.  The handshake's records
 * go the same way after each step.  A TLS connection takes the copying
 * paths: no reply straight into the ring, no frame served in place.
 *
 * The SSL_CTX is made once, from [rpc] tls_cert and tls_key, TLS 1.3
 * only, and shared by the workers (OpenSSL allows SSL_new() from many
 * threads on one context).
 *
 * Client certificates ([rpc] tls_client_ca): the handshake fails without
 * one those CAs signed, or with one a CRL of [rpc] tls_client_crl
 * revokes; its subject's CN names the one app the connection may
 * authenticate as (svc_tls_cert_app(), looked up once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "svc_pvt.h"

/* Plaintext taken from SSL_read() at once: one TLS record at most. */
#define TLS_PT_LEN (16u * 1024)

struct svc_tls {
	SSL *ssl;
	int cert_app;	  /* svc_tls_cert_app(); SVC_CERT_UNSEEN: not yet */
	BIO *rbio, *wbio; /* owned by ssl */
	uint8_t pt[TLS_PT_LEN];
	size_t pt_off, pt_len; /* plaintext not taken yet */
};

/* The first error in OpenSSL's queue, in words, and the queue emptied. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "no reason given");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* [rpc] tls_client_crl into @p ctx's store, checked for every client
 * certificate ("" : nothing).  @return 0, or -1 with @p err set. */
static int crl_load(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lk;
	char why[256];

	if (path[0] == '\0')
		return 0;
	lk = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	if (lk == NULL ||
	    X509_load_crl_file(lk, path, X509_FILETYPE_PEM) <= 0) {
		snprintf(err, errlen, "[rpc] tls_client_crl: %s: %s", path,
			 ssl_reason(why, sizeof(why)));
		return -1;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

void *svc_tls_ctx_create(const struct rs_config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];

	if (ctx == NULL) {
		snprintf(err, errlen, "[rpc] tls_port: no TLS context: %s",
			 ssl_reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	/* Memory BIOs never block; a write is taken whole.  The chain sent
	 * is tls_cert's, never completed from the client CAs' store. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (cfg->rpc.tls_client_ca[0] != '\0') {
		STACK_OF(X509_NAME) *names =
		    SSL_load_client_CA_file(cfg->rpc.tls_client_ca);

		if (names == NULL ||
		    SSL_CTX_load_verify_locations(ctx, cfg->rpc.tls_client_ca,
						  NULL) != 1) {
			snprintf(err, errlen, "[rpc] tls_client_ca: %s: %s",
				 cfg->rpc.tls_client_ca,
				 ssl_reason(why, sizeof(why)));
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		if (crl_load(ctx, cfg->rpc.tls_client_crl, err, errlen) < 0)
			goto fail;
		SSL_CTX_set_verify(
		    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		    NULL);
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->rpc.tls_cert) != 1) {
		snprintf(err, errlen, "[rpc] tls_cert: %s: %s",
			 cfg->rpc.tls_cert, ssl_reason(why, sizeof(why)));
		goto fail;
	}
	/* Loaded after the certificate, the key is checked against it
	 * ("key values mismatch"). */
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->rpc.tls_key,
					SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "[rpc] tls_key: %s: %s", cfg->rpc.tls_key,
			 ssl_reason(why, sizeof(why)));
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void svc_tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

int svc_tls_attach(struct svc_worker *w, struct svc_conn *c)
{
	struct svc_tls *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->ssl = SSL_new(svc_tls_ctx(w));
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return -ENOMEM;
	}
	t->cert_app = SVC_CERT_UNSEEN;
	BIO_set_mem_eof_return(t->rbio, -1); /* empty: "want more" */
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_accept_state(t->ssl);
	c->tls = t;
	return 0;
}

int svc_tls_cert_app(const struct svc_worker *w, struct svc_conn *c)
{
	struct svc_tls *t = c->tls;
	char cn[RS_CONFIG_NAME_MAX + 1];
	X509 *cert;
	int n;

	if (t == NULL || w->sh->cfg->rpc.tls_client_ca[0] == '\0')
		return SVC_CERT_ANY;
	if (t->cert_app != SVC_CERT_UNSEEN)
		return t->cert_app;
	t->cert_app = SVC_CERT_NONE;
	cert = SSL_get1_peer_certificate(t->ssl);
	if (cert == NULL)
		return t->cert_app;
	/* Verified in the handshake (it failed otherwise); a CN longer
	 * than an app id names none. */
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
				      NID_commonName, cn, sizeof(cn));
	if (n > 0 && (size_t)n < sizeof(cn) - 1 &&
	    SSL_get_verify_result(t->ssl) == X509_V_OK)
		t->cert_app = rs_apps_find(w->sh->apps, cn, (size_t)n);
	if (t->cert_app < 0)
		t->cert_app = SVC_CERT_NONE;
	X509_free(cert);
	return t->cert_app;
}

void svc_tls_free(struct svc_conn *c)
{
	if (c->tls == NULL)
		return;
	SSL_free(c->tls->ssl);
	free(c->tls);
	c->tls = NULL;
}

/* Records the last step made (handshake, replies, alerts): to the peer. */
static void records_out(struct svc_worker *w, struct svc_conn *c)
{
	uint8_t buf[16 * 1024];
	int n;

	while ((n = BIO_read(c->tls->wbio, buf, sizeof(buf))) > 0)
		svc_conn_write_raw(w, c, buf, (size_t)n);
}

void svc_tls_write(struct svc_worker *w, struct svc_conn *c, const uint8_t *buf,
		   size_t len)
{
	size_t done = 0;
	int n;

	while (done < len) {
		n = SSL_write(c->tls->ssl, buf + done,
			      (int)RTE_MIN(len - done, (size_t)1 << 30));
		if (n <= 0) { /* not established, or failed: end it */
			ERR_clear_error();
			c->doomed = true;
			break;
		}
		done += (size_t)n;
	}
	records_out(w, c);
}

/* Move the ciphertext waiting in the RX ring into the read BIO.
 * @return bytes moved (0: none there), or -1 when the connection is over
 * (EOF or an error). */
static ssize_t cipher_in(struct svc_conn *c)
{
	struct rs_byte_view v;
	ssize_t n = rs_sock_rx_view(c->s, SIZE_MAX, 0, &v);

	if (n == -EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	if (BIO_write(c->tls->rbio, v.seg[0].ptr, (int)v.seg[0].len) !=
		(int)v.seg[0].len ||
	    (v.seg[1].len > 0 &&
	     BIO_write(c->tls->rbio, v.seg[1].ptr, (int)v.seg[1].len) !=
		 (int)v.seg[1].len))
		return -1;
	rs_sock_rx_take(c->s, (size_t)n, 0);
	return n;
}

int svc_tls_input(struct svc_worker *w, struct svc_conn *c)
{
	struct svc_tls *t = c->tls;
	ssize_t used;
	int n;

	for (;;) {
		if (svc_conn_full(w, c))
			return 1; /* the caller pauses it */
		if (t->pt_off < t->pt_len) {
			used = svc_conn_feed(w, c, t->pt + t->pt_off,
					     t->pt_len - t->pt_off);
			if (used < 0 || c->doomed)
				return -1;
			t->pt_off += (size_t)used;
			continue;
		}
		t->pt_off = t->pt_len = 0;
		n = SSL_read(t->ssl, t->pt, sizeof(t->pt));
		records_out(w, c); /* the handshake's, an alert... */
		if (n > 0) {
			t->pt_len = (size_t)n;
			continue;
		}
		switch (SSL_get_error(t->ssl, n)) {
		case SSL_ERROR_WANT_READ:
			switch (cipher_in(c)) {
			case 0:
				return 0; /* all taken: wait for more */
			case -1:
				return -2;
			default:
				continue;
			}
		case SSL_ERROR_ZERO_RETURN: /* close_notify */
			return -2;
		default: /* a failed handshake, a bad record */
			SVC_CNT_INC(w, tls_failed);
			ERR_clear_error();
			return -1;
		}
	}
}
