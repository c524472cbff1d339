/* Unit tests of collectors/psi.c: the /proc/pressure parser against captured
 * and constructed fixture trees, malformed and truncated files, the payload
 * (stall rates, missing lines), and the collector over two ticks compared
 * with golden payloads (tests/fixtures/<m>/expected/psi{.1,}.json). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fixture.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"
#include "psi.h"

static const char *const res_names[PSI_NRES] = {"cpu", "memory", "io", "irq"};

static int parse_str(enum psi_resource res, const char *text, struct psi_file *f)
{
	return psi_file_parse(res, text, strlen(text), f);
}

/* A file of one resource, as the fixture and cut checks parse it. */
struct psi_parse {
	enum psi_resource res;
	struct psi_file f;
};

static int parse(const char *text, size_t len, void *ret)
{
	struct psi_parse *p = ret;

	return psi_file_parse(p->res, text, len, &p->f);
}

/* <machine>/proc/pressure/<res>, which must parse. */
static struct psi_file parse_fixture(const char *machine, enum psi_resource res)
{
	struct psi_parse p = {.res = res};
	char rel[64];

	snprintf(rel, sizeof(rel), "proc/pressure/%s", res_names[res]);
	parse_file(machine, rel, parse, &p);
	return p.f;
}

static const cJSON *path_get(const cJSON *o, const char *a, const char *b, const char *c)
{
	o = cJSON_GetObjectItemCaseSensitive(o, a);
	if (o && b)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	if (o && c)
		o = cJSON_GetObjectItemCaseSensitive(o, c);
	assert_non_null(o);
	return o;
}

static double num3(const cJSON *o, const char *a, const char *b, const char *c)
{
	const cJSON *item = path_get(o, a, b, c);

	assert_true(cJSON_IsNumber(item));
	return item->valuedouble;
}

static bool is_null3(const cJSON *o, const char *a, const char *b, const char *c)
{
	return cJSON_IsNull(path_get(o, a, b, c));
}

/* --- the parser --- */

/* A fixture machine's pressure file of res and the whole parse it must
 * give (the lines it has: has_some, has_full). */
struct psi_case {
	const char *machine;
	enum psi_resource res;
	struct psi_file want;
};

static const struct want_field line_fields[] = {
    WANT_FIELD(struct psi_line, avg10),
    WANT_FIELD(struct psi_line, avg60),
    WANT_FIELD(struct psi_line, avg300),
    WANT_FIELD(struct psi_line, total_us),
    {NULL},
};

static void check_cases(const struct psi_case *k, size_t n)
{
	for (; n > 0; k++, n--) {
		struct psi_file f = parse_fixture(k->machine, k->res);

		assert_int_equal(f.has_some, k->want.has_some);
		assert_int_equal(f.has_full, k->want.has_full);
		if (f.has_some)
			assert_fields(res_names[k->res], &f.some, &k->want.some, line_fields);
		if (f.has_full)
			assert_fields(res_names[k->res], &f.full, &k->want.full, line_fields);
	}
}

