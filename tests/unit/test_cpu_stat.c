/* Unit tests of collectors/cpu_stat.c: the /proc/stat parser against
 * captured and constructed fixture trees (every layout since 2.4, a big
 * machine, malformed and truncated files), the cpufreq value parser, and the
 * monotonic view /metrics shows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_stat.h"
#include "fixture.h"

static int parse_str(const char *text, struct cpu_stat *st)
{
	return cpu_stat_parse(text, strlen(text), st);
}

static int parse(const char *text, size_t len, void *ret)
{
	return cpu_stat_parse(text, len, ret);
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
	cJSON *j;

	parse_file(machine, "proc/stat", parse, &st);
	j = stat_json(&st);
	assert_json_file(j, machine, "stat.json");
	cJSON_Delete(j);
	cpu_stat_free(&st);
}

/* The lines of /proc/stat besides cpu and cpuN that the fixtures have. */
enum {
	HAS_ALL = CPU_HAS_CTXT | CPU_HAS_BTIME | CPU_HAS_PROCESSES | CPU_HAS_PROCS_RUNNING |
		  CPU_HAS_PROCS_BLOCKED | CPU_HAS_INTR,
};

/* What a parse holds but the jiffies. */
static const struct want_field stat_fields[] = {
    WANT_FIELD(struct cpu_stat, n_cores),
    WANT_FIELD(struct cpu_stat, has),
    WANT_FIELD(struct cpu_stat, ctxt),
    WANT_FIELD(struct cpu_stat, intr),
    WANT_FIELD(struct cpu_stat, btime),
    WANT_FIELD(struct cpu_stat, processes),
    WANT_FIELD(struct cpu_stat, procs_running),
    WANT_FIELD(struct cpu_stat, procs_blocked),
    {NULL},
};

TEST(test_parse_vm2)
{
	struct cpu_stat st = {0};

	parse_file("vm2", "proc/stat", parse, &st);
	/* cpu  1219 0 1131 47279 231 0 18 6 0 0 */
	assert_counts("st.total.jiffies", st.total.jiffies,
		      (const struct want_count[]){{CPU_USER, 1219},
						  {CPU_SYSTEM, 1131},
						  {CPU_IDLE, 47279},
						  {CPU_IOWAIT, 231},
						  {CPU_SOFTIRQ, 18},
						  {CPU_STEAL, 6},
						  {-1, 0}});
	/* intr 101545 0 0 0 ... (the sum, then 1,000-odd per-IRQ counts) */
	assert_fields("vm2", &st,
		      &(struct cpu_stat){.n_cores = 2,
					 .has = HAS_ALL,
					 .ctxt = 229861,
					 .intr = 101545,
					 .btime = 1795480737,
					 .processes = 2850,
					 .procs_running = 1,
					 .procs_blocked = 0},
		      stat_fields);
	/* cpu1 904 0 715 23067 228 0 14 5 0 0 */
	assert_int_equal(st.cores[1].id, 1);
	assert_counts("st.cores[1].jiffies", st.cores[1].jiffies,
		      (const struct want_count[]){
			  {CPU_USER, 904}, {CPU_IDLE, 23067}, {CPU_IOWAIT, 228}, {-1, 0}});
	assert_false(st.cores[0].has_freq);
	cpu_stat_free(&st);
	check_stat_fixture("vm2");
}

TEST(test_parse_host16)
{
	struct cpu_stat st = {0};

	parse_file("host16", "proc/stat", parse, &st);
	/* intr: the sum of 120 per-IRQ counts */
	assert_fields("host16", &st,
		      &(struct cpu_stat){.n_cores = 16,
					 .has = HAS_ALL,
					 .ctxt = UINT64_C(98765432109),
					 .intr = 44 + 9 + 1 + 1234567 + 2345678 + 987654,
					 .btime = 1692345678,
					 .processes = 54321098,
					 .procs_running = 18,
					 .procs_blocked = 2},
		      stat_fields);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(st.cores[i].id, i);
	/* cpu3 41234567 12345 9876543 282345678 456789 0 234567 0 23456789 1234 */
	assert_counts("st.cores[3].jiffies", st.cores[3].jiffies,
		      (const struct want_count[]){{CPU_USER, 41234567},
						  {CPU_NICE, 12345},
						  {CPU_IDLE, 282345678},
						  {CPU_GUEST, 23456789},
						  {CPU_GUEST_NICE, 1234},
						  {-1, 0}});
	/* cpu15 63500060 12720 10851855 270439235 475045 164955 235135 0 35000045 1255 */
	assert_int_equal(st.cores[15].jiffies[CPU_USER], 63500060);
	assert_int_equal(st.cores[15].jiffies[CPU_GUEST_NICE], 1255);
	assert_int_equal(st.total.jiffies[CPU_USER], 810135035);
	assert_int_equal(st.total.jiffies[CPU_GUEST], 440457140);
	cpu_stat_free(&st);
	check_stat_fixture("host16");
}

