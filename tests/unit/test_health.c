/* Unit tests of collectors/health*.c: the /proc/mdstat parser (clean,
 * degraded and recovering, resyncing, inactive, raid0, delayed arrays; cut
 * and garbled input), btrfs error_stats, the sysfeed-smart file parser
 * (SATA passing and failing, NVMe, a drive smartctl could not open), and
 * the collector over the `nas` tree: two ticks against expected/health.1.json,
 * health.json and health.prom, the SMART file missing (looked for every
 * 16th tick), replaced and bad, a new smart-file on reload, mdstat missing
 * (looked for every 16th tick), appearing, changing and gone; ext4's
 * last_error_time read when errors_count moves;
 * on the live /proc, mountinfo read again when the mounts change. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "fixture.h"
#include "health.h"
#include "health_md.h"
#include "health_smart.h"

static void set_smart(const char *path)
{
	struct health_settings *set = fixture_settings(&health_collector);

	free(set->smart_file);
	set->smart_file = strdup(path);
	assert_non_null(set->smart_file);
}

static const struct md_array *md_find(const struct md_stat *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->v[i].name, name) == 0)
			return &st->v[i];
	}
	fail_msg("no array %s", name);
	return NULL;
}

static void check_cut(const char *text, size_t len, size_t at, void *ctx)
{
	struct md_stat st = {0};
	int r = md_stat_parse(text, len, &st);

	(void)at;
	(void)ctx;
	assert_true(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r < 0)
		assert_int_equal(st.n, 0);
	md_stat_free(&st);
}

TEST(test_mdstat)
{
	static const char *const bad[] = {
	    "md0 active raid1 sda1[0]\n",
	    "md0 : running raid1 sda1[0]\n",
	    "md0 : active raid1 sda1[x]\n",
	    "md0 : active raid1 sda1[0](Q)\n",
	    "md0 : inactive sdg1[0](S)(S)\n", /* fuzz_mdstat: a spare counted twice */
	    "md0 : active raid1 sda1[0](F)(F)\n",
	    "md0 : active raid1 sda1[0](F)(S)\n",
	    "md0 : active raid1 sda1[0] raid5\n",
	    "md0 : active raid1 sda1[0]\n      100 blocks [2/x] [U_]\n",
	    "md0 : active raid1 sda1[0]\n      [=>..]  resync = 1x.0% (1/2) finish=1.0min "
	    "speed=1K/sec\n",
	    "md0 : active raid1 sda1[0]\n      [=>..]  resync = 100.1% (1/2) finish=1.0min "
	    "speed=1K/sec\n",
	    "md0 : active raid1 sda1[0]\n      [=>..]  resync = 10.0% (1/2) finish=1.0min "
	    "speed=1M/sec\n",
	    "md0 : active raid1 sda1[0]\n      [=>..]  dance = 10.0% (1/2)\n",
	    "md0 : active raid1 sda1[0]",
	};
	struct md_stat st = {0};
	const struct md_array *a;
	size_t len;
	char *text = slurp("nas", "proc/mdstat", &len);

	assert_int_equal(md_stat_parse(text, len, &st), 0);
	assert_int_equal(st.n, 6);
	a = md_find(&st, "md1"); /* degraded, recovering onto a spare */
	assert_true(a->active);
	assert_string_equal(a->level, "raid5");
	assert_int_equal(a->members, 4);
	assert_int_equal(a->failed, 1);
	assert_true(a->has_disks);
	assert_int_equal(a->disks, 4);
	assert_int_equal(a->disks_up, 3);
	assert_string_equal(a->sync_action, "recovery");
	assert_true(a->sync_running);
	assert_int_equal(a->sync_permille, 173);
	assert_int_equal(a->sync_done_kb, 338213376);
	assert_int_equal(a->sync_total_kb, 1953423360);
	assert_int_equal(a->finish_ds, 1279);
	assert_int_equal(a->speed_kbs, 210320);
	a = md_find(&st, "md0"); /* clean */
	assert_int_equal(a->disks_up, 2);
	assert_string_equal(a->sync_action, "");
	a = md_find(&st, "md2");
	assert_string_equal(a->sync_action, "resync");
	assert_int_equal(a->sync_permille, 126);
	a = md_find(&st, "md3");
	assert_false(a->active);
	assert_string_equal(a->level, "");
	assert_int_equal(a->spares, 1);
	assert_false(md_find(&st, "md4")->has_disks); /* raid0 */
	a = md_find(&st, "md5");
	assert_string_equal(a->sync_action, "resync");
	assert_false(a->sync_running);
	/* 100.0% glued to '=', and read-only arrays */
	assert_int_equal(md_stat_parse("md9 : active (auto-read-only) raid1 a[0] b[1](W)\n"
				       "      10 blocks [2/2] [UU]\n"
				       "      [====>]  check =100.0% (10/10) finish=0.0min "
				       "speed=5K/sec\n",
				       strlen("md9 : active (auto-read-only) raid1 a[0] b[1](W)\n"
					      "      10 blocks [2/2] [UU]\n"
					      "      [====>]  check =100.0% (10/10) finish=0.0min "
					      "speed=5K/sec\n"),
				       &st),
			 0);
	assert_true(st.v[0].read_only);
	assert_int_equal(st.v[0].sync_permille, 1000);
	assert_int_equal(md_stat_parse("", 0, &st), 0);
	assert_int_equal(st.n, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = md_stat_parse(bad[i], strlen(bad[i]), &st);

		if (r == 0)
			print_error("case %zu parsed\n", i);
		assert_true(r < 0);
		assert_int_equal(st.n, 0);
	}
	each_prefix(text, len, check_cut, NULL);
	each_garbled(text, len, '[', ' ', check_cut, NULL);
	md_stat_free(&st);
	free(text);
}

