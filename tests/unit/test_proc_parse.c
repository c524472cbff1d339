/* Unit tests of collectors/proc_parse.c: the stat, status and cmdline
 * parsers against the captured vm2 tree and inline malformed input, and
 * top's %CPU. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "proc_parse.h"

static int parse_stat_str(const char *text, struct proc_stat *st)
{
	return proc_stat_parse(text, strlen(text), st);
}

static int parse_stat(const char *text, size_t len, void *ret)
{
	return proc_stat_parse(text, len, ret);
}

static int parse_uid(const char *text, size_t len, void *ret)
{
	return proc_status_uid(text, len, ret);
}

/* --- stat --- */

TEST(test_stat_fixtures)
{
	static const struct {
		const char *rel;
		unsigned pid;
		const char *comm;
		char state;
		uint64_t utime, threads, starttime, rss;
		bool kthread;
	} cases[] = {
	    {"proc/2/stat", 2, "kthreadd", 'S', 0, 1, 24, 0, true},
	    {"proc/10/stat", 10, "kworker/0:0H-events_highpri", 'I', 0, 1, 24, 0, true},
	    {"proc/14/stat", 14, "ksoftirqd/0", 'S', 12, 1, 24, 0, true},
	    {"proc/30871/stat", 30871, "x) (y z)", 'S', 0, 1, 123080, 426, false},
	    {"proc/30873/stat", 30873, "sh", 'R', 110, 1, 123080, 408, false},
	    {"proc.2/30873/stat", 30873, "sh", 'R', 210, 1, 123080, 408, false},
	    {"proc/30874/stat", 30874, "python3", 'S', 2, 4, 123080, 3338, false},
	    {"proc/30875/stat", 30875, "vforkd", 'D', 0, 1, 123080, 238, false},
	    {"proc/30876/stat", 30876, "sleep", 'T', 0, 1, 123080, 391, false},
	    {"proc/30879/stat", 30879, "sleep", 'Z', 0, 1, 123080, 0, false},
	    {"proc/30882/stat", 30882, "sleep", 'S', 0, 1, 123080, 445, false},
	    {"proc.2/30882/stat", 30882, "sleep", 'S', 0, 1, 123194, 399, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_stat st;

		parse_file("vm2", cases[i].rel, parse_stat, &st);
		assert_int_equal(st.pid, cases[i].pid);
		assert_string_equal(st.comm, cases[i].comm);
		assert_int_equal(st.state, cases[i].state);
		assert_int_equal(st.utime, cases[i].utime);
		assert_int_equal(st.num_threads, cases[i].threads);
		assert_int_equal(st.starttime, cases[i].starttime);
		assert_int_equal(st.rss_pages, cases[i].rss);
		assert_int_equal(!!(st.flags & PROC_PF_KTHREAD), cases[i].kthread);
	}
}

/* 52 fields (3.5+), the state and the fields proc(5) numbers. */
#define STAT_TAIL                                                                                  \
	" 1 2 3 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 5000 1000000 250 18446744073709551615 "    \
	"1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

TEST(test_stat_shapes)
{
	/* 50 bytes, after the 13 of "kworker/u8:1-" */
	static const char long_name[] = "events_unbound_and_then_some_more_to_fill_63_bytes";
	struct proc_stat st;
	char line[512];

	assert_int_equal(parse_stat_str("42 (a b) S" STAT_TAIL, &st), 0);
	assert_int_equal(st.pid, 42);
	assert_int_equal(st.ppid, 1);
	assert_string_equal(st.comm, "a b");
	assert_int_equal(st.utime, 7);
	assert_int_equal(st.stime, 3);
	assert_int_equal(st.num_threads, 1);
	assert_int_equal(st.starttime, 5000);
	assert_int_equal(st.rss_pages, 250);
	assert_int_equal(st.flags, 4194304);

	/* comm may hold ')', '(', spaces, a newline, or nothing */
	assert_int_equal(parse_stat_str("42 ()) S (x) R 1 2) S" STAT_TAIL, &st), 0);
	assert_string_equal(st.comm, ")) S (x) R 1 2");
	assert_int_equal(st.state, 'S');
	assert_int_equal(parse_stat_str("42 (a\nb) S" STAT_TAIL, &st), 0);
	assert_string_equal(st.comm, "a\nb");
	assert_int_equal(parse_stat_str("42 () S" STAT_TAIL, &st), 0);
	assert_string_equal(st.comm, "");
	/* a 63-byte kernel thread name */
	snprintf(line, sizeof(line), "42 (kworker/u8:1-%s) I%s", long_name, STAT_TAIL);
	assert_int_equal(parse_stat_str(line, &st), 0);
	assert_int_equal(strlen(st.comm), 63);
	assert_string_equal(st.comm + 13, long_name);

	/* 2.6.18 printed 41 fields; rss is field 24 */
	assert_int_equal(
	    parse_stat_str("1 (init) S 0 1 1 0 -1 4194560 623 1289 5 9 1 12 31 7 15 0 1 0 "
			   "9 2101248 134 4294967295 134512640 134544760 3216752416 "
			   "3216751996 11788356 0 0 1475401980 671819267 3222274592 0 0 "
			   "0 0 0 0\n",
			   &st),
	    0);
	assert_int_equal(st.utime, 1);
	assert_int_equal(st.stime, 12);
	assert_int_equal(st.starttime, 9);
	assert_int_equal(st.rss_pages, 134);
	/* later kernels may append fields */
	assert_int_equal(
	    parse_stat_str("42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8 0 0 0 "
			   "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			   &st),
	    0);
	assert_int_equal(st.rss_pages, 8);
	/* fields past rss may be negative, and spaced twice */
	assert_int_equal(
	    parse_stat_str("42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8 -7  0 -100\n",
			   &st),
	    0);
	assert_int_equal(st.rss_pages, 8);
}

TEST(test_stat_malformed)
{
	static const struct parse_case cases[] = {
	    {"", -EINVAL},
	    {"\n", -EINVAL},
	    {"42 (x) S" STAT_TAIL "x", -EINVAL},                               /* after the '\n' */
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8", -EINVAL}, /* no '\n' */
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0\n", -EINVAL}, /* no rss */
	    {"42 x) S" STAT_TAIL, -EINVAL},
	    {"42 (x S" STAT_TAIL, -EINVAL},
	    {"42(x) S" STAT_TAIL, -EINVAL},
	    {"(x) S" STAT_TAIL, -EINVAL},
	    {" (x) S" STAT_TAIL, -EINVAL},
	    {"4x2 (x) S" STAT_TAIL, -EINVAL},
	    {"-42 (x) S" STAT_TAIL, -EINVAL},
	    {"0 (x) S" STAT_TAIL, -ERANGE},
	    {"4294967296 (x) S" STAT_TAIL, -ERANGE},
	    {"42 (x) " STAT_TAIL, -EINVAL},
	    {"42 (x)S" STAT_TAIL, -EINVAL},
	    {"42 (x) SS" STAT_TAIL, -EINVAL},
	    {"42 (x) 5" STAT_TAIL, -EINVAL},
	    {"42 (x) \x01" STAT_TAIL, -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5.0 6 0 0 20 0 1 0 9 0 8\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 -5 6 0 0 20 0 1 0 9 0 8\n", -EINVAL}, /* utime < 0 */
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 -1 0 9 0 8\n", -EINVAL}, /* threads < 0 */
	    {"42 (x) S 1 2 3 0 - 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8x\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5\t6 0 0 20 0 1 0 9 0 8\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 18446744073709551616 6 0 0 20 0 1 0 9 0 8\n", -ERANGE},
	    {"42 (x) S 1 2 3 0 -1 4294967296 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8\n", -ERANGE},
	    /* fields past rss, only checked: integers still */
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8 7 x 1\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8 7 - 1\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8 7 1.5\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8 7\t1\n", -EINVAL},
	    {"42 (x) S 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8 7 -\n", -EINVAL},
	    {"42 (0123456789012345678901234567890123456789012345678901234567890123) S 1 2 3 0 -1 "
	     "0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 8\n",
	     -EINVAL}, /* a 64-byte comm */
	};
	struct proc_stat st;

	parse_cases(cases, sizeof(cases) / sizeof(cases[0]), parse_stat, &st, NULL);
	/* a NUL inside comm, or in place of a separator */
	assert_int_equal(proc_stat_parse("42 (a\0b) S" STAT_TAIL, 10 + sizeof(STAT_TAIL) - 1, &st),
			 -EINVAL);
	assert_int_equal(
	    proc_stat_parse("42 (ab) S\0" STAT_TAIL + 0, 10 + sizeof(STAT_TAIL) - 1, &st), -EINVAL);
}

/* A cut stat line never parses; the whole one does. */
static void check_stat_prefix(const char *p, size_t n, size_t at, void *ctx)
{
	struct proc_stat st;
	size_t whole = *(const size_t *)ctx;

	if (n < whole)
		assert_true(proc_stat_parse(p, n, &st) < 0);
	else
		assert_int_equal(proc_stat_parse(p, n, &st), 0);
}

/* Garbage: an error or a parse, never a crash. */
static void check_stat_garbled(const char *p, size_t n, size_t at, void *ctx)
{
	struct proc_stat st;

	assert_true(proc_stat_parse(p, n, &st) <= 0);
}

/* Every prefix of every stat of the tree, in a buffer of exactly that size
 * (for ASan): only the whole line parses. Every byte replaced (by 'x' or
 * ')', and by a newline): an error or a parse, never a crash. */
TEST(test_stat_truncated)
{
	static const char *const rels[] = {"proc/30871/stat", "proc/30874/stat", "proc/10/stat",
					   "proc/30879/stat"};

	for (size_t k = 0; k < sizeof(rels) / sizeof(rels[0]); k++) {
		size_t len;
		char *text = slurp("vm2", rels[k], &len);

		each_prefix(text, len, check_stat_prefix, &len);
		each_garbled(text, len, 'x', ')', check_stat_garbled, NULL);
		each_garbled(text, len, '\n', '\n', check_stat_garbled, NULL);
		free(text);
	}
}

/* --- status --- */

TEST(test_status_uid)
{
	static const struct {
		const char *rel;
		uint32_t uid;
	} cases[] = {
	    {"proc/2/status", 0},
	    {"proc/30877/status", 65534},
	    {"proc/30878/status", 4242},
	    {"proc/30879/status", 0}, /* a zombie still has its status */
	};
	uint32_t uid;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_file("vm2", cases[i].rel, parse_uid, &uid);
		assert_int_equal(uid, cases[i].uid);
	}
	assert_int_equal(proc_status_uid("Name:\tx\nUid:\t1\t2\t3\t4\nGid:\t0\n", 30, &uid), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(proc_status_uid("Name:\tx\n", 8, &uid), -ENODATA);
	assert_int_equal(proc_status_uid("", 0, &uid), -ENODATA);
	assert_int_equal(proc_status_uid("Uid:\t1\t2\t3\n", 11, &uid), -EINVAL);
	assert_int_equal(proc_status_uid("Uid:\t1\t2\t3\t4\t5\n", 15, &uid), -EINVAL);
	assert_int_equal(proc_status_uid("Uid:\t1\tx\t3\t4\n", 13, &uid), -EINVAL);
	assert_int_equal(proc_status_uid("Uid: 1 2 3 4\n", 13, &uid), -EINVAL);
	assert_int_equal(proc_status_uid("Uid:\t1\t4294967296\t3\t4\n", 23, &uid), -EINVAL);
	assert_int_equal(proc_status_uid("Uid:\t1\t2\t3\t4", 12, &uid), -EINVAL); /* cut */
}

/* --- cmdline, UTF-8 --- */

static void check_cmd(const char *raw, size_t len, bool more, const char *comm, const char *want)
{
	char out[PROC_CMD_BUF];
	size_t n = proc_cmdline_format(raw, len, more, comm, out);

	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

TEST(test_cmdline)
{
	char raw[600], want[PROC_CMD_BUF], out[PROC_CMD_BUF];
	size_t len;
	char *text;

	check_cmd("", 0, false, "kthreadd", "[kthreadd]");
	check_cmd("\0\0", 2, false, "x", "[x]");
	check_cmd("", 0, false, "a\xff", "[a\xef\xbf\xbd]");
	check_cmd("sleep\0"
		  "1000\0",
		  11, false, "sleep", "sleep 1000");
	check_cmd("a\0\0b\0\0\0", 7, false, "x", "a  b");
	/* setproctitle pads with spaces or NULs */
	check_cmd("sshd: root@pts/0   \0\0\0", 22, false, "sshd", "sshd: root@pts/0");
	check_cmd("a\tb\nc\x7f"
		  "d",
		  8, false, "x", "a b c d");
	check_cmd("caf\xc3\xa9\0", 6, false, "x", "caf\xc3\xa9");
	check_cmd("a\xff"
		  "b",
		  3, false, "x",
		  "a\xef\xbf\xbd"
		  "b");
	/* the read stopped before the end: marked even when short */
	check_cmd("abc", 3, true, "x", "abc\xe2\x80\xa6");

	/* exactly PROC_CMD_MAX bytes fit; one more is cut to 253 + "…" */
	memset(raw, 'a', sizeof(raw));
	memset(want, 'a', PROC_CMD_MAX);
	want[PROC_CMD_MAX] = '\0';
	check_cmd(raw, PROC_CMD_MAX, false, "x", want);
	memcpy(want + PROC_CMD_MAX - 3, "\xe2\x80\xa6", 4);
	check_cmd(raw, PROC_CMD_MAX, true, "x", want);
	check_cmd(raw, PROC_CMD_MAX + 1, false, "x", want);
	memset(raw, 'a', sizeof(raw));
	len = proc_cmdline_format(raw, sizeof(raw), false, "x", out);
	assert_int_equal(len, PROC_CMD_MAX);
	assert_int_equal(strspn(out, "a"), PROC_CMD_MAX - 3);
	/* a 2-byte character across the cut is not split */
	memset(raw, 'a', sizeof(raw));
	memcpy(raw + 252, "\xc3\xa9", 2);
	len = proc_cmdline_format(raw, sizeof(raw), false, "x", out);
	assert_int_equal(len, 252 + 3);
	assert_memory_equal(out + 252, "\xe2\x80\xa6", 3);
	/* spaces before the cut go */
	memset(raw, 'a', sizeof(raw));
	memset(raw + 250, '\0', 10);
	len = proc_cmdline_format(raw, sizeof(raw), false, "x", out);
	assert_int_equal(len, 250 + 3);
	/* U+FFFD replacements count 3 bytes each */
	memset(raw, '\xff', sizeof(raw));
	len = proc_cmdline_format(raw, sizeof(raw), false, "x", out);
	assert_int_equal(len, 84 * 3 + 3);

	/* the captured 300-byte argument with a 0xff in it */
	text = slurp("vm2", "proc/30880/cmdline", &len);
	proc_cmdline_format(text, len, false, "sh", out);
	assert_int_equal(strlen(out), PROC_CMD_MAX);
	assert_non_null(strstr(out, "sh -c sleep 1000; : long aaaa"));
	assert_non_null(strstr(out, "a\xef\xbf\xbd"
				    "b"));
	free(text);
	/* a zombie's cmdline is empty */
	text = slurp("vm2", "proc/30879/cmdline", &len);
	assert_int_equal(len, 0);
	free(text);
}

TEST(test_cpu_hundredths)
{
	assert_int_equal(proc_cpu_hundredths(100, 100, SEC), 10000);
	assert_int_equal(proc_cpu_hundredths(0, 100, SEC), 0);
	assert_int_equal(proc_cpu_hundredths(1, 100, SEC), 100);
	assert_int_equal(proc_cpu_hundredths(250, 100, SEC), 25000); /* 2.5 cores */
	assert_int_equal(proc_cpu_hundredths(1, 100, 3 * SEC), 33);
	assert_int_equal(proc_cpu_hundredths(2, 100, 3 * SEC), 67);
	assert_int_equal(proc_cpu_hundredths(1, 100, 8 * SEC), 13); /* 0.125: half up */
	assert_int_equal(proc_cpu_hundredths(1, 1024, SEC), 10);    /* alpha's USER_HZ */
	assert_int_equal(proc_cpu_hundredths(UINT64_MAX, 100, 1), UINT64_MAX);
	assert_int_equal(proc_cpu_hundredths(1, 0, SEC), 0);
}
