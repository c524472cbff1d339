/* The `load` topic's collector: /proc/loadavg and /proc/uptime parsed each tick
 * into the payload and node_exporter's loadavg families; on a proc root
 * that is a procfs, uptime comes from CLOCK_BOOTTIME instead. */
#include "load.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include <linux/magic.h>

#include "fields.h"
#include "flat.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"

/* Splits the only line of text, which must end in '\n' and be followed by
 * nothing, into exactly n tokens; fewer or more is an error. */
static int load_tokens(const char *text, size_t len, const char **tok, size_t *tok_len, size_t n)
{
	const char *p = text, *end = text + len, *line, *extra;
	size_t line_len, extra_len;
	int r;

	r = procfs_next_line(&p, end, &line, &line_len);
	if (r < 0)
		return r;
	if (r == 0 || p != end)
		return -EINVAL;
	p = line;
	end = line + line_len;
	for (size_t i = 0; i < n; i++) {
		if (procfs_next_token(&p, end, &tok[i], &tok_len[i]) <= 0)
			return -EINVAL;
	}
	if (procfs_next_token(&p, end, &extra, &extra_len) > 0)
		return -EINVAL;
	return 0;
}

/* A number with at most two decimals, as the kernel prints "%lu.%02lu". */
static int load_parse_centi(const char *s, size_t len, double *ret)
{
	uint64_t v;
	int r;

	r = procfs_parse_fixed(s, len, 2, &v);
	if (r < 0)
		return r;
	*ret = (double)v / 100.0;
	return 0;
}

/* Fields: 0-2 load averages over 1, 5 and 15 minutes, 3 "running/tasks",
 * 4 the last pid. */
int load_avg_parse(const char *text, size_t len, struct load_avg *ret)
{
	const char *tok[5], *slash;
	size_t tok_len[5];
	struct load_avg la;
	int r;

	r = load_tokens(text, len, tok, tok_len, 5);
	if (r < 0)
		goto out;
	if ((r = load_parse_centi(tok[0], tok_len[0], &la.load1)) < 0 ||
	    (r = load_parse_centi(tok[1], tok_len[1], &la.load5)) < 0 ||
	    (r = load_parse_centi(tok[2], tok_len[2], &la.load15)) < 0)
		goto out;
	slash = memchr(tok[3], '/', tok_len[3]);
	if (!slash) {
		r = -EINVAL;
		goto out;
	}
	if ((r = procfs_parse_u64(tok[3], (size_t)(slash - tok[3]), &la.running)) < 0 ||
	    (r = procfs_parse_u64(slash + 1, tok_len[3] - (size_t)(slash - tok[3]) - 1,
				  &la.tasks)) < 0 ||
	    (r = procfs_parse_u64(tok[4], tok_len[4], &la.last_pid)) < 0)
		goto out;
	*ret = la;
out:
	return r;
}

/* Fields: 0 seconds since boot, 1 idle seconds summed over CPUs. */
int load_uptime_parse(const char *text, size_t len, struct load_uptime *ret)
{
	const char *tok[2];
	size_t tok_len[2];
	struct load_uptime up;
	int r;

	r = load_tokens(text, len, tok, tok_len, 2);
	if (r < 0)
		goto out;
	if ((r = load_parse_centi(tok[0], tok_len[0], &up.uptime)) < 0 ||
	    (r = load_parse_centi(tok[1], tok_len[1], &up.idle)) < 0)
		goto out;
	*ret = up;
out:
	return r;
}

/* The payload's fields and node_exporter's loadavg families. Uptime has
 * no family: node_boot_time_seconds (cpu topic, from /proc/stat) is how
 * Prometheus users get it; nor have the task counts. */
static const struct field load_avg_fields[] = {
    FIELD(.source = "field 1", .json = "load1", .prom = "node_load1", .type = FIELD_GAUGE,
	  .help = "1m load average.", FIELD_AT(struct load_avg, load1)),
    FIELD(.source = "field 2", .json = "load5", .prom = "node_load5", .type = FIELD_GAUGE,
	  .help = "5m load average.", FIELD_AT(struct load_avg, load5)),
    FIELD(.source = "field 3", .json = "load15", .prom = "node_load15", .type = FIELD_GAUGE,
	  .help = "15m load average.", FIELD_AT(struct load_avg, load15)),
    FIELD(.source = "field 4, before '/'", .json = "running", .type = FIELD_GAUGE, .unit = "tasks",
	  .help = "Runnable scheduling entities (threads included).",
	  FIELD_AT(struct load_avg, running)),
    FIELD(.source = "field 4, after '/'", .json = "tasks", .type = FIELD_GAUGE, .unit = "tasks",
	  .help = "All scheduling entities (threads included).", FIELD_AT(struct load_avg, tasks)),
};

