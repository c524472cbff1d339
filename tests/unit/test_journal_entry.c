/* Unit tests of collectors/journal_entry.c: cursor order, priority names,
 * entry encoding (its size on the wire) and the config filters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fixture.h"
#include "journal.h"
#include "journal_entry.h"

#define FFFD     "\xef\xbf\xbd"
#define REP3(x)  x x x
#define REP9(x)  REP3(x) REP3(x) REP3(x)
#define REP10(x) REP9(x) x

TEST(test_cursor_order)
{
	const char *a = "s=95d3e0;i=e8552;b=14d2;m=93;t=660f;x=5b";
	const char *b = "s=95d3e0;i=e8553;b=14d2;m=94;t=6610;x=5c";
	const char *other = "s=aaaaaa;i=1;b=14d2;m=1;t=1;x=1";

	assert_true(journal_cursor_not_after(a, b));
	assert_true(journal_cursor_not_after(a, a));
	assert_false(journal_cursor_not_after(b, a));
	assert_false(journal_cursor_not_after(other, b)); /* another sequence */
	assert_false(journal_cursor_not_after("garbage", b));
	assert_false(journal_cursor_not_after("s=95d3e0;i=zz", b));
	assert_false(journal_cursor_not_after("s=95d3e0", b));
}

TEST(test_priority_names)
{
	assert_string_equal(journal_priority_name(0), "emerg");
	assert_string_equal(journal_priority_name(3), "err");
	assert_string_equal(journal_priority_name(7), "debug");
	assert_null(journal_priority_name(8));
	assert_null(journal_priority_name(-1));
}

static void raw_add(struct journal_raw *raw, const char *field, size_t len)
{
	assert_int_equal(journal_raw_add(raw, field, len ? len : strlen(field)), 0);
}

static void fill_raw(struct journal_raw *raw, const char *msg, size_t msg_len)
{
	char m[512];

	journal_raw_reset(raw);
	raw->realtime_us = UINT64_C(1700000000123456);
	raw_add(raw, "PRIORITY=4", 0);
	raw_add(raw, "_SYSTEMD_UNIT=nginx.service", 0);
	raw_add(raw, "SYSLOG_IDENTIFIER=nginx", 0);
	raw_add(raw, "_COMM=nginx", 0);
	raw_add(raw, "_PID=4242", 0);
	raw_add(raw, "_TRANSPORT=stdout", 0);
	raw_add(raw, "UNRELATED=ignored", 0);
	memcpy(m, "MESSAGE=", 8);
	memcpy(m + 8, msg, msg_len);
	raw_add(raw, m, 8 + msg_len);
	snprintf(raw->cursor, sizeof(raw->cursor), "s=abc;i=1");
}

static char *entry_text(const struct journal_raw *raw, unsigned max)
{
	return json_text(journal_entry_json(raw, max));
}

