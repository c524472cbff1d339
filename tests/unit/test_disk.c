/* Unit tests of collectors/disk.c: the /proc/diskstats parser (4, 11, 15
 * and 17 statistics) against captured and constructed fixture trees,
 * malformed and truncated files, which devices are sent (virtual, idle,
 * the `disks` list), whole disks and partitions from sysfs, the payload
 * (devices appearing and vanishing, counters going backwards), and the
 * collector over two ticks compared with golden payloads
 * (tests/fixtures/<m>/expected/disk{.1,}.json). */
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
#include "config.h"
#include "disk.h"
#include "fixture.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"

static const cJSON *dev(const cJSON *p, const char *name)
{
	return list_item(p, "disks", name);
}

static void assert_names(const cJSON *p, const char *want)
{
	assert_list_names(p, "disks", want);
}

static int parse(const char *text, size_t len, void *ret)
{
	return disk_stats_parse(text, len, ret);
}

static int parse_str(const char *text, struct disk_stats *st)
{
	return disk_stats_parse(text, strlen(text), st);
}

/* --- the parser --- */

TEST(test_parse_vm2)
{
	struct disk_stats st = {0};
	const struct disk_dev *d;

	parse_file("vm2", "proc/diskstats", parse, &st);
	assert_int_equal(st.n, 10);
	assert_string_equal(st.v[0].name, "loop0");
	/* 254 0 vda 102016 13723 5181978 47608 74426 12166 2317288 15673 1 12716
	 * 64859 13800 29 1015240 1119 13862 458 */
	d = &st.v[8];
	assert_string_equal(d->name, "vda");
	assert_int_equal(d->major, 254);
	assert_int_equal(d->minor, 0);
	assert_int_equal(d->nstats, 17);
	assert_counts("d->s", d->s,
		      (const struct want_count[]){{DISK_READS, 102016},
						  {DISK_SECTORS_READ, 5181978},
						  {DISK_READ_MS, 47608},
						  {DISK_WRITES, 74426},
						  {DISK_SECTORS_WRITTEN, 2317288},
						  {DISK_IN_FLIGHT, 1},
						  {DISK_IO_MS, 12716},
						  {DISK_WEIGHTED_MS, 64859},
						  {DISK_DISCARDS, 13800},
						  {DISK_SECTORS_DISCARDED, 1015240},
						  {DISK_FLUSHES, 13862},
						  {DISK_FLUSH_MS, 458},
						  {-1, 0}});
	assert_false(d->included);
	assert_int_equal(d->partition, DISK_PART_UNSEEN);
	assert_string_equal(st.v[9].name, "zram0");
	assert_int_equal(st.v[9].major, 253);
	disk_stats_free(&st);
}

TEST(test_parse_host16)
{
	struct disk_stats st = {0};

	parse_file("host16", "proc/diskstats", parse, &st);
	assert_int_equal(st.n, 15);
	assert_string_equal(st.v[2].name, "nvme0n1");
	assert_int_equal(st.v[2].major, 259);
	assert_true(st.v[2].s[DISK_SECTORS_WRITTEN] == UINT64_C(9876543210));
	assert_int_equal(st.v[2].s[DISK_FLUSHES], 2345678);
	assert_string_equal(st.v[3].name, "nvme0n1p1");
	assert_int_equal(st.v[3].minor, 1);
	assert_string_equal(st.v[12].name, "dm-0");
	assert_int_equal(st.v[12].s[DISK_IN_FLIGHT], 2);
	disk_stats_free(&st);
}

/* 2.6.18: 11 statistics for disks, 4 for partitions. */
TEST(test_parse_linux_2_6_18)
{
	struct disk_stats st = {0};
	const struct disk_dev *d;

	parse_file("linux-2.6.18", "proc/diskstats", parse, &st);
	assert_int_equal(st.n, 25);
	d = &st.v[17];
	assert_string_equal(d->name, "sda");
	assert_int_equal(d->nstats, 11);
	assert_int_equal(d->s[DISK_WEIGHTED_MS], 61356902);
	/* 8 2 sda2 1345678 34543200 5801234 45678433 */
	d = &st.v[19];
	assert_string_equal(d->name, "sda2");
	assert_int_equal(d->nstats, 4);
	assert_counts("d->s", d->s,
		      (const struct want_count[]){{DISK_READS, 1345678},
						  {DISK_SECTORS_READ, 34543200},
						  {DISK_WRITES, 5801234},
						  {DISK_SECTORS_WRITTEN, 45678433},
						  {DISK_READS_MERGED, 0},
						  {DISK_READ_MS, 0},
						  {-1, 0}});
	disk_stats_free(&st);
}

