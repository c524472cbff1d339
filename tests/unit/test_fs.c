/* Unit tests of collectors/fs.c (and its statfs worker pool, fs_pool.c):
 * the df arithmetic, and the collector over fixture trees with statvfs()
 * answered from <machine>/statvfs, compared with
 * <machine>/expected/fs*.json. The hung-mount test is test_fs_hang.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "fixture.h"
#include "fs.h"
#include "fs_select.h"
#include "metrics.h"
#include "procfs.h"

#define T3 INT64_C(1700000002000)

/* --- statfs answered from a fixture file ---
 *
 * The statfs function runs in the collector's worker processes, forked at
 * init: what the test changes afterwards (the answers, the slow mount's
 * hold) lives in a MAP_SHARED mapping, and the functions only read it and
 * count with atomics (async-signal-safe, no lock). The test changes the
 * answers only between rounds (after fs_settle). */

struct fake_fs {
	char path[256];
	int err;
	struct fs_usage u;
};

struct shared {
	struct fake_fs fake[64];
	size_t n_fake;
	int slow_hold;
	unsigned slow_calls;
	unsigned fast_calls;
};

static struct shared *sh;

/* Decodes the mountinfo-style escapes of the statvfs fixture's paths. */
static void unescape(const char *s, char *out)
{
	while (*s) {
		if (s[0] == '\\') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

static void fake_load(const char *machine, const char *file)
{
	char *text = slurp(machine, file, NULL), *line, *save = NULL;

	sh->n_fake = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct fake_fs *f = &sh->fake[sh->n_fake++];
		char path[256];
		unsigned long long v[6];
		int n;

		assert_true(sh->n_fake <= 64);
		memset(f, 0, sizeof(*f));
		n = sscanf(line, "%255s %llu %llu %llu %llu %llu %llu", path, &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5]);
		unescape(path, f->path);
		if (n == 7) {
			f->u = (struct fs_usage){v[0], v[1], v[2], v[3], v[4], v[5]};
		} else {
			assert_int_equal(sscanf(line, "%*s %d", &f->err), 1);
			assert_true(f->err < 0);
		}
	}
	free(text);
}

/* In the worker: only strcmp and copies. */
static int fake_statfs(const char *path, struct fs_usage *ret)
{
	for (size_t i = 0; i < sh->n_fake; i++) {
		if (strcmp(sh->fake[i].path, path) == 0) {
			if (sh->fake[i].err == 0)
				*ret = sh->fake[i].u;
			return sh->fake[i].err;
		}
	}
	return -ENOENT;
}

/* Children of this process, and how many of them are zombies. */
static unsigned children(unsigned *ret_zombies)
{
	return children_of_us(NULL, 0, ret_zombies, NULL);
}

/* --- the df arithmetic --- */

static struct fs_mount mount_of(const char *mp, const char *type)
{
	return (struct fs_mount){.mount_point = mp, .fstype = type, .root = "/", .source = "x"};
}

static cJSON *mount_json(const struct fs_usage *u, bool responding, int err)
{
	struct fs_mount m = mount_of("/m", "ext4");
	cJSON *o = NULL;

	assert_int_equal(fs_mount_json(&m, u, responding, err, &o), 0);
	return o;
}

