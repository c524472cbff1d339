/* TLS credentials swapped under live connections: see tls.h. */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include "clock.h"
#include "fmt.h"
#include "secret.h"

/* A retired set lives this long: a handshake cannot last longer, as a
 * connection without a full request is closed after HTTP_HEADER_MS. */
#define TLS_GRACE_MS 60000

const char tls_priorities[] = "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"
			      "+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM:-MAC-ALL:+AEAD:"
			      "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE";

struct tls_set {
	gnutls_pcert_st pcert[TLS_MAX_CHAIN];
	unsigned n;
	gnutls_privkey_t key;
	int64_t not_after;
	uint64_t retired_ms;
	struct tls_set *next; /* the retired list */
};

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_set *tls_current, *tls_retired;

static void set_free(struct tls_set *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++)
		gnutls_pcert_deinit(&s->pcert[i]);
	if (s->key)
		gnutls_privkey_deinit(s->key);
	free(s);
}

/* The leaf's end of validity, from its DER. */
static int64_t leaf_not_after(const gnutls_pcert_st *leaf)
{
	gnutls_x509_crt_t crt;
	time_t t = 0;

	if (gnutls_x509_crt_init(&crt) < 0)
		return 0;
	if (gnutls_x509_crt_import(crt, &leaf->cert, GNUTLS_X509_FMT_DER) == 0)
		t = gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
	return t > 0 ? (int64_t)t : 0;
}

/* Whether the key is the leaf's: their public key ids agree. */
static bool key_matches(gnutls_privkey_t key, const gnutls_pcert_st *leaf)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	gnutls_pubkey_t pub;
	bool ok = false;

	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &na) == 0 &&
	    gnutls_pubkey_get_key_id(leaf->pubkey, GNUTLS_KEYID_USE_SHA256, b, &nb) == 0)
		ok = na == nb && memcmp(a, b, na) == 0;
	gnutls_pubkey_deinit(pub);
	return ok;
}

/* Reads both files into a new set. */
static int set_load(struct tls_set *s, const char *cert_path, const char *key_path, char *err,
		    size_t err_len)
{
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	gnutls_datum_t d;
	int r, g;

	if ((r = secret_read_file(cert_path, false, &cert, &cert_len, err, err_len)) < 0 ||
	    (r = secret_read_file(key_path, true, &key, &key_len, err, err_len)) < 0)
		goto out;
	s->n = TLS_MAX_CHAIN;
	d = (gnutls_datum_t){(unsigned char *)cert, (unsigned)cert_len};
	if ((g = gnutls_pcert_list_import_x509_raw(s->pcert, &s->n, &d, GNUTLS_X509_FMT_PEM,
						   GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED)) < 0) {
		s->n = 0;
		r = -EINVAL;
		fmt_err(err, err_len,
			"%s: not a PEM certificate chain (leaf first, at most %d): %s", cert_path,
			TLS_MAX_CHAIN, gnutls_strerror(g));
		goto out;
	}
	d = (gnutls_datum_t){(unsigned char *)key, (unsigned)key_len};
	if ((g = gnutls_privkey_init(&s->key)) < 0 ||
	    (g = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		r = -EINVAL;
		fmt_err(err, err_len, "%s: not an unencrypted PEM private key: %s", key_path,
			gnutls_strerror(g));
		goto out;
	}
	if (!key_matches(s->key, &s->pcert[0])) {
		r = -EINVAL;
		fmt_err(err, err_len, "%s: not the key of the first certificate in %s", key_path,
			cert_path);
		goto out;
	}
	s->not_after = leaf_not_after(&s->pcert[0]);
out:
	free(cert);
	secret_free(key, key_len);
	return r;
}

int tls_load(const char *cert_path, const char *key_path, char *err, size_t err_len)
{
	struct tls_set *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		fmt_err(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if ((r = set_load(s, cert_path, key_path, err, err_len)) < 0) {
		set_free(s);
		return r;
	}
	pthread_mutex_lock(&tls_lock);
	if (tls_current) {
		tls_current->retired_ms = clock_mono_ms();
		tls_current->next = tls_retired;
		tls_retired = tls_current;
	}
	tls_current = s;
	pthread_mutex_unlock(&tls_lock);
	return 0;
}

int tls_loaded(void)
{
	int r;

	pthread_mutex_lock(&tls_lock);
	r = tls_current != NULL;
	pthread_mutex_unlock(&tls_lock);
	return r;
}

int64_t tls_not_after(void)
{
	int64_t t;

	pthread_mutex_lock(&tls_lock);
	t = tls_current ? tls_current->not_after : 0;
	pthread_mutex_unlock(&tls_lock);
	return t;
}

void tls_housekeep(void)
{
	uint64_t now = clock_mono_ms();
	struct tls_set *old = NULL;

	pthread_mutex_lock(&tls_lock);
	for (struct tls_set **p = &tls_retired; *p;) {
		struct tls_set *s = *p;

		if (now - s->retired_ms < TLS_GRACE_MS) {
			p = &s->next;
			continue;
		}
		*p = s->next;
		s->next = old;
		old = s;
	}
	pthread_mutex_unlock(&tls_lock);
	while (old) {
		struct tls_set *next = old->next;

		set_free(old);
		old = next;
	}
}

void tls_unload(void)
{
	pthread_mutex_lock(&tls_lock);
	while (tls_retired) {
		struct tls_set *next = tls_retired->next;

		set_free(tls_retired);
		tls_retired = next;
	}
	set_free(tls_current);
	tls_current = NULL;
	pthread_mutex_unlock(&tls_lock);
}

int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	int r = -1;

	pthread_mutex_lock(&tls_lock);
	if (tls_current) {
		*pcert = tls_current->pcert;
		*pcert_length = tls_current->n;
		*pkey = tls_current->key;
		r = 0;
	}
	pthread_mutex_unlock(&tls_lock);
	return r;
}
