#include "fs.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "procfs.h"
#include "json.h"
#include "clock.h"

/* mountinfo of a Kubernetes node with thousands of mounts stays below. */
#define FS_MOUNTINFO_MAX      (16u << 20)
#define FS_TIMEOUT_DEFAULT_MS 1000

/* --- mountinfo --- */

/* Splits the next field off [*pos, end): fields are separated by exactly
 * one space, so an empty field is possible and a run of spaces is not. */
static int fs_next_field(const char **pos, const char *end, const char **ret, size_t *ret_len)
{
	const char *p = *pos, *sp;

	if (p > end)
		return 0;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp)
		sp = end;
	*ret = p;
	*ret_len = (size_t)(sp - p);
	*pos = sp + 1; /* past end when this was the last field */
	return 1;
}

/* Copies a field into the arena at *dst, decoding the \ooo escapes the
 * kernel writes for space, tab, newline and backslash; returns the
 * NUL-terminated copy's start or NULL on a bad escape. */
static const char *fs_unescape(const char *s, size_t len, char **dst)
{
	char *out = *dst, *start = *dst;

	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (s[i] == '\0')
			return NULL;
		if (s[i] != '\\') {
			*out++ = s[i];
			continue;
		}
		if (len - i < 4)
			return NULL;
		if (s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' || s[i + 2] > '7' ||
		    s[i + 3] < '0' || s[i + 3] > '7')
			return NULL;
		v = (unsigned)(s[i + 1] - '0') * 64 + (unsigned)(s[i + 2] - '0') * 8 +
		    (unsigned)(s[i + 3] - '0');
		if (v == 0)
			return NULL;
		*out++ = (char)v;
		i += 3;
	}
	*out++ = '\0';
	*dst = out;
	return start;
}

static int fs_parse_uint(const char *s, size_t len, unsigned *ret)
{
	uint64_t v;
	int r = procfs_parse_u64(s, len, &v);

	if (r < 0)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

/* Whether the comma-separated options hold exactly "ro". */
static bool fs_opts_ro(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (n == 2 && p[0] == 'r' && p[1] == 'o')
			return true;
		p += n + 1;
	}
	return false;
}

static struct fs_mount *fs_mountinfo_add(struct fs_mountinfo *mi)
{
	if (mi->n == mi->cap) {
		size_t cap = mi->cap ? mi->cap * 2 : 32;
		struct fs_mount *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return NULL;
		v = realloc(mi->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		mi->v = v;
		mi->cap = cap;
	}
	return &mi->v[mi->n++];
}

/* Fields: 1 mount id, 2 parent id, 3 major:minor, 4 root, 5 mount point,
 * 6 mount options, 7.. optional "tag[:value]" fields, then "-", then
 * filesystem type, mount source, super options. */
static int fs_parse_line(struct fs_mountinfo *mi, const char *line, size_t len, char **arena)
{
	const char *p = line, *end = line + len, *f[6], *colon, *t[3];
	size_t fl[6], tl[3], n;
	unsigned parent;
	struct fs_mount m;
	int r;

	for (size_t i = 0; i < 6; i++) {
		if (fs_next_field(&p, end, &f[i], &fl[i]) <= 0 || fl[i] == 0)
			return -EINVAL;
	}
	if ((r = fs_parse_uint(f[0], fl[0], &m.mount_id)) < 0 ||
	    (r = fs_parse_uint(f[1], fl[1], &parent)) < 0)
		return r;
	colon = memchr(f[2], ':', fl[2]);
	if (!colon)
		return -EINVAL;
	if ((r = fs_parse_uint(f[2], (size_t)(colon - f[2]), &m.major)) < 0 ||
	    (r = fs_parse_uint(colon + 1, fl[2] - (size_t)(colon - f[2]) - 1, &m.minor)) < 0)
		return r;
	m.read_only = fs_opts_ro(f[5], fl[5]);
	/* optional fields, up to the separator */
	for (;;) {
		const char *o;
		size_t ol;

		if (fs_next_field(&p, end, &o, &ol) <= 0 || ol == 0)
			return -EINVAL;
		if (ol == 1 && o[0] == '-')
			break;
	}
	for (n = 0; n < 3; n++) {
		if (fs_next_field(&p, end, &t[n], &tl[n]) <= 0)
			return -EINVAL;
	}
	if (p <= end || tl[0] == 0 || tl[2] == 0) /* a fourth field, or empty ones */
		return -EINVAL;
	m.read_only = m.read_only || fs_opts_ro(t[2], tl[2]);
	if (!(m.root = fs_unescape(f[3], fl[3], arena)) ||
	    !(m.mount_point = fs_unescape(f[4], fl[4], arena)) ||
	    !(m.fstype = fs_unescape(t[0], tl[0], arena)) ||
	    !(m.source = fs_unescape(t[1], tl[1], arena)))
		return -EINVAL;
	{
		struct fs_mount *slot = fs_mountinfo_add(mi);

		if (!slot)
			return -ENOMEM;
		*slot = m;
	}
	return 0;
}

int fs_mountinfo_parse(const char *text, size_t len, struct fs_mountinfo *mi)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	char *arena;
	int r;

	mi->n = 0;
	/* every unescaped field is at most as long as its text, and the
	 * separator after it makes room for its NUL */
	if (mi->arena_cap < len + 1) {
		char *a = realloc(mi->arena, len + 1);

		if (!a)
			return -ENOMEM;
		mi->arena = a;
		mi->arena_cap = len + 1;
	}
	arena = mi->arena;
	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		r = fs_parse_line(mi, line, line_len, &arena);
		if (r < 0)
			break;
	}
	if (r < 0)
		mi->n = 0;
	return r < 0 ? r : 0;
}