TEST(test_parse_linux_2_6_18)
{
	struct cpu_stat st = {0};

	/* 8 columns: no guest, no guest_nice; no softirq line */
	parse_file("linux-2.6.18", "proc/stat", parse, &st);
	/* 2.6.18 prints "intr %llu" then " %u" for each of 224 IRQs */
	assert_fields(
	    "linux-2.6.18", &st,
	    &(struct cpu_stat){.n_cores = 4,
			       .has = HAS_ALL,
			       .ctxt = 876543210,
			       .intr = 401234567 + 3456 + 1 + 45678 + 234567 + 12345678 + 2345678,
			       .btime = 1199145600,
			       .processes = 1234567,
			       .procs_running = 2,
			       .procs_blocked = 0},
	    stat_fields);
	/* cpu0 1234567 2345 456789 98765432 123456 7890 12345 0 */
	assert_counts("st.cores[0].jiffies", st.cores[0].jiffies,
		      (const struct want_count[]){{CPU_USER, 1234567},
						  {CPU_IRQ, 7890},
						  {CPU_SOFTIRQ, 12345},
						  {CPU_STEAL, 0},
						  {CPU_GUEST, 0},
						  {-1, 0}});
	assert_int_equal(st.cores[3].jiffies[CPU_IDLE], 99365432);
	assert_int_equal(st.total.jiffies[CPU_USER], 4338268);
	cpu_stat_free(&st);
	check_stat_fixture("linux-2.6.18");
}

/* 2.4 had 4 columns, 2.6.0 7, 2.6.11 8, 2.6.24 9, 2.6.33 10. */
TEST(test_parse_layouts)
{
	struct cpu_stat st = {0};

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

TEST(test_parse_big_machine)
{
	struct cpu_stat st = {0};
	struct timespec a, b;
	size_t len;
	char *text = big_stat(1024, 100000, &len);
	double us;

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

TEST(test_parse_malformed)
{
	static const struct parse_case cases[] = {
	    {"", -ENODATA},
	    {"ctxt 5\nbtime 7\n", -ENODATA},
	    {"cpu0 1 2 3 4\n", -ENODATA},
	    {"cpu  1 2 3 4", -EINVAL},           /* truncated: no '\n' */
	    {"cpu  1 2 3 4\ncpu0 1 2", -EINVAL}, /* truncated line */
	    {"cpu  1 2 3\n", -EINVAL},           /* too few columns */
	    {"cpu\n", -EINVAL},
	    {"cpu  1 2 3 4 5 6 7 8 9 10 11\n", -EINVAL}, /* unknown column */
	    {"cpu  1 2 3 4 5 6 7 8 9 10 99999999999999999999\n", -EINVAL},
	    {"cpu  1 2 3 4 5 6 7 8 9 99999999999999999999\n", -ERANGE},
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

	parse_cases_empty(cases, sizeof(cases) / sizeof(cases[0]), parse, &st,
			  offsetof(struct cpu_stat, n_cores));
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

/* Whole lines from the first on parse, cut lines fail. */
static void cut_stat(int r, const char *text, size_t n, size_t len)
{
	size_t first_line = (size_t)(strchr(text, '\n') - text) + 1;

	if (n >= first_line && text[n - 1] == '\n')
		assert_int_equal(r, 0);
	else
		assert_true(r == -EINVAL || r == -ENODATA);
}

TEST(test_parse_truncated)
{
	struct cpu_stat st = {0};

	check_cuts_proc("proc/stat", parse, &st, cut_stat, 'x');
	cpu_stat_free(&st);
}

static int parse_freq(const char *text, size_t len, void *ret)
{
	return cpu_freq_parse(text, len, ret);
}

/* A failed parse leaves the value alone. */
static void khz_untouched(const void *ret)
{
	assert_int_equal(*(const uint64_t *)ret, 7);
}

TEST(test_freq_parse)
{
	static const struct parse_case bad[] = {
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

	assert_int_equal(cpu_freq_parse("2400000\n", 8, &khz), 0);
	assert_int_equal(khz, 2400000);
	assert_int_equal(cpu_freq_parse("0\n", 2, &khz), 0);
	assert_int_equal(khz, 0);
	khz = 7;
	parse_cases(bad, sizeof(bad) / sizeof(bad[0]), parse_freq, &khz, khz_untouched);
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

TEST(test_monotonic)
{
	struct cpu_stat none = {0}, a = {0}, b = {0}, out = {0}, out2 = {0};

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
	assert_counts("out2.cores[0].jiffies", out2.cores[0].jiffies,
		      (const struct want_count[]){
			  {CPU_USER, 110}, {CPU_IDLE, 1100}, {CPU_IOWAIT, 50}, {-1, 0}});
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
