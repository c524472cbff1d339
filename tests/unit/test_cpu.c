/* Unit tests of collectors/cpu.c: the /proc/stat parser against captured
 * and constructed fixture trees, percentages, and the collector over two
 * ticks compared with golden payloads (tests/fixtures/<m>/expected). */
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

#define T1  INT64_C(1700000000000)
#define T2  INT64_C(1700000001000)
#define SEC UINT64_C(1000000000)

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

/* --- scratch proc roots for the collector's error paths --- */

struct scratch {
	char dir[64];
	int fd;
};

static void scratch_write(struct scratch *s, const char *name, const char *text)
{
	int f = openat(s->fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(f >= 0);
	assert_int_equal(write(f, text, strlen(text)), (ssize_t)strlen(text));
	close(f);
}

static void scratch_make(struct scratch *s)
{
	strcpy(s->dir, "/tmp/sysfeed-cpu-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	s->fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(s->fd >= 0);
}

static void scratch_remove(struct scratch *s)
{
	unlinkat(s->fd, "stat", 0);
	close(s->fd);
	rmdir(s->dir);
}

/* --- the parser --- */

/* The parse as JSON, in the shape of expected/stat.json. */
static cJSON *stat_json(const struct cpu_stat *st)
{
	static const char *const modes[CPU_NMODES] = {
	    "user", "nice",    "system", "idle",  "iowait",
	    "irq",  "softirq", "steal",  "guest", "guest_nice",
	};
	static const struct {
		const char *key;
		unsigned flag;
		size_t offset;
	} singles[] = {
	    {"intr", CPU_HAS_INTR, offsetof(struct cpu_stat, intr)},
	    {"ctxt", CPU_HAS_CTXT, offsetof(struct cpu_stat, ctxt)},
	    {"btime", CPU_HAS_BTIME, offsetof(struct cpu_stat, btime)},
	    {"processes", CPU_HAS_PROCESSES, offsetof(struct cpu_stat, processes)},
	    {"procs_running", CPU_HAS_PROCS_RUNNING, offsetof(struct cpu_stat, procs_running)},
	    {"procs_blocked", CPU_HAS_PROCS_BLOCKED, offsetof(struct cpu_stat, procs_blocked)},
	};
	cJSON *o = cJSON_CreateObject(), *total, *cores;

	total = cJSON_AddObjectToObject(o, "total");
	for (size_t m = 0; m < CPU_NMODES; m++)
		cJSON_AddNumberToObject(total, modes[m], (double)st->total.jiffies[m]);
	cores = cJSON_AddArrayToObject(o, "cores");
	for (size_t i = 0; i < st->n_cores; i++) {
		cJSON *core = cJSON_CreateObject();

		cJSON_AddNumberToObject(core, "cpu", st->cores[i].id);
		for (size_t m = 0; m < CPU_NMODES; m++)
			cJSON_AddNumberToObject(core, modes[m], (double)st->cores[i].jiffies[m]);
		cJSON_AddItemToArray(cores, core);
	}
	for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
		if (st->has & singles[i].flag)
			cJSON_AddNumberToObject(
			    o, singles[i].key,
			    (double)*(const uint64_t *)((const char *)st + singles[i].offset));
	}
	return o;
}

static void check_stat_fixture(const char *machine)
{
	struct cpu_stat st = {0};
	size_t len;
	char *text = slurp(machine, "proc/stat", &len);
	cJSON *j;

	assert_int_equal(cpu_stat_parse(text, len, &st), 0);
	j = stat_json(&st);
	assert_json_file(j, machine, "stat.json");
	cJSON_Delete(j);
	cpu_stat_free(&st);
	free(text);
}

static void test_parse_vm2(void **state)
{
	struct cpu_stat st = {0};
	size_t len;
	char *text = slurp("vm2", "proc/stat", &len);

	(void)state;
	assert_int_equal(cpu_stat_parse(text, len, &st), 0);
	/* cpu  1219 0 1131 47279 231 0 18 6 0 0 */
	assert_int_equal(st.total.jiffies[CPU_USER], 1219);
	assert_int_equal(st.total.jiffies[CPU_SYSTEM], 1131);
	assert_int_equal(st.total.jiffies[CPU_IDLE], 47279);
	assert_int_equal(st.total.jiffies[CPU_IOWAIT], 231);
	assert_int_equal(st.total.jiffies[CPU_SOFTIRQ], 18);
	assert_int_equal(st.total.jiffies[CPU_STEAL], 6);
	assert_int_equal(st.n_cores, 2);
	/* cpu1 904 0 715 23067 228 0 14 5 0 0 */
	assert_int_equal(st.cores[1].id, 1);
	assert_int_equal(st.cores[1].jiffies[CPU_USER], 904);
	assert_int_equal(st.cores[1].jiffies[CPU_IDLE], 23067);
	assert_int_equal(st.cores[1].jiffies[CPU_IOWAIT], 228);
	assert_int_equal(st.has, CPU_HAS_CTXT | CPU_HAS_BTIME | CPU_HAS_PROCESSES |
				     CPU_HAS_PROCS_RUNNING | CPU_HAS_PROCS_BLOCKED | CPU_HAS_INTR);
	/* intr 101545 0 0 0 ... (the sum, then 1,000-odd per-IRQ counts) */
	assert_int_equal(st.intr, 101545);
	assert_false(st.cores[0].has_freq);
	assert_int_equal(st.ctxt, 229861);
	assert_int_equal(st.btime, 1795480737);
	assert_int_equal(st.processes, 2850);
	assert_int_equal(st.procs_running, 1);
	assert_int_equal(st.procs_blocked, 0);
	cpu_stat_free(&st);
	free(text);
	check_stat_fixture("vm2");
}

static void test_parse_host16(void **state)
{
	struct cpu_stat st = {0};
	size_t len;
	char *text = slurp("host16", "proc/stat", &len);

	(void)state;
	assert_int_equal(cpu_stat_parse(text, len, &st), 0);
	assert_int_equal(st.n_cores, 16);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(st.cores[i].id, i);
	/* cpu3 41234567 12345 9876543 282345678 456789 0 234567 0 23456789 1234 */
	assert_int_equal(st.cores[3].jiffies[CPU_USER], 41234567);
	assert_int_equal(st.cores[3].jiffies[CPU_NICE], 12345);
	assert_int_equal(st.cores[3].jiffies[CPU_IDLE], 282345678);
	assert_int_equal(st.cores[3].jiffies[CPU_GUEST], 23456789);
	assert_int_equal(st.cores[3].jiffies[CPU_GUEST_NICE], 1234);
	/* cpu15 63500060 12720 10851855 270439235 475045 164955 235135 0 35000045 1255 */
	assert_int_equal(st.cores[15].jiffies[CPU_USER], 63500060);
	assert_int_equal(st.cores[15].jiffies[CPU_GUEST_NICE], 1255);
	assert_int_equal(st.total.jiffies[CPU_USER], 810135035);
	assert_int_equal(st.total.jiffies[CPU_GUEST], 440457140);
	assert_int_equal(st.ctxt, UINT64_C(98765432109));
	/* intr: the sum of 120 per-IRQ counts */
	assert_int_equal(st.intr, 44 + 9 + 1 + 1234567 + 2345678 + 987654);
	assert_int_equal(st.processes, 54321098);
	assert_int_equal(st.procs_running, 18);
	assert_int_equal(st.procs_blocked, 2);
	cpu_stat_free(&st);
	free(text);
	check_stat_fixture("host16");
}

static void test_parse_linux_2_6_18(void **state)
{
	struct cpu_stat st = {0};
	size_t len;
	char *text = slurp("linux-2.6.18", "proc/stat", &len);

	(void)state;
	/* 8 columns: no guest, no guest_nice; no softirq line */
	assert_int_equal(cpu_stat_parse(text, len, &st), 0);
	assert_int_equal(st.n_cores, 4);
	/* cpu0 1234567 2345 456789 98765432 123456 7890 12345 0 */
	assert_int_equal(st.cores[0].jiffies[CPU_USER], 1234567);
	assert_int_equal(st.cores[0].jiffies[CPU_IRQ], 7890);
	assert_int_equal(st.cores[0].jiffies[CPU_SOFTIRQ], 12345);
	assert_int_equal(st.cores[0].jiffies[CPU_STEAL], 0);
	assert_int_equal(st.cores[0].jiffies[CPU_GUEST], 0);
	assert_int_equal(st.cores[3].jiffies[CPU_IDLE], 99365432);
	assert_int_equal(st.total.jiffies[CPU_USER], 4338268);
	assert_int_equal(st.btime, 1199145600);
	assert_int_equal(st.ctxt, 876543210);
	/* 2.6.18 prints "intr %llu" then " %u" for each of 224 IRQs */
	assert_int_equal(st.intr, 401234567 + 3456 + 1 + 45678 + 234567 + 12345678 + 2345678);
	cpu_stat_free(&st);
	free(text);
	check_stat_fixture("linux-2.6.18");
}

/* 2.4 had 4 columns, 2.6.0 7, 2.6.11 8, 2.6.24 9, 2.6.33 10. */
static void test_parse_layouts(void **state)
{
	struct cpu_stat st = {0};

	(void)state;
	assert_int_equal(parse_str("cpu  10 20 30 40\ncpu0 1 2 3 4\npage 5741 1808\n"
				   "swap 1 0\ndisk_io: (2,0):(31,30,5764,1,2)\n",
				   &st),
			 0);
	assert_int_equal(st.total.jiffies[CPU_IDLE], 40);
	assert_int_equal(st.total.jiffies[CPU_IOWAIT], 0);
	assert_int_equal(st.cores[0].jiffies[CPU_SYSTEM], 3);
	assert_int_equal(st.has, 0);

	assert_int_equal(parse_str("cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n", &st), 0);
	assert_int_equal(st.total.jiffies[CPU_SOFTIRQ], 7);
	assert_int_equal(st.total.jiffies[CPU_STEAL], 0);

	assert_int_equal(parse_str("cpu  1 2 3 4 5 6 7 8 9\n", &st), 0);
	assert_int_equal(st.n_cores, 0);
	assert_int_equal(st.total.jiffies[CPU_GUEST], 9);
	assert_int_equal(st.total.jiffies[CPU_GUEST_NICE], 0);

	assert_int_equal(parse_str("cpu  1 2 3 4 5 6 7 8 9 10\n", &st), 0);
	assert_int_equal(st.total.jiffies[CPU_GUEST_NICE], 10);

	/* missing trailing columns are 0 whatever their count */
	assert_int_equal(parse_str("cpu  1 2 3 4 5\n", &st), 0);
	assert_int_equal(st.total.jiffies[CPU_IOWAIT], 5);
	assert_int_equal(parse_str("cpu  1 2 3 4 5 6\n", &st), 0);
	assert_int_equal(st.total.jiffies[CPU_IRQ], 6);

	/* cpu numbers with gaps (offline CPUs) are fine */
	assert_int_equal(
	    parse_str("cpu  4 0 0 4\ncpu0 1 0 0 1\ncpu2 1 0 0 1\ncpu63 2 0 0 2\n", &st), 0);
	assert_int_equal(st.n_cores, 3);
	assert_int_equal(st.cores[2].id, 63);
	assert_int_equal(st.cores[2].jiffies[CPU_USER], 2);

	/* intr: only the sum is read, whatever follows it */
	assert_int_equal(parse_str("cpu  1 2 3 4\nintr 5\n", &st), 0);
	assert_int_equal(st.intr, 5);
	assert_int_equal(st.has, CPU_HAS_INTR);
	assert_int_equal(parse_str("cpu  1 2 3 4\nintr 7 0 3 4 not-a-number\n", &st), 0);
	assert_int_equal(st.intr, 7);
	/* and it is forgotten by the next parse */
	assert_int_equal(parse_str("cpu  1 2 3 4\n", &st), 0);
	assert_int_equal(st.has, 0);
	assert_int_equal(st.intr, 0);
	cpu_stat_free(&st);
}

/* A 1024-CPU host: /proc/stat with an intr line of 100,000 IRQ counts
 * (about 200 KB on one line). */
static char *big_stat(size_t ncpu, size_t nirq, size_t *ret_len)
{
	size_t cap = 64 + ncpu * 96 + nirq * 8 + 256, len = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "cpu  %zu 0 %zu %zu 0 0 0 0 0 0\n",
				ncpu * 10, ncpu * 5, ncpu * 85);
	for (size_t i = 0; i < ncpu; i++)
		len += (size_t)snprintf(text + len, cap - len, "cpu%zu 10 0 5 85 0 0 0 0 0 0\n", i);
	len += (size_t)snprintf(text + len, cap - len, "intr %zu", nirq * 3);
	for (size_t i = 0; i < nirq; i++)
		len += (size_t)snprintf(text + len, cap - len, " 3");
	len += (size_t)snprintf(text + len, cap - len,
				"\nctxt 1\nbtime 2\nprocesses 3\nprocs_running 4\n"
				"procs_blocked 5\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n");
	assert_true(len < cap);
	*ret_len = len;
	return text;
}