TEST(test_mount_json)
{
	struct fs_usage u = {
	    .blocks = 1000, .bfree = 300, .bavail = 250, .frsize = 4096, .files = 100, .ffree = 40};
	cJSON *o;
	char *text;

	/* used 700, avail 250: 70000 / 950 = 73.68 -> 74 (rounded up) */
	o = mount_json(&u, true, 0);
	text = cJSON_PrintUnformatted(o);
	assert_string_equal(text, "{\"mount\":\"/m\",\"device\":\"x\",\"fstype\":\"ext4\","
				  "\"read_only\":false,\"responding\":true,\"size\":4096000,"
				  "\"used\":2867200,\"available\":1024000,\"used_percent\":74,"
				  "\"inodes_total\":100,\"inodes_used\":60,\"inodes_free\":40,"
				  "\"error\":null}");
	free(text);
	cJSON_Delete(o);
	/* exact: 50 % is 50, not 51 */
	u = (struct fs_usage){.blocks = 200, .bfree = 100, .bavail = 100, .frsize = 512};
	o = mount_json(&u, true, 0);
	assert_true(num(o, "used_percent") == 50);
	assert_true(is_null(o, "inodes_total")); /* no inodes (btrfs, vfat) */
	assert_true(is_null(o, "inodes_used"));
	assert_true(is_null(o, "inodes_free"));
	cJSON_Delete(o);
	/* the smallest use is 1 % */
	u = (struct fs_usage){.blocks = 1000000, .bfree = 999999, .bavail = 999999, .frsize = 1};
	o = mount_json(&u, true, 0);
	assert_true(num(o, "used_percent") == 1);
	cJSON_Delete(o);
	/* an empty filesystem (size 0): no percent */
	u = (struct fs_usage){.frsize = 4096};
	o = mount_json(&u, true, 0);
	assert_true(num(o, "size") == 0);
	assert_true(is_null(o, "used_percent"));
	cJSON_Delete(o);
	/* full to the reserve: avail 0 -> 100 % */
	u = (struct fs_usage){.blocks = 100, .bfree = 5, .bavail = 0, .frsize = 4096};
	o = mount_json(&u, true, 0);
	assert_true(num(o, "used_percent") == 100);
	cJSON_Delete(o);
	/* huge values do not overflow the percentage */
	u = (struct fs_usage){.blocks = UINT64_MAX / 4096,
			      .bfree = UINT64_MAX / 8192 + 1,
			      .bavail = UINT64_MAX / 8192 + 1,
			      .frsize = 4096};
	o = mount_json(&u, true, 0);
	assert_true(num(o, "used_percent") == 50);
	cJSON_Delete(o);
	/* bytes that overflow 64 bits: no sizes rather than garbage */
	u = (struct fs_usage){.blocks = UINT64_MAX, .bfree = 0, .frsize = 4096, .files = 5};
	o = mount_json(&u, true, 0);
	assert_true(is_null(o, "size"));
	assert_true(is_null(o, "used"));
	assert_true(is_null(o, "used_percent"));
	assert_true(num(o, "inodes_total") == 5);
	cJSON_Delete(o);
	/* no reading yet, not responding, an error */
	o = mount_json(NULL, false, EACCES);
	text = cJSON_PrintUnformatted(o);
	assert_string_equal(text, "{\"mount\":\"/m\",\"device\":\"x\",\"fstype\":\"ext4\","
				  "\"read_only\":false,\"responding\":false,\"size\":null,"
				  "\"used\":null,\"available\":null,\"used_percent\":null,"
				  "\"inodes_total\":null,\"inodes_used\":null,\"inodes_free\":null,"
				  "\"error\":\"Permission denied\"}");
	free(text);
	cJSON_Delete(o);
}

/* --- the collector over fixture trees --- */

static cJSON *sample(void *st, struct collector_env *env, int64_t t_ms)
{
	struct collector_tick tick = {.t_ms = t_ms, .mono_ns = (uint64_t)t_ms * 1000000u};
	cJSON *p = NULL;

	assert_int_equal(fs_collector.sample(st, env, &tick, &p), 0);
	assert_non_null(p);
	return p;
}

/* One tick over <machine>/proc, its statvfs answered from <machine>/statvfs. */
static void run_machine(const char *machine)
{
	struct collector_env env = {.sys_fd = -1};
	void *st = NULL;
	cJSON *p;

	fake_load(machine, "statvfs");
	fs_set_statfs(fake_statfs);
	env.proc_fd = open_dir(machine, "proc");
	st = init_check(&fs_collector, &env, 0, "");
	p = sample(st, &env, T1);
	assert_json_file(p, machine, "fs.json");
	cJSON_Delete(p);
	fs_collector.fini(st);
	close(env.proc_fd);
	fs_set_statfs(NULL);
}