TEST(test_btrfs)
{
	const char *ok = "write_errs 1\nread_errs 5\nflush_errs 0\ncorruption_errs 1\n"
			 "generation_errs 0\n";
	uint64_t sum = 0;

	assert_int_equal(health_btrfs_errors(ok, strlen(ok), &sum), 0);
	assert_int_equal(sum, 7);
	assert_int_equal(health_btrfs_errors("read_errs x\n", 12, &sum), -EINVAL);
	assert_int_equal(health_btrfs_errors("reads 1\n", 8, &sum), -EINVAL);
	assert_int_equal(health_btrfs_errors("read_errs 1 2\n", 14, &sum), -EINVAL);
	assert_int_equal(health_btrfs_errors("read_errs 1", 11, &sum), -EINVAL);
	assert_int_equal(health_btrfs_errors("a_errs 18446744073709551615\nb_errs 1\n", 37, &sum),
			 -ERANGE);
}

static const struct smart_dev *smart_find(const struct smart_file *f, const char *dev)
{
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->v[i].device, dev) == 0)
			return &f->v[i];
	}
	fail_msg("no drive %s", dev);
	return NULL;
}

TEST(test_smart)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"sysfeed-smart\":2,\"time\":1}",
	    "{\"sysfeed-smart\":1}",
	    "{\"sysfeed-smart\":1,\"time\":-1}",
	    "{\"sysfeed-smart\":1,\"time\":1",
	};
	struct smart_file f = {0};
	const struct smart_dev *d;
	size_t len;
	char *text = slurp("nas", "smart/smart.json", &len);

	assert_int_equal(smart_parse(text, len, &f), 0);
	assert_int_equal(f.time_s, 1700000000);
	assert_int_equal(f.n, 4);
	d = smart_find(&f, "sda");
	assert_true(d->passed);
	assert_int_equal(d->reallocated, 8);
	assert_int_equal(d->pending, 2);
	assert_true(d->temp_c == 38);
	assert_false(d->has & SMART_HAS_WEAR);
	d = smart_find(&f, "sdb");
	assert_true(d->has & SMART_HAS_PASSED);
	assert_false(d->passed);
	assert_int_equal(d->reallocated, 1872);
	assert_int_equal(d->media_errors, 412);
	assert_string_equal(d->error, ""); /* exit status 8: the drive is failing, read fine */
	d = smart_find(&f, "nvme0");
	assert_string_equal(d->protocol, "NVMe");
	assert_true(d->wear_pct == 3);
	assert_int_equal(d->media_errors, 0);
	assert_true(d->has & SMART_HAS_CRIT);
	assert_false(d->has & SMART_HAS_REALLOC);
	d = smart_find(&f, "sdc");
	assert_string_equal(d->error,
			    "Smartctl open device: /dev/sdc [SAT] failed: No such device");
	assert_int_equal(d->has, 0);
	assert_int_equal(
	    smart_parse("{\"sysfeed-smart\":1,\"time\":5,\"error\":\"smartctl not found\","
			"\"devices\":[]}",
			strlen("{\"sysfeed-smart\":1,\"time\":5,\"error\":\"smartctl not "
			       "found\",\"devices\":[]}"),
			&f),
	    0);
	assert_string_equal(f.error, "smartctl not found");
	assert_int_equal(f.n, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(smart_parse(bad[i], strlen(bad[i]), &f), -EINVAL);
		assert_int_equal(f.n, 0);
	}
	smart_file_free(&f);
	free(text);
}