/* 14 fields (< 4.18), 18 (4.18+), 20 (5.5+) and 7 (partitions < 2.6.25). */
TEST(test_parse_layouts)
{
	struct disk_stats st = {0};

	assert_int_equal(parse_str("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
				   "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
				   "   8       2 sda2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"
				   "   8       3 sda3 1 2 3 4\n",
				   &st),
			 0);
	assert_int_equal(st.n, 4);
	assert_int_equal(st.v[0].nstats, 11);
	assert_int_equal(st.v[0].s[DISK_WEIGHTED_MS], 11);
	assert_int_equal(st.v[0].s[DISK_DISCARDS], 0);
	assert_int_equal(st.v[1].nstats, 15);
	assert_int_equal(st.v[1].s[DISK_DISCARD_MS], 15);
	assert_int_equal(st.v[1].s[DISK_FLUSHES], 0);
	assert_int_equal(st.v[2].nstats, 17);
	assert_int_equal(st.v[2].s[DISK_FLUSH_MS], 17);
	assert_int_equal(st.v[3].nstats, 4);
	assert_int_equal(st.v[3].s[DISK_SECTORS_WRITTEN], 4);
	assert_int_equal(st.v[3].s[DISK_WRITES], 3);
	/* empty: no devices */
	assert_int_equal(parse_str("", &st), 0);
	assert_int_equal(st.n, 0);
	/* cciss names hold a '/', dm names a '-'; 63 characters fit */
	assert_int_equal(
	    parse_str("104 0 cciss/c0d0 1 2 3 4 5 6 7 8 9 10 11\n"
		      "253 3 dm-3 0 0 0 0 0 0 0 0 0 0 0\n"
		      "1 1 abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk "
		      "0 0 0 0\n",
		      &st),
	    0);
	assert_string_equal(st.v[0].name, "cciss/c0d0");
	assert_int_equal(st.v[0].major, 104);
	assert_int_equal(strlen(st.v[2].name), 63);
	/* many devices: the array grows */
	{
		char *big = malloc(300 * 64);
		size_t off = 0;

		assert_non_null(big);
		for (int i = 0; i < 300; i++)
			off += (size_t)sprintf(big + off, "7 %d loop%d %d 0 0 0 0 0 0 0 0 0 0\n", i,
					       i, i);
		assert_int_equal(disk_stats_parse(big, off, &st), 0);
		assert_int_equal(st.n, 300);
		assert_int_equal(st.v[299].s[DISK_READS], 299);
		free(big);
	}
	disk_stats_free(&st);
	disk_stats_free(&st);
	disk_stats_free(NULL);
}

TEST(test_parse_malformed)
{
	static const struct parse_case cases[] = {
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11", -EINVAL},      /* no '\n' */
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n8 1", -EINVAL}, /* truncated line */
	    {"8 0 sda 1 2 3\n", -EINVAL},                      /* 3 statistics */
	    {"8 0 sda 1 2 3 4 5\n", -EINVAL},
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10\n", -EINVAL},
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12\n", -EINVAL},
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL},
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n", -EINVAL},
	    /* a column past the last is an error whatever it holds */
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 99999999999999999999\n", -EINVAL},
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 99999999999999999999\n", -ERANGE},
	    {"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 1234567890123456789x\n", -EINVAL},
	    {"8 0 sda\n", -EINVAL},
	    {"8 0\n", -EINVAL},
	    {"8\n", -EINVAL},
	    {"\n", -EINVAL},
	    {"   \n", -EINVAL},
	    {"x 0 sda 1 2 3 4\n", -EINVAL},
	    {"8 -1 sda 1 2 3 4\n", -EINVAL},
	    {"8 0 sda 1 2 -3 4\n", -EINVAL},
	    {"8 0 sda 1 2 3.0 4\n", -EINVAL},
	    {"8 0 sda 1 2 3 4x\n", -EINVAL},
	    {"8\t0 sda 1 2 3 4\n", -EINVAL},
	    {"8 0 sda\t1 2 3 4\n", -EINVAL},
	    {"8 0 . 1 2 3 4\n", -EINVAL},
	    {"8 0 .. 1 2 3 4\n", -EINVAL},
	    {"1 1 abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl 0 0 0 0\n",
	     -EINVAL},
	    {"8 0 sda 1 2 3 4\n\n", -EINVAL},
	    {"4294967296 0 sda 1 2 3 4\n", -ERANGE},
	    {"8 4294967296 sda 1 2 3 4\n", -ERANGE},
	    {"8 0 sda 18446744073709551616 2 3 4\n", -ERANGE},
	};
	struct disk_stats st = {0};

	parse_cases_empty(cases, sizeof(cases) / sizeof(cases[0]), parse, &st,
			  offsetof(struct disk_stats, n));
	assert_int_equal(disk_stats_parse("8 0 s\0a 1 2 3 4\n", 16, &st), -EINVAL);
	/* reusable after errors */
	assert_int_equal(parse_str("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n", &st), 0);
	assert_int_equal(st.n, 1);
	disk_stats_free(&st);
}

