/* journal_send: writes entries to the journal with sd_journal_sendv(), for
 * the `log` tests and bench (Python has no journal module here).
 *
 *   journal_send [-n COUNT] [-i INTERVAL_US] [-e] FIELD=VALUE...
 *
 * Sends COUNT entries (default 1), INTERVAL_US microseconds apart (default
 * 0: as fast as journald takes them). In values, "{i}" becomes the entry's
 * index and "{us}" CLOCK_REALTIME in microseconds at sending. With -e,
 * values take the escapes \n \r \t \\ \0 and \xHH, so that any bytes
 * (invalid UTF-8, NUL) can be written. Exits 0, or 1 with a message. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "bench.h"

#define MAX_FIELDS 64

struct field {
	char *data;
	size_t len;
};

/* Decodes the escapes of -e in place; returns the new length or -1. */
static long unescape(char *s)
{
	static const char from[] = "nrt0\\", to[] = "\n\r\t\0\\";
	size_t i = 0, o = 0, n = strlen(s);
	const char *e;

	while (i < n) {
		if (s[i] != '\\') {
			s[o++] = s[i++];
			continue;
		}
		if (++i >= n)
			return -1;
		if (s[i] == 'x') {
			if (i + 2 >= n || procfs_hex_digit(s[i + 1]) < 0 ||
			    procfs_hex_digit(s[i + 2]) < 0)
				return -1;
			s[o++] =
			    (char)(procfs_hex_digit(s[i + 1]) * 16 + procfs_hex_digit(s[i + 2]));
			i += 2;
		} else if ((e = strchr(from, s[i]))) {
			s[o++] = to[e - from];
		} else {
			return -1;
		}
		i++;
	}
	return (long)o;
}

/* Copies f into out with the placeholders replaced. */
static size_t expand(const struct field *f, char *out, unsigned long idx)
{
	size_t o = 0;

	for (size_t i = 0; i < f->len;) {
		if (f->len - i >= 3 && memcmp(f->data + i, "{i}", 3) == 0) {
			o += (size_t)sprintf(out + o, "%lu", idx);
			i += 3;
		} else if (f->len - i >= 4 && memcmp(f->data + i, "{us}", 4) == 0) {
			o += (size_t)sprintf(out + o, "%" PRIu64, bench_ns(CLOCK_REALTIME) / 1000u);
			i += 4;
		} else {
			out[o++] = f->data[i++];
		}
	}
	return o;
}

int main(int argc, char **argv)
{
	struct field fields[MAX_FIELDS];
	struct iovec iov[MAX_FIELDS];
	char *bufs[MAX_FIELDS];
	unsigned long count = 1, interval_us = 0;
	int n = 0, c, escapes = 0, status = 1;

	while ((c = getopt(argc, argv, "n:i:e")) != -1) {
		switch (c) {
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			interval_us = strtoul(optarg, NULL, 10);
			break;
		case 'e':
			escapes = 1;
			break;
		default:
			fprintf(stderr,
				"usage: journal_send [-n COUNT] [-i US] [-e] FIELD=VALUE...\n");
			return 1;
		}
	}
	for (int i = optind; i < argc && n < MAX_FIELDS; i++, n++) {
		long len = (long)strlen(argv[i]);

		if (escapes && (len = unescape(argv[i])) < 0) {
			fprintf(stderr, "journal_send: bad escape in %s\n", argv[i]);
			return 1;
		}
		fields[n] = (struct field){argv[i], (size_t)len};
		/* room for the placeholders' expansion */
		bufs[n] = malloc((size_t)len * 8 + 64);
		if (!bufs[n])
			return 1;
	}
	if (n == 0) {
		fprintf(stderr, "journal_send: no fields\n");
		goto out;
	}
	for (unsigned long k = 0; k < count; k++) {
		int r;

		for (int i = 0; i < n; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = expand(&fields[i], bufs[i], k);
		}
		while ((r = sd_journal_sendv(iov, n)) == -EAGAIN)
			usleep(100);
		if (r < 0) {
			fprintf(stderr, "journal_send: sd_journal_sendv: %s\n", strerror(-r));
			goto out;
		}
		if (interval_us)
			usleep((useconds_t)interval_us);
	}
	status = 0;
out:
	for (int i = 0; i < n; i++)
		free(bufs[i]);
	return status;
}
