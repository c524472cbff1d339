/* Unit tests of collectors/cpu.c: percentages, payloads, and the collector
 * over two ticks compared with golden payloads
 * (tests/fixtures/<m>/expected). The parser is test_cpu_stat.c's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "fixture.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"

/* The machine's sys root, or -1 when the fixture has none. */
static int open_sys(const char *machine)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/sys", fixtures(), machine);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int parse_str(const char *text, struct cpu_stat *st)
{
	return cpu_stat_parse(text, strlen(text), st);
}

/* --- percentages --- */

static struct cpu_times times(uint64_t user, uint64_t nice, uint64_t system, uint64_t idle,
			      uint64_t iowait, uint64_t guest)
{
	struct cpu_times t = {0};

	t.jiffies[CPU_USER] = user;
	t.jiffies[CPU_NICE] = nice;
	t.jiffies[CPU_SYSTEM] = system;
	t.jiffies[CPU_IDLE] = idle;
	t.jiffies[CPU_IOWAIT] = iowait;
	t.jiffies[CPU_GUEST] = guest;
	return t;
}

static const struct want_field pct_fields[] = {
    WANT_FIELD(struct cpu_percent, user),   WANT_FIELD(struct cpu_percent, nice),
    WANT_FIELD(struct cpu_percent, system), WANT_FIELD(struct cpu_percent, iowait),
    WANT_FIELD(struct cpu_percent, irq),    WANT_FIELD(struct cpu_percent, softirq),
    WANT_FIELD(struct cpu_percent, steal),  WANT_FIELD(struct cpu_percent, idle),
    WANT_FIELD(struct cpu_percent, busy),   {NULL},
};

/* One reading of cpu_times_percent: prev and cur as times() takes them
 * (user, nice, system, idle, iowait, guest), what it returns, and on 0
 * every percentage in hundredths. */
struct pct_case {
	const char *what;
	uint64_t prev[6], cur[6];
	int r;
	struct cpu_percent want;
};

