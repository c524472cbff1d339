/* Unit tests of collectors/proc.c (and its pid table, proc_table.c): the
 * collector over two snapshots compared with golden payloads
 * (tests/fixtures/vm2/expected/proc*.json, from expected_proc.py), over
 * scratch trees rewritten between ticks (one of them "live": its self is
 * us and its pids are real children, so that the CPU clock filter runs),
 * and over the live /proc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "fixture.h"
#include "metrics.h"
#include "proc.h"
#include "proc_table.h"
#include "procfs.h"
#include "prom_check.h"

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *it = get(o, key);

	assert_true(cJSON_IsString(it));
	return it->valuestring;
}

/* The row of pid in payload[key], or NULL. */
static const cJSON *row_of(const cJSON *payload, const char *key, unsigned pid)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, get(payload, key))
	{
		if (num(r, "pid") == pid)
			return r;
	}
	return NULL;
}

/* --- the collector over the captured tree --- */

TEST(test_collector_vm2)
{
	int fd1 = open_dir("vm2", "proc"), fd2 = open_dir("vm2", "proc.2");
	struct collector_env env = {.proc_fd = fd1, .sys_fd = -1};
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = 5 * SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 6 * SEC};
	struct config cfg;
	assert_int_equal(config_defaults(&cfg), 0);
	char reason[256] = "";
	void *st = NULL;
	cJSON *p = NULL, *want;
	const cJSON *r, *w, *top;
	char *text;
	int i;

	assert_int_equal(proc_collector.init(&env, cfg.col[collector_topic(proc_collector.name)],
					     &st, reason, sizeof(reason)),
			 0);
	assert_string_equal(reason, "");
	/* the first tick: totals and top_mem, no rates */
	assert_int_equal(proc_collector.sample(st, &env, &t1, &p), 0);
	assert_non_null(p);
	assert_json_file(p, "vm2", "proc.1.json");
	assert_int_equal(cJSON_GetArraySize(get(p, "top_cpu")), 0);
	cJSON_Delete(p);
	/* the second, over proc.2 */
	env.proc_fd = fd2;
	assert_int_equal(proc_collector.sample(st, &env, &t2, &p), 0);
	assert_non_null(p);
	assert_json_file(p, "vm2", "proc.json");

	/* the odd cases, by hand */
	assert_true(num(p, "processes") == 16);
	assert_true(num(p, "zombies") == 1 && num(p, "blocked") == 1 && num(p, "stopped") == 1);
	assert_true(num(p, "running") == 1 && num(p, "sleeping") == 12);
	assert_true(num(p, "threads") == 19);
	r = row_of(p, "top_cpu", 30873); /* 100 ticks in 1 s */
	assert_non_null(r);
	assert_true(num(r, "cpu_pct") == 100);
	assert_string_equal(str(r, "cmd"), "sh -c while :; do :; done");
	r = row_of(p, "top_mem", 30871);
	assert_string_equal(str(r, "comm"), "x) (y z)");
	r = row_of(p, "top_mem", 30882); /* pid reused: a new process, no rate */
	assert_true(cJSON_IsNull(get(r, "cpu_pct")));
	assert_true(num(r, "start_ms") == 1795480737000.0 + 1231940);
	assert_null(row_of(p, "top_cpu", 30882));
	assert_null(row_of(p, "top_cpu", 30883)); /* new */
	assert_null(row_of(p, "top_mem", 30881)); /* vanished */
	assert_null(row_of(p, "top_mem", 99999)); /* no stat */
	r = row_of(p, "top_cpu", 2);
	assert_string_equal(str(r, "cmd"), "[kthreadd]");
	r = row_of(p, "top_cpu", 30879);
	assert_string_equal(str(r, "cmd"), "[sleep]");
	assert_string_equal(str(r, "state"), "Z");
	assert_string_equal(str(row_of(p, "top_cpu", 30877), "user"), "nobody");
	assert_string_equal(str(row_of(p, "top_cpu", 30878), "user"), "4242");
	assert_true(num(row_of(p, "top_mem", 30874), "threads") == 4);
	assert_true(num(row_of(p, "top_mem", 30874), "rss_bytes") == 3338 * 4096.0);
	cJSON_Delete(p);

	/* top_n = 3: the first three rows of each list */
	proc_collector.fini(st);
	COLSET(&cfg, proc)->top_n = 3;
	env.proc_fd = fd1;
	assert_int_equal(proc_collector.init(&env, cfg.col[collector_topic(proc_collector.name)],
					     &st, reason, sizeof(reason)),
			 0);
	assert_int_equal(proc_collector.sample(st, &env, &t1, &p), 0);
	cJSON_Delete(p);
	env.proc_fd = fd2;
	assert_int_equal(proc_collector.sample(st, &env, &t2, &p), 0);
	text = slurp("vm2", "expected/proc.json", NULL);
	want = cJSON_Parse(text);
	for (const char *const *key = (const char *const[]){"top_cpu", "top_mem", NULL}; *key;
	     key++) {
		top = get(p, *key);
		assert_int_equal(cJSON_GetArraySize(top), 3);
		i = 0;
		cJSON_ArrayForEach(r, top)
		{
			char *a, *b;

			w = cJSON_GetArrayItem(get(want, *key), i++);
			a = cJSON_PrintUnformatted(r);
			b = cJSON_PrintUnformatted(w);
			assert_string_equal(a, b);
			free(a);
			free(b);
		}
	}
	free(text);
	cJSON_Delete(want);
	cJSON_Delete(p);

	/* the same tree again a second later: nothing ran, all rates 0 */
	t2.mono_ns += SEC;
	t2.t_ms += 1000;
	assert_int_equal(proc_collector.sample(st, &env, &t2, &p), 0);
	cJSON_ArrayForEach(r, get(p, "top_cpu")) assert_true(num(r, "cpu_pct") == 0);
	assert_int_equal(cJSON_GetArraySize(get(p, "top_cpu")), 3);
	cJSON_Delete(p);
	/* and no time passing: no rates at all */
	assert_int_equal(proc_collector.sample(st, &env, &t2, &p), 0);
	assert_int_equal(cJSON_GetArraySize(get(p, "top_cpu")), 0);
	cJSON_Delete(p);
	proc_collector.fini(st);
	proc_collector.fini(NULL);
	close(fd1);
	close(fd2);
	config_free(&cfg);
}

/* --- a scratch tree rewritten between ticks --- */

