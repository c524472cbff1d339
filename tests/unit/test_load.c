/* Unit tests of collectors/load.c: /proc/loadavg and /proc/uptime parsers
 * against fixture trees and the collector (golden payloads in
 * tests/fixtures/<m>/expected/load.json, golden metrics in load.prom). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "load.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"

static int parse_avg(const char *text, size_t len, void *ret)
{
	return load_avg_parse(text, len, ret);
}

static int parse_uptime(const char *text, size_t len, void *ret)
{
	return load_uptime_parse(text, len, ret);
}

static void parse_fixture(const char *machine, struct load_avg *la, struct load_uptime *up)
{
	parse_file(machine, "proc/loadavg", parse_avg, la);
	parse_file(machine, "proc/uptime", parse_uptime, up);
}

static const struct want_field avg_fields[] = {
    WANT_FIELD(struct load_avg, load1),
    WANT_FIELD(struct load_avg, load5),
    WANT_FIELD(struct load_avg, load15),
    WANT_FIELD(struct load_avg, running),
    WANT_FIELD(struct load_avg, tasks),
    WANT_FIELD(struct load_avg, last_pid),
    {NULL},
};

static const struct want_field uptime_fields[] = {
    WANT_FIELD(struct load_uptime, uptime),
    WANT_FIELD(struct load_uptime, idle),
    {NULL},
};

/* Each machine's loadavg and uptime parsed whole. */
TEST(test_parse_fixtures)
{
	static const struct {
		const char *machine;
		struct load_avg la;
		struct load_uptime up;
	} cases[] = {
	    /* "0.01 0.03 0.01 1/82 2851", "250.56 472.79" */
	    {"vm2", {0.01, 0.03, 0.01, 1, 82, 2851}, {250.56, 472.79}},
	    /* "12.47 10.83 9.91 18/1734 987654", "3456789.12 51234567.89" */
	    {"host16", {12.47, 10.83, 9.91, 18, 1734, 987654}, {3456789.12, 51234567.89}},
	    /* "0.08 0.03 0.01 1/143 4321", "8723456.78 34123456.12" */
	    {"linux-2.6.18", {0.08, 0.03, 0.01, 1, 143, 4321}, {8723456.78, 34123456.12}},
	};
	struct load_avg la;
	struct load_uptime up;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_fixture(cases[i].machine, &la, &up);
		assert_fields(cases[i].machine, &la, &cases[i].la, avg_fields);
		assert_fields(cases[i].machine, &up, &cases[i].up, uptime_fields);
	}
}

TEST(test_parse_shapes)
{
	struct load_avg la;
	struct load_uptime up;

	/* fewer decimals and wide values are still exact */
	assert_int_equal(load_avg_parse("1.5 10 0.05 0/1 1\n", 18, &la), 0);
	assert_true(la.load1 == 1.5);
	assert_true(la.load5 == 10);
	assert_true(la.load15 == 0.05);
	assert_int_equal(la.running, 0);
	assert_int_equal(load_uptime_parse("0.00 0.00\n", 10, &up), 0);
	assert_true(up.uptime == 0);
}

TEST(test_parse_malformed)
{
	static const char *const bad_loadavg[] = {
	    "",
	    "\n",
	    "0.52 0.58 0.59 2/345 12345",
	    "0.52 0.58 0.59 2/345\n",
	    "0.52 0.58 0.59 2/345 12345 7\n",
	    "0.52 0.58 0.59 2345 12345\n",
	    "0.52 0.58 0.59 2/ 12345\n",
	    "0.52 0.58 0.59 /345 12345\n",
	    "0.52 0.58 0.59 2/3/4 12345\n",
	    "0.52 0.58 0.59 -2/345 12345\n",
	    "x.52 0.58 0.59 2/345 12345\n",
	    "0.521 0.58 0.59 2/345 12345\n",
	    "-0.52 0.58 0.59 2/345 12345\n",
	    "0,52 0.58 0.59 2/345 12345\n",
	    "0.52 0.58 0.59 2/345 12345\n0.52 0.58 0.59 2/345 12345\n",
	    "0.52 0.58 0.59 2/345 12345\n\n",
	    "0.52\t0.58 0.59 2/345 12345\n",
	};
	static const char *const bad_uptime[] = {
	    "",
	    "\n",
	    "250.56\n",
	    "250.56 472.79",
	    "250.56 472.79 1\n",
	    "250.567 472.79\n",
	    "abc 472.79\n",
	    "1e3 472.79\n",
	    "250.56 472.79\nx\n",
	    "-1.00 472.79\n",
	    "250. 472.79\n",
	    ".56 472.79\n",
	};
	struct load_avg la = {.tasks = 7};
	struct load_uptime up = {.uptime = 7};

	for (size_t i = 0; i < sizeof(bad_loadavg) / sizeof(bad_loadavg[0]); i++) {
		int r = load_avg_parse(bad_loadavg[i], strlen(bad_loadavg[i]), &la);

		if (r != -EINVAL)
			print_error("loadavg case %zu gave %d\n", i, r);
		assert_int_equal(r, -EINVAL);
		assert_int_equal(la.tasks, 7); /* untouched on error */
	}
	for (size_t i = 0; i < sizeof(bad_uptime) / sizeof(bad_uptime[0]); i++) {
		int r = load_uptime_parse(bad_uptime[i], strlen(bad_uptime[i]), &up);

		if (r != -EINVAL)
			print_error("uptime case %zu gave %d\n", i, r);
		assert_int_equal(r, -EINVAL);
		assert_true(up.uptime == 7);
	}
	/* overflow */
	{
		static const char pid[] = "0.52 0.58 0.59 2/345 99999999999999999999\n";
		static const char tasks[] = "0.52 0.58 0.59 2/99999999999999999999 1\n";
		static const char secs[] = "184467440737095517.00 1.00\n";
		static const char nul[] = "250.56\0"
					  "472.79\n";

		assert_int_equal(load_avg_parse(pid, sizeof(pid) - 1, &la), -ERANGE);
		assert_int_equal(load_avg_parse(tasks, sizeof(tasks) - 1, &la), -ERANGE);
		assert_int_equal(load_uptime_parse(secs, sizeof(secs) - 1, &up), -ERANGE);
		assert_int_equal(load_uptime_parse(nul, sizeof(nul) - 1, &up), -EINVAL);
	}
}