TEST(test_fixture)
{
	char path[PATH_MAX];
	const cJSON *fs;
	struct run r;
	cJSON *p;

	snprintf(path, sizeof(path), "%s/nas/smart/smart.json", fixtures());
	set_smart(path);
	run_start(&r, &health_collector, "nas");
	run_golden(&r, T1, SEC, "health.1.json");
	run_trees(&r, 1);
	r.env.sys_fd = r.fd[3];
	p = run_tick(&r, T2, 2 * SEC);
	assert_json_file(p, "nas", "health.json");
	/* /srv: the superblock read-only under a read-write mount */
	fs = cJSON_GetArrayItem(get(p, "filesystems"), 2);
	assert_string_equal(get(fs, "mount")->valuestring, "/srv");
	assert_true(cJSON_IsTrue(get(fs, "remounted_ro")));
	assert_true(num(fs, "errors") == 4);
	cJSON_Delete(p);
	run_metrics(&r, "health.prom");
	run_end(&r);
}

/* n samples of st; the last payload is returned. */
static cJSON *sample_n(void *st, struct collector_env *env, int n)
{
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	cJSON *p = NULL;

	for (int i = 0; i < n; i++) {
		cJSON_Delete(p);
		p = NULL;
		assert_int_equal(health_collector.sample(st, env, &tick, &p), 0);
	}
	return p;
}

/* The collector over nas, its SMART file `name` in a new scratch tree s. */
static void *smart_start(struct scratch *s, const char *name, struct collector_env *env)
{
	char path[PATH_MAX];

	scratch_make(s, "health");
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	set_smart(path);
	*env = (struct collector_env){.proc_fd = open_dir("nas", "proc"),
				      .sys_fd = open_dir("nas", "sys")};
	return init_check(&health_collector, env, 0, "");
}

/* The SMART file: missing (looked for again at the 16th tick after, not
 * sooner), then written (read at that look), replaced by garbage (read at
 * the next tick), gone and back (the 16th tick again). */
TEST(test_smart_file)
{
	struct collector_env env = {0};
	char *good;
	struct scratch s;
	const cJSON *sm;
	cJSON *p;
	void *st;

	st = smart_start(&s, "smart.json", &env);
	p = sample_n(st, &env, 1);
	sm = get(p, "smart");
	assert_true(is_null(sm, "updated_ms"));
	assert_non_null(
	    strstr(get(sm, "error")->valuestring, "smart.json: No such file or directory"));
	cJSON_Delete(p);
	good = slurp("nas", "smart/smart.json", NULL);
	scratch_write(&s, "smart.json", good);
	p = sample_n(st, &env, 15); /* not looked for yet */
	sm = get(p, "smart");
	assert_true(is_null(sm, "updated_ms"));
	assert_non_null(strstr(get(sm, "error")->valuestring, "No such file or directory"));
	cJSON_Delete(p);
	p = sample_n(st, &env, 1);
	sm = get(p, "smart");
	assert_true(num(sm, "updated_ms") == 1700000000000.0);
	assert_true(is_null(sm, "error"));
	assert_int_equal(cJSON_GetArraySize(get(sm, "devices")), 4);
	cJSON_Delete(p);
	scratch_write(&s, "smart.json", "{\"devices\":[]}\n");
	p = sample_n(st, &env, 1);
	sm = get(p, "smart");
	assert_non_null(strstr(get(sm, "error")->valuestring, "not a sysfeed-smart file"));
	assert_int_equal(cJSON_GetArraySize(get(sm, "devices")), 0);
	cJSON_Delete(p);
	scratch_rm(&s, "smart.json");
	p = sample_n(st, &env, 1);
	assert_non_null(strstr(get(get(p, "smart"), "error")->valuestring, "No such file"));
	cJSON_Delete(p);
	scratch_write(&s, "smart.json", good);
	p = sample_n(st, &env, 15);
	assert_true(is_null(get(p, "smart"), "updated_ms"));
	cJSON_Delete(p);
	p = sample_n(st, &env, 1);
	assert_true(num(get(p, "smart"), "updated_ms") == 1700000000000.0);
	cJSON_Delete(p);
	health_collector.fini(st);
	free(good);
	close(env.proc_fd);
	close(env.sys_fd);
	scratch_remove(&s);
}

