/* Shared collector helpers: whole-file reads relative to a directory fd,
 * directory listings in batches,
 * strict tokenising and number parsing, counter deltas, and host text made
 * valid UTF-8 for JSON. Nothing here logs. */
#ifndef SYSFEED_PROCFS_H
#define SYSFEED_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

/* A growable read buffer; zero-initialise it, reuse it across reads, and
 * release it with procfs_buf_free(). data is NUL-terminated after a read. */
struct procfs_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Reads all of dirfd/path (files in /proc report size 0, so it reads to
 * EOF) into buf, growing its allocation up to max bytes of content.
 * Returns 0, -EFBIG when the file holds more than max bytes, or -errno. */
int procfs_read(int dirfd, const char *path, struct procfs_buf *buf, size_t max);
void procfs_buf_free(struct procfs_buf *buf);

/* Reads a small file from offset 0 through an fd kept open (so that a
 * seq_file renders it anew) into buf, NUL-terminated. Returns its length,
 * -EFBIG when it may be longer than size - 1 bytes, or -errno. */
ssize_t procfs_pread(int fd, char *buf, size_t size);

/* A directory's entries, read in batches into the caller's buffer (one
 * per directory being listed when listings nest): set it up with
 * PROCFS_DENTS(fd, buf, size), then call procfs_dents_next until it
 * returns 0. */
struct procfs_dents {
	int fd;
	char *buf;
	size_t size;
	size_t len, off; /* bytes the last batch read, and those used */
};

#define PROCFS_DENTS(fd_, buf_, size_)                                                             \
	{                                                                                          \
		.fd = (fd_), .buf = (buf_), .size = (size_)                                        \
	}

/* The next entry, "." and ".." included, in *ret (valid until the next
 * call); getdents64 fills the buffer again when it is used up (EINTR
 * retried). Returns 1, 0 at the end of the directory, or -errno. */
int procfs_dents_next(struct procfs_dents *it, const struct dirent64 **ret);

/* A file of procfs or sysfs read at every tick through an fd kept open:
 * pread from offset 0 makes the kernel render it anew, and the open and
 * close (a path walk each) are saved. Zero-initialise; release with
 * procfs_file_close(). */
struct procfs_file {
	int fd;
	bool held;     /* fd is open */
	dev_t dir_dev; /* the directory it was opened from */
	ino_t dir_ino;
	/* Set by the caller when the file is a seq_file of records of at most
	 * this many bytes (/proc/vmstat's lines): a first read of a few KiB
	 * that says it read it all is believed, which saves the read that
	 * returns 0. 0: only below 2 KiB. */
	unsigned record_max;
};

/* procfs_read() of dirfd/path through f: the same contents and errors.
 * The fd is kept only for a file of procfs or sysfs (any other file, such
 * as a fixture replaced by rename between reads, is opened at each read)
 * and used while dirfd is the same directory; a read that fails on it
 * opens the file again once. */
int procfs_read_file(struct procfs_file *f, int dirfd, const char *path, struct procfs_buf *buf,
		     size_t max);
/* The same with known, dirfd's fstat() taken by a caller that keeps dirfd
 * the same directory (the daemon's roots: see struct collector_env), so
 * that no read looks at dirfd again; NULL: fstat() it, as above. */
int procfs_read_file_at(struct procfs_file *f, int dirfd, const struct stat *known,
			const char *path, struct procfs_buf *buf, size_t max);
void procfs_file_close(struct procfs_file *f);

/* The files a flat collector reads at every tick (at most PROCFS_SET_MAX,
 * each kept open), read one after the other through one buffer; it
 * remembers the last one read and whether parsing it (rather than reading
 * it) failed, for the reason init gives. Zero-initialise; release with
 * procfs_set_done(). */
#define PROCFS_SET_MAX 4
struct procfs_set {
	struct procfs_buf buf;
	struct procfs_file files[PROCFS_SET_MAX];
	const char *path;
	bool parsing;
	/* between procfs_set_begin and procfs_set_end: dirfd and its fstat(),
	 * which each read needs (is it the directory the fd was kept for?),
	 * taken once for all the files of one reading */
	bool begun;
	int dir_fd;
	struct stat dir;
};

/* procfs_read_file() of dirfd/path into set->buf, through files[i]. */
int procfs_set_read(struct procfs_set *set, size_t i, int dirfd, const char *path, size_t max);
/* Brackets the reads of one reading of the set's files from dirfd, so that
 * dirfd is looked at once (fstat) for all of them, or not at all with its
 * fstat() known (procfs_read_file_at; NULL: take it); dirfd must stay the
 * same directory in between. */
void procfs_set_begin(struct procfs_set *set, int dirfd, const struct stat *known);
void procfs_set_end(struct procfs_set *set);
/* Records r, the result of parsing what was read last, and returns it. */
int procfs_set_parsed(struct procfs_set *set, int r);
/* procfs_reason() for the file that failed; set may be NULL (it could not
 * be allocated), or have read nothing yet: first_path is named then. */
void procfs_set_reason(const struct procfs_set *set, const char *first_path, int err, char *reason,
		       size_t reason_len);
void procfs_set_done(struct procfs_set *set);