TEST(test_collector_fixtures)
{
	run_machine("vm2");
	run_machine("container");
	run_machine("desktop");
}

/* syscr of /proc/<pid>/io: the read calls the process made so far. */
static uint64_t read_calls(pid_t pid)
{
	char what[16];

	snprintf(what, sizeof(what), "%d", (int)pid);
	return proc_io(what, "syscr");
}

/* The worker takes a round (one write of every shown mount's request)
 * with one read, not a header and a path a mount: server shows several
 * mounts the worker asks (NFS, CIFS, overlay), and 20 rounds cost the
 * worker at most a read each. */
TEST(test_worker_reads_round)
{
	struct collector_env env = {.sys_fd = -1};
	const int rounds = 20;
	uint64_t before;
	void *st = NULL;
	cJSON *p;
	pid_t w;

	fake_load("server", "statvfs");
	fs_set_statfs(fake_statfs);
	env.proc_fd = open_dir("server", "proc");
	st = init_check(&fs_collector, &env, 0, NULL);
	p = sample(st, &env, T1);
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(p, "filesystems")) >= 3);
	cJSON_Delete(p);
	assert_int_equal(fs_settle(st, 5000), 0);
	w = fs_worker_pid(st);
	before = read_calls(w);
	for (int i = 0; i < rounds; i++) {
		p = sample(st, &env, T1 + 1000 * (i + 1));
		cJSON_Delete(p);
		assert_int_equal(fs_settle(st, 5000), 0);
	}
	assert_int_equal(fs_worker_pid(st), w);
	assert_true(read_calls(w) - before <= (uint64_t)rounds + 1);
	fs_collector.fini(st);
	fs_set_statfs(NULL);
	close(env.proc_fd);
}

/* server: tick 1 over proc, then the mount table and the answers change
 * (/home unmounted, /media/usb plugged in): tick 2 shows the new table,
 * the local filesystems (ext4, xfs, vfat) with the new answers, asked on
 * this thread, the NFS and CIFS mounts with the last round's values of
 * the worker; tick 3 has the new values everywhere. */
/* A label value as the exposition format escapes it. */
static const char *esc(const char *v)
{
	static char out[4][512];
	static int n;
	char *o = out[n++ % 4], *w = o;

	for (; *v && w < o + sizeof(out[0]) - 3; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			*w++ = '\\';
		*w++ = *v == '\n' ? 'n' : *v;
	}
	*w = '\0';
	return o;
}

/* The metrics hook says what the payload (checked against the expected
 * files) says, mount for mount. */
static void check_metrics(void *st, const cJSON *p)
{
	struct metrics m = {0};
	const cJSON *f;
	int checked = 0;

	assert_int_equal(fs_collector.metrics(st, &m), 0);
	assert_non_null(strstr(m.buf, "# TYPE node_filesystem_size_bytes gauge\n"));
	cJSON_ArrayForEach(f, cJSON_GetObjectItem(p, "filesystems"))
	{
		const cJSON *size = cJSON_GetObjectItem(f, "size");
		char line[1024];

		if (!cJSON_IsNumber(size))
			continue;
		snprintf(
		    line, sizeof(line),
		    "node_filesystem_size_bytes{device=\"%s\",fstype=\"%s\",mountpoint=\"%s\"} "
		    "%.0f\n",
		    esc(cJSON_GetObjectItem(f, "device")->valuestring),
		    esc(cJSON_GetObjectItem(f, "fstype")->valuestring),
		    esc(cJSON_GetObjectItem(f, "mount")->valuestring), size->valuedouble);
		if (!strstr(m.buf, line))
			fail_msg("missing %s in\n%s", line, m.buf);
		snprintf(line, sizeof(line),
			 "node_filesystem_readonly{device=\"%s\",fstype=\"%s\","
			 "mountpoint=\"%s\"} %d\n",
			 esc(cJSON_GetObjectItem(f, "device")->valuestring),
			 esc(cJSON_GetObjectItem(f, "fstype")->valuestring),
			 esc(cJSON_GetObjectItem(f, "mount")->valuestring),
			 cJSON_IsTrue(cJSON_GetObjectItem(f, "read_only")));
		if (!strstr(m.buf, line))
			fail_msg("missing %s", line);
		checked++;
	}
	assert_true(checked >= 3);
	metrics_free(&m);
}

