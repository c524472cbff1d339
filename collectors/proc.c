#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "procfs.h"
#include "json.h"
#include "utf8.h"

/* A stat line is about 300 bytes; 52 fields of 20 digits and a 63-byte
 * comm stay under 1200. */
#define PROC_STAT_BUF 2048
/* Enough of cmdline to show PROC_CMD_MAX bytes after padding is trimmed. */
#define PROC_CMDLINE_READ 4096
#define PROC_STATUS_MAX   (64u << 10)
#define PROC_PASSWD_MAX   (16u << 20)
#define PROC_DENTS_BUF    (32u << 10)
/* The whole directory is listed at least every this many ticks; in
 * between, only pids above the last one listed (see proc_sample). */
#define PROC_RESCAN_TICKS 64
#define PROC_MIN_CAP      64
/* Held fds: each costs a struct file and a seq_file page in the kernel
 * (about 4.5 KiB, charged to the daemon's memory cgroup), so their number
 * is capped; processes beyond it are read by path, at about 3x the CPU. */
#define PROC_FD_MAX 32768
/* The kernel's process CPU clock of a pid (include/linux/posix-timers.h:
 * MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)), what clock_getcpuclockid()
 * returns: the runtime of every thread of the process, in ns. */
#define PROC_CPUCLOCK(pid) ((clockid_t)((~(unsigned)(pid) << 3) | 2u))

struct proc_entry {
	char *cmd; /* shortened command line once looked up; NULL: unknown */
	uint64_t starttime;
	uint64_t cpu_ticks;   /* utime + stime at cpu_mono_ns */
	uint64_t cpu_mono_ns; /* when cpu_ticks held */
	uint64_t rss_pages;
	/* the process CPU clock read just before the last stat read; while it
	 * stays, that reading holds */
	uint64_t clock_ns;
	uint64_t stat_tick;  /* when stat was last read */
	uint64_t shown_tick; /* when a payload last had it in a row */
	uint64_t next_tick;  /* when the clock is checked next */
	int64_t cpu;         /* this tick, hundredths of a percent of a core; -1: no rate */
	uint32_t pid;
	uint32_t gen; /* the full listing that last listed it */
	uint32_t threads;
	uint32_t flags;
	uint32_t uid;
	uint32_t idle; /* checks in a row at which the clock stood still */
	int stat_fd;   /* -1: opened by path at each reading */
	int pidfd;     /* in ep, readable once the process exited; -1: none */
	char state;
	bool have_cpu;   /* cpu_ticks holds a reading */
	bool have_clock; /* clock_ns holds a reading */
	bool meta;       /* cmd and uid were looked up */
	bool uid_known;
	char comm[PROC_COMM_MAX];
};

/* A top row as the last payload showed it, for metrics: the comm and user
 * sanitised as there, and the CPU percent or the resident bytes. */
struct proc_mrow {
	uint32_t pid;
	bool user_known;
	double value;
	char comm[PROC_COMM_MAX * 3 + 1];
	char user[256 * 3 + 1];
};

struct proc_state {
	const struct proc_settings *set;
	int dir_fd;     /* the proc root opened for reading, for getdents64 */
	int loadavg_fd; /* -1 when missing: the directory is listed every tick */
	dev_t root_dev;
	ino_t root_ino;
	/* The proc root is our own pid namespace's ("self" is us), so pids
	 * name processes for clock_gettime and pidfd_open too. */
	bool live;
	int ep;               /* epoll set of the pidfds; -1 without pidfds */
	struct proc_entry *v; /* dense */
	size_t n, cap;
	uint32_t *slots; /* pid -> index + 1, open addressing; 0 is empty */
	size_t n_slots;  /* a power of two, at least twice n */
	uint32_t gen;
	uint64_t ticks;
	uint64_t last_full_tick;
	uint64_t last_pid; /* the last pid allocated when the directory was listed */
	bool last_pid_ok;
	bool relist; /* list the whole directory at the next tick */
	/* A pid's directory entry is at position pid + dent_base (the d_off
	 * of the entry before it), so listing from L + 1 + dent_base gives the
	 * pids above L; 0: unknown */
	int64_t dent_base;
	size_t held, fd_budget;
	uint64_t hz, page_size;
	uint64_t btime_ms;
	int64_t clock_offset_ms; /* realtime - monotonic when btime was read */
	bool clock_ok;
	struct procfs_buf buf;
	char *dents;
	struct proc_users users;
	struct stat pw_stat; /* of the passwd file users came from */
	bool pw_loaded;
	struct proc_entry **heap;
	size_t heap_cap;
	/* what the last payload showed, for metrics: totals, then the top_cpu
	 * rows at mrows[0..n_mcpu) and the top_mem rows at mrows[m_top_n..) */
	bool m_have;
	uint64_t m_n, m_threads, m_states[5]; /* running sleeping blocked stopped zombie */
	struct proc_mrow *mrows;
	size_t m_top_n, n_mcpu, n_mmem;
};

/* --- parsers --- */

