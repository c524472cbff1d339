/* The `proc` topic's collector: each tick, the pid table brought up to
 * date, the totals per state, and the top rows by CPU and by memory as JSON
 * and Prometheus. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpu.h"
#include "json.h"
#include "metrics.h"
#include "proc_gpu.h"
#include "proc_table.h"
#include "proc_users.h"
#include "procfs.h"
#include "topn.h"

/* The whole directory is listed at least every this many ticks; in
 * between, only pids above the last one listed (see proc_sample). */
#define PROC_RESCAN_TICKS 64

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
	struct proc_table t;
	struct collector_watch ep_watch; /* t.ep (the pidfds) in the daemon's poll */
	struct collector_watch pw_watch; /* pw's inotify fd in it (or -1) */
	/* -1 when missing (the directory is then listed every tick), or
	 * when the daemon reads loadavg for all (env->read_shared) */
	int loadavg_fd;
	dev_t root_dev;
	ino_t root_ino;
	uint64_t last_pid; /* the last pid allocated when the directory was listed */
	bool last_pid_ok;
	uint64_t page_size;
	uint64_t btime_ms;
	int64_t clock_offset_ms; /* realtime - monotonic when btime was read */
	bool clock_ok;
	struct procfs_buf buf;
	/* the sys root has a DRM device: rows carry gpu_pct, gpu_mem_bytes */
	bool drm;
	struct proc_gpu_scan gs;
	struct proc_passwd pw;
	struct topn top;
	/* what the last payload showed, for metrics: totals, then the top_cpu
	 * rows at mrows[0..n_mcpu) and the top_mem rows at mrows[m_top_n..) */
	bool m_have;
	uint64_t m_n, m_threads, m_states[5]; /* running sleeping blocked stopped zombie */
	struct proc_mrow *mrows;
	size_t m_top_n, n_mcpu, n_mmem;
};

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
 * move, no process was created since the last listing. The daemon reads
 * the file once a tick for this and the load topic (env->read_shared). */
static int proc_read_last_pid(struct proc_state *s, const struct collector_env *env, uint64_t *ret)
{
	char buf[128];
	const char *text = buf, *sp;
	size_t len;
	ssize_t n;
	int r;

	if (env->read_shared) {
		r = env->read_shared(env, "loadavg", &text, &len);
		if (r < 0)
			return r;
	} else {
		if (s->loadavg_fd < 0)
			return -ENOENT;
		n = procfs_pread(s->loadavg_fd, buf, sizeof(buf));
		if (n < 0)
			return (int)n;
		len = (size_t)n;
	}
	if (len < 2 || text[len - 1] != '\n')
		return -EINVAL;
	sp = memrchr(text, ' ', len);
	if (!sp)
		return -EINVAL;
	return procfs_parse_u64(sp + 1, (size_t)(text + len - 1 - (sp + 1)), ret);
}

/* Opens what the collector keeps of the proc root, and hands the table
 * its directory (see proc_table_set_root). */