TEST(test_entry_json)
{
	struct journal_raw raw = {0};
	const char evil[] = "line1\nline2\r<script>alert(1)</script>\x01\xff";
	char *s;
	cJSON *back;

	fill_raw(&raw, "hello", 5);
	s = entry_text(&raw, 4096);
	assert_string_equal(
	    s, "{\"ts\":1700000000123,\"priority\":4,\"priority_name\":\"warning\","
	       "\"unit\":\"nginx.service\",\"identifier\":\"nginx\",\"pid\":4242,"
	       "\"transport\":\"stdout\",\"message\":\"hello\",\"cursor\":\"s=abc;i=1\"}");
	free(s);

	/* control characters escaped, invalid UTF-8 replaced: one line of JSON */
	fill_raw(&raw, evil, sizeof(evil) - 1);
	s = entry_text(&raw, 4096);
	assert_null(strchr(s, '\n'));
	assert_null(strchr(s, '\r'));
	assert_non_null(
	    strstr(s, "\"message\":\"line1\\nline2\\r<script>alert(1)</script>\\u0001" FFFD "\""));
	back = cJSON_Parse(s);
	assert_non_null(back);
	assert_string_equal(cJSON_GetObjectItem(back, "message")->valuestring,
			    "line1\nline2\r<script>alert(1)</script>\x01" FFFD);
	cJSON_Delete(back);
	free(s);

	/* binary: its size */
	fill_raw(&raw, "ab\0cd", 5);
	s = entry_text(&raw, 4096);
	assert_non_null(strstr(s, "\"message\":\"[5 bytes of binary data]\""));
	assert_non_null(strstr(s, "\"binary\":true"));
	assert_null(strstr(s, "truncated"));
	free(s);

	/* cut at max bytes */
	fill_raw(&raw, "0123456789", 10);
	s = entry_text(&raw, 4);
	assert_non_null(strstr(s, "\"message\":\"0123\",\"truncated\":true"));
	free(s);

	/* max counts the bytes on the wire: a control character is six, a
	 * quote two, U+FFFD three; the cut falls on a character boundary */
	fill_raw(&raw, "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01", 10);
	s = entry_text(&raw, 64);
	assert_non_null(strstr(s, "\"message\":\"" REP10("\\u0001") "\","));
	assert_null(strstr(s, "truncated"));
	free(s);
	s = entry_text(&raw, 59);
	assert_non_null(strstr(s, "\"message\":\"" REP9("\\u0001") "\",\"truncated\":true"));
	free(s);
	fill_raw(&raw, "ab\"\xff\xc3\xa9", 6);
	s = entry_text(&raw, 6);
	assert_non_null(strstr(s, "\"message\":\"ab\\\"\",\"truncated\":true"));
	free(s);
	s = entry_text(&raw, 7);
	assert_non_null(strstr(s, "\"message\":\"ab\\\"" FFFD "\",\"truncated\":true"));
	free(s);
	s = entry_text(&raw, 9);
	assert_non_null(strstr(s, "\"message\":\"ab\\\"" FFFD "\xc3\xa9\","));
	assert_null(strstr(s, "truncated"));
	free(s);

	/* no unit: the identifier; no priority: info; no pid: null */
	journal_raw_reset(&raw);
	raw_add(&raw, "SYSLOG_IDENTIFIER=cron", 0);
	raw_add(&raw, "_PID=x1", 0);
	raw_add(&raw, "PRIORITY=9", 0);
	s = entry_text(&raw, 4096);
	assert_non_null(
	    strstr(s, "\"priority\":6,\"priority_name\":\"info\",\"unit\":\"cron\","
		      "\"identifier\":\"cron\",\"pid\":null,\"transport\":null,\"message\":\"\""));
	free(s);
	assert_int_equal(journal_raw_level(&raw), 6);
	journal_raw_free(&raw);
}

/* Whether raw passes a fresh config with these log-units (lists add up). */
static bool pass_units(const struct journal_raw *raw, const char *units)
{
	struct config cfg;
	char err[256];
	bool pass;

	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "log-units", units, err, sizeof(err)), 0);
	pass = journal_raw_pass(raw, COLSET(&cfg, journal));
	config_free(&cfg);
	return pass;
}

TEST(test_filters)
{
	struct journal_raw raw = {0};
	struct config cfg;
	char err[256];

	config_defaults(&cfg);
	fill_raw(&raw, "Connection REFUSED by peer", 26);
	assert_true(journal_raw_pass(&raw, COLSET(&cfg, journal)));
	COLSET(&cfg, journal)->priority = 3;
	assert_false(journal_raw_pass(&raw, COLSET(&cfg, journal))); /* warning is 4 */
	COLSET(&cfg, journal)->priority = 4;
	assert_true(journal_raw_pass(&raw, COLSET(&cfg, journal)));

	assert_false(pass_units(&raw, "ssh*,cron"));
	assert_true(pass_units(&raw, "nginx.*"));
	assert_false(pass_units(&raw, "!nginx.service"));
	assert_true(pass_units(&raw, "!cron"));
	assert_false(pass_units(&raw, "*,!nginx*"));

	assert_int_equal(config_set(&cfg, "log-match", "refused", err, sizeof(err)), 0);
	assert_true(journal_raw_pass(&raw, COLSET(&cfg, journal))); /* ASCII case-insensitive */
	assert_int_equal(config_set(&cfg, "log-match", "timeout", err, sizeof(err)), 0);
	assert_false(journal_raw_pass(&raw, COLSET(&cfg, journal)));
	journal_raw_free(&raw);
	config_free(&cfg);
}