/* A process dir's stat with these flags. */
static void scratch_stat(struct scratch *s, unsigned pid, const char *comm, char state,
			 unsigned flags, unsigned utime, unsigned threads, unsigned start,
			 unsigned rss)
{
	char path[64], text[512];

	snprintf(path, sizeof(path), "%u", pid);
	mkdirat(s->fd, path, 0700);
	snprintf(path, sizeof(path), "%u/stat", pid);
	snprintf(text, sizeof(text),
		 "%u (%s) %c 1 1 1 0 -1 %u 0 0 0 0 %u 0 0 0 20 0 %u 0 %u 1000 %u 0 0 0 0 0 0 "
		 "0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		 pid, comm, state, flags, utime, threads, start, rss);
	scratch_write(s, path, text);
}

/* A process dir; rewriting a file keeps its inode, so held fds see it. */
static void scratch_proc(struct scratch *s, unsigned pid, const char *comm, char state,
			 unsigned utime, unsigned threads, unsigned start, unsigned rss)
{
	char path[64], text[512];

	scratch_stat(s, pid, comm, state, 4194304, utime, threads, start, rss);
	snprintf(path, sizeof(path), "%u/status", pid);
	scratch_write(s, path, "Name:\tx\nUid:\t1000\t1000\t1000\t1000\n");
	snprintf(path, sizeof(path), "%u/cmdline", pid);
	snprintf(text, sizeof(text), "%s", comm);
	scratch_write(s, path, text);
}

/* base/proc is the proc root (s->fd), base/etc/passwd its ../etc/passwd. */
static void proc_scratch(struct scratch *s)
{
	int proc;

	scratch_make(s, "proc");
	assert_int_equal(mkdirat(s->fd, "proc", 0700), 0);
	assert_int_equal(mkdirat(s->fd, "etc", 0700), 0);
	proc = openat(s->fd, "proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(proc >= 0);
	close(s->fd);
	s->fd = proc;
}

static cJSON *tick(void *st, struct collector_env *env, unsigned n)
{
	struct collector_tick t = {.t_ms = T1 + n * 1000, .mono_ns = (uint64_t)n * SEC};
	cJSON *p = NULL;

	assert_int_equal(proc_collector.sample(st, env, &t, &p), 0);
	assert_non_null(p);
	return p;
}

static double cpu_of(const cJSON *p, unsigned pid)
{
	const cJSON *r = row_of(p, "top_mem", pid);

	assert_non_null(r);
	return cJSON_IsNull(get(r, "cpu_pct")) ? -1 : num(r, "cpu_pct");
}

/* A proc root that is not ours: every process read every tick, the whole
 * directory listed every tick. */
TEST(test_collector_scratch)
{
	struct scratch s;
	struct collector_env env = {.sys_fd = -1};
	struct collector_tick t9 = {.t_ms = T2, .mono_ns = 9 * SEC};
	void *st = NULL;
	cJSON *p;

	proc_scratch(&s);
	env.proc_fd = s.fd;
	init_fails(&proc_collector, &s, &env,
		   (const struct init_fail[]){
		       {NULL, NULL, -ENOENT, "/proc/stat: No such file or directory"},
		       {"stat", "cpu  1 2 3 4\nbtime x\n", -EINVAL,
			"/proc/stat: unexpected contents (Invalid argument)"},
		       {"stat", "cpu  1 2 3 4\n", -ENODATA, NULL},
		       {NULL}});
	scratch_write(&s, "stat", "cpu  1 2 3 4\nbtime 1000\n");
	scratch_proc(&s, 33, "idle", 'S', 10, 1, 50, 100);
	scratch_proc(&s, 40, "busy", 'R', 10, 1, 60, 200);
	st = init_check(&proc_collector, &env, 0, NULL);

	/* first sight: no rates, no passwd (uids as numbers) */
	p = tick(st, &env, 1);
	assert_true(num(p, "processes") == 2);
	assert_true(cpu_of(p, 33) == -1);
	assert_string_equal(str(row_of(p, "top_mem", 33), "user"), "1000");
	assert_true(num(row_of(p, "top_mem", 33), "start_ms") == 1000000 + 500);
	cJSON_Delete(p);
	/* read every tick; a row kept from the last tick shows the new
	 * reading, in both lists */
	scratch_proc(&s, 33, "idle", 'D', 60, 3, 50, 999);
	scratch_proc(&s, 40, "busy", 'R', 35, 1, 60, 200);
	p = tick(st, &env, 2);
	assert_string_equal(str(row_of(p, "top_mem", 33), "state"), "D");
	assert_string_equal(str(row_of(p, "top_cpu", 33), "state"), "D");
	assert_true(num(row_of(p, "top_cpu", 33), "threads") == 3);
	assert_true(cpu_of(p, 33) == 50);
	assert_true(cpu_of(p, 40) == 25);
	assert_true(num(row_of(p, "top_mem", 33), "rss_bytes") == 999 * 4096.0);
	assert_true(num(cJSON_GetArrayItem(get(p, "top_cpu"), 0), "pid") == 33);
	cJSON_Delete(p);

	/* exec: comm changes, the command line and owner are looked up again;
	 * a passwd appears and names the owner */
	scratch_write(&s, "../etc/passwd", "me:x:1000:1000::/:/bin/sh\n");
	scratch_proc(&s, 33, "newprog", 'S', 60, 1, 50, 999);
	p = tick(st, &env, 3);
	assert_string_equal(str(row_of(p, "top_mem", 33), "cmd"), "newprog");
	assert_string_equal(str(row_of(p, "top_mem", 33), "comm"), "newprog");
	assert_string_equal(str(row_of(p, "top_mem", 33), "user"), "me");
	assert_true(cpu_of(p, 33) == 0);
	cJSON_Delete(p);
	/* passwd rewritten (another size, so that the change shows even within
	 * one mtime granule) */
	scratch_write(&s, "../etc/passwd", "renamed:x:1000:1000::/:/bin/sh\n");
	p = tick(st, &env, 4);
	assert_string_equal(str(row_of(p, "top_mem", 33), "user"), "renamed");
	cJSON_Delete(p);
	/* the same pid with another starttime is another process: no rate */
	scratch_proc(&s, 33, "newprog", 'S', 5, 1, 77, 500);
	p = tick(st, &env, 5);
	assert_true(cpu_of(p, 33) == -1);
	assert_true(num(row_of(p, "top_mem", 33), "start_ms") == 1000000 + 770);
	cJSON_Delete(p);
	/* a counter going backwards skips one delta */
	scratch_proc(&s, 40, "busy", 'R', 5, 1, 60, 200);
	p = tick(st, &env, 6);
	assert_true(cpu_of(p, 40) == -1);
	cJSON_Delete(p);
	/* one comes, one goes, one is a directory without stat */
	scratch_proc(&s, 41, "new", 'S', 0, 1, 90, 300);
	scratch_rm(&s, "proc/40");
	mkdirat(s.fd, "42", 0700);
	p = tick(st, &env, 7);
	assert_true(num(p, "processes") == 2);
	assert_null(row_of(p, "top_mem", 40));
	assert_non_null(row_of(p, "top_mem", 41));
	cJSON_Delete(p);
	/* a bad stat drops the process; when nothing parses, the tick fails */
	scratch_write(&s, "33/stat", "33 (x) S 1\n");
	p = tick(st, &env, 8);
	assert_true(num(p, "processes") == 1);
	cJSON_Delete(p);
	scratch_write(&s, "41/stat", "garbage\n");
	tick_fails(&proc_collector, st, &env, &t9, -EINVAL);
	proc_collector.fini(st);
	scratch_remove(&s);
}

/* env->watch_fd as the daemon's: the fds handed to it, each one's count
 * in fake_gen moved by fake_poll when it is readable, as the daemon's
 * poll at a tick's start. */
static int fake_fds[4];
static size_t n_fake;
static uint32_t fake_gen[4];

static int fake_watch_fd(const struct collector_env *env, int fd)
{
	assert_true(n_fake < 4);
	fake_fds[n_fake] = fd;
	return (int)n_fake++;
}

static void fake_unwatch_fd(const struct collector_env *env, int id)
{
	fake_fds[id] = -1;
}

static void fake_poll(void)
{
	for (size_t i = 0; i < n_fake; i++) {
		struct pollfd p = {.fd = fake_fds[i], .events = POLLIN};

		if (fake_fds[i] >= 0 && poll(&p, 1, 0) > 0)
			fake_gen[i]++;
	}
}

static const char *user_of(void *st, struct collector_env *env, unsigned n)
{
	static char user[64];
	cJSON *p = tick(st, env, n);

	snprintf(user, sizeof(user), "%s", str(row_of(p, "top_mem", 33), "user"));
	cJSON_Delete(p);
	return user;
}

/* Under a daemon that polls for it, passwd is looked at when inotify says
 * its directory changed (a stat a tick saved), not before; when the
 * directory goes away the watch ends and the file is looked at every
 * tick again; a symlink is not watched. */
TEST(test_collector_passwd_watched)
{
	struct scratch s;
	struct collector_env env = {.sys_fd = -1,
				    .watch_fd = fake_watch_fd,
				    .unwatch_fd = fake_unwatch_fd,
				    .watch_gen = fake_gen};
	void *st;

	proc_scratch(&s);
	env.proc_fd = s.fd;
	scratch_write(&s, "stat", "cpu  1 2 3 4\nbtime 1000\n");
	scratch_proc(&s, 33, "idle", 'S', 10, 1, 50, 100);
	scratch_write(&s, "../etc/passwd", "me:x:1000:1000::/:/bin/sh\n");
	st = init_check(&proc_collector, &env, 0, NULL);
	fake_poll();
	assert_string_equal(user_of(st, &env, 1), "me");
	/* a change no poll has seen yet is not looked for */
	scratch_write(&s, "../etc/passwd", "renamed:x:1000:1000::/:/bin/sh\n");
	assert_string_equal(user_of(st, &env, 2), "me");
	fake_poll();
	assert_string_equal(user_of(st, &env, 3), "renamed");
	fake_poll();
	assert_string_equal(user_of(st, &env, 4), "renamed");
	/* the directory moved away: the watch ends, every tick looks */
	assert_int_equal(renameat(s.fd, "../etc", s.fd, "../etc.old"), 0);
	assert_int_equal(mkdirat(s.fd, "../etc", 0700), 0);
	scratch_write(&s, "../etc/passwd", "other:x:1000:1000::/:/bin/sh\n");
	fake_poll();
	assert_string_equal(user_of(st, &env, 5), "other");
	scratch_write(&s, "../etc/passwd", "third:x:1000:1000::/:/bin/sh\n");
	assert_string_equal(user_of(st, &env, 6), "third");
	proc_collector.fini(st);
	/* a symlink (its target may change elsewhere) is not watched */
	assert_int_equal(unlinkat(s.fd, "../etc/passwd", 0), 0);
	assert_int_equal(symlinkat("../etc.old/passwd", s.fd, "../etc/passwd"), 0);
	st = init_check(&proc_collector, &env, 0, NULL);
	fake_poll();
	assert_string_equal(user_of(st, &env, 7), "renamed");
	scratch_write(&s, "../etc.old/passwd", "linked:x:1000:1000::/:/bin/sh\n");
	assert_string_equal(user_of(st, &env, 8), "linked");
	proc_collector.fini(st);
	scratch_remove(&s);
}

/* A kernel thread (PF_KTHREAD in flags) of the scratch tree: empty
 * command line, owner 0. */
static void scratch_kthread(struct scratch *s, unsigned pid, const char *comm, unsigned utime)
{
	char path[64];

	scratch_stat(s, pid, comm, 'I', PROC_PF_KTHREAD, utime, 1, 5, 0);
	snprintf(path, sizeof(path), "%u/status", pid);
	scratch_write(s, path, "Name:\tx\nUid:\t0\t0\t0\t0\n");
	snprintf(path, sizeof(path), "%u/cmdline", pid);
	scratch_write(s, path, "");
}

/* A kernel thread whose comm changes (a kworker names its workqueue) did
 * not exec: its cmd follows the comm and its owner stays, without reading
 * cmdline and status again (here gone, so that a lookup would show null);
 * a process whose comm changes is looked up again (an exec). */
TEST(test_collector_kthread_renamed)
{
	struct scratch s;
	struct collector_env env = {.sys_fd = -1};
	void *st = NULL;
	const cJSON *r;
	cJSON *p;

	proc_scratch(&s);
	env.proc_fd = s.fd;
	scratch_write(&s, "stat", "cpu  1 2 3 4\nbtime 1000\n");
	scratch_kthread(&s, 50, "kworker/0:1-events", 1);
	scratch_proc(&s, 33, "prog", 'S', 10, 1, 50, 100);
	st = init_check(&proc_collector, &env, 0, NULL);
	p = tick(st, &env, 1);
	r = row_of(p, "top_mem", 50);
	assert_non_null(r);
	assert_string_equal(str(r, "cmd"), "[kworker/0:1-events]");
	assert_string_equal(str(r, "user"), "0");
	assert_string_equal(str(row_of(p, "top_mem", 33), "cmd"), "prog");
	cJSON_Delete(p);

	scratch_kthread(&s, 50, "kworker/0:1-mm_percpu_wq", 2);
	scratch_rm(&s, "proc/50/cmdline");
	scratch_rm(&s, "proc/50/status");
	scratch_proc(&s, 33, "prog2", 'S', 10, 1, 50, 100);
	scratch_rm(&s, "proc/33/cmdline");
	scratch_rm(&s, "proc/33/status");
	p = tick(st, &env, 2);
	r = row_of(p, "top_mem", 50);
	assert_string_equal(str(r, "comm"), "kworker/0:1-mm_percpu_wq");
	assert_string_equal(str(r, "cmd"), "[kworker/0:1-mm_percpu_wq]");
	assert_string_equal(str(r, "user"), "0");
	r = row_of(p, "top_mem", 33);
	assert_string_equal(str(r, "comm"), "prog2");
	assert_true(cJSON_IsNull(get(r, "cmd")));
	assert_true(cJSON_IsNull(get(r, "user")));
	cJSON_Delete(p);
	proc_collector.fini(st);
	scratch_remove(&s);
}

/* --- GPU use from DRM fdinfo --- */

/* The workstation tree: goldens by expected_proc.py, and what they show. */
TEST(test_collector_drm_workstation)
{
	struct run r;
	cJSON *p;

	run_start(&r, &proc_collector, "workstation");
	run_trees(&r, 0);
	p = run_tick(&r, T1, 5 * SEC);
	assert_json_file(p, "workstation", "proc.1.json");
	/* memory at once, no share before a second reading */
	assert_true(is_null(row_of(p, "top_mem", 2100), "gpu_pct"));
	assert_true(num(row_of(p, "top_mem", 2100), "gpu_mem_bytes") == 204800 * 1024.0);
	assert_true(is_null(row_of(p, "top_mem", 1), "gpu_mem_bytes"));
	cJSON_Delete(p);
	run_trees(&r, 1);
	p = run_tick(&r, T2, 6 * SEC);
	assert_json_file(p, "workstation", "proc.json");
	/* one client on two fds counted once (25, not 50), over two devices */
	assert_true(num(row_of(p, "top_mem", 1500), "gpu_pct") == 25);
	/* the busiest engine (render 70), not the sum (115) */
	assert_true(num(row_of(p, "top_mem", 2100), "gpu_pct") == 70);
	/* 150 % of one video engine over a group of two */
	assert_true(num(row_of(p, "top_mem", 2200), "gpu_pct") == 75);
	assert_true(num(row_of(p, "top_mem", 2500), "gpu_pct") == 0);
	assert_true(is_null(row_of(p, "top_mem", 2400), "gpu_pct"));
	assert_true(is_null(row_of(p, "top_mem", 2600), "gpu_pct"));
	cJSON_Delete(p);
	run_end(&r);
}

static void drm_fd(struct scratch *s, unsigned pid, int fd, const char *target, const char *info)
{
	char path[64];

	snprintf(path, sizeof(path), "%u/fd", pid);
	mkdirat(s->fd, path, 0700);
	snprintf(path, sizeof(path), "%u/fd/%d", pid, fd);
	unlinkat(s->fd, path, 0);
	assert_int_equal(symlinkat(target, s->fd, path), 0);
	snprintf(path, sizeof(path), "%u/fdinfo/%d", pid, fd);
	scratch_write(s, path, info);
}

static const cJSON *gpu_row(const cJSON *p, unsigned pid)
{
	const cJSON *r = row_of(p, "top_mem", pid);

	assert_non_null(r);
	return r;
}

static const char *drm_info(uint64_t render_ns)
{
	static char text[256];

	snprintf(text, sizeof(text),
		 "pos:\t0\nflags:\t02\ndrm-driver:\ti915\ndrm-client-id:\t5\n"
		 "drm-pdev:\t0000:00:02.0\ndrm-resident-system0:\t1024 KiB\n"
		 "drm-engine-render:\t%llu ns\n",
		 (unsigned long long)render_ns);
	return text;
}

/* When fds are listed and fdinfo read: a DRM fd opened by a process that
 * did not run is not seen; once it ran, at the next listing (every
 * PROC_GPU_RESCAN_TICKS); a process that neither ran nor had an engine
 * busy is not read; a closed fd drops the client; without a DRM device
 * the fields go. */
TEST(test_collector_drm_scratch)
{
	struct scratch s;
	struct collector_env env;
	void *st;
	cJSON *p;
	int sys;

	proc_scratch(&s);
	scratch_write(&s, "stat", "cpu  1 2 3 4\nbtime 1000\n");
	scratch_write(&s, "../sys/class/drm/renderD128/dev", "226:128\n");
	sys = openat(s.fd, "../sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sys >= 0);
	env = (struct collector_env){.proc_fd = s.fd, .sys_fd = sys};
	scratch_proc(&s, 50, "app", 'S', 10, 1, 50, 100);
	drm_fd(&s, 50, 0, "/dev/null", "pos:\t0\nflags:\t02\n");
	st = init_check(&proc_collector, &env, 0, NULL);

	p = tick(st, &env, 1);
	assert_true(is_null(gpu_row(p, 50), "gpu_pct"));
	assert_true(is_null(gpu_row(p, 50), "gpu_mem_bytes"));
	cJSON_Delete(p);
	/* opened while it did not run (which cannot be): not looked for */
	drm_fd(&s, 50, 9, "/dev/dri/renderD128", drm_info(SEC));
	p = tick(st, &env, 2);
	assert_true(is_null(gpu_row(p, 50), "gpu_mem_bytes"));
	cJSON_Delete(p);
	/* it ran at tick 3: listed at tick 5, 4 ticks after the last listing */
	scratch_proc(&s, 50, "app", 'S', 20, 1, 50, 100);
	for (unsigned n = 3; n <= 4; n++) {
		p = tick(st, &env, n);
		assert_true(is_null(gpu_row(p, 50), "gpu_mem_bytes"));
		cJSON_Delete(p);
	}
	p = tick(st, &env, 5);
	assert_true(num(gpu_row(p, 50), "gpu_mem_bytes") == 1024 * 1024);
	assert_true(is_null(gpu_row(p, 50), "gpu_pct"));
	cJSON_Delete(p);
	drm_fd(&s, 50, 9, "/dev/dri/renderD128", drm_info(SEC + SEC / 2));
	p = tick(st, &env, 6);
	assert_true(num(gpu_row(p, 50), "gpu_pct") == 50);
	cJSON_Delete(p);
	/* busy at the last reading: read again */
	p = tick(st, &env, 7);
	assert_true(num(gpu_row(p, 50), "gpu_pct") == 0);
	cJSON_Delete(p);
	/* idle and it did not run: not read, so 0 although the file moved */
	drm_fd(&s, 50, 9, "/dev/dri/renderD128", drm_info(2 * SEC + SEC / 2));
	p = tick(st, &env, 8);
	assert_true(num(gpu_row(p, 50), "gpu_pct") == 0);
	cJSON_Delete(p);
	/* it ran: read, the share over the two ticks since tick 7 */
	scratch_proc(&s, 50, "app", 'S', 30, 1, 50, 100);
	p = tick(st, &env, 9);
	assert_true(num(gpu_row(p, 50), "gpu_pct") == 50);
	cJSON_Delete(p);
	/* the fd closed: no client */
	scratch_rm(&s, "proc/50/fd/9");
	scratch_rm(&s, "proc/50/fdinfo/9");
	scratch_proc(&s, 50, "app", 'S', 40, 1, 50, 100);
	p = tick(st, &env, 10);
	assert_true(is_null(gpu_row(p, 50), "gpu_pct"));
	assert_true(is_null(gpu_row(p, 50), "gpu_mem_bytes"));
	cJSON_Delete(p);
	/* no DRM device any more: the fields go at the next look (every 64
	 * ticks) */
	scratch_rm(&s, "sys/class/drm/renderD128");
	for (unsigned n = 11; n < 64; n++)
		cJSON_Delete(tick(st, &env, n));
	p = tick(st, &env, 64);
	assert_null(cJSON_GetObjectItemCaseSensitive(gpu_row(p, 50), "gpu_pct"));
	assert_null(cJSON_GetObjectItemCaseSensitive(gpu_row(p, 50), "gpu_mem_bytes"));
	cJSON_Delete(p);
	proc_collector.fini(st);
	close(sys);
	scratch_remove(&s);
}

/* Totals per state, and the top rows of each list (top-n 2) with their
 * labels escaped; nothing before the first tick. */
TEST(test_metrics)
{
	struct scratch s;
	struct config cfg;
	assert_int_equal(config_defaults(&cfg), 0);
	COLSET(&cfg, proc)->top_n = 2;
	struct collector_env env = {.sys_fd = -1};
	struct metrics m = {0};
	char reason[256];
	void *st = NULL;

	proc_scratch(&s);
	env.proc_fd = s.fd;
	scratch_write(&s, "stat", "cpu  1 2 3 4\nbtime 1000\n");
	scratch_write(&s, "../etc/passwd", "me:x:1000:1000::/:/bin/sh\n");
	scratch_proc(&s, 33, "idle", 'S', 10, 1, 50, 100);
	scratch_proc(&s, 40, "busy", 'R', 10, 3, 60, 200);
	scratch_proc(&s, 50, "q\"\n\\", 'S', 10, 1, 70, 300);
	scratch_proc(&s, 60, "dead", 'Z', 10, 1, 80, 0);
	scratch_proc(&s, 70, "disk", 'D', 10, 2, 90, 50);
	scratch_proc(&s, 80, "stopped", 'T', 10, 1, 95, 10);
	assert_int_equal(proc_collector.init(&env, cfg.col[collector_topic(proc_collector.name)],
					     &st, reason, sizeof(reason)),
			 0);
	assert_int_equal(proc_collector.metrics(st, &m), 0);
	assert_int_equal(m.len, 0);
	cJSON_Delete(tick(st, &env, 1));
	scratch_proc(&s, 33, "idle", 'S', 60, 1, 50, 100);
	scratch_proc(&s, 40, "busy", 'R', 35, 3, 60, 200);
	cJSON_Delete(tick(st, &env, 2));
	assert_int_equal(proc_collector.metrics(st, &m), 0);
	prom_check_text(
	    m.buf,
	    "# HELP sysfeed_processes Processes per scheduler state.\n"
	    "# TYPE sysfeed_processes gauge\n"
	    "sysfeed_processes{state=\"running\"} 1\n"
	    "sysfeed_processes{state=\"sleeping\"} 2\n"
	    "sysfeed_processes{state=\"blocked\"} 1\n"
	    "sysfeed_processes{state=\"stopped\"} 1\n"
	    "sysfeed_processes{state=\"zombie\"} 1\n"
	    "# HELP sysfeed_processes_all Processes, in every state.\n"
	    "# TYPE sysfeed_processes_all gauge\n"
	    "sysfeed_processes_all 6\n"
	    "# HELP sysfeed_threads Threads of all processes.\n"
	    "# TYPE sysfeed_threads gauge\n"
	    "sysfeed_threads 9\n"
	    "# HELP sysfeed_top_process_cpu_percent CPU percent of one core over the last tick, "
	    "for the top processes by CPU.\n"
	    "# TYPE sysfeed_top_process_cpu_percent gauge\n"
	    "sysfeed_top_process_cpu_percent{pid=\"33\",comm=\"idle\",user=\"me\"} 50\n"
	    "sysfeed_top_process_cpu_percent{pid=\"40\",comm=\"busy\",user=\"me\"} 25\n"
	    "# HELP sysfeed_top_process_resident_memory_bytes Resident memory, for the top "
	    "processes by resident memory.\n"
	    "# TYPE sysfeed_top_process_resident_memory_bytes gauge\n"
	    "sysfeed_top_process_resident_memory_bytes{pid=\"50\",comm=\"q\\\"\\n\\\\\","
	    "user=\"me\"} 1228800\n"
	    "sysfeed_top_process_resident_memory_bytes{pid=\"40\",comm=\"busy\",user=\"me\"} "
	    "819200\n");
	metrics_free(&m);
	proc_collector.fini(st);
	scratch_remove(&s);
	config_free(&cfg);
}

static pid_t spawn_busy(void);
static pid_t spawn_sleeper(void);
static void wait_ran(pid_t pid);
static void wait_state(pid_t pid, char state);

/* A scratch root made live, for env: its self is us (and its pids are to
 * be children of ours), so each process's CPU clock decides whether its
 * (scratch) stat is read, and pidfds report their exits. */
static void scratch_make_live(struct scratch *s, struct collector_env *env)
{
	char self[16];

	proc_scratch(s);
	env->proc_fd = s->fd;
	snprintf(self, sizeof(self), "%d", (int)getpid());
	assert_int_equal(symlinkat(self, s->fd, "self"), 0);
	scratch_write(s, "stat", "cpu  1 2 3 4\nbtime 1000\n");
}

/* A sleeper whose first stat refresh is not due at the second tick:
 * refreshes are spread over ticks by pid (proc_add). */
static pid_t spawn_sleeper_not_due(void)
{
	pid_t pid = spawn_sleeper();

	while (pid % PROC_REFRESH_TICKS == PROC_REFRESH_TICKS - 1) {
		pid_t other = spawn_sleeper();

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = other;
	}
	return pid;
}

TEST(test_collector_clock)
{
	pid_t idle = spawn_sleeper_not_due(), busy = spawn_busy();
	struct scratch s;
	struct collector_env env = {.sys_fd = -1};
	struct timespec nap = {.tv_nsec = 20 * 1000 * 1000};
	void *st = NULL;
	unsigned n;
	cJSON *p;

	scratch_make_live(&s, &env);
	scratch_proc(&s, (unsigned)idle, "idle", 'S', 10, 1, 50, 100);
	scratch_proc(&s, (unsigned)busy, "busy", 'R', 10, 1, 60, 200);
	st = init_check(&proc_collector, &env, 0, NULL);
	nanosleep(&nap, NULL); /* let both start */

	p = tick(st, &env, 1);
	assert_true(num(p, "processes") == 2);
	cJSON_Delete(p);
	/* the sleeper did not run: its stat is not read again (the kernel
	 * would not have changed it; here it shows which reading was used);
	 * the busy one ran: read, but its rate is its CPU clock's (what it
	 * really ran since, over the tick's second), not stat's utime */
	scratch_proc(&s, (unsigned)idle, "idle", 'S', 60, 1, 50, 999);
	scratch_proc(&s, (unsigned)busy, "busy", 'R', 30, 1, 60, 200);
	nanosleep(&nap, NULL);
	wait_ran(busy); /* a loaded machine may not have run it in the nap */
	p = tick(st, &env, 2);
	assert_true(cpu_of(p, (unsigned)idle) == 0);
	assert_true(num(row_of(p, "top_mem", (unsigned)idle), "rss_bytes") == 100 * 4096.0);
	assert_true(cpu_of(p, (unsigned)busy) > 0 && cpu_of(p, (unsigned)busy) != 20);
	cJSON_Delete(p);
	/* until its refresh, at most PROC_REFRESH_TICKS later (and a back-off
	 * step), its reading stands */
	for (n = 3; n < 2 + PROC_REFRESH_TICKS + PROC_IDLE_MAX; n++) {
		double rss;

		p = tick(st, &env, n);
		rss = num(row_of(p, "top_mem", (unsigned)idle), "rss_bytes");
		if (rss != 100 * 4096.0) {
			/* stat's utime moved, the clock did not: 0 */
			assert_true(rss == 999 * 4096.0);
			assert_true(cpu_of(p, (unsigned)idle) == 0);
			cJSON_Delete(p);
			break;
		}
		assert_true(cpu_of(p, (unsigned)idle) == 0);
		cJSON_Delete(p);
	}
	assert_true(n < 2 + PROC_REFRESH_TICKS + PROC_IDLE_MAX);
	/* long idle now (checked every PROC_IDLE_MAX ticks at most): a zombie
	 * in the file alone changes nothing, as the process did not run */
	for (unsigned k = 0; k < 4 * PROC_IDLE_STREAK; k++)
		cJSON_Delete(tick(st, &env, ++n));
	scratch_proc(&s, (unsigned)idle, "idle", 'Z', 60, 1, 50, 0);
	p = tick(st, &env, ++n);
	assert_string_equal(str(row_of(p, "top_mem", (unsigned)idle), "state"), "S");
	cJSON_Delete(p);
	/* its exit shows at the next tick, whatever its back-off: the pidfd */
	kill(idle, SIGKILL);
	wait_state(idle, 'Z');
	p = tick(st, &env, ++n);
	assert_string_equal(str(row_of(p, "top_mem", (unsigned)idle), "state"), "Z");
	assert_true(num(p, "zombies") == 1);
	cJSON_Delete(p);
	/* reaped: gone at once, its stat file notwithstanding */
	waitpid(idle, NULL, 0);
	p = tick(st, &env, ++n);
	assert_true(num(p, "processes") == 1);
	assert_null(row_of(p, "top_mem", (unsigned)idle));
	cJSON_Delete(p);
	proc_collector.fini(st);
	kill(busy, SIGKILL);
	waitpid(busy, NULL, 0);
	scratch_remove(&s);
}

/* An idle process that no row shows is re-read on its own phase every
 * PROC_REFRESH_HIDDEN_TICKS ticks (never before PROC_REFRESH_TICKS), not
 * every PROC_REFRESH_TICKS: its memory only shrinks meanwhile, so it
 * cannot enter top_mem. Here its stat file grows it into top_mem's one
 * row: that shows when it was read. */
TEST(test_collector_hidden_refresh)
{
	pid_t big = spawn_sleeper(), small = spawn_sleeper(), busy = spawn_busy();
	struct config cfg;
	assert_int_equal(config_defaults(&cfg), 0);
	COLSET(&cfg, proc)->top_n = 1;
	struct collector_env env = {.sys_fd = -1};
	struct scratch s;
	char reason[256];
	unsigned n, phase = (unsigned)small % PROC_REFRESH_TICKS;
	void *st = NULL;
	cJSON *p;

	scratch_make_live(&s, &env);
	scratch_proc(&s, (unsigned)big, "big", 'S', 10, 1, 50, 500);
	scratch_proc(&s, (unsigned)small, "small", 'S', 10, 1, 50, 100);
	scratch_proc(&s, (unsigned)busy, "busy", 'R', 10, 1, 60, 200);
	assert_int_equal(proc_collector.init(&env, cfg.col[collector_topic(proc_collector.name)],
					     &st, reason, sizeof(reason)),
			 0);
	wait_state(big, 'S');
	wait_state(small, 'S');

	p = tick(st, &env, 1);
	assert_non_null(row_of(p, "top_mem", (unsigned)big));
	cJSON_Delete(p);
	scratch_proc(&s, (unsigned)small, "small", 'S', 10, 1, 50, 100000);
	for (n = 2; n < 2 + PROC_REFRESH_HIDDEN_TICKS + PROC_REFRESH_TICKS; n++) {
		bool seen;

		p = tick(st, &env, n);
		seen = row_of(p, "top_mem", (unsigned)small) != NULL;
		cJSON_Delete(p);
		if (seen)
			break;
	}
	/* n is the collector's tick count too (one sample a tick); its first
	 * reading was at tick 1, PROC_REFRESH_TICKS - phase before its first
	 * refresh was allowed */
	assert_true(n < 2 + PROC_REFRESH_HIDDEN_TICKS + PROC_REFRESH_TICKS);
	assert_true(n - 1 + phase >= PROC_REFRESH_TICKS);
	if ((n + (unsigned)small) % PROC_REFRESH_HIDDEN_TICKS != 0) {
		/* not its phase: only when the reading became too old, at the
		 * next check (back-off: at most PROC_IDLE_MAX ticks later) */
		assert_true(n - 1 + phase >= PROC_REFRESH_HIDDEN_TICKS);
		assert_true(n - 1 + phase < PROC_REFRESH_HIDDEN_TICKS + PROC_IDLE_MAX);
	}
	proc_collector.fini(st);
	kill(big, SIGKILL);
	kill(small, SIGKILL);
	kill(busy, SIGKILL);
	waitpid(big, NULL, 0);
	waitpid(small, NULL, 0);
	waitpid(busy, NULL, 0);
	scratch_remove(&s);
	config_free(&cfg);
}

/* Whether pidfd_open works here (not before Linux 5.3, nor under
 * valgrind). */
static bool pidfd_works(void)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (fd >= 0) {
		close(fd);
		return true;
	}
#endif
	return false;
}

/* On a live root a kernel thread asleep (I) at its last reading, whose
 * clock moved, has its stat read only every PROC_KTHREAD_STAT_TICKS
 * ticks: its comm, rewritten before each tick to name that tick, shows at
 * most 3 ticks late, and not always at once. The subject is a busy child
 * of ours that its scratch stat calls a kernel thread: its clock moves at
 * every tick, as a kworker's that runs every second. Another busy child,
 * an ordinary process asleep at each reading, is read at every tick. Both
 * rates come from the clocks (their utime stands still in the files).
 * Without pidfds the reuse of its pid could pass unseen: read at every
 * tick then. */
TEST(test_collector_kthread_ran)
{
	pid_t kw = spawn_busy(), prog = spawn_busy();
	struct scratch s;
	struct collector_env env = {.sys_fd = -1};
	unsigned n, late = 0, kw_ran = 0, prog_ran = 0;
	void *st = NULL;

	scratch_make_live(&s, &env);
	scratch_kthread(&s, (unsigned)kw, "kw-0", 7);
	scratch_proc(&s, (unsigned)prog, "prog-0", 'S', 7, 1, 50, 100);
	st = init_check(&proc_collector, &env, 0, NULL);
	for (n = 1; n <= 4 * PROC_KTHREAD_STAT_TICKS; n++) {
		char comm[16];
		unsigned shown;
		const cJSON *r;
		cJSON *p;

		snprintf(comm, sizeof(comm), "kw-%u", n);
		scratch_kthread(&s, (unsigned)kw, comm, 7);
		snprintf(comm, sizeof(comm), "prog-%u", n);
		scratch_proc(&s, (unsigned)prog, comm, 'S', 7, 1, 50, 100);
		wait_ran(kw);
		wait_ran(prog);
		p = tick(st, &env, n);
		r = row_of(p, "top_mem", (unsigned)kw);
		assert_non_null(r);
		assert_int_equal(sscanf(str(r, "comm"), "kw-%u", &shown), 1);
		assert_true(shown <= n && n - shown < PROC_KTHREAD_STAT_TICKS);
		late += shown < n;
		assert_string_equal(str(r, "state"), "I");
		assert_string_equal(str(row_of(p, "top_mem", (unsigned)prog), "comm"), comm);
		/* a rate of at least 0.005 % of the tick's second */
		kw_ran += cpu_of(p, (unsigned)kw) > 0;
		prog_ran += cpu_of(p, (unsigned)prog) > 0;
		cJSON_Delete(p);
	}
	assert_true(pidfd_works() ? late > 0 : late == 0);
	assert_true(kw_ran > 0 && prog_ran > 0);
	proc_collector.fini(st);
	kill(kw, SIGKILL);
	kill(prog, SIGKILL);
	waitpid(kw, NULL, 0);
	waitpid(prog, NULL, 0);
	scratch_remove(&s);
}

/* --- the live /proc --- */

/* Children die with the test process, also when an assertion ends a test
 * before it killed them. */
static pid_t spawn_busy(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			__asm__ volatile("" ::: "memory");
	}
	return pid;
}

/* Waits (up to 5 s) until the live /proc shows pid in the given state. */
static void wait_state(pid_t pid, char state)
{
	char path[64], want[5] = {')', ' ', state, ' ', '\0'};

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int tries = 0; tries < 5000; tries++) {
		char buf[512] = "";
		int f = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t len = f >= 0 ? read(f, buf, sizeof(buf) - 1) : -1;

		if (f >= 0)
			close(f);
		if (len > 0 && strstr(buf, want))
			return;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	fail_msg("pid %d never reached state %c", (int)pid, state);
}

/* Until pid's CPU clock moves (it ran since the call). */
static void wait_ran(pid_t pid)
{
	clockid_t cid;
	struct timespec a, b;
	uint64_t end = clock_mono_ms() + 10000;

	assert_int_equal(clock_getcpuclockid(pid, &cid), 0);
	assert_int_equal(clock_gettime(cid, &a), 0);
	do {
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
		assert_int_equal(clock_gettime(cid, &b), 0);
	} while (a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec && clock_mono_ms() < end);
}

/* A child in pause(), where it stays without running. */
static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	wait_state(pid, 'S');
	return pid;
}