TEST(test_percent)
{
	static const struct pct_case cases[] = {
	    {"shares",
	     {0},
	     {50, 0, 25, 20, 5, 0},
	     0,
	     {.user = 5000, .system = 2500, .idle = 2000, .iowait = 500, .busy = 7500}},
	    /* guest (40) is inside user (60): 60% user, not 100/140 */
	    {"guest", {0}, {60, 0, 0, 40, 0, 40}, 0, {.user = 6000, .idle = 4000, .busy = 6000}},
	    /* rounding half up to hundredths: 1/3, 2/3, 1/202, 1/8 */
	    {"thirds", {0}, {1, 2, 0, 0, 0, 0}, 0, {.user = 3333, .nice = 6667, .busy = 10000}},
	    {"1/202",
	     {0},
	     {1, 0, 1, 200, 0, 0},
	     0,
	     {.user = 50, .system = 50, .idle = 9901, .busy = 99}},
	    {"1/8", {0}, {1, 0, 0, 7, 0, 0}, 0, {.user = 1250, .idle = 8750, .busy = 1250}},
	    /* huge deltas are scaled, not overflowed */
	    {"huge",
	     {0},
	     {UINT64_MAX / 2, 0, 0, UINT64_MAX / 2, 0, 0},
	     0,
	     {.user = 5000, .idle = 5000, .busy = 5000}},
	    {"too huge", {0}, {UINT64_MAX, 0, 0, 1, 0, 0}, -ERANGE, {0}},
	    /* iowait may decrease (proc(5)): it counts as no iowait time */
	    {"iowait down",
	     {100, 0, 100, 100, 10, 0},
	     {150, 0, 150, 150, 9, 0},
	     0,
	     {.user = 3333, .system = 3333, .idle = 3333, .busy = 6667}},
	    /* other counters going backwards (a reset): no rate */
	    {"reset", {150, 0, 150, 150, 9, 0}, {100, 0, 100, 100, 10, 0}, -ERANGE, {0}},
	    {"user down", {100, 0, 100, 100, 10, 0}, {90, 0, 150, 150, 10, 0}, -ERANGE, {0}},
	    /* no time accounted: no rate */
	    {"still", {100, 0, 100, 100, 10, 0}, {100, 0, 100, 100, 10, 0}, -ENODATA, {0}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pct_case *c = &cases[i];
		struct cpu_times a = times(c->prev[0], c->prev[1], c->prev[2], c->prev[3],
					   c->prev[4], c->prev[5]),
				 b = times(c->cur[0], c->cur[1], c->cur[2], c->cur[3], c->cur[4],
					   c->cur[5]);
		struct cpu_percent pc;
		int r = cpu_times_percent(&a, &b, &pc);

		if (r != c->r)
			print_error("%s\n", c->what);
		assert_int_equal(r, c->r);
		if (c->r == 0)
			assert_fields(c->what, &pc, &c->want, pct_fields);
	}
}

/* --- payloads --- */

static cJSON *payload_of(const char *prev_text, const char *cur_text)
{
	struct cpu_stat prev = {0}, cur = {0};
	cJSON *p = NULL;

	assert_int_equal(parse_str(prev_text, &prev), 0);
	assert_int_equal(parse_str(cur_text, &cur), 0);
	assert_int_equal(cpu_build_payload(&prev, &cur, SEC, T2, &p), 0);
	cpu_stat_free(&prev);
	cpu_stat_free(&cur);
	return p;
}

static void assert_core_ids(const cJSON *p, const unsigned *ids, size_t n)
{
	const cJSON *cores = cJSON_GetObjectItemCaseSensitive(p, "cores");

	assert_true(cJSON_IsArray(cores));
	assert_int_equal(cJSON_GetArraySize(cores), n);
	for (size_t i = 0; i < n; i++)
		assert_true(num(cJSON_GetArrayItem(cores, (int)i), "cpu") == ids[i]);
}

TEST(test_payload_hotplug)
{
	const char *two = "cpu  20 0 20 160\ncpu0 10 0 10 80\ncpu1 10 0 10 80\n";
	const char *three = "cpu  50 0 40 310\ncpu0 20 0 20 160\ncpu1 30 0 20 150\n"
			    "cpu2 0 0 0 0\n";
	const char *gap = "cpu  80 0 70 450\ncpu0 30 0 30 240\ncpu2 0 0 0 0\n";
	cJSON *p;

	/* cpu2 appeared: no rate for it on this tick */
	p = payload_of(two, three);
	assert_non_null(p);
	assert_true(num(p, "ncpu") == 3);
	assert_true(num(p, "t") == (double)T2);
	assert_core_ids(p, (const unsigned[]){0, 1}, 2);
	/* cpu1: 20 user, 10 system, 70 idle out of 100 */
	assert_true(num(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "cores"), 1), "user") == 20);
	assert_true(num(cJSON_GetObjectItem(p, "total"), "user") == 15);
	assert_true(num(cJSON_GetObjectItem(p, "total"), "busy") == 25);
	cJSON_Delete(p);

	/* cpu1 vanished; cpu2 stayed without accounting any time */
	p = payload_of(three, gap);
	assert_non_null(p);
	assert_true(num(p, "ncpu") == 2);
	assert_core_ids(p, (const unsigned[]){0}, 1);
	cJSON_Delete(p);

	/* every core replaced: an empty array, not a failure */
	p = payload_of(two, "cpu  40 0 40 320\ncpu4 1 0 0 0\n");
	assert_non_null(p);
	assert_core_ids(p, NULL, 0);
	cJSON_Delete(p);
}

TEST(test_payload_backwards)
{
	const char *a = "cpu  20 0 20 160 4\ncpu0 10 0 10 80 2\ncpu1 10 0 10 80 2\n";
	const char *b = "cpu  40 0 40 330 5\ncpu0 20 0 20 160 3\ncpu1 20 0 20 170 1\n";
	const char *c = "cpu  30 0 40 330 3\ncpu0 20 0 20 170 3\ncpu1 10 0 20 180 1\n";
	cJSON *p;

	/* cpu1's iowait went backwards: no iowait time for it, still a rate */
	p = payload_of(a, b);
	assert_non_null(p);
	assert_true(num(p, "ncpu") == 2);
	assert_core_ids(p, (const unsigned[]){0, 1}, 2);
	assert_true(num(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "cores"), 1), "iowait") == 0);
	cJSON_Delete(p);
	/* the aggregate's user time went backwards: nothing to send */
	p = payload_of(b, c);
	assert_null(p);
	/* no time passed at all: nothing to send */
	p = payload_of(b, b);
	assert_null(p);
}

/* --- the collector over fixture trees --- */

/* Ticks one second apart over proc/ then proc.2/ (sys/ for cpufreq, when
 * the fixture has one): the payload and the metrics are the golden ones. */
