/* Unit tests of collectors/mem.c: the /proc/meminfo and /proc/vmstat
 * parsers against fixture trees, the payload arithmetic and rates, and the
 * collector over two ticks (golden payloads in tests/fixtures/<m>/expected/
 * mem.json and mem.2.json, golden metrics in mem.prom). */
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
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "mem.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"

#define KIB UINT64_C(1024)

static int parse_str(const char *text, struct mem_info *mi)
{
	return mem_info_parse(text, strlen(text), mi);
}

static int parse_info(const char *text, size_t len, void *ret)
{
	return mem_info_parse(text, len, ret);
}

static int parse_vmstat(const char *text, size_t len, void *ret)
{
	return mem_vmstat_parse(text, len, ret);
}

static int parse_vmstat_str(const char *text, struct mem_vmstat *vm)
{
	return mem_vmstat_parse(text, strlen(text), vm);
}

static struct mem_info parse_fixture(const char *machine)
{
	struct mem_info mi;

	parse_file(machine, "proc/meminfo", parse_info, &mi);
	return mi;
}

/* Every line meminfo has on a recent kernel. */
enum {
	HAS_ALL = MEM_HAS_AVAILABLE | MEM_HAS_BUFFERS | MEM_HAS_CACHED | MEM_HAS_SRECLAIMABLE |
		  MEM_HAS_SWAP_TOTAL | MEM_HAS_SWAP_FREE | MEM_HAS_DIRTY | MEM_HAS_SLAB |
		  MEM_HAS_SUNRECLAIM | MEM_HAS_SHMEM | MEM_HAS_HUGEPAGES_TOTAL |
		  MEM_HAS_HUGEPAGES_FREE | MEM_HAS_HUGEPAGESIZE,
};

static const struct want_field info_fields[] = {
    WANT_FIELD(struct mem_info, total),
    WANT_FIELD(struct mem_info, free),
    WANT_FIELD(struct mem_info, available),
    WANT_FIELD(struct mem_info, buffers),
    WANT_FIELD(struct mem_info, cached),
    WANT_FIELD(struct mem_info, sreclaimable),
    WANT_FIELD(struct mem_info, swap_total),
    WANT_FIELD(struct mem_info, swap_free),
    WANT_FIELD(struct mem_info, dirty),
    WANT_FIELD(struct mem_info, slab),
    WANT_FIELD(struct mem_info, sunreclaim),
    WANT_FIELD(struct mem_info, shmem),
    WANT_FIELD(struct mem_info, hugepages_total),
    WANT_FIELD(struct mem_info, hugepages_free),
    WANT_FIELD(struct mem_info, hugepage_size),
    WANT_FIELD(struct mem_info, has),
    {NULL},
};

/* Each machine's meminfo parsed whole: every field, and which lines it
 * had (linux-2.6.18: no MemAvailable, SReclaimable, SUnreclaim, Shmem). */
