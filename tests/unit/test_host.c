/* Unit tests of collectors/host.c: the collector over fixture trees (vm2
 * captured; desktop and container constructed) compared with
 * <machine>/expected/host.json, published once and again only on a change;
 * on the live /proc, the host name read when its watch says it changed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "host.h"
#include "procfs.h"

/* --- the collector --- */

static void run_machine(const char *machine)
{
	struct run r;

	run_start(&r, &host_collector, machine);
	run_golden(&r, T1, 1, "host.json");
	/* nothing changed: nothing to send */
	assert_null(run_tick(&r, T2, 1));
	run_end(&r);
}

TEST(test_collector_fixtures)
{
	run_machine("vm2");
	run_machine("desktop");
	run_machine("container");
}

/* A new host name is published at the next tick; the topic is off
 * without the two files every Linux has. */
TEST(test_collector_change)
{
	struct scratch proc;
	struct collector_env env;
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	void *st = NULL;
	cJSON *p = NULL;
	char *text;

	scratch_env(&proc, "host", false, &env);
	init_fails(
	    &host_collector, &proc, &env,
	    (const struct init_fail[]){
		{NULL, NULL, -ENOENT, "/proc/sys/kernel/hostname: No such file or directory"},
		{"sys/kernel/hostname", "alpha\n", -ENOENT,
		 "/proc/sys/kernel/osrelease: No such file or directory"},
		{NULL}});
	scratch_write(&proc, "sys/kernel/osrelease", "6.1.0\n");
	scratch_write(&proc, "sys/kernel/arch", "riscv64\n");
	st = init_check(&host_collector, &env, 0, NULL);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	text = cJSON_PrintUnformatted(p);
	/* nothing else to read: nulls */
	assert_string_equal(text, "{\"t\":1700000000000,\"hostname\":\"alpha\",\"os\":null,"
				  "\"kernel\":\"6.1.0\",\"kernel_version\":null,"
				  "\"arch\":\"riscv64\",\"cpu\":{\"model\":null,\"logical\":null,"
				  "\"cores\":null,\"sockets\":null},\"boot_time_ms\":null,"
				  "\"machine_id\":null,\"virtualization\":{\"vm\":null,"
				  "\"container\":null}}");
	free(text);
	cJSON_Delete(p);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	scratch_write(&proc, "sys/kernel/hostname", "beta\n");
	tick.t_ms = T2;
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_string_equal(cJSON_GetObjectItem(p, "hostname")->valuestring, "beta");
	assert_true(cJSON_GetObjectItem(p, "t")->valuedouble == (double)T2);
	cJSON_Delete(p);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	host_collector.fini(st);
	host_collector.fini(NULL);
	scratch_remove(&proc);
}

TEST(test_collector_live)
{
	struct collector_env env;
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	char host[256] = "";
	void *st = NULL;
	cJSON *p = NULL;
	struct timespec a, b;
	const int n = 10000;

	env = (struct collector_env){.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
				     .sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
	st = init_check(&host_collector, &env, 0, NULL);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	gethostname(host, sizeof(host) - 1);
	assert_string_equal(cJSON_GetObjectItem(p, "hostname")->valuestring, host);
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "cpu"), "logical")->valuedouble >=
		    1);
	cJSON_Delete(p);
	/* the cost of the ticks in between: the host name only */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (int i = 0; i < n; i++) {
		assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
		assert_null(p);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	print_message(
	    "host: %.2f us of CPU per tick\n",
	    ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / n);
	host_collector.fini(st);
	close(env.proc_fd);
	close(env.sys_fd);
}

/* env->watch as the daemon's: one file, whose count the test moves. */
static uint32_t watch_gen[1];
static const char *watch_path;

static int test_watch(const struct collector_env *env, const char *path)
{
	(void)env;
	watch_path = path;
	return 0;
}

/* The host's name in p. */
static const char *hostname_of(const cJSON *p)
{
	assert_non_null(p);
	return cJSON_GetObjectItem(p, "hostname")->valuestring;
}

/* In a UTS namespace of its own (root): through env->watch, a new host
 * name is read when the watch's count moves, not before (the old
 * collector read the file at every tick); without env->watch, the
 * collector's own poll of the file sees it at the next tick. */
TEST(test_hostname_watched)
{
	struct collector_env env = {0};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	void *st;
	cJSON *p = NULL;

	if (geteuid() != 0 || unshare(CLONE_NEWUTS) != 0)
		skip();
	assert_int_equal(sethostname("sysfeed-a", 9), 0);
	env = (struct collector_env){.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
				     .sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
				     .watch = test_watch,
				     .watch_gen = watch_gen};
	st = init_check(&host_collector, &env, 0, NULL);
	assert_string_equal(watch_path, "sys/kernel/hostname");
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_string_equal(hostname_of(p), "sysfeed-a");
	cJSON_Delete(p);
	assert_int_equal(sethostname("sysfeed-b", 9), 0);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	watch_gen[0]++;
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_string_equal(hostname_of(p), "sysfeed-b");
	cJSON_Delete(p);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	host_collector.fini(st);

	env.watch = NULL;
	env.watch_gen = NULL;
	st = init_check(&host_collector, &env, 0, NULL);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_string_equal(hostname_of(p), "sysfeed-b");
	cJSON_Delete(p);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	assert_int_equal(sethostname("sysfeed-c", 9), 0);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_string_equal(hostname_of(p), "sysfeed-c");
	cJSON_Delete(p);
	host_collector.fini(st);
	close(env.proc_fd);
	close(env.sys_fd);
}