static void run_two_ticks(const char *machine)
{
	struct run r;

	assert_int_equal(sysconf(_SC_CLK_TCK), 100); /* expected/cpu.prom assumes USER_HZ 100 */
	run_start(&r, &cpu_collector, machine);
	/* the first tick has no rate */
	assert_null(run_tick(&r, T1, 5 * SEC));
	run_trees(&r, 1);
	run_golden(&r, T2, 6 * SEC, "cpu.json");
	run_metrics(&r, "cpu.prom");

	/* the same file again: no time accounted, nothing to send */
	assert_null(run_tick(&r, T2, 7 * SEC));
	/* back to the older file: counters went backwards, one delta skipped */
	run_trees(&r, 0);
	assert_null(run_tick(&r, T2, 8 * SEC));
	/* and forward again: the same rates as before */
	run_trees(&r, 1);
	run_golden(&r, T2, 9 * SEC, "cpu.json");
	/* the counters never went backwards in the metrics: same text */
	run_metrics(&r, "cpu.prom");
	run_end(&r);
}

static void test_collector(void **state)
{
	run_two_ticks(*state);
}

MACHINE_TEST(test_collector, "vm2");
MACHINE_TEST(test_collector, "linux-2.6.18");

TEST(test_collector_host16)
{
	cJSON *p = NULL, *core3 = NULL, *c;
	struct cpu_stat a = {0}, b = {0};
	size_t la, lb;
	char *ta = slurp("host16", "proc/stat", &la), *tb = slurp("host16", "proc.2/stat", &lb);

	run_two_ticks("host16");

	/* the same through the pure functions, with values checked by hand */
	assert_int_equal(cpu_stat_parse(ta, la, &a), 0);
	assert_int_equal(cpu_stat_parse(tb, lb, &b), 0);
	assert_int_equal(b.n_cores, 15); /* cpu5 went offline */
	assert_int_equal(cpu_build_payload(&a, &b, SEC, T2, &p), 0);
	assert_non_null(p);
	assert_true(num(p, "ncpu") == 15);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(p, "cores"))
	{
		assert_true(num(c, "cpu") != 5);
		if (num(c, "cpu") == 3)
			core3 = c;
	}
	/* cpu3: +62 user (40 of it guest), +1 nice, +9 system, +21 idle,
	 * +3 iowait, +1 irq, +3 softirq: 100 jiffies */
	assert_non_null(core3);
	assert_true(num(core3, "user") == 62);
	assert_true(num(core3, "idle") == 21);
	assert_true(num(core3, "iowait") == 3);
	assert_true(num(core3, "busy") == 76);
	/* the pure function has no cpufreq: mhz is null */
	assert_true(is_null(core3, "mhz"));
	/* ctxt +66656, intr +311 +522 +1207, processes +25 over one second;
	 * procs_running/blocked as in proc.2 */
	assert_true(num(p, "ctxt_per_s") == 66656);
	assert_true(num(p, "intr_per_s") == 2040);
	assert_true(num(p, "forks_per_s") == 25);
	assert_true(num(p, "procs_running") == 17);
	assert_true(num(p, "procs_blocked") == 1);
	cJSON_Delete(p);
	cpu_stat_free(&a);
	cpu_stat_free(&b);
	free(ta);
	free(tb);

	/* through the collector, cpu3's scaling_cur_freq is 3456789 kHz */
	{
		int fd1 = open_dir("host16", "proc"), fd2 = open_dir("host16", "proc.2");
		struct collector_env env = {.proc_fd = fd1, .sys_fd = open_sys("host16")};
		struct collector_tick t1 = {.t_ms = T1, .mono_ns = SEC};
		struct collector_tick t2 = {.t_ms = T2, .mono_ns = 2 * SEC};
		void *st = NULL;

		assert_true(env.sys_fd >= 0);
		st = init_check(&cpu_collector, &env, 0, NULL);
		assert_int_equal(cpu_collector.sample(st, &env, &t1, &p), 0);
		env.proc_fd = fd2;
		assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
		assert_non_null(p);
		core3 = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "cores"), 3);
		assert_true(num(core3, "cpu") == 3);
		assert_true(num(core3, "mhz") == 3456.789);
		cJSON_Delete(p);
		cpu_collector.fini(st);
		close(fd1);
		close(fd2);
		close(env.sys_fd);
	}
}

/* --- rates, frequencies and what /metrics shows --- */