/* A reload that changes smart-file: the new path is read at the next
 * tick, not when the old one's missing file is looked for again. */
TEST(test_smart_file_reload)
{
	struct collector_env env = {0};
	char path[PATH_MAX];
	struct scratch s;
	cJSON *p;
	void *st;

	st = smart_start(&s, "none.json", &env);
	p = sample_n(st, &env, 1);
	assert_non_null(strstr(get(get(p, "smart"), "error")->valuestring, "none.json"));
	cJSON_Delete(p);
	snprintf(path, sizeof(path), "%s/nas/smart/smart.json", fixtures());
	set_smart(path);
	assert_non_null(health_collector.reconfigure);
	health_collector.reconfigure(st);
	p = sample_n(st, &env, 1);
	assert_true(num(get(p, "smart"), "updated_ms") == 1700000000000.0);
	cJSON_Delete(p);
	health_collector.fini(st);
	close(env.proc_fd);
	close(env.sys_fd);
	scratch_remove(&s);
}

/* No /proc/mdstat (no md driver loaded): no arrays, and it is looked for
 * again at the 16th tick after, not sooner; once there it is read at each
 * tick (an array changing shows at the next one), and gone again, none. */
TEST(test_mdstat_appears)
{
	struct collector_env env = {0};
	char *mountinfo, *mdstat;
	struct scratch s;
	cJSON *p;
	void *st;

	mountinfo = slurp("nas", "proc/self/mountinfo", NULL);
	mdstat = slurp("nas", "proc/mdstat", NULL);
	scratch_env(&s, "health-md", false, &env);
	scratch_write(&s, "self/mountinfo", mountinfo);
	env.sys_fd = open_dir("nas", "sys");
	st = init_check(&health_collector, &env, 0, "");
	p = sample_n(st, &env, 1);
	assert_int_equal(cJSON_GetArraySize(get(p, "md")), 0);
	cJSON_Delete(p);
	scratch_write(&s, "mdstat", mdstat);
	p = sample_n(st, &env, 15);
	assert_int_equal(cJSON_GetArraySize(get(p, "md")), 0);
	cJSON_Delete(p);
	p = sample_n(st, &env, 1);
	assert_true(cJSON_GetArraySize(get(p, "md")) > 1);
	cJSON_Delete(p);
	scratch_write(&s, "mdstat", "Personalities : [raid1]\nunused devices: <none>\n");
	p = sample_n(st, &env, 1);
	assert_int_equal(cJSON_GetArraySize(get(p, "md")), 0);
	cJSON_Delete(p);
	scratch_write(&s, "mdstat", mdstat);
	p = sample_n(st, &env, 1);
	assert_true(cJSON_GetArraySize(get(p, "md")) > 1);
	cJSON_Delete(p);
	scratch_rm(&s, "mdstat");
	p = sample_n(st, &env, 1);
	assert_int_equal(cJSON_GetArraySize(get(p, "md")), 0);
	cJSON_Delete(p);
	health_collector.fini(st);
	free(mountinfo);
	free(mdstat);
	close(env.sys_fd);
	scratch_remove(&s);
}

/* ext4's last_error_time is read when errors_count moves, not at every
 * tick (the kernel sets both at each error): a time that changes alone is
 * not seen until the count moves, and then it is. */