TEST(test_parse_truncated)
{
	struct disk_stats st = {0};

	check_cuts_proc("proc/diskstats", parse, &st, cut_at_lines, 'x');
	disk_stats_free(&st);
}

/* --- which devices --- */

TEST(test_virtual)
{
	assert_true(disk_is_virtual("ram0"));
	assert_true(disk_is_virtual("ram15"));
	assert_true(disk_is_virtual("loop0"));
	assert_true(disk_is_virtual("loop123"));
	assert_true(disk_is_virtual("zram0"));
	assert_true(disk_is_virtual("loop0p1")); /* a partition of a loop device */
	assert_false(disk_is_virtual("sda"));
	assert_false(disk_is_virtual("md127"));
	assert_false(disk_is_virtual("mmcblk0"));
	assert_false(disk_is_virtual("nvme0n1"));
	assert_false(disk_is_virtual("dm-0"));
	assert_false(disk_is_virtual(""));
}

static struct disk_dev mkdev(const char *name, uint64_t reads)
{
	struct disk_dev d = {.nstats = 11};

	snprintf(d.name, sizeof(d.name), "%s", name);
	d.s[DISK_READS] = reads;
	return d;
}

TEST(test_wanted)
{
	struct disk_dev sda = mkdev("sda", 1), loop0 = mkdev("loop0", 5), zram0 = mkdev("zram0", 0),
			idle = mkdev("sr0", 0), loop1 = mkdev("loop1", 1),
			nvme = mkdev("nvme0n1", 1);
	char err[CONFIG_ERR_LEN];
	struct config cfg;

	/* no config, or the default empty list: real devices that did I/O */
	assert_true(disk_wanted(NULL, &sda));
	assert_false(disk_wanted(NULL, &loop0));
	assert_false(disk_wanted(NULL, &idle));
	config_defaults(&cfg);
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &sda));
	assert_false(disk_wanted(&COLSET(&cfg, disk)->disks, &loop0));
	assert_false(disk_wanted(&COLSET(&cfg, disk)->disks, &zram0));
	assert_false(disk_wanted(&COLSET(&cfg, disk)->disks, &idle));
	assert_false(disk_named(&COLSET(&cfg, disk)->disks, "sda"));

	/* excluding only: virtual ones stay out, as they are not named */
	assert_int_equal(config_set(&cfg, "disks", "!sd*", err, sizeof(err)), 0);
	assert_false(disk_wanted(&COLSET(&cfg, disk)->disks, &sda));
	assert_false(disk_wanted(&COLSET(&cfg, disk)->disks, &loop0));
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &nvme));
	config_free(&cfg);

	/* naming them brings them in, idle or not; a later "!" still wins */
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "disks", "sd* loop* zram0 sr0 !loop1", err, sizeof(err)),
			 0);
	assert_true(disk_named(&COLSET(&cfg, disk)->disks, "loop1"));
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &sda));
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &loop0));
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &zram0));
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &idle));
	assert_false(disk_wanted(&COLSET(&cfg, disk)->disks, &loop1));
	assert_false(disk_wanted(&COLSET(&cfg, disk)->disks, &nvme)); /* not listed */
	config_free(&cfg);

	/* "*" names everything */
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "disks", "*", err, sizeof(err)), 0);
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &loop0));
	assert_true(disk_wanted(&COLSET(&cfg, disk)->disks, &idle));
	config_free(&cfg);
}

