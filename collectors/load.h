/* The `load` topic: /proc/loadavg and /proc/uptime (CLOCK_BOOTTIME on a
 * procfs root). */
#ifndef SYSFEED_LOAD_H
#define SYSFEED_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* "0.52 0.58 0.59 2/345 12345" */
struct load_avg {
	double load1, load5, load15;
	uint64_t running;  /* runnable tasks now */
	uint64_t tasks;    /* all tasks (threads included) */
	uint64_t last_pid; /* the most recently assigned pid */
};

/* "1234.56 2345.67" */
struct load_uptime {
	double uptime; /* seconds since boot */
	double idle;   /* idle seconds, summed over CPUs (0 from the clock) */
};

/* Parse exactly one line of the documented shape; load averages and
 * seconds carry at most two decimals. Return 0, -EINVAL or -ERANGE. */
int load_avg_parse(const char *text, size_t len, struct load_avg *ret);
int load_uptime_parse(const char *text, size_t len, struct load_uptime *ret);

/* The `load` payload. Returns 0 or -ENOMEM. */
int load_build_payload(const struct load_avg *la, const struct load_uptime *up, int64_t t_ms,
		       cJSON **ret_payload);

extern const struct collector load_collector;

#endif
