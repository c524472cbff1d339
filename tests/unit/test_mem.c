/* Unit tests of collectors/mem.c: the /proc/meminfo parser against fixture
 * trees, the payload arithmetic, and the collector (golden payloads in
 * tests/fixtures/<m>/expected/mem.json). */
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
#include <unistd.h>

#include "mem.h"
#include "procfs.h"

#define T1  INT64_C(1700000000000)
#define KIB UINT64_C(1024)

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

static int parse_str(const char *text, struct mem_info *mi)
{
	return mem_info_parse(text, strlen(text), mi);
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_non_null(item);
	assert_true(cJSON_IsNumber(item));
	return item->valuedouble;
}

static struct mem_info parse_fixture(const char *machine)
{
	struct mem_info mi;
	size_t len;
	char *text = slurp(machine, "proc/meminfo", &len);

	assert_int_equal(mem_info_parse(text, len, &mi), 0);
	free(text);
	return mi;
}

static void test_parse_vm2(void **state)
{
	struct mem_info mi = parse_fixture("vm2");

	(void)state;
	assert_int_equal(mi.total, 24684084 * KIB);
	assert_int_equal(mi.free, 24533836 * KIB);
	assert_true(mi.has_available);
	assert_int_equal(mi.available, 24445728 * KIB);
	assert_int_equal(mi.buffers, 868 * KIB);
	assert_int_equal(mi.cached, 22864 * KIB);
	assert_int_equal(mi.sreclaimable, 52944 * KIB);
	assert_int_equal(mi.swap_total, 0);
	assert_int_equal(mi.swap_free, 0);
	assert_int_equal(mi.dirty, 124 * KIB);
}

static void test_parse_host16(void **state)
{
	struct mem_info mi = parse_fixture("host16");

	(void)state;
	assert_int_equal(mi.total, 131916472 * KIB);
	assert_int_equal(mi.available, 97654321 * KIB);
	assert_int_equal(mi.cached, 78901234 * KIB);
	assert_int_equal(mi.sreclaimable, 6543210 * KIB);
	assert_int_equal(mi.swap_total, 8388604 * KIB);
	assert_int_equal(mi.swap_free, 8123004 * KIB);
	assert_int_equal(mi.dirty, 23456 * KIB);
}

static void test_parse_linux_2_6_18(void **state)
{
	struct mem_info mi = parse_fixture("linux-2.6.18");
	cJSON *p;

	(void)state;
	assert_int_equal(mi.total, 4148032 * KIB);
	assert_int_equal(mi.free, 123456 * KIB);
	assert_false(mi.has_available);
	assert_int_equal(mi.available, 0);
	assert_int_equal(mi.sreclaimable, 0); /* 2.6.19 and later */
	assert_int_equal(mi.buffers, 234567 * KIB);
	assert_int_equal(mi.cached, 2345678 * KIB);

	/* no MemAvailable: free + buffers + cached */
	assert_int_equal(mem_build_payload(&mi, T1, &p), 0);
	assert_true(num(p, "available") == (double)((123456 + 234567 + 2345678) * KIB));
	assert_true(num(p, "used") == (double)((4148032 - 123456 - 234567 - 2345678) * KIB));
	assert_true(num(p, "swap_used") == (double)((2096472 - 2090000) * KIB));
	cJSON_Delete(p);
}

static void test_parse_minimal(void **state)
{
	struct mem_info mi;

	(void)state;
	/* only the required keys; unknown keys of either shape are ignored */
	assert_int_equal(parse_str("MemTotal: 100 kB\nFoo(bar):  7 kB\nMemFree: 40 kB\n"
	                           "HugePages_Total:   0\nNew_Counter:   12\n",
	                           &mi),
	                 0);
	assert_int_equal(mi.total, 100 * KIB);
	assert_int_equal(mi.free, 40 * KIB);
	assert_false(mi.has_available);
	assert_int_equal(mi.buffers, 0);
	assert_int_equal(mi.cached, 0);
	assert_int_equal(mi.swap_total, 0);
	assert_int_equal(mi.dirty, 0);
	/* values of any width, no padding needed */
	assert_int_equal(parse_str("MemTotal:34359738367 kB\nMemFree:0 kB\n", &mi), 0);
	assert_int_equal(mi.total, UINT64_C(34359738367) * KIB);
}