/* --- payloads --- */

TEST(test_payload)
{
	struct disk_stats a = {0}, b = {0}, c = {0};
	const cJSON *e;
	cJSON *p;

	/* sda: 100 reads of 800 sectors taking 300 ms, 50 writes of 400
	 * sectors taking 200 ms, busy 400 ms, 1000 ms weighted, in 2 s */
	assert_int_equal(parse_str("8 0 sda 1000 0 8000 3000 500 0 4000 2000 0 4000 10000\n"
				   "8 1 sda1 100 200 300 400\n"
				   "8 16 sdb 5 0 5 5 5 0 5 5 0 5 5\n"
				   "8 32 sdc 1 0 1 1 1 0 1 1 0 1 1\n",
				   &a),
			 0);
	assert_int_equal(parse_str("8 0 sda 1100 0 8800 3300 550 0 4400 2200 2 4400 11000\n"
				   "8 1 sda1 110 280 305 440\n"
				   "8 48 sdd 1 0 1 1 1 0 1 1 0 1 1\n"
				   "8 17 sdb 6 0 6 6 6 0 6 6 0 6 6\n"
				   "8 32 sdc 0 0 0 0 1 0 1 1 0 1 1\n",
				   &b),
			 0);
	a.mono_ns = 5 * SEC;
	b.mono_ns = 7 * SEC;
	for (size_t i = 0; i < a.n; i++)
		a.v[i].included = true;
	for (size_t i = 0; i < b.n; i++)
		b.v[i].included = true;
	b.v[0].partition = 0;
	b.v[1].partition = 1;
	b.v[2].partition = -1;

	/* the first tick: totals and in_flight, every rate null */
	assert_int_equal(disk_build_payload(NULL, &a, T1, &p), 0);
	assert_true(num(p, "t") == (double)T1);
	assert_names(p, "sda,sda1,sdb,sdc");
	e = dev(p, "sda");
	assert_true(is_null(e, "read_bytes_per_s"));
	assert_true(is_null(e, "busy_pct"));
	assert_true(is_null(e, "await_ms"));
	assert_true(num(e, "in_flight") == 0);
	assert_true(num(e, "read_bytes") == 8000 * 512);
	assert_true(num(e, "reads") == 1000);
	assert_true(is_null(e, "partition")); /* not looked up */
	assert_true(is_null(dev(p, "sda1"), "in_flight"));
	cJSON_Delete(p);

	assert_int_equal(disk_build_payload(&a, &b, T2, &p), 0);
	/* sdd appeared; sdb's number changed (another device): no rates */
	assert_names(p, "sda,sda1,sdd,sdb,sdc");
	e = dev(p, "sda");
	assert_true(cJSON_IsFalse(get(e, "partition")));
	assert_true(num(e, "read_bytes_per_s") == 800 * 512 / 2);
	assert_true(num(e, "write_bytes_per_s") == 400 * 512 / 2);
	assert_true(num(e, "read_iops") == 50);
	assert_true(num(e, "write_iops") == 25);
	assert_true(num(e, "busy_pct") == 20);
	assert_true(num(e, "await_ms") == 3.33); /* 500 ms / 150 I/Os */
	assert_true(num(e, "queue_depth") == 0.5);
	assert_true(num(e, "in_flight") == 2);
	/* a 2.6 partition: bytes and IOPS only */
	e = dev(p, "sda1");
	assert_true(cJSON_IsTrue(get(e, "partition")));
	assert_true(num(e, "read_iops") == 5);
	assert_true(num(e, "read_bytes_per_s") == 80 * 512 / 2);
	assert_true(num(e, "write_iops") == 2.5);
	assert_true(num(e, "write_bytes_per_s") == 40 * 512 / 2);
	assert_true(is_null(e, "busy_pct"));
	assert_true(is_null(e, "await_ms"));
	assert_true(is_null(e, "queue_depth"));
	assert_true(is_null(e, "in_flight"));
	assert_true(is_null(dev(p, "sdd"), "read_iops"));
	assert_true(is_null(dev(p, "sdd"), "partition"));
	assert_true(num(dev(p, "sdd"), "reads") == 1);
	assert_true(is_null(dev(p, "sdb"), "read_iops"));
	/* sdc's reads went backwards: those rates and await are null */
	e = dev(p, "sdc");
	assert_true(is_null(e, "read_iops"));
	assert_true(is_null(e, "read_bytes_per_s"));
	assert_true(is_null(e, "await_ms"));
	assert_true(num(e, "write_iops") == 0);
	assert_true(num(e, "busy_pct") == 0);
	cJSON_Delete(p);

	/* no I/O: await 0 like iostat; busy capped at 100 (io_ticks run in
	 * jiffies); a clock that did not move: null */
	assert_int_equal(parse_str("8 0 sda 1100 0 8800 3300 550 0 4400 2200 0 6500 11000\n", &c),
			 0);
	c.v[0].included = true;
	c.mono_ns = 9 * SEC;
	assert_int_equal(disk_build_payload(&b, &c, T2, &p), 0);
	assert_names(p, "sda");
	assert_true(num(dev(p, "sda"), "await_ms") == 0);
	assert_true(num(dev(p, "sda"), "busy_pct") == 100);
	assert_true(num(dev(p, "sda"), "in_flight") == 0);
	cJSON_Delete(p);
	c.mono_ns = b.mono_ns;
	assert_int_equal(disk_build_payload(&b, &c, T2, &p), 0);
	assert_true(is_null(dev(p, "sda"), "read_iops"));
	assert_true(is_null(dev(p, "sda"), "await_ms"));
	cJSON_Delete(p);

	/* devices not included are left out */
	b.v[0].included = false;
	b.v[2].included = false;
	assert_int_equal(disk_build_payload(&a, &b, T2, &p), 0);
	assert_names(p, "sda1,sdb,sdc");
	cJSON_Delete(p);

	/* rounding: 1 read of 1 sector in 3 s */
	assert_int_equal(parse_str("8 0 sda 0 0 0 0 0 0 0 0 0 0 0\n", &a), 0);
	assert_int_equal(parse_str("8 0 sda 1 0 1 1 0 0 0 0 0 1 1\n", &b), 0);
	a.mono_ns = 0;
	b.mono_ns = 3 * SEC;
	b.v[0].included = true;
	assert_int_equal(disk_build_payload(&a, &b, T2, &p), 0);
	assert_true(num(dev(p, "sda"), "read_iops") == 0.33);
	assert_true(num(dev(p, "sda"), "read_bytes_per_s") == 170.67);
	assert_true(num(dev(p, "sda"), "busy_pct") == 0.03);
	assert_true(num(dev(p, "sda"), "await_ms") == 1);
	cJSON_Delete(p);
	disk_stats_free(&a);
	disk_stats_free(&b);
	disk_stats_free(&c);
}

