/* Unit tests of collectors/procfs.c: reads, parsing, rates, and the one
 * UTF-8 sanitiser host text goes through on its way to JSON (and the
 * registry table, the other piece of collector plumbing). */
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
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"
#include "fixture.h"
#include "procfs.h"
#include "json.h"
#include "utf8.h"

/* A scratch directory holding one file of n bytes ('a'..'z' repeated). */
static void scratch_file(struct scratch *s, size_t n)
{
	char *data = malloc(n + 1);

	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	data[n] = '\0';
	scratch_make(s, "test");
	scratch_write(s, "file", data);
	free(data);
}

TEST(test_read_fixture)
{
	struct procfs_buf buf = {0};
	int fd = open_dir("vm2", "proc");

	assert_int_equal(procfs_read(fd, "loadavg", &buf, 4096), 0);
	assert_string_equal(buf.data, "0.01 0.03 0.01 1/82 2851\n");
	assert_int_equal(buf.len, 25);
	assert_int_equal(buf.data[buf.len], '\0');

	/* the same buffer serves a bigger file, then a smaller one again */
	assert_int_equal(procfs_read(fd, "meminfo", &buf, 1 << 20), 0);
	assert_int_equal(buf.len, 1503);
	assert_int_equal(strlen(buf.data), buf.len);
	assert_memory_equal(buf.data, "MemTotal:       24684084 kB\n", 28);
	assert_int_equal(procfs_read(fd, "uptime", &buf, 4096), 0);
	assert_string_equal(buf.data, "250.56 472.79\n");

	procfs_buf_free(&buf);
	assert_null(buf.data);
	assert_int_equal(buf.cap, 0);
	procfs_buf_free(&buf);
	procfs_buf_free(NULL);
	close(fd);
}

/* Live /proc files report st_size 0: only reading to EOF gets them. */
TEST(test_read_live_proc)
{
	struct procfs_buf buf = {0};
	struct stat st;
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstatat(fd, "stat", &st, 0), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(procfs_read(fd, "stat", &buf, 8 << 20), 0);
	assert_true(buf.len > 100);
	assert_memory_equal(buf.data, "cpu ", 4);
	assert_non_null(strstr(buf.data, "\nctxt "));
	assert_int_equal(buf.data[buf.len - 1], '\n');
	procfs_buf_free(&buf);
	close(fd);
}

TEST(test_read_limits)
{
	struct procfs_buf buf = {0};
	struct scratch s;

	scratch_file(&s, 10000);
	/* exactly max bytes fit; one more does not */
	assert_int_equal(procfs_read(s.fd, "file", &buf, 10000), 0);
	assert_int_equal(buf.len, 10000);
	assert_int_equal(buf.data[9999], 'a' + 9999 % 26);
	assert_int_equal(buf.data[10000], '\0');
	assert_int_equal(procfs_read(s.fd, "file", &buf, 9999), -EFBIG);
	assert_int_equal(buf.len, 0);
	assert_int_equal(procfs_read(s.fd, "file", &buf, 10), -EFBIG);
	procfs_buf_free(&buf);
	/* a fresh buffer never grows past the limit */
	assert_int_equal(procfs_read(s.fd, "file", &buf, 100), -EFBIG);
	assert_true(buf.cap <= 102);
	procfs_buf_free(&buf);
	scratch_remove(&s);

	scratch_file(&s, 0);
	assert_int_equal(procfs_read(s.fd, "file", &buf, 0), 0);
	assert_int_equal(buf.len, 0);
	assert_string_equal(buf.data, "");
	scratch_remove(&s);

	assert_int_equal(procfs_read(AT_FDCWD, "/nonexistent/sysfeed", &buf, 100), -ENOENT);
	assert_int_equal(procfs_read(-1, "relative", &buf, 100), -EBADF);
	assert_int_equal(procfs_read(AT_FDCWD, "/", &buf, 100), -EISDIR);
	procfs_buf_free(&buf);
}

TEST(test_reason)
{
	char reason[128];

	procfs_reason(reason, sizeof(reason), "stat", -ENOENT, false);
	assert_string_equal(reason, "/proc/stat: No such file or directory");
	procfs_reason(reason, sizeof(reason), "meminfo", -EINVAL, true);
	assert_string_equal(reason, "/proc/meminfo: unexpected contents (Invalid argument)");
	procfs_reason(reason, 8, "stat", -EACCES, false);
	assert_string_equal(reason, "/proc/s");
	procfs_reason(NULL, 0, "stat", -EACCES, false);
}

