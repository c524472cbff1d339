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

bool cgroup_root_same(const struct cgroup_root *root, int sys_fd, const struct stat *known)
{
	struct stat st;

	if (!known && fstat(sys_fd, &st) < 0)
		return false;
	if (!known)
		known = &st;
	return known->st_dev == root->dev && known->st_ino == root->ino;
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

void cgroup_read_into(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel,
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

const struct cgroup_values cgroup_none = {-1, -1, -1, -1, -1, -1, -1, -1, -1};

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