TEST(test_ext4_error_time)
{
	struct collector_env env = {0};
	struct scratch proc, sys;
	const cJSON *f;
	cJSON *p;
	void *st;

	scratch_env(&proc, "health-ext4-proc", false, &env);
	scratch_make(&sys, "health-ext4-sys");
	env.sys_fd = sys.fd;
	scratch_write(&proc, "self/mountinfo",
		      "31 22 9:0 / /srv rw,relatime shared:29 - ext4 /dev/md0 rw\n");
	scratch_write(&sys, "fs/ext4/md0/errors_count", "3\n");
	scratch_write(&sys, "fs/ext4/md0/last_error_time", "1699999000\n");
	st = init_check(&health_collector, &env, 0, "");
	p = sample_n(st, &env, 1);
	f = cJSON_GetArrayItem(get(p, "filesystems"), 0);
	assert_true(get(f, "errors")->valuedouble == 3);
	assert_true(get(f, "last_error_ms")->valuedouble == 1699999000000.0);
	cJSON_Delete(p);
	scratch_write(&sys, "fs/ext4/md0/last_error_time", "1700000500\n");
	p = sample_n(st, &env, 2);
	f = cJSON_GetArrayItem(get(p, "filesystems"), 0);
	assert_true(get(f, "last_error_ms")->valuedouble == 1699999000000.0); /* not read */
	cJSON_Delete(p);
	scratch_write(&sys, "fs/ext4/md0/errors_count", "4\n");
	p = sample_n(st, &env, 1);
	f = cJSON_GetArrayItem(get(p, "filesystems"), 0);
	assert_true(get(f, "errors")->valuedouble == 4);
	assert_true(get(f, "last_error_ms")->valuedouble == 1700000500000.0);
	cJSON_Delete(p);
	health_collector.fini(st);
	scratch_remove(&proc);
	scratch_remove(&sys);
}

/* rchar of /proc/self/io: bytes this process read so far. */
static uint64_t read_bytes(void)
{
	return proc_io("self", "rchar");
}

/* On the live /proc, mountinfo is read again when the kernel says the
 * mount table changed and every 16th tick (it was parsed, and /sys looked
 * up, at every tick): 300 mounts, ten ticks read none of it, a mount gone
 * reads it, and the 16th tick after. */
TEST(test_live_mounts)
{
	struct collector_env env = {0};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	char dir[] = "/tmp/sysfeed-health-XXXXXX", path[PATH_MAX];
	struct procfs_buf mi = {0};
	cJSON *p = NULL, *first;
	uint64_t before;
	void *st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(unshare(CLONE_NEWNS), 0);
	assert_int_equal(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "%s/m%d", dir, i);
		assert_int_equal(mkdir(path, 0700), 0);
		assert_int_equal(mount("sysfeed-health", path, "tmpfs", 0, "size=4k"), 0);
	}
	assert_int_equal(procfs_read(AT_FDCWD, "/proc/self/mountinfo", &mi, 16u << 20), 0);
	assert_true(mi.len > 20000);
	env.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	env.sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	st = init_check(&health_collector, &env, 0, "");
	assert_int_equal(health_collector.sample(st, &env, &tick, &p), 0);
	first = cJSON_Duplicate(get(p, "filesystems"), true);
	cJSON_Delete(p);
	before = read_bytes();
	for (int i = 0; i < 10; i++) {
		assert_int_equal(health_collector.sample(st, &env, &tick, &p), 0);
		assert_true(cJSON_Compare(get(p, "filesystems"), first, true));
		cJSON_Delete(p);
	}
	assert_true(read_bytes() - before < mi.len / 2);
	snprintf(path, sizeof(path), "%s/m0", dir);
	assert_int_equal(umount(path), 0);
	before = read_bytes();
	assert_int_equal(health_collector.sample(st, &env, &tick, &p), 0);
	assert_true(read_bytes() - before > mi.len / 2);
	assert_true(cJSON_Compare(get(p, "filesystems"), first, true));
	cJSON_Delete(p);
	/* and every 16th tick whatever, for a superblock made read-only */
	before = read_bytes();
	for (int i = 0; i < 15; i++) {
		assert_int_equal(health_collector.sample(st, &env, &tick, &p), 0);
		cJSON_Delete(p);
	}
	assert_true(read_bytes() - before < mi.len / 2);
	assert_int_equal(health_collector.sample(st, &env, &tick, &p), 0);
	cJSON_Delete(p);
	assert_true(read_bytes() - before > mi.len / 2);
	health_collector.fini(st);
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "%s/m%d", dir, i);
		if (i)
			assert_int_equal(umount(path), 0);
		assert_int_equal(rmdir(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
	cJSON_Delete(first);
	procfs_buf_free(&mi);
	close(env.proc_fd);
	close(env.sys_fd);
}