static const struct field_table load_avg_table = {
    .path = "",
    .file = "/proc/loadavg",
    .passes = {FIELDS_VALUES},
    FIELD_ROWS(load_avg_fields),
};

static const struct field load_uptime_fields[] = {
    FIELD(.source = "field 1", .json = "uptime", .type = FIELD_GAUGE, .unit = "seconds",
	  .help = "Seconds since boot.", FIELD_AT(struct load_uptime, uptime)),
};

static const struct field_table load_uptime_table = {
    .path = "",
    .file = "/proc/uptime",
    .passes = {FIELDS_VALUES},
    FIELD_ROWS(load_uptime_fields),
};

int load_build_payload(const struct load_avg *la, const struct load_uptime *up, int64_t t_ms,
		       cJSON **ret_payload)
{
	cJSON *payload;
	int r = -ENOMEM;

	*ret_payload = NULL;
	payload = json_payload(t_ms);
	if (!payload)
		goto out;
	r = fields_json(payload, &load_avg_table, &(struct field_inst){la, 0, NULL}, NULL, 0);
	if (r < 0)
		goto out;
	r = fields_json(payload, &load_uptime_table, &(struct field_inst){up, 0, NULL}, NULL, 0);
	if (r < 0)
		goto out;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* The flat runtime's reading: both files. */
struct load_reading {
	struct load_avg la;
	struct load_uptime up;
};

/* Whether the proc root is a procfs, for the root it was asked of. */
struct load_own {
	bool known, live;
	dev_t dev;
	ino_t ino;
};

/* /proc/uptime's first field is CLOCK_BOOTTIME, in the reader's time
 * namespace whichever procfs shows it, cut to hundredths: the clock says
 * the same on a proc root that is a procfs, without a read (a pread costs
 * a few us a tick; the clock is read in user space, through the vDSO).
 * A fixture tree's file is read. idle (not in the payload) stays 0. */
static bool load_uptime_clock(struct flat *f, const struct collector_env *env, void *reading)
{
	struct load_uptime *up = &((struct load_reading *)reading)->up;
	const struct stat *root = env->proc_st;
	struct load_own *own = f->own;
	struct statfs sfs;
	struct timespec ts;
	struct stat st;

	if (!root && fstat(env->proc_fd, &st) < 0)
		return false;
	if (!root)
		root = &st;
	if (!own->known || root->st_dev != own->dev || root->st_ino != own->ino) {
		own->live = fstatfs(env->proc_fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
		own->dev = root->st_dev;
		own->ino = root->st_ino;
		own->known = true;
	}
	if (!own->live || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return false;
	up->uptime = (double)((uint64_t)ts.tv_sec * 100 + (uint64_t)ts.tv_nsec / 10000000) / 100.0;
	up->idle = 0;
	return true;
}

static int load_parse_avg(const char *text, size_t len, void *reading, size_t index)
{
	return load_avg_parse(text, len, &((struct load_reading *)reading)->la);
}

static int load_parse_uptime(const char *text, size_t len, void *reading, size_t index)
{
	return load_uptime_parse(text, len, &((struct load_reading *)reading)->up);
}

static int load_payload(const struct flat *f, const void *prev, const struct collector_tick *tick,
			cJSON **ret_payload)
{
	const struct load_reading *cur = f->cur;

	return load_build_payload(&cur->la, &cur->up, tick->t_ms, ret_payload);
}

static int load_metrics(const struct flat *f, struct metrics *m)
{
	const struct load_reading *rd = f->prev;

	fields_prom(m, &load_avg_table, &(struct field_inst){&rd->la, 0, NULL}, 1);
	return metrics_error(m);
}

/* Both files are one short line; uptime is the clock on a procfs. */
static const struct flat_file load_files[] = {
    {.path = "loadavg", .max = 4096, .parse = load_parse_avg, .shared = true},
    {.path = "uptime", .max = 4096, .parse = load_parse_uptime, .instead = load_uptime_clock},
};

static const struct flat_desc load_flat = {
    .files = load_files,
    .n_files = 2,
    .reading_size = sizeof(struct load_reading),
    .own_size = sizeof(struct load_own),
    .payload = load_payload,
    .metrics = load_metrics,
};

static const char *const load_history[] = {"load1", "load5", "load15", NULL};

static const struct field_table *const load_tables[] = {&load_avg_table, &load_uptime_table, NULL};

FLAT_COLLECTOR(load, .name = "load", .history = load_history, .fields = load_tables);