static int proc_open_root(struct proc_state *s, const struct collector_env *env, bool *ret_stat,
			  bool *ret_parsing)
{
	const int proc_fd = env->proc_fd;
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
	proc_table_set_root(&s->t, proc_fd, fd);
	if (s->loadavg_fd >= 0)
		close(s->loadavg_fd);
	s->loadavg_fd =
	    env->read_shared ? -1 : openat(proc_fd, "loadavg", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	s->last_pid_ok = false;
	s->pw.loaded = false;
	s->root_dev = st.st_dev;
	s->root_ino = st.st_ino;
	return 0;
}

/* Puts the pidfds' epoll set and, for a daemon that polls it, an inotify
 * fd on passwd's directory in the daemon's poll: each is looked at only
 * when that found it readable. */
static void proc_watch_fds(struct proc_state *s, const struct collector_env *env)
{
	collector_watch_fd(&s->ep_watch, env, s->t.ep);
	collector_watch_fd(&s->pw_watch, env,
			   env->watch_fd ? proc_passwd_watch(&s->pw, env->proc_fd) : -1);
}

static void proc_unwatch_fds(struct proc_state *s, const struct collector_env *env)
{
	collector_watch_fd_close(&s->ep_watch, env);
	collector_watch_fd_close(&s->pw_watch, env);
	proc_passwd_unwatch(&s->pw);
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

/* --- the payload --- */

static bool proc_cpu_better(const void *x, const void *y)
{
	const struct proc_entry *a = x, *b = y;

	if (a->cpu != b->cpu)
		return a->cpu > b->cpu;
	return a->pid < b->pid;
}

static bool proc_mem_better(const void *x, const void *y)
{
	const struct proc_entry *a = x, *b = y;

	if (a->rss_pages != b->rss_pages)
		return a->rss_pages > b->rss_pages;
	return a->pid < b->pid;
}

static uint64_t proc_rss_bytes(const struct proc_state *s, const struct proc_entry *e)
{
	return e->rss_pages > UINT64_MAX / s->page_size ? UINT64_MAX : e->rss_pages * s->page_size;
}

/* The numbers of e's row after "state", in its order (-1: null):
 * cpu_pct, rss_bytes, threads, start_ms, and with a DRM device gpu_pct
 * (null for a process without a DRM client, and also before its second
 * reading) and gpu_mem_bytes. Returns how many. */
static size_t proc_row_numbers(const struct proc_state *s, const struct proc_entry *e, double *ret)
{
	int64_t pct = -1;
	uint64_t mem = 0;
	bool has_mem = false;

	ret[0] = e->cpu < 0 ? -1 : (double)e->cpu / 100.0;
	ret[1] = (double)proc_rss_bytes(s, e);
	ret[2] = e->threads;
	ret[3] = (double)(s->btime_ms + e->starttime * 1000 / (s->t.hz ? s->t.hz : 100));
	if (!s->drm)
		return 4;
	if (!proc_gpu_of(e, &pct, &mem, &has_mem))
		pct = -1;
	ret[4] = pct < 0 ? -1 : (double)pct / 100.0;
	ret[5] = has_mem ? (double)mem : -1;
	return 6;
}

/* Makes e's row anew: pid, ppid, user, comm, cmd, state, then the
 * numbers of proc_row_numbers (set by proc_row_update). */
static int proc_row_make(struct proc_state *s, int proc_fd, struct proc_entry *e)
{
	static const char *const keys[] = {"cpu_pct",  "rss_bytes", "threads",
					   "start_ms", "gpu_pct",   "gpu_mem_bytes"};
	char user[256 * 3 + 1], state[2] = {e->state, '\0'};
	const char *name = NULL;
	size_t n = s->drm ? 6 : 4;
	cJSON *row;

	cJSON_Delete(e->row);
	e->row = NULL;
	if (!e->meta)
		proc_table_meta(proc_fd, e, &s->buf);
	if (e->uid_known) {
		name = proc_passwd_name(&s->pw, e->uid);
		if (!name || strlen(name) >= 256) {
			snprintf(user, sizeof(user), "%u", e->uid);
			name = user;
		}
	}
	row = cJSON_CreateObject();
	if (!row || json_num(row, "pid", e->pid) < 0 || json_num(row, "ppid", e->ppid) < 0 ||
	    json_str(row, "user", name) < 0 || json_str(row, "comm", e->comm) < 0 ||
	    json_str(row, "cmd", e->cmd) < 0 || json_str(row, "state", state) < 0)
		goto fail;
	for (size_t k = 0; k < n; k++)
		if (json_num_ref(row, keys[k], -1) < 0)
			goto fail;
	e->row = row;
	e->row_meta_gen = e->meta_gen;
	e->row_pw_gen = s->pw.gen;
	e->row_drm = s->drm;
	return 0;
fail:
	cJSON_Delete(row);
	return -ENOMEM;
}

/* Brings e's row up to date for this tick: made again when what its
 * strings come from changed (an exec, the passwd file, a DRM device seen
 * or gone), else its numbers set in place. */
static int proc_row_update(struct proc_state *s, int proc_fd, struct proc_entry *e)
{
	double num[6];
	size_t n;
	cJSON *item;
	int r;

	if (!e->row || !e->meta || e->row_meta_gen != e->meta_gen || e->row_pw_gen != s->pw.gen ||
	    e->row_drm != s->drm) {
		r = proc_row_make(s, proc_fd, e);
		if (r < 0)
			return r;
	}
	item = e->row->child->next; /* ppid */
	json_num_set(item, e->ppid);
	item = item->next->next->next->next; /* state, after user, comm, cmd */
	item->valuestring[0] = e->state;
	n = proc_row_numbers(s, e, num);
	for (size_t k = 0; k < n; k++) {
		item = item->next;
		json_num_set(item, num[k]);
	}
	return 0;
}

/* Copies text into dst of size n, cut short if need be (snprintf's
 * "%s" cost more than the rest of a row). */
static void proc_copy(char *dst, size_t n, const char *text)
{
	size_t len = strnlen(text, n - 1);

	memcpy(dst, text, len);
	dst[len] = '\0';
}

/* A string item's text, or NULL for null. */
static const char *proc_row_text(const cJSON *item)
{
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* One row into arr, and into mr for metrics: its CPU percent (by_cpu) or
 * its resident bytes. The row is kept with e from tick to tick (made once
 * while its strings stay, its numbers set in place) and arr holds a
 * reference to it: the payload is gone before the next tick, and before
 * e can be. A process in both lists has its row updated once. */
static int proc_row(struct proc_state *s, int proc_fd, struct proc_entry *e, cJSON *arr,
		    struct proc_mrow *mr, bool by_cpu)
{
	const cJSON *user, *comm;
	cJSON *ref;
	int r;

	if (e->shown_tick != s->t.ticks || !e->row) {
		e->shown_tick = s->t.ticks;
		r = proc_row_update(s, proc_fd, e);
		if (r < 0)
			return r;
	}
	user = e->row->child->next->next;
	comm = user->next;
	mr->pid = e->pid;
	mr->value = by_cpu ? (double)e->cpu / 100.0 : (double)proc_rss_bytes(s, e);
	mr->user_known = proc_row_text(user) != NULL;
	proc_copy(mr->comm, sizeof(mr->comm), comm->valuestring);
	if (mr->user_known)
		proc_copy(mr->user, sizeof(mr->user), user->valuestring);
	ref = cJSON_CreateObjectReference(e->row->child);
	if (!ref || !cJSON_AddItemToArray(arr, ref)) {
		cJSON_Delete(ref);
		return -ENOMEM;
	}
	return 0;
}

static int proc_top(struct proc_state *s, int proc_fd, cJSON *payload, const char *key, size_t n,
		    bool by_cpu)
{
	cJSON *arr = cJSON_AddArrayToObject(payload, key);
	struct proc_mrow *rows = s->mrows + (by_cpu ? 0 : s->m_top_n);
	size_t *n_rows = by_cpu ? &s->n_mcpu : &s->n_mmem;
	size_t len;
	int r;

	*n_rows = 0;
	if (!arr)
		return -ENOMEM;
	r = topn_start(&s->top, n, by_cpu ? proc_cpu_better : proc_mem_better);
	if (r < 0)
		return r;
	for (size_t k = 0; k < s->t.n; k++) {
		if (!by_cpu || s->t.v[k].cpu >= 0)
			topn_offer(&s->top, &s->t.v[k]);
	}
	len = topn_sort(&s->top);
	for (size_t i = 0; i < len; i++) {
		r = proc_row(s, proc_fd, s->top.v[i], arr, &rows[i], by_cpu);

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
	for (size_t i = 0; i < s->t.n; i++) {
		threads += s->t.v[i].threads;
		switch (s->t.v[i].state) {
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
	if (top_n != s->m_top_n) {
		struct proc_mrow *m = reallocarray(s->mrows, 2 * top_n, sizeof(*m));

		if (!m)
			goto out;
		s->mrows = m;
		s->m_top_n = top_n;
		s->n_mcpu = s->n_mmem = 0;
	}
	s->m_have = true;
	s->m_n = s->t.n;
	s->m_threads = threads;
	s->m_states[0] = running;
	s->m_states[1] = sleeping;
	s->m_states[2] = blocked;
	s->m_states[3] = stopped;
	s->m_states[4] = zombies;
	proc_passwd_refresh(&s->pw, env->proc_fd, &s->buf,
			    collector_watch_changed(&s->pw_watch, env));
	if (s->pw.has_watch && !s->pw.watching) { /* the watch ended: look every tick */
		collector_watch_fd_close(&s->pw_watch, env);
		proc_passwd_unwatch(&s->pw);
	}
	payload = json_payload(t_ms);
	if (!payload)
		goto out;
	if (json_num(payload, "processes", (double)s->t.n) < 0 ||
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
	/* rows are kept for the processes shown now only: at most 2 * top_n */
	for (size_t i = 0; i < s->t.n; i++) {
		struct proc_entry *e = &s->t.v[i];

		if (e->row && e->shown_tick != s->t.ticks) {
			cJSON_Delete(e->row);
			e->row = NULL;
		}
	}
out:
	return json_hand_over(payload, r, ret_payload);
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
	proc_table_done(&s->t);
	if (s->loadavg_fd >= 0)
		close(s->loadavg_fd);
	topn_free(&s->top);
	proc_gpu_scan_done(&s->gs);
	free(s->mrows);
	procfs_buf_free(&s->buf);
	proc_passwd_free(&s->pw);
	free(s);
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
	s->loadavg_fd = -1;
	v = sysconf(_SC_PAGESIZE);
	s->page_size = v > 0 ? (uint64_t)v : 4096;
	r = proc_table_init(&s->t);
	if (r < 0)
		goto out;
	r = proc_open_root(s, env, &in_stat, &parsing);
	if (r < 0)
		goto out;
	proc_watch_fds(s, env);
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

/* Whether the sys root has a DRM device is seen at the first tick, on a
 * new proc root and every PROC_RESCAN_TICKS; only then are processes'
 * fds looked into (proc_gpu.h). */
static int proc_sample_gpu(struct proc_state *s, const struct collector_env *env, uint64_t mono_ns,
			   bool force)
{
	struct proc_table *t = &s->t;

	if (force || t->ticks == 1 || t->ticks % PROC_RESCAN_TICKS == 0) {
		bool drm = env->sys_fd >= 0 && gpu_drm_present(env->sys_fd);

		if (s->drm && !drm)
			proc_gpu_forget(t);
		s->drm = drm;
	}
	if (!s->drm)
		return 0;
	if (force)
		proc_gpu_relist(t);
	return proc_gpu_update(&s->gs, t, env->proc_fd, mono_ns);
}

/* Every tick each known process is checked (see proc_table_update), then the
 * directory is listed for new ones. On a live root a process can only
 * appear under a pid above the last one allocated at the previous listing
 * (/proc/loadavg's last field), unless pids wrapped: so only that part of
 * the directory is listed, up to the last pid allocated now (above it,
 * after a wrap, are old processes), and all of it when pids wrapped, every
 * PROC_RESCAN_TICKS, and on other roots every tick. The first tick of a
 * process has no CPU rate. */
static int proc_sample(void *state, const struct collector_env *env,
		       const struct collector_tick *tick, cJSON **ret_payload)
{
	struct proc_state *s = state;
	struct proc_table *t = &s->t;
	struct stat own;
	const struct stat *st = env->proc_st;
	size_t errors = 0;
	uint64_t last_pid = 0;
	bool in_stat, parsing, force = false, full, have_last;
	int r;

	*ret_payload = NULL;
	s->t.ticks++;
	if (!st && fstat(env->proc_fd, &own) < 0)
		return -errno;
	if (!st)
		st = &own;
	if (st->st_dev != s->root_dev || st->st_ino != s->root_ino) {
		proc_unwatch_fds(s, env); /* t.ep is made anew, passwd is elsewhere */
		r = proc_open_root(s, env, &in_stat, &parsing);
		if (r < 0)
			return r;
		proc_watch_fds(s, env);
		force = true;
	}
	proc_check_clock(s, env->proc_fd, tick);
	have_last = proc_read_last_pid(s, env, &last_pid) == 0;
	full = force || t->relist || !t->live || t->n == 0 || t->dent_base == 0 || !have_last ||
	       !s->last_pid_ok || last_pid < s->last_pid ||
	       t->ticks - t->last_full_tick >= PROC_RESCAN_TICKS;

	r = proc_table_update(t, env->proc_fd, tick->mono_ns, force,
			      collector_watch_changed(&s->ep_watch, env), &errors);
	if (r < 0)
		return r;
	/* last_pid was read before the listing: a pid allocated since is
	 * listed at the next tick */
	if (full)
		t->relist = false; /* set again by the listing when out of fds */
	if (full)
		r = proc_table_list(t, env->proc_fd, tick->mono_ns, 0, 0, &errors);
	else if (last_pid != s->last_pid)
		r = proc_table_list(t, env->proc_fd, tick->mono_ns,
				    (off_t)((int64_t)s->last_pid + 1 + t->dent_base),
				    (uint32_t)last_pid, &errors);
	else
		r = 0;
	if (r < 0)
		return r;
	s->last_pid = last_pid;
	s->last_pid_ok = have_last;
	r = proc_sample_gpu(s, env, tick->mono_ns, force);
	if (r < 0)
		return r;
	proc_table_shrink(t);
	if (errors > 0 && t->n == 0)
		return -EINVAL;
	return proc_payload(s, env, tick->t_ms, ret_payload);
}

static const char *const proc_history[] = {"processes", "threads", "running",
					   "blocked",   "zombies", NULL};

static const struct collector_top proc_tops[] = {
    {"top_cpu", false, "pid", "comm", "cpu_pct", "rss_bytes"},
    {"top_mem", true, "pid", "comm", "cpu_pct", "rss_bytes"},
    {0},
};

static const struct setting proc_keys[] = {
    SETTING("top-n", SET_UINT, offsetof(struct proc_settings, top_n), 1, 100, "15"),
    {0},
};

const struct collector proc_collector = {
    .name = "proc",
    .settings = proc_keys,
    .settings_size = sizeof(struct proc_settings),
    .history = proc_history,
    .tops = proc_tops,
    .init = proc_init,
    .sample = proc_sample,
    .metrics = proc_metrics,
    .fini = proc_fini,
};
