/* The Prometheus text writer: see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "utf8.h"
#include "procfs.h"

static void put(struct metrics *m, const char *s, size_t n)
{
	if (m->err)
		return;
	if (m->len + n + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		char *p;

		while (cap < m->len + n + 1)
			cap *= 2;
		if (!(p = realloc(m->buf, cap))) {
			m->err = -ENOMEM;
			return;
		}
		m->buf = p;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = '\0';
}

static void puts_(struct metrics *m, const char *s)
{
	put(m, s, strlen(s));
}

void metrics_reset(struct metrics *m)
{
	m->len = 0;
	m->err = 0;
	if (m->buf)
		m->buf[0] = '\0';
}

void metrics_free(struct metrics *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

int metrics_error(const struct metrics *m)
{
	return m->err;
}

/* HELP text escapes backslash and newline; label values also '"'. Bytes
 * that are not UTF-8 become U+FFFD: the format is UTF-8, and a scraper
 * refuses the whole page over one invalid label value (a mount point or an
 * interface name is whatever bytes the host gave it). Plain ASCII goes in
 * runs. */
static void put_escaped(struct metrics *m, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;

	for (;;) {
		const unsigned char *run = p;
		size_t n, bad;

		while (*p && *p < 0x80 && *p != '\\' && *p != '\n' && !(quote && *p == '"'))
			p++;
		if (p > run)
			put(m, (const char *)run, (size_t)(p - run));
		if (!*p)
			return;
		if (*p < 0x80) {
			put(m, *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : "\\\"", 2);
			p++;
			continue;
		}
		/* a NUL ends the string before any sequence could run past it */
		n = utf8_seq(p, 4, &bad);
		if (n) {
			put(m, (const char *)p, n);
			p += n;
		} else {
			put(m, "\xef\xbf\xbd", 3);
			p += bad;
		}
	}
}

void metrics_family(struct metrics *m, const char *name, const char *type, const char *help)
{
	puts_(m, "# HELP ");
	puts_(m, name);
	puts_(m, " ");
	put_escaped(m, help, false);
	puts_(m, "\n# TYPE ");
	puts_(m, name);
	puts_(m, " ");
	puts_(m, type);
	puts_(m, "\n");
}

void metrics_sample(struct metrics *m, const char *name, const char *const *labels, double value)
{
	char num[FMT_NUM_MAX + 2];
	bool exact;
	size_t n;

	puts_(m, name);
	if (labels && labels[0]) {
		puts_(m, "{");
		for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
			if (i)
				puts_(m, ",");
			puts_(m, labels[i]);
			puts_(m, "=\"");
			put_escaped(m, labels[i + 1], true);
			puts_(m, "\"");
		}
		puts_(m, "}");
	}
	num[0] = ' ';
	if (isnan(value)) {
		n = 1 + (size_t)snprintf(num + 1, sizeof(num) - 1, "NaN");
	} else if (isinf(value)) {
		n = 1 + (size_t)snprintf(num + 1, sizeof(num) - 1, value > 0 ? "+Inf" : "-Inf");
	} else if (fabs(value) < 9007199254740992.0 && value == (double)(int64_t)value) {
		n = 1 + fmt_i64(num + 1, (int64_t)value);
	} else {
		/* the shortest of 15 or 17 digits that reads back the same */
		n = 1 + fmt_g15(num + 1, value, &exact);
		if (!exact && strtod(num + 1, NULL) != value)
			n = 1 + (size_t)snprintf(num + 1, sizeof(num) - 1, "%.17g", value);
	}
	num[n++] = '\n';
	put(m, num, n);
}

/* Whether line starts with prefix and names a counter family "X_total". */
static bool counter_family_line(const char *line, size_t n, const char *prefix,
				const char *counters, size_t counters_len)
{
	size_t p = strlen(prefix), name_len;
	const char *name;

	if (n < p || strncmp(line, prefix, p) != 0)
		return false;
	name = line + p;
	name_len = strcspn(name, " \n");
	if (name_len < 6 || strncmp(name + name_len - 6, "_total", 6) != 0)
		return false;
	/* is "name counter" among the counter TYPE lines? */
	for (const char *c = counters; c && c < counters + counters_len;) {
		const char *nl = memchr(c, '\n', (size_t)(counters + counters_len - c));
		size_t len = nl ? (size_t)(nl - c) : (size_t)(counters + counters_len - c);

		if (len == name_len && strncmp(c, name, name_len) == 0)
			return true;
		c = nl ? nl + 1 : NULL;
	}
	return false;
}

char *metrics_openmetrics(const char *text, size_t len, size_t *ret_len)
{
	struct metrics out = {0}, counters = {0};
	const char *p = text, *end = text + len;

	/* first pass: the names of counter families */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (n > 7 && strncmp(p, "# TYPE ", 7) == 0 && n >= 15 &&
		    strncmp(p + n - 9, " counter\n", 9) == 0) {
			put(&counters, p + 7, n - 7 - 9);
			put(&counters, "\n", 1);
		}
		p += n;
	}
	for (p = text; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (n > 15 && strncmp(p, "# TYPE ", 7) == 0 &&
		    strncmp(p + n - 9, " untyped\n", 9) == 0) {
			/* OpenMetrics calls it "unknown" */
			put(&out, p, n - 8);
			put(&out, "unknown\n", 8);
		} else if (counter_family_line(p, n, "# HELP ", counters.buf, counters.len) ||
			   counter_family_line(p, n, "# TYPE ", counters.buf, counters.len)) {
			size_t name_end = 7 + strcspn(p + 7, " \n");

			put(&out, p, name_end - 6);
			put(&out, p + name_end, n - name_end);
		} else {
			put(&out, p, n);
		}
		p += n;
	}
	put(&out, "# EOF\n", 6);
	metrics_free(&counters);
	if (out.err) {
		metrics_free(&out);
		return NULL;
	}
	*ret_len = out.len;
	return out.buf;
}