TEST(test_collector_server)
{
	struct collector_env env = {.sys_fd = -1};
	int proc = open_dir("server", "proc"), proc2 = open_dir("server", "proc.2");
	void *st = NULL;
	cJSON *p;

	fake_load("server", "statvfs");
	fs_set_statfs(fake_statfs);
	env.proc_fd = proc;
	st = init_check(&fs_collector, &env, 0, NULL);
	p = sample(st, &env, T1);
	assert_json_file(p, "server", "fs.json");
	cJSON_Delete(p);
	assert_int_equal(fs_settle(st, 5000), 0);

	fake_load("server", "statvfs.2");
	env.proc_fd = proc2;
	p = sample(st, &env, T2);
	assert_json_file(p, "server", "fs.2.json");
	cJSON_Delete(p);
	assert_int_equal(fs_settle(st, 5000), 0);
	p = sample(st, &env, T3);
	assert_json_file(p, "server", "fs.3.json");
	check_metrics(st, p);
	cJSON_Delete(p);

	fs_collector.fini(st);
	fs_set_statfs(NULL);
	close(proc);
	close(proc2);
}

/* Config lists reach the collector through its settings. */
TEST(test_collector_config)
{
	struct collector_env env = {.sys_fd = -1};
	struct config cfg;
	char reason[256] = "";
	void *st = NULL;
	const cJSON *fs, *arr;
	cJSON *p;
	char names[512] = "";

	config_defaults(&cfg);
	set_key(&cfg, "fs-types", "!nfs*,!cifs");
	set_key(&cfg, "mounts", "!/boot*");
	fake_load("server", "statvfs");
	fs_set_statfs(fake_statfs);
	env.proc_fd = open_dir("server", "proc");
	assert_int_equal(fs_collector.init(&env, cfg.col[collector_topic(fs_collector.name)], &st,
					   reason, sizeof(reason)),
			 0);
	p = sample(st, &env, T1);
	arr = cJSON_GetObjectItem(p, "filesystems");
	cJSON_ArrayForEach(fs, arr)
	{
		strcat(names, cJSON_GetObjectItem(fs, "mount")->valuestring);
		strcat(names, "|");
	}
	assert_string_equal(names, "/|/srv/data|/var/lib/postgresql|/tmp|/srv/data/tab\tdir|"
				   "/srv/www|/media/back\\slash\nnewline|/mnt/scratch|");
	cJSON_Delete(p);
	fs_collector.fini(st);
	fs_set_statfs(NULL);
	close(env.proc_fd);
	config_free(&cfg);
}

TEST(test_collector_errors)
{
	struct scratch s;
	struct collector_env env;
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	void *st = NULL;
	cJSON *p = NULL;
	const cJSON *fs;

	fake_load("server", "statvfs");
	fs_set_statfs(fake_statfs);
	scratch_env(&s, "fs", false, &env);
	init_fails(&fs_collector, &s, &env,
		   (const struct init_fail[]){
		       {NULL, NULL, -ENOENT, "/proc/self/mountinfo: No such file or directory"},
		       {"self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:2 / /x",
			-EINVAL, "/proc/self/mountinfo: unexpected contents (Invalid argument)"},
		       {NULL}});

	scratch_write(&s, "self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
	st = init_check(&fs_collector, &env, 0, NULL);
	assert_int_equal(fs_settle(st, 5000), 0);
	/* a broken file is this tick's error; the next good one works */
	scratch_write(&s, "self/mountinfo", "garbage\n");
	tick_fails(&fs_collector, st, &env, &tick, -EINVAL);
	scratch_write(&s, "self/mountinfo",
		      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n3 1 0:4 / /gone rw - nfs h:/ rw\n");
	assert_int_equal(fs_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "filesystems")), 2);
	cJSON_Delete(p);
	assert_int_equal(fs_settle(st, 5000), 0);
	assert_int_equal(fs_collector.sample(st, &env, &tick, &p), 0);
	/* statvfs said ENOENT for /gone: an error, no values, still responding */
	fs = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "filesystems"), 1);
	assert_string_equal(cJSON_GetObjectItem(fs, "error")->valuestring,
			    "No such file or directory");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(fs, "size")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(fs, "responding")));
	cJSON_Delete(p);
	fs_collector.fini(st);
	fs_collector.fini(NULL);
	scratch_remove(&s);
	fs_set_statfs(NULL);
}

