/* Secrets' small helpers: see secret.h. */
#include "secret.h"

#include "fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

int secret_read_file(const char *path, bool secret, char **ret, size_t *ret_len, char *err,
		     size_t err_len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0, cap = 0;
	int fd, r = 0;

	*ret = NULL;
	/* O_NONBLOCK: a FIFO must not hang the loop (reloads run there) */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		fmt_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		fmt_err(err, err_len, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		fmt_err(err, err_len, "%s: not a regular file", path);
		goto out;
	}
	if (secret && (st.st_mode & (S_IROTH | S_IWOTH))) {
		r = -EPERM;
		fmt_err(err, err_len, "%s: others may read or write it (mode %04o); chmod o-rwx %s",
			path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((size_t)st.st_size > SECRET_MAX_FILE) {
		r = -EFBIG;
		fmt_err(err, err_len, "%s: larger than %u bytes", path, SECRET_MAX_FILE);
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	if (!(buf = malloc(cap))) {
		r = -ENOMEM;
		fmt_err(err, err_len, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			fmt_err(err, err_len, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
	buf = NULL;
out:
	secret_free(buf, cap);
	close(fd);
	return r;
}

void secret_free(void *p, size_t len)
{
	if (!p)
		return;
	explicit_bzero(p, len);
	free(p);
}

bool secret_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int secret_sha256(const void *data, size_t len, uint8_t out[SECRET_SHA256])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out) < 0 ? -EIO : 0;
}

void secret_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int secret_random(void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	return 0;
}