TEST(test_lines_and_tokens)
{
	const char text[] = "cpu  1 2\n\nlast";
	const char *p = text, *end = text + strlen(text), *line, *tok, *q;
	size_t len, tok_len;

	assert_int_equal(procfs_next_line(&p, end, &line, &len), 1);
	assert_int_equal(len, 8);
	assert_memory_equal(line, "cpu  1 2", 8);
	q = line;
	assert_int_equal(procfs_next_token(&q, line + len, &tok, &tok_len), 1);
	assert_true(procfs_token_is(tok, tok_len, "cpu"));
	assert_false(procfs_token_is(tok, tok_len, "cpu0"));
	assert_false(procfs_token_is(tok, tok_len, "cp"));
	assert_int_equal(procfs_next_token(&q, line + len, &tok, &tok_len), 1);
	assert_true(procfs_token_is(tok, tok_len, "1"));
	assert_int_equal(procfs_next_token(&q, line + len, &tok, &tok_len), 1);
	assert_true(procfs_token_is(tok, tok_len, "2"));
	assert_int_equal(procfs_next_token(&q, line + len, &tok, &tok_len), 0);

	assert_int_equal(procfs_next_line(&p, end, &line, &len), 1);
	assert_int_equal(len, 0);
	/* "last" has no '\n': the file was cut */
	assert_int_equal(procfs_next_line(&p, end, &line, &len), -EINVAL);

	p = end;
	assert_int_equal(procfs_next_line(&p, end, &line, &len), 0);
	q = "   ";
	assert_int_equal(procfs_next_token(&q, q + 3, &tok, &tok_len), 0);
}

/* Lines seen by procfs_each_line, joined by '|'; the line "bad" fails
 * with -ERANGE. */
static int join_line(void *ctx, const char *line, size_t len)
{
	char *seen = ctx;

	if (len == 3 && memcmp(line, "bad", 3) == 0)
		return -ERANGE;
	snprintf(seen + strlen(seen), 64 - strlen(seen), "%s%.*s", seen[0] ? "|" : "", (int)len,
		 line);
	return 0;
}

TEST(test_each_line)
{
	static const struct {
		const char *text, *seen;
		int r;
	} cases[] = {
	    {"", "", 0},
	    {"a b\n\nc\n", "a b||c", 0},
	    {"a\nlast", "a", -EINVAL},     /* "last" has no '\n': the file was cut */
	    {"a\nbad\nc\n", "a", -ERANGE}, /* the first error stops */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		char seen[64] = "";

		assert_case(i, t, procfs_each_line(t, t + strlen(t), join_line, seen), cases[i].r);
		assert_string_equal(seen, cases[i].seen);
	}
}

static int u64(const char *s, uint64_t *v)
{
	return procfs_parse_u64(s, strlen(s), v);
}