void fs_mountinfo_free(struct fs_mountinfo *mi)
{
	if (!mi)
		return;
	free(mi->v);
	free(mi->arena);
	memset(mi, 0, sizeof(*mi));
}

/* --- which mounts are shown --- */

/* Filesystems without space of their own: kernel interfaces, control and
 * automount points, read-only images that are always full (squashfs:
 * snaps) and FUSE interfaces that mirror /proc (lxcfs) or portals. Sorted
 * for bsearch. */
static const char *const fs_pseudo_types[] = {
    "anon_inodefs", "autofs",  "binder",    "binfmt_misc", "bpf",        "cgroup",     "cgroup2",
    "configfs",     "cpuset",  "debugfs",   "devpts",      "devtmpfs",   "efivarfs",   "fuse.lxcfs",
    "fuse.portal",  "fusectl", "hugetlbfs", "mqueue",      "nfsd",       "nsfs",       "pipefs",
    "proc",         "pstore",  "ramfs",     "rootfs",      "rpc_pipefs", "securityfs", "selinuxfs",
    "smackfs",      "sockfs",  "squashfs",  "sysfs",       "tracefs",    "usbfs",
};

static int fs_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool fs_type_is_pseudo(const char *fstype)
{
	return bsearch(&fstype, fs_pseudo_types,
		       sizeof(fs_pseudo_types) / sizeof(fs_pseudo_types[0]),
		       sizeof(fs_pseudo_types[0]), fs_cmp_str) != NULL;
}

/* Whether path is dir or below it. */
static bool fs_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The built-in choice: no pseudo filesystem, nothing under /proc or /sys,
 * no container runtime's internal mounts (each container's overlay, its
 * secrets, its network namespace), nothing in users' runtime directories
 * (/run/user/UID: gvfs, portals), and tmpfs only where people keep files:
 * not the runtime state under /dev and /run. */
static bool fs_builtin_wanted(const struct fs_mount *m)
{
	static const char *const hidden[] = {
	    "/proc",
	    "/sys",
	    "/var/lib/docker",
	    "/var/lib/containers/storage",
	    "/var/lib/kubelet/pods",
	    "/run/containerd",
	    "/run/docker",
	    "/run/netns",
	    "/run/user",
	};
	const char *mp = m->mount_point;

	if (fs_type_is_pseudo(m->fstype))
		return false;
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		if (fs_path_under(mp, hidden[i]))
			return false;
	}
	if (strcmp(m->fstype, "tmpfs") == 0 &&
	    (fs_path_under(mp, "/dev") || fs_path_under(mp, "/run")))
		return false;
	return true;
}

static bool fs_list_includes(const struct list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		if (list->v[i][0] != '!')
			return true;
	}
	return false;
}

/* `mounts` first: a list that names mount points shows exactly those,
 * whatever the built-in rules say; exclusions remove. Then `fs-types`: a
 * list that names types replaces the built-in choice; a list of only
 * exclusions ("!nfs*") narrows it. */
bool fs_mount_wanted(const struct fs_settings *set, const struct fs_mount *m)
{
	bool named_mount = false;

	if (set && set->mounts.n > 0) {
		if (!list_match(&set->mounts, m->mount_point, true))
			return false;
		named_mount = fs_list_includes(&set->mounts);
	}
	if (set && fs_list_includes(&set->fs_types))
		return list_match(&set->fs_types, m->fstype, false);
	if (set && set->fs_types.n > 0 && !list_match(&set->fs_types, m->fstype, true))
		return false;
	return named_mount || fs_builtin_wanted(m);
}

/* A later mount on the same mount point hides this one: statvfs() of the
 * path reaches the later one. */
static bool fs_hidden(const struct fs_mountinfo *mi, size_t i)
{
	for (size_t j = i + 1; j < mi->n; j++) {
		if (strcmp(mi->v[j].mount_point, mi->v[i].mount_point) == 0)
			return true;
	}
	return false;
}

