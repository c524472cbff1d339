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
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "procfs.h"

#define T1  INT64_C(1700000000000)
#define T2  INT64_C(1700000001000)
#define SEC UINT64_C(1000000000)

static const char *fixtures(void)
{
	const char *dir = getenv("SYSFEED_FIXTURES");

	return dir && *dir ? dir : "tests/fixtures";
}

static int open_dir(const char *machine, const char *sub)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", fixtures(), machine, sub);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open %s: %s (set SYSFEED_FIXTURES)", path, strerror(errno));
	return fd;
}

/* Reads <fixtures>/<machine>/<rel> whole, NUL-terminated. */
static char *slurp(const char *machine, const char *rel, size_t *ret_len)
{
	struct procfs_buf buf = {0};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s", fixtures(), machine, rel);
	if (procfs_read(AT_FDCWD, path, &buf, 16 << 20) < 0)
		fail_msg("cannot read %s", path);
	if (ret_len)
		*ret_len = buf.len;
	return buf.data;
}

/* Compares a payload with a golden JSON file, both printed by cJSON so that
 * number formatting and key order are compared exactly. */
static void assert_json_file(const cJSON *actual, const char *machine, const char *name)
{
	char rel[128], *text, *want, *got;
	cJSON *expected;

	snprintf(rel, sizeof(rel), "expected/%s", name);
	text = slurp(machine, rel, NULL);
	expected = cJSON_Parse(text);
	assert_non_null(expected);
	want = cJSON_PrintUnformatted(expected);
	got = cJSON_PrintUnformatted(actual);
	if (strcmp(want, got) != 0)
		print_error("%s/%s\nexpected: %s\nactual:   %s\n", machine, rel, want, got);
	assert_string_equal(got, want);
	free(text);
	free(want);
	free(got);
	cJSON_Delete(expected);
}

static int parse_str(const char *text, struct cpu_stat *st)
{
	return cpu_stat_parse(text, strlen(text), st);
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_non_null(item);
	assert_true(cJSON_IsNumber(item));
	return item->valuedouble;
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
	                             CPU_HAS_PROCS_RUNNING | CPU_HAS_PROCS_BLOCKED);
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
	assert_int_equal(st.procs_running, 18);
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
	cpu_stat_free(&st);
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
	assert_int_equal(cpu_build_payload(&prev, &cur, T2, &p), 0);
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

static void run_two_ticks(const char *machine)
{
	int fd1 = open_dir(machine, "proc"), fd2 = open_dir(machine, "proc.2");
	struct collector_env env = {.proc_fd = fd1, .sys_fd = -1};
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = 5 * SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 6 * SEC};
	char reason[256] = "";
	void *st = NULL;
	cJSON *p = (cJSON *)&env;

	assert_int_equal(cpu_collector.init(&env, &st, reason, sizeof(reason)), 0);
	assert_non_null(st);
	assert_string_equal(reason, "");
	/* the first tick has no rate */
	assert_int_equal(cpu_collector.sample(st, &env, &t1, &p), 0);
	assert_null(p);
	env.proc_fd = fd2;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_non_null(p);
	assert_json_file(p, machine, "cpu.json");
	cJSON_Delete(p);

	/* the same file again: no time accounted, nothing to send */
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_null(p);
	/* back to the older file: counters went backwards, one delta skipped */
	env.proc_fd = fd1;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_null(p);
	/* and forward again: the same rates as before */
	env.proc_fd = fd2;
	assert_int_equal(cpu_collector.sample(st, &env, &t2, &p), 0);
	assert_non_null(p);
	assert_json_file(p, machine, "cpu.json");
	cJSON_Delete(p);

	cpu_collector.fini(st);
	close(fd1);
	close(fd2);
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
	assert_int_equal(cpu_build_payload(&a, &b, T2, &p), 0);
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
	cJSON_Delete(p);
	cpu_stat_free(&a);
	cpu_stat_free(&b);
	free(ta);
	free(tb);
}

static void test_collector_linux_2_6_18(void **state)
{
	(void)state;
	run_two_ticks("linux-2.6.18");
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
	assert_int_equal(cpu_collector.init(&env, &st, reason, sizeof(reason)), -ENOENT);
	assert_null(st);
	assert_string_equal(reason, "/proc/stat: No such file or directory");

	/* a file of another shape: off too */
	scratch_write(&s, "stat", "cpu  1 2\n");
	assert_int_equal(cpu_collector.init(&env, &st, reason, sizeof(reason)), -EINVAL);
	assert_null(st);
	assert_string_equal(reason, "/proc/stat: unexpected contents (Invalid argument)");

	/* a bad tick in the middle keeps the last good reading */
	scratch_write(&s, "stat", "cpu  10 0 10 80\ncpu0 10 0 10 80\n");
	assert_int_equal(cpu_collector.init(&env, &st, reason, sizeof(reason)), 0);
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
	assert_int_equal(cpu_collector.init(&env, &st, reason, sizeof(reason)), 0);
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
	    cmocka_unit_test(test_percent),
	    cmocka_unit_test(test_payload_hotplug),
	    cmocka_unit_test(test_payload_backwards),
	    cmocka_unit_test(test_collector_vm2),
	    cmocka_unit_test(test_collector_host16),
	    cmocka_unit_test(test_collector_linux_2_6_18),
	    cmocka_unit_test(test_collector_errors),
	    cmocka_unit_test(test_collector_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
