/* The `svc` topic's collector: the services under system.slice found each
 * tick, their cgroup files read through held fds, rates from counter
 * deltas, and the top services by CPU and by memory. */
#include "svc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "metrics.h"
#include "procfs.h"
#include "json.h"
#include "svc_parse.h"
#include "topn.h"

/* io.stat holds a line of ~100 bytes per device. */
#define SVC_READ_BUF  (64u << 10)
#define SVC_DENTS_BUF (16u << 10)
#define SVC_NAME_MAX  256 /* systemd's unit names are at most 255 bytes */
#define SVC_MAX_DEPTH 3   /* slices below system.slice that are looked into */
#define SVC_MAX       4096
/* Held fds, 4 a service; beyond, files are opened by path each tick. */
#define SVC_FD_MAX 4096

#define SVC_SWAP(a, b)                                                                             \
	do {                                                                                       \
		int tmp_ = (a);                                                                    \
		(a) = (b);                                                                         \
		(b) = tmp_;                                                                        \
	} while (0)

enum svc_file {
	SVC_CPU,
	SVC_MEM,
	SVC_PIDS,
	SVC_IO,
	SVC_NFILES,
};

static const char *const svc_files[SVC_NFILES] = {"cpu.stat", "memory.current", "pids.current",
						  "io.stat"};

struct svc_entry {
	char *name;                 /* the unit, "ssh.service" */
	char *path;                 /* its cgroup under fs/cgroup, "system.slice/ssh.service" */
	int fd[SVC_NFILES];         /* -1: not held */
	uint64_t retry[SVC_NFILES]; /* a missing file: tick to look again */
	uint32_t gen;
	struct procfs_counter cpu, rd, wr;
	/* this tick; -1 is null */
	int64_t cpu_h; /* hundredths of a percent of one core */
	int64_t mem, pids, io_r, io_w;
	bool in_top; /* in this tick's top_cpu or top_mem rows: shown in metrics */
};

struct svc_state {
	const struct svc_settings *set;
	int cg_fd;    /* fs/cgroup (O_PATH) */
	int slice_fd; /* fs/cgroup/system.slice, for getdents64 */
	dev_t root_dev;
	ino_t root_ino;
	struct svc_entry *v; /* sorted by name */
	size_t n, cap;
	uint32_t gen;
	uint64_t ticks;
	size_t held;
	char *buf;
	char *dents;
	struct topn top;
	bool have; /* a tick's payload was built */
};

/* --- rates --- */

/* value * scale / dt_ns, rounded half up, from two readings of a counter;
 * -1 on the first reading, when the counter went backwards (one delta
 * skipped) or when no time passed. Keeps the reading. */
static int64_t svc_rate(struct procfs_counter *c, uint64_t value, uint64_t mono_ns, uint64_t scale)
{
	struct procfs_counter prev = *c;
	uint64_t dv, dt;

	c->value = value;
	c->mono_ns = mono_ns;
	c->valid = true;
	if (!prev.valid || procfs_delta(prev.value, value, &dv) < 0 ||
	    procfs_delta(prev.mono_ns, mono_ns, &dt) < 0 || dt == 0)
		return -1;
#ifdef __SIZEOF_INT128__
	{
		unsigned __int128 q = ((unsigned __int128)dv * scale + dt / 2) / dt;

		return q > INT64_MAX ? INT64_MAX : (int64_t)q;
	}
#else
	{
		long double q = (long double)dv * (long double)scale / (long double)dt + 0.5L;

		return q >= 9223372036854775807.0L ? INT64_MAX : (int64_t)q;
	}
#endif
}

/* --- the service table --- */

static void svc_close(struct svc_state *s, struct svc_entry *e)
{
	for (size_t k = 0; k < SVC_NFILES; k++) {
		if (e->fd[k] >= 0) {
			close(e->fd[k]);
			s->held--;
		}
		e->fd[k] = -1;
		e->retry[k] = 0;
	}
}

/* Gives memory back once most services are gone. */
static void svc_shrink(struct svc_state *s)
{
	if (s->cap > 32 && s->n < s->cap / 4) {
		struct svc_entry *v = reallocarray(s->v, s->cap / 2, sizeof(*v));

		if (v) {
			s->v = v;
			s->cap /= 2;
		}
	}
}