static int fs_cmp_idx(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

size_t fs_select(const struct fs_mountinfo *mi, const struct fs_settings *set, size_t *ret_idx)
{
	size_t n = 0;

	for (size_t i = 0; i < mi->n; i++) {
		const struct fs_mount *m = &mi->v[i];
		bool dup = false;

		if (!fs_mount_wanted(set, m) || fs_hidden(mi, i))
			continue;
		for (size_t k = 0; k < n; k++) {
			const struct fs_mount *o = &mi->v[ret_idx[k]];

			if (o->major != m->major || o->minor != m->minor ||
			    strcmp(o->root, m->root) != 0)
				continue;
			dup = true;
			if (strlen(m->mount_point) < strlen(o->mount_point))
				ret_idx[k] = i; /* the same filesystem, a shorter path */
			break;
		}
		if (!dup)
			ret_idx[n++] = i;
	}
	/* a shorter bind took the place of an earlier one: back to file order */
	qsort(ret_idx, n, sizeof(*ret_idx), fs_cmp_idx);
	return n;
}

/* --- the payload --- */

/* a * b, or false on overflow. */
static bool fs_mul(uint64_t a, uint64_t b, uint64_t *ret)
{
	return !__builtin_mul_overflow(a, b, ret);
}

/* ceil(100 * used / (used + avail)) as df computes it; total > 0. */
static unsigned fs_percent(uint64_t used, uint64_t avail)
{
	while (used > UINT64_MAX / 200 || avail > UINT64_MAX / 200) {
		used >>= 1;
		avail >>= 1;
	}
	{
		uint64_t total = used + avail, u100 = used * 100;

		if (total == 0)
			return 0;
		return (unsigned)(u100 / total + (u100 % total != 0));
	}
}

int fs_mount_json(const struct fs_mount *m, const struct fs_usage *u, bool responding, int err,
		  cJSON **ret)
{
	uint64_t size = 0, used = 0, avail = 0;
	bool have_space = false, have_inodes = false, have_pct = false;
	unsigned pct = 0;
	char msg[128];
	cJSON *o;
	int r = -ENOMEM;

	*ret = NULL;
	if (u) {
		uint64_t used_blocks = u->blocks > u->bfree ? u->blocks - u->bfree : 0;

		have_space = fs_mul(u->blocks, u->frsize, &size) &&
			     fs_mul(used_blocks, u->frsize, &used) &&
			     fs_mul(u->bavail, u->frsize, &avail);
		if (have_space && (used > 0 || avail > 0)) {
			have_pct = true;
			pct = fs_percent(used, avail);
		}
		have_inodes = u->files > 0;
	}
	o = cJSON_CreateObject();
	if (!o)
		goto out;
	if (json_str(o, "mount", m->mount_point) < 0 || json_str(o, "device", m->source) < 0 ||
	    json_str(o, "fstype", m->fstype) < 0 ||
	    !cJSON_AddBoolToObject(o, "read_only", m->read_only) ||
	    !cJSON_AddBoolToObject(o, "responding", responding))
		goto out;
	if (json_num_or_null(o, "size", have_space, (double)size) < 0 ||
	    json_num_or_null(o, "used", have_space, (double)used) < 0 ||
	    json_num_or_null(o, "available", have_space, (double)avail) < 0 ||
	    json_num_or_null(o, "used_percent", have_pct, pct) < 0 ||
	    json_num_or_null(o, "inodes_total", have_inodes, u ? (double)u->files : 0) < 0 ||
	    json_num_or_null(o, "inodes_used", have_inodes,
			     u && u->files > u->ffree ? (double)(u->files - u->ffree) : 0) < 0 ||
	    json_num_or_null(o, "inodes_free", have_inodes, u ? (double)u->ffree : 0) < 0)
		goto out;
	if (err) {
		if (!cJSON_AddStringToObject(o, "error", strerror_r(err, msg, sizeof(msg))))
			goto out;
	} else if (!cJSON_AddNullToObject(o, "error")) {
		goto out;
	}
	*ret = o;
	o = NULL;
	r = 0;
out:
	cJSON_Delete(o);
	return r;
}

/* --- statfs in worker processes ---
 *
 * statfs() of a hung NFS server or FUSE daemon blocks, and a FUSE request
 * its daemon has already read waits uninterruptibly until it is answered:
 * a thread stuck there would keep the whole daemon from exiting. So the
 * calls run in worker processes, forks of the loop thread that never exec:
 * a worker reads mount paths from one pipe, calls statfs() and writes each
 * answer (plain data) back through another. The loop thread never waits:
 * each tick it reads the answers that arrived, asks for the next round, and
 * reaps finished workers with WNOHANG.
 *
 * A worker answers in the order it was asked, so its oldest unanswered
 * request is the call in progress, running since the later of the request
 * and the previous answer (stamped by the worker). When that call is older
 * than fs-timeout-ms, its mount is marked not responding, the worker is
 * killed and let go, and a new worker takes the mounts that were queued
 * behind it. A killed worker stays in its call until the call returns (an
 * NFS "hard" wait is killable, a FUSE request already read is not), then
 * dies and is reaped; the daemon can exit at any time meanwhile. A mount
 * that hung is asked again only after its worker is gone and
 * FS_RETRY_FACTOR timeouts have passed, by a one-shot worker of its own (a
 * probe), so that a mount that hangs again never delays the others: there
 * is at most one worker per hung mount. */

/* Stuck or probing workers kept at most; past that, no new worker starts
 * until one ends. Each one holds a hung mount, so this is rarely reached. */
#define FS_MAX_STUCK   16
#define FS_MAX_WORKERS (2 * FS_MAX_STUCK + 2)
/* A hung mount is asked again no sooner than this many timeouts later. */
#define FS_RETRY_FACTOR 10
/* How long fini waits for workers it killed, unless known to be stuck. */
#define FS_FINI_WAIT_MS 100

/* A request: the header, then len bytes of path (no NUL). Written in one
 * write() of at most PIPE_BUF bytes, so it arrives whole. */
struct fs_request {
	uint64_t key;
	uint32_t len;
	uint32_t pad;
};

#define FS_PATH_MAX (PIPE_BUF - sizeof(struct fs_request))

/* An answer, also written whole. */
struct fs_answer {
	uint64_t key;
	uint64_t end_ns; /* CLOCK_MONOTONIC when the call returned */
	int32_t err;     /* 0 or the errno of the call */
	uint32_t pad;
	struct fs_usage usage;
};

struct fs_slot {
	uint64_t key; /* unique, never reused: an answer finds its slot by it */
	unsigned mount_id;
	char *path;
	bool seen;         /* still mounted at the last parse */
	bool queued;       /* a live worker has a request for it */
	bool stuck;        /* a killed worker is still in a call on it */
	bool hung;         /* its last call timed out and none answered since */
	bool have;         /* usage holds a reading */
	int err;           /* errno of the latest answer, or 0 */
	uint64_t retry_ns; /* hung: not asked again before */
	struct fs_usage usage;
};

struct fs_pending {
	uint64_t key;
	uint64_t sent_ns;
};

struct fs_worker {
	pid_t pid;  /* 0: a free entry */
	int req_fd; /* our ends, non-blocking; -1 once let go */
	int res_fd;
	bool probe;           /* asks one hung mount again, then is let go */
	bool gone;            /* killed or let go: waiting to be reaped */
	uint64_t stuck_key;   /* gone: the slot it is stuck on, or 0 */
	struct fs_pending *q; /* unanswered requests, oldest at q[q_head] */
	size_t q_head;
	size_t q_n;
	size_t q_cap;
	size_t q_max;                                 /* answers that fit in the answer pipe */
	uint64_t head_since_ns;                       /* when the oldest request's call started */
	unsigned char part[sizeof(struct fs_answer)]; /* an answer read in part */
	size_t part_len;
};

struct fs_view {
	size_t mount; /* index into mi.v */
	struct fs_slot *slot;
};

struct fs_state {
	const struct fs_settings *set;
	int poll_fd; /* mountinfo kept open to poll for changes; -1 on non-proc roots */
	struct procfs_buf buf;
	struct fs_mountinfo mi;
	size_t *idx;
	struct fs_view *views;
	size_t n_views;
	size_t cap;
	bool reload;            /* the last read failed: read again whatever poll() says */
	struct fs_slot **slots; /* sorted by key */
	size_t n_slots;
	size_t cap_slots;
	uint64_t next_key;
	uint64_t timeout_ns;
	struct fs_worker workers[FS_MAX_WORKERS];
	struct fs_worker *main; /* the worker of the rounds, or NULL */
	int (*statfs)(const char *path, struct fs_usage *ret);
};

/* Runs in the worker: statfs(2) rather than statvfs(3), which may read
 * /proc/mounts with stdio on old kernels. */
static int fs_statfs_default(const char *path, struct fs_usage *ret)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return -errno;
	ret->blocks = (uint64_t)sf.f_blocks;
	ret->bfree = (uint64_t)sf.f_bfree;
	ret->bavail = (uint64_t)sf.f_bavail;
	ret->frsize = (uint64_t)(sf.f_frsize ? sf.f_frsize : sf.f_bsize);
	ret->files = (uint64_t)sf.f_files;
	ret->ffree = (uint64_t)sf.f_ffree;
	return 0;
}