TEST(test_payload_rates)
{
	const char *a = "cpu  10 0 10 80\ncpu0 10 0 10 80\nintr 100 60 40\nctxt 1000\n"
			"processes 50\nprocs_running 3\nprocs_blocked 1\n";
	const char *b = "cpu  20 0 20 160\ncpu0 20 0 20 160\nintr 250 160 90\nctxt 1500\n"
			"processes 53\nprocs_running 2\nprocs_blocked 0\n";
	struct cpu_stat prev = {0}, cur = {0};
	cJSON *p, *core;

	assert_int_equal(parse_str(a, &prev), 0);
	assert_int_equal(parse_str(b, &cur), 0);

	/* two seconds: +150 interrupts, +500 switches, +3 forks */
	assert_int_equal(cpu_build_payload(&prev, &cur, 2 * SEC, T2, &p), 0);
	assert_true(num(p, "intr_per_s") == 75);
	assert_true(num(p, "ctxt_per_s") == 250);
	assert_true(num(p, "forks_per_s") == 1.5);
	assert_true(num(p, "procs_running") == 2);
	assert_true(num(p, "procs_blocked") == 0);
	core = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "cores"), 0);
	assert_true(is_null(core, "mhz"));
	cJSON_Delete(p);

	/* three seconds: hundredths, rounded half up */
	assert_int_equal(cpu_build_payload(&prev, &cur, 3 * SEC, T2, &p), 0);
	assert_true(num(p, "ctxt_per_s") == 166.67);
	assert_true(num(p, "intr_per_s") == 50);
	assert_true(num(p, "forks_per_s") == 1);
	cJSON_Delete(p);
	/* 1.5 s: 500/1.5 = 333.333.., 150/1.5 = 100, 3/1.5 = 2 */
	assert_int_equal(cpu_build_payload(&prev, &cur, UINT64_C(1500000000), T2, &p), 0);
	assert_true(num(p, "ctxt_per_s") == 333.33);
	assert_true(num(p, "intr_per_s") == 100);
	assert_true(num(p, "forks_per_s") == 2);
	cJSON_Delete(p);

	/* a clock that did not move: the percentages still, no rates */
	assert_int_equal(cpu_build_payload(&prev, &cur, 0, T2, &p), 0);
	assert_true(is_null(p, "ctxt_per_s"));
	assert_true(is_null(p, "intr_per_s"));
	assert_true(is_null(p, "forks_per_s"));
	assert_true(num(p, "procs_running") == 2);
	cJSON_Delete(p);

	/* a core with a frequency */
	cur.cores[0].freq_khz = 2400123;
	cur.cores[0].has_freq = true;
	assert_int_equal(cpu_build_payload(&prev, &cur, SEC, T2, &p), 0);
	core = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "cores"), 0);
	assert_true(num(core, "mhz") == 2400.123);
	cJSON_Delete(p);

	/* ctxt went backwards: that rate is skipped, the others stay */
	assert_int_equal(parse_str("cpu  20 0 20 160\ncpu0 20 0 20 160\nintr 250\nctxt 999\n"
				   "processes 53\n",
				   &cur),
			 0);
	assert_int_equal(cpu_build_payload(&prev, &cur, SEC, T2, &p), 0);
	assert_true(is_null(p, "ctxt_per_s"));
	assert_true(num(p, "intr_per_s") == 150);
	assert_true(num(p, "forks_per_s") == 3);
	/* no procs_ lines (2.4 kernels): null */
	assert_true(is_null(p, "procs_running"));
	assert_true(is_null(p, "procs_blocked"));
	cJSON_Delete(p);

	/* a line missing from the previous reading: no rate for it */
	assert_int_equal(parse_str("cpu  10 0 10 80\ncpu0 10 0 10 80\nctxt 1000\n", &prev), 0);
	assert_int_equal(cpu_build_payload(&prev, &cur, SEC, T2, &p), 0);
	assert_true(is_null(p, "ctxt_per_s")); /* 999 < 1000: backwards */
	assert_true(is_null(p, "intr_per_s"));
	assert_true(is_null(p, "forks_per_s"));
	cJSON_Delete(p);
	cpu_stat_free(&prev);
	cpu_stat_free(&cur);
}

/* --- cpufreq through a scratch sys root --- */

static void mkdirs_at(int dirfd, const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdirat(dirfd, buf, 0700);
		*p = '/';
	}
	mkdirat(dirfd, buf, 0700);
}

static void put_at(int dirfd, const char *path, const char *text)
{
	int f = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(f >= 0);
	assert_int_equal(write(f, text, strlen(text)), (ssize_t)strlen(text));
	close(f);
}

