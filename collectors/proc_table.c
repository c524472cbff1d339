/* The `proc` topic's pid table: entries found by pid, the fds held on them,
 * and when each process is read again. */
#include "proc_table.h"

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

#include "array.h"
#include "proc_gpu.h"

/* A stat line is about 300 bytes; 52 fields of 20 digits and a 63-byte
 * comm stay under 1200. */
#define PROC_STAT_BUF 2048
/* Enough of cmdline to show PROC_CMD_MAX bytes after padding is trimmed. */
#define PROC_CMDLINE_READ 4096
#define PROC_STATUS_MAX   (64u << 10)
#define PROC_DENTS_BUF    (32u << 10)
/* A pid's entry from getdents64: 19 bytes of header, up to 10 digits and
 * a NUL, 8-aligned; a bounded listing reads at least PROC_DENTS_MIN */
#define PROC_DENT_BYTES 32u
#define PROC_DENTS_MIN  256u
#define PROC_MIN_CAP    64
/* Held fds: each costs a struct file and a seq_file page in the kernel
 * (about 4.5 KiB, charged to the daemon's memory cgroup), so their number
 * is capped; processes beyond it are read by path, at about 3x the CPU. */
#define PROC_FD_MAX 32768
/* The kernel's process CPU clock of a pid (include/linux/posix-timers.h:
 * MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)), what clock_getcpuclockid()
 * returns: the runtime of every thread of the process, in ns. */
#define PROC_CPUCLOCK(pid) ((clockid_t)((~(unsigned)(pid) << 3) | 2u))
/* Its ticks a second, for proc_cpu_hundredths. */
#define PROC_NS_HZ UINT64_C(1000000000)

/* --- the pid table: a dense array and an open-addressing index --- */

static size_t proc_slot(const struct proc_table *t, uint32_t pid)
{
	uint32_t h = pid * 0x9e3779b1u;

	return (h ^ h >> 16) & (t->n_slots - 1);
}

/* Index of pid's entry, or SIZE_MAX. */
static size_t proc_find(const struct proc_table *t, uint32_t pid)
{
	for (size_t i = proc_slot(t, pid);; i = (i + 1) & (t->n_slots - 1)) {
		uint32_t v = t->slots[i];

		if (v == 0)
			return SIZE_MAX;
		if (t->v[v - 1].pid == pid)
			return v - 1;
	}
}

static void proc_slot_put(struct proc_table *t, uint32_t pid, size_t idx)
{
	size_t i = proc_slot(t, pid);

	while (t->slots[i] != 0 && t->v[t->slots[i] - 1].pid != pid)
		i = (i + 1) & (t->n_slots - 1);
	t->slots[i] = (uint32_t)idx + 1;
}

/* Removes pid from the index, shifting later members of its probe run
 * back so that no tombstones are needed. */