static int (*fs_statfs_fn)(const char *path, struct fs_usage *ret) = fs_statfs_default;

void fs_set_statfs(int (*fn)(const char *path, struct fs_usage *ret))
{
	fs_statfs_fn = fn ? fn : fs_statfs_default;
}

/* --- the worker side: async-signal-safe calls only --- */

/* Closes [first, last]: close_range() where the kernel has it (5.9),
 * otherwise one close() per possible fd below RLIMIT_NOFILE (at most
 * fs.nr_open's default, 2^20). */
static void fs_close_fds(unsigned first, unsigned last)
{
	unsigned limit = 1u << 20;
	struct rlimit rl;

	if (first > last || close_range(first, last, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < limit)
		limit = (unsigned)rl.rlim_cur;
	for (unsigned fd = first; fd <= last && fd < limit; fd++)
		close((int)fd);
}

/* Reads exactly len bytes; 0, or -1 on EOF or error. */
static int fs_read_full(int fd, void *p, size_t len)
{
	char *c = p;

	while (len > 0) {
		ssize_t n = read(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The worker's life, in a fork of a multi-threaded process: it keeps only
 * its two pipe ends (no listening socket, no log stream stays open in a
 * stuck worker) and calls nothing but read, write, the statfs function,
 * clock_gettime and _exit: no allocation, no lock, no stdio. It ends when
 * the request pipe closes or the answer pipe breaks. */
static _Noreturn void fs_worker_run(int req_fd, int res_fd,
				    int (*fn)(const char *path, struct fs_usage *ret))
{
	char path[FS_PATH_MAX + 1];
	unsigned lo = (unsigned)(req_fd < res_fd ? req_fd : res_fd);
	unsigned hi = (unsigned)(req_fd < res_fd ? res_fd : req_fd);

	if (lo > 0)
		fs_close_fds(0, lo - 1);
	fs_close_fds(lo + 1, hi - 1);
	fs_close_fds(hi + 1, ~0u);
	prctl(PR_SET_NAME, "sysfeed-statfs", 0, 0, 0);
	for (;;) {
		struct fs_request req;
		struct fs_answer ans;
		int r;

		if (fs_read_full(req_fd, &req, sizeof(req)) < 0 || req.len > FS_PATH_MAX ||
		    fs_read_full(req_fd, path, req.len) < 0)
			_exit(0);
		path[req.len] = '\0';
		memset(&ans, 0, sizeof(ans));
		ans.key = req.key;
		r = fn(path, &ans.usage);
		ans.err = r < 0 ? -r : 0;
		ans.end_ns = clock_mono_ns();
		if (write(res_fd, &ans, sizeof(ans)) != (ssize_t)sizeof(ans))
			_exit(0);
	}
}

/* --- the loop thread's side --- */

static void fs_slot_free(struct fs_slot *slot)
{
	if (!slot)
		return;
	free(slot->path);
	free(slot);
}

/* s->slots is sorted by key: slots are appended with growing keys and
 * removed in place. */
static struct fs_slot *fs_find_slot(struct fs_state *s, uint64_t key)
{
	size_t lo = 0, hi = s->n_slots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->slots[mid]->key == key)
			return s->slots[mid];
		if (s->slots[mid]->key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void fs_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Forks a worker into a free entry. Returns it, or NULL with errno set. */
static struct fs_worker *fs_worker_start(struct fs_state *s, bool probe)
{
	struct fs_worker *w = NULL;
	int req[2] = {-1, -1}, res[2] = {-1, -1}, size, err;
	pid_t pid;

	for (size_t i = 0; i < FS_MAX_WORKERS && !w; i++) {
		if (s->workers[i].pid == 0)
			w = &s->workers[i];
	}
	if (!w) {
		errno = EAGAIN;
		return NULL;
	}
	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		goto fail;
	pid = fork();
	if (pid == 0)
		fs_worker_run(req[0], res[1], s->statfs);
	if (pid < 0)
		goto fail;
	close(req[0]);
	close(res[1]);
	/* both pipes have their own file descriptions at each end: the
	 * worker's ends stay blocking */
	if (fcntl(req[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(res[0], F_SETFL, O_NONBLOCK) < 0) {
		err = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0); /* dies at once: it has not been asked anything */
		close(req[1]);
		close(res[0]);
		errno = err;
		return NULL;
	}
	/* never more answers pending than the answer pipe holds, so that a
	 * worker never waits to write one (half: pages hold whole answers) */
	size = fcntl(res[0], F_GETPIPE_SZ);
	w->q_max = size > 0 ? (size_t)size / sizeof(struct fs_answer) / 2 : 1;
	if (w->q_max == 0)
		w->q_max = 1;
	w->pid = pid;
	w->req_fd = req[1];
	w->res_fd = res[0];
	w->probe = probe;
	w->gone = false;
	w->stuck_key = 0;
	w->q_head = w->q_n = 0;
	w->part_len = 0;
	return w;
fail:
	err = errno;
	for (int i = 0; i < 2; i++) {
		fs_close_fd(&req[i]);
		fs_close_fd(&res[i]);
	}
	errno = err;
	return NULL;
}

/* Stops talking to w: its queued mounts are free to be asked again (but
 * stuck_key's, if any), and it is only left to be reaped. */
static void fs_worker_let_go(struct fs_state *s, struct fs_worker *w, uint64_t stuck_key)
{
	for (size_t i = 0; i < w->q_n; i++) {
		struct fs_slot *slot = fs_find_slot(s, w->q[(w->q_head + i) % w->q_cap].key);

		if (slot)
			slot->queued = false;
	}
	w->q_head = w->q_n = 0;
	fs_close_fd(&w->req_fd);
	fs_close_fd(&w->res_fd);
	w->gone = true;
	w->stuck_key = stuck_key;
	if (s->main == w)
		s->main = NULL;
}

/* Gives up on a worker whose current call is older than the timeout: its
 * mount is hung until a later call answers. */
static void fs_worker_abandon(struct fs_state *s, struct fs_worker *w, uint64_t now)
{
	uint64_t key = w->q[w->q_head].key;
	struct fs_slot *slot = fs_find_slot(s, key);

	if (slot) {
		slot->hung = true;
		slot->stuck = true;
		slot->retry_ns = now + FS_RETRY_FACTOR * s->timeout_ns;
	}
	kill(w->pid, SIGKILL);
	fs_worker_let_go(s, w, key);
}

/* Sends one request. Returns 0, -EAGAIN when the pipe or the queue is full
 * (ask again at the next round), -ENAMETOOLONG, -ENOMEM, or another -errno
 * when the worker is gone. */
static int fs_worker_ask(struct fs_worker *w, const struct fs_slot *slot, uint64_t now)
{
	struct {
		struct fs_request req;
		char path[FS_PATH_MAX];
	} msg;
	size_t len = strlen(slot->path), size;
	ssize_t n;

	if (len > FS_PATH_MAX)
		return -ENAMETOOLONG;
	if (w->q_n >= w->q_max)
		return -EAGAIN;
	if (w->q_n == w->q_cap) {
		/* a full ring: unwrapped into a larger one */
		size_t cap = w->q_cap ? w->q_cap * 2 : 16;
		struct fs_pending *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < w->q_n; i++)
			q[i] = w->q[(w->q_head + i) % w->q_cap];
		free(w->q);
		w->q = q;
		w->q_cap = cap;
		w->q_head = 0;
	}
	memset(&msg.req, 0, sizeof(msg.req));
	msg.req.key = slot->key;
	msg.req.len = (uint32_t)len;
	memcpy(msg.path, slot->path, len);
	size = sizeof(msg.req) + len;
	n = write(w->req_fd, &msg, size);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if ((size_t)n != size)
		return -EIO; /* cannot happen below PIPE_BUF */
	if (w->q_n == 0)
		w->head_since_ns = now;
	w->q[(w->q_head + w->q_n) % w->q_cap] = (struct fs_pending){slot->key, now};
	w->q_n++;
	return 0;
}

/* Files one answer: it must be for the oldest request. */
static int fs_worker_answer(struct fs_state *s, struct fs_worker *w, const struct fs_answer *a)
{
	struct fs_slot *slot;

	if (w->q_n == 0 || w->q[w->q_head].key != a->key)
		return -EPROTO;
	w->q_head = (w->q_head + 1) % w->q_cap;
	w->q_n--;
	if (w->q_n > 0) {
		uint64_t sent = w->q[w->q_head].sent_ns;

		/* the next call started when this one ended, or when it was sent */
		w->head_since_ns = a->end_ns > sent ? a->end_ns : sent;
	}
	slot = fs_find_slot(s, a->key);
	if (!slot)
		return 0; /* unmounted meanwhile */
	slot->queued = false;
	slot->hung = false;
	slot->err = a->err;
	if (a->err == 0) {
		slot->usage = a->usage;
		slot->have = true;
	}
	return 0;
}

/* Reads every answer w wrote so far. Returns 0, or -errno when the worker
 * is gone or broke the protocol. */
static int fs_worker_collect(struct fs_state *s, struct fs_worker *w)
{
	for (;;) {
		unsigned char buf[32 * sizeof(struct fs_answer)];
		size_t have = w->part_len, done = 0;
		ssize_t n;

		memcpy(buf, w->part, have);
		n = read(w->res_fd, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return -EPIPE;
		have += (size_t)n;
		for (; have - done >= sizeof(struct fs_answer); done += sizeof(struct fs_answer)) {
			struct fs_answer a;
			int r;

			memcpy(&a, buf + done, sizeof(a));
			r = fs_worker_answer(s, w, &a);
			if (r < 0)
				return r;
		}
		w->part_len = have - done;
		memcpy(w->part, buf + done, w->part_len);
		if (have < sizeof(buf))
			return 0; /* the pipe is empty */
	}
}

/* Reads what every live worker answered; lets go of a probe that is done
 * and of a worker that died. */
static void fs_collect_all(struct fs_state *s)
{
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &s->workers[i];

		if (w->pid == 0 || w->gone)
			continue;
		if (fs_worker_collect(s, w) < 0) {
			kill(w->pid, SIGKILL);
			fs_worker_let_go(s, w, 0);
		} else if (w->probe && w->q_n == 0) {
			fs_worker_let_go(s, w, 0); /* exits on EOF */
		}
	}
}

/* Abandons every worker whose current call is older than the timeout. */
static void fs_check_timeouts(struct fs_state *s, uint64_t now)
{
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &s->workers[i];

		if (w->pid != 0 && !w->gone && w->q_n > 0 && now > w->head_since_ns &&
		    now - w->head_since_ns > s->timeout_ns)
			fs_worker_abandon(s, w, now);
	}
}

/* Reaps the workers let go that have ended, never waiting: a stuck one
 * ends when its call returns. Its mount may then be asked again. */
static void fs_reap(struct fs_state *s)
{
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &s->workers[i];
		struct fs_slot *slot;
		pid_t r;

		if (w->pid == 0 || !w->gone)
			continue;
		r = waitpid(w->pid, NULL, WNOHANG);
		if (r == 0 || (r < 0 && errno != ECHILD))
			continue;
		/* ECHILD: someone else reaped it */
		if (w->stuck_key && (slot = fs_find_slot(s, w->stuck_key)))
			slot->stuck = false;
		w->pid = 0;
	}
}

/* Workers stuck in a call or asking a hung mount again. */
static unsigned fs_count_stuck(const struct fs_state *s)
{
	unsigned n = 0;

	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		const struct fs_worker *w = &s->workers[i];

		n += w->pid != 0 && ((w->gone && w->stuck_key) || (!w->gone && w->probe));
	}
	return n;
}

/* Asks the main worker for every mount that is neither hung nor already
 * asked, starting a worker when there is none; asks a probe of its own for
 * each hung mount whose stuck call has ended, once its retry time came.
 * What cannot be asked now is asked at the next round. Returns 0, or the
 * -errno of a main worker that could not be started. */
static int fs_request_round(struct fs_state *s, uint64_t now)
{
	bool main_full = false;
	int ret = 0;

	for (size_t i = 0; i < s->n_slots; i++) {
		struct fs_slot *slot = s->slots[i];
		struct fs_worker *w;
		int r;

		if (slot->queued || slot->stuck)
			continue;
		if (slot->hung) {
			if (now < slot->retry_ns || fs_count_stuck(s) >= FS_MAX_STUCK ||
			    !(w = fs_worker_start(s, true)))
				continue;
			r = fs_worker_ask(w, slot, now);
			if (r == 0) {
				slot->queued = true;
			} else {
				kill(w->pid, SIGKILL);
				fs_worker_let_go(s, w, 0);
			}
			continue;
		}
		if (main_full)
			continue;
		if (!s->main && fs_count_stuck(s) < FS_MAX_STUCK) {
			s->main = fs_worker_start(s, false);
			if (!s->main)
				ret = -errno;
		}
		if (!s->main) {
			main_full = true;
			continue;
		}
		r = fs_worker_ask(s->main, slot, now);
		if (r == 0) {
			slot->queued = true;
		} else if (r == -ENAMETOOLONG) {
			slot->err = ENAMETOOLONG;
		} else {
			main_full = true;
			if (r != -EAGAIN && r != -ENOMEM) { /* it died: a new one next round */
				kill(s->main->pid, SIGKILL);
				fs_worker_let_go(s, s->main, 0);
			}
		}
	}
	return ret;
}

/* Matches the shown mounts with slots (same mount id and mount point),
 * adds slots for new ones and drops the vanished ones. */
static int fs_sync_slots(struct fs_state *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_slots; i++)
		s->slots[i]->seen = false;
	for (size_t v = 0; v < s->n_views; v++) {
		const struct fs_mount *m = &s->mi.v[s->views[v].mount];
		struct fs_slot *slot = NULL;

		for (size_t i = 0; i < s->n_slots && !slot; i++) {
			struct fs_slot *c = s->slots[i];

			if (!c->seen && c->mount_id == m->mount_id &&
			    strcmp(c->path, m->mount_point) == 0)
				slot = c;
		}
		if (!slot) {
			if (s->n_slots == s->cap_slots) {
				size_t cap = s->cap_slots ? s->cap_slots * 2 : 16;
				struct fs_slot **slots = realloc(s->slots, cap * sizeof(*slots));

				if (!slots)
					return -ENOMEM;
				s->slots = slots;
				s->cap_slots = cap;
			}
			slot = calloc(1, sizeof(*slot));
			if (!slot)
				return -ENOMEM;
			slot->path = strdup(m->mount_point);
			if (!slot->path) {
				free(slot);
				return -ENOMEM;
			}
			slot->key = ++s->next_key;
			slot->mount_id = m->mount_id;
			s->slots[s->n_slots++] = slot;
		}
		slot->seen = true;
		s->views[v].slot = slot;
	}
	for (size_t i = 0; i < s->n_slots; i++) {
		if (s->slots[i]->seen)
			s->slots[k++] = s->slots[i];
		else
			fs_slot_free(s->slots[i]);
	}
	s->n_slots = k;
	return 0;
}

/* Parses the mountinfo text in s->buf, picks the mounts to show and
 * matches them with slots. */
static int fs_load(struct fs_state *s, const struct fs_settings *set)
{
	int r;

	s->n_views = 0;
	r = fs_mountinfo_parse(s->buf.data, s->buf.len, &s->mi);
	if (r < 0)
		return r;
	if (s->mi.n > s->cap) {
		size_t *idx = realloc(s->idx, s->mi.n * sizeof(*idx));
		struct fs_view *views;

		if (!idx)
			return -ENOMEM;
		s->idx = idx;
		views = realloc(s->views, s->mi.n * sizeof(*views));
		if (!views)
			return -ENOMEM;
		s->views = views;
		s->cap = s->mi.n;
	}
	s->n_views = fs_select(&s->mi, set, s->idx);
	for (size_t i = 0; i < s->n_views; i++) {
		s->views[i].mount = s->idx[i];
		s->views[i].slot = NULL;
	}
	r = fs_sync_slots(s);
	if (r < 0)
		s->n_views = 0;
	return r;
}

/* Whether the mount table changed since the last look: proc reports it to
 * poll() as POLLPRI. Other files (fixture trees) are read every tick. */
static bool fs_mounts_changed(struct fs_state *s)
{
	struct pollfd pfd = {.fd = s->poll_fd, .events = POLLPRI};

	if (s->poll_fd < 0)
		return true;
	return poll(&pfd, 1, 0) != 0;
}

static uint64_t fs_timeout_ns(const struct fs_settings *set)
{
	unsigned ms = set && set->timeout_ms ? set->timeout_ms : FS_TIMEOUT_DEFAULT_MS;

	return (uint64_t)ms * 1000000u;
}

static int fs_build_payload(struct fs_state *s, int64_t t_ms, cJSON **ret_payload)
{
	cJSON *payload, *arr;
	int r = -ENOMEM;

	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	if (!cJSON_AddNumberToObject(payload, "t", (double)t_ms))
		goto out;
	arr = cJSON_AddArrayToObject(payload, "filesystems");
	if (!arr)
		goto out;
	for (size_t i = 0; i < s->n_views; i++) {
		const struct fs_slot *slot = s->views[i].slot;
		cJSON *o;

		if (fs_mount_json(&s->mi.v[s->views[i].mount], slot->have ? &slot->usage : NULL,
				  !slot->hung, slot->err, &o) < 0)
			goto out;
		cJSON_AddItemToArray(arr, o);
	}
	*ret_payload = payload;
	payload = NULL;
	r = 0;
out:
	cJSON_Delete(payload);
	return r;
}

int fs_settle(void *state, unsigned timeout_ms)
{
	struct fs_state *s = state;
	uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		struct pollfd pfd[FS_MAX_WORKERS];
		uint64_t now, wait_ns;
		nfds_t n = 0;

		fs_collect_all(s);
		now = clock_mono_ns();
		wait_ns = deadline > now ? deadline - now : 0;
		for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
			const struct fs_worker *w = &s->workers[i];
			uint64_t due;

			if (w->pid == 0 || w->gone || w->q_n == 0)
				continue;
			due = w->head_since_ns + s->timeout_ns;
			if (now >= due)
				continue; /* overdue: stuck, not waited for */
			if (due - now < wait_ns)
				wait_ns = due - now;
			pfd[n++] = (struct pollfd){.fd = w->res_fd, .events = POLLIN};
		}
		if (n == 0)
			return 0;
		if (now >= deadline)
			return -ETIMEDOUT;
		poll(pfd, n, (int)(wait_ns / 1000000u) + 1);
	}
}