/* A file of the real proc (mountinfo, mounts, swaps) kept open so that
 * poll() says when its contents change (POLLPRI): an fd, or -1 when
 * dirfd/path is not on proc (a fixture tree) or cannot be opened. */
int procfs_watch_open(int dirfd, const char *path);
/* Whether the file watched through fd changed since the last call (true
 * for fd -1: unknown, read it again). */
bool procfs_watch_changed(int fd);

/* Writes a collector's one-line reason for being off, naming the file as
 * under /proc whatever the proc root: "/proc/stat: No such file or
 * directory", or "/proc/stat: unexpected contents (...)" when parsing
 * failed. */
void procfs_reason(char *reason, size_t reason_len, const char *path, int err, bool parsing);

/* Splits the next line off [*pos, end): sets the line without its '\n' and
 * moves *pos past it. Returns 1 for a line, 0 at the end, -EINVAL when the
 * last line lacks its '\n' (a truncated file). */
int procfs_next_line(const char **pos, const char *end, const char **ret_line, size_t *ret_len);

/* Parses every line of [p, end) with line(ctx, line, len) (without its
 * '\n'), in order, until one fails. Returns 0, that line's error, or
 * -EINVAL when the last line lacks its '\n'. */
int procfs_each_line(const char *p, const char *end,
		     int (*line)(void *ctx, const char *line, size_t len), void *ctx);

/* Splits the next space-separated token off [*pos, end). Returns 1 for a
 * token, 0 when only spaces are left. */
int procfs_next_token(const char **pos, const char *end, const char **ret_tok, size_t *ret_len);

/* Classes of bytes, for parsers' scanning loops:
 * procfs_class[(unsigned char)c] & PROCFS_DIGIT. */
enum {
	PROCFS_DIGIT = 1u << 0, /* 0-9 */
	PROCFS_IDENT = 1u << 1, /* A-Z, a-z, 0-9 and '_' */
	PROCFS_KEY = 1u << 2,   /* any byte but ' ', ':', '\n' and NUL */
};
extern const unsigned char procfs_class[256];

/* procfs_next_token() and procfs_parse_u64() of the token at once: a
 * number of up to 19 digits is read in the same pass. Returns 1 with
 * *ret set, 0 when only spaces are left, or procfs_parse_u64()'s error. */
int procfs_next_u64(const char **pos, const char *end, uint64_t *ret);

/* True when the token [s, s + len) is exactly the NUL-terminated word. */
bool procfs_token_is(const char *s, size_t len, const char *word);

/* Parses a whole token of decimal digits (no sign, no spaces). Returns 0,
 * -EINVAL for anything but digits, or -ERANGE past UINT64_MAX. */
int procfs_parse_u64(const char *s, size_t len, uint64_t *ret);
/* The same, -ERANGE past UINT32_MAX. */
int procfs_parse_u32(const char *s, size_t len, uint32_t *ret);

/* The value of a hex digit (0-9, a-f, A-F), or -1. */
int procfs_hex_digit(int c);

/* Parses a whole token "DIGITS[.DIGITS]" with at most `decimals` (<= 9)
 * fraction digits, as an integer scaled by 10^decimals ("0.52", 2 -> 52).
 * Returns 0, -EINVAL on any other shape, or -ERANGE on overflow. */
int procfs_parse_fixed(const char *s, size_t len, unsigned decimals, uint64_t *ret);

/* Multiplies a kB count into bytes. Returns 0 or -ERANGE. */
int procfs_kb_to_bytes(uint64_t kb, uint64_t *ret_bytes);

/* The forward delta of a counter between two readings. Returns 0, or
 * -ERANGE when it went backwards (reset or wrap): skip that delta. */
int procfs_delta(uint64_t prev, uint64_t cur, uint64_t *ret_delta);
/* The time from a previous reading's CLOCK_MONOTONIC ns to this one's,
 * which rates divide by: 0 (every rate null) without a previous reading
 * or when the clock did not move forward. */
uint64_t procfs_elapsed(bool have_prev, uint64_t prev_ns, uint64_t cur_ns);

/* A monotonic counter and when it was last read (CLOCK_MONOTONIC ns).
 * Zero-initialise; valid is false until the first reading. */
struct procfs_counter {
	uint64_t value;
	uint64_t mono_ns;
	bool valid;
};

/* Feeds a reading taken at mono_ns and always keeps it. Returns 1 with
 * *ret_per_s set when there is a rate, 0 when there is none: the first
 * reading, a counter that went backwards (one delta skipped), or a clock
 * that did not move forward. */
int procfs_counter_rate(struct procfs_counter *c, uint64_t value, uint64_t mono_ns,
			double *ret_per_s);

/* The per-second rate of a counter read twice, dt_ns apart, rounded half
 * up to hundredths. Returns 1 with *ret_per_s set, or 0 when there is none:
 * the counter went backwards (one delta skipped) or dt_ns is 0. */
int procfs_rate_hundredths(uint64_t prev, uint64_t cur, uint64_t dt_ns, double *ret_per_s);

/* The same for delta * mul / dt_ns (mul 1e9: per second; 512e9: 512-byte
 * sectors as bytes per second), rounded half up to hundredths. */
int procfs_rate_scaled(uint64_t prev, uint64_t cur, double mul, uint64_t dt_ns, double *ret);

#endif