static void test_parse_malformed(void **state)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
	    {"", -ENODATA},
	    {"MemTotal: 100 kB\n", -ENODATA},
	    {"MemFree: 100 kB\n", -ENODATA},
	    {"MemTotal: 100 kB\nMemFree:  40 kB", -EINVAL}, /* truncated */
	    {"MemTotal: 100 kB\nMemFr", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree:\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40\n", -EINVAL}, /* used keys are kB */
	    {"MemTotal: 100 MB\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal: 100 kb\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal: 1x0 kB\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal: -100 kB\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal: 100.5 kB\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal: 100 kB 7\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nMemTotal: 100 kB\n", -EINVAL},
	    {"MemTotal 100 kB\nMemFree: 40 kB\n", -EINVAL},
	    {": 100 kB\nMemTotal: 100 kB\nMemFree: 40 kB\n", -EINVAL},
	    {"Mem Total: 100 kB\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal:\t100 kB\nMemFree: 40 kB\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\n\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nFoo: 1 MB\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nFoo: x\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nFoo: 1 2\n", -EINVAL},
	    {"MemTotal: 18014398509481984 kB\nMemFree: 40 kB\n", -ERANGE}, /* 2^54 kB */
	    {"MemTotal: 99999999999999999999 kB\nMemFree: 40 kB\n", -ERANGE},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nFoo: 99999999999999999999\n", -ERANGE},
	};
	struct mem_info mi = {.total = 7};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse_str(cases[i].text, &mi);

		if (r != cases[i].err)
			print_error("case %zu: \"%s\" gave %d\n", i, cases[i].text, r);
		assert_int_equal(r, cases[i].err);
		assert_int_equal(mi.total, 7); /* untouched on error */
	}
	{
		static const char nul[] = "MemTotal: 1\0 kB\nMemFree: 4 kB\n";

		assert_int_equal(mem_info_parse(nul, sizeof(nul) - 1, &mi), -EINVAL);
	}
}

static void check_prefixes(const char *machine)
{
	struct mem_info mi;
	size_t len, lines = 0;
	char *text = slurp(machine, "proc/meminfo", &len);

	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n ? n : 1);
		int r;

		assert_non_null(copy);
		memcpy(copy, text, n);
		r = mem_info_parse(copy, n, &mi);
		if (n > 0 && text[n - 1] == '\n')
			lines++;
		/* MemTotal and MemFree are the first two lines everywhere */
		if (lines >= 2 && text[n - 1] == '\n')
			assert_int_equal(r, 0);
		else
			assert_true(r == -EINVAL || r == -ENODATA);
		free(copy);
	}
	for (size_t i = 0; i < len; i++) {
		char *copy = malloc(len);

		assert_non_null(copy);
		memcpy(copy, text, len);
		copy[i] = copy[i] == 'x' ? '\n' : 'x';
		assert_true(mem_info_parse(copy, len, &mi) <= 0);
		free(copy);
	}
	free(text);
}

static void test_parse_truncated(void **state)
{
	(void)state;
	check_prefixes("vm2");
	check_prefixes("host16");
	check_prefixes("linux-2.6.18");
}