/* One line: only the whole file parses. */
static void cut_whole(int r, const char *text, size_t n, size_t len)
{
	assert_int_equal(r, n == len ? 0 : -EINVAL);
}

TEST(test_parse_truncated)
{
	struct load_avg la;
	struct load_uptime up;

	check_cuts_proc("proc/loadavg", parse_avg, &la, cut_whole, '\0');
	check_cuts_proc("proc/uptime", parse_uptime, &up, cut_whole, '\0');
}

static void run_collector(const char *machine)
{
	struct run r;

	run_start(&r, &load_collector, machine);
	run_golden(&r, T1, 1, "load.json");
	run_metrics(&r, "load.prom");
	run_end(&r);
}

TEST(test_metrics_promtool)
{
	promtool_goldens("load.prom");
}

TEST(test_collector_fixtures)
{
	char *text;
	cJSON *p = NULL;
	struct load_avg la;
	struct load_uptime up;

	for (size_t i = 0; i < 3; i++)
		run_collector(proc_machines[i]);

	/* the wire form, spelled out once */
	parse_fixture("vm2", &la, &up);
	assert_int_equal(load_build_payload(&la, &up, T1, &p), 0);
	text = cJSON_PrintUnformatted(p);
	assert_string_equal(text, "{\"t\":1700000000000,\"load1\":0.01,\"load5\":0.03,"
				  "\"load15\":0.01,\"running\":1,\"tasks\":82,\"uptime\":250.56}");
	free(text);
	cJSON_Delete(p);
}

