/* The `disk` topic's collector: /proc/diskstats parsed each tick into per-device
 * rates, whole disks told from partitions through sysfs, and the families. */
#include "array.h"
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fields.h"
#include "flat.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"

/* /proc/diskstats is about 100 bytes a device: room for ~80,000. */
#define DISK_STATS_MAX (8u << 20)

/* --- /proc/diskstats --- */

static struct disk_dev *disk_stats_add(struct disk_stats *st)
{
	if (ARRAY_GROW(st->v, st->cap, st->n, 16) < 0)
		return NULL;
	return &st->v[st->n++];
}

static int disk_parse_uint(const char *s, size_t len, unsigned *ret)
{
	uint64_t v;
	int r;

	r = procfs_parse_u64(s, len, &v);
	if (r < 0)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

/* Fields: 0 major, 1 minor, 2 name, then the statistics of enum
 * disk_stat, or for partitions before 2.6.25: 3 reads, 4 sectors read,
 * 5 writes, 6 sectors written. */
static int disk_parse_line(struct disk_dev *d, const char *line, size_t len)
{
	static const enum disk_stat old_partition[4] = {
	    DISK_READS,
	    DISK_SECTORS_READ,
	    DISK_WRITES,
	    DISK_SECTORS_WRITTEN,
	};
	const char *p = line, *end = line + len, *tok;
	size_t tok_len;
	uint64_t v[DISK_NSTATS];
	unsigned n = 0;
	int r;

	memset(d, 0, sizeof(*d));
	d->partition = DISK_PART_UNSEEN;
	if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
		return -EINVAL;
	r = disk_parse_uint(tok, tok_len, &d->major);
	if (r < 0)
		return r;
	if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
		return -EINVAL;
	r = disk_parse_uint(tok, tok_len, &d->minor);
	if (r < 0)
		return r;
	if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
		return -EINVAL;
	if (tok_len >= DISK_NAME_MAX || memchr(tok, '\0', tok_len) ||
	    procfs_token_is(tok, tok_len, ".") || procfs_token_is(tok, tok_len, ".."))
		return -EINVAL;
	memcpy(d->name, tok, tok_len);
	d->name[tok_len] = '\0';
	while (n < DISK_NSTATS && (r = procfs_next_u64(&p, end, &v[n])) > 0)
		n++;
	if (r < 0)
		return r;
	if (procfs_next_token(&p, end, &tok, &tok_len) > 0)
		return -EINVAL;
	switch (n) {
	case 4:
		for (unsigned i = 0; i < 4; i++)
			d->s[old_partition[i]] = v[i];
		break;
	case 11:
	case 15:
	case 17:
		memcpy(d->s, v, n * sizeof(v[0]));
		break;
	default:
		return -EINVAL;
	}
	d->nstats = n;
	return 0;
}

/* A line of ret's file: a device added to ret (procfs_each_line). */
static int disk_stats_line(void *ret, const char *line, size_t len)
{
	struct disk_dev *d = disk_stats_add(ret);

	return d ? disk_parse_line(d, line, len) : -ENOMEM;
}

int disk_stats_parse(const char *text, size_t len, struct disk_stats *ret)
{
	int r;

	ret->n = 0;
	r = procfs_each_line(text, text + len, disk_stats_line, ret);
	if (r < 0)
		ret->n = 0;
	return r;
}

void disk_stats_free(struct disk_stats *st)
{
	if (st)
		ARRAY_FREE(st->v, st->cap, st->n);
}

/* --- which devices --- */

bool disk_is_virtual(const char *name)
{
	static const char *const prefixes[] = {"ram", "loop", "zram"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	}
	return false;
}

bool disk_named(const struct list *disks, const char *name)
{
	for (size_t i = 0; disks && i < disks->n; i++) {
		const char *pat = disks->v[i];

		if (pat[0] != '!' && fnmatch(pat, name, 0) == 0)
			return true;
	}
	return false;
}

static bool disk_all_zero(const struct disk_dev *d)
{
	for (size_t i = 0; i < DISK_NSTATS; i++) {
		if (d->s[i])
			return false;
	}
	return true;
}

bool disk_wanted(const struct list *disks, const struct disk_dev *d)
{
	bool named = disk_named(disks, d->name);

	if (disks && !list_match(disks, d->name, true))
		return false;
	if (!named && (disk_is_virtual(d->name) || disk_all_zero(d)))
		return false;
	return true;
}

/* Whether the device is a partition: sysfs has class/block/<dev>/partition
 * for partitions and block/<dev> for whole disks. Before
 * /sys/class/block a partition lives under its disk (block/sda/sda1), so a
 * device missing from block/ is one. -1 when sysfs cannot tell (no sysfs,
 * or the device went away meanwhile). Names with '/' (cciss/c0d0) are
 * written with '!' in sysfs. */
static int disk_partition(int sys_fd, const struct disk_dev *d)
{
	char name[DISK_NAME_MAX], path[DISK_NAME_MAX + 32];

	if (d->nstats == 4)
		return 1;
	for (size_t i = 0; i < sizeof(name); i++) {
		name[i] = d->name[i] == '/' ? '!' : d->name[i];
		if (!name[i])
			break;
	}
	snprintf(path, sizeof(path), "class/block/%s/partition", name);
	if (faccessat(sys_fd, path, F_OK, 0) == 0)
		return 1;
	snprintf(path, sizeof(path), "block/%s", name);
	if (faccessat(sys_fd, path, F_OK, 0) == 0)
		return 0;
	if (faccessat(sys_fd, "class/block", F_OK, 0) == 0)
		return -1;
	if (faccessat(sys_fd, "block", F_OK, 0) == 0)
		return 1;
	return -1;
}

/* --- the payload --- */

/* The same device in the previous reading: same name, same number.
 * Devices keep their order, so the search starts after the last match. */
static const struct disk_dev *disk_find(const struct disk_stats *st, const struct disk_dev *d,
					size_t *hint)
{
	for (size_t k = 0; k < st->n; k++) {
		size_t i = (*hint + k) % st->n;
		const struct disk_dev *e = &st->v[i];

		if (e->major == d->major && e->minor == d->minor && strcmp(e->name, d->name) == 0) {
			*hint = i + 1;
			return e;
		}
	}
	return NULL;
}

/* The statistics the device's line holds, as bits of enum disk_stat: the
 * first nstats, or for a partition line before 2.6.25 the four it has. */
static unsigned disk_has_mask(const struct disk_dev *d)
{
	if (d->nstats == 4)
		return 1u << DISK_READS | 1u << DISK_SECTORS_READ | 1u << DISK_WRITES |
		       1u << DISK_SECTORS_WRITTEN;
	return (1u << d->nstats) - 1;
}

/* The forward delta of statistic i, or false: no previous reading, a
 * layout without it, or a counter that went backwards. */
static bool disk_delta(const struct disk_dev *p, const struct disk_dev *d, enum disk_stat i,
		       uint64_t *ret)
{
	if (!p || !(disk_has_mask(p) & disk_has_mask(d) & (1u << i)))
		return false;
	return procfs_delta(p->s[i], d->s[i], ret) == 0;
}

/* iostat's await: ms per completed I/O over the interval, 0 without I/O. */
static bool disk_derive_await(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	const struct disk_dev *d = cur, *p = prev;
	uint64_t dr, dw, drms, dwms;

	if (dt_ns == 0 || !disk_delta(p, d, DISK_READS, &dr) ||
	    !disk_delta(p, d, DISK_WRITES, &dw) || !disk_delta(p, d, DISK_READ_MS, &drms) ||
	    !disk_delta(p, d, DISK_WRITE_MS, &dwms))
		return false;
	*ret = dr + dw == 0
		   ? 0
		   : floor((double)(drms + dwms) / (double)(dr + dw) * 100.0 + 0.5) / 100.0;
	return true;
}

/* The statistic of enum disk_stat k: its place, and its bit of the has
 * mask. Field numbers are those of Documentation/ABI/testing/
 * procfs-diskstats. */
#define DISK_STAT(k) FIELD_AT(struct disk_dev, s[k]), .has = 1u << (k)

/* A device's fields and node_exporter's diskstats families. Sectors are
 * 512 bytes; rates of times (ms over ns elapsed) are shares (* 1e6) or
 * percent (* 1e8). */
static const struct field disk_fields[] = {
    FIELD(.source = "field 3", .json = "name", .type = FIELD_INFO,
	  .help = "The kernel's name: sda, nvme0n1p1, dm-0, md0, cciss/c0d0.",
	  FIELD_CHARS_AT(struct disk_dev, name)),
    FIELD(.source = "field 1", .json = "major", .type = FIELD_INFO, .help = "Major device number.",
	  FIELD_AT(struct disk_dev, major)),
    FIELD(.source = "field 2", .json = "minor", .type = FIELD_INFO, .help = "Minor device number.",
	  FIELD_AT(struct disk_dev, minor)),
    FIELD(.source = "class/block/<dev>/partition, block/<dev>", .file = "/sys", .json = "partition",
	  .type = FIELD_INFO,
	  .help = "true for a partition, false for a whole disk, null when sysfs cannot tell.",
	  FIELD_TRI_AT(struct disk_dev, partition)),
    FIELD(.source = "field 6", .json = "read_bytes", .prom = "node_disk_read_bytes_total",
	  .type = FIELD_COUNTER, .unit = "bytes",
	  .help = "The total number of bytes read successfully.", DISK_STAT(DISK_SECTORS_READ),
	  .mul = 512, .rate = "read_bytes_per_s", .rate_unit = "bytes/s",
	  .rate_help = "Bytes read per second.", .rate_mul = 512e9),
    FIELD(.source = "field 10", .json = "write_bytes", .prom = "node_disk_written_bytes_total",
	  .type = FIELD_COUNTER, .unit = "bytes",
	  .help = "The total number of bytes written successfully.",
	  DISK_STAT(DISK_SECTORS_WRITTEN), .mul = 512, .rate = "write_bytes_per_s",
	  .rate_unit = "bytes/s", .rate_help = "Bytes written per second.", .rate_mul = 512e9),
    FIELD(.source = "field 4", .json = "reads", .prom = "node_disk_reads_completed_total",
	  .type = FIELD_COUNTER, .unit = "I/Os",
	  .help = "The total number of reads completed successfully.", DISK_STAT(DISK_READS),
	  .rate = "read_iops", .rate_unit = "I/Os/s", .rate_help = "Reads completed per second."),
    FIELD(.source = "field 8", .json = "writes", .prom = "node_disk_writes_completed_total",
	  .type = FIELD_COUNTER, .unit = "I/Os",
	  .help = "The total number of writes completed successfully.", DISK_STAT(DISK_WRITES),
	  .rate = "write_iops", .rate_unit = "I/Os/s", .rate_help = "Writes completed per second."),
    FIELD(.source = "field 13", .prom = "node_disk_io_time_seconds_total", .type = FIELD_COUNTER,
	  .unit = "seconds", .help = "Total seconds spent doing I/Os.", DISK_STAT(DISK_IO_MS),
	  .div = 1000, .rate = "busy_pct", .rate_unit = "%",
	  .rate_help = "Share of the interval with at least one I/O in flight (iostat's %util).",
	  .rate_mul = 1e8, .rate_max = 100),
    FIELD(.rate = "await_ms", .rate_unit = "ms",
	  .rate_help = "Mean time an I/O completed in the interval spent queued and served "
		       "(iostat's await); 0 when none completed.",
	  FIELD_DERIVE(disk_derive_await)),
    FIELD(.source = "field 14", .type = FIELD_COUNTER, .unit = "ms", DISK_STAT(DISK_WEIGHTED_MS),
	  .rate = "queue_depth", .rate_unit = "I/Os",
	  .rate_help = "Mean number of I/Os in flight over the interval (iostat's aqu-sz).",
	  .rate_mul = 1e6),
    FIELD(.source = "field 7", .prom = "node_disk_read_time_seconds_total", .type = FIELD_COUNTER,
	  .unit = "seconds", .help = "The total number of seconds spent by all reads.",
	  DISK_STAT(DISK_READ_MS), .div = 1000),
    FIELD(.source = "field 11", .prom = "node_disk_write_time_seconds_total", .type = FIELD_COUNTER,
	  .unit = "seconds", .help = "This is the total number of seconds spent by all writes.",
	  DISK_STAT(DISK_WRITE_MS), .div = 1000),
    FIELD(.source = "field 12", .json = "in_flight", .prom = "node_disk_io_now",
	  .type = FIELD_GAUGE, .unit = "I/Os", .help = "The number of I/Os currently in progress.",
	  DISK_STAT(DISK_IN_FLIGHT)),
};

static const struct field_table disk_table = {
    .path = "disks[]",
    .file = "/proc/diskstats",
    .labels = "device",
    .passes = {FIELDS_INFO, FIELDS_RATES, FIELDS_GAUGES, FIELDS_COUNTERS},
    FIELD_ROWS(disk_fields),
};

int disk_build_payload(const struct disk_stats *prev, const struct disk_stats *cur, int64_t t_ms,
		       cJSON **ret_payload)
{
	cJSON *payload, *arr;
	uint64_t dt_ns;
	size_t hint = 0;
	int r = -ENOMEM;

	*ret_payload = NULL;
	dt_ns = procfs_elapsed(prev, prev ? prev->mono_ns : 0, cur->mono_ns);
	payload = json_payload_array(t_ms, "disks", &arr);
	if (!payload)
		goto out;
	for (size_t i = 0; i < cur->n; i++) {
		const struct disk_dev *d = &cur->v[i], *p = NULL;

		if (!d->included)
			continue;
		if (prev)
			p = disk_find(prev, d, &hint);
		if (fields_json_append(
			arr, &disk_table, &(struct field_inst){d, disk_has_mask(d), NULL},
			p ? &(struct field_inst){p, disk_has_mask(p), NULL} : NULL, dt_ns) < 0)
			goto out;
	}
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* --- the collector --- */

/* Marks the devices the payload carries; whether one is a partition is
 * asked of sysfs once, when it appears, and carried over afterwards. */
static void disk_classify(struct flat *f, const struct collector_env *env,
			  const struct collector_tick *tick)
{
	const struct disk_settings *set = f->settings;
	const struct list *disks = set ? &set->disks : NULL;
	struct disk_stats *cur = f->cur;
	size_t hint = 0;

	cur->mono_ns = tick->mono_ns;
	for (size_t i = 0; i < cur->n; i++) {
		struct disk_dev *d = &cur->v[i];
		const struct disk_dev *p = f->have_prev ? disk_find(f->prev, d, &hint) : NULL;

		d->included = disk_wanted(disks, d);
		if (p)
			d->partition = p->partition;
		if (d->included && d->partition == DISK_PART_UNSEEN)
			d->partition = disk_partition(env->sys_fd, d);
	}
}

/* The flat runtime's reading is a struct disk_stats. */
static int disk_parse(const char *text, size_t len, void *reading, size_t index)
{
	return disk_stats_parse(text, len, reading);
}

/* Every tick sends the included devices; rates need the previous reading
 * of the same device. */
static int disk_payload(const struct flat *f, const void *prev, const struct collector_tick *tick,
			cJSON **ret_payload)
{
	return disk_build_payload(prev, f->cur, tick->t_ms, ret_payload);
}

static void disk_free(void *reading)
{
	disk_stats_free(reading);
}

static void disk_reset(void *reading)
{
	((struct disk_stats *)reading)->n = 0;
}

/* The page's chart of each device's throughput (see daemon/history.h). */
static const char *const disk_history[] = {"disks[].name", "disks[].partition",
					   "disks[].read_bytes_per_s", "disks[].write_bytes_per_s",
					   NULL};

/* The families for the devices the payload shows, from the last good
 * reading (prev; cur is scratch); a line without a field (old kernels'
 * partitions have four) leaves that device out of it. */
static int disk_metrics(const struct flat *f, struct metrics *m)
{
	const struct disk_stats *st = f->prev;
	struct field_insts x = {0};
	int r;

	r = fields_insts_init(&x, st->n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < st->n; i++) {
		if (st->v[i].included)
			fields_insts_add(&x, &st->v[i], disk_has_mask(&st->v[i]), "device",
					 st->v[i].name, NULL, NULL);
	}
	fields_prom(m, &disk_table, x.v, x.n);
	fields_insts_free(&x);
	return metrics_error(m);
}

static const struct field_table *const disk_tables[] = {&disk_table, NULL};

static const struct setting disk_keys[] = {
    SETTING("disks", SET_LIST, offsetof(struct disk_settings, disks), 0, LIST_MAX, NULL),
    {0},
};

static const struct flat_file disk_files[] = {
    {.path = "diskstats", .max = DISK_STATS_MAX, .parse = disk_parse},
};

static const struct flat_desc disk_flat = {
    .files = disk_files,
    .n_files = 1,
    .reading_size = sizeof(struct disk_stats),
    .prepare = disk_classify,
    .payload = disk_payload,
    .metrics = disk_metrics,
    .reset = disk_reset,
    .reading_free = disk_free,
};

FLAT_COLLECTOR(disk, .name = "disk", .settings = disk_keys,
	       .settings_size = sizeof(struct disk_settings), .history = disk_history,
	       .fields = disk_tables);