/* --- the collector --- */

static void test_collector(void **state)
{
	const char *machine = *state;
	struct run r;
	cJSON *p;

	run_start(&r, &disk_collector, machine);
	run_goldens(&r, 5 * SEC, "disk.1.json", "disk.json", "disk.prom");
	/* back to the older file: counters went backwards, rates null */
	run_trees(&r, 0);
	p = run_tick(&r, T2, 7 * SEC);
	assert_true(cJSON_GetArraySize(get(p, "disks")) > 0);
	cJSON_Delete(p);
	run_end(&r);
}

MACHINE_TEST(test_collector, "vm2");
MACHINE_TEST(test_collector, "host16");
MACHINE_TEST(test_collector, "linux-2.6.18");

/* The `disks` list at every tick: virtual and idle devices when named. */
TEST(test_collector_config)
{
	int p1 = open_dir("host16", "proc"), sys = open_dir("host16", "sys");
	struct config cfg;
	struct collector_env env = {.proc_fd = p1, .sys_fd = sys};
	struct collector_tick t = {.t_ms = T1, .mono_ns = 5 * SEC};
	char reason[256], err[CONFIG_ERR_LEN];
	void *st = NULL;
	cJSON *p = NULL;

	config_defaults(&cfg);
	assert_int_equal(disk_collector.init(&env, cfg.col[collector_topic(disk_collector.name)],
					     &st, reason, sizeof(reason)),
			 0);
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "nvme0n1,nvme0n1p1,nvme0n1p2,sda,sda1,sda2,sdb,sdb1,md0,dm-0,dm-1");
	cJSON_Delete(p);

	assert_int_equal(config_set(&cfg, "disks", "!*[0-9]", err, sizeof(err)), 0);
	t.mono_ns += SEC;
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "sda,sdb");
	cJSON_Delete(p);

	/* the collector keeps its settings block: a new list replaces the old in place */
	assert_int_equal(config_set(&cfg, "disks", "loop* zram0 sr0 nvme0n1", err, sizeof(err)), 0);
	t.mono_ns += SEC;
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "loop0,loop1,nvme0n1,sr0,zram0");
	/* looked up when first included; a loop device is a whole disk */
	assert_true(cJSON_IsFalse(get(dev(p, "loop0"), "partition")));
	assert_true(num(dev(p, "loop0"), "read_iops") == 0);
	assert_true(num(dev(p, "zram0"), "reads") == 23456);
	cJSON_Delete(p);
	disk_collector.fini(st);
	config_free(&cfg);
	close(p1);
	close(sys);
}