TEST(test_parse_fixtures)
{
	static const struct {
		const char *machine;
		struct mem_info want;
	} cases[] = {
	    {"vm2",
	     {.total = 24684084 * KIB,
	      .free = 24533836 * KIB,
	      .available = 24445728 * KIB,
	      .buffers = 868 * KIB,
	      .cached = 22864 * KIB,
	      .sreclaimable = 52944 * KIB,
	      .dirty = 124 * KIB,
	      .slab = 74488 * KIB,
	      .sunreclaim = 21544 * KIB,
	      .shmem = 8872 * KIB,
	      .hugepage_size = 2048 * KIB,
	      .has = HAS_ALL}},
	    {"host16",
	     {.total = 131916472 * KIB,
	      .free = 8123456 * KIB,
	      .available = 97654321 * KIB,
	      .buffers = 2345678 * KIB,
	      .cached = 78901234 * KIB,
	      .sreclaimable = 6543210 * KIB,
	      .swap_total = 8388604 * KIB,
	      .swap_free = 8123004 * KIB,
	      .dirty = 23456 * KIB,
	      .slab = 7654321 * KIB,
	      .sunreclaim = 1111111 * KIB,
	      .shmem = 123456 * KIB,
	      .hugepages_total = 1024,
	      .hugepages_free = 512,
	      .hugepage_size = 2048 * KIB,
	      .has = HAS_ALL}},
	    /* the old block: "HugePages_Total: %5lu", "Hugepagesize:    %5lu kB" */
	    {"linux-2.6.18",
	     {.total = 4148032 * KIB,
	      .free = 123456 * KIB,
	      .buffers = 234567 * KIB,
	      .cached = 2345678 * KIB,
	      .swap_total = 2096472 * KIB,
	      .swap_free = 2090000 * KIB,
	      .dirty = 456 * KIB,
	      .slab = 98765 * KIB,
	      .hugepage_size = 4096 * KIB,
	      .has = MEM_HAS_BUFFERS | MEM_HAS_CACHED | MEM_HAS_SWAP_TOTAL | MEM_HAS_SWAP_FREE |
		     MEM_HAS_DIRTY | MEM_HAS_SLAB | MEM_HAS_HUGEPAGES_TOTAL |
		     MEM_HAS_HUGEPAGES_FREE | MEM_HAS_HUGEPAGESIZE}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mem_info mi = parse_fixture(cases[i].machine);

		assert_fields(cases[i].machine, &mi, &cases[i].want, info_fields);
	}
}

/* The payload of a kernel before MemAvailable (its parse: above). */
TEST(test_payload_2_6_18)
{
	struct mem_info mi = parse_fixture("linux-2.6.18");
	cJSON *p;

	/* no MemAvailable: free + buffers + cached */
	assert_int_equal(mem_build_payload(&mi, NULL, NULL, 0, T1, &p), 0);
	assert_true(num(p, "available") == (double)((123456 + 234567 + 2345678) * KIB));
	assert_true(num(p, "used") == (double)((4148032 - 123456 - 234567 - 2345678) * KIB));
	assert_true(num(p, "swap_used") == (double)((2096472 - 2090000) * KIB));
	/* lines this kernel lacks are null, not 0 */
	assert_true(is_null(p, "sreclaimable"));
	assert_true(is_null(p, "sunreclaim"));
	assert_true(is_null(p, "shmem"));
	assert_true(num(p, "slab") == (double)(98765 * KIB));
	assert_true(num(p, "hugepages_total") == 0);
	assert_true(is_null(p, "page_faults_per_s"));
	cJSON_Delete(p);
}

TEST(test_parse_minimal)
{
	struct mem_info mi;

	/* only the required keys; unknown keys of either shape are ignored */
	assert_int_equal(parse_str("MemTotal: 100 kB\nFoo(bar):  7 kB\nMemFree: 40 kB\n"
				   "HugePages_Total:   0\nNew_Counter:   12\n",
				   &mi),
			 0);
	assert_int_equal(mi.total, 100 * KIB);
	assert_int_equal(mi.free, 40 * KIB);
	assert_int_equal(mi.has, MEM_HAS_HUGEPAGES_TOTAL);
	assert_int_equal(mi.hugepages_total, 0);
	assert_int_equal(mi.buffers, 0);
	assert_int_equal(mi.cached, 0);
	assert_int_equal(mi.swap_total, 0);
	assert_int_equal(mi.dirty, 0);
	/* values of any width, no padding needed */
	assert_int_equal(parse_str("MemTotal:34359738367 kB\nMemFree:0 kB\n", &mi), 0);
	assert_int_equal(mi.total, UINT64_C(34359738367) * KIB);
}

/* A failed parse leaves the struct alone. */
static void info_untouched(const void *ret)
{
	assert_int_equal(((const struct mem_info *)ret)->total, 7);
}

TEST(test_parse_malformed)
{
	static const struct parse_case cases[] = {
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
	    /* huge page counts have no unit, the size is in kB */
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nHugePages_Total: 5 kB\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nHugePages_Free: 5 kB\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nHugepagesize: 2048\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nSlab: 1\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nShmem: 1 kB\nShmem: 1 kB\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nHugePages_Total: 1\nHugePages_Total: 1\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nHugePages_Total: -1\n", -EINVAL},
	    {"MemTotal: 100 kB\nMemFree: 40 kB\nSUnreclaim: 18014398509481984 kB\n", -ERANGE},
	};
	struct mem_info mi = {.total = 7};

	parse_cases(cases, sizeof(cases) / sizeof(cases[0]), parse_info, &mi, info_untouched);
	{
		static const char nul[] = "MemTotal: 1\0 kB\nMemFree: 4 kB\n";

		assert_int_equal(mem_info_parse(nul, sizeof(nul) - 1, &mi), -EINVAL);
	}
}

/* Lines in another order than the kernel's (the rows are looked up from
 * the one after the last found), keys that share a row's length and end
 * bytes or begin like one, and the shapes the strict parse accepts beyond
 * the kernel's plain "Key:   N kB" (no space after ':', trailing spaces). */
TEST(test_parse_order)
{
	struct mem_info mi = {0};

	assert_int_equal(
	    parse_str("Hugepagesize: 2048 kB\nShmem: 6 kB\nMzmTotal: 9 kB\n"
		      "MemFree:40 kB\nSlab: 5 kB  \nMemTotalx: 8 kB\nMemTotal: 100 kB\n"
		      "HugePages_Total:  3   \nMem: 7 kB\nMemAvailable: 1234567890123456789\n"
		      "Buffers: 1 kB\n",
		      &mi),
	    -EINVAL); /* MemAvailable is in kB */
	assert_int_equal(
	    parse_str("Hugepagesize: 2048 kB\nShmem: 6 kB\nMzmTotal: 9 kB\n"
		      "MemFree:40 kB\nSlab: 5 kB  \nMemTotalx: 8 kB\nMemTotal: 100 kB\n"
		      "HugePages_Total:  3   \nMem: 7 kB\nBuffers: 1 kB\n"
		      "MemAvailable: 18014398509481983 kB\nFoo: 18446744073709551615\n",
		      &mi),
	    0);
	assert_int_equal(mi.total, 100 * KIB);
	assert_int_equal(mi.free, 40 * KIB);
	assert_int_equal(mi.slab, 5 * KIB);
	assert_int_equal(mi.shmem, 6 * KIB);
	assert_int_equal(mi.buffers, 1 * KIB);
	assert_int_equal(mi.available, UINT64_C(18014398509481983) * KIB);
	assert_int_equal(mi.hugepages_total, 3);
	assert_int_equal(mi.hugepage_size, 2048 * KIB);
	assert_int_equal(mi.has, MEM_HAS_HUGEPAGESIZE | MEM_HAS_SHMEM | MEM_HAS_SLAB |
				     MEM_HAS_HUGEPAGES_TOTAL | MEM_HAS_BUFFERS | MEM_HAS_AVAILABLE);
	/* a row found out of order is still found once */
	assert_int_equal(parse_str("MemFree: 4 kB\nMemTotal: 1 kB\nMemFree: 4 kB\n", &mi), -EINVAL);
	assert_int_equal(parse_str("MemTotal: 100kB\nMemFree: 40 kB\n", &mi), -EINVAL);
	assert_int_equal(parse_str("MemTotal: 100 kBB\nMemFree: 40 kB\n", &mi), -EINVAL);
	assert_int_equal(parse_str("MemTotal: 100 k\nMemFree: 40 kB\n", &mi), -EINVAL);
	assert_int_equal(
	    parse_str("MemTotal: 100 kB\nMemFree: 40 kB\nFoo: 12345678901234567890\n", &mi), 0);
	assert_int_equal(
	    parse_str("MemTotal: 100 kB\nMemFree: 40 kB\nFoo: 99999999999999999999\n", &mi),
	    -ERANGE);
}

/* MemTotal and MemFree are the first two lines everywhere: from the
 * second whole line on, whole lines parse; before, or cut, they lack data
 * or are an error. */
static void cut_meminfo(int r, const char *text, size_t n, size_t len)
{
	size_t lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	if (lines >= 2 && text[n - 1] == '\n')
		assert_int_equal(r, 0);
	else
		assert_true(r == -EINVAL || r == -ENODATA);
}

TEST(test_parse_truncated)
{
	struct mem_info mi;

	check_cuts_proc("proc/meminfo", parse_info, &mi, cut_meminfo, 'x');
}

TEST(test_payload_clamps)
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

	/* free + buffers + cached > total: used is 0, available is total */
	assert_int_equal(mem_build_payload(&mi, NULL, NULL, 0, T1, &p), 0);
	assert_true(num(p, "used") == 0);
	assert_true(num(p, "cached") == 300);
	assert_true(num(p, "available") == 1000);
	assert_true(num(p, "swap_used") == 0);
	cJSON_Delete(p);

	/* MemAvailable is taken as is when present */
	mi.has |= MEM_HAS_AVAILABLE;
	mi.available = 555;
	mi.free = 100;
	assert_int_equal(mem_build_payload(&mi, NULL, NULL, 0, T1, &p), 0);
	assert_true(num(p, "available") == 555);
	assert_true(num(p, "used") == 1000 - 555); /* total - available */
	assert_true(num(p, "t") == (double)T1);
	cJSON_Delete(p);
}

