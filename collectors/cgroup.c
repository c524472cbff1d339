/* The cgroup hierarchies of a host on any layout, and one cgroup's numbers
 * read from them through held fds with the same names on v2, v1 and
 * hybrid hosts (see cgroup.h). */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "metrics.h"
#include "svc_parse.h"

/* io.stat holds a line of ~100 bytes per device, cgroup.procs a line per
 * process: what does not fit is not read (the first pid is at the start). */
#define CGROUP_READ_BUF (64u << 10)
/* Limits above this are "no limit" (v1 writes PAGE_COUNTER_MAX pages). */
#define CGROUP_NO_LIMIT (UINT64_C(1) << 62)

/* Each hierarchy's directory under fs/cgroup on v1, and a file its root
 * has (a plain directory of that name is not the mount). */
static const struct {
	const char *dir, *probe;
} cgroup_hiers[CGROUP_NHIER] = {
    [CGROUP_H_UNIFIED] = {"unified", "cgroup.controllers"},
    [CGROUP_H_SYSTEMD] = {"systemd", "cgroup.procs"},
    [CGROUP_H_CPUACCT] = {"cpuacct", "cpuacct.usage"},
    [CGROUP_H_MEMORY] = {"memory", "memory.usage_in_bytes"},
    [CGROUP_H_PIDS] = {"pids", "cgroup.procs"},
    [CGROUP_H_BLKIO] = {"blkio", "cgroup.procs"},
    [CGROUP_H_FREEZER] = {"freezer", "cgroup.procs"},
};

/* Each file's name on v2 and on v1, and the v1 hierarchy holding it. */
static const struct {
	const char *v2, *v1;
	enum cgroup_hier hier;
} cgroup_names[CGROUP_NFILES] = {
    [CGROUP_CPU] = {"cpu.stat", "cpuacct.usage", CGROUP_H_CPUACCT},
    [CGROUP_MEM] = {"memory.current", "memory.usage_in_bytes", CGROUP_H_MEMORY},
    [CGROUP_PIDS] = {"pids.current", "pids.current", CGROUP_H_PIDS},
    [CGROUP_IO] = {"io.stat", "blkio.throttle.io_service_bytes", CGROUP_H_BLKIO},
    [CGROUP_LIMIT] = {"memory.max", "memory.limit_in_bytes", CGROUP_H_MEMORY},
    [CGROUP_OOM] = {"memory.events", "memory.oom_control", CGROUP_H_MEMORY},
    [CGROUP_FREEZE] = {"cgroup.events", "freezer.state", CGROUP_H_FREEZER},
    [CGROUP_PROCS] = {"cgroup.procs", "cgroup.procs", CGROUP_H_MEMORY},
    [CGROUP_IO_TREE] = {"io.stat", "blkio.throttle.io_service_bytes_recursive", CGROUP_H_BLKIO},
};

const char *cgroup_layout_name(enum cgroup_layout layout)
{
	return layout == CGROUP_V2 ? "v2" : layout == CGROUP_V1 ? "v1" : "hybrid";
}

void cgroup_root_close(struct cgroup_root *root)
{
	for (size_t i = 0; i < CGROUP_NHIER; i++) {
		if (root->fd[i] >= 0)
			close(root->fd[i]);
		root->fd[i] = -1;
	}
}