static int proc_parse_u32(const char *s, size_t len, uint32_t *ret)
{
	uint64_t v;
	int r = procfs_parse_u64(s, len, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

/* Field numbers are proc(5)'s, from 1: (1) pid, (2) comm, (3) state, then
 * tokens 0, 1, ... of the rest are fields 4, 5, ...: (9) flags, (14) utime,
 * (15) stime, (20) num_threads, (22) starttime, (24) rss. Fields not used
 * must still be integers; later kernels may add fields at the end. */
int proc_stat_parse(const char *text, size_t len, struct proc_stat *ret)
{
	enum {
		F_FLAGS = 9 - 4,
		F_UTIME = 14 - 4,
		F_STIME = 15 - 4,
		F_THREADS = 20 - 4,
		F_START = 22 - 4,
		F_RSS = 24 - 4,
		F_NEED = 24 - 4 + 1,
	};
	const char *end, *open, *close, *p, *tok;
	struct proc_stat st;
	size_t tok_len, comm_len, n = 0;
	uint64_t pid;
	int r = -EINVAL;

	memset(&st, 0, sizeof(st));
	if (len == 0 || text[len - 1] != '\n')
		goto out;
	end = text + len - 1;
	open = memchr(text, '(', (size_t)(end - text));
	close = memrchr(text, ')', (size_t)(end - text));
	if (!open || !close || close < open || open - text < 2 || open[-1] != ' ')
		goto out;
	r = procfs_parse_u64(text, (size_t)(open - 1 - text), &pid);
	if (r < 0)
		goto out;
	r = -ERANGE;
	if (pid == 0 || pid > INT32_MAX)
		goto out;
	st.pid = (uint32_t)pid;
	r = -EINVAL;
	comm_len = (size_t)(close - open - 1);
	if (comm_len >= sizeof(st.comm) || memchr(open + 1, '\0', comm_len))
		goto out;
	memcpy(st.comm, open + 1, comm_len);
	st.comm[comm_len] = '\0';

	/* " S " */
	p = close + 1;
	if (end - p < 3 || p[0] != ' ' || p[2] != ' ')
		goto out;
	if (!((p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z')))
		goto out;
	st.state = p[1];
	p += 2;
	/* one pass: each token an integer as the kernel prints %d/%ld/%lu/%llu
	 * (optional '-', digits), the fields used parsed as procfs_parse_u64()
	 * does (no sign, -ERANGE past UINT64_MAX) */
	while (p < end) {
		uint64_t v = 0;
		bool neg, used;

		if (*p == ' ') {
			p++;
			continue;
		}
		neg = *p == '-';
		tok = p + neg;
		for (p = tok; p < end && (unsigned)(*p - '0') <= 9; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		tok_len = (size_t)(p - tok);
		if (tok_len == 0 || (p < end && *p != ' '))
			goto out;
		used = n == F_FLAGS || n == F_UTIME || n == F_STIME || n == F_THREADS ||
		       n == F_START || n == F_RSS;
		if (used && neg)
			goto out;
		/* 20 digits or more may have wrapped: parse them again, checked */
		if (used && tok_len >= 20) {
			r = procfs_parse_u64(tok, tok_len, &v);
			if (r < 0)
				goto out;
			r = -EINVAL;
		}
		if (n == F_FLAGS && v > UINT32_MAX) {
			r = -ERANGE;
			goto out;
		}
		switch (n) {
		case F_FLAGS:
			st.flags = (uint32_t)v;
			break;
		case F_UTIME:
			st.utime = v;
			break;
		case F_STIME:
			st.stime = v;
			break;
		case F_THREADS:
			st.num_threads = v;
			break;
		case F_START:
			st.starttime = v;
			break;
		case F_RSS:
			st.rss_pages = v;
			break;
		}
		n++;
	}
	if (n < F_NEED)
		goto out;
	*ret = st;
	r = 0;
out:
	return r;
}

/* "Uid:\t0\t0\t0\t0": real, effective, saved, filesystem. */
int proc_status_uid(const char *text, size_t len, uint32_t *ret_uid)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q, *e = line + line_len;
		uint32_t ids[4];

		if (line_len < 4 || memcmp(line, "Uid:", 4) != 0)
			continue;
		q = line + 4;
		for (size_t i = 0; i < 4; i++) {
			const char *start;

			if (q >= e || *q != '\t')
				return -EINVAL;
			start = ++q;
			while (q < e && *q != '\t')
				q++;
			r = proc_parse_u32(start, (size_t)(q - start), &ids[i]);
			if (r < 0)
				return -EINVAL;
		}
		if (q != e)
			return -EINVAL;
		*ret_uid = ids[1];
		return 0;
	}
	return r < 0 ? r : -ENODATA;
}

static bool proc_is_blank(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

size_t proc_cmdline_format(const char *raw, size_t len, bool more, const char *comm, char *out)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t i = 0, o = 0;
	bool cut = more;

	while (len > 0 && proc_is_blank(p[len - 1]))
		len--;
	if (len == 0) {
		out[0] = '[';
		o = 1 + utf8_sanitize(comm, strlen(comm), out + 1);
		out[o++] = ']';
		out[o] = '\0';
		return o;
	}
	while (i < len) {
		size_t bad = 1, n = proc_is_blank(p[i]) ? 1 : utf8_seq(p + i, len - i, &bad);
		size_t w = n == 0 ? 3 : n;

		if (o + w > PROC_CMD_MAX) {
			cut = true;
			break;
		}
		if (n == 0)
			memcpy(out + o, "\xef\xbf\xbd", 3);
		else if (proc_is_blank(p[i]))
			out[o] = ' ';
		else
			memcpy(out + o, p + i, n);
		o += w;
		i += n == 0 ? bad : n;
	}
	if (cut) {
		/* back to a character boundary with room for the ellipsis */
		while (o > PROC_CMD_MAX - 3) {
			do
				o--;
			while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80);
		}
		while (o > 0 && out[o - 1] == ' ')
			o--;
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

uint64_t proc_cpu_hundredths(uint64_t dticks, uint64_t hz, uint64_t dt_ns)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 num = (unsigned __int128)dticks * 10000u * 1000000000u;
	unsigned __int128 den = (unsigned __int128)hz * dt_ns, q;

	if (den == 0)
		return 0;
	q = (num + den / 2) / den;
	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
#else
	long double q;

	if (hz == 0 || dt_ns == 0)
		return 0;
	q = (long double)dticks * 1e13L / ((long double)hz * (long double)dt_ns) + 0.5L;
	return q >= 18446744073709551615.0L ? UINT64_MAX : (uint64_t)q;
#endif
}

/* --- users --- */

static int proc_user_cmp(const void *a, const void *b)
{
	const struct proc_user *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	/* the first line wins: names point into one text, in line order */
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Splits "name:pw:uid:..." in place; returns false for a line to skip. */
static bool proc_passwd_line(char *line, size_t len, struct proc_user *ret)
{
	char *c1, *c2, *c3;
	uint32_t uid;

	if (len == 0 || line[0] == '+' || line[0] == '-' || line[0] == '#')
		return false;
	c1 = memchr(line, ':', len);
	if (!c1 || c1 == line)
		return false;
	c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
	if (!c2)
		return false;
	c3 = memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - line));
	if (!c3 || proc_parse_u32(c2 + 1, (size_t)(c3 - c2 - 1), &uid) < 0)
		return false;
	*c1 = '\0';
	ret->uid = uid;
	ret->name = line;
	return true;
}

int proc_passwd_parse(const char *text, size_t len, struct proc_users *users)
{
	struct proc_users u = {0};
	size_t cap = 0;
	char *p, *end;
	int r = -ENOMEM;

	u.text = malloc(len + 1);
	if (!u.text)
		goto out;
	memcpy(u.text, text, len);
	u.text[len] = '\0';
	for (p = u.text, end = u.text + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct proc_user pu;

		if (memchr(p, '\0', line_len) == NULL && proc_passwd_line(p, line_len, &pu)) {
			if (u.n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct proc_user *nv = reallocarray(u.v, ncap, sizeof(*nv));

				if (!nv)
					goto out;
				u.v = nv;
				cap = ncap;
			}
			u.v[u.n++] = pu;
		}
		p += line_len + 1;
	}
	if (u.n > 1) {
		size_t k = 1;

		qsort(u.v, u.n, sizeof(*u.v), proc_user_cmp);
		for (size_t i = 1; i < u.n; i++) {
			if (u.v[i].uid != u.v[k - 1].uid)
				u.v[k++] = u.v[i];
		}
		u.n = k;
	}
	proc_users_free(users);
	*users = u;
	u = (struct proc_users){0};
	r = 0;
out:
	proc_users_free(&u);
	return r;
}

const char *proc_users_name(const struct proc_users *users, uint32_t uid)
{
	size_t lo = 0, hi = users->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (users->v[mid].uid == uid)
			return users->v[mid].name;
		if (users->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void proc_users_free(struct proc_users *users)
{
	if (!users)
		return;
	free(users->v);
	free(users->text);
	*users = (struct proc_users){0};
}

/* --- the pid table: a dense array and an open-addressing index --- */

static size_t proc_slot(const struct proc_state *s, uint32_t pid)
{
	uint32_t h = pid * 0x9e3779b1u;

	return (h ^ h >> 16) & (s->n_slots - 1);
}

/* Index of pid's entry, or SIZE_MAX. */
static size_t proc_find(const struct proc_state *s, uint32_t pid)
{
	for (size_t i = proc_slot(s, pid);; i = (i + 1) & (s->n_slots - 1)) {
		uint32_t v = s->slots[i];

		if (v == 0)
			return SIZE_MAX;
		if (s->v[v - 1].pid == pid)
			return v - 1;
	}
}

static void proc_slot_put(struct proc_state *s, uint32_t pid, size_t idx)
{
	size_t i = proc_slot(s, pid);

	while (s->slots[i] != 0 && s->v[s->slots[i] - 1].pid != pid)
		i = (i + 1) & (s->n_slots - 1);
	s->slots[i] = (uint32_t)idx + 1;
}

/* Removes pid from the index, shifting later members of its probe run
 * back so that no tombstones are needed. */
static void proc_slot_remove(struct proc_state *s, uint32_t pid)
{
	size_t mask = s->n_slots - 1, i = proc_slot(s, pid), j;

	while (s->slots[i] != 0 && s->v[s->slots[i] - 1].pid != pid)
		i = (i + 1) & mask;
	if (s->slots[i] == 0)
		return;
	s->slots[i] = 0;
	for (j = (i + 1) & mask; s->slots[j] != 0; j = (j + 1) & mask) {
		size_t home = proc_slot(s, s->v[s->slots[j] - 1].pid);

		/* move j into the hole at i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			s->slots[i] = s->slots[j];
			s->slots[j] = 0;
			i = j;
		}
	}
}

static int proc_reindex(struct proc_state *s, size_t n_slots)
{
	uint32_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	free(s->slots);
	s->slots = slots;
	s->n_slots = n_slots;
	for (size_t i = 0; i < s->n; i++)
		proc_slot_put(s, s->v[i].pid, i);
	return 0;
}

static void proc_entry_close(struct proc_state *s, struct proc_entry *e)
{
	if (e->stat_fd >= 0) {
		close(e->stat_fd);
		s->held--;
	}
	if (e->pidfd >= 0) {
		close(e->pidfd); /* which takes it out of the epoll set */
		s->held--;
	}
	e->stat_fd = e->pidfd = -1;
}

/* Drops entry i; the last entry takes its place. */
static void proc_drop(struct proc_state *s, size_t i)
{
	struct proc_entry *e = &s->v[i];

	proc_entry_close(s, e);
	free(e->cmd);
	proc_slot_remove(s, e->pid);
	if (i != s->n - 1) {
		*e = s->v[s->n - 1];
		proc_slot_put(s, e->pid, i);
	}
	s->n--;
}

/* Gives memory back once most processes are gone. */
static void proc_shrink(struct proc_state *s)
{
	size_t slots = s->n_slots;

	if (s->cap > PROC_MIN_CAP && s->n < s->cap / 4) {
		size_t cap = s->cap / 2;
		struct proc_entry *v = reallocarray(s->v, cap, sizeof(*v));

		if (v) {
			s->v = v;
			s->cap = cap;
		}
	}
	while (slots > 2 * PROC_MIN_CAP && s->n * 8 < slots)
		slots /= 2;
	if (slots != s->n_slots)
		proc_reindex(s, slots); /* on ENOMEM the larger index stays */
}

static int proc_reserve(struct proc_state *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : PROC_MIN_CAP;
		struct proc_entry *v = reallocarray(s->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if ((s->n + 1) * 2 > s->n_slots)
		return proc_reindex(s, s->n_slots ? s->n_slots * 2 : 2 * PROC_MIN_CAP);
	return 0;
}

/* --- reading one process --- */

static int proc_open_file(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : fd;
}

static int proc_open_pid_file(int dirfd, uint32_t pid, const char *file)
{
	char path[32];

	snprintf(path, sizeof(path), "%u/%s", pid, file);
	return proc_open_file(dirfd, path);
}

/* Reads a small file from offset 0 (so a seq_file regenerates it) into buf,
 * NUL-terminated. Returns its length, -EFBIG when it may be longer than
 * the buffer, or -errno. */
static ssize_t proc_pread(int fd, char *buf, size_t size)
{
	ssize_t n;

	do
		n = pread(fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n == size - 1)
		return -EFBIG;
	buf[n] = '\0';
	return n;
}

static bool proc_gone(int r)
{
	return r == -ENOENT || r == -ESRCH;
}

/* Out of fds: the process is still there, we could not look. */
static bool proc_no_fds(int r)
{
	return r == -EMFILE || r == -ENFILE;
}

/* A new reading of stat into e. A different starttime under the same pid
 * (only possible when read by path) is a new process: no rate, and its
 * command line and owner are looked up again, as after an exec (which
 * changes comm). */
static void proc_fold(struct proc_state *s, struct proc_entry *e, const struct proc_stat *st,
		      uint64_t mono_ns)
{
	uint64_t ticks = st->utime + st->stime, d;

	if (st->utime > UINT64_MAX - st->stime)
		ticks = UINT64_MAX;
	if (e->have_cpu && st->starttime != e->starttime) {
		e->have_cpu = false;
		e->comm[0] = '\0';
	}
	e->starttime = st->starttime;
	e->cpu = -1;
	if (e->have_cpu && mono_ns > e->cpu_mono_ns && procfs_delta(e->cpu_ticks, ticks, &d) == 0) {
		uint64_t h = proc_cpu_hundredths(d, s->hz, mono_ns - e->cpu_mono_ns);

		e->cpu = h > INT64_MAX ? INT64_MAX : (int64_t)h;
	}
	e->cpu_ticks = ticks;
	e->cpu_mono_ns = mono_ns;
	e->have_cpu = true;
	if (strcmp(e->comm, st->comm) != 0) {
		memcpy(e->comm, st->comm, sizeof(e->comm));
		free(e->cmd);
		e->cmd = NULL;
		e->meta = false;
		e->uid_known = false;
	}
	e->state = st->state;
	e->flags = st->flags;
	e->threads = st->num_threads > UINT32_MAX ? UINT32_MAX : (uint32_t)st->num_threads;
	e->rss_pages = st->rss_pages;
}

/* Reads the process CPU clock of e. Returns 0, -ESRCH when the pid no
 * longer names a process, or -errno. */
static int proc_read_clock(const struct proc_entry *e, uint64_t *ret_ns)
{
	struct timespec ts;

	if (clock_gettime(PROC_CPUCLOCK(e->pid), &ts) < 0)
		return errno == EINVAL ? -ESRCH : -errno;
	*ret_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

/* When e is checked next: every tick, but a sleeper (S, I, P) whose exit
 * a pidfd reports and whose clock stood still PROC_IDLE_STREAK checks in a
 * row is checked every 2nd tick, and after 4x as many every
 * PROC_IDLE_MAX-th: waking up takes running, which the next check sees. */
static void proc_schedule(const struct proc_state *s, struct proc_entry *e)
{
	uint64_t every = 1;

	if (e->pidfd >= 0 && (e->state == 'S' || e->state == 'I' || e->state == 'P')) {
		if (e->idle >= 4 * PROC_IDLE_STREAK)
			every = PROC_IDLE_MAX;
		else if (e->idle >= PROC_IDLE_STREAK)
			every = 2;
	}
	/* on a phase of its own (by pid), so that processes that went idle
	 * together are not all checked on the same tick */
	e->next_tick = s->ticks + 1;
	while ((e->next_tick + e->pid) % every != 0)
		e->next_tick++;
}

/* Opens a pidfd for e and adds it to the epoll set; without one (old
 * kernel, no budget) e is simply checked every tick. */
static void proc_watch(struct proc_state *s, struct proc_entry *e)
{
#ifdef SYS_pidfd_open
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = e->pid};
	int fd;

	if (s->ep < 0 || s->held >= s->fd_budget)
		return;
	/* pidfd_open sets close-on-exec itself */
	fd = (int)syscall(SYS_pidfd_open, (pid_t)e->pid, 0);
	if (fd < 0)
		return;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	e->pidfd = fd;
	s->held++;
#else
	(void)s;
	(void)e;
#endif
}

/* Makes every process whose pidfd reports an exit due now; its pidfd
 * goes, since a zombie is checked every tick until it is reaped. */
static void proc_exits(struct proc_state *s)
{
	struct epoll_event evs[64];
	int n;

	if (s->ep < 0)
		return;
	do {
		n = epoll_wait(s->ep, evs, 64, 0);
		for (int k = 0; k < n; k++) {
			size_t i = proc_find(s, (uint32_t)evs[k].data.u64);

			if (i == SIZE_MAX)
				continue;
			s->v[i].next_tick = s->ticks;
			if (s->v[i].pidfd >= 0) {
				close(s->v[i].pidfd);
				s->v[i].pidfd = -1;
				s->held--;
			}
		}
	} while (n == 64);
}

/* One check of one process. On a live root the process CPU clock comes
 * first: when it did not move since the last stat reading, the process
 * did not run, and nothing we show can have changed (leaving any state
 * takes running; creating or ending a thread too) but for memory the
 * kernel reclaims, which a re-read every PROC_REFRESH_TICKS (when the last
 * payload showed it; else PROC_REFRESH_HIDDEN_TICKS) picks up.
 * Otherwise, or when forced, stat is read: through the held fd, or by
 * path, kept when the fd budget allows. Returns 0, -ENOENT/-ESRCH when
 * the process is gone, or -errno. */
static int proc_read_entry(struct proc_state *s, int proc_fd, struct proc_entry *e,
			   uint64_t mono_ns, bool force)
{
	char buf[PROC_STAT_BUF];
	struct proc_stat st;
	uint64_t clock_ns = 0, age;
	bool moved = true, due;
	int fd = e->stat_fd, r;
	ssize_t n;

	if (s->live) {
		r = proc_read_clock(e, &clock_ns);
		if (r < 0)
			return r;
		moved = !e->have_clock || clock_ns != e->clock_ns;
		age = s->ticks - e->stat_tick;
		/* hidden ones on a phase of their own (by pid), as in
		 * proc_schedule, so that their refreshes spread over ticks */
		due = age >= PROC_REFRESH_HIDDEN_TICKS ||
		      (age >= PROC_REFRESH_TICKS &&
		       (s->ticks - e->shown_tick <= 1 ||
			(s->ticks + e->pid) % PROC_REFRESH_HIDDEN_TICKS == 0));
		if (!force && !moved && !due) {
			e->cpu = e->have_cpu && mono_ns > e->cpu_mono_ns ? 0 : -1;
			e->cpu_mono_ns = mono_ns;
			e->idle++;
			proc_schedule(s, e);
			return 0;
		}
	}
	if (fd < 0) {
		fd = proc_open_pid_file(proc_fd, e->pid, "stat");
		if (fd < 0)
			return fd;
		if (s->held < s->fd_budget) {
			e->stat_fd = fd;
			s->held++;
			if (s->live && e->pidfd < 0 && e->state != 'Z')
				proc_watch(s, e);
		}
	}
	n = proc_pread(fd, buf, sizeof(buf));
	if (n < 0) {
		r = (int)n;
		goto out;
	}
	r = proc_stat_parse(buf, (size_t)n, &st);
	if (r < 0)
		goto out;
	if (st.pid != e->pid) {
		r = -EINVAL;
		goto out;
	}
	proc_fold(s, e, &st, mono_ns);
	e->stat_tick = s->ticks;
	e->idle = moved ? 0 : e->idle + 1;
	e->clock_ns = clock_ns;
	e->have_clock = s->live;
	proc_schedule(s, e);
out:
	if (fd != e->stat_fd)
		close(fd);
	return r;
}

/* Adds a pid seen in the directory. Returns 0, -ENOENT/-ESRCH when it is
 * already gone, or -errno (the pid is then left out). */
static int proc_add(struct proc_state *s, int proc_fd, uint32_t pid, uint64_t mono_ns)
{
	struct proc_entry *e;
	int r;

	r = proc_reserve(s);
	if (r < 0)
		return r;
	e = &s->v[s->n];
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->gen = s->gen;
	e->cpu = -1;
	e->stat_fd = e->pidfd = -1;
	r = proc_read_entry(s, proc_fd, e, mono_ns, true);
	/* spread the refreshes of processes found together over ticks */
	e->stat_tick -= pid % PROC_REFRESH_TICKS;
	if (r < 0) {
		proc_entry_close(s, e);
		return r;
	}
	s->n++;
	proc_slot_put(s, pid, s->n - 1);
	return 0;
}

/* A /proc entry name that is a pid: digits, no leading zero. */
static bool proc_pid_name(const char *name, uint32_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (name[0] < '1' || name[0] > '9')
		return false;
	for (i = 0; name[i]; i++) {
		if (name[i] < '0' || name[i] > '9' || i >= 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v > INT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* Lists the proc root from position `from` and adds the pids not yet
 * known. A full listing (from 0) also learns dent_base, checking that it
 * holds for every pair of pid entries, and drops the known pids it no
 * longer lists. Counts processes whose stat did not parse in *errors. */
static int proc_list(struct proc_state *s, int proc_fd, uint64_t mono_ns, off_t from,
		     size_t *errors)
{
	bool full = from == 0;
	int64_t base = 0, prev_off = -1;
	int r;

	if (lseek(s->dir_fd, from, SEEK_SET) < 0)
		return -errno;
	if (full)
		s->gen++;
	for (;;) {
		ssize_t n = getdents64(s->dir_fd, s->dents, PROC_DENTS_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *d = (const struct dirent64 *)(s->dents + off);
			uint32_t pid;
			size_t i;

			off += d->d_reclen;
			if ((d->d_type != DT_DIR && d->d_type != DT_UNKNOWN) ||
			    !proc_pid_name(d->d_name, &pid))
				continue;
			if (full && base != -1 && prev_off >= 0) {
				int64_t b = prev_off - (int64_t)pid;

				base = base == 0 || base == b ? b : -1;
			}
			prev_off = (int64_t)d->d_off;
			i = proc_find(s, pid);
			if (i != SIZE_MAX) {
				s->v[i].gen = s->gen;
				continue;
			}
			r = proc_add(s, proc_fd, pid, mono_ns);
			if (r == -ENOMEM)
				return r;
			if (proc_no_fds(r))
				s->relist = true; /* below last_pid: the next tick must list all */
			else if (r < 0 && !proc_gone(r))
				(*errors)++;
		}
	}
	if (!full)
		return 0;
	for (size_t i = 0; i < s->n;) {
		if (s->v[i].gen != s->gen)
			proc_drop(s, i);
		else
			i++;
	}
	s->dent_base = base > 0 ? base : 0;
	s->last_full_tick = s->ticks;
	return 0;
}

/* --- the proc root --- */

/* "btime N" of /proc/stat, in ms. */
static int proc_read_btime(struct proc_state *s, int proc_fd, bool *ret_parsing)
{
	const char *p, *end, *line;
	size_t line_len;
	int r;

	*ret_parsing = false;
	r = procfs_read(proc_fd, "stat", &s->buf, 8u << 20);
	if (r < 0)
		return r;
	*ret_parsing = true;
	p = s->buf.data;
	end = p + s->buf.len;
	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		uint64_t v;

		if (line_len < 7 || memcmp(line, "btime ", 6) != 0)
			continue;
		r = procfs_parse_u64(line + 6, line_len - 6, &v);
		if (r < 0)
			return r;
		if (v > UINT64_MAX / 1000)
			return -ERANGE;
		s->btime_ms = v * 1000;
		return 0;
	}
	return r < 0 ? r : -ENODATA;
}

/* The last pid allocated, from the end of /proc/loadavg: when it did not
 * move, no process was created since the last listing. */
static int proc_read_last_pid(struct proc_state *s, uint64_t *ret)
{
	char buf[128];
	const char *sp;
	ssize_t n;

	if (s->loadavg_fd < 0)
		return -ENOENT;
	n = proc_pread(s->loadavg_fd, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n < 2 || buf[n - 1] != '\n')
		return -EINVAL;
	sp = memrchr(buf, ' ', (size_t)n);
	if (!sp)
		return -EINVAL;
	return procfs_parse_u64(sp + 1, (size_t)(buf + n - 1 - (sp + 1)), ret);
}

/* Whether pids of the proc root are ours (its "self" is this process), so
 * that a pid names the same process for clock_gettime, and the kernel
 * has process CPU clocks (CONFIG_POSIX_TIMERS). */
static bool proc_is_live(int proc_fd)
{
	char buf[32];
	struct timespec ts;
	uint64_t pid;
	ssize_t n;

	n = readlinkat(proc_fd, "self", buf, sizeof(buf));
	if (n <= 0 || (size_t)n >= sizeof(buf) || procfs_parse_u64(buf, (size_t)n, &pid) < 0 ||
	    pid != (uint64_t)getpid())
		return false;
	return clock_gettime(PROC_CPUCLOCK(getpid()), &ts) == 0;
}

/* Opens what the collector keeps of the proc root. On a new root (a test
 * switching snapshots) the held fds are closed and every process is read
 * again by path; the entries and their counters stay. */
static int proc_open_root(struct proc_state *s, int proc_fd, bool *ret_stat, bool *ret_parsing)
{
	struct stat st;
	int fd, r;

	*ret_stat = *ret_parsing = false;
	if (fstat(proc_fd, &st) < 0)
		return -errno;
	fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_stat = true;
	r = proc_read_btime(s, proc_fd, ret_parsing);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	s->dir_fd = fd;
	if (s->loadavg_fd >= 0)
		close(s->loadavg_fd);
	s->loadavg_fd = proc_open_file(proc_fd, "loadavg");
	if (s->loadavg_fd < 0)
		s->loadavg_fd = -1;
	s->last_pid_ok = false;
	s->dent_base = 0;
	s->live = proc_is_live(proc_fd);
	for (size_t i = 0; i < s->n; i++) {
		proc_entry_close(s, &s->v[i]);
		s->v[i].have_clock = false;
	}
	if (s->ep >= 0)
		close(s->ep);
	s->ep = s->live ? epoll_create1(EPOLL_CLOEXEC) : -1;
	s->pw_loaded = false;
	s->root_dev = st.st_dev;
	s->root_ino = st.st_ino;
	return 0;
}

/* btime moves when the wall clock is set; so does realtime - monotonic. */
static void proc_check_clock(struct proc_state *s, int proc_fd, const struct collector_tick *tick)
{
	int64_t off = tick->t_ms - (int64_t)(tick->mono_ns / 1000000);
	bool parsing;

	if (s->clock_ok && off - s->clock_offset_ms < 1000 && s->clock_offset_ms - off < 1000)
		return;
	if (s->clock_ok)
		proc_read_btime(s, proc_fd, &parsing); /* on failure the old one stays */
	s->clock_offset_ms = off;
	s->clock_ok = true;
}

/* Re-reads ../etc/passwd (relative to the proc root) when it changed. */
static void proc_users_refresh(struct proc_state *s, int proc_fd)
{
	struct stat st;

	if (fstatat(proc_fd, "../etc/passwd", &st, 0) < 0) {
		proc_users_free(&s->users);
		s->pw_loaded = false;
		return;
	}
	if (s->pw_loaded && st.st_dev == s->pw_stat.st_dev && st.st_ino == s->pw_stat.st_ino &&
	    st.st_size == s->pw_stat.st_size && st.st_mtim.tv_sec == s->pw_stat.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->pw_stat.st_mtim.tv_nsec)
		return;
	if (procfs_read(proc_fd, "../etc/passwd", &s->buf, PROC_PASSWD_MAX) < 0 ||
	    proc_passwd_parse(s->buf.data, s->buf.len, &s->users) < 0) {
		proc_users_free(&s->users);
		s->pw_loaded = false;
		return;
	}
	s->pw_stat = st;
	s->pw_loaded = true;
}

/* Looks up e's command line and owner, once per process, through its
 * directory; the stat read there must carry e's starttime, or the pid
 * already belongs to another process and both stay unknown. */
static void proc_load_meta(struct proc_state *s, int proc_fd, struct proc_entry *e)
{
	char name[16], buf[PROC_CMDLINE_READ], out[PROC_CMD_BUF];
	struct proc_stat st;
	size_t len = 0;
	ssize_t n;
	int dfd, fd = -1;

	e->meta = true;
	snprintf(name, sizeof(name), "%u", e->pid);
	dfd = openat(proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		e->meta = !proc_no_fds(-errno); /* out of fds: try again later */
		goto out;
	}
	fd = proc_open_file(dfd, "stat");
	if (fd < 0 || (n = proc_pread(fd, buf, sizeof(buf))) < 0 ||
	    proc_stat_parse(buf, (size_t)n, &st) < 0 || st.starttime != e->starttime)
		goto out;
	close(fd);
	fd = -1;
	if (procfs_read(dfd, "status", &s->buf, PROC_STATUS_MAX) == 0 &&
	    proc_status_uid(s->buf.data, s->buf.len, &e->uid) == 0)
		e->uid_known = true;
	fd = proc_open_file(dfd, "cmdline");
	if (fd < 0)
		goto out;
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	proc_cmdline_format(buf, len, len == sizeof(buf), e->comm, out);
	e->cmd = strdup(out);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
}

/* --- the payload --- */

typedef bool (*proc_better_fn)(const struct proc_entry *a, const struct proc_entry *b);

static bool proc_cpu_better(const struct proc_entry *a, const struct proc_entry *b)
{
	if (a->cpu != b->cpu)
		return a->cpu > b->cpu;
	return a->pid < b->pid;
}

static bool proc_mem_better(const struct proc_entry *a, const struct proc_entry *b)
{
	if (a->rss_pages != b->rss_pages)
		return a->rss_pages > b->rss_pages;
	return a->pid < b->pid;
}

/* The heap keeps its worst member at the root. */
static void proc_heap_down(struct proc_entry **h, size_t len, size_t i, proc_better_fn better)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		struct proc_entry *t;

		if (l < len && better(h[w], h[l]))
			w = l;
		if (r < len && better(h[w], h[r]))
			w = r;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* The best n entries, best first, in s->heap: a bounded heap, so O(N log n)
 * rather than sorting every process. Returns how many. */
static size_t proc_select(struct proc_state *s, size_t n, bool by_cpu)
{
	proc_better_fn better = by_cpu ? proc_cpu_better : proc_mem_better;
	struct proc_entry **h = s->heap;
	size_t len = 0;

	for (size_t k = 0; k < s->n; k++) {
		struct proc_entry *e = &s->v[k];

		if (by_cpu && e->cpu < 0)
			continue;
		if (len < n) {
			size_t i = len++;

			h[i] = e;
			while (i > 0 && better(h[(i - 1) / 2], h[i])) {
				struct proc_entry *t = h[i];

				h[i] = h[(i - 1) / 2];
				h[(i - 1) / 2] = t;
				i = (i - 1) / 2;
			}
		} else if (better(e, h[0])) {
			h[0] = e;
			proc_heap_down(h, len, 0, better);
		}
	}
	for (size_t k = len; k > 1; k--) {
		struct proc_entry *t = h[0];

		h[0] = h[k - 1];
		h[k - 1] = t;
		proc_heap_down(h, k - 1, 0, better);
	}
	return len;
}

/* One row into arr, and into mr for metrics: its CPU percent (by_cpu) or
 * its resident bytes. */
static int proc_row(struct proc_state *s, int proc_fd, struct proc_entry *e, cJSON *arr,
		    struct proc_mrow *mr, bool by_cpu)
{
	char comm[PROC_COMM_MAX * 3 + 1], user[256 * 3 + 1], state[2] = {e->state, '\0'};
	const char *name = NULL;
	cJSON *row;
	uint64_t rss =
	    e->rss_pages > UINT64_MAX / s->page_size ? UINT64_MAX : e->rss_pages * s->page_size;

	e->shown_tick = s->ticks;
	if (!e->meta)
		proc_load_meta(s, proc_fd, e);
	if (e->uid_known) {
		const char *pw = s->pw_loaded ? proc_users_name(&s->users, e->uid) : NULL;

		if (pw && strlen(pw) < 256)
			utf8_sanitize(pw, strlen(pw), user);
		else
			snprintf(user, sizeof(user), "%u", e->uid);
		name = user;
	}
	utf8_sanitize(e->comm, strlen(e->comm), comm);
	mr->pid = e->pid;
	mr->user_known = name != NULL;
	mr->value = by_cpu ? (double)e->cpu / 100.0 : (double)rss;
	memcpy(mr->comm, comm, sizeof(comm));
	if (name)
		memcpy(mr->user, user, sizeof(user));
	row = cJSON_CreateObject();
	if (!row || !cJSON_AddItemToArray(arr, row)) {
		cJSON_Delete(row);
		return -ENOMEM;
	}
	if (json_num(row, "pid", e->pid) < 0 || json_str(row, "user", name) < 0 ||
	    json_str(row, "comm", comm) < 0 || json_str(row, "cmd", e->cmd) < 0 ||
	    json_str(row, "state", state) < 0)
		return -ENOMEM;
	if (e->cpu < 0 ? !cJSON_AddNullToObject(row, "cpu_pct")
		       : json_num(row, "cpu_pct", (double)e->cpu / 100.0) < 0)
		return -ENOMEM;
	if (json_num(row, "rss_bytes", (double)rss) < 0 ||
	    json_num(row, "threads", e->threads) < 0 ||
	    json_num(row, "start_ms",
		     (double)(s->btime_ms + e->starttime * 1000 / (s->hz ? s->hz : 100))) < 0)
		return -ENOMEM;
	return 0;
}

static int proc_top(struct proc_state *s, int proc_fd, cJSON *payload, const char *key, size_t n,
		    bool by_cpu)
{
	cJSON *arr = cJSON_AddArrayToObject(payload, key);
	struct proc_mrow *rows = s->mrows + (by_cpu ? 0 : s->m_top_n);
	size_t *n_rows = by_cpu ? &s->n_mcpu : &s->n_mmem;
	size_t len;

	*n_rows = 0;
	if (!arr)
		return -ENOMEM;
	len = proc_select(s, n, by_cpu);
	for (size_t i = 0; i < len; i++) {
		int r = proc_row(s, proc_fd, s->heap[i], arr, &rows[i], by_cpu);

		*n_rows = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

static int proc_payload(struct proc_state *s, const struct collector_env *env, int64_t t_ms,
			cJSON **ret_payload)
{
	uint64_t threads = 0, running = 0, sleeping = 0, blocked = 0, stopped = 0, zombies = 0;
	size_t top_n = s->set && s->set->top_n ? s->set->top_n : 15;
	cJSON *payload = NULL;
	int r = -ENOMEM;

	*ret_payload = NULL;
	for (size_t i = 0; i < s->n; i++) {
		threads += s->v[i].threads;
		switch (s->v[i].state) {
		case 'R':
			running++;
			break;
		case 'S':
		case 'I':
		case 'P':
			sleeping++;
			break;
		case 'D':
			blocked++;
			break;
		case 'T':
		case 't':
			stopped++;
			break;
		case 'Z':
			zombies++;
			break;
		}
	}
	if (top_n > s->heap_cap) {
		struct proc_entry **h = reallocarray(s->heap, top_n, sizeof(*h));

		if (!h)
			goto out;
		s->heap = h;
		s->heap_cap = top_n;
	}
	if (top_n != s->m_top_n) {
		struct proc_mrow *m = reallocarray(s->mrows, 2 * top_n, sizeof(*m));

		if (!m)
			goto out;
		s->mrows = m;
		s->m_top_n = top_n;
		s->n_mcpu = s->n_mmem = 0;
	}
	s->m_have = true;
	s->m_n = s->n;
	s->m_threads = threads;
	s->m_states[0] = running;
	s->m_states[1] = sleeping;
	s->m_states[2] = blocked;
	s->m_states[3] = stopped;
	s->m_states[4] = zombies;
	proc_users_refresh(s, env->proc_fd);
	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	if (json_num(payload, "t", (double)t_ms) < 0 ||
	    json_num(payload, "processes", (double)s->n) < 0 ||
	    json_num(payload, "threads", (double)threads) < 0 ||
	    json_num(payload, "running", (double)running) < 0 ||
	    json_num(payload, "sleeping", (double)sleeping) < 0 ||
	    json_num(payload, "blocked", (double)blocked) < 0 ||
	    json_num(payload, "stopped", (double)stopped) < 0 ||
	    json_num(payload, "zombies", (double)zombies) < 0)
		goto out;
	r = proc_top(s, env->proc_fd, payload, "top_cpu", top_n, true);
	if (r < 0)
		goto out;
	r = proc_top(s, env->proc_fd, payload, "top_mem", top_n, false);
	if (r < 0)
		goto out;
	*ret_payload = payload;
	payload = NULL;
out:
	cJSON_Delete(payload);
	return r;
}

/* --- metrics --- */

static void proc_metrics_rows(struct metrics *m, const char *name, const struct proc_mrow *rows,
			      size_t n)
{
	char pid[16];

	for (size_t i = 0; i < n; i++) {
		snprintf(pid, sizeof(pid), "%u", rows[i].pid);
		metrics_sample(m, name,
			       (const char *const[]){"pid", pid, "comm", rows[i].comm, "user",
						     rows[i].user_known ? rows[i].user : "", NULL},
			       rows[i].value);
	}
}

/* The last payload's totals and its top rows (top-n each, so at most
 * 2 * top-n labelled series); nothing before the first tick. */
static int proc_metrics(void *state, struct metrics *m)
{
	static const char *const states[] = {"running", "sleeping", "blocked", "stopped", "zombie"};
	const struct proc_state *s = state;

	if (!s->m_have)
		return 0;
	metrics_family(m, "sysfeed_processes", "gauge", "Processes per scheduler state.");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		metrics_sample(m, "sysfeed_processes",
			       (const char *const[]){"state", states[i], NULL},
			       (double)s->m_states[i]);
	/* not "_count": promtool reads that as a summary's count */
	metrics_family(m, "sysfeed_processes_all", "gauge", "Processes, in every state.");
	metrics_sample(m, "sysfeed_processes_all", NULL, (double)s->m_n);
	metrics_family(m, "sysfeed_threads", "gauge", "Threads of all processes.");
	metrics_sample(m, "sysfeed_threads", NULL, (double)s->m_threads);
	metrics_family(m, "sysfeed_top_process_cpu_percent", "gauge",
		       "CPU percent of one core over the last tick, for the top processes by CPU.");
	proc_metrics_rows(m, "sysfeed_top_process_cpu_percent", s->mrows, s->n_mcpu);
	metrics_family(m, "sysfeed_top_process_resident_memory_bytes", "gauge",
		       "Resident memory, for the top processes by resident memory.");
	proc_metrics_rows(m, "sysfeed_top_process_resident_memory_bytes", s->mrows + s->m_top_n,
			  s->n_mmem);
	return metrics_error(m);
}

/* --- the collector --- */

static void proc_fini(void *state)
{
	struct proc_state *s = state;

	if (!s)
		return;
	while (s->n > 0)
		proc_drop(s, s->n - 1);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	if (s->loadavg_fd >= 0)
		close(s->loadavg_fd);
	if (s->ep >= 0)
		close(s->ep);
	free(s->v);
	free(s->slots);
	free(s->dents);
	free(s->heap);
	free(s->mrows);
	procfs_buf_free(&s->buf);
	proc_users_free(&s->users);
	free(s);
}

/* The soft RLIMIT_NOFILE. getrlimit() is prlimit64() underneath, which
 * some seccomp filters deny (systemd's ~@resources in older versions):
 * then /proc/self/limits says it. Returns 0 when neither does. */
static uint64_t proc_nofile(void)
{
	struct rlimit rl;
	struct procfs_buf buf = {0};
	const char *p, *end, *line;
	size_t len;
	uint64_t v = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	if (procfs_read(AT_FDCWD, "/proc/self/limits", &buf, 65536) < 0)
		goto out;
	p = buf.data;
	end = p + buf.len;
	while (procfs_next_line(&p, end, &line, &len) > 0) {
		const char *q = line + 14, *e = line + len, *tok;
		size_t tok_len;

		if (len > 14 && memcmp(line, "Max open files", 14) == 0 &&
		    procfs_next_token(&q, e, &tok, &tok_len) > 0 &&
		    procfs_parse_u64(tok, tok_len, &v) < 0)
			v = procfs_token_is(tok, tok_len, "unlimited") ? UINT64_MAX : 0;
	}
out:
	procfs_buf_free(&buf);
	return v;
}

/* The fds the collector may hold: most of RLIMIT_NOFILE (which the daemon
 * raises to its hard limit), leaving room for clients. */
static size_t proc_fd_budget(void)
{
	uint64_t cur = proc_nofile();

	if (cur == 0)
		cur = 1024;
	if (cur > PROC_FD_MAX * 2)
		cur = PROC_FD_MAX * 2;
	cur = cur > 8192 ? cur - 4096 : cur / 4;
	return cur > PROC_FD_MAX ? PROC_FD_MAX : (size_t)cur;
}

/* Opens the proc root and reads btime, so that a root without /proc/stat
 * turns the topic off now; no process is read before the first tick. */
static int proc_init(const struct collector_env *env, const void *settings, void **ret_state,
		     char *reason, size_t reason_len)
{
	struct proc_state *s;
	long v;
	bool in_stat = false, parsing = false;
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->set = settings;
	s->dir_fd = s->loadavg_fd = s->ep = -1;
	v = sysconf(_SC_CLK_TCK);
	s->hz = v > 0 ? (uint64_t)v : 100;
	v = sysconf(_SC_PAGESIZE);
	s->page_size = v > 0 ? (uint64_t)v : 4096;
	s->fd_budget = proc_fd_budget();
	s->dents = malloc(PROC_DENTS_BUF);
	if (!s->dents)
		goto out;
	r = proc_reindex(s, 2 * PROC_MIN_CAP);
	if (r < 0)
		goto out;
	r = proc_open_root(s, env->proc_fd, &in_stat, &parsing);
	if (r < 0)
		goto out;
	*ret_state = s;
	s = NULL;
out:
	if (r < 0 && in_stat)
		procfs_reason(reason, reason_len, "stat", r, parsing);
	else if (r < 0 && reason && reason_len > 0)
		snprintf(reason, reason_len, "/proc: %s", strerror(-r));
	proc_fini(s);
	return r;
}

/* Every tick each known process is read (see proc_read_entry), then the
 * directory is listed for new ones. On a live root a process can only
 * appear under a pid above the last one allocated at the previous listing
 * (/proc/loadavg's last field), unless pids wrapped: so only that part of
 * the directory is listed, and all of it when pids wrapped, every
 * PROC_RESCAN_TICKS, and on other roots every tick. The first tick of a
 * process has no CPU rate. */
static int proc_sample(void *state, const struct collector_env *env,
		       const struct collector_tick *tick, cJSON **ret_payload)
{
	struct proc_state *s = state;
	struct stat st;
	size_t errors = 0;
	uint64_t last_pid = 0;
	bool in_stat, parsing, force = false, full, have_last;
	int r;

	*ret_payload = NULL;
	s->ticks++;
	if (fstat(env->proc_fd, &st) < 0)
		return -errno;
	if (st.st_dev != s->root_dev || st.st_ino != s->root_ino) {
		r = proc_open_root(s, env->proc_fd, &in_stat, &parsing);
		if (r < 0)
			return r;
		force = true;
	}
	proc_check_clock(s, env->proc_fd, tick);
	have_last = proc_read_last_pid(s, &last_pid) == 0;
	full = force || s->relist || !s->live || s->n == 0 || s->dent_base == 0 || !have_last ||
	       !s->last_pid_ok || last_pid < s->last_pid ||
	       s->ticks - s->last_full_tick >= PROC_RESCAN_TICKS;

	proc_exits(s);
	for (size_t i = 0; i < s->n;) {
		struct proc_entry *e = &s->v[i];

		if (!force && e->next_tick > s->ticks) {
			/* not due: idle at its last check, shown so */
			e->cpu = e->have_cpu ? 0 : -1;
			i++;
			continue;
		}
		r = proc_read_entry(s, env->proc_fd, e, tick->mono_ns, force);
		if (r == -ENOMEM)
			return r;
		if (proc_no_fds(r)) {
			/* keep its last reading; hold no more fds than now */
			s->fd_budget = s->held;
			e->cpu = e->have_cpu ? 0 : -1;
			i++;
			continue;
		}
		if (r < 0) {
			if (!proc_gone(r))
				errors++;
			proc_drop(s, i);
			continue;
		}
		i++;
	}
	/* last_pid was read before the listing: a pid allocated since is
	 * listed at the next tick */
	if (full)
		s->relist = false; /* set again by the listing when out of fds */
	if (full)
		r = proc_list(s, env->proc_fd, tick->mono_ns, 0, &errors);
	else if (last_pid != s->last_pid)
		r = proc_list(s, env->proc_fd, tick->mono_ns,
			      (off_t)((int64_t)s->last_pid + 1 + s->dent_base), &errors);
	else
		r = 0;
	if (r < 0)
		return r;
	s->last_pid = last_pid;
	s->last_pid_ok = have_last;
	proc_shrink(s);
	if (errors > 0 && s->n == 0)
		return -EINVAL;
	return proc_payload(s, env, tick->t_ms, ret_payload);
}

static const char *const proc_history[] = {"processes", "threads", "running",
					   "blocked",   "zombies", NULL};

static const struct setting proc_keys[] = {
    SETTING("top-n", SET_UINT, offsetof(struct proc_settings, top_n), 1, 100, "15"),
    {0},
};

const struct collector proc_collector = {
    .name = "proc",
    .settings = proc_keys,
    .settings_size = sizeof(struct proc_settings),
    .history = proc_history,
    .init = proc_init,
    .sample = proc_sample,
    .metrics = proc_metrics,
    .fini = proc_fini,
};