/* --- /proc/vmstat --- */

static struct mem_vmstat parse_vmstat_fixture(const char *machine, const char *sub)
{
	struct mem_vmstat vm;
	char rel[64];

	snprintf(rel, sizeof(rel), "%s/vmstat", sub);
	parse_file(machine, rel, parse_vmstat, &vm);
	return vm;
}

TEST(test_vmstat_fixtures)
{
	const unsigned all = (1u << MEM_VM_N) - 1;
	struct mem_vmstat vm;

	/* vm2 (captured): pgfault 14239562, pgmajfault 5275, no swap */
	vm = parse_vmstat_fixture("vm2", "proc");
	assert_int_equal(vm.has, all);
	assert_int_equal(vm.v[MEM_VM_PGFAULT], 14239562);
	assert_int_equal(vm.v[MEM_VM_PGMAJFAULT], 5275);
	assert_int_equal(vm.v[MEM_VM_PSWPIN], 0);
	assert_int_equal(vm.v[MEM_VM_PSWPOUT], 0);
	vm = parse_vmstat_fixture("host16", "proc");
	assert_int_equal(vm.has, all);
	assert_int_equal(vm.v[MEM_VM_PGFAULT], UINT64_C(98765432101));
	assert_int_equal(vm.v[MEM_VM_PGMAJFAULT], 1234567);
	assert_int_equal(vm.v[MEM_VM_PSWPIN], 45678);
	assert_int_equal(vm.v[MEM_VM_PSWPOUT], 234567);
	vm = parse_vmstat_fixture("linux-2.6.18", "proc.2");
	assert_int_equal(vm.has, all);
	assert_int_equal(vm.v[MEM_VM_PGFAULT], 345678901 + 2345);
	assert_int_equal(vm.v[MEM_VM_PSWPOUT], 7890 + 256);
}

