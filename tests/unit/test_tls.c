/* Unit tests of daemon/tls.c: loading a chain and key made by openssl,
 * refusing a key others may read, a key of another certificate or no PEM
 * at all, swapping sets (the old one kept for handshakes under way) and
 * that the priority string parses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tls.h"
#include "unit.h"

static char dir[] = "/tmp/sysfeed-tls-XXXXXX";

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* A self-signed certificate and its key, NAME.crt and NAME.key (0600). */
static void make_cert(const char *name, const char *algo)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -x509 -newkey %s -nodes -keyout %s.key -out %s.crt "
		 "-days 10 -subj /CN=%s >/dev/null 2>&1 && chmod 600 %s.key",
		 dir, algo, name, name, name, name);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	make_cert("ec", "ec -pkeyopt ec_paramgen_curve:P-256");
	make_cert("rsa", "rsa:2048");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

TEST(test_load_and_swap)
{
	char crt[128], key[128], crt2[128], key2[128], err[512];
	gnutls_pcert_st *pcert = NULL, *pcert2 = NULL;
	gnutls_privkey_t pkey = NULL, pkey2 = NULL;
	unsigned n = 0;
	int64_t now = (int64_t)time(NULL);

	path(crt, sizeof(crt), "ec.crt");
	path(key, sizeof(key), "ec.key");
	path(crt2, sizeof(crt2), "rsa.crt");
	path(key2, sizeof(key2), "rsa.key");
	assert_false(tls_loaded());
	assert_int_equal(tls_retrieve(NULL, NULL, 0, NULL, 0, &pcert, &n, &pkey), -1);
	assert_int_equal(tls_load(crt, key, err, sizeof(err)), 0);
	assert_true(tls_loaded());
	/* 10 days, within a minute */
	assert_true(llabs(tls_not_after() - (now + 10 * 86400)) < 120);
	assert_int_equal(tls_retrieve(NULL, NULL, 0, NULL, 0, &pcert, &n, &pkey), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tls_load(crt2, key2, err, sizeof(err)), 0);
	assert_int_equal(tls_retrieve(NULL, NULL, 0, NULL, 0, &pcert2, &n, &pkey2), 0);
	assert_ptr_not_equal(pcert, pcert2);
	/* the retired set is kept: still usable by a handshake under way */
	tls_housekeep();
	assert_true(pcert[0].cert.size > 100 && pcert[0].cert.data[0] == 0x30); /* DER */
	/* a failed load keeps the current set */
	assert_int_not_equal(tls_load(crt, key2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not the key of the first certificate"));
	assert_int_equal(tls_retrieve(NULL, NULL, 0, NULL, 0, &pcert, &n, &pkey), 0);
	assert_ptr_equal(pcert, pcert2);
	tls_unload();
	assert_false(tls_loaded());
	assert_int_equal(tls_not_after(), 0);
}

TEST(test_refusals)
{
	char crt[128], key[128], err[512];

	path(crt, sizeof(crt), "ec.crt");
	path(key, sizeof(key), "ec.key");
	chmod(key, 0644);
	assert_int_not_equal(tls_load(crt, key, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "others may read or write it (mode 0644)"));
	chmod(key, 0640);
	/* the certificate may be world-readable; a key is not a certificate */
	assert_int_not_equal(tls_load(key, key, err, sizeof(err)), 0);
	if (!strstr(err, "not a PEM certificate chain"))
		fail_msg("got '%s'", err);
	chmod(crt, 0600);
	assert_int_not_equal(tls_load(crt, crt, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not an unencrypted PEM private key"));
	chmod(crt, 0644);
	assert_int_not_equal(tls_load("/nonexistent/x", key, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "/nonexistent/x: cannot open"));
	assert_false(tls_loaded());
}

TEST(test_priorities)
{
	gnutls_priority_t p;
	const char *where = NULL;

	assert_int_equal(gnutls_priority_init(&p, tls_priorities, &where), 0);
	gnutls_priority_deinit(p);
	/* nothing older than TLS 1.2 */
	assert_non_null(strstr(tls_priorities, "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"));
	assert_null(strstr(tls_priorities, "TLS1.1"));
}

TEST_GROUP(setup, teardown);