TEST(test_parse_vm2)
{
	static const struct psi_case cases[] = {
	    /* some avg10=19.71 avg60=4.65 avg300=2.02 total=14857065
	     * full avg10=0.00 avg60=0.00 avg300=0.00 total=0 */
	    {"vm2", PSI_CPU, {true, true, {1971, 465, 202, 14857065}, {0, 0, 0, 0}}},
	    /* full avg10=0.29 avg60=0.15 avg300=0.31 total=6382036 */
	    {"vm2", PSI_IO, {true, true, {276, 63, 46, 7129479}, {29, 15, 31, 6382036}}},
	    {"vm2", PSI_MEMORY, {true, true, {0, 0, 0, 0}, {0, 0, 0, 0}}},
	};

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(test_parse_host16)
{
	static const struct psi_case cases[] = {
	    {"host16", PSI_IRQ, {false, true, {0, 0, 0, 0}, {15, 12, 10, 3456789}}},
	    {"host16",
	     PSI_IO,
	     {true, true, {1234, 876, 543, 456789012}, {678, 432, 210, 234567890}}},
	};

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(test_parse_layouts)
{
	struct psi_file f;

	/* 4.20 - 5.12: cpu has no "full" line */
	assert_int_equal(parse_str(PSI_CPU, "some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n", &f),
			 0);
	assert_true(f.has_some);
	assert_false(f.has_full);
	assert_int_equal(f.some.avg300, 300);
	assert_int_equal(f.some.total_us, 4);
	/* either order; averages of 100% */
	assert_int_equal(
	    parse_str(PSI_MEMORY,
		      "full avg10=100.00 avg60=0.00 avg300=0.00 total=1\n"
		      "some avg10=100.00 avg60=99.99 avg300=0.01 total=18446744073709551615\n",
		      &f),
	    0);
	assert_int_equal(f.full.avg10, 10000);
	assert_int_equal(f.some.avg60, 9999);
	assert_int_equal(f.some.avg300, 1);
	assert_true(f.some.total_us == UINT64_MAX);
	/* one decimal or none is still a number */
	assert_int_equal(parse_str(PSI_IRQ, "full avg10=1.5 avg60=2 avg300=0.00 total=0\n", &f), 0);
	assert_int_equal(f.full.avg10, 150);
	assert_int_equal(f.full.avg60, 200);
	/* irq may print "some" too one day */
	assert_int_equal(parse_str(PSI_IRQ,
				   "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
				   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
				   &f),
			 0);
	/* extra spaces between fields are fine */
	assert_int_equal(
	    parse_str(PSI_CPU, "some  avg10=0.00 avg60=0.00  avg300=0.00 total=7 \n", &f), 0);
	assert_int_equal(f.some.total_us, 7);
}

TEST(test_parse_malformed)
{
	static const struct {
		enum psi_resource res;
		const char *text;
		int err;
	} cases[] = {
	    {PSI_CPU, "", -ENODATA},
	    {PSI_CPU, "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -ENODATA},
	    {PSI_MEMORY, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -ENODATA},
	    {PSI_IO, "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -ENODATA},
	    {PSI_IRQ, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -ENODATA},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0", -EINVAL}, /* no '\n' */
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.0", -EINVAL},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00\n", -EINVAL},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 x=1\n", -EINVAL},
	    {PSI_CPU, "some avg60=0.00 avg10=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=\n", -EINVAL},
	    {PSI_CPU, "some avg10= avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "some avg10 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "some avg10=0.001 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", -EINVAL},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n", -EINVAL},
	    {PSI_CPU, "some avg10=0,00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n",
	     -ERANGE},
	    {PSI_CPU, "some avg10=99999999999.00 avg60=0.00 avg300=0.00 total=0\n", -ERANGE},
	    {PSI_CPU, "Some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "half avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU, "some\tavg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	    {PSI_CPU,
	     "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	     "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	     -EINVAL},
	    {PSI_CPU, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\n", -EINVAL},
	    {PSI_CPU, "\n", -EINVAL},
	    {PSI_NRES, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EINVAL},
	};
	struct psi_file f = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse_str(cases[i].res, cases[i].text, &f);

		assert_case(i, cases[i].text, r, cases[i].err);
	}
	/* an embedded NUL is garbage, not an end */
	assert_int_equal(
	    psi_file_parse(PSI_CPU, "some avg10=0.00\0avg60=0.00 avg300=0.00 total=0\n", 48, &f),
	    -EINVAL);
}

/* Only whole files with their required lines parse: a cut line is an
 * error, a prefix of whole lines parses or lacks a line. */
static void cut_psi(int r, const char *text, size_t n, size_t len)
{
	if (n == len)
		assert_int_equal(r, 0);
	else if (n > 0 && text[n - 1] != '\n')
		assert_int_equal(r, -EINVAL);
	else
		assert_true(r == 0 || r == -ENODATA);
}

/* Every prefix of a real file and every byte garbled (check_cuts). */
static void check_prefixes(const char *machine, enum psi_resource res)
{
	struct psi_parse p = {.res = res};
	char rel[64];

	snprintf(rel, sizeof(rel), "proc/pressure/%s", res_names[res]);
	check_cuts(machine, rel, parse, &p, cut_psi, 'x');
}

TEST(test_parse_truncated)
{
	for (int i = PSI_CPU; i <= PSI_IO; i++) {
		check_prefixes("vm2", (enum psi_resource)i);
		check_prefixes("host16", (enum psi_resource)i);
	}
	check_prefixes("host16", PSI_IRQ);
}

/* --- payloads --- */

static struct psi_reading reading(uint64_t mono_ns, uint64_t cpu_some, uint64_t io_full,
				  bool cpu_full, bool irq)
{
	struct psi_reading r = {.mono_ns = mono_ns};

	for (int i = PSI_CPU; i <= PSI_IO; i++) {
		r.present[i] = true;
		r.res[i].has_some = true;
		r.res[i].has_full = i != PSI_CPU || cpu_full;
	}
	r.res[PSI_CPU].some = (struct psi_line){.avg10 = 1971, .avg60 = 5, .total_us = cpu_some};
	r.res[PSI_IO].full = (struct psi_line){.avg300 = 10000, .total_us = io_full};
	r.present[PSI_IRQ] = irq;
	r.res[PSI_IRQ].has_full = irq;
	return r;
}

TEST(test_payload)
{
	struct psi_reading a = reading(5 * SEC, 1000000, 0, true, false);
	struct psi_reading b = reading(6 * SEC, 1123456, 2000000, false, true);
	cJSON *p;

	/* the first tick: averages and totals, no stall rate */
	assert_int_equal(psi_build_payload(NULL, &a, T1, &p), 0);
	assert_true(num3(p, "t", NULL, NULL) == (double)T1);
	assert_true(num3(p, "cpu", "some", "avg10") == 19.71);
	assert_true(num3(p, "cpu", "some", "avg60") == 0.05);
	assert_true(num3(p, "cpu", "some", "total_us") == 1000000);
	assert_true(is_null3(p, "cpu", "some", "stall_pct"));
	assert_true(is_null3(p, "cpu", "full", "stall_pct"));
	assert_true(num3(p, "io", "full", "avg300") == 100);
	assert_true(is_null3(p, "irq", NULL, NULL));
	cJSON_Delete(p);

	/* 123456 us stalled in 1 s; io full went 0 -> 2 s in 1 s: capped;
	 * cpu full is gone (null), irq appeared (no rate) */
	assert_int_equal(psi_build_payload(&a, &b, T2, &p), 0);
	assert_true(num3(p, "cpu", "some", "stall_pct") == 12.35);
	assert_true(is_null3(p, "cpu", "full", NULL));
	assert_true(num3(p, "io", "full", "stall_pct") == 100);
	assert_true(num3(p, "io", "some", "stall_pct") == 0);
	assert_true(num3(p, "memory", "full", "stall_pct") == 0);
	assert_true(is_null3(p, "irq", "some", NULL));
	assert_true(is_null3(p, "irq", "full", "stall_pct"));
	cJSON_Delete(p);

	/* backwards total: null; clock that did not move: null */
	assert_int_equal(psi_build_payload(&b, &a, T2, &p), 0);
	assert_true(is_null3(p, "cpu", "some", "stall_pct"));
	assert_true(is_null3(p, "io", "some", "stall_pct"));
	cJSON_Delete(p);
	b.mono_ns = a.mono_ns;
	assert_int_equal(psi_build_payload(&a, &b, T2, &p), 0);
	assert_true(is_null3(p, "cpu", "some", "stall_pct"));
	cJSON_Delete(p);

	/* 1/3 of the time over 3 s, rounded half up to hundredths */
	a = reading(1 * SEC, 0, 0, true, true);
	b = reading(4 * SEC, 1000000, 15, true, true);
	assert_int_equal(psi_build_payload(&a, &b, T2, &p), 0);
	assert_true(num3(p, "cpu", "some", "stall_pct") == 33.33);
	assert_true(num3(p, "io", "full", "stall_pct") == 0); /* 0.0005% */
	assert_true(num3(p, "irq", "full", "stall_pct") == 0);
	cJSON_Delete(p);
	/* 1250 us in 1 s is 0.125%: half up to 0.13 */
	b.mono_ns = 2 * SEC;
	b.res[PSI_IO].full.total_us = 1250;
	assert_int_equal(psi_build_payload(&a, &b, T2, &p), 0);
	assert_true(num3(p, "io", "full", "stall_pct") == 0.13);
	cJSON_Delete(p);
}

TEST(test_reason)
{
	char reason[256];

	psi_reason(reason, sizeof(reason), "pressure/cpu", -ENOENT, false, false);
	assert_string_equal(reason, "kernel without PSI (no /proc/pressure)");
	psi_reason(reason, sizeof(reason), "pressure/cpu", -EOPNOTSUPP, false, true);
	assert_string_equal(reason, "PSI disabled (kernel booted with psi=0 or built with "
				    "CONFIG_PSI_DEFAULT_DISABLED; boot with psi=1)");
	psi_reason(reason, sizeof(reason), "pressure/io", -ENOENT, false, true);
	assert_string_equal(reason, "/proc/pressure/io: No such file or directory");
	psi_reason(reason, sizeof(reason), "pressure/io", -EINVAL, true, true);
	assert_string_equal(reason, "/proc/pressure/io: unexpected contents (Invalid argument)");
	psi_reason(NULL, 0, "pressure/io", -EINVAL, true, true);
}

/* --- the collector over fixture trees --- */

static void test_collector(void **state)
{
	const char *machine = *state;
	struct run r;
	cJSON *p;

	run_start(&r, &psi_collector, machine);
	run_goldens(&r, 5 * SEC, "psi.1.json", "psi.json", "psi.prom");
	/* back to the older files: totals went backwards, no rate */
	run_trees(&r, 0);
	p = run_tick(&r, T2, 7 * SEC);
	assert_true(is_null3(p, "cpu", "some", "stall_pct"));
	cJSON_Delete(p);
	/* and forward again over one second: the same payload as before */
	run_trees(&r, 1);
	run_golden(&r, T2, 8 * SEC, "psi.json");
	run_end(&r);
}

MACHINE_TEST(test_collector, "vm2");
MACHINE_TEST(test_collector, "host16");

/* 2.6.18 has no PSI: the topic is off, with the reason hello shows. */
TEST(test_collector_old_kernel)
{
	int fd = open_dir("linux-2.6.18", "proc");
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};

	init_check(&psi_collector, &env, -ENOENT, "kernel without PSI (no /proc/pressure)");
	close(fd);
}

TEST(test_collector_errors)
{
	static const char *const good = "some avg10=0.00 avg60=0.00 avg300=0.00 total=100\n"
					"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
	struct collector_env env;
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 2 * SEC};
	struct collector_tick t3 = {.t_ms = T2, .mono_ns = 3 * SEC};
	struct scratch s;
	void *st = NULL;
	cJSON *p = NULL;

	scratch_env(&s, "psi", false, &env);

	/* /proc/pressure but no memory file: named */
	scratch_write(&s, "pressure/cpu", good);
	init_check(&psi_collector, &env, -ENOENT,
		   "/proc/pressure/memory: No such file or directory");

	/* a file of another shape */
	scratch_write(&s, "pressure/memory", good);
	scratch_write(&s, "pressure/io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
	init_check(&psi_collector, &env, -ENODATA,
		   "/proc/pressure/io: unexpected contents (No data available)");

	/* no irq at init: never read, even once it appears */
	scratch_write(&s, "pressure/io", good);
	st = init_check(&psi_collector, &env, 0, NULL);
	assert_int_equal(psi_collector.sample(st, &env, &t1, &p), 0);
	assert_true(is_null3(p, "irq", NULL, NULL));
	cJSON_Delete(p);
	scratch_write(&s, "pressure/irq", "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");

	/* a bad tick in the middle keeps the last good reading */
	scratch_write(&s, "pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 tot");
	tick_fails(&psi_collector, st, &env, &t2, -EINVAL);
	unlinkat(s.fd, "pressure/cpu", 0);
	tick_fails(&psi_collector, st, &env, &t2, -ENOENT);
	scratch_write(&s, "pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=500100\n");
	assert_int_equal(psi_collector.sample(st, &env, &t3, &p), 0);
	/* against the first reading: 500000 us over 2 s */
	assert_true(num3(p, "cpu", "some", "stall_pct") == 25);
	assert_true(is_null3(p, "cpu", "full", NULL));
	assert_true(is_null3(p, "irq", NULL, NULL));
	cJSON_Delete(p);
	psi_collector.fini(st);
	psi_collector.fini(NULL);

	/* with irq at init it is part of every tick */
	st = init_check(&psi_collector, &env, 0, NULL);
	assert_int_equal(psi_collector.sample(st, &env, &t1, &p), 0);
	assert_true(num3(p, "irq", "full", "total_us") == 0);
	cJSON_Delete(p);
	unlinkat(s.fd, "pressure/irq", 0);
	assert_int_equal(psi_collector.sample(st, &env, &t2, &p), -ENOENT);
	psi_collector.fini(st);

	/* no /proc/pressure at all */
	scratch_remove(&s);
	scratch_make(&s, "psi");
	env.proc_fd = s.fd;
	init_check(&psi_collector, &env, -ENOENT, "kernel without PSI (no /proc/pressure)");
	scratch_remove(&s);
}

/* The live /proc of this machine, when it has PSI. */
TEST(test_collector_live)
{
	struct timespec nap = {.tv_nsec = 50 * 1000 * 1000};
	struct run r;
	cJSON *p;

	if (!run_live(&r, &psi_collector, false, true))
		skip();
	for (int i = 0; i < 2; i++) {
		p = run_tick(&r, T1, clock_mono_ns());
		assert_non_null(p);
		for (int res = PSI_CPU; res <= PSI_IO; res++) {
			const cJSON *some = path_get(p, res_names[res], "some", NULL);
			const cJSON *pct = cJSON_GetObjectItemCaseSensitive(some, "stall_pct");

			assert_true(i == 0 ? cJSON_IsNull(pct) : cJSON_IsNumber(pct));
			if (i == 1)
				assert_true(pct->valuedouble >= 0 && pct->valuedouble <= 100);
			assert_true(num3(some, "avg10", NULL, NULL) <= 100);
		}
		cJSON_Delete(p);
		nanosleep(&nap, NULL);
	}
	run_end(&r);
}

LIVE_COST(&psi_collector, false, true);