/* A failed parse leaves the struct alone. */
static void vmstat_untouched(const void *ret)
{
	const struct mem_vmstat *vm = ret;

	assert_int_equal(vm->v[0], 7);
	assert_int_equal(vm->has, 9);
}

TEST(test_vmstat_malformed)
{
	static const struct parse_case cases[] = {
	    {"pgfault 1", -EINVAL}, /* truncated */
	    {"pgfault\n", -EINVAL},
	    {"pgfault \n", -EINVAL},
	    {"pgfault  1\n", -EINVAL},
	    {"pgfault 1 \n", -EINVAL},
	    {"pgfault 1 2\n", -EINVAL},
	    {"pgfault\t1\n", -EINVAL},
	    {" pgfault 1\n", -EINVAL},
	    {"pgfault -1\n", -EINVAL},
	    {"pgfault x\n", -EINVAL},
	    {"pgfault 1.0\n", -EINVAL},
	    {"pgfault 18446744073709551616\n", -ERANGE},
	    {"nr_free_pages 18446744073709551616\n", -ERANGE}, /* unknown, still a number */
	    {"nr_free_pages x\n", -EINVAL},
	    {"pgfault 1\n\n", -EINVAL},
	    {"pgfault 1\npgfault 2\n", -EINVAL},
	    {"pgfault 1\npswpin: 2\npswpout 3\n", -EINVAL},
	    {"pgfault: 1\n", -EINVAL},
	};
	struct mem_vmstat vm = {.v = {7}, .has = 9};

	parse_cases(cases, sizeof(cases) / sizeof(cases[0]), parse_vmstat, &vm, vmstat_untouched);
	{
		static const char nul[] = "pgfault 1\0\npgmajfault 2\n";
		static const char ctl[] = "pg\001fault 1\n";

		assert_int_equal(mem_vmstat_parse(nul, sizeof(nul) - 1, &vm), -EINVAL);
		assert_int_equal(mem_vmstat_parse(ctl, sizeof(ctl) - 1, &vm), -EINVAL);
	}
	/* empty (no event counters at all) and partial files are fine */
	assert_int_equal(mem_vmstat_parse("", 0, &vm), 0);
	assert_int_equal(vm.has, 0);
	assert_int_equal(mem_vmstat_parse("nr_free_pages 5\npgmajfault 3\n", 29, &vm), 0);
	assert_int_equal(vm.has, 1u << MEM_VM_PGMAJFAULT);
	assert_int_equal(vm.v[MEM_VM_PGMAJFAULT], 3);
	assert_int_equal(vm.v[MEM_VM_PGFAULT], 0);
}