int cgroup_root_open(struct cgroup_root *root, int sys_fd, char *reason, size_t reason_len)
{
	struct stat st;
	bool any = false;
	int cg, r = 0;

	for (size_t i = 0; i < CGROUP_NHIER; i++)
		root->fd[i] = -1;
	if (fstat(sys_fd, &st) < 0) {
		r = -errno;
		snprintf(reason, reason_len, "/sys: %s", strerror(-r));
		return r;
	}
	root->dev = st.st_dev;
	root->ino = st.st_ino;
	cg = openat(sys_fd, "fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		r = -errno;
		snprintf(reason, reason_len, "/sys/fs/cgroup: %s", strerror(-r));
		return r;
	}
	if (faccessat(cg, "cgroup.controllers", F_OK, 0) == 0) {
		root->layout = CGROUP_V2;
		root->fd[CGROUP_H_UNIFIED] = cg;
		return 0;
	}
	for (size_t i = 0; i < CGROUP_NHIER; i++) {
		char probe[64];
		int fd;

		snprintf(probe, sizeof(probe), "%s/%s", cgroup_hiers[i].dir, cgroup_hiers[i].probe);
		if (faccessat(cg, probe, F_OK, 0) < 0)
			continue;
		fd = openat(cg, cgroup_hiers[i].dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		root->fd[i] = fd;
		any = any || i != CGROUP_H_UNIFIED;
	}
	close(cg);
	if (!any) {
		cgroup_root_close(root);
		snprintf(reason, reason_len,
			 "/sys/fs/cgroup: neither the unified hierarchy nor cgroup v1 controllers");
		return -ENOENT;
	}
	root->layout = root->fd[CGROUP_H_UNIFIED] >= 0 ? CGROUP_HYBRID : CGROUP_V1;
	return 0;
}

bool cgroup_root_same(const struct cgroup_root *root, int sys_fd)
{
	struct stat st;

	return fstat(sys_fd, &st) == 0 && st.st_dev == root->dev && st.st_ino == root->ino;
}

size_t cgroup_name_hiers(const struct cgroup_root *root, int *ret)
{
	struct stat seen[CGROUP_NHIER];
	size_t n = 0;

	for (size_t i = 0; i < CGROUP_NHIER; i++) {
		struct stat st;
		bool dup = false;

		if (root->fd[i] < 0 || fstat(root->fd[i], &st) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			dup = dup || (seen[k].st_dev == st.st_dev && seen[k].st_ino == st.st_ino);
		if (dup)
			continue; /* cpuacct -> cpu,cpuacct */
		seen[n] = st;
		ret[n++] = root->fd[i];
	}
	return n;
}

int cgroup_find_fd(const struct cgroup_root *root)
{
	if (root->layout == CGROUP_V2)
		return root->fd[CGROUP_H_UNIFIED];
	if (root->fd[CGROUP_H_MEMORY] >= 0)
		return root->fd[CGROUP_H_MEMORY];
	return root->fd[CGROUP_H_SYSTEMD];
}

int cgroup_watch(int inotify_fd, int fd, uint32_t mask)
{
	char link[64];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return inotify_add_watch(inotify_fd, link, mask) < 0 ? -errno : 0;
}

bool cgroup_drain(int inotify_fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool dirs = false;
	ssize_t n;

	while ((n = read(inotify_fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(buf + off);

			off += (ssize_t)(sizeof(*ev) + ev->len);
			dirs = dirs || (ev->mask & (IN_ISDIR | IN_Q_OVERFLOW));
		}
	}
	return dirs;
}

int cgroup_reader_init(struct cgroup_reader *rd, const struct cgroup_root *root, size_t held_max)
{
	*rd = (struct cgroup_reader){.root = root, .held_max = held_max};
	rd->buf = malloc(CGROUP_READ_BUF);
	return rd->buf ? 0 : -ENOMEM;
}

void cgroup_reader_metrics(const struct cgroup_reader *rd, struct metrics *m,
			   const char *const names[3], size_t more_fds)
{
	metrics_family(m, names[0], "gauge",
		       "Files of the topic's cgroups (and network namespaces) held open.");
	metrics_sample(m, names[0], NULL, (double)(rd->held + more_fds));
	metrics_family(m, names[1], "counter", "Files of the topic read (pread calls).");
	metrics_sample(m, names[1], NULL, (double)rd->reads);
	metrics_family(
	    m, names[2], "counter",
	    "Idle cgroups' CPU times not read: their parent's CPU time showed them still.");
	metrics_sample(m, names[2], NULL, (double)rd->proven);
}

void cgroup_reader_done(struct cgroup_reader *rd)
{
	free(rd->buf);
	rd->buf = NULL;
}

void cgroup_files_init(struct cgroup_files *f)
{
	for (size_t k = 0; k < CGROUP_NFILES; k++) {
		f->fd[k] = -1;
		f->retry[k] = 0;
	}
}

void cgroup_files_close(struct cgroup_reader *rd, struct cgroup_files *f)
{
	for (size_t k = 0; k < CGROUP_NFILES; k++) {
		if (f->fd[k] >= 0) {
			close(f->fd[k]);
			rd->held--;
		}
		f->fd[k] = -1;
		f->retry[k] = 0;
	}
}

/* Reads file k of the cgroup rel into rd->buf: through the held fd, or by
 * path (kept while the budget allows). A file found missing is looked for
 * again only after CGROUP_RETRY_TICKS (-EAGAIN meanwhile). Returns its
 * length or -errno. */
static ssize_t cgroup_read_file(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel,
				enum cgroup_file k)
{
	const struct cgroup_root *root = rd->root;
	bool v2 = root->layout == CGROUP_V2;
	int dir = root->fd[v2 ? CGROUP_H_UNIFIED : cgroup_names[k].hier];
	char path[PATH_MAX];
	int fd = f->fd[k];
	ssize_t n;

	if (fd < 0) {
		if (dir < 0)
			return -ENOTSUP;
		if (f->retry[k] > rd->ticks)
			return -EAGAIN;
		if (snprintf(path, sizeof(path), "%s/%s", rel,
			     v2 ? cgroup_names[k].v2 : cgroup_names[k].v1) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		fd = openat(dir, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			n = -errno;
			if (n == -ENOENT)
				f->retry[k] = rd->ticks + CGROUP_RETRY_TICKS;
			return n;
		}
		if (rd->held < rd->held_max) {
			f->fd[k] = fd;
			rd->held++;
		}
	}
	n = procfs_pread(fd, rd->buf, CGROUP_READ_BUF);
	rd->reads++;
	if (fd != f->fd[k]) {
		close(fd);
	} else if (n == -ENODEV || n == -ENOENT) {
		/* the cgroup or its controller went away: look again later */
		close(fd);
		f->fd[k] = -1;
		rd->held--;
	}
	return n;
}

static int64_t cgroup_clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* The first pid of a cgroup.procs text ("" when the cgroup is empty). */
static int cgroup_first_pid(const char *text, size_t len, uint64_t *ret)
{
	const char *nl = memchr(text, '\n', len);

	if (!nl || nl == text)
		return -ENODATA;
	return procfs_parse_u64(text, (size_t)(nl - text), ret);
}

/* Parses file k's text (len bytes in buf) into v. */
static void cgroup_parse(enum cgroup_layout layout, enum cgroup_file k, const char *buf, size_t len,
			 struct cgroup_values *v)
{
	bool v2 = layout == CGROUP_V2, frozen;
	uint64_t a, b;

	switch (k) {
	case CGROUP_CPU:
		if (v2 ? svc_cpu_stat_parse(buf, len, &a) == 0 && a <= UINT64_MAX / 1000
		       : svc_single_parse(buf, len, &a) == 0)
			v->cpu_ns = cgroup_clamp(v2 ? a * 1000 : a);
		break;
	case CGROUP_MEM:
		if (svc_single_parse(buf, len, &a) == 0)
			v->mem = cgroup_clamp(a);
		break;
	case CGROUP_PIDS:
		if (svc_single_parse(buf, len, &a) == 0)
			v->pids = cgroup_clamp(a);
		break;
	case CGROUP_IO:
	case CGROUP_IO_TREE:
		if ((v2 ? svc_io_stat_parse : svc_blkio_parse)(buf, len, &a, &b) == 0) {
			v->io_r = cgroup_clamp(a);
			v->io_w = cgroup_clamp(b);
		}
		break;
	case CGROUP_LIMIT:
		if (svc_limit_parse(buf, len, &a) == 0 && a < CGROUP_NO_LIMIT)
			v->limit = (int64_t)a;
		break;
	case CGROUP_OOM:
		if (svc_keyed_parse(buf, len, "oom_kill", &a) == 0)
			v->oom_kills = cgroup_clamp(a);
		break;
	case CGROUP_FREEZE:
		if (v2 ? svc_keyed_parse(buf, len, "frozen", &a) == 0 && a <= 1
		       : svc_freezer_parse(buf, len, &frozen) == 0)
			v->frozen = v2 ? (int64_t)a : frozen;
		break;
	case CGROUP_PROCS:
		if (cgroup_first_pid(buf, len, &a) == 0 && a <= INT_MAX)
			v->pid = (int64_t)a;
		break;
	case CGROUP_NFILES:
		break;
	}
}

/* Reads the files in mask into v (the others stay), noting whether one
 * was read and one found gone. */
static void cgroup_read_into(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel,
			     unsigned mask, struct cgroup_values *v, bool *gone, bool *read)
{
	for (unsigned k = 0; k < CGROUP_NFILES; k++) {
		ssize_t n;

		if (!(mask & (1u << k)))
			continue;
		n = cgroup_read_file(rd, f, rel, (enum cgroup_file)k);
		if (n == -ENOENT || n == -ENODEV)
			*gone = true;
		if (n < 0)
			continue;
		*read = true;
		cgroup_parse(rd->root->layout, (enum cgroup_file)k, rd->buf, (size_t)n, v);
	}
}

static const struct cgroup_values cgroup_none = {-1, -1, -1, -1, -1, -1, -1, -1, -1};

int cgroup_read(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel, unsigned mask,
		struct cgroup_values *v)
{
	bool gone = false, read = false;

	*v = cgroup_none;
	cgroup_read_into(rd, f, rel, mask, v, &gone, &read);
	return gone && !read ? -ENOENT : 0;
}

int64_t cgroup_rate(struct procfs_counter *c, uint64_t value, uint64_t mono_ns, uint64_t scale)
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

void cgroup_stats_update(struct cgroup_stats *st, const struct cgroup_values *v, unsigned mask,
			 uint64_t mono_ns)
{
	if (mask & (1u << CGROUP_CPU)) {
		st->cpu_h = -1;
		if (v->cpu_ns >= 0)
			/* ns over ns, in hundredths of a percent */
			st->cpu_h = cgroup_rate(&st->cpu, (uint64_t)v->cpu_ns, mono_ns, 10000u);
		else
			st->cpu.valid = false;
	}
	if (mask & (1u << CGROUP_MEM))
		st->mem = v->mem;
	if (mask & (1u << CGROUP_PIDS))
		st->pids = v->pids;
	if (!(mask & (1u << CGROUP_IO)))
		return;
	st->io_r = st->io_w = -1;
	if (v->io_r >= 0) {
		st->io_r = cgroup_rate(&st->rd, (uint64_t)v->io_r, mono_ns, 1000000000u);
		st->io_w = cgroup_rate(&st->wr, (uint64_t)v->io_w, mono_ns, 1000000000u);
	} else {
		st->rd.valid = st->wr.valid = false;
	}
}

/* --- units and their groups --- */

/* FNV-1a and a final mix: names that differ in one digit get unrelated
 * phases. */
static unsigned cgroup_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return h;
}

void cgroup_unit_init(struct cgroup_unit *u, const char *key)
{
	*u = (struct cgroup_unit){.cpu_now = -1, .pace.phase = cgroup_hash(key)};
	cgroup_files_init(&u->files);
	u->st.cpu_h = u->st.mem = u->st.pids = u->st.io_r = u->st.io_w = -1;
}

static void cgroup_group_forget(struct cgroup_group *g)
{
	g->io_r = g->io_w = -1;
	g->io_epoch++;
	g->q_valid = false;
	g->failed = false;
	g->misses = 0;
	g->pause_until = 0;
}

int cgroup_unit_join(struct cgroup_groups *gs, struct cgroup_unit *u, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	struct cgroup_group *g = NULL;
	size_t len, at = 0;
	bool found;

	u->group = NULL;
	if (!slash)
		return 0; /* at the root: its P would be the whole host's */
	len = (size_t)(slash - rel);
	for (size_t lo = 0, hi = gs->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(gs->v[mid]->rel, rel, len);

		if (c == 0 && gs->v[mid]->rel[len])
			c = 1;
		if (c == 0) {
			g = gs->v[mid];
			break;
		}
		if (c < 0)
			lo = at = mid + 1;
		else
			hi = at = mid;
	}
	found = g != NULL;
	if (!found) {
		if (ARRAY_GROW(gs->v, gs->cap, gs->n, 8) < 0)
			return -ENOMEM;
		g = calloc(1, sizeof(*g));
		if (!g || !(g->rel = strndup(rel, len))) {
			free(g);
			return -ENOMEM;
		}
		cgroup_files_init(&g->files);
		cgroup_group_forget(g);
		g->p0 = -1;
		memmove(&gs->v[at + 1], &gs->v[at], (gs->n - at) * sizeof(*gs->v));
		gs->v[at] = g;
		gs->n++;
	}
	g->members++;
	g->q_valid = false; /* Q went down by the newcomer's CPU time */
	g->spoiled = true;
	u->group = g;
	u->io_known = false;
	return 0;
}

static void cgroup_group_free(struct cgroup_reader *rd, struct cgroup_group *g)
{
	cgroup_files_close(rd, &g->files);
	free(g->rel);
	free(g);
}

void cgroup_unit_done(struct cgroup_reader *rd, struct cgroup_groups *gs, struct cgroup_unit *u)
{
	struct cgroup_group *g = u->group;

	cgroup_files_close(rd, &u->files);
	u->group = NULL;
	if (!g)
		return;
	g->spoiled = true;
	g->q_valid = false;
	if (--g->members > 0)
		return;
	for (size_t i = 0; i < gs->n; i++) {
		if (gs->v[i] == g) {
			memmove(&gs->v[i], &gs->v[i + 1], (gs->n - i - 1) * sizeof(*gs->v));
			gs->n--;
			break;
		}
	}
	cgroup_group_free(rd, g);
}

void cgroup_groups_close(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	for (size_t i = 0; i < gs->n; i++) {
		cgroup_files_close(rd, &gs->v[i]->files);
		cgroup_group_forget(gs->v[i]);
	}
}

void cgroup_groups_free(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	for (size_t i = 0; i < gs->n; i++)
		cgroup_group_free(rd, gs->v[i]);
	free(gs->v);
	*gs = (struct cgroup_groups){0};
}

int cgroup_set_init(struct cgroup_set *cs, size_t held_max)
{
	*cs = (struct cgroup_set){.inotify_fd = -1};
	for (size_t i = 0; i < CGROUP_NHIER; i++)
		cs->root.fd[i] = -1;
	if (cgroup_reader_init(&cs->rd, &cs->root, held_max) < 0)
		return -ENOMEM;
	cs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return 0;
}

void cgroup_set_root(struct cgroup_set *cs, const struct cgroup_root *root)
{
	cgroup_groups_close(&cs->rd, &cs->groups);
	cgroup_root_close(&cs->root);
	cs->root = *root;
}

void cgroup_set_done(struct cgroup_set *cs)
{
	cgroup_groups_free(&cs->rd, &cs->groups);
	cgroup_root_close(&cs->root);
	cgroup_reader_done(&cs->rd);
	if (cs->inotify_fd >= 0)
		close(cs->inotify_fd);
	cs->inotify_fd = -1;
}

/* What a CPU time reading leaves unknown, in ns: v2's usage_usec is
 * rounded down to µs (see struct cgroup_group). */
static int64_t cgroup_cpu_slack(const struct cgroup_reader *rd)
{
	return rd->root->layout == CGROUP_V2 ? 999 : 0;
}

/* Tests failed in a row without a member found moving before the test is
 * left for CGROUP_IDLE_TICKS (Q moves: another child, or P's own tasks). */
#define CGROUP_GROUP_MISSES 4
/* A group's P is read for the idle members' CPU times, or for the busy
 * members' I/O bytes, when it had at least this many at the last tick:
 * reading it must save reads. */
#define CGROUP_GROUP_MIN 2

void cgroup_tick_begin(struct cgroup_reader *rd, struct cgroup_groups *gs, uint64_t mono_ns)
{
	rd->ticks++;
	rd->dt_ns = rd->mono_ns && mono_ns > rd->mono_ns ? mono_ns - rd->mono_ns : 0;
	rd->mono_ns = mono_ns;
	for (size_t i = 0; i < gs->n; i++) {
		struct cgroup_group *g = gs->v[i];
		struct cgroup_values v = cgroup_none;
		bool had_idle = g->idle_n >= CGROUP_GROUP_MIN,
		     had_busy = g->busy_n >= CGROUP_GROUP_MIN;

		g->p0 = -1;
		g->busy_sum = g->idle_sum = g->read_sum = 0;
		g->busy_n = g->idle_n = g->read_n = g->idle_moved = 0;
		g->still = g->spoiled = g->woke = g->tested = g->retry = false;
		if (!had_busy || cgroup_read(rd, &g->files, g->rel, 1u << CGROUP_IO_TREE, &v) < 0 ||
		    v.io_r < 0 || v.io_r != g->io_r || v.io_w != g->io_w)
			g->io_epoch++;
		g->io_r = v.io_r;
		g->io_w = v.io_w;
		if (had_idle && (!g->q_valid || g->failed) && rd->ticks >= g->pause_until &&
		    cgroup_read(rd, &g->files, g->rel, 1u << CGROUP_CPU, &v) == 0)
			g->p0 = v.cpu_ns;
	}
}

void cgroup_unit_ahead(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel)
{
	struct cgroup_group *g = u->group;
	struct cgroup_values v = cgroup_none;

	u->ahead = true;
	u->in_test = g && !g->tested;
	u->cpu_now = -1;
	if (u->pace.idle) {
		if (g && u->st.cpu.valid) {
			g->idle_sum += u->st.cpu.value;
			g->idle_n++;
			g->idle_moved += u->moved_gen == g->bound_gen;
		} else if (g) {
			g->spoiled = true;
		}
		return;
	}
	u->ahead_gone = u->ahead_read = false;
	cgroup_read_into(rd, &u->files, rel, 1u << CGROUP_CPU, &v, &u->ahead_gone, &u->ahead_read);
	u->cpu_now = v.cpu_ns;
	if (!g)
		return;
	g->busy_n++;
	if (u->cpu_now < 0) {
		g->spoiled = true;
		return;
	}
	g->busy_sum += (uint64_t)u->cpu_now;
	g->read_sum += (uint64_t)u->cpu_now;
	g->read_n++;
}

bool cgroup_tick_test(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	bool again = false, retrying = false;

	for (size_t i = 0; i < gs->n; i++)
		retrying = retrying || gs->v[i]->retry;
	/* v1: exact (no slack, what the idle members ran must be 0); v2: less
	 * than 1/20000 of the tick, in all (struct cgroup_group) */
	int64_t unit = cgroup_cpu_slack(rd), below = unit ? (int64_t)(rd->dt_ns / 20000) : 1;

	for (size_t i = 0; i < gs->n; i++) {
		struct cgroup_group *g = gs->v[i];
		struct cgroup_values v;
		int64_t excess, slack;

		if (retrying ? !g->retry || g->spoiled
			     : g->idle_n < CGROUP_GROUP_MIN || g->spoiled || !g->q_valid ||
				   rd->ticks < g->pause_until)
			continue;
		g->retry = false;
		if (cgroup_read(rd, &g->files, g->rel, 1u << CGROUP_CPU, &v) < 0 || v.cpu_ns < 0)
			continue;
		if (!retrying) {
			g->tested = true;
			gs->tests++;
		}
		/* at most what the idle members ran since their last readings */
		excess = v.cpu_ns - (g->q_low + (int64_t)g->busy_sum + (int64_t)g->idle_sum);
		slack = unit * (int64_t)(1 + g->busy_n + g->idle_moved);
		if (excess < -slack) {
			g->q_valid = false; /* below the bound: P was reset */
		} else if (excess + slack < below) {
			g->still = true;
			gs->passed++;
		} else if (!retrying && g->busy_n > 0) {
			/* more: a busy member may have run between its reading
			 * and P's (the likeliest on a busy host), or an idle one
			 * woke, or Q moved; reading the busy ones and P again
			 * costs less than reading every idle one */
			g->retry = again = true;
		}
	}
	return again;
}

void cgroup_unit_again(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel)
{
	struct cgroup_group *g = u->group;
	struct cgroup_values v = cgroup_none;
	bool gone = false, read = false;

	if (!g || !g->retry || !u->in_test || u->pace.idle || u->cpu_now < 0)
		return;
	cgroup_read_into(rd, &u->files, rel, 1u << CGROUP_CPU, &v, &gone, &read);
	if (v.cpu_ns < u->cpu_now) {
		g->spoiled = true; /* gone, or it went backwards: no test */
		return;
	}
	g->busy_sum += (uint64_t)(v.cpu_ns - u->cpu_now);
	g->read_sum += (uint64_t)(v.cpu_ns - u->cpu_now);
	u->cpu_now = v.cpu_ns;
}

void cgroup_tick_ahead(struct cgroup_reader *rd, struct cgroup_groups *gs, uint64_t mono_ns,
		       size_t n,
		       struct cgroup_unit *(*unit)(void *ctx, size_t i, const char **ret_rel),
		       void *ctx)
{
	struct cgroup_unit *u;
	const char *rel;

	cgroup_tick_begin(rd, gs, mono_ns);
	for (size_t i = 0; i < n; i++) {
		u = unit(ctx, i, &rel);
		cgroup_unit_ahead(rd, u, rel);
	}
	if (!cgroup_tick_test(rd, gs))
		return;
	for (size_t i = 0; i < n; i++) {
		u = unit(ctx, i, &rel);
		cgroup_unit_again(rd, u, rel);
	}
	cgroup_tick_test(rd, gs);
}

void cgroup_tick_end(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	for (size_t i = 0; i < gs->n; i++) {
		struct cgroup_group *g = gs->v[i];

		g->failed = g->tested && !g->still;
		if (g->failed && !g->woke && ++g->misses >= CGROUP_GROUP_MISSES) {
			g->pause_until = rd->ticks + CGROUP_IDLE_TICKS;
			g->misses = 0;
		} else if (!g->failed && g->tested) {
			g->misses = 0;
		}
		/* P read before every member: P - their CPU times <= Q; where
		 * readings are rounded (v2) the last bound alone, its readings
		 * the ones that cancel in the test */
		if (g->p0 >= 0 && !g->spoiled && g->read_n == g->members) {
			int64_t q = g->p0 - (int64_t)g->read_sum;

			if (cgroup_cpu_slack(rd) || !g->q_valid || q > g->q_low)
				g->q_low = q;
			g->q_valid = true;
			g->bound_gen++;
		}
	}
}

/* Leaves the I/O bytes out of mask when u's group says they did not move
 * since they were read (they are then put into v as they were). */
static unsigned cgroup_io_known(const struct cgroup_unit *u, unsigned mask, struct cgroup_values *v)
{
	const unsigned io = 1u << CGROUP_IO;

	if (!(mask & io) || !u->group || !u->io_known || u->io_epoch != u->group->io_epoch ||
	    !u->st.rd.valid || !u->st.wr.valid)
		return mask;
	v->io_r = (int64_t)u->st.rd.value;
	v->io_w = (int64_t)u->st.wr.value;
	return mask & ~io;
}

/* Reads mask (less what is known) into v, after what was read ahead. */
static int cgroup_unit_read(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel,
			    unsigned mask, struct cgroup_values *v, bool ahead)
{
	bool gone = ahead && u->ahead_gone, read = ahead && u->ahead_read;
	unsigned todo;

	*v = cgroup_none;
	if (ahead)
		v->cpu_ns = u->cpu_now;
	todo = cgroup_io_known(u, mask, v) & ~(ahead ? 1u << CGROUP_CPU : 0);
	cgroup_read_into(rd, &u->files, rel, todo, v, &gone, &read);
	if ((todo & (1u << CGROUP_IO)) && u->group) {
		u->io_known = v->io_r >= 0;
		u->io_epoch = u->group->io_epoch;
	}
	return gone && !read ? -ENOENT : 0;
}

/* The next reading of a busy unit's paced files (read now into v):
 * farther while its memory and tasks hold still, next tick when they
 * moved (the caller's own numbers: cgroup_pace_moved). */
static void cgroup_steady(const struct cgroup_reader *rd, struct cgroup_pace *p,
			  const struct cgroup_stats *st, const struct cgroup_values *v)
{
	/* a file missing is looked for at its own pace (CGROUP_RETRY_TICKS) */
	bool same = v->mem == st->mem && v->pids == st->pids && v->mem >= 0 && v->pids >= 0;

	p->steady_step = cgroup_pace_step(p->steady_step, !same, CGROUP_STEADY_TICKS);
	p->steady_next = cgroup_pace_next(rd, p->phase, p->steady_step);
}

uint64_t cgroup_pace_next(const struct cgroup_reader *rd, unsigned phase, unsigned step)
{
	uint64_t next = rd->ticks + 1;

	while (next % step != phase % step)
		next++;
	return next;
}

unsigned cgroup_pace_step(unsigned step, bool moved, unsigned max)
{
	if (moved || !step)
		return 1;
	return step * 2 > max ? max : step * 2;
}

/* After an idle unit's whole look (mask read into v): its next one
 * farther away when nothing moved. */
static void cgroup_idle_step(struct cgroup_pace *p, const struct cgroup_stats *st,
			     const struct cgroup_values *v, unsigned mask)
{
	bool same = true;

	if (mask & (1u << CGROUP_MEM))
		same = same && v->mem == st->mem;
	if (mask & (1u << CGROUP_PIDS))
		same = same && v->pids == st->pids;
	if (mask & (1u << CGROUP_IO))
		same = same && (st->rd.valid ? v->io_r == (int64_t)st->rd.value &&
						   v->io_w == (int64_t)st->wr.value
					     : v->io_r < 0);
	if (!same || !p->idle_step)
		p->idle_step = CGROUP_IDLE_TICKS;
	else if (p->idle_step < CGROUP_IDLE_MAX)
		p->idle_step *= 2;
}

void cgroup_pace_moved(const struct cgroup_reader *rd, struct cgroup_pace *p)
{
	p->idle_step = CGROUP_IDLE_TICKS;
	p->steady_step = 1;
	p->steady_next = rd->ticks + 1;
}

int cgroup_sample(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel, unsigned busy,
		  unsigned sleeping, struct cgroup_values *v, uint64_t mono_ns)
{
	const unsigned cpu = 1u << CGROUP_CPU;
	struct cgroup_stats *st = &u->st;
	struct cgroup_group *g = u->group;
	unsigned mask = busy;
	bool still = false;
	int64_t cpu_ns;
	int r;

	if (!u->ahead)
		cgroup_unit_ahead(rd, u, rel); /* after the test: it cannot count */
	u->ahead = false;
	if (u->pace.idle) {
		if (g && g->still && u->in_test) {
			*v = cgroup_none;
			v->cpu_ns = (int64_t)st->cpu.value;
			still = true;
			rd->proven++;
		} else {
			r = cgroup_unit_read(rd, u, rel, cpu, v, false);
			if (r < 0)
				goto out;
			still = st->cpu.valid && v->cpu_ns == (int64_t)st->cpu.value;
			if (g && v->cpu_ns >= 0) {
				g->read_sum += (uint64_t)v->cpu_ns;
				g->read_n++;
				g->woke = g->woke || !still;
			}
		}
		if (still && rd->ticks < u->pace.idle_next) {
			st->cpu.mono_ns = mono_ns; /* its CPU rate: 0 until now */
			st->cpu_h = 0;
			u->read = cpu;
			return CGROUP_SKIPPED | CGROUP_STILL;
		}
		if (still)
			mask = sleeping;
		cpu_ns = v->cpu_ns;
		r = cgroup_unit_read(rd, u, rel, mask & ~cpu, v, false);
		v->cpu_ns = cpu_ns;
		if (still)
			cgroup_idle_step(&u->pace, st, v, mask);
		mask |= cpu;
	} else {
		const unsigned paced = busy & ~(cpu | (1u << CGROUP_IO));
		int64_t prev = st->cpu.valid ? (int64_t)st->cpu.value : -1;

		if (rd->ticks < u->pace.steady_next)
			mask &= ~paced;
		r = cgroup_unit_read(rd, u, rel, mask, v, true);
		still = prev >= 0 && v->cpu_ns == prev;
		if (paced && (mask & paced) == paced)
			cgroup_steady(rd, &u->pace, st, v);
	}
out:
	/* gone: nulls (a v1 service may stay, in systemd's hierarchy alone) */
	if (g && v->cpu_ns >= 0 && (!st->cpu.valid || v->cpu_ns != (int64_t)st->cpu.value))
		u->moved_gen = g->bound_gen; /* a reading the bound did not take */
	u->read = mask | cpu;
	cgroup_stats_update(st, v, mask | cpu, mono_ns);
	return r < 0 ? r : still ? CGROUP_STILL : 0;
}

void cgroup_pace_set(const struct cgroup_reader *rd, struct cgroup_pace *p, bool idle)
{
	unsigned phase = p->phase % CGROUP_IDLE_TICKS;

	if (!idle && p->idle) { /* woke: read whole now, then each tick */
		p->steady_step = 1;
		p->steady_next = rd->ticks + 1;
	}
	if (idle && !p->idle)
		p->idle_step = CGROUP_IDLE_TICKS;
	if (idle && (!p->idle || rd->ticks >= p->idle_next)) {
		p->idle_next = rd->ticks + 1;
		while (p->idle_next % CGROUP_IDLE_TICKS != phase)
			p->idle_next++;
		p->idle_next += p->idle_step - CGROUP_IDLE_TICKS;
	}
	p->idle = idle;
}

static bool cgroup_stats_cpu(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->cpu.value / 1e9;
	return st->cpu.valid;
}

static bool cgroup_stats_mem(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->mem;
	return st->mem >= 0;
}

static bool cgroup_stats_tasks(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->pids;
	return st->pids >= 0;
}

static bool cgroup_stats_read(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->rd.value;
	return st->rd.valid;
}

static bool cgroup_stats_written(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->wr.value;
	return st->wr.valid;
}

const struct cgroup_family cgroup_families[] = {
    {"cpu_seconds_total", "counter", "CPU time used by", "", cgroup_stats_cpu},
    {"memory_bytes", "gauge", "Memory charged to", "", cgroup_stats_mem},
    {"tasks", "gauge", "Tasks in", "", cgroup_stats_tasks},
    {"io_read_bytes_total", "counter", "Bytes", " read from block devices", cgroup_stats_read},
    {"io_written_bytes_total", "counter", "Bytes", " wrote to block devices", cgroup_stats_written},
    {0},
};

void cgroup_family_text(const struct cgroup_family *f, const char *noun, char *name,
			size_t name_len, char *help, size_t help_len)
{
	snprintf(name, name_len, "sysfeed_%s_%s", noun, f->suffix);
	snprintf(help, help_len, "%s the %s's cgroup%s (top %ss only).", f->head, noun, f->tail,
		 noun);
}