static cJSON *live_tick(void *st, struct collector_env *env)
{
	struct timespec mono, real;
	struct collector_tick t;
	cJSON *p = NULL;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	t.mono_ns = (uint64_t)mono.tv_sec * SEC + (uint64_t)mono.tv_nsec;
	t.t_ms = (int64_t)real.tv_sec * 1000 + real.tv_nsec / 1000000;
	assert_int_equal(proc_collector.sample(st, env, &t, &p), 0);
	assert_non_null(p);
	return p;
}

/* Processes that exit while a fork holds copies of their pidfds (the
 * statfs workers are forks): each is taken out of the epoll set, and the
 * tick does not spin on the ones still readable. An alarm fails the test
 * instead of a hang. */
TEST(test_collector_exits_with_forks)
{
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};
	pid_t many[80], holder;
	char reason[256];
	void *st = NULL;
	cJSON *p;

	assert_true(fd >= 0);
	assert_int_equal(proc_collector.init(&env, fixture_settings(&proc_collector), &st, reason,
					     sizeof(reason)),
			 0);
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = spawn_sleeper();
	cJSON_Delete(live_tick(st, &env)); /* each watched by a pidfd */
	holder = spawn_sleeper();          /* a fork holding copies of them all */
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++) {
		kill(many[i], SIGKILL);
		waitpid(many[i], NULL, 0);
	}
	alarm(60);
	p = live_tick(st, &env);
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		assert_null(row_of(p, "top_mem", (unsigned)many[i]));
	cJSON_Delete(p);
	cJSON_Delete(live_tick(st, &env));
	alarm(0);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	proc_collector.fini(st);
	close(fd);
}