TEST(test_collector_errors)
{
	struct scratch s;
	struct collector_env env;
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	struct metrics m = {0};
	void *st = NULL;
	cJSON *p = NULL;

	scratch_env(&s, "load", false, &env);
	init_fails(&load_collector, &s, &env,
		   (const struct init_fail[]){
		       {NULL, NULL, -ENOENT, "/proc/loadavg: No such file or directory"},
		       {"loadavg", "0.52 0.58 0.59 2/345 12345\n", -ENOENT,
			"/proc/uptime: No such file or directory"},
		       {"uptime", "12.5.0 1.00\n", -EINVAL,
			"/proc/uptime: unexpected contents (Invalid argument)"},
		       {NULL}});

	scratch_write(&s, "uptime", "12.50 1.00\n");
	st = init_check(&load_collector, &env, 0, NULL);
	scratch_write(&s, "loadavg", "0.52 0.58\n");
	tick_fails(&load_collector, st, &env, &tick, -EINVAL);
	assert_int_equal(load_collector.metrics(st, &m), 0);
	assert_int_equal(m.len, 0);
	scratch_write(&s, "loadavg", "0.52 0.58 0.59 2/345 12345\n");
	assert_int_equal(load_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_true(cJSON_GetObjectItem(p, "uptime")->valuedouble == 12.5);
	assert_true(cJSON_GetObjectItem(p, "load15")->valuedouble == 0.59);
	cJSON_Delete(p);
	/* a failed tick leaves the metrics of the last good one */
	scratch_write(&s, "loadavg", "1.00 1.00 1.00 2/345 12345 x\n");
	tick_fails(&load_collector, st, &env, &tick, -EINVAL);
	assert_int_equal(load_collector.metrics(st, &m), 0);
	assert_string_equal(m.buf, "# HELP node_load1 1m load average.\n"
				   "# TYPE node_load1 gauge\n"
				   "node_load1 0.52\n"
				   "# HELP node_load5 5m load average.\n"
				   "# TYPE node_load5 gauge\n"
				   "node_load5 0.58\n"
				   "# HELP node_load15 15m load average.\n"
				   "# TYPE node_load15 gauge\n"
				   "node_load15 0.59\n");
	metrics_free(&m);
	load_collector.fini(st);
	load_collector.fini(NULL);
	scratch_remove(&s);
}

TEST(test_collector_live)
{
	cJSON *p = live_payload(&load_collector, false);

	assert_true(cJSON_GetObjectItem(p, "uptime")->valuedouble > 0);
	assert_true(cJSON_GetObjectItem(p, "tasks")->valuedouble >= 1);
	cJSON_Delete(p);
}

/* This process's fds open on path. */
static int fds_on(const char *path)
{
	struct procfs_dents it;
	const struct dirent64 *d;
	char dents[4096], target[PATH_MAX];
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;

	assert_true(dir >= 0);
	it = (struct procfs_dents)PROCFS_DENTS(dir, dents, sizeof(dents));
	while (procfs_dents_next(&it, &d) > 0) {
		ssize_t len;

		len = readlinkat(dir, d->d_name, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strcmp(target, path) == 0;
		}
	}
	close(dir);
	return n;
}

static double live_uptime(void)
{
	struct procfs_buf buf = {0};
	struct load_uptime up;

	assert_int_equal(procfs_read(AT_FDCWD, "/proc/uptime", &buf, 4096), 0);
	assert_int_equal(load_uptime_parse(buf.data, buf.len, &up), 0);
	procfs_buf_free(&buf);
	return up.uptime;
}

/* On the live proc, uptime is CLOCK_BOOTTIME: what /proc/uptime says
 * around the tick, and the file is never opened; a fixture root put in
 * its place between ticks has its file read. */
TEST(test_collector_live_uptime_clock)
{
	struct run r;
	double before, after, up;
	int fixture = open_dir("vm2", "proc");
	cJSON *p;

	run_live(&r, &load_collector, false, false);
	before = live_uptime();
	p = run_tick(&r, T1, 1);
	after = live_uptime();
	assert_non_null(p);
	up = cJSON_GetObjectItem(p, "uptime")->valuedouble;
	assert_true(before <= up && up <= after);
	/* hundredths, as the file has them */
	assert_true(fabs(up * 100 - round(up * 100)) < 1e-6);
	assert_int_equal(fds_on("/proc/uptime"), 0);
	cJSON_Delete(p);

	r.env.proc_fd = fixture;
	p = run_tick(&r, T1, 2 * SEC);
	assert_non_null(p);
	assert_true(cJSON_GetObjectItem(p, "uptime")->valuedouble == 250.56);
	cJSON_Delete(p);
	r.env.proc_fd = r.fd[0];
	run_end(&r);
	close(fixture);
}

/* env->read_shared as the daemon's: the text it hands out, and how often
 * it was asked. */
static const char *shared_text;
static int shared_calls;

static int fake_read_shared(const struct collector_env *env, const char *path,
			    const char **ret_text, size_t *ret_len)
{
	shared_calls++;
	assert_string_equal(path, "loadavg");
	*ret_text = shared_text;
	*ret_len = strlen(shared_text);
	return 0;
}

/* With the daemon's env->read_shared, loadavg is what it hands out (not
 * the tree's file), at init and at each tick; a bad text is named as the
 * file's in init's reason. */
TEST(test_collector_read_shared)
{
	struct collector_env env = {
	    .proc_fd = open_dir("vm2", "proc"), .sys_fd = -1, .read_shared = fake_read_shared};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	cJSON *p = NULL;
	void *st;

	shared_text = "1.50 0.58 0.59 2/345 12345\n";
	st = init_check(&load_collector, &env, 0, NULL);
	assert_int_equal(shared_calls, 1);
	assert_int_equal(load_collector.sample(st, &env, &tick, &p), 0);
	assert_int_equal(shared_calls, 2);
	assert_non_null(p);
	assert_true(cJSON_GetObjectItem(p, "load1")->valuedouble == 1.5);
	assert_true(cJSON_GetObjectItem(p, "uptime")->valuedouble == 250.56);
	cJSON_Delete(p);
	load_collector.fini(st);

	shared_text = "1.50 0.58\n";
	init_check(&load_collector, &env, -EINVAL,
		   "/proc/loadavg: unexpected contents (Invalid argument)");
	close(env.proc_fd);
}
