/* The `disk` topic: per block device I/O from /proc/diskstats
 * (Documentation/admin-guide/iostats.rst, Documentation/ABI/testing/
 * procfs-diskstats), whole disks and partitions told apart through sysfs. */
#ifndef SYSFEED_DISK_H
#define SYSFEED_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "settings.h"

#define DISK_NAME_MAX 64

/* The keys of the `disk` topic (disk_collector.settings). */
struct disk_settings {
	struct list disks; /* device names or patterns; ram*, loop* only when named */
};

/* The statistics after "major minor name", in file order. Time fields are
 * milliseconds (32-bit in the kernel: they wrap after ~49 days). */
enum disk_stat {
	DISK_READS, /* completed */
	DISK_READS_MERGED,
	DISK_SECTORS_READ, /* 512-byte units whatever the device's block size */
	DISK_READ_MS,
	DISK_WRITES,
	DISK_WRITES_MERGED,
	DISK_SECTORS_WRITTEN,
	DISK_WRITE_MS,
	DISK_IN_FLIGHT,   /* a gauge */
	DISK_IO_MS,       /* time with at least one I/O in flight */
	DISK_WEIGHTED_MS, /* time in queue summed over I/Os */
	DISK_DISCARDS,    /* 4.18+ */
	DISK_DISCARDS_MERGED,
	DISK_SECTORS_DISCARDED,
	DISK_DISCARD_MS,
	DISK_FLUSHES, /* 5.5+ */
	DISK_FLUSH_MS,
	DISK_NSTATS,
};

struct disk_dev {
	unsigned major, minor;
	char name[DISK_NAME_MAX];
	/* 11 (before 4.18), 15 (4.18+), 17 (5.5+), or 4 for a partition
	 * before 2.6.25 ("reads sectors writes sectors": those four are
	 * stored at their usual indexes, the rest is 0). */
	unsigned nstats;
	uint64_t s[DISK_NSTATS];
	/* Set by the collector, not by the parser (false, DISK_PART_UNSEEN). */
	bool included;      /* in the payload */
	int partition;      /* 1 partition, 0 whole disk, -1 unknown, or: */
#define DISK_PART_UNSEEN -2 /* not asked yet (sysfs is asked once per device) */
};

/* One parse of /proc/diskstats, in file order. Zero-initialise, reuse,
 * release with disk_stats_free(). */
struct disk_stats {
	struct disk_dev *v;
	size_t n, cap;
	uint64_t mono_ns;
};

/* Parses /proc/diskstats: "major minor name" then 4, 11, 15 or 17 numbers
 * per line (lines may differ: 2.6.18 prints 11 for disks and 4 for
 * partitions). Any other count is an error. Returns 0, -EINVAL or -ERANGE
 * on a malformed file, -ENOMEM; an empty file is no devices. */
int disk_stats_parse(const char *text, size_t len, struct disk_stats *ret);
void disk_stats_free(struct disk_stats *st);

/* Names starting with ram, loop or zram (ram0, loop3, loop0p1, zram0):
 * skipped unless named explicitly. */
bool disk_is_virtual(const char *name);

/* Whether the `disks` list names the device explicitly: some pattern that
 * is not "!..." matches it. The default (an empty list) names nothing. */
bool disk_named(const struct list *disks, const char *name);

/* Whether a device goes into the payload: the `disks` list passes it and,
 * for virtual devices and devices with no I/O since boot (all counters 0),
 * names it explicitly. disks may be NULL (no config). */
bool disk_wanted(const struct list *disks, const struct disk_dev *d);

/* The `disk` payload of cur at t_ms: included devices in file order. Rates
 * need prev (NULL on the first tick) holding the same name and device
 * number; without it, for a counter that went backwards or a clock that
 * did not advance, they are null. Returns 0 or -ENOMEM. */
int disk_build_payload(const struct disk_stats *prev, const struct disk_stats *cur, int64_t t_ms,
		       cJSON **ret_payload);

extern const struct collector disk_collector;

#endif