TEST(test_collector_live)
{
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};
	struct config cfg; /* every process in both lists */
	assert_int_equal(config_defaults(&cfg), 0);
	COLSET(&cfg, proc)->top_n = 100000;
	struct timespec nap = {.tv_nsec = 300 * 1000 * 1000};
	pid_t busy = spawn_busy(), sleeper = spawn_sleeper(), many[200];
	char reason[256];
	void *st = NULL;
	const cJSON *r;
	cJSON *p;
	double procs;

	assert_true(fd >= 0);
	assert_int_equal(proc_collector.init(&env, cfg.col[collector_topic(proc_collector.name)],
					     &st, reason, sizeof(reason)),
			 0);
	p = live_tick(st, &env);
	procs = num(p, "processes");
	assert_true(procs >= 3);
	assert_true(num(p, "threads") >= procs);
	assert_int_equal(cJSON_GetArraySize(get(p, "top_cpu")), 0);
	cJSON_Delete(p);
	nanosleep(&nap, NULL);
	p = live_tick(st, &env);
	r = row_of(p, "top_cpu", (unsigned)busy);
	assert_non_null(r);
	assert_true(num(r, "cpu_pct") > 10 && num(r, "cpu_pct") < 110);
	assert_string_equal(str(r, "state"), "R");
	assert_string_equal(str(r, "user"), getuid() == 0 ? "root" : str(r, "user"));
	r = row_of(p, "top_cpu", (unsigned)sleeper);
	assert_non_null(r);
	assert_true(num(r, "cpu_pct") == 0);
	r = row_of(p, "top_mem", 1);
	if (r)
		assert_true(num(r, "start_ms") < (double)time(NULL) * 1000);
	/* our own process: the right start time, the right command line */
	r = row_of(p, "top_cpu", (unsigned)getpid());
	assert_non_null(r);
	assert_non_null(strstr(str(r, "cmd"), "test_proc"));
	cJSON_Delete(p);

	/* many come and go; the table follows (other processes come and go
	 * meanwhile too: the bounds leave them room) */
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = spawn_sleeper();
	p = live_tick(st, &env);
	procs = num(p, "processes");
	assert_true(procs >= 200 + 3);
	cJSON_Delete(p);
	kill(busy, SIGKILL);
	waitpid(busy, NULL, 0);
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++) {
		kill(many[i], SIGKILL);
		waitpid(many[i], NULL, 0);
	}
	p = live_tick(st, &env);
	assert_null(row_of(p, "top_cpu", (unsigned)busy));
	assert_null(row_of(p, "top_mem", (unsigned)busy));
	/* 200 fewer; other processes of a busy machine may start meanwhile:
	 * within 10 s a tick sees the drop */
	for (uint64_t end = clock_mono_ms() + 10000;
	     num(p, "processes") > procs - 150 && clock_mono_ms() < end;) {
		cJSON_Delete(p);
		usleep(100000);
		p = live_tick(st, &env);
	}
	assert_true(num(p, "processes") <= procs - 150);
	cJSON_Delete(p);
	/* a zombie child */
	kill(sleeper, SIGKILL);
	wait_state(sleeper, 'Z');
	p = live_tick(st, &env);
	assert_true(num(p, "zombies") >= 1);
	cJSON_Delete(p);
	waitpid(sleeper, NULL, 0);
	proc_collector.fini(st);
	close(fd);
	config_free(&cfg);
}