/* Lines in another order than the kernel's, numbers of 19 and 20 digits,
 * names that begin like a row's: every row's value, found once. */
TEST(test_vmstat_order)
{
	static const char text[] = "pswpout 4\nnr_free_pages 18446744073709551615\npgmajfault "
				   "1234567890123456789\npgfaults 9\npgfaul 9\npswpin 3\n"
				   "pgfault 18446744073709551615\nPgfault 9\n";
	struct mem_vmstat vm = {{0}, 0};

	assert_int_equal(mem_vmstat_parse(text, sizeof(text) - 1, &vm), 0);
	assert_int_equal(vm.has, (1u << MEM_VM_N) - 1);
	assert_int_equal(vm.v[MEM_VM_PGFAULT], UINT64_MAX);
	assert_int_equal(vm.v[MEM_VM_PGMAJFAULT], UINT64_C(1234567890123456789));
	assert_int_equal(vm.v[MEM_VM_PSWPIN], 3);
	assert_int_equal(vm.v[MEM_VM_PSWPOUT], 4);
	/* a row found out of order is still found once */
	assert_int_equal(parse_vmstat_str("pswpin 1\npgfault 2\npswpin 3\n", &vm), -EINVAL);
	assert_int_equal(parse_vmstat_str("pgfault 2\nnr_x 12345678901234567890\n", &vm), 0);
	assert_int_equal(vm.v[MEM_VM_PGFAULT], 2);
	assert_int_equal(parse_vmstat_str("pgfault 2\nnr_x 99999999999999999999\n", &vm), -ERANGE);
	assert_int_equal(parse_vmstat_str("pgfault 2\nnr_x 1\nnr-y 1\n", &vm), -EINVAL);
}

TEST(test_vmstat_truncated)
{
	struct mem_vmstat vm;

	check_cuts_proc("proc/vmstat", parse_vmstat, &vm, cut_at_lines, 'x');
}