/* A call on /slow that blocks while slow_hold is set (a killable wait,
 * like an NFS "hard" mount's) marks its mount not responding after the
 * timeout, keeps its last good values, and the others (NFS too: through a worker) are still read
 * every round; the killed worker is reaped at once (no zombie), the mount is asked again, by a
 * probe of its own, no sooner than 10 timeouts later, and responds again once a call returns. */
static int slow_statfs(const char *path, struct fs_usage *ret)
{
	*ret = (struct fs_usage){.blocks = 100, .bfree = 50, .bavail = 50, .frsize = 1024};
	if (strcmp(path, "/slow") == 0) {
		__atomic_add_fetch(&sh->slow_calls, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&sh->slow_hold, __ATOMIC_SEQ_CST))
			nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	} else {
		__atomic_add_fetch(&sh->fast_calls, 1, __ATOMIC_SEQ_CST);
	}
	return 0;
}

static unsigned load_u(unsigned *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static const cJSON *slow_entry(const cJSON *p)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(p, "filesystems"), 1);
}

/* Local filesystems (ext4, tmpfs, ...) are asked on the caller's thread:
 * with only those shown no worker process exists, and each tick carries
 * the answer of its own statfs, not the last round's; an NFS mount that
 * appears gets a worker. */
TEST(test_local_mounts_no_worker)
{
	struct scratch s;
	struct collector_env env;
	void *st = NULL;
	unsigned calls;
	cJSON *p;

	fs_set_statfs(slow_statfs);
	sh->slow_hold = 0;
	sh->slow_calls = sh->fast_calls = 0;
	scratch_env(&s, "fs", false, &env);
	scratch_write(&s, "self/mountinfo",
		      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:30 / /tmp rw - tmpfs tmpfs rw\n");
	st = init_check(&fs_collector, &env, 0, NULL);
	assert_int_equal(fs_worker_pid(st), 0);
	assert_int_equal(children(NULL), 0);
	for (int i = 0; i < 3; i++) {
		calls = load_u(&sh->fast_calls);
		p = sample(st, &env, T1 + i);
		/* this tick's two calls, made before it returned */
		assert_int_equal(load_u(&sh->fast_calls), calls + 2);
		assert_true(num(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "filesystems"), 0),
				"size") == 102400);
		cJSON_Delete(p);
	}
	assert_int_equal(children(NULL), 0);
	scratch_write(&s, "self/mountinfo",
		      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n3 1 0:40 / /slow rw - nfs h:/ rw\n");
	cJSON_Delete(sample(st, &env, T2));
	assert_true(fs_worker_pid(st) != 0);
	assert_int_equal(children(NULL), 1);
	fs_collector.fini(st);
	assert_int_equal(children(NULL), 0);
	scratch_remove(&s);
	fs_set_statfs(NULL);
}