/* Few fds: the collector holds a quarter of RLIMIT_NOFILE and reads the
 * other processes by path; out of fds altogether, it keeps what it had. */
TEST(test_collector_few_fds)
{
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), extra[256];
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};
	struct rlimit old, low;
	size_t n_extra = 0;
	double procs;
	void *st = NULL;
	cJSON *p;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	st = init_check(&proc_collector, &env, 0, NULL);
	p = live_tick(st, &env);
	procs = num(p, "processes");
	assert_true(procs > 16); /* more than the 16 fds it may hold */
	cJSON_Delete(p);
	while (n_extra < sizeof(extra) / sizeof(extra[0])) {
		int f = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (f < 0)
			break;
		extra[n_extra++] = f;
	}
	assert_true(n_extra < sizeof(extra) / sizeof(extra[0]));
	p = live_tick(st, &env);
	assert_true(num(p, "processes") > procs / 2);
	cJSON_Delete(p);
	while (n_extra > 0)
		close(extra[--n_extra]);
	p = live_tick(st, &env);
	assert_true(num(p, "processes") > procs / 2);
	cJSON_Delete(p);
	proc_collector.fini(st);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	close(fd);
}

/* A partial listing stops after the bound: the pids above the last one
 * allocated are, once pids wrapped, old processes it has no need to look
 * at (here: a child, then 24 newer ones, the bound at the first). */