static void test_parse_big_machine(void **state)
{
	struct cpu_stat st = {0};
	struct timespec a, b;
	size_t len;
	char *text = big_stat(1024, 100000, &len);
	double us;

	(void)state;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (int i = 0; i < 100; i++)
		assert_int_equal(cpu_stat_parse(text, len, &st), 0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / 100;
	print_message("cpu_stat_parse of %zu bytes (1024 CPUs, 100000 IRQs): %.1f us\n", len, us);
	assert_int_equal(st.n_cores, 1024);
	assert_int_equal(st.intr, 300000);
	assert_int_equal(st.procs_blocked, 5);
	cpu_stat_free(&st);
	free(text);
}

static void test_parse_malformed(void **state)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
	    {"", -ENODATA},
	    {"ctxt 5\nbtime 7\n", -ENODATA},
	    {"cpu0 1 2 3 4\n", -ENODATA},
	    {"cpu  1 2 3 4", -EINVAL},           /* truncated: no '\n' */
	    {"cpu  1 2 3 4\ncpu0 1 2", -EINVAL}, /* truncated line */
	    {"cpu  1 2 3\n", -EINVAL},           /* too few columns */
	    {"cpu\n", -EINVAL},
	    {"cpu  1 2 3 4 5 6 7 8 9 10 11\n", -EINVAL}, /* unknown column */
	    {"cpu  1 2 x 4\n", -EINVAL},
	    {"cpu  1 2 -3 4\n", -EINVAL},
	    {"cpu  1 2 3.0 4\n", -EINVAL},
	    {"cpu\t1 2 3 4\n", -EINVAL},
	    {"cpu  18446744073709551616 2 3 4\n", -ERANGE},
	    {"cpu  1 2 3 4\ncpu  1 2 3 4\n", -EINVAL},
	    {"cpu  1 2 3 4\ncpu1 1 2 3 4\ncpu0 1 2 3 4\n", -EINVAL},
	    {"cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n", -EINVAL},
	    {"cpu  1 2 3 4\ncpux 1 2 3 4\n", -EINVAL},
	    {"cpu  1 2 3 4\ncpu-1 1 2 3 4\n", -EINVAL},
	    {"cpu  1 2 3 4\ncpu0x 1 2 3 4\n", -EINVAL},
	    {"cpu  1 2 3 4\ncpu99999999999 1 2 3 4\n", -ERANGE},
	    {"cpu  1 2 3 4\ncpu0 1 2 3\n", -EINVAL},
	    {"cpu  1 2 3 4\nctxt\n", -EINVAL},
	    {"cpu  1 2 3 4\nctxt 1 2\n", -EINVAL},
	    {"cpu  1 2 3 4\nctxt 1\nctxt 2\n", -EINVAL},
	    {"cpu  1 2 3 4\nbtime x\n", -EINVAL},
	    {"cpu  1 2 3 4\nprocesses 99999999999999999999\n", -ERANGE},
	    {"cpu  1 2 3 4\nintr\n", -EINVAL},
	    {"cpu  1 2 3 4\nintr \n", -EINVAL},
	    {"cpu  1 2 3 4\nintr x 1 2\n", -EINVAL},
	    {"cpu  1 2 3 4\nintr -1 1 2\n", -EINVAL},
	    {"cpu  1 2 3 4\nintr 18446744073709551616 1\n", -ERANGE},
	    {"cpu  1 2 3 4\nintr 3 1 2\nintr 3 1 2\n", -EINVAL},
	    {"cpu  1 2 3 4\nintr 3 1 2", -EINVAL}, /* truncated in the long line */
	    {"cpu  1 2 3 4\n\n", -EINVAL},
	    {"cpu  1 2 3 4\n   \n", -EINVAL},
	};
	struct cpu_stat st = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse_str(cases[i].text, &st);

		if (r != cases[i].err)
			print_error("case %zu: \"%s\" gave %d\n", i, cases[i].text, r);
		assert_int_equal(r, cases[i].err);
		assert_int_equal(st.n_cores, 0);
	}
	/* an embedded NUL is garbage, not an end */
	assert_int_equal(cpu_stat_parse("cpu  1 2\0 3 4\n", 14, &st), -EINVAL);
	/* the struct is reusable after errors */
	assert_int_equal(parse_str("cpu  2 0 0 2\ncpu0 1 0 0 1\ncpu1 1 0 0 1\n", &st), 0);
	assert_int_equal(st.n_cores, 2);
	assert_int_equal(st.cores[1].jiffies[CPU_IDLE], 1);
	cpu_stat_free(&st);
	cpu_stat_free(&st);
	cpu_stat_free(NULL);
}