/* Partition or whole disk, from the sysfs layouts of several eras. */
TEST(test_collector_partitions)
{
	static const char *const stats = "8 0 sda 1 0 1 1 0 0 0 0 0 1 1\n"
					 "8 1 sda1 1 0 1 1 0 0 0 0 0 1 1\n"
					 "104 0 cciss/c0d0 1 0 1 1 0 0 0 0 0 1 1\n"
					 "104 1 cciss/c0d0p1 1 0 1 1 0 0 0 0 0 1 1\n";
	struct scratch proc, sys;
	struct collector_env env;
	struct collector_tick t = {.t_ms = T1, .mono_ns = SEC};
	void *st = NULL;
	cJSON *p = NULL;

	scratch_make(&proc, "disk");
	scratch_make(&sys, "disk");
	env = (struct collector_env){.proc_fd = proc.fd, .sys_fd = sys.fd};
	scratch_write(&proc, "diskstats", stats);

	/* no sysfs: unknown */
	st = init_check(&disk_collector, &env, 0, NULL);
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "sda,sda1,cciss/c0d0,cciss/c0d0p1");
	assert_true(is_null(dev(p, "sda"), "partition"));
	assert_true(is_null(dev(p, "sda1"), "partition"));
	cJSON_Delete(p);
	/* asked once per device: sysfs appearing later changes nothing */
	scratch_write(&sys, "block/sda/dev", "8:0\n");
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_true(is_null(dev(p, "sda"), "partition"));
	cJSON_Delete(p);
	disk_collector.fini(st);

	/* sysfs before /sys/class/block (and 2.6.25+ 11-field partitions):
	 * a partition is not in block/, it sits under its disk */
	scratch_write(&sys, "block/sda/sda1/dev", "8:1\n");
	scratch_write(&sys, "block/cciss!c0d0/dev", "104:0\n");
	st = init_check(&disk_collector, &env, 0, NULL);
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_true(cJSON_IsFalse(get(dev(p, "sda"), "partition")));
	assert_true(cJSON_IsTrue(get(dev(p, "sda1"), "partition")));
	assert_true(cJSON_IsFalse(get(dev(p, "cciss/c0d0"), "partition")));
	assert_true(cJSON_IsTrue(get(dev(p, "cciss/c0d0p1"), "partition")));
	cJSON_Delete(p);
	disk_collector.fini(st);

	/* with /sys/class/block: its partition attribute decides, and a
	 * device in neither place went away meanwhile (unknown) */
	scratch_write(&sys, "class/block/sda1/partition", "1\n");
	scratch_write(&sys, "class/block/cciss!c0d0p1/partition", "1\n");
	scratch_write(&proc, "diskstats", "8 2 sda2 1 0 1 1 0 0 0 0 0 1 1\n");
	st = init_check(&disk_collector, &env, 0, NULL);
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_true(is_null(dev(p, "sda2"), "partition"));
	cJSON_Delete(p);
	/* sda2 vanished, the others appeared */
	scratch_write(&proc, "diskstats", stats);
	t.mono_ns += SEC;
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "sda,sda1,cciss/c0d0,cciss/c0d0p1");
	assert_true(cJSON_IsFalse(get(dev(p, "sda"), "partition")));
	assert_true(cJSON_IsTrue(get(dev(p, "sda1"), "partition")));
	assert_true(cJSON_IsTrue(get(dev(p, "cciss/c0d0p1"), "partition")));
	assert_true(is_null(dev(p, "sda"), "read_iops"));
	cJSON_Delete(p);

	/* a bad tick keeps the last good reading */
	scratch_write(&proc, "diskstats", "8 0 sda 1 0 1");
	tick_fails(&disk_collector, st, &env, &t, -EINVAL);
	scratch_write(&proc, "diskstats", "8 0 sda 5 0 1 1 0 0 0 0 0 1 1\n");
	t.mono_ns += 2 * SEC;
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	assert_true(num(dev(p, "sda"), "read_iops") == 2);
	cJSON_Delete(p);
	disk_collector.fini(st);
	scratch_remove(&proc);
	scratch_remove(&sys);
}