unsigned fs_stuck_workers(void *state)
{
	const struct fs_state *s = state;
	unsigned n = 0;

	for (size_t i = 0; i < FS_MAX_WORKERS; i++)
		n += s->workers[i].pid != 0 && s->workers[i].gone && s->workers[i].stuck_key;
	return n;
}

pid_t fs_worker_pid(void *state)
{
	const struct fs_state *s = state;

	return s->main ? s->main->pid : 0;
}

/* Kills every worker and reaps them, waiting up to FS_FINI_WAIT_MS for
 * those not known to be stuck; a stuck one is left behind (to init once
 * the daemon exits), and holds nothing of the daemon but memory. */
static void fs_fini(void *state)
{
	struct fs_state *s = state;
	uint64_t deadline = clock_mono_ns() + FS_FINI_WAIT_MS * 1000000u;

	if (!s)
		return;
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &s->workers[i];

		if (w->pid != 0 && !w->gone) {
			kill(w->pid, SIGKILL);
			fs_worker_let_go(s, w, 0);
		}
	}
	for (;;) {
		bool waiting = false;

		fs_reap(s);
		for (size_t i = 0; i < FS_MAX_WORKERS; i++)
			waiting = waiting || (s->workers[i].pid != 0 && !s->workers[i].stuck_key);
		if (!waiting || clock_mono_ns() >= deadline)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	for (size_t i = 0; i < FS_MAX_WORKERS; i++)
		free(s->workers[i].q);
	for (size_t i = 0; i < s->n_slots; i++)
		fs_slot_free(s->slots[i]);
	free(s->slots);
	if (s->poll_fd >= 0)
		close(s->poll_fd);
	procfs_buf_free(&s->buf);
	fs_mountinfo_free(&s->mi);
	free(s->idx);
	free(s->views);
	free(s);
}