/* Every prefix of a real file, in a buffer of exactly that size (so that
 * ASan catches any read past it): whole lines parse, cut lines fail. */
static void check_prefixes(const char *machine)
{
	struct cpu_stat st = {0};
	size_t len, first_line;
	char *text = slurp(machine, "proc/stat", &len);

	first_line = (size_t)(strchr(text, '\n') - text) + 1;
	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n ? n : 1);
		int r;

		assert_non_null(copy);
		memcpy(copy, text, n);
		r = cpu_stat_parse(copy, n, &st);
		if (n >= first_line && text[n - 1] == '\n')
			assert_int_equal(r, 0);
		else
			assert_true(r == -EINVAL || r == -ENODATA);
		free(copy);
	}
	/* every byte replaced by garbage: an error or a parse, never a crash */
	for (size_t i = 0; i < len; i++) {
		char *copy = malloc(len);

		assert_non_null(copy);
		memcpy(copy, text, len);
		copy[i] = copy[i] == 'x' ? '\n' : 'x';
		assert_true(cpu_stat_parse(copy, len, &st) <= 0);
		free(copy);
	}
	cpu_stat_free(&st);
	free(text);
}

static void test_parse_truncated(void **state)
{
	(void)state;
	check_prefixes("vm2");
	check_prefixes("host16");
	check_prefixes("linux-2.6.18");
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

static void test_percent(void **state)
{
	struct cpu_times zero = {0}, a, b;
	struct cpu_percent pc;

	(void)state;
	a = times(50, 0, 25, 20, 5, 0);
	assert_int_equal(cpu_times_percent(&zero, &a, &pc), 0);
	assert_int_equal(pc.user, 5000);
	assert_int_equal(pc.system, 2500);
	assert_int_equal(pc.idle, 2000);
	assert_int_equal(pc.iowait, 500);
	assert_int_equal(pc.busy, 7500);
	assert_int_equal(pc.nice, 0);

	/* guest (40) is inside user (60): 60% user, not 100/140 */
	a = times(60, 0, 0, 40, 0, 40);
	assert_int_equal(cpu_times_percent(&zero, &a, &pc), 0);
	assert_int_equal(pc.user, 6000);
	assert_int_equal(pc.idle, 4000);
	assert_int_equal(pc.busy, 6000);

	/* rounding half up to hundredths: 1/3, 2/3, 1/202, 1/8 */
	a = times(1, 2, 0, 0, 0, 0);
	assert_int_equal(cpu_times_percent(&zero, &a, &pc), 0);
	assert_int_equal(pc.user, 3333);
	assert_int_equal(pc.nice, 6667);
	assert_int_equal(pc.busy, 10000);
	a = times(1, 0, 1, 200, 0, 0);
	assert_int_equal(cpu_times_percent(&zero, &a, &pc), 0);
	assert_int_equal(pc.user, 50);
	assert_int_equal(pc.idle, 9901);
	assert_int_equal(pc.busy, 99);
	a = times(1, 0, 0, 7, 0, 0);
	assert_int_equal(cpu_times_percent(&zero, &a, &pc), 0);
	assert_int_equal(pc.user, 1250);

	/* huge deltas are scaled, not overflowed */
	a = times(UINT64_MAX / 2, 0, 0, UINT64_MAX / 2, 0, 0);
	assert_int_equal(cpu_times_percent(&zero, &a, &pc), 0);
	assert_int_equal(pc.user, 5000);
	assert_int_equal(pc.idle, 5000);
	a = times(UINT64_MAX, 0, 0, 1, 0, 0);
	assert_int_equal(cpu_times_percent(&zero, &a, &pc), -ERANGE);

	/* iowait may decrease (proc(5)): it counts as no iowait time */
	a = times(100, 0, 100, 100, 10, 0);
	b = times(150, 0, 150, 150, 9, 0);
	assert_int_equal(cpu_times_percent(&a, &b, &pc), 0);
	assert_int_equal(pc.iowait, 0);
	assert_int_equal(pc.user, 3333);
	assert_int_equal(pc.idle, 3333);
	/* other counters going backwards (a reset): no rate */
	assert_int_equal(cpu_times_percent(&b, &a, &pc), -ERANGE);
	b = times(90, 0, 150, 150, 10, 0);
	assert_int_equal(cpu_times_percent(&a, &b, &pc), -ERANGE);
	/* no time accounted: no rate */
	assert_int_equal(cpu_times_percent(&a, &a, &pc), -ENODATA);
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

static void test_payload_hotplug(void **state)
{
	const char *two = "cpu  20 0 20 160\ncpu0 10 0 10 80\ncpu1 10 0 10 80\n";
	const char *three = "cpu  50 0 40 310\ncpu0 20 0 20 160\ncpu1 30 0 20 150\n"
			    "cpu2 0 0 0 0\n";
	const char *gap = "cpu  80 0 70 450\ncpu0 30 0 30 240\ncpu2 0 0 0 0\n";
	cJSON *p;

	(void)state;
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

static void test_payload_backwards(void **state)
{
	const char *a = "cpu  20 0 20 160 4\ncpu0 10 0 10 80 2\ncpu1 10 0 10 80 2\n";
	const char *b = "cpu  40 0 40 330 5\ncpu0 20 0 20 160 3\ncpu1 20 0 20 170 1\n";
	const char *c = "cpu  30 0 40 330 3\ncpu0 20 0 20 170 3\ncpu1 10 0 20 180 1\n";
	cJSON *p;

	(void)state;
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
	int fd1 = open_dir(machine, "proc"), fd2 = open_dir(machine, "proc.2");
	int sys = open_sys(machine);
	struct collector_env env = {.proc_fd = fd1, .sys_fd = sys};
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = 5 * SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 6 * SEC};
	struct metrics m = {0};
	char reason[256] = "";
	void *st = NULL;
	cJSON *p = (cJSON *)&env;

	assert_int_equal(sysconf(_SC_CLK_TCK), 100); /* expected/cpu.prom assumes USER_HZ 100 */
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    0);
	assert_non_null(st);
	assert_string_equal(reason, "");
	/* nothing sampled yet: no families */
	assert_int_equal(cpu_collector.metrics(st, &m), 0);
	assert_int_equal(m.len, 0);
	/* the first tick has no rate */
	assert_int_equal(cpu_collector.sample(st, &env, &t1, &p), 0);
	assert_null(p);
	env.proc_fd = fd2;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_non_null(p);
	assert_json_file(p, machine, "cpu.json");
	cJSON_Delete(p);
	metrics_reset(&m);
	assert_int_equal(cpu_collector.metrics(st, &m), 0);
	assert_text_file(m.buf, machine, "cpu.prom");

	/* the same file again: no time accounted, nothing to send */
	t2.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_null(p);
	/* back to the older file: counters went backwards, one delta skipped */
	env.proc_fd = fd1;
	t2.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_null(p);
	/* and forward again: the same rates as before */
	env.proc_fd = fd2;
	t2.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_non_null(p);
	assert_json_file(p, machine, "cpu.json");
	cJSON_Delete(p);
	/* the counters never went backwards in the metrics: same text */
	metrics_reset(&m);
	assert_int_equal(cpu_collector.metrics(st, &m), 0);
	assert_text_file(m.buf, machine, "cpu.prom");

	metrics_free(&m);
	cpu_collector.fini(st);
	close(fd1);
	close(fd2);
	if (sys >= 0)
		close(sys);
}

static void test_collector_vm2(void **state)
{
	(void)state;
	run_two_ticks("vm2");
}

static void test_collector_host16(void **state)
{
	cJSON *p = NULL, *core3 = NULL, *c;
	struct cpu_stat a = {0}, b = {0};
	size_t la, lb;
	char *ta = slurp("host16", "proc/stat", &la), *tb = slurp("host16", "proc.2/stat", &lb);

	(void)state;
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
		char reason[256];
		void *st = NULL;

		assert_true(env.sys_fd >= 0);
		assert_int_equal(cpu_collector.init(&env, fixture_settings(&cpu_collector), &st,
						    reason, sizeof(reason)),
				 0);
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

static void test_collector_linux_2_6_18(void **state)
{
	(void)state;
	run_two_ticks("linux-2.6.18");
}

/* --- rates, frequencies and what /metrics shows --- */

static void test_payload_rates(void **state)
{
	const char *a = "cpu  10 0 10 80\ncpu0 10 0 10 80\nintr 100 60 40\nctxt 1000\n"
			"processes 50\nprocs_running 3\nprocs_blocked 1\n";
	const char *b = "cpu  20 0 20 160\ncpu0 20 0 20 160\nintr 250 160 90\nctxt 1500\n"
			"processes 53\nprocs_running 2\nprocs_blocked 0\n";
	struct cpu_stat prev = {0}, cur = {0};
	cJSON *p, *core;

	(void)state;
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

static void test_freq_parse(void **state)
{
	static const struct {
		const char *text;
		int err;
	} bad[] = {
	    {"", -EINVAL},
	    {"\n", -EINVAL},
	    {"2400000", -EINVAL},
	    {"2400000 \n", -EINVAL},
	    {" 2400000\n", -EINVAL},
	    {"24 00\n", -EINVAL},
	    {"-1\n", -EINVAL},
	    {"<unknown>\n", -EINVAL},
	    {"2400000\n\n", -EINVAL},
	    {"1.5\n", -EINVAL},
	    {"18446744073709551616\n", -ERANGE},
	};
	uint64_t khz = 7;

	(void)state;
	assert_int_equal(cpu_freq_parse("2400000\n", 8, &khz), 0);
	assert_int_equal(khz, 2400000);
	assert_int_equal(cpu_freq_parse("0\n", 2, &khz), 0);
	assert_int_equal(khz, 0);
	khz = 7;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = cpu_freq_parse(bad[i].text, strlen(bad[i].text), &khz);

		if (r != bad[i].err)
			print_error("case %zu: \"%s\" gave %d\n", i, bad[i].text, r);
		assert_int_equal(r, bad[i].err);
		assert_int_equal(khz, 7);
	}
}

static struct cpu_times core_times(unsigned id, uint64_t user, uint64_t idle, uint64_t iowait)
{
	struct cpu_times t = {0};

	t.id = id;
	t.jiffies[CPU_USER] = user;
	t.jiffies[CPU_IDLE] = idle;
	t.jiffies[CPU_IOWAIT] = iowait;
	return t;
}

static void set_cores(struct cpu_stat *st, const struct cpu_times *cores, size_t n)
{
	st->cores = realloc(st->cores, (n ? n : 1) * sizeof(*cores));
	assert_non_null(st->cores);
	memcpy(st->cores, cores, n * sizeof(*cores));
	st->n_cores = st->cap_cores = n;
}

static void test_monotonic(void **state)
{
	struct cpu_stat none = {0}, a = {0}, b = {0}, out = {0}, out2 = {0};

	(void)state;
	set_cores(&a,
		  (const struct cpu_times[]){core_times(0, 100, 1000, 50),
					     core_times(1, 100, 1000, 50),
					     core_times(2, 100, 1000, 50)},
		  3);
	a.has = CPU_HAS_CTXT;
	a.ctxt = 77;
	/* the first view is the reading as it is */
	assert_int_equal(cpu_stat_monotonic(&none, &a, 300, &out), 0);
	assert_int_equal(out.n_cores, 3);
	assert_int_equal(out.cores[1].jiffies[CPU_IOWAIT], 50);
	assert_int_equal(out.has, CPU_HAS_CTXT);
	assert_int_equal(out.ctxt, 77);

	/* cpu0: iowait fell by 2 (proc(5) allows it): kept at 50, the rest
	 * moves on; cpu1 went offline; cpu2: idle fell by 299 jiffies, kept;
	 * cpu3 is new */
	set_cores(&b,
		  (const struct cpu_times[]){core_times(0, 110, 1100, 48),
					     core_times(2, 120, 701, 60), core_times(3, 5, 5, 5)},
		  3);
	b.has = 0;
	assert_int_equal(cpu_stat_monotonic(&out, &b, 300, &out2), 0);
	assert_int_equal(out2.n_cores, 3);
	assert_int_equal(out2.has, 0);
	assert_int_equal(out2.cores[0].id, 0);
	assert_int_equal(out2.cores[0].jiffies[CPU_USER], 110);
	assert_int_equal(out2.cores[0].jiffies[CPU_IDLE], 1100);
	assert_int_equal(out2.cores[0].jiffies[CPU_IOWAIT], 50);
	assert_int_equal(out2.cores[1].id, 2);
	assert_int_equal(out2.cores[1].jiffies[CPU_IDLE], 1000);
	assert_int_equal(out2.cores[1].jiffies[CPU_USER], 120);
	assert_int_equal(out2.cores[2].id, 3);
	assert_int_equal(out2.cores[2].jiffies[CPU_USER], 5);

	/* cpu2's idle falls 300 jiffies (3 s) below what was shown: it
	 * started over, its new counters are taken as they are */
	set_cores(&b, (const struct cpu_times[]){core_times(2, 1, 700, 1)}, 1);
	assert_int_equal(cpu_stat_monotonic(&out2, &b, 300, &out), 0);
	assert_int_equal(out.n_cores, 1);
	assert_int_equal(out.cores[0].jiffies[CPU_IDLE], 700);
	assert_int_equal(out.cores[0].jiffies[CPU_USER], 1);
	cpu_stat_free(&a);
	cpu_stat_free(&b);
	cpu_stat_free(&out);
	cpu_stat_free(&out2);
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

static void test_collector_cpufreq(void **state)
{
	char dir[] = "/tmp/sysfeed-cpufreq-XXXXXX";
	struct collector_env env = {0};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	const char *stat[] = {"cpu  20 0 0 180\ncpu0 10 0 0 90\ncpu1 10 0 0 90\n",
			      "cpu  40 0 0 360\ncpu0 20 0 0 180\ncpu1 20 0 0 180\n"};
	struct metrics m = {0};
	char reason[256];
	size_t fds_before;
	void *st = NULL;
	cJSON *p = NULL;
	bool null;
	int root;

	(void)state;
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
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    0);
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
	put_at(env.proc_fd, "stat", stat[0]);
	tick.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	put_at(env.proc_fd, "stat", stat[1]);
	tick.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_true(core_mhz(p, 0, &null) == 1200.5);
	cJSON_Delete(p);
	assert_int_equal(open_fds(), fds_before + 1);

	/* an unreadable value is null for that tick, not an error */
	put_freq(env.sys_fd, 0, "<unknown>\n");
	put_freq(env.sys_fd, 1, "3000000\n");
	put_at(env.proc_fd, "stat", stat[0]);
	tick.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	put_at(env.proc_fd, "stat", stat[1]);
	tick.mono_ns += SEC;
	assert_int_equal(cpu_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
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
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    0);
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
static void test_metrics_promtool(void **state)
{
	static const char *const machines[] = {"vm2", "host16", "linux-2.6.18"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char rel[64], *text;

		snprintf(rel, sizeof(rel), "expected/cpu.prom");
		text = slurp(machines[i], rel, NULL);
		if (!prom_check_promtool(text)) {
			free(text);
			skip();
		}
		free(text);
	}
}

/* CPU time of one tick on this machine's /proc and /sys. */
static void test_collector_cost(void **state)
{
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int sys = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = proc, .sys_fd = sys};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	struct metrics m = {0};
	struct timespec a, b;
	char reason[256];
	void *st = NULL;
	cJSON *p = NULL;
	double us;

	(void)state;
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    0);
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

static void test_collector_errors(void **state)
{
	struct scratch s;
	struct collector_env env = {.sys_fd = -1};
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 2 * SEC};
	char reason[256];
	void *st = NULL;
	cJSON *p = NULL;

	(void)state;
	scratch_make(&s);
	env.proc_fd = s.fd;

	/* missing file: the topic is off, with a reason */
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    -ENOENT);
	assert_null(st);
	assert_string_equal(reason, "/proc/stat: No such file or directory");

	/* a file of another shape: off too */
	scratch_write(&s, "stat", "cpu  1 2\n");
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    -EINVAL);
	assert_null(st);
	assert_string_equal(reason, "/proc/stat: unexpected contents (Invalid argument)");

	/* a bad tick in the middle keeps the last good reading */
	scratch_write(&s, "stat", "cpu  10 0 10 80\ncpu0 10 0 10 80\n");
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    0);
	assert_int_equal(cpu_collector.sample(st, &env, &t1, &p), 0);
	assert_null(p);
	scratch_write(&s, "stat", "cpu  15 0 10 8");
	p = (cJSON *)&env;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), -EINVAL);
	assert_null(p);
	unlinkat(s.fd, "stat", 0);
	p = (cJSON *)&env;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), -ENOENT);
	assert_null(p);
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
static void test_collector_live(void **state)
{
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 2 * SEC};
	struct timespec nap = {.tv_nsec = 60 * 1000 * 1000};
	char reason[256];
	void *st = NULL;
	cJSON *p = NULL;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(
	    cpu_collector.init(&env, fixture_settings(&cpu_collector), &st, reason, sizeof(reason)),
	    0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_vm2),
	    cmocka_unit_test(test_parse_host16),
	    cmocka_unit_test(test_parse_linux_2_6_18),
	    cmocka_unit_test(test_parse_layouts),
	    cmocka_unit_test(test_parse_malformed),
	    cmocka_unit_test(test_parse_truncated),
	    cmocka_unit_test(test_parse_big_machine),
	    cmocka_unit_test(test_percent),
	    cmocka_unit_test(test_payload_hotplug),
	    cmocka_unit_test(test_payload_backwards),
	    cmocka_unit_test(test_collector_vm2),
	    cmocka_unit_test(test_collector_host16),
	    cmocka_unit_test(test_collector_linux_2_6_18),
	    cmocka_unit_test(test_payload_rates),
	    cmocka_unit_test(test_freq_parse),
	    cmocka_unit_test(test_monotonic),
	    cmocka_unit_test(test_collector_cpufreq),
	    cmocka_unit_test(test_metrics_promtool),
	    cmocka_unit_test(test_collector_errors),
	    cmocka_unit_test(test_collector_live),
	    cmocka_unit_test(test_collector_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