static void svc_drop(struct svc_state *s, size_t i)
{
	svc_close(s, &s->v[i]);
	free(s->v[i].name);
	free(s->v[i].path);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* Index of name, or where it would go (*found false). */
static size_t svc_find(const struct svc_state *s, const char *name, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int svc_add(struct svc_state *s, size_t at, const char *name, const char *dir)
{
	struct svc_entry e = {0};
	int r = -ENOMEM;

	if (s->n >= SVC_MAX)
		return -E2BIG;
	if (ARRAY_GROW(s->v, s->cap, s->n, 32) < 0)
		goto out;
	e.name = strdup(name);
	if (!e.name || asprintf(&e.path, "%s/%s", dir, name) < 0) {
		e.path = NULL;
		goto out;
	}
	for (size_t k = 0; k < SVC_NFILES; k++)
		e.fd[k] = -1;
	e.gen = s->gen;
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	s->v[at] = e;
	s->n++;
	e.name = e.path = NULL;
	r = 0;
out:
	free(e.name);
	free(e.path);
	return r;
}

static bool svc_has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && memcmp(name + n - k, suffix, k) == 0;
}

/* Lists one slice directory (fd open for reading, at path dir under
 * fs/cgroup): marks or adds its services, and descends into its slices. */
static int svc_list(struct svc_state *s, int fd, const char *dir, unsigned depth)
{
	char *buf = s->dents + (size_t)depth * (SVC_DENTS_BUF / (SVC_MAX_DEPTH + 1));
	size_t size = SVC_DENTS_BUF / (SVC_MAX_DEPTH + 1);
	int r;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		ssize_t n = getdents64(fd, buf, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *d = (const struct dirent64 *)(buf + off);
			bool found;
			size_t i;

			off += d->d_reclen;
			if ((d->d_type != DT_DIR && d->d_type != DT_UNKNOWN) ||
			    strlen(d->d_name) >= SVC_NAME_MAX)
				continue;
			if (svc_has_suffix(d->d_name, ".service")) {
				i = svc_find(s, d->d_name, &found);
				if (found) {
					s->v[i].gen = s->gen;
					continue;
				}
				r = svc_add(s, i, d->d_name, dir);
				if (r == -ENOMEM)
					return r;
			} else if (svc_has_suffix(d->d_name, ".slice") && depth < SVC_MAX_DEPTH) {
				char sub[PATH_MAX];
				int sfd;

				if (snprintf(sub, sizeof(sub), "%s/%s", dir, d->d_name) >=
				    (int)sizeof(sub))
					continue;
				sfd = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (sfd < 0)
					continue; /* gone meanwhile */
				r = svc_list(s, sfd, sub, depth + 1);
				close(sfd);
				if (r == -ENOMEM)
					return r;
			}
		}
	}
}

/* --- reading one service --- */

/* Reads file k of e into s->buf: through the held fd, or by path (kept
 * when the budget allows). A file found missing is looked for again only
 * after SVC_RETRY_TICKS. Returns its length or -errno. */
