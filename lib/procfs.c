/* Reading /proc and /sys, and parsing their numbers: see procfs.h. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "array.h"

#define PROCFS_BUF_MIN 4096

/* Makes room for at least two more bytes (one of content, one for the
 * NUL), never growing past limit. */
static int procfs_buf_grow(struct procfs_buf *buf, size_t len, size_t limit)
{
	size_t cap;
	char *data;

	if (buf->cap >= 2 && buf->cap - 2 >= len)
		return 0;
	cap = buf->cap < PROCFS_BUF_MIN / 2 ? PROCFS_BUF_MIN : buf->cap;
	while (cap - 2 < len && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	if (cap < 2 || cap - 2 < len)
		return -EFBIG;
	data = realloc(buf->data, cap);
	if (!data)
		return -ENOMEM;
	buf->data = data;
	buf->cap = cap;
	return 0;
}

/* A first pread of a kept fd that returns less than this (and less than
 * asked) read the whole file: a seq_file renders records into a buffer of
 * at least a page and stops short of the end only when the next record
 * does not fit there, which takes a record of over a page minus this (the
 * files read at each tick have lines of at most a few hundred bytes), and
 * a single-record one (single_open: /proc/stat, meminfo, pressure/...),
 * kernfs and sysctl files return all they have. So the read that would
 * return 0 is saved (a syscall per file per tick). */
#define PROCFS_WHOLE 2048
/* The smallest page, a seq_file's least buffer: a file whose records are
 * at most record_max bytes (struct procfs_file) was read whole by a first
 * read shorter than asked that left more than record_max of it unfilled. */
#define PROCFS_PAGE 4096

/* Reads fd to its end into buf (see procfs_read): with pread from offset
 * 0 for a kept fd (whose records are at most record_max bytes, when not
 * 0), with read for one just opened (as procfs_read does, so that a file
 * that cannot pread still reads). */
static int procfs_read_fd(int fd, bool positional, size_t record_max, struct procfs_buf *buf,
			  size_t max)
{
	size_t len = 0, limit = max + 2;
	int r;

	for (;;) {
		ssize_t n;
		bool whole;

		r = procfs_buf_grow(buf, len, limit);
		if (r < 0)
			return r;
		if (positional)
			n = pread(fd, buf->data + len, buf->cap - 1 - len, (off_t)len);
		else
			n = read(fd, buf->data + len, buf->cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		whole = positional && len == 0 && (size_t)n < buf->cap - 1 &&
			((size_t)n < PROCFS_WHOLE ||
			 (record_max && (size_t)n + record_max < PROCFS_PAGE));
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
		if (whole)
			break;
	}
	buf->data[len] = '\0';
	buf->len = len;
	return 0;
}

/* The buffer may hold max + 1 bytes of content, so that a file larger than
 * max is noticed rather than silently cut, plus the NUL. */
int procfs_read(int dirfd, const char *path, struct procfs_buf *buf, size_t max)
{
	int fd, r;

	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	buf->len = 0;
	if (buf->data)
		buf->data[0] = '\0';

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	r = procfs_read_fd(fd, false, 0, buf, max);
	if (r < 0 && buf->data)
		buf->data[0] = '\0';
	close(fd);
	return r;
}

void procfs_file_close(struct procfs_file *f)
{
	if (f->held)
		close(f->fd);
	f->held = false;
	f->fd = -1;
}

/* procfs_read_file() with dir, the fstat() of dirfd. */
static int procfs_read_file_in(struct procfs_file *f, int dirfd, const struct stat *d,
			       const char *path, struct procfs_buf *buf, size_t max)
{
	struct statfs sfs;
	struct stat dir = *d;
	int r;

	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	buf->len = 0;
	if (buf->data)
		buf->data[0] = '\0';
	if (f->held && (dir.st_dev != f->dir_dev || dir.st_ino != f->dir_ino))
		procfs_file_close(f);
	if (f->held) {
		r = procfs_read_fd(f->fd, true, f->record_max, buf, max);
		if (r == 0 || r == -EFBIG || r == -ENOMEM)
			goto out;
		procfs_file_close(f); /* the file may have gone: open it again */
	}
	f->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (f->fd < 0)
		return -errno;
	f->held = fstatfs(f->fd, &sfs) == 0 &&
		  (sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC);
	f->dir_dev = dir.st_dev;
	f->dir_ino = dir.st_ino;
	r = procfs_read_fd(f->fd, false, 0, buf, max);
	if (!f->held) {
		close(f->fd);
		f->fd = -1;
	}
out:
	if (r < 0 && buf->data)
		buf->data[0] = '\0';
	if (r < 0)
		buf->len = 0;
	return r;
}

int procfs_read_file_at(struct procfs_file *f, int dirfd, const struct stat *known,
			const char *path, struct procfs_buf *buf, size_t max)
{
	struct stat dir;

	if (known)
		return procfs_read_file_in(f, dirfd, known, path, buf, max);
	if (fstat(dirfd, &dir) < 0) {
		buf->len = 0;
		if (buf->data)
			buf->data[0] = '\0';
		return -errno;
	}
	return procfs_read_file_in(f, dirfd, &dir, path, buf, max);
}

int procfs_read_file(struct procfs_file *f, int dirfd, const char *path, struct procfs_buf *buf,
		     size_t max)
{
	return procfs_read_file_at(f, dirfd, NULL, path, buf, max);
}

void procfs_buf_free(struct procfs_buf *buf)
{
	if (buf)
		ARRAY_FREE(buf->data, buf->cap, buf->len);
}

int procfs_dents_next(struct procfs_dents *it, const struct dirent64 **ret)
{
	const struct dirent64 *d;

	while (it->off >= it->len) {
		ssize_t n = getdents64(it->fd, it->buf, it->size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		it->len = (size_t)n;
		it->off = 0;
	}
	d = (const struct dirent64 *)(it->buf + it->off);
	it->off += d->d_reclen;
	*ret = d;
	return 1;
}

/* One pread() of size - 1 bytes: a seq_file renders the whole file for a
 * read from offset 0, so a full buffer means there may be more. */
ssize_t procfs_pread(int fd, char *buf, size_t size)
{
	ssize_t n;

	do
		n = pread(fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n == size - 1)
		return -EFBIG;
	buf[n] = '\0';
	return n;
}

int procfs_watch_open(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	struct statfs sfs;

	if (fd >= 0 && (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)) {
		close(fd);
		fd = -1;
	}
	return fd < 0 ? -1 : fd;
}

bool procfs_watch_changed(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLPRI};

	return fd < 0 || poll(&pfd, 1, 0) != 0;
}
void procfs_reason(char *reason, size_t reason_len, const char *path, int err, bool parsing)
{
	char msg[128];
	const char *s;

	if (!reason || reason_len == 0)
		return;
	s = strerror_r(err < 0 ? -err : err, msg, sizeof(msg));
	if (parsing)
		snprintf(reason, reason_len, "/proc/%s: unexpected contents (%s)", path, s);
	else
		snprintf(reason, reason_len, "/proc/%s: %s", path, s);
}

void procfs_set_begin(struct procfs_set *set, int dirfd, const struct stat *known)
{
	if (known)
		set->dir = *known;
	set->begun = known || fstat(dirfd, &set->dir) == 0;
	set->dir_fd = dirfd;
}

void procfs_set_end(struct procfs_set *set)
{
	set->begun = false;
}

int procfs_set_read(struct procfs_set *set, size_t i, int dirfd, const char *path, size_t max)
{
	set->path = path;
	set->parsing = false;
	if (set->begun && set->dir_fd == dirfd)
		return procfs_read_file_in(&set->files[i], dirfd, &set->dir, path, &set->buf, max);
	return procfs_read_file(&set->files[i], dirfd, path, &set->buf, max);
}

int procfs_set_parsed(struct procfs_set *set, int r)
{
	set->parsing = r < 0;
	return r;
}

void procfs_set_reason(const struct procfs_set *set, const char *first_path, int err, char *reason,
		       size_t reason_len)
{
	if (!set || !set->path)
		procfs_reason(reason, reason_len, first_path, err, false);
	else
		procfs_reason(reason, reason_len, set->path, err, set->parsing);
}

void procfs_set_done(struct procfs_set *set)
{
	procfs_buf_free(&set->buf);
	for (size_t i = 0; i < PROCFS_SET_MAX; i++)
		procfs_file_close(&set->files[i]);
}

int procfs_next_line(const char **pos, const char *end, const char **ret_line, size_t *ret_len)
{
	const char *p = *pos, *nl;

	if (p >= end)
		return 0;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return -EINVAL;
	*ret_line = p;
	*ret_len = (size_t)(nl - p);
	*pos = nl + 1;
	return 1;
}

int procfs_each_line(const char *p, const char *end,
		     int (*line)(void *ctx, const char *line, size_t len), void *ctx)
{
	const char *l;
	size_t len;
	int r;

	while ((r = procfs_next_line(&p, end, &l, &len)) > 0) {
		r = line(ctx, l, len);
		if (r < 0)
			return r;
	}
	return r;
}

int procfs_next_token(const char **pos, const char *end, const char **ret_tok, size_t *ret_len)
{
	const char *p = *pos, *start;

	while (p < end && *p == ' ')
		p++;
	if (p >= end) {
		*pos = p;
		return 0;
	}
	start = p;
	while (p < end && *p != ' ')
		p++;
	*ret_tok = start;
	*ret_len = (size_t)(p - start);
	*pos = p;
	return 1;
}

#define PROCFS_CLASS(c)                                                                            \
	((((c) >= '0' && (c) <= '9') ? PROCFS_DIGIT | PROCFS_IDENT : 0) |                          \
	 (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || (c) == '_' ? PROCFS_IDENT    \
										 : 0) |            \
	 ((c) != ' ' && (c) != ':' && (c) != '\n' && (c) != 0 ? PROCFS_KEY : 0))
#define PROCFS_CLASS4(c)                                                                           \
	PROCFS_CLASS(c), PROCFS_CLASS((c) + 1), PROCFS_CLASS((c) + 2), PROCFS_CLASS((c) + 3)
#define PROCFS_CLASS16(c)                                                                          \
	PROCFS_CLASS4(c), PROCFS_CLASS4((c) + 4), PROCFS_CLASS4((c) + 8), PROCFS_CLASS4((c) + 12)
#define PROCFS_CLASS64(c)                                                                          \
	PROCFS_CLASS16(c), PROCFS_CLASS16((c) + 16), PROCFS_CLASS16((c) + 32),                     \
	    PROCFS_CLASS16((c) + 48)

const unsigned char procfs_class[256] = {
    PROCFS_CLASS64(0),
    PROCFS_CLASS64(64),
    PROCFS_CLASS64(128),
    PROCFS_CLASS64(192),
};

int procfs_next_u64(const char **pos, const char *end, uint64_t *ret)
{
	const char *p = *pos, *tok, *lim;
	uint64_t v = 0;
	int r;

	while (p < end && *p == ' ')
		p++;
	*pos = p;
	if (p >= end)
		return 0;
	tok = p;
	/* 19 digits stay below 10^19 < 2^64 */
	lim = end - p > 19 ? p + 19 : end;
	for (; p < lim; p++) {
		unsigned d = (unsigned char)*p - (unsigned)'0';

		if (d > 9)
			break;
		v = v * 10 + d;
	}
	if (p < end && *p != ' ') {
		/* more digits, or not a number: the whole token judged */
		while (p < end && *p != ' ')
			p++;
		*pos = p;
		r = procfs_parse_u64(tok, (size_t)(p - tok), ret);
		return r < 0 ? r : 1;
	}
	*pos = p;
	*ret = v;
	return 1;
}

/* No strlen(word): the words looked up differ from most tokens in their
 * first bytes. word is read no further than its NUL. */
bool procfs_token_is(const char *s, size_t len, const char *word)
{
	for (size_t i = 0; i < len; i++) {
		if (word[i] != s[i] || word[i] == '\0')
			return false;
	}
	return word[len] == '\0';
}

int procfs_parse_u64(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	/* 19 digits stay below 10^19 < 2^64: no overflow to check */
	if (len < 20) {
		for (size_t i = 0; i < len; i++) {
			unsigned d = (unsigned char)s[i] - (unsigned)'0';

			if (d > 9)
				return -EINVAL;
			v = v * 10 + d;
		}
		*ret = v;
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

int procfs_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int procfs_parse_u32(const char *s, size_t len, uint32_t *ret)
{
	uint64_t v;
	int r = procfs_parse_u64(s, len, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

/* procfs_parse_fixed() of a token too short to overflow (its digits and
 * the decimals added are at most 19) in one pass: 1, or 0 for a token of
 * another shape, which the strict parse then judges. */
static int procfs_parse_fixed_short(const char *s, size_t len, unsigned decimals, uint64_t *ret)
{
	size_t i = 0, n = 0;
	uint64_t v = 0;

	if (len + decimals > 19)
		return 0;
	for (; i < len && (procfs_class[(unsigned char)s[i]] & PROCFS_DIGIT); i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (i == 0)
		return 0;
	if (i < len) {
		if (s[i] != '.')
			return 0;
		for (i++; i < len && (procfs_class[(unsigned char)s[i]] & PROCFS_DIGIT); i++, n++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (i < len || n == 0 || n > decimals)
			return 0;
	}
	for (; n < decimals; n++)
		v *= 10;
	*ret = v;
	return 1;
}

int procfs_parse_fixed(const char *s, size_t len, unsigned decimals, uint64_t *ret)
{
	const char *dot;
	size_t int_len, frac_len = 0;
	uint64_t v, frac = 0;
	int r;

	if (decimals > 9)
		return -EINVAL;
	if (procfs_parse_fixed_short(s, len, decimals, ret))
		return 0;
	dot = memchr(s, '.', len);
	int_len = dot ? (size_t)(dot - s) : len;
	r = procfs_parse_u64(s, int_len, &v);
	if (r < 0)
		return r;
	if (dot) {
		frac_len = len - int_len - 1;
		if (frac_len == 0 || frac_len > decimals)
			return -EINVAL;
		r = procfs_parse_u64(dot + 1, frac_len, &frac);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < decimals; i++) {
		if (v > UINT64_MAX / 10)
			return -ERANGE;
		v *= 10;
	}
	for (size_t i = frac_len; i < decimals; i++)
		frac *= 10;
	if (v > UINT64_MAX - frac)
		return -ERANGE;
	*ret = v + frac;
	return 0;
}

int procfs_kb_to_bytes(uint64_t kb, uint64_t *ret_bytes)
{
	if (kb > UINT64_MAX / 1024)
		return -ERANGE;
	*ret_bytes = kb * 1024;
	return 0;
}

int procfs_delta(uint64_t prev, uint64_t cur, uint64_t *ret_delta)
{
	if (cur < prev)
		return -ERANGE;
	*ret_delta = cur - prev;
	return 0;
}

uint64_t procfs_elapsed(bool have_prev, uint64_t prev_ns, uint64_t cur_ns)
{
	return have_prev && cur_ns > prev_ns ? cur_ns - prev_ns : 0;
}

int procfs_counter_rate(struct procfs_counter *c, uint64_t value, uint64_t mono_ns,
			double *ret_per_s)
{
	struct procfs_counter prev = *c;
	uint64_t dv, dt;

	c->value = value;
	c->mono_ns = mono_ns;
	c->valid = true;
	if (!prev.valid)
		return 0;
	if (procfs_delta(prev.value, value, &dv) < 0)
		return 0;
	if (procfs_delta(prev.mono_ns, mono_ns, &dt) < 0 || dt == 0)
		return 0;
	*ret_per_s = (double)dv * 1e9 / (double)dt;
	return 1;
}

int procfs_rate_scaled(uint64_t prev, uint64_t cur, double mul, uint64_t dt_ns, double *ret)
{
	uint64_t dv;

	if (dt_ns == 0 || procfs_delta(prev, cur, &dv) < 0)
		return 0;
	*ret = floor((double)dv * mul / (double)dt_ns * 100.0 + 0.5) / 100.0;
	return 1;
}

int procfs_rate_hundredths(uint64_t prev, uint64_t cur, uint64_t dt_ns, double *ret_per_s)
{
	return procfs_rate_scaled(prev, cur, 1e9, dt_ns, ret_per_s);
}

/* ---- host text as JSON -------------------------------------------------- */
