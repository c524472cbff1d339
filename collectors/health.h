/* The `health` topic: what says a disk or an array is failing, from where
 * an unprivileged daemon can read it: md arrays (/proc/mdstat), filesystem
 * error counters (ext4 and btrfs sysfs) and filesystems the kernel made
 * read-only, and the SMART file the root-run sysfeed-smart helper writes
 * (health_smart.h). */
#ifndef SYSFEED_HEALTH_H
#define SYSFEED_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* The keys of the `health` topic (health_collector.settings). */
struct health_settings {
	char *smart_file; /* the helper's JSON file */
};

/* Sums the counters of a btrfs device's error_stats ("name value" lines:
 * write_errs, read_errs, flush_errs, corruption_errs, generation_errs).
 * Returns 0, -EINVAL on another shape, -ERANGE. */
int health_btrfs_errors(const char *text, size_t len, uint64_t *ret_sum);

extern const struct collector health_collector;

#endif