static void fs_reason(char *reason, size_t reason_len, const char *what, int err, bool parsing)
{
	procfs_reason(reason, reason_len, what, err, parsing);
}

/* Reads mountinfo once (a missing or foreign file turns the topic off),
 * starts the first round and waits for it up to fs-timeout-ms, so that the
 * first tick has values. */
static int fs_init(const struct collector_env *env, const void *settings, void **ret_state,
		   char *reason, size_t reason_len)
{
	struct fs_state *s;
	struct statfs sfs;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		fs_reason(reason, reason_len, "self/mountinfo", r, false);
		goto out;
	}
	s->statfs = fs_statfs_fn;
	s->set = settings;
	s->timeout_ns = fs_timeout_ns(s->set);
	for (size_t i = 0; i < FS_MAX_WORKERS; i++)
		s->workers[i].req_fd = s->workers[i].res_fd = -1;
	s->poll_fd = openat(env->proc_fd, "self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (s->poll_fd >= 0 && (fstatfs(s->poll_fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)) {
		close(s->poll_fd);
		s->poll_fd = -1;
	}
	r = procfs_read(env->proc_fd, "self/mountinfo", &s->buf, FS_MOUNTINFO_MAX);
	if (r < 0) {
		fs_reason(reason, reason_len, "self/mountinfo", r, false);
		goto out;
	}
	r = fs_load(s, s->set);
	if (r < 0) {
		fs_reason(reason, reason_len, "self/mountinfo", r, r != -ENOMEM);
		goto out;
	}
	r = fs_request_round(s, clock_mono_ns());
	if (!s->main && s->n_slots > 0) {
		if (r == 0)
			r = -EAGAIN;
		snprintf(reason, reason_len, "cannot start the statfs process: %s", strerror(-r));
		goto out;
	}
	fs_settle(s, (unsigned)(s->timeout_ns / 1000000u));
	*ret_state = s;
	s = NULL;
