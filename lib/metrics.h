/* Prometheus text exposition (format 0.0.4), written by collectors from
 * their latest sample. Names follow Prometheus conventions: base units,
 * `_total` for counters. Errors stick: check metrics_error() once. */
#ifndef SYSFEED_METRICS_H
#define SYSFEED_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics {
	char *buf;
	size_t len, cap;
	int err; /* first error, or 0 */
};

/* Empties the buffer, keeping its allocation. */
void metrics_reset(struct metrics *m);
void metrics_free(struct metrics *m);
/* Starts a family: its # HELP and # TYPE lines ("counter" or "gauge"). */
void metrics_family(struct metrics *m, const char *name, const char *type, const char *help);
/* One sample: labels is NULL or a NULL-terminated list of name, value
 * pairs; values are escaped (backslash, double quote, newline). */
void metrics_sample(struct metrics *m, const char *name, const char *const *labels, double value);
int metrics_error(const struct metrics *m);

/* Rewrites 0.0.4 text into OpenMetrics 1.0: counter families lose their
 * `_total` suffix in # HELP and # TYPE lines, and "# EOF" ends the text.
 * Returns a malloc'd string (length in *ret_len) or NULL. */
char *metrics_openmetrics(const char *text, size_t len, size_t *ret_len);

#endif