/* A partition line of kernels before 2.6.25 has four statistics: reads,
 * sectors read, writes, sectors written. /metrics shows those four for it
 * and none of the times or the I/Os in flight it lacks (it used to leave
 * out the writes and report a read time of 0). */
TEST(test_metrics_old_partition)
{
	struct scratch proc;
	struct collector_env env = {.sys_fd = -1};
	struct collector_tick t = {.t_ms = T1, .mono_ns = SEC};
	struct metrics m = {0};
	void *st = NULL;
	cJSON *p = NULL;

	scratch_make(&proc, "disk");
	env.proc_fd = proc.fd;
	scratch_write(&proc, "diskstats",
		      "8 0 sda 1 0 2 3 4 0 5 6 7 8 9\n"
		      "8 1 sda1 10 20 30 40\n");
	st = init_check(&disk_collector, &env, 0, NULL);
	assert_int_equal(disk_collector.sample(st, &env, &t, &p), 0);
	cJSON_Delete(p);
	assert_int_equal(disk_collector.metrics(st, &m), 0);
	assert_non_null(strstr(m.buf, "\nnode_disk_read_bytes_total{device=\"sda1\"} 10240\n"));
	assert_non_null(strstr(m.buf, "\nnode_disk_reads_completed_total{device=\"sda1\"} 10\n"));
	assert_non_null(strstr(m.buf, "\nnode_disk_written_bytes_total{device=\"sda1\"} 20480\n"));
	assert_non_null(strstr(m.buf, "\nnode_disk_writes_completed_total{device=\"sda1\"} 30\n"));
	assert_non_null(
	    strstr(m.buf, "\nnode_disk_read_time_seconds_total{device=\"sda\"} 0.003\n"));
	assert_null(strstr(m.buf, "_seconds_total{device=\"sda1\"}"));
	assert_null(strstr(m.buf, "node_disk_io_now{device=\"sda1\"}"));
	metrics_free(&m);
	disk_collector.fini(st);
	scratch_remove(&proc);
}

TEST(test_collector_errors)
{
	struct scratch s;
	struct collector_env env;

	scratch_env(&s, "disk", false, &env);
	init_fails(&disk_collector, &s, &env,
		   (const struct init_fail[]){
		       {NULL, NULL, -ENOENT, "/proc/diskstats: No such file or directory"},
		       {"diskstats", "8 0 sda 1 2 3 4 5\n", -EINVAL,
			"/proc/diskstats: unexpected contents (Invalid argument)"},
		       {NULL}});
	disk_collector.fini(NULL);
	scratch_remove(&s);
}

TEST(test_collector_live)
{
	struct run r;
	const cJSON *e;
	cJSON *p;

	run_live(&r, &disk_collector, true, false);
	for (int i = 0; i < 2; i++) {
		p = run_tick(&r, T1, clock_mono_ns());
		cJSON_ArrayForEach(e, get(p, "disks"))
		{
			assert_false(disk_is_virtual(get(e, "name")->valuestring));
			assert_true(cJSON_IsBool(get(e, "partition")));
			if (i == 1) {
				assert_true(num(e, "busy_pct") >= 0 && num(e, "busy_pct") <= 100);
				assert_true(num(e, "read_bytes_per_s") >= 0);
			}
		}
		cJSON_Delete(p);
	}
	run_end(&r);
}

LIVE_COST(&disk_collector, true, false);
