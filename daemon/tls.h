/* The TLS credentials: the certificate chain and key from `tls-cert` and
 * `tls-key`, handed to GnuTLS through libmicrohttpd's certificate
 * callback, so that a reload swaps them for new handshakes while the
 * connections already up keep theirs. One set for the whole process. */
#ifndef SYSFEED_TLS_H
#define SYSFEED_TLS_H

#include <stdint.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#define TLS_MAX_CHAIN 8
/* TLS 1.2 and 1.3 only; ECDHE with AEAD ciphers for 1.2. */
extern const char tls_priorities[];

/* Reads the PEM chain (leaf first) and PEM key (not readable by others),
 * checks that they match, and makes them the set for new handshakes; the
 * old set is freed a minute later (handshakes under way still use it).
 * Returns 0, or -errno with "FILE: reason" in err (the old set stays). */
int tls_load(const char *cert_path, const char *key_path, char *err, size_t err_len);
/* Whether a set is loaded. */
int tls_loaded(void);
/* The leaf certificate's end of validity (seconds since the epoch), 0
 * without one. */
int64_t tls_not_after(void);
/* Loop thread, now and then: frees the sets retired long enough ago. */
void tls_housekeep(void);
/* Frees every set (at exit, once no daemon runs). */
void tls_unload(void);
/* The callback for MHD_OPTION_HTTPS_CERT_CALLBACK. */
int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);

#endif
