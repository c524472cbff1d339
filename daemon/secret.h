/* What the TLS and authentication files share: reading a small file that
 * holds secrets (refused when others may read it), comparing secrets in
 * constant time, SHA-256 digests and random tokens. Never logs. */
#ifndef SYSFEED_SECRET_H
#define SYSFEED_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_MAX_FILE (1u << 20)
#define SECRET_SHA256   32

/* Reads the regular file `path` whole (NUL-terminated, at most
 * SECRET_MAX_FILE bytes) into *ret (free it with secret_free). With
 * `secret`, a file that others may read (mode o+r, o+w) is refused.
 * Returns 0, or -errno with "PATH: reason" in err. */
int secret_read_file(const char *path, bool secret, char **ret, size_t *ret_len, char *err,
		     size_t err_len);
/* Zeroes len bytes of p, then frees it; NULL is fine. */
void secret_free(void *p, size_t len);
/* Whether a and b (n bytes each) are equal, in time that does not depend
 * on where they differ. */
bool secret_equal(const void *a, const void *b, size_t n);
/* SHA-256 of data; 0 or -EIO. */
int secret_sha256(const void *data, size_t len, uint8_t out[SECRET_SHA256]);
/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void secret_hex(const uint8_t *in, size_t n, char *out);
/* n bytes from getrandom(2); 0 or -errno. */
int secret_random(void *buf, size_t n);

#endif