static void test_payload_clamps(void **state)
{
	struct mem_info mi = {
	    .total = 1000,
	    .free = 600,
	    .buffers = 300,
	    .cached = 200,
	    .sreclaimable = 100,
	    .swap_total = 10,
	    .swap_free = 20,
	};
	cJSON *p;

	(void)state;
	/* free + buffers + cached > total: used is 0, available is total */
	assert_int_equal(mem_build_payload(&mi, T1, &p), 0);
	assert_true(num(p, "used") == 0);
	assert_true(num(p, "cached") == 300);
	assert_true(num(p, "available") == 1000);
	assert_true(num(p, "swap_used") == 0);
	cJSON_Delete(p);

	/* MemAvailable is taken as is when present */
	mi.has_available = true;
	mi.available = 555;
	mi.free = 100;
	assert_int_equal(mem_build_payload(&mi, T1, &p), 0);
	assert_true(num(p, "available") == 555);
	assert_true(num(p, "used") == 1000 - 100 - 300 - 300);
	assert_true(num(p, "t") == (double)T1);
	cJSON_Delete(p);
}

static void run_collector(const char *machine)
{
	int fd = open_dir(machine, "proc");
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	char reason[256] = "";
	void *st = NULL;
	cJSON *p = NULL;

	assert_int_equal(mem_collector.init(&env, &st, reason, sizeof(reason)), 0);
	assert_string_equal(reason, "");
	/* no rates: the first tick already has a payload */
	assert_int_equal(mem_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_json_file(p, machine, "mem.json");
	cJSON_Delete(p);
	mem_collector.fini(st);
	close(fd);
}

static void test_collector_fixtures(void **state)
{
	(void)state;
	run_collector("vm2");
	run_collector("host16");
	run_collector("linux-2.6.18");
}

static void test_collector_errors(void **state)
{
	char dir[] = "/tmp/sysfeed-mem-XXXXXX", reason[256];
	struct collector_env env = {.sys_fd = -1};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	void *st = NULL;
	cJSON *p = NULL;
	int f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	env.proc_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(env.proc_fd >= 0);
	assert_int_equal(mem_collector.init(&env, &st, reason, sizeof(reason)), -ENOENT);
	assert_null(st);
	assert_string_equal(reason, "/proc/meminfo: No such file or directory");

	f = openat(env.proc_fd, "meminfo", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(f >= 0);
	assert_int_equal(write(f, "MemTotal: 100 kB\n", 17), 17);
	assert_int_equal(mem_collector.init(&env, &st, reason, sizeof(reason)), -ENODATA);
	assert_null(st);
	assert_string_equal(reason, "/proc/meminfo: unexpected contents (No data available)");
	assert_int_equal(write(f, "MemFree: 40 kB\n", 15), 15);
	close(f);
	assert_int_equal(mem_collector.init(&env, &st, reason, sizeof(reason)), 0);
	assert_non_null(st);
	unlinkat(env.proc_fd, "meminfo", 0);
	p = (cJSON *)&env;
	assert_int_equal(mem_collector.sample(st, &env, &tick, &p), -ENOENT);
	assert_null(p);
	mem_collector.fini(st);
	mem_collector.fini(NULL);
	close(env.proc_fd);
	rmdir(dir);
}

static void test_collector_live(void **state)
{
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = fd, .sys_fd = -1};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	char reason[256];
	void *st = NULL;
	cJSON *p = NULL;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(mem_collector.init(&env, &st, reason, sizeof(reason)), 0);
	assert_int_equal(mem_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_true(num(p, "total") > 0);
	assert_true(num(p, "used") <= num(p, "total"));
	assert_true(num(p, "available") <= num(p, "total"));
	cJSON_Delete(p);
	mem_collector.fini(st);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_vm2),          cmocka_unit_test(test_parse_host16),
	    cmocka_unit_test(test_parse_linux_2_6_18), cmocka_unit_test(test_parse_minimal),
	    cmocka_unit_test(test_parse_malformed),    cmocka_unit_test(test_parse_truncated),
	    cmocka_unit_test(test_payload_clamps),     cmocka_unit_test(test_collector_fixtures),
	    cmocka_unit_test(test_collector_errors),   cmocka_unit_test(test_collector_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