static void put_freq(int sys_fd, unsigned cpu, const char *text)
{
	char dir[96], path[128];

	snprintf(dir, sizeof(dir), "devices/system/cpu/cpu%u/cpufreq", cpu);
	mkdirs_at(sys_fd, dir);
	snprintf(path, sizeof(path), "%s/scaling_cur_freq", dir);
	put_at(sys_fd, path, text);
}

/* Open file descriptors of this process (the low ones are enough). */
static size_t open_fds(void)
{
	size_t n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	}
	return n;
}

static double core_mhz(const cJSON *p, int i, bool *ret_null)
{
	const cJSON *core = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "cores"), i);

	assert_non_null(core);
	*ret_null = is_null(core, "mhz");
	return *ret_null ? 0 : num(core, "mhz");
}

/* Two more ticks a second apart, over stat[0] then stat[1]: the payload
 * of the second, whose rates span the two. */
static cJSON *freq_ticks(void *st, const struct collector_env *env, struct collector_tick *tick,
			 const char *const *stat)
{
	cJSON *p = NULL;

	for (int i = 0; i < 2; i++) {
		cJSON_Delete(p);
		p = NULL;
		put_at(env->proc_fd, "stat", stat[i]);
		tick->mono_ns += SEC;
		assert_int_equal(cpu_collector.sample(st, env, tick, &p), 0);
	}
	assert_non_null(p);
	return p;
}