TEST(test_table_list_bounded)
{
	struct proc_table t, u;
	pid_t first, later[24];
	size_t errors = 0;
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ordered = true;

	assert_true(proc_fd >= 0);
	first = spawn_sleeper();
	for (size_t i = 0; i < 24; i++) {
		later[i] = spawn_sleeper();
		ordered = ordered && later[i] > first;
	}
	if (!ordered) /* pids wrapped meanwhile: nothing to say */
		goto out;
	/* a full listing learns where a pid's entry is */
	assert_int_equal(proc_table_init(&t), 0);
	proc_table_set_root(&t, proc_fd, open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	assert_int_equal(proc_table_list(&t, proc_fd, clock_mono_ns(), 0, 0, &errors), 0);
	assert_true(t.dent_base > 0);
	/* a fresh table lists from the first child up to it */
	assert_int_equal(proc_table_init(&u), 0);
	proc_table_set_root(&u, proc_fd, open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	u.dent_base = t.dent_base;
	assert_int_equal(proc_table_list(&u, proc_fd, clock_mono_ns(), (off_t)(first + t.dent_base),
					 (uint32_t)first, &errors),
			 0);
	/* the child, and the next entry, above the bound, that stopped it */
	assert_true(u.listed <= 2);
	assert_int_equal(u.n, 1);
	assert_int_equal(u.v[0].pid, (uint32_t)first);
	/* unbounded, the same listing looks at every later child too */
	assert_int_equal(
	    proc_table_list(&u, proc_fd, clock_mono_ns(), (off_t)(first + t.dent_base), 0, &errors),
	    0);
	assert_true(u.listed >= 25);
	assert_true(u.n >= 25);
	proc_table_done(&u);
	proc_table_done(&t);
out:
	close(proc_fd);
	for (size_t i = 0; i < 24; i++)
		kill(later[i], SIGKILL);
	kill(first, SIGKILL);
	for (size_t i = 0; i < 25; i++)
		wait(NULL);
}

/* On the live /proc the CPU rate is the process CPU clock's, exact to the
 * ns, where stat's utime + stime count in USER_HZ ticks: over ticks given
 * as exactly 1 s apart those would make whole percents only. A busy child
 * that runs some tens of ms between them shows fractions of a percent. */
TEST(test_table_cpu_from_clock)
{
	pid_t busy = spawn_busy();
	struct proc_table t;
	size_t errors = 0;
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool fraction = false;

	assert_true(proc_fd >= 0);
	assert_int_equal(proc_table_init(&t), 0);
	proc_table_set_root(&t, proc_fd, open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	assert_true(t.live);
	t.ticks = 1;
	assert_int_equal(proc_table_list(&t, proc_fd, SEC, 0, 0, &errors), 0);
	for (uint64_t n = 2; n < 8 && !fraction; n++) {
		const struct proc_entry *e = NULL;

		nanosleep(&(struct timespec){.tv_nsec = 30 * 1000 * 1000}, NULL);
		wait_ran(busy);
		t.ticks = n;
		assert_int_equal(proc_table_update(&t, proc_fd, n * SEC, false, true, &errors), 0);
		for (size_t i = 0; i < t.n; i++)
			if (t.v[i].pid == (uint32_t)busy)
				e = &t.v[i];
		assert_non_null(e);
		assert_true(e->cpu >= 0);
		fraction = e->cpu % 100 != 0;
	}
	assert_true(fraction);
	proc_table_done(&t);
	close(proc_fd);
	kill(busy, SIGKILL);
	waitpid(busy, NULL, 0);
}

/* The kernel threads of the live /proc that run (kworkers, rcu_preempt,
 * ksoftirqd: most hosts have some every few ms): at a check where the
 * clock of one asleep (I, S) at its last reading moved, its stat is
 * skipped while the reading is younger than PROC_KTHREAD_STAT_TICKS
 * ticks, and read when older. Ticks every 20 ms for up to 5 s, until 8
 * such checks were seen; skipped with a reason where none runs (or
 * without pidfds, when none qualifies). */
TEST(test_table_kthreads_live)
{
	struct {
		uint32_t pid;
		uint64_t clock_ns, stat_tick;
	} seen[4096];
	size_t n_seen = 0, errors = 0, checks = 0, skipped = 0;
	struct proc_table t;
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t end = clock_mono_ms() + 5000;

	assert_true(proc_fd >= 0);
	assert_int_equal(proc_table_init(&t), 0);
	proc_table_set_root(&t, proc_fd, open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	assert_true(t.live);
	t.ticks = 1;
	assert_int_equal(proc_table_list(&t, proc_fd, clock_mono_ns(), 0, 0, &errors), 0);
	for (uint64_t n = 2; checks < 8 && clock_mono_ms() < end; n++) {
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
		/* what each kernel thread asleep at its last reading was */
		n_seen = 0;
		for (size_t i = 0; i < t.n && n_seen < sizeof(seen) / sizeof(seen[0]); i++) {
			const struct proc_entry *e = &t.v[i];

			if ((e->flags & PROC_PF_KTHREAD) && e->pidfd >= 0 && e->have_clock &&
			    (e->state == 'I' || e->state == 'S') && e->next_tick <= n) {
				seen[n_seen].pid = e->pid;
				seen[n_seen].stat_tick = e->stat_tick;
				seen[n_seen++].clock_ns = e->clock_ns;
			}
		}
		t.ticks = n;
		assert_int_equal(
		    proc_table_update(&t, proc_fd, clock_mono_ns(), false, true, &errors), 0);
		for (size_t k = 0; k < n_seen; k++) {
			const struct proc_entry *e = NULL;
			bool read;

			for (size_t i = 0; i < t.n && !e; i++)
				if (t.v[i].pid == seen[k].pid)
					e = &t.v[i];
			if (!e || e->clock_ns == seen[k].clock_ns)
				continue; /* gone, or did not run */
			read = e->stat_tick == n;
			assert_int_equal(read, n - seen[k].stat_tick >= PROC_KTHREAD_STAT_TICKS);
			skipped += !read;
			checks++;
		}
	}
	proc_table_done(&t);
	close(proc_fd);
	if (checks < 8) {
		print_message("%zu checks of a kernel thread that ran in 5 s%s: nothing to say\n",
			      checks, pidfd_works() ? "" : " (no pidfds)");
		skip();
	}
	assert_true(skipped > 0);
}