static ssize_t svc_read(struct svc_state *s, struct svc_entry *e, enum svc_file k)
{
	char path[PATH_MAX];
	int fd = e->fd[k];
	ssize_t n;

	if (fd < 0) {
		if (e->retry[k] > s->ticks)
			return -ENOENT;
		if (snprintf(path, sizeof(path), "%s/%s", e->path, svc_files[k]) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
		fd = openat(s->cg_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			n = -errno;
			if (n == -ENOENT)
				e->retry[k] = s->ticks + SVC_RETRY_TICKS;
			return n;
		}
		if (s->held < SVC_FD_MAX) {
			e->fd[k] = fd;
			s->held++;
		}
	}
	n = procfs_pread(fd, s->buf, SVC_READ_BUF);
	if (fd != e->fd[k]) {
		close(fd);
	} else if (n == -ENODEV || n == -ENOENT) {
		/* the cgroup or its controller went away: look again later */
		close(fd);
		e->fd[k] = -1;
		s->held--;
	}
	return n;
}

/* One tick of one service. Returns 0, or -ENOENT when its cgroup is gone
 * (cpu.stat, which every cgroup v2 directory has, cannot be read). */
static int svc_sample_one(struct svc_state *s, struct svc_entry *e, uint64_t mono_ns)
{
	uint64_t v, w;
	ssize_t n;

	e->cpu_h = e->mem = e->pids = e->io_r = e->io_w = -1;
	n = svc_read(s, e, SVC_CPU);
	if (n == -ENOENT || n == -ENODEV)
		return -ENOENT;
	if (n >= 0 && svc_cpu_stat_parse(s->buf, (size_t)n, &v) == 0)
		/* usec over ns, in hundredths of a percent */
		e->cpu_h = svc_rate(&e->cpu, v, mono_ns, 10000000u);
	else
		e->cpu.valid = false;
	n = svc_read(s, e, SVC_MEM);
	if (n >= 0 && svc_single_parse(s->buf, (size_t)n, &v) == 0)
		e->mem = v > INT64_MAX ? INT64_MAX : (int64_t)v;
	n = svc_read(s, e, SVC_PIDS);
	if (n >= 0 && svc_single_parse(s->buf, (size_t)n, &v) == 0)
		e->pids = v > INT64_MAX ? INT64_MAX : (int64_t)v;
	n = svc_read(s, e, SVC_IO);
	if (n >= 0 && svc_io_stat_parse(s->buf, (size_t)n, &v, &w) == 0) {
		e->io_r = svc_rate(&e->rd, v, mono_ns, 1000000000u);
		e->io_w = svc_rate(&e->wr, w, mono_ns, 1000000000u);
	} else {
		e->rd.valid = e->wr.valid = false;
	}
	return 0;
}

/* --- the payload --- */

static bool svc_cpu_better(const void *a, const void *b)
{
	const struct svc_entry *x = a, *y = b;

	if (x->cpu_h != y->cpu_h)
		return x->cpu_h > y->cpu_h;
	return strcmp(x->name, y->name) < 0;
}

static bool svc_mem_better(const void *a, const void *b)
{
	const struct svc_entry *x = a, *y = b;

	if (x->mem != y->mem)
		return x->mem > y->mem;
	return strcmp(x->name, y->name) < 0;
}

static bool svc_add_value(cJSON *o, const char *key, int64_t v, double div)
{
	if (v < 0)
		return cJSON_AddNullToObject(o, key) != NULL;
	return cJSON_AddNumberToObject(o, key, (double)v / div) != NULL;
}

static int svc_row(const struct svc_entry *e, cJSON *arr)
{
	cJSON *row = cJSON_CreateObject();

	if (!row || !cJSON_AddItemToArray(arr, row)) {
		cJSON_Delete(row);
		return -ENOMEM;
	}
	if (json_str(row, "unit", e->name) < 0 || !svc_add_value(row, "cpu_pct", e->cpu_h, 100.0) ||
	    !svc_add_value(row, "mem_bytes", e->mem, 1) ||
	    !svc_add_value(row, "tasks", e->pids, 1) ||
	    !svc_add_value(row, "io_read_bytes_per_s", e->io_r, 1) ||
	    !svc_add_value(row, "io_write_bytes_per_s", e->io_w, 1))
		return -ENOMEM;
	return 0;
}

/* The first n of the services that have the field, best first. */
static int svc_top(struct svc_state *s, cJSON *payload, const char *key, size_t n, bool by_cpu)
{
	cJSON *arr = cJSON_AddArrayToObject(payload, key);
	size_t len;

	if (!arr || topn_start(&s->top, n, by_cpu ? svc_cpu_better : svc_mem_better) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		if ((by_cpu ? s->v[i].cpu_h : s->v[i].mem) >= 0)
			topn_offer(&s->top, &s->v[i]);
	}
	len = topn_sort(&s->top);
	for (size_t i = 0; i < len; i++) {
		struct svc_entry *e = s->top.v[i];

		e->in_top = true;
		if (svc_row(e, arr) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int svc_payload(struct svc_state *s, const struct collector_env *env, int64_t t_ms,
		       cJSON **ret_payload)
{
	size_t top_n = s->set && s->set->top_n ? s->set->top_n : 15;
	cJSON *payload = NULL;
	int r = -ENOMEM;

	for (size_t i = 0; i < s->n; i++)
		s->v[i].in_top = false;
	s->have = true;
	payload = cJSON_CreateObject();
	if (!payload || !cJSON_AddNumberToObject(payload, "t", (double)t_ms) ||
	    !cJSON_AddNumberToObject(payload, "services", (double)s->n))
		goto out;
	r = svc_top(s, payload, "top_cpu", top_n, true);
	if (r < 0)
		goto out;
	r = svc_top(s, payload, "top_mem", top_n, false);
	if (r < 0)
		goto out;
	*ret_payload = payload;
	payload = NULL;
out:
	cJSON_Delete(payload);
	return r;
}

/* --- metrics --- */

/* One family over the services of the last top rows, in name order:
 * field returns false for a service without the value. */
static void svc_family(const struct svc_state *s, struct metrics *m, const char *name,
		       const char *type, const char *help,
		       bool (*field)(const struct svc_entry *e, double *ret))
{
	double v;

	metrics_family(m, name, type, help);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].in_top && field(&s->v[i], &v))
			metrics_sample(m, name, (const char *const[]){"unit", s->v[i].name, NULL},
				       v);
}

static bool svc_field_cpu(const struct svc_entry *e, double *ret)
{
	*ret = (double)e->cpu.value / 1e6;
	return e->cpu.valid;
}

static bool svc_field_mem(const struct svc_entry *e, double *ret)
{
	*ret = (double)e->mem;
	return e->mem >= 0;
}

static bool svc_field_tasks(const struct svc_entry *e, double *ret)
{
	*ret = (double)e->pids;
	return e->pids >= 0;
}

static bool svc_field_rd(const struct svc_entry *e, double *ret)
{
	*ret = (double)e->rd.value;
	return e->rd.valid;
}

static bool svc_field_wr(const struct svc_entry *e, double *ret)
{
	*ret = (double)e->wr.value;
	return e->wr.valid;
}

/* The services of the last tick's top_cpu and top_mem rows (at most twice
 * top-n units): raw cgroup counters as read, plus how many services there
 * were. Nothing before the first tick. */
static int svc_metrics(void *state, struct metrics *m)
{
	const struct svc_state *s = state;

	if (!s->have)
		return 0;
	metrics_family(m, "sysfeed_services", "gauge", "Systemd services seen in system.slice.");
	metrics_sample(m, "sysfeed_services", NULL, (double)s->n);
	svc_family(s, m, "sysfeed_service_cpu_seconds_total", "counter",
		   "CPU time used by the service's cgroup (top services only).", svc_field_cpu);
	svc_family(s, m, "sysfeed_service_memory_bytes", "gauge",
		   "Memory charged to the service's cgroup (top services only).", svc_field_mem);
	svc_family(s, m, "sysfeed_service_tasks", "gauge",
		   "Tasks in the service's cgroup (top services only).", svc_field_tasks);
	svc_family(s, m, "sysfeed_service_io_read_bytes_total", "counter",
		   "Bytes the service's cgroup read from block devices (top services only).",
		   svc_field_rd);
	svc_family(s, m, "sysfeed_service_io_written_bytes_total", "counter",
		   "Bytes the service's cgroup wrote to block devices (top services only).",
		   svc_field_wr);
	return metrics_error(m);
}

/* --- the collector --- */

static void svc_fini(void *state)
{
	struct svc_state *s = state;

	if (!s)
		return;
	while (s->n > 0)
		svc_drop(s, s->n - 1);
	if (s->cg_fd >= 0)
		close(s->cg_fd);
	if (s->slice_fd >= 0)
		close(s->slice_fd);
	free(s->v);
	free(s->buf);
	free(s->dents);
	topn_free(&s->top);
	free(s);
}

/* Opens fs/cgroup and system.slice under the sys root, after checking
 * that fs/cgroup is the unified hierarchy. On a new root (a test switching
 * snapshots) the held fds are closed; the services and their counters
 * stay. Writes the reason when it fails. */
static int svc_open_root(struct svc_state *s, int sys_fd, char *reason, size_t reason_len)
{
	struct stat st;
	int cg = -1, slice = -1, r = 0;

	if (fstat(sys_fd, &st) < 0) {
		r = -errno;
		snprintf(reason, reason_len, "/sys: %s", strerror(-r));
		goto out;
	}
	cg = openat(sys_fd, "fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		r = -errno;
		snprintf(reason, reason_len, "/sys/fs/cgroup: %s", strerror(-r));
		goto out;
	}
	if (faccessat(cg, "cgroup.controllers", F_OK, 0) < 0) {
		r = -EOPNOTSUPP;
		snprintf(
		    reason, reason_len,
		    "cgroup v1/hybrid: no per-service accounting in cgroup v2 at /sys/fs/cgroup");
		goto out;
	}
	slice = openat(cg, "system.slice", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slice < 0) {
		r = -errno;
		snprintf(reason, reason_len,
			 "/sys/fs/cgroup/system.slice: %s (not run by systemd?)", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < s->n; i++)
		svc_close(s, &s->v[i]);
	SVC_SWAP(cg, s->cg_fd);
	SVC_SWAP(slice, s->slice_fd);
	s->root_dev = st.st_dev;
	s->root_ino = st.st_ino;
out:
	if (cg >= 0)
		close(cg);
	if (slice >= 0)
		close(slice);
	return r;
}

/* Opens the unified hierarchy's system.slice under the sys root, so that a
 * host without it turns the topic off now with the reason. */
static int svc_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct svc_state *s;
	char why[256] = "";
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->set = settings;
	s->cg_fd = s->slice_fd = -1;
	s->buf = malloc(SVC_READ_BUF);
	s->dents = malloc(SVC_DENTS_BUF);
	if (!s->buf || !s->dents)
		goto out;
	r = svc_open_root(s, env->sys_fd, why, sizeof(why));
	if (r < 0)
		goto out;
	*ret_state = s;
	s = NULL;
out:
	if (r < 0 && reason && reason_len > 0)
		snprintf(reason, reason_len, "%s", why[0] ? why : strerror(-r));
	svc_fini(s);
	return r;
}

/* Each tick lists system.slice (and the slices in it) for services, drops
 * the ones no longer there, and reads each one's files. The first tick of
 * a service has no rates. */
static int svc_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct svc_state *s = state;
	struct stat st;
	char why[256];
	int r;

	*ret_payload = NULL;
	s->ticks++;
	if (fstat(env->sys_fd, &st) < 0)
		return -errno;
	if (st.st_dev != s->root_dev || st.st_ino != s->root_ino) {
		r = svc_open_root(s, env->sys_fd, why, sizeof(why));
		if (r < 0)
			return r;
	}
	s->gen++;
	r = svc_list(s, s->slice_fd, "system.slice", 0);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n;) {
		if (s->v[i].gen != s->gen || svc_sample_one(s, &s->v[i], tick->mono_ns) < 0)
			svc_drop(s, i);
		else
			i++;
	}
	svc_shrink(s);
	return svc_payload(s, env, tick->t_ms, ret_payload);
}

static const char *const svc_history[] = {"services", NULL};

static const struct collector_top svc_tops[] = {
    {"top_cpu", false, NULL, "unit", "cpu_pct", "mem_bytes"},
    {"top_mem", true, NULL, "unit", "cpu_pct", "mem_bytes"},
    {0},
};

static const struct setting svc_keys[] = {
    SETTING("top-n", SET_UINT, offsetof(struct svc_settings, top_n), 1, 100, "15"),
    {0},
};

const struct collector svc_collector = {
    .name = "svc",
    .settings = svc_keys,
    .settings_size = sizeof(struct svc_settings),
    .history = svc_history,
    .tops = svc_tops,
    .init = svc_init,
    .sample = svc_sample,
    .metrics = svc_metrics,
    .fini = svc_fini,
};