TEST(test_rates)
{
	struct mem_vmstat a = {.v = {1000, 10, 0, 7}, .has = 0xf};
	struct mem_vmstat b = {.v = {1500, 11, 3, 5}, .has = 0xf};
	struct mem_info mi = {.total = 100, .free = 50};
	cJSON *p;

	/* two seconds; pswpout went backwards: skipped */
	assert_int_equal(mem_build_payload(&mi, &a, &b, 2 * SEC, T2, &p), 0);
	assert_true(num(p, "page_faults_per_s") == 250);
	assert_true(num(p, "major_faults_per_s") == 0.5);
	assert_true(num(p, "swap_in_pages_per_s") == 1.5);
	assert_true(is_null(p, "swap_out_pages_per_s"));
	cJSON_Delete(p);
	/* hundredths, rounded half up: 500/3 = 166.67, 1/3 = 0.33, 3/3 */
	assert_int_equal(mem_build_payload(&mi, &a, &b, 3 * SEC, T2, &p), 0);
	assert_true(num(p, "page_faults_per_s") == 166.67);
	assert_true(num(p, "major_faults_per_s") == 0.33);
	assert_true(num(p, "swap_in_pages_per_s") == 1);
	cJSON_Delete(p);
	/* a clock that did not move: none */
	assert_int_equal(mem_build_payload(&mi, &a, &b, 0, T2, &p), 0);
	assert_true(is_null(p, "page_faults_per_s"));
	assert_true(is_null(p, "swap_in_pages_per_s"));
	cJSON_Delete(p);
	/* a counter missing from either reading: none for it */
	a.has = 0x1;
	b.has = 0x3;
	assert_int_equal(mem_build_payload(&mi, &a, &b, SEC, T2, &p), 0);
	assert_true(num(p, "page_faults_per_s") == 500);
	assert_true(is_null(p, "major_faults_per_s"));
	assert_true(is_null(p, "swap_in_pages_per_s"));
	cJSON_Delete(p);
	/* no /proc/vmstat: none */
	assert_int_equal(mem_build_payload(&mi, &a, NULL, SEC, T2, &p), 0);
	assert_true(is_null(p, "page_faults_per_s"));
	cJSON_Delete(p);
	/* no rates at all (the first tick): every rate is null */
	assert_int_equal(mem_build_payload(&mi, NULL, &b, SEC, T2, &p), 0);
	assert_true(is_null(p, "page_faults_per_s"));
	assert_true(is_null(p, "major_faults_per_s"));
	assert_true(is_null(p, "swap_in_pages_per_s"));
	assert_true(is_null(p, "swap_out_pages_per_s"));
	/* and the meminfo lines absent from mi are null too */
	assert_true(is_null(p, "slab"));
	assert_true(is_null(p, "hugepage_size"));
	assert_true(num(p, "dirty") == 0);
	cJSON_Delete(p);
}

/* Ticks one second apart over proc/ then proc.2/: each payload and the
 * metrics after them are the golden ones. */
static void run_collector(const char *machine)
{
	struct run r;
	cJSON *p;

	run_start(&r, &mem_collector, machine);
	/* no previous sample: the first tick already has a payload, with
	 * null rates */
	run_goldens(&r, 3 * SEC, "mem.json", "mem.2.json", "mem.prom");
	/* back to the older files: the counters went backwards, no rates */
	run_trees(&r, 0);
	p = run_tick(&r, T2, 5 * SEC);
	assert_true(is_null(p, "page_faults_per_s"));
	cJSON_Delete(p);
	/* the same files again a second later: rates of 0 */
	p = run_tick(&r, T2, 6 * SEC);
	assert_true(num(p, "page_faults_per_s") == 0);
	assert_true(num(p, "swap_out_pages_per_s") == 0);
	cJSON_Delete(p);
	run_end(&r);
}

TEST(test_collector_fixtures)
{
	for (size_t i = 0; i < 3; i++)
		run_collector(proc_machines[i]);
}

TEST(test_metrics_promtool)
{
	promtool_goldens("mem.prom");
}