static void proc_slot_remove(struct proc_table *t, uint32_t pid)
{
	size_t mask = t->n_slots - 1, i = proc_slot(t, pid), j;

	while (t->slots[i] != 0 && t->v[t->slots[i] - 1].pid != pid)
		i = (i + 1) & mask;
	if (t->slots[i] == 0)
		return;
	t->slots[i] = 0;
	for (j = (i + 1) & mask; t->slots[j] != 0; j = (j + 1) & mask) {
		size_t home = proc_slot(t, t->v[t->slots[j] - 1].pid);

		/* move j into the hole at i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = 0;
			i = j;
		}
	}
}

static int proc_reindex(struct proc_table *t, size_t n_slots)
{
	uint32_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	free(t->slots);
	t->slots = slots;
	t->n_slots = n_slots;
	for (size_t i = 0; i < t->n; i++)
		proc_slot_put(t, t->v[i].pid, i);
	return 0;
}

/* Takes e's pidfd out of the epoll set and closes it. Out explicitly:
 * closing alone leaves it in the set while a fork (a statfs worker before
 * it closes what it inherited; a test's children) holds a copy, and an
 * exited process's pidfd stays readable. */
static void proc_unwatch(struct proc_table *t, struct proc_entry *e)
{
	if (t->ep >= 0)
		epoll_ctl(t->ep, EPOLL_CTL_DEL, e->pidfd, NULL);
	close(e->pidfd);
	e->pidfd = -1;
	t->held--;
}

static void proc_entry_close(struct proc_table *t, struct proc_entry *e)
{
	if (e->stat_fd >= 0) {
		close(e->stat_fd);
		t->held--;
	}
	if (e->pidfd >= 0)
		proc_unwatch(t, e);
	e->stat_fd = -1;
}

/* Drops entry i; the last entry takes its place. */
static void proc_drop(struct proc_table *t, size_t i)
{
	struct proc_entry *e = &t->v[i];

	proc_entry_close(t, e);
	free(e->cmd);
	cJSON_Delete(e->row);
	proc_gpu_free(e->gpu);
	proc_slot_remove(t, e->pid);
	if (i != t->n - 1) {
		*e = t->v[t->n - 1];
		proc_slot_put(t, e->pid, i);
	}
	t->n--;
}

/* Gives memory back once most processes are gone. */
void proc_table_shrink(struct proc_table *t)
{
	size_t slots = t->n_slots;

	if (t->cap > PROC_MIN_CAP && t->n < t->cap / 4) {
		size_t cap = t->cap / 2;
		struct proc_entry *v = reallocarray(t->v, cap, sizeof(*v));

		if (v) {
			t->v = v;
			t->cap = cap;
		}
	}
	while (slots > 2 * PROC_MIN_CAP && t->n * 8 < slots)
		slots /= 2;
	if (slots != t->n_slots)
		proc_reindex(t, slots); /* on ENOMEM the larger index stays */
}

static int proc_reserve(struct proc_table *t)
{
	if (ARRAY_GROW(t->v, t->cap, t->n, PROC_MIN_CAP) < 0)
		return -ENOMEM;
	if ((t->n + 1) * 2 > t->n_slots)
		return proc_reindex(t, t->n_slots ? t->n_slots * 2 : 2 * PROC_MIN_CAP);
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

static bool proc_gone(int r)
{
	return r == -ENOENT || r == -ESRCH;
}

/* Out of fds: the process is still there, we could not look. */
static bool proc_no_fds(int r)
{
	return r == -EMFILE || r == -ENFILE;
}

/* After an exec (a new comm): the command line and owner are looked up
 * again. */
static void proc_forget_meta(struct proc_entry *e)
{
	free(e->cmd);
	e->cmd = NULL;
	e->meta = false;
	e->uid_known = false;
	e->fd_state = PROC_GPU_FD_NEW; /* an exec closes what is close-on-exec */
}

/* A kernel thread that was one at its last reading too and got a new
 * comm (a kworker's names its current workqueue, and changes every few
 * ticks): it did not exec, its command line is still empty and its owner
 * the same, so its cmd is "[comm]" again without reading cmdline and
 * status (three opens, ~11 syscalls). */
static void proc_kthread_renamed(struct proc_entry *e)
{
	char out[PROC_CMD_BUF];
	char *cmd;

	proc_cmdline_format("", 0, false, e->comm, out);
	cmd = strdup(out);
	if (!cmd) {
		proc_forget_meta(e);
		return;
	}
	free(e->cmd);
	e->cmd = cmd;
}

/* e's CPU rate from its CPU time now, `time` (on a live root its process
 * CPU clock in ns: exact; elsewhere utime + stime, in USER_HZ ticks),
 * since cpu_mono_ns: none at the first reading, after a change of unit
 * (a new root), when the time went backwards or no time passed. */
static void proc_rate(const struct proc_table *t, struct proc_entry *e, uint64_t time,
		      uint64_t mono_ns)
{
	uint64_t d;

	e->cpu = -1;
	if (e->have_cpu && e->cpu_ns == t->live && mono_ns > e->cpu_mono_ns &&
	    procfs_delta(e->cpu_time, time, &d) == 0) {
		uint64_t h =
		    proc_cpu_hundredths(d, t->live ? PROC_NS_HZ : t->hz, mono_ns - e->cpu_mono_ns);

		e->cpu = h > INT64_MAX ? INT64_MAX : (int64_t)h;
	}
	e->cpu_time = time;
	e->cpu_ns = t->live;
	e->cpu_mono_ns = mono_ns;
	e->have_cpu = true;
}

/* A new reading of stat into e, with clock_ns, its CPU clock read just
 * before on a live root. A different starttime under the same pid (only
 * possible when read by path) is a new process: no rate, and its command
 * line and owner are looked up again, as after an exec (which changes
 * comm). */
static void proc_fold(struct proc_table *t, struct proc_entry *e, const struct proc_stat *st,
		      uint64_t clock_ns, uint64_t mono_ns)
{
	uint64_t ticks = st->utime + st->stime;
	bool reborn = e->have_cpu && st->starttime != e->starttime;

	if (st->utime > UINT64_MAX - st->stime)
		ticks = UINT64_MAX;
	if (reborn) {
		e->have_cpu = false;
		e->comm[0] = '\0';
		proc_gpu_free(e->gpu);
		e->gpu = NULL;
	}
	e->starttime = st->starttime;
	e->ppid = st->ppid;
	proc_rate(t, e, t->live ? clock_ns : ticks, mono_ns);
	if (strcmp(e->comm, st->comm) != 0) {
		e->meta_gen++;
		memcpy(e->comm, st->comm, sizeof(e->comm));
		if (!reborn && e->meta && e->cmd && e->cmd[0] == '[' &&
		    (e->flags & st->flags & PROC_PF_KTHREAD))
			proc_kthread_renamed(e);
		else
			proc_forget_meta(e);
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
static void proc_schedule(const struct proc_table *t, struct proc_entry *e)
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
	e->next_tick = t->ticks + 1;
	while ((e->next_tick + e->pid) % every != 0)
		e->next_tick++;
}

/* Opens a pidfd for e and adds it to the epoll set; without one (old
 * kernel, no budget) e is simply checked every tick. */
static void proc_watch(struct proc_table *t, struct proc_entry *e)
{
#ifdef SYS_pidfd_open
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = e->pid};
	int fd;

	if (t->ep < 0 || t->held >= t->fd_budget)
		return;
	/* pidfd_open sets close-on-exec itself */
	fd = (int)syscall(SYS_pidfd_open, (pid_t)e->pid, 0);
	if (fd < 0)
		return;
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	e->pidfd = fd;
	t->held++;
#else
	(void)t;
	(void)e;
#endif
}

/* Makes every process whose pidfd reports an exit due now; its pidfd
 * goes, since a zombie is checked every tick until it is reaped. */
static void proc_exits(struct proc_table *t)
{
	struct epoll_event evs[64];
	int n;

	if (t->ep < 0)
		return;
	/* each round takes what it reports out of the set; the bound is
	 * for what it cannot find (which cannot be there, but must not spin) */
	for (size_t round = 0; round <= t->held / 64; round++) {
		n = epoll_wait(t->ep, evs, 64, 0);
		for (int k = 0; k < n; k++) {
			size_t i = proc_find(t, (uint32_t)evs[k].data.u64);

			if (i == SIZE_MAX)
				continue;
			t->v[i].next_tick = t->ticks;
			if (t->v[i].pidfd >= 0)
				proc_unwatch(t, &t->v[i]);
		}
		if (n < 64)
			break;
	}
}

/* Whether e, whose clock moved, may skip its stat read: a kernel thread
 * asleep at its last reading, read less than PROC_KTHREAD_STAT_TICKS ago,
 * whose exit (or the reuse of its pid) a pidfd reports. It has no memory,
 * one thread, no command line and does not exec; its CPU rate comes
 * from the clock, and a new comm (a kworker's names its workqueue) or
 * state (R, D) shows at the next reading. Nothing of the like holds for
 * other processes: their memory, threads and state may change whenever
 * they run. */
static bool proc_kthread_skip(const struct proc_table *t, const struct proc_entry *e)
{
	return e->pidfd >= 0 && (e->flags & PROC_PF_KTHREAD) &&
	       (e->state == 'I' || e->state == 'S') && e->have_clock && e->have_cpu && e->cpu_ns &&
	       t->ticks - e->stat_tick < PROC_KTHREAD_STAT_TICKS;
}

/* One check of one process. On a live root the process CPU clock comes
 * first: when it did not move since the last check, the process did not
 * run, and nothing we show can have changed (leaving any state takes
 * running; creating or ending a thread too) but for memory the kernel
 * reclaims, which a re-read every PROC_REFRESH_TICKS (when the last
 * payload showed it; else PROC_REFRESH_HIDDEN_TICKS) picks up; a kernel
 * thread that ran is read only every PROC_KTHREAD_STAT_TICKS (see
 * proc_kthread_skip). Its CPU rate then comes from the clock, exact to
 * the ns (stat's utime + stime move in steps of 1/USER_HZ s).
 * Otherwise, or when forced, stat is read: through the held fd, or by
 * path, kept when the fd budget allows. Returns 0, -ENOENT/-ESRCH when
 * the process is gone, or -errno. */
static int proc_read_entry(struct proc_table *t, int proc_fd, struct proc_entry *e,
			   uint64_t mono_ns, bool force)
{
	char buf[PROC_STAT_BUF];
	struct proc_stat st;
	uint64_t clock_ns = 0, age;
	bool moved = true, due;
	int fd = e->stat_fd, r;
	ssize_t n;

	if (t->live) {
		r = proc_read_clock(e, &clock_ns);
		if (r < 0)
			return r;
		moved = !e->have_clock || clock_ns != e->clock_ns;
		age = t->ticks - e->stat_tick;
		/* hidden ones on a phase of their own (by pid), as in
		 * proc_schedule, so that their refreshes spread over ticks */
		due = age >= PROC_REFRESH_HIDDEN_TICKS ||
		      (age >= PROC_REFRESH_TICKS &&
		       (t->ticks - e->shown_tick <= 1 ||
			(t->ticks + e->pid) % PROC_REFRESH_HIDDEN_TICKS == 0));
		if (!force && !moved && !due) {
			e->cpu = e->have_cpu && mono_ns > e->cpu_mono_ns ? 0 : -1;
			e->cpu_mono_ns = mono_ns;
			e->idle++;
			proc_schedule(t, e);
			return 0;
		}
		if (!force && moved && proc_kthread_skip(t, e)) {
			proc_rate(t, e, clock_ns, mono_ns);
			e->clock_ns = clock_ns;
			e->idle = 0;
			proc_schedule(t, e);
			return 0;
		}
	}
	if (fd < 0) {
		fd = proc_open_pid_file(proc_fd, e->pid, "stat");
		if (fd < 0)
			return fd;
		if (t->held < t->fd_budget) {
			e->stat_fd = fd;
			t->held++;
			if (t->live && e->pidfd < 0 && e->state != 'Z')
				proc_watch(t, e);
		}
	}
	n = procfs_pread(fd, buf, sizeof(buf));
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
	proc_fold(t, e, &st, clock_ns, mono_ns);
	e->stat_tick = t->ticks;
	e->idle = moved ? 0 : e->idle + 1;
	e->clock_ns = clock_ns;
	e->have_clock = t->live;
	proc_schedule(t, e);
out:
	if (fd != e->stat_fd)
		close(fd);
	return r;
}

/* Adds a pid seen in the directory. Returns 0, -ENOENT/-ESRCH when it is
 * already gone, or -errno (the pid is then left out). */
static int proc_add(struct proc_table *t, int proc_fd, uint32_t pid, uint64_t mono_ns)
{
	struct proc_entry *e;
	int r;

	r = proc_reserve(t);
	if (r < 0)
		return r;
	e = &t->v[t->n];
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->gen = t->gen;
	e->cpu = -1;
	e->stat_fd = e->pidfd = -1;
	r = proc_read_entry(t, proc_fd, e, mono_ns, true);
	/* spread the refreshes of processes found together over ticks */
	e->stat_tick -= pid % PROC_REFRESH_TICKS;
	if (r < 0) {
		proc_entry_close(t, e);
		return r;
	}
	t->n++;
	proc_slot_put(t, pid, t->n - 1);
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

/* The getdents64 batch for a listing from position `from` up to pid
 * `to`: room for the pids between them (the bound stops it there), the
 * whole buffer for a full or unbounded one. */
static size_t proc_list_size(const struct proc_table *t, off_t from, uint32_t to)
{
	uint64_t first, span;

	if (from <= t->dent_base || to == 0)
		return PROC_DENTS_BUF;
	first = (uint64_t)(from - t->dent_base);
	if (first > to)
		return PROC_DENTS_MIN;
	span = to - first + 2;
	if (span >= PROC_DENTS_BUF / PROC_DENT_BYTES)
		return PROC_DENTS_BUF;
	return span * PROC_DENT_BYTES < PROC_DENTS_MIN ? PROC_DENTS_MIN : span * PROC_DENT_BYTES;
}

/* Lists the proc root from position `from` and adds the pids not yet
 * known. A full listing (from 0) also learns dent_base, checking that it
 * holds for every pair of pid entries, and drops the known pids it no
 * longer lists. A partial one stops after pid `to` (0: no bound): once
 * pids wrapped, the processes above the last pid allocated are old ones,
 * and the kernel filled a whole buffer with them at each listing (~90
 * entries a tick here, 4 % of an idle daemon's CPU); its batches are
 * sized for the pids up to `to`. Counts processes whose stat did not
 * parse in *errors. */
int proc_table_list(struct proc_table *t, int proc_fd, uint64_t mono_ns, off_t from, uint32_t to,
		    size_t *errors)
{
	struct procfs_dents it = PROCFS_DENTS(t->dir_fd, t->dents, proc_list_size(t, from, to));
	const struct dirent64 *d;
	bool full = from == 0;
	int64_t base = 0, prev_off = -1;
	int r;

	if (lseek(t->dir_fd, from, SEEK_SET) < 0)
		return -errno;
	if (full)
		t->gen++;
	t->listed = 0;
	while ((r = procfs_dents_next(&it, &d)) > 0) {
		uint32_t pid;
		size_t i;

		if ((d->d_type != DT_DIR && d->d_type != DT_UNKNOWN) ||
		    !proc_pid_name(d->d_name, &pid))
			continue;
		t->listed++;
		if (!full && to > 0 && pid > to)
			break;
		if (full && base != -1 && prev_off >= 0) {
			int64_t b = prev_off - (int64_t)pid;

			base = base == 0 || base == b ? b : -1;
		}
		prev_off = (int64_t)d->d_off;
		i = proc_find(t, pid);
		if (i != SIZE_MAX) {
			t->v[i].gen = t->gen;
			continue;
		}
		r = proc_add(t, proc_fd, pid, mono_ns);
		if (r == -ENOMEM)
			return r;
		if (proc_no_fds(r))
			t->relist = true; /* below last_pid: the next tick must list all */
		else if (r < 0 && !proc_gone(r))
			(*errors)++;
	}
	if (r < 0)
		return r;
	if (!full)
		return 0;
	for (size_t i = 0; i < t->n;) {
		if (t->v[i].gen != t->gen)
			proc_drop(t, i);
		else
			i++;
	}
	t->dent_base = base > 0 ? base : 0;
	t->last_full_tick = t->ticks;
	return 0;
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

/* Once per process: an exec that changes comm makes proc_fold ask again. */
void proc_table_meta(int proc_fd, struct proc_entry *e, struct procfs_buf *status)
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
	if (fd < 0 || (n = procfs_pread(fd, buf, sizeof(buf))) < 0 ||
	    proc_stat_parse(buf, (size_t)n, &st) < 0 || st.starttime != e->starttime)
		goto out;
	close(fd);
	fd = -1;
	if (procfs_read(dfd, "status", status, PROC_STATUS_MAX) == 0 &&
	    proc_status_uid(status->data, status->len, &e->uid) == 0)
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
	e->meta_gen++;
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
}

int proc_table_init(struct proc_table *t)
{
	long v = sysconf(_SC_CLK_TCK);

	*t = (struct proc_table){.dir_fd = -1, .ep = -1};
	t->hz = v > 0 ? (uint64_t)v : 100;
	t->fd_budget = proc_fd_budget();
	t->dents = malloc(PROC_DENTS_BUF);
	if (!t->dents)
		return -ENOMEM;
	return proc_reindex(t, 2 * PROC_MIN_CAP);
}

void proc_table_done(struct proc_table *t)
{
	while (t->n > 0)
		proc_drop(t, t->n - 1);
	if (t->dir_fd >= 0)
		close(t->dir_fd);
	if (t->ep >= 0)
		close(t->ep);
	free(t->v);
	free(t->slots);
	free(t->dents);
	*t = (struct proc_table){.dir_fd = -1, .ep = -1};
}

void proc_table_set_root(struct proc_table *t, int proc_fd, int dir_fd)
{
	if (t->dir_fd >= 0)
		close(t->dir_fd);
	t->dir_fd = dir_fd;
	t->dent_base = 0;
	t->live = proc_is_live(proc_fd);
	for (size_t i = 0; i < t->n; i++) {
		proc_entry_close(t, &t->v[i]);
		t->v[i].have_clock = false;
	}
	if (t->ep >= 0)
		close(t->ep);
	t->ep = t->live ? epoll_create1(EPOLL_CLOEXEC) : -1;
}

/* A process not due was idle at its last check and is shown so. */
int proc_table_update(struct proc_table *t, int proc_fd, uint64_t mono_ns, bool force, bool exits,
		      size_t *errors)
{
	if (exits)
		proc_exits(t);
	for (size_t i = 0; i < t->n;) {
		struct proc_entry *e = &t->v[i];
		int r;

		if (!force && e->next_tick > t->ticks) {
			e->cpu = e->have_cpu ? 0 : -1;
			i++;
			continue;
		}
		r = proc_read_entry(t, proc_fd, e, mono_ns, force);
		if (r == -ENOMEM)
			return r;
		if (proc_no_fds(r)) {
			/* keep its last reading; hold no more fds than now */
			t->fd_budget = t->held;
			e->cpu = e->have_cpu ? 0 : -1;
			i++;
			continue;
		}
		if (r < 0) {
			if (!proc_gone(r))
				(*errors)++;
			proc_drop(t, i);
			continue;
		}
		i++;
	}
	return 0;
}