TEST(test_collector_stuck)
{
	struct scratch s;
	char reason[256];
	struct collector_env env = {.sys_fd = -1};
	struct config cfg;
	void *st = NULL;
	unsigned before, zombies, base;
	uint64_t hung_ms, t0;
	cJSON *p;
	const cJSON *slow;
	int i;

	config_defaults(&cfg);
	COLSET(&cfg, fs)->timeout_ms = 50;
	scratch_make(&s, "fs");
	env.proc_fd = s.fd;
	scratch_write(&s, "self/mountinfo",
		      "1 0 0:39 / / rw - nfs4 h:/root rw\n2 1 0:40 / /slow rw - nfs h:/ rw\n");
	fs_set_statfs(slow_statfs);
	sh->slow_hold = 0;
	sh->slow_calls = sh->fast_calls = 0;
	assert_int_equal(fs_collector.init(&env, cfg.col[collector_topic(fs_collector.name)], &st,
					   reason, sizeof(reason)),
			 0);
	assert_int_equal(children(NULL), 1); /* the worker */
	p = sample(st, &env, T1);
	slow = slow_entry(p);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(slow, "responding")));
	assert_true(num(slow, "size") == 102400);
	cJSON_Delete(p);

	/* the next call on /slow blocks */
	assert_int_equal(fs_settle(st, 5000), 0); /* the round of T1 */
	base = load_u(&sh->slow_calls);
	__atomic_store_n(&sh->slow_hold, 1, __ATOMIC_SEQ_CST);
	p = sample(st, &env, T2);
	cJSON_Delete(p);
	usleep(150 * 1000);
	hung_ms = clock_mono_ms();
	for (i = 0; i < 5; i++) {
		before = load_u(&sh->fast_calls);
		p = sample(st, &env, T3 + i);
		slow = slow_entry(p);
		assert_true(cJSON_IsFalse(cJSON_GetObjectItem(slow, "responding")));
		assert_true(num(slow, "size") == 102400); /* the last good values */
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(slow, "error")));
		cJSON_Delete(p);
		/* killed at the first of these ticks, in a killable wait: it
		 * may be reaped at once */
		assert_true(fs_stuck_workers(st) <= 1);
		assert_int_equal(fs_settle(st, 5000), 0);
		assert_true(load_u(&sh->fast_calls) > before); /* "/" was read again */
		usleep(10 * 1000);
	}
	/* the killed worker was in a killable wait: reaped, no zombie left;
	 * the mount was not asked again yet (10 timeouts) */
	for (t0 = clock_mono_ms(); fs_stuck_workers(st) > 0 && clock_mono_ms() - t0 < 1000; i++) {
		usleep(10 * 1000);
		cJSON_Delete(sample(st, &env, T3 + i));
	}
	assert_int_equal(fs_stuck_workers(st), 0);
	assert_int_equal(children(&zombies), 1);
	assert_int_equal(zombies, 0);
	if (clock_mono_ms() - hung_ms < 400)
		assert_int_equal(load_u(&sh->slow_calls), base + 1);

	/* a probe asks /slow again after 10 timeouts: it hangs again, without
	 * delaying "/", which is read every round */
	t0 = clock_mono_ms();
	for (i = 0; load_u(&sh->slow_calls) < base + 3; i++) {
		assert_true(clock_mono_ms() - t0 < 5000);
		before = load_u(&sh->fast_calls);
		p = sample(st, &env, T3 + 10 + i);
		assert_true(cJSON_IsFalse(cJSON_GetObjectItem(slow_entry(p), "responding")));
		cJSON_Delete(p);
		assert_int_equal(fs_settle(st, 5000), 0);
		assert_true(load_u(&sh->fast_calls) > before);
		assert_true(fs_stuck_workers(st) <= 1);
		assert_true(children(NULL) <= 3); /* worker, probe, one being reaped */
		usleep(20 * 1000);
	}
	/* three calls in ~1 s: not one per tick */
	assert_true(clock_mono_ms() - hung_ms >= 2 * 500 - 100);

	/* the calls return: the next probe's answer makes it respond again */
	__atomic_store_n(&sh->slow_hold, 0, __ATOMIC_SEQ_CST);
	t0 = clock_mono_ms();
	for (i = 0;; i++) {
		bool ok;

		assert_true(clock_mono_ms() - t0 < 5000);
		p = sample(st, &env, T3 + 100 + i);
		ok = cJSON_IsTrue(cJSON_GetObjectItem(slow_entry(p), "responding"));
		cJSON_Delete(p);
		if (ok)
			break;
		fs_settle(st, 5000);
		usleep(20 * 1000);
	}
	/* one more round, then only the worker is left */
	assert_int_equal(fs_settle(st, 5000), 0);
	usleep(20 * 1000);
	p = sample(st, &env, T3 + 200);
	cJSON_Delete(p);
	assert_int_equal(fs_stuck_workers(st), 0);
	assert_int_equal(children(&zombies), 1);
	assert_int_equal(zombies, 0);

	/* fini while a call hangs returns at once, and leaves no child */
	assert_int_equal(fs_settle(st, 5000), 0);
	__atomic_store_n(&sh->slow_hold, 1, __ATOMIC_SEQ_CST);
	p = sample(st, &env, T3 + 201);
	cJSON_Delete(p);
	usleep(20 * 1000);
	t0 = clock_mono_ms();
	fs_collector.fini(st);
	assert_true(clock_mono_ms() - t0 < 500);
	__atomic_store_n(&sh->slow_hold, 0, __ATOMIC_SEQ_CST);
	assert_int_equal(children(NULL), 0);

	fs_set_statfs(NULL);
	scratch_remove(&s);
	config_free(&cfg);
}