TEST(test_collector_cpufreq)
{
	char dir[] = "/tmp/sysfeed-cpufreq-XXXXXX";
	struct collector_env env = {0};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	const char *stat[] = {"cpu  20 0 0 180\ncpu0 10 0 0 90\ncpu1 10 0 0 90\n",
			      "cpu  40 0 0 360\ncpu0 20 0 0 180\ncpu1 20 0 0 180\n"};
	struct metrics m = {0};
	size_t fds_before;
	void *st = NULL;
	cJSON *p = NULL;
	bool null;
	int root;

	assert_non_null(mkdtemp(dir));
	root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	mkdirs_at(root, "proc");
	mkdirs_at(root, "sys");
	env.proc_fd = openat(root, "proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	env.sys_fd = openat(root, "sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(env.proc_fd >= 0 && env.sys_fd >= 0);
	/* cpu0 has cpufreq, cpu1 has none */
	put_freq(env.sys_fd, 0, "2400000\n");
	put_at(env.proc_fd, "stat", stat[0]);

	fds_before = open_fds();
	st = init_check(&cpu_collector, &env, 0, NULL);
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	/* one attribute is held open across ticks, nothing else */
	assert_int_equal(open_fds(), fds_before + 1);
	put_at(env.proc_fd, "stat", stat[1]);
	tick.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_true(core_mhz(p, 0, &null) == 2400);
	assert_false(null);
	core_mhz(p, 1, &null);
	assert_true(null);
	cJSON_Delete(p);
	assert_int_equal(cpu_collector.metrics(st, &m), 0);
	assert_non_null(strstr(m.buf, "# TYPE node_cpu_scaling_frequency_hertz gauge\n"
				      "node_cpu_scaling_frequency_hertz{cpu=\"0\"} 2400000000\n"));
	assert_null(strstr(m.buf, "{cpu=\"1\"} 2"));

	/* the value changes in place: the open fd reads it anew */
	put_freq(env.sys_fd, 0, "1200500\n");
	p = freq_ticks(st, &env, &tick, stat);
	assert_true(core_mhz(p, 0, &null) == 1200.5);
	cJSON_Delete(p);
	assert_int_equal(open_fds(), fds_before + 1);

	/* an unreadable value is null for that tick, not an error */
	put_freq(env.sys_fd, 0, "<unknown>\n");
	put_freq(env.sys_fd, 1, "3000000\n");
	p = freq_ticks(st, &env, &tick, stat);
	core_mhz(p, 0, &null);
	assert_true(null);
	/* cpu1's new attribute is not looked for while the cores stay */
	core_mhz(p, 1, &null);
	assert_true(null);
	cJSON_Delete(p);
	metrics_reset(&m);
	assert_int_equal(cpu_collector.metrics(st, &m), 0);
	assert_null(strstr(m.buf, "scaling_frequency"));

	/* a core comes online: the attributes are opened again, cpu1's
	 * included, and every core's is read */
	put_freq(env.sys_fd, 0, "2000000\n");
	put_at(env.proc_fd, "stat",
	       "cpu  60 0 0 540\ncpu0 30 0 0 270\ncpu1 30 0 0 270\ncpu2 0 0 0 0\n");
	tick.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_true(core_mhz(p, 0, &null) == 2000);
	assert_true(core_mhz(p, 1, &null) == 3000);
	assert_false(null);
	cJSON_Delete(p);
	assert_int_equal(open_fds(), fds_before + 2);

	/* no sys root at all: every mhz is null */
	cpu_collector.fini(st);
	assert_int_equal(open_fds(), fds_before);
	close(env.sys_fd);
	env.sys_fd = -1;
	put_at(env.proc_fd, "stat", stat[0]);
	st = init_check(&cpu_collector, &env, 0, NULL);
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	put_at(env.proc_fd, "stat", stat[1]);
	tick.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	core_mhz(p, 0, &null);
	assert_true(null);
	cJSON_Delete(p);
	cpu_collector.fini(st);
	metrics_free(&m);

	close(env.proc_fd);
	close(root);
	{
		char cmd[96];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* promtool accepts the families of every fixture tree without a warning. */
TEST(test_metrics_promtool)
{
	promtool_goldens("cpu.prom");
}

/* CPU time of one tick on this machine's /proc and /sys. */
TEST(test_collector_cost)
{
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int sys = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = proc, .sys_fd = sys};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	struct metrics m = {0};
	struct timespec a, b;
	void *st = NULL;
	cJSON *p = NULL;
	double us;

	st = init_check(&cpu_collector, &env, 0, NULL);
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (int i = 0; i < 200; i++) {
		tick.mono_ns += SEC;
		assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
		cJSON_Delete(p);
		metrics_reset(&m);
		assert_int_equal(cpu_collector.metrics(st, &m), 0);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / 200;
	print_message("cpu: sample + metrics on this host: %.1f us CPU per tick\n", us);
	metrics_free(&m);
	cpu_collector.fini(st);
	close(proc);
	close(sys);
}

TEST(test_collector_errors)
{
	struct scratch s;
	struct collector_env env;
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 2 * SEC};
	void *st = NULL;
	cJSON *p = NULL;

	scratch_env(&s, "cpu", false, &env);
	init_fails(&cpu_collector, &s, &env,
		   (const struct init_fail[]){
		       /* missing file: the topic is off, with a reason */
		       {NULL, NULL, -ENOENT, "/proc/stat: No such file or directory"},
		       /* a file of another shape: off too */
		       {"stat", "cpu  1 2\n", -EINVAL,
			"/proc/stat: unexpected contents (Invalid argument)"},
		       {NULL}});

	/* a bad tick in the middle keeps the last good reading */
	scratch_write(&s, "stat", "cpu  10 0 10 80\ncpu0 10 0 10 80\n");
	st = init_check(&cpu_collector, &env, 0, NULL);
	assert_int_equal(cpu_collector.sample(st, &env, &t1, &p), 0);
	assert_null(p);
	scratch_write(&s, "stat", "cpu  15 0 10 8");
	tick_fails(&cpu_collector, st, &env, &t2, -EINVAL);
	unlinkat(s.fd, "stat", 0);
	tick_fails(&cpu_collector, st, &env, &t2, -ENOENT);
	scratch_write(&s, "stat", "cpu  40 0 10 150\ncpu0 40 0 10 150\n");
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_non_null(p);
	/* against the first reading: +30 user, +70 idle */
	assert_true(num(cJSON_GetObjectItem(p, "total"), "user") == 30);
	assert_true(num(cJSON_GetObjectItem(p, "total"), "idle") == 70);
	cJSON_Delete(p);
	cpu_collector.fini(st);
	cpu_collector.fini(NULL);
	scratch_remove(&s);
}

/* The live /proc of this machine: two ticks a little apart. */
TEST(test_collector_live)
{
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 2 * SEC};
	struct timespec nap = {.tv_nsec = 60 * 1000 * 1000};
	void *st = NULL;
	cJSON *p = NULL;

	assert_true(fd >= 0);
	st = init_check(&cpu_collector, &env, 0, NULL);
	assert_int_equal(cpu_collector.sample(st, &env, &t1, &p), 0);
	assert_null(p);
	nanosleep(&nap, NULL);
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	if (p) {
		const cJSON *total = cJSON_GetObjectItem(p, "total");
		double sum = num(total, "busy") + num(total, "idle") + num(total, "iowait");

		assert_true(num(p, "ncpu") == (double)sysconf(_SC_NPROCESSORS_ONLN));
		assert_true(sum > 99.97 && sum < 100.03);
		cJSON_Delete(p);
	}
	cpu_collector.fini(st);
	close(fd);
}