out:
	fs_fini(s);
	return r;
}

/* Never blocks: re-reads mountinfo when it changed, files the answers that
 * arrived, gives up on calls older than fs-timeout-ms, reaps workers that
 * ended, asks for the next round and publishes what the slots hold. A
 * failed read or parse is this tick's error, and the next tick reads
 * again. */
static int fs_sample(void *state, const struct collector_env *env,
		     const struct collector_tick *tick, cJSON **ret_payload)
{
	struct fs_state *s = state;
	uint64_t now;
	int r = 0;

	*ret_payload = NULL;
	if (s->reload || fs_mounts_changed(s)) {
		r = procfs_read(env->proc_fd, "self/mountinfo", &s->buf, FS_MOUNTINFO_MAX);
		if (r == 0)
			r = fs_load(s, s->set);
		else
			s->n_views = 0;
		s->reload = r < 0;
	}
	fs_collect_all(s);
	now = clock_mono_ns();
	fs_check_timeouts(s, now);
	fs_reap(s);
	fs_request_round(s, now);
	if (r == 0)
		r = fs_build_payload(s, tick->t_ms, ret_payload);
	return r;
}

/* node_exporter's filesystem families, from the last round's readings of
 * the mounts the topic shows. */
static int fs_metrics(void *state, struct metrics *m)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
	    {"node_filesystem_size_bytes", "Filesystem size in bytes."},
	    {"node_filesystem_free_bytes", "Filesystem free space in bytes."},
	    {"node_filesystem_avail_bytes",
	     "Filesystem space available to non-root users in bytes."},
	    {"node_filesystem_files", "Filesystem total file nodes."},
	    {"node_filesystem_files_free", "Filesystem total free file nodes."},
	    {"node_filesystem_readonly", "Filesystem read-only status."},
	    {"node_filesystem_device_error", "Whether the last statfs failed or timed out."},
	};
	struct fs_state *s = state;

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		metrics_family(m, fam[f].name, "gauge", fam[f].help);
		for (size_t i = 0; i < s->n_views; i++) {
			const struct fs_mount *mt = &s->mi.v[s->views[i].mount];
			const struct fs_slot *slot = s->views[i].slot;
			const struct fs_usage *u = &slot->usage;
			const char *labels[] = {"device",     mt->source,      "fstype", mt->fstype,
						"mountpoint", mt->mount_point, NULL};
			double v;

			if (f < 5 && !slot->have)
				continue;
			switch (f) {
			case 0:
				v = (double)u->blocks * (double)u->frsize;
				break;
			case 1:
				v = (double)u->bfree * (double)u->frsize;
				break;
			case 2:
				v = (double)u->bavail * (double)u->frsize;
				break;
			case 3:
			case 4:
				if (!u->files)
					continue; /* no inode count (btrfs, vfat) */
				v = (double)(f == 3 ? u->files : u->ffree);
				break;
			case 5:
				v = mt->read_only;
				break;
			default:
				v = slot->hung || slot->err;
				break;
			}
			metrics_sample(m, fam[f].name, labels, v);
		}
	}
	return metrics_error(m);
}

/* fs-types, mounts or fs-timeout-ms changed: select and time anew. */
static void fs_reconfigure(void *state)
{
	struct fs_state *s = state;

	s->timeout_ns = fs_timeout_ns(s->set);
	s->reload = true;
}

static const struct setting fs_keys[] = {
    SETTING("fs-types", SET_LIST, offsetof(struct fs_settings, fs_types), 0, LIST_MAX, NULL),
    SETTING("mounts", SET_LIST, offsetof(struct fs_settings, mounts), 0, LIST_MAX, NULL),
    SETTING("fs-timeout-ms", SET_UINT, offsetof(struct fs_settings, timeout_ms), 10, 60000, "1000"),
    {0},
};

const struct collector fs_collector = {
    .name = "fs",
    .settings = fs_keys,
    .settings_size = sizeof(struct fs_settings),
    .reconfigure = fs_reconfigure,
    .init = fs_init,
    .sample = fs_sample,
    .metrics = fs_metrics,
    .fini = fs_fini,
};