TEST(test_collector_errors)
{
	struct scratch s;
	struct collector_env env;
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	struct metrics m = {0};
	void *st = NULL;
	cJSON *p = NULL;
	int f;

	scratch_env(&s, "mem", false, &env);
	init_check(&mem_collector, &env, -ENOENT, "/proc/meminfo: No such file or directory");

	f = openat(env.proc_fd, "meminfo", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(f >= 0);
	assert_int_equal(write(f, "MemTotal: 100 kB\n", 17), 17);
	init_check(&mem_collector, &env, -ENODATA,
		   "/proc/meminfo: unexpected contents (No data available)");
	assert_int_equal(write(f, "MemFree: 40 kB\n", 15), 15);
	close(f);
	/* no /proc/vmstat: the topic works, its rates stay null */
	st = init_check(&mem_collector, &env, 0, NULL);
	assert_int_equal(mem_collector.sample(st, &env, &tick, &p), 0);
	cJSON_Delete(p);
	/* (a vmstat that appears later is not looked for) */
	scratch_write(&s, "vmstat", "pgfault 5\n");
	tick.mono_ns += SEC;
	assert_int_equal(mem_collector.sample(st, &env, &tick, &p), 0);
	assert_true(is_null(p, "page_faults_per_s"));
	assert_true(num(p, "total") == 100 * KIB);
	cJSON_Delete(p);
	assert_int_equal(mem_collector.metrics(st, &m), 0);
	assert_string_equal(m.buf,
			    "# HELP sysfeed_memory_total_bytes MemTotal from /proc/meminfo, in "
			    "bytes.\n"
			    "# TYPE sysfeed_memory_total_bytes gauge\n"
			    "sysfeed_memory_total_bytes 102400\n"
			    "# HELP sysfeed_memory_free_bytes MemFree from /proc/meminfo, in "
			    "bytes.\n"
			    "# TYPE sysfeed_memory_free_bytes gauge\n"
			    "sysfeed_memory_free_bytes 40960\n");
	scratch_rm(&s, "meminfo");
	tick_fails(&mem_collector, st, &env, &tick, -ENOENT);
	/* the metrics keep the last good sample */
	metrics_reset(&m);
	assert_int_equal(mem_collector.metrics(st, &m), 0);
	assert_non_null(strstr(m.buf, "sysfeed_memory_free_bytes 40960\n"));
	mem_collector.fini(st);
	mem_collector.fini(NULL);

	/* a vmstat of another shape turns the topic off */
	scratch_write(&s, "meminfo", "MemTotal: 100 kB\nMemFree: 40 kB\n");
	scratch_write(&s, "vmstat", "pgfault 5\npgmajfault: 1\n");
	st = NULL;
	init_check(&mem_collector, &env, -EINVAL,
		   "/proc/vmstat: unexpected contents (Invalid argument)");

	/* a bad vmstat at a tick sends nothing; the next rate spans the gap */
	scratch_write(&s, "vmstat", "pgfault 5\npgmajfault 1\n");
	st = init_check(&mem_collector, &env, 0, NULL);
	tick.mono_ns = 10 * SEC;
	assert_int_equal(mem_collector.sample(st, &env, &tick, &p), 0);
	assert_true(is_null(p, "page_faults_per_s"));
	cJSON_Delete(p);
	scratch_write(&s, "vmstat", "pgfault 9\npgmaj");
	tick.mono_ns += SEC;
	tick_fails(&mem_collector, st, &env, &tick, -EINVAL);
	scratch_write(&s, "vmstat", "pgfault 25\npgmajfault 1\nnew_counter 3\n");
	tick.mono_ns += SEC;
	assert_int_equal(mem_collector.sample(st, &env, &tick, &p), 0);
	assert_true(num(p, "page_faults_per_s") == 10); /* +20 over 2 s */
	assert_true(num(p, "major_faults_per_s") == 0);
	assert_true(is_null(p, "swap_in_pages_per_s")); /* no pswpin line */
	cJSON_Delete(p);
	metrics_reset(&m);
	assert_int_equal(mem_collector.metrics(st, &m), 0);
	assert_non_null(strstr(m.buf,
			       "# HELP sysfeed_vmstat_pgfault_total pgfault from /proc/vmstat.\n"
			       "# TYPE sysfeed_vmstat_pgfault_total counter\n"
			       "sysfeed_vmstat_pgfault_total 25\n"));
	assert_null(strstr(m.buf, "pswpin"));
	scratch_rm(&s, "vmstat");
	tick_fails(&mem_collector, st, &env, &tick, -ENOENT);
	mem_collector.fini(st);
	metrics_free(&m);
	scratch_remove(&s);
}

TEST(test_collector_live)
{
	cJSON *p = live_payload(&mem_collector, false);

	assert_true(num(p, "total") > 0);
	assert_true(num(p, "used") <= num(p, "total"));
	assert_true(num(p, "available") <= num(p, "total"));
	cJSON_Delete(p);
}