/* The live host, and the cost of a tick: mountinfo is polled, not re-read,
 * while the mount table stays the same. */
TEST(test_collector_live)
{
	struct collector_env env = {.sys_fd = -1};
	void *st = NULL;
	struct timespec a, b, wa, wb;
	const cJSON *root = NULL, *fs;
	clockid_t worker_clock;
	cJSON *p;
	double us, worker_us;
	bool remote;
	const int n = 2000;

	env.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	st = init_check(&fs_collector, &env, 0, NULL);
	p = sample(st, &env, T1);
	cJSON_ArrayForEach(fs, cJSON_GetObjectItem(p, "filesystems"))
	{
		if (strcmp(cJSON_GetObjectItem(fs, "mount")->valuestring, "/") == 0)
			root = fs;
	}
	assert_non_null(root);
	assert_true(num(root, "size") > 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "responding")));
	/* a worker only for mounts whose statfs is not local */
	remote = false;
	cJSON_ArrayForEach(fs, cJSON_GetObjectItem(p, "filesystems"))
	{
		remote =
		    remote || !fs_type_is_local(cJSON_GetObjectItem(fs, "fstype")->valuestring);
	}
	assert_int_equal(fs_worker_pid(st) != 0, remote);
	assert_int_equal(children(NULL), remote);
	cJSON_Delete(p);

	worker_clock = CLOCK_PROCESS_CPUTIME_ID; /* no worker: nothing there */
	if (remote)
		assert_int_equal(clock_getcpuclockid(fs_worker_pid(st), &worker_clock), 0);
	clock_gettime(worker_clock, &wa);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (int i = 0; i < n; i++) {
		p = sample(st, &env, T1 + i);
		cJSON_Delete(p);
		fs_settle(st, 1000);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	assert_int_equal(clock_gettime(worker_clock, &wb), 0); /* the same worker all along */
	us = ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / n;
	worker_us = remote ? ((double)(wb.tv_sec - wa.tv_sec) * 1e6 +
			      (double)(wb.tv_nsec - wa.tv_nsec) / 1e3) /
				 n
			   : 0;
	print_message("fs: %.1f us of CPU per tick in the daemon (sample and settle), "
		      "%.1f us in the worker process\n",
		      us, worker_us);
	fs_collector.fini(st);
	assert_int_equal(children(NULL), 0);
	close(env.proc_fd);
}

/* The counters the worker processes share with the test, mapped before
 * any test runs. */
static int map_shared(void **state)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return -1;
	}
	return 0;
}

TEST_GROUP(map_shared, NULL);