TEST(test_parse_u64)
{
	static const char *const bad[] = {"",   "-1",   "+1",  " 1",      "1 ",
					  "1a", "0x10", "1.0", "\xd9\xa1"};
	uint64_t v = 7;

	assert_int_equal(u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(u64("000123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(u64("99999999999999999999999", &v), -ERANGE);
	assert_true(v == UINT64_MAX); /* untouched on error */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(u64(bad[i], &v), -EINVAL);
	/* only len bytes count */
	assert_int_equal(procfs_parse_u64("12345", 2, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(procfs_parse_u64("1\0002", 3, &v), -EINVAL);
}

/* Numbers of a line one after the other, each judged as a token. */
TEST(test_next_u64)
{
	static const char line[] = "  0 12   1234567890123456789 18446744073709551615 7   ";
	const char *p = line, *end = line + sizeof(line) - 1;
	const uint64_t want[] = {0, 12, UINT64_C(1234567890123456789), UINT64_MAX, 7};
	static const struct {
		const char *text;
		int r;
	} bad[] = {
	    {"18446744073709551616", -ERANGE},
	    {"99999999999999999999x", -ERANGE},
	    {"1234567890123456789x", -EINVAL},
	    {"1x", -EINVAL},
	    {"-1", -EINVAL},
	    {"1\t2", -EINVAL},
	};
	uint64_t v = 9;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(procfs_next_u64(&p, end, &v), 1);
		assert_true(v == want[i]);
	}
	assert_int_equal(procfs_next_u64(&p, end, &v), 0);
	assert_ptr_equal(p, end);
	/* only up to end: "12" of "123" */
	p = line + 4;
	assert_int_equal(procfs_next_u64(&p, line + 6, &v), 1);
	assert_int_equal(v, 12);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = bad[i].text;
		assert_int_equal(procfs_next_u64(&p, p + strlen(p), &v), bad[i].r);
	}
}

static int fixed(const char *s, unsigned decimals, uint64_t *v)
{
	return procfs_parse_fixed(s, strlen(s), decimals, v);
}

TEST(test_parse_fixed)
{
	static const char *const bad[] = {"",     ".5",    "5.",   "1..2", "1.2.3", "a.b",
					  "-1.0", "1.234", "1,50", " 1.5", "1.5 ",  "1e3"};
	uint64_t v = 0;

	assert_int_equal(fixed("0.52", 2, &v), 0);
	assert_int_equal(v, 52);
	assert_int_equal(fixed("1234.56", 2, &v), 0);
	assert_int_equal(v, 123456);
	assert_int_equal(fixed("12", 2, &v), 0);
	assert_int_equal(v, 1200);
	assert_int_equal(fixed("1.5", 2, &v), 0);
	assert_int_equal(v, 150);
	assert_int_equal(fixed("7.05", 2, &v), 0);
	assert_int_equal(v, 705);
	assert_int_equal(fixed("3", 0, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(fixed("3.1", 0, &v), -EINVAL);
	assert_int_equal(fixed("184467440737095516.15", 2, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(fixed("184467440737095516.16", 2, &v), -ERANGE);
	assert_int_equal(fixed("184467440737095517", 2, &v), -ERANGE);
	assert_int_equal(fixed("1", 10, &v), -EINVAL);
	/* 19 digits with the decimals added, read in one pass, and 20 */
	assert_int_equal(fixed("99999999999999999", 2, &v), 0);
	assert_true(v == UINT64_C(9999999999999999900));
	assert_int_equal(fixed("9999999999999999999", 0, &v), 0);
	assert_true(v == UINT64_C(9999999999999999999));
	assert_int_equal(fixed("9999999999999999999", 1, &v), -ERANGE);
	assert_int_equal(fixed("99999999999999999.9", 2, &v), 0);
	assert_true(v == UINT64_C(9999999999999999990));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fixed(bad[i], 2, &v), -EINVAL);
}

TEST(test_kb_to_bytes)
{
	uint64_t v;

	assert_int_equal(procfs_kb_to_bytes(24684084, &v), 0);
	assert_int_equal(v, UINT64_C(25276502016));
	assert_int_equal(procfs_kb_to_bytes(UINT64_MAX / 1024, &v), 0);
	assert_int_equal(procfs_kb_to_bytes(UINT64_MAX / 1024 + 1, &v), -ERANGE);
}

TEST(test_delta)
{
	uint64_t d = 99;

	assert_int_equal(procfs_delta(10, 15, &d), 0);
	assert_int_equal(d, 5);
	assert_int_equal(procfs_delta(10, 10, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(procfs_delta(UINT64_MAX - 1, UINT64_MAX, &d), 0);
	assert_int_equal(d, 1);
	d = 99;
	assert_int_equal(procfs_delta(15, 10, &d), -ERANGE);
	assert_int_equal(d, 99);
}

TEST(test_counter_rate)
{
	struct procfs_counter c = {0};
	const uint64_t s = 1000000000;
	double rate = -1;

	/* the first reading has no rate */
	assert_int_equal(procfs_counter_rate(&c, 1000, 5 * s, &rate), 0);
	assert_true(rate == -1);
	/* 500 more over half a second */
	assert_int_equal(procfs_counter_rate(&c, 1500, 5 * s + s / 2, &rate), 1);
	assert_true(rate == 1000.0);
	/* a reset skips one delta, then rates resume from the new base */
	rate = -1;
	assert_int_equal(procfs_counter_rate(&c, 20, 6 * s, &rate), 0);
	assert_true(rate == -1);
	assert_int_equal(procfs_counter_rate(&c, 320, 7 * s, &rate), 1);
	assert_true(rate == 300.0);
	/* a clock that did not move gives no rate rather than a division by 0 */
	rate = -1;
	assert_int_equal(procfs_counter_rate(&c, 400, 7 * s, &rate), 0);
	assert_true(rate == -1);
	assert_int_equal(procfs_counter_rate(&c, 400, 9 * s, &rate), 1);
	assert_true(rate == 0.0);
	assert_int_equal(c.value, 400);
	assert_true(c.valid);
}

TEST(test_rate_hundredths)
{
	double r = -1;

	assert_int_equal(procfs_rate_hundredths(100, 400, UINT64_C(1000000000), &r), 1);
	assert_true(r == 300);
	/* half a second: per second doubles */
	assert_int_equal(procfs_rate_hundredths(0, 3, UINT64_C(500000000), &r), 1);
	assert_true(r == 6);
	/* rounded half up to hundredths: 1/3, 2/3, 1/8 = 0.125, 1/200 */
	assert_int_equal(procfs_rate_hundredths(0, 1, UINT64_C(3000000000), &r), 1);
	assert_true(r == 0.33);
	assert_int_equal(procfs_rate_hundredths(0, 2, UINT64_C(3000000000), &r), 1);
	assert_true(r == 0.67);
	assert_int_equal(procfs_rate_hundredths(0, 1, UINT64_C(8000000000), &r), 1);
	assert_true(r == 0.13);
	assert_int_equal(procfs_rate_hundredths(0, 1, UINT64_C(200000000000), &r), 1);
	assert_true(r == 0.01);
	assert_int_equal(procfs_rate_hundredths(0, 1, UINT64_C(200000000001), &r), 1);
	assert_true(r == 0);
	/* no change is a rate of 0 */
	assert_int_equal(procfs_rate_hundredths(5, 5, 1, &r), 1);
	assert_true(r == 0);
	/* backwards, or no time: none, *ret untouched */
	r = -1;
	assert_int_equal(procfs_rate_hundredths(5, 4, UINT64_C(1000000000), &r), 0);
	assert_int_equal(procfs_rate_hundredths(4, 5, 0, &r), 0);
	assert_true(r == -1);
	/* the whole range */
	assert_int_equal(procfs_rate_hundredths(0, UINT64_MAX, 1, &r), 1);
	assert_true(r > 1e28);
}

#define FFFD "\xef\xbf\xbd"

static void check_utf8(const char *in, size_t len, const char *want)
{
	char out[64];

	assert_int_equal(utf8_sanitize(in, len, out), strlen(want));
	assert_string_equal(out, want);
}

/* Every ill-formed maximal subpart is one U+FFFD, as browsers and Python
 * decode (checked against bytes.decode("utf-8", "replace")). */
TEST(test_utf8_sanitize)
{
	check_utf8("abc", 3, "abc");
	check_utf8("", 0, "");
	check_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
		   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	check_utf8("a\xff"
		   "b",
		   3, "a" FFFD "b");
	check_utf8("\xc0\xaf", 2, FFFD FFFD);                   /* overlong '/' */
	check_utf8("\xe0\x80\xaf", 3, FFFD FFFD FFFD);          /* overlong */
	check_utf8("\xed\xa0\x80", 3, FFFD FFFD FFFD);          /* surrogate */
	check_utf8("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD); /* past U+10FFFF */
	check_utf8("\xe2\x82", 2, FFFD);                        /* cut at the end: one */
	check_utf8("\xe2\x82x", 3, FFFD "x");                   /* maximal subpart: one */
	check_utf8("\xf0\x9f\x98x", 4, FFFD "x");
	check_utf8("\x80\xbf", 2, FFFD FFFD);
	check_utf8("\xf5", 1, FFFD);
	/* NUL cannot live in a C string: U+FFFD too */
	check_utf8("a\0b", 3, "a" FFFD "b");
	/* control characters are valid: JSON escapes them */
	check_utf8("\x01\n", 2, "\x01\n");
}

TEST(test_json_width)
{
	assert_int_equal(json_width('a'), 1);
	assert_int_equal(json_width(0x7f), 1);
	assert_int_equal(json_width(0xc3), 1);
	assert_int_equal(json_width('"'), 2);
	assert_int_equal(json_width('\\'), 2);
	assert_int_equal(json_width('\n'), 2);
	assert_int_equal(json_width('\t'), 2);
	assert_int_equal(json_width(0x01), 6);
	assert_int_equal(json_width(0x1f), 6);
	/* as cJSON writes it */
	for (unsigned c = 1; c < 256; c++) {
		char in[2] = {(char)c, '\0'};
		cJSON *str = cJSON_CreateString(in);
		char *out = cJSON_PrintUnformatted(str);

		assert_int_equal(strlen(out) - 2, json_width((unsigned char)c));
		free(out);
		cJSON_Delete(str);
	}
}

static char *dup_cut(const char *in, size_t len, size_t max, bool *cut)
{
	char *out = NULL;

	assert_int_equal(utf8_dup(in, len, max, &out, cut), 0);
	assert_non_null(out);
	return out;
}

static void check_dup(const char *in, size_t len, size_t max, const char *want, bool want_cut)
{
	bool cut = !want_cut;
	char *out = dup_cut(in, len, max, &cut);

	assert_string_equal(out, want);
	assert_int_equal(cut, want_cut);
	free(out);
}

/* The cut counts JSON-escaped bytes and falls on a character boundary. */
TEST(test_utf8_dup)
{
	bool cut = true;
	char *out;
	cJSON *str;

	check_dup("a\xff\0b", 4, 100, "a" FFFD FFFD "b", false);
	check_dup("a\xc3\xa9z", 4, 2, "a", true);
	check_dup("a\xc3\xa9z", 4, 3, "a\xc3\xa9", true);
	check_dup("a\xc3\xa9z", 4, 4, "a\xc3\xa9z", false);
	check_dup("ab\xff", 3, 4, "ab", true);
	/* quotes and backslashes take two */
	check_dup("\"\\\"\\", 4, 7, "\"\\\"", true);
	/* 4,096 control characters in 4,096 wire bytes: 682 of them */
	{
		char ctl[4096];

		memset(ctl, 0x01, sizeof(ctl));
		out = dup_cut(ctl, sizeof(ctl), 4096, &cut);
		assert_int_equal(strlen(out), 682);
		assert_true(cut);
		str = cJSON_CreateString(out);
		free(out);
		out = cJSON_PrintUnformatted(str);
		assert_true(strlen(out) - 2 <= 4096);
		assert_int_equal(strlen(out) - 2, 682 * 6);
		free(out);
		cJSON_Delete(str);
	}
	out = dup_cut("x", 1, 0, NULL);
	assert_string_equal(out, "");
	free(out);
}

/* Host text reaches JSON as valid UTF-8; NULL is null. */
TEST(test_json_str)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	char *s;

	assert_int_equal(json_str(o, "bad", "f\xff\xfe.conf"), 0);
	assert_int_equal(json_str(o, "good", "caf\xc3\xa9"), 0);
	assert_int_equal(json_str(o, "none", NULL), 0);
	assert_int_equal(json_str(o, "cut", "\xe2\x82"), 0);
	assert_int_equal(json_array_str(arr, "\xc0\xaf/x"), 0);
	assert_int_equal(json_array_str(arr, NULL), 0);
	cJSON_AddItemToObject(o, "arr", arr);
	s = cJSON_PrintUnformatted(o);
	assert_string_equal(s, "{\"bad\":\"f" FFFD FFFD ".conf\",\"good\":\"caf\xc3\xa9\","
			       "\"none\":null,\"cut\":\"" FFFD "\",\"arr\":[\"" FFFD FFFD
			       "/x\",null]}");
	free(s);
	cJSON_Delete(o);
}

/* procfs_read_file keeps the fd of a procfs file (each read renders it
 * anew), not that of any other file (a fixture replaced by rename is read
 * anew), and not across directories. */
TEST(test_read_file)
{
	struct procfs_buf buf = {0};
	struct procfs_file f = {0};
	struct scratch s;
	char first[64], path[PATH_MAX];
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	    fixture = open_dir("vm2", "proc");
	int held, r, f2;
	pid_t kid;

	assert_true(proc >= 0);
	/* live: kept, and read again through the same fd until uptime moves */
	assert_int_equal(procfs_read_file(&f, proc, "uptime", &buf, 4096), 0);
	assert_true(f.held);
	held = f.fd;
	assert_true(buf.len > 3 && buf.len < sizeof(first));
	memcpy(first, buf.data, buf.len + 1);
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(procfs_read_file(&f, proc, "uptime", &buf, 4096), 0);
		assert_int_equal(f.fd, held);
		assert_int_equal(buf.data[buf.len - 1], '\n');
		assert_int_equal(strlen(buf.data), buf.len);
		if (strcmp(buf.data, first) != 0)
			break;
		usleep(1000);
	}
	assert_string_not_equal(buf.data, first);
	/* a kept read stops after a short first read only below 2 KiB: a
	 * file of many records, longer than a seq_file's first page, is read
	 * whole (the same as a plain read; retried while the map changes) */
	{
		struct procfs_buf plain = {0};
		struct procfs_file mf = {0};
		bool same = false;

		for (int i = 0; i < 20 && !same; i++) {
			assert_int_equal(procfs_read_file(&mf, proc, "self/maps", &buf, 1 << 24),
					 0);
			assert_int_equal(procfs_read_file(&mf, proc, "self/maps", &buf, 1 << 24),
					 0);
			assert_true(mf.held);
			assert_int_equal(procfs_read(proc, "self/maps", &plain, 1 << 24), 0);
			same = buf.len == plain.len && memcmp(buf.data, plain.data, buf.len) == 0;
		}
		assert_true(same);
		assert_true(buf.len > 4096);
		procfs_file_close(&mf);
		procfs_buf_free(&plain);
	}
	/* another directory: that directory's file, by path */
	assert_int_equal(procfs_read_file(&f, fixture, "loadavg", &buf, 4096), 0);
	assert_string_equal(buf.data, "0.01 0.03 0.01 1/82 2851\n");
	assert_false(f.held);
	assert_int_equal(fcntl(held, F_GETFD), -1);
	/* too big: -EFBIG, as procfs_read says, kept or not */
	assert_int_equal(procfs_read_file(&f, proc, "stat", &buf, 10), -EFBIG);
	assert_int_equal(buf.len, 0);
	assert_int_equal(procfs_read_file(&f, proc, "stat", &buf, 10), -EFBIG);
	procfs_file_close(&f);
	assert_false(f.held);
	procfs_file_close(&f);

	/* a kept file that went away: read again by path, which says why */
	kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "%d/stat", (int)kid);
	assert_int_equal(procfs_read_file(&f, proc, path, &buf, 4096), 0);
	assert_true(f.held);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	r = procfs_read_file(&f, proc, path, &buf, 4096);
	assert_int_equal(r, -ENOENT);
	assert_false(f.held);
	assert_int_equal(buf.len, 0);

	/* a regular file is never kept: a replacement by rename is seen */
	scratch_file(&s, 10);
	assert_int_equal(procfs_read_file(&f, s.fd, "file", &buf, 100), 0);
	assert_string_equal(buf.data, "abcdefghij");
	assert_false(f.held);
	f2 = openat(s.fd, "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(f2 >= 0);
	assert_int_equal(write(f2, "replaced\n", 9), 9);
	close(f2);
	assert_int_equal(renameat(s.fd, "new", s.fd, "file"), 0);
	assert_int_equal(procfs_read_file(&f, s.fd, "file", &buf, 100), 0);
	assert_string_equal(buf.data, "replaced\n");
	assert_int_equal(procfs_read_file(&f, s.fd, "none", &buf, 100), -ENOENT);
	scratch_remove(&s);

	procfs_buf_free(&buf);
	close(fixture);
	close(proc);
}

TEST(test_registry)
{
	size_t n = collector_count();

	/* the first three topics; others are appended after them */
	assert_true(n >= 3);
	assert_int_equal(collector_topic("cpu"), 0);
	assert_int_equal(collector_topic("mem"), 1);
	assert_int_equal(collector_topic("load"), 2);
	assert_int_equal(collector_topic("CPU"), -1);
	assert_int_equal(collector_topic(""), -1);
	assert_int_equal(collector_topic(NULL), -1);
	assert_null(collector_registry[n]);
	for (size_t i = 0; collector_registry[i]; i++) {
		const struct collector *c = collector_registry[i];

		assert_non_null(c->name);
		assert_non_null(c->init);
		assert_non_null(c->sample);
		assert_non_null(c->fini);
		assert_int_equal(collector_topic(c->name), (int)i);
	}
}

/* procfs_hex_digit: each of the 22 digits, and nothing else of 0..255. */
TEST(test_hex_digit)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	int n = 0;

	for (int c = 0; c < 256; c++) {
		const char *at = c ? strchr(digits, c) : NULL;
		int want = !at                ? -1
			   : at - digits < 16 ? (int)(at - digits)
					      : (int)(at - digits) - 6;

		assert_int_equal(procfs_hex_digit(c), want);
		n += want >= 0;
	}
	assert_int_equal(n, 22);
}

/* procfs_dents_next lists every entry once, "." and ".." too, through
 * a buffer that holds a few at a time (so that it reads again), then 0;
 * a file's fd is an error, not an end. */
TEST(test_dents)
{
	struct scratch s;
	char buf[256], name[32];
	bool seen[100] = {false};
	const struct dirent64 *d;
	struct procfs_dents it;
	int fd, r, n = 0, dots = 0;

	scratch_make(&s, "dents");
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "entry-%03d", i);
		scratch_write(&s, name, "");
	}
	fd = openat(s.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	it = (struct procfs_dents)PROCFS_DENTS(fd, buf, sizeof(buf));
	while ((r = procfs_dents_next(&it, &d)) > 0) {
		int i;

		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) {
			dots++;
			continue;
		}
		assert_int_equal(sscanf(d->d_name, "entry-%d", &i), 1);
		assert_false(seen[i]);
		seen[i] = true;
		n++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(n, 100);
	assert_int_equal(dots, 2);
	assert_int_equal(procfs_dents_next(&it, &d), 0);
	close(fd);
	fd = openat(s.fd, "entry-000", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	it = (struct procfs_dents)PROCFS_DENTS(fd, buf, sizeof(buf));
	assert_int_equal(procfs_dents_next(&it, &d), -ENOTDIR);
	close(fd);
	scratch_remove(&s);
}

/* The read syscalls this process made (/proc/self/io's syscr), or -1
 * where the kernel does not count them. */
static long read_syscalls(void)
{
	char buf[512];
	const char *at;
	long n = -1;
	int fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	at = strstr(buf, "syscr: ");
	if (at)
		n = strtol(at + 7, NULL, 10);
	return n;
}

/* With its directory's fstat() known, a kept file is read without
 * looking at the directory fd (one closed since reads the same); without
 * it, the fd is looked at (EBADF). A set begun with it reads so too. */
TEST(test_read_file_known_dir)
{
	struct procfs_buf buf = {0};
	struct procfs_file f = {0};
	struct procfs_set set = {0};
	struct stat st;
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), gone;

	assert_true(proc >= 0);
	assert_int_equal(fstat(proc, &st), 0);
	assert_int_equal(procfs_read_file_at(&f, proc, &st, "uptime", &buf, 4096), 0);
	assert_true(f.held);
	procfs_set_begin(&set, proc, &st);
	assert_int_equal(procfs_set_read(&set, 0, proc, "loadavg", 4096), 0);
	procfs_set_end(&set);
	gone = dup(proc);
	assert_true(gone >= 0);
	close(gone);
	assert_int_equal(procfs_read_file_at(&f, gone, &st, "uptime", &buf, 4096), 0);
	assert_true(f.held);
	assert_int_equal(buf.data[buf.len - 1], '\n');
	procfs_set_begin(&set, gone, &st);
	assert_int_equal(procfs_set_read(&set, 0, gone, "loadavg", 4096), 0);
	procfs_set_end(&set);
	assert_int_equal(procfs_read_file_at(&f, gone, NULL, "uptime", &buf, 4096), -EBADF);
	procfs_file_close(&f);
	procfs_set_done(&set);
	procfs_buf_free(&buf);
	close(proc);
}

/* Whether texts a and b have the same lines by their first word. */
static bool same_names(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ea = a + alen, *eb = b + blen;

	while (a < ea && b < eb) {
		size_t na = strcspn(a, " \n"), nb = strcspn(b, " \n");
		const char *la = memchr(a, '\n', (size_t)(ea - a)),
			   *lb = memchr(b, '\n', (size_t)(eb - b));

		if (na != nb || memcmp(a, b, na) != 0 || !la || !lb)
			return false;
		a = la + 1;
		b = lb + 1;
	}
	return a == ea && b == eb;
}

/* A kept /proc/vmstat (records of a line each) whose first read leaves
 * more than record_max of a page unfilled is read in one pread, the same
 * text a plain read gives; without record_max, in two (the second
 * returning 0), as any file past 2 KiB. */
TEST(test_read_file_record_max)
{
	struct procfs_buf buf = {0}, plain = {0};
	struct procfs_file f = {.record_max = 64};
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long before, after;
	bool same = false;

	assert_true(proc >= 0);
	assert_int_equal(procfs_read_file(&f, proc, "vmstat", &buf, 1 << 20), 0);
	if (read_syscalls() < 0 || !f.held || buf.len < 2048 || buf.len + 64 + 32 >= 4096) {
		procfs_file_close(&f);
		procfs_buf_free(&buf);
		close(proc);
		skip(); /* no I/O accounting, or a vmstat of another size */
	}
	for (int i = 0; i < 20 && !same; i++) {
		before = read_syscalls();
		assert_int_equal(procfs_read_file(&f, proc, "vmstat", &buf, 1 << 20), 0);
		after = read_syscalls();
		assert_true(f.held);
		/* one pread, and read_syscalls' own read */
		assert_int_equal(after - before, 2);
		assert_int_equal(procfs_read(proc, "vmstat", &plain, 1 << 20), 0);
		/* the counters move between the two reads on a busy host: the
		 * same lines, by name, say the one pread read it whole */
		same = same_names(buf.data, buf.len, plain.data, plain.len);
	}
	assert_true(same);
	f.record_max = 0;
	before = read_syscalls();
	assert_int_equal(procfs_read_file(&f, proc, "vmstat", &buf, 1 << 20), 0);
	after = read_syscalls();
	assert_int_equal(after - before, 3);
	procfs_file_close(&f);
	procfs_buf_free(&buf);
	procfs_buf_free(&plain);
	close(proc);
}

/* Over the live roots with their fstat() in env (as the daemon gives
 * them), the collectors that read kept files make no use of the roots'
 * fds at a tick that finds nothing new: a tick after both were closed
 * succeeds. */
TEST(test_known_roots)
{
	static const char *const names[] = {"cpu",  "mem",  "load",   "psi",        "net",
					    "disk", "host", "health", "containers", NULL};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	struct stat proc_st, sys_st;
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	    sys = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(proc >= 0 && sys >= 0);
	assert_int_equal(fstat(proc, &proc_st), 0);
	assert_int_equal(fstat(sys, &sys_st), 0);
	for (size_t i = 0; names[i]; i++) {
		const struct collector *c = collector_registry[collector_topic(names[i])];
		struct collector_env env = {.proc_fd = dup(proc),
					    .sys_fd = dup(sys),
					    .proc_st = &proc_st,
					    .sys_st = &sys_st};
		char reason[256] = "";
		void *st = NULL;
		cJSON *p = NULL;

		assert_true(env.proc_fd >= 0 && env.sys_fd >= 0);
		if (c->init(&env, fixture_settings(c), &st, reason, sizeof(reason)) < 0) {
			print_message("%s: off here: %s\n", names[i], reason);
			close(env.proc_fd);
			close(env.sys_fd);
			continue;
		}
		assert_int_equal(c->sample(st, &env, &tick, &p), 0);
		cJSON_Delete(p);
		p = NULL;
		close(env.proc_fd);
		close(env.sys_fd);
		tick.t_ms += 1000;
		tick.mono_ns += SEC;
		if (c->sample(st, &env, &tick, &p) != 0)
			fail_msg("%s: a tick looked at a root", names[i]);
		cJSON_Delete(p);
		c->fini(st);
	}
	close(proc);
	close(sys);
}
