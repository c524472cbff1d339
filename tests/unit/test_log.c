/* Unit tests of collectors/journal.c (the `log` topic): entry encoding
 * (its size on the wire), config filters, the rate window and flood batches, and the
 * collector driven directly against a real journald (started here, as
 * root, when none runs; skipped otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "config.h"
#include "journal.h"
#include "metrics.h"
#include "prom_check.h"
#include "fixture.h"

#define JOURNALD     "/lib/systemd/systemd-journald"
#define JOURNAL_SOCK "/run/systemd/journal/socket"

/* metrics text equal to want, and clean for promtool */
static void assert_metrics(const struct metrics *m, const char *want)
{
	assert_non_null(m->buf);
	if (strcmp(m->buf, want) != 0)
		print_error("expected:\n%s\nactual:\n%s\n", want, m->buf);
	assert_string_equal(m->buf, want);
	prom_check_promtool(m->buf);
}

#define FFFD     "\xef\xbf\xbd"
#define REP3(x)  x x x
#define REP9(x)  REP3(x) REP3(x) REP3(x)
#define REP10(x) REP9(x) x

static void test_cursor_order(void **unused)
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

static void test_priority_names(void **unused)
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
	cJSON *e = journal_entry_json(raw, max);
	char *s;

	assert_non_null(e);
	s = cJSON_PrintUnformatted(e);
	cJSON_Delete(e);
	return s;
}

static void test_entry_json(void **unused)
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

static void test_filters(void **unused)
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

static void test_rate(void **unused)
{
	struct journal_rate r;

	assert_int_equal(journal_rate_init(&r, 3), 0);
	assert_int_equal(journal_rate_room(&r, 1000), 3);
	journal_rate_take(&r, 1000, 2);
	assert_int_equal(journal_rate_room(&r, 1500), 1);
	journal_rate_take(&r, 1500, 1);
	assert_int_equal(journal_rate_room(&r, 1999), 0);
	assert_int_equal(journal_rate_room(&r, 2000), 2); /* the two of t=1000 left */
	assert_int_equal(journal_rate_room(&r, 2499), 2);
	assert_int_equal(journal_rate_room(&r, 2500), 3);
	journal_rate_free(&r);
}

static void add(struct journal_batch *b, const char *json, int level, const char *unit)
{
	assert_int_equal(journal_batch_add(b, strdup(json), level, unit), 0);
}

static void test_batch(void **unused)
{
	struct journal_batch b;
	cJSON *p;
	char *s;

	assert_int_equal(journal_batch_init(&b, 2), 0);
	add(&b, "{\"a\":1}", 6, "x");
	add(&b, "{\"a\":2}", 6, "x");
	assert_false(journal_batch_wants(&b, 6));
	assert_true(journal_batch_wants(&b, 3));
	/* a more severe entry replaces the newest of the least severe */
	add(&b, "{\"a\":3}", 3, "y");
	assert_int_equal(b.n, 2);
	assert_string_equal(b.items[0].json, "{\"a\":1}");
	assert_string_equal(b.items[1].json, "{\"a\":3}");
	assert_int_equal(b.dropped, 1);
	assert_int_equal(b.dropped_level, 6);
	add(&b, "{\"a\":4}", 7, "x");
	journal_batch_drop(&b, 5);
	assert_int_equal(b.dropped, 3);
	assert_int_equal(b.dropped_level, 5);
	journal_batch_trim(&b, 1);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.items[0].json, "{\"a\":3}");
	assert_int_equal(b.dropped, 4);

	{
		char *entries[] = {b.items[0].json};

		p = journal_payload(1700000000000, entries, 1, b.dropped);
	}
	s = cJSON_PrintUnformatted(p);
	assert_string_equal(s, "{\"t\":1700000000000,\"entries\":[{\"a\":3}],\"dropped\":4}");
	free(s);
	cJSON_Delete(p);
	journal_batch_clear(&b);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.dropped, 0);
	journal_batch_free(&b);
}

/* ---- the collector against a real journald ------------------------------ */

static pid_t journald_pid = -1;

static bool journald_running(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCK};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* A journald of our own when none runs and we may start one; it dies with
 * this process. */
static int setup_journald(void **unused)
{
	struct timespec ts = {0, 20000000};

	if (journald_running())
		return 0;
	if (geteuid() != 0 || access(JOURNALD, X_OK) != 0)
		return 0;
	journald_pid = fork();
	if (journald_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		freopen("/dev/null", "w", stderr);
		execl(JOURNALD, JOURNALD, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 250 && !journald_running(); i++)
		nanosleep(&ts, NULL);
	return 0;
}

static int teardown_journald(void **unused)
{
	if (journald_pid > 0) {
		kill(journald_pid, SIGTERM);
		waitpid(journald_pid, NULL, 0);
	}
	return 0;
}

struct capture {
	cJSON *events[4096];
	size_t n;
	cJSON *state;
	int levels[4096];
	char *keys[4096];
};

/* The payload as the hub sees it: printed (raw items included), then
 * parsed back for the assertions. */
static cJSON *reparse(cJSON *payload)
{
	char *text = cJSON_PrintUnformatted(payload);
	cJSON *back;

	assert_non_null(text);
	back = cJSON_Parse(text);
	assert_non_null(back);
	free(text);
	cJSON_Delete(payload);
	return back;
}

static void cap_publish(const struct collector_env *env, cJSON *payload,
			const struct collector_event *ev)
{
	struct capture *cap = env->ctx;

	if (cap->n == 4096) {
		cJSON_Delete(payload);
		return;
	}
	cap->levels[cap->n] = ev ? ev->level : -1;
	cap->keys[cap->n] = ev && ev->key ? strdup(ev->key) : NULL;
	cap->events[cap->n++] = reparse(payload);
}

static void cap_set_state(const struct collector_env *env, cJSON *state)
{
	struct capture *cap = env->ctx;

	cJSON_Delete(cap->state);
	cap->state = reparse(state);
}

static void cap_free(struct capture *cap)
{
	for (size_t i = 0; i < cap->n; i++) {
		cJSON_Delete(cap->events[i]);
		free(cap->keys[i]);
	}
	cJSON_Delete(cap->state);
	free(cap);
}

/* Entries of the captured events whose message contains token. */
static size_t count_token(const struct capture *cap, const char *token, uint64_t *dropped)
{
	size_t n = 0;

	*dropped = 0;
	for (size_t i = 0; i < cap->n; i++) {
		cJSON *e, *entries = cJSON_GetObjectItem(cap->events[i], "entries");

		*dropped += (uint64_t)cJSON_GetObjectItem(cap->events[i], "dropped")->valuedouble;
		cJSON_ArrayForEach(e, entries)
		{
			cJSON *m = cJSON_GetObjectItem(e, "message");

			if (m && strstr(m->valuestring, token))
				n++;
		}
	}
	return n;
}

/* Index of the first captured event holding an entry with token. */
static size_t find_token(const struct capture *cap, const char *token)
{
	for (size_t i = 0; i < cap->n; i++) {
		cJSON *e, *entries = cJSON_GetObjectItem(cap->events[i], "entries");

		cJSON_ArrayForEach(e, entries)
		{
			if (strstr(cJSON_GetObjectItem(e, "message")->valuestring, token))
				return i;
		}
	}
	fail_msg("no event with %s", token);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Dispatches for up to ms, or until want entries with token (and their
 * drops) were seen. */
static void pump(void *state, const struct collector_env *env, struct capture *cap,
		 const char *token, size_t want, unsigned ms)
{
	struct pollfd pfd = {.fd = journal_collector.get_fd(state), .events = POLLIN};
	uint64_t end = mono_ms() + ms, dropped;

	while (mono_ms() < end) {
		if (want && count_token(cap, token, &dropped) + dropped >= want)
			return;
		if (poll(&pfd, 1, 50) > 0)
			journal_collector.dispatch(state, env);
	}
}

static void test_collector_live(void **unused)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct collector_env env = {.proc_fd = -1,
				    .sys_fd = -1,
				    .publish = cap_publish,
				    .set_state = cap_set_state,
				    .ctx = cap};
	struct collector_tick tick = {0};
	char token[64], reason[256] = "", msg[128];
	struct config cfg;
	cJSON *payload = NULL, *e;
	uint64_t dropped;
	void *state = NULL;
	size_t n, i;

	if (!journald_running()) {
		free(cap);
		skip();
	}
	config_defaults(&cfg);
	COLSET(&cfg, journal)->rate = 10;
	COLSET(&cfg, journal)->backlog = 5;
	snprintf(token, sizeof(token), "unit-%d-%ld", getpid(), (long)time(NULL));
	assert_int_equal(journal_collector.init(&env,
						cfg.col[collector_topic(journal_collector.name)],
						&state, reason, sizeof(reason)),
			 0);
	journal_collector.follow(state, true); /* as with a stream client on `log` */
	assert_int_equal(journal_collector.sample(state, &env, &tick, &payload), 0);
	assert_null(payload);
	assert_non_null(cap->state); /* the backlog, set at the first tick */

	/* one entry: every field, at once */
	snprintf(msg, sizeof(msg), "MESSAGE=one %s", token);
	assert_int_equal(sd_journal_send(msg, "PRIORITY=3", "SYSLOG_IDENTIFIER=sysfeed-unit", NULL),
			 0);
	pump(state, &env, cap, token, 1, 3000);
	assert_int_equal(count_token(cap, token, &dropped), 1);
	i = find_token(cap, token);
	assert_int_equal(cap->levels[i], 3);
	assert_string_equal(cap->keys[i], "sysfeed-unit");
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(cap->events[i], "entries"), 0);
	assert_string_equal(cJSON_GetObjectItem(e, "priority_name")->valuestring, "err");
	assert_string_equal(cJSON_GetObjectItem(e, "identifier")->valuestring, "sysfeed-unit");
	assert_string_equal(cJSON_GetObjectItem(e, "transport")->valuestring, "journal");
	assert_int_equal((int)cJSON_GetObjectItem(e, "pid")->valuedouble, getpid());
	assert_true(strlen(cJSON_GetObjectItem(e, "cursor")->valuestring) > 10);
	/* ... and the backlog holds it (other programs' entries may follow) */
	{
		bool found = false;

		cJSON_ArrayForEach(e, cJSON_GetObjectItem(cap->state, "entries")) found |=
		    strstr(cJSON_GetObjectItem(e, "message")->valuestring, token) != NULL;
		assert_true(found);
	}

	/* a flood of 100 at log-rate 10: nothing lost silently */
	for (int k = 0; k < 100; k++) {
		snprintf(msg, sizeof(msg), "MESSAGE=flood %d %s", k, token);
		assert_int_equal(sd_journal_send(msg, "PRIORITY=6", NULL), 0);
	}
	pump(state, &env, cap, token, 101, 5000);
	n = count_token(cap, token, &dropped);
	/* (other programs' entries may be among the dropped) */
	assert_true(n + dropped >= 101);
	assert_true(dropped > 0);
	assert_true(n <= 1 + 10);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cap->state, "entries")), 5);
	assert_true(cJSON_GetObjectItem(cap->state, "dropped_total")->valuedouble >=
		    (double)dropped);
	/* the metrics count what came through: the err entry, the flood as info */
	{
		struct metrics m = {0};
		unsigned long long err = 0, info = 0, drops = 0;
		const char *p;

		assert_int_equal(journal_collector.metrics(state, &m), 0);
		prom_check_promtool(m.buf);
		assert_non_null(p = strstr(m.buf, "{priority=\"err\"} "));
		assert_int_equal(sscanf(p, "{priority=\"err\"} %llu", &err), 1);
		assert_non_null(p = strstr(m.buf, "{priority=\"info\"} "));
		assert_int_equal(sscanf(p, "{priority=\"info\"} %llu", &info), 1);
		assert_non_null(p = strstr(m.buf, "\nsysfeed_log_dropped_total "));
		assert_int_equal(sscanf(p, "\nsysfeed_log_dropped_total %llu", &drops), 1);
		assert_true(err >= 1);
		assert_true(info >= 100);
		assert_true(drops >= dropped);
		metrics_free(&m);
	}

	journal_collector.fini(state);
	cap_free(cap);
	config_free(&cfg);
}

/* One sample per priority, emerg..debug, and the drops. */
static void test_metrics(void **unused)
{
	const uint64_t seen[8] = {0, 1, 2, 30, 4, 5, 600, 7000000000};
	struct metrics m = {0};

	assert_int_equal(journal_metrics_write(seen, 12, true, &m), 0);
	assert_metrics(&m, "# HELP sysfeed_log_entries_total Journal entries seen that matched the "
			   "log filters, per priority.\n"
			   "# TYPE sysfeed_log_entries_total counter\n"
			   "sysfeed_log_entries_total{priority=\"emerg\"} 0\n"
			   "sysfeed_log_entries_total{priority=\"alert\"} 1\n"
			   "sysfeed_log_entries_total{priority=\"crit\"} 2\n"
			   "sysfeed_log_entries_total{priority=\"err\"} 30\n"
			   "sysfeed_log_entries_total{priority=\"warning\"} 4\n"
			   "sysfeed_log_entries_total{priority=\"notice\"} 5\n"
			   "sysfeed_log_entries_total{priority=\"info\"} 600\n"
			   "sysfeed_log_entries_total{priority=\"debug\"} 7000000000\n"
			   "# HELP sysfeed_log_dropped_total Journal entries that matched but were "
			   "dropped by the rate limit.\n"
			   "# TYPE sysfeed_log_dropped_total counter\n"
			   "sysfeed_log_dropped_total 12\n"
			   "# HELP sysfeed_log_followed 1 while a stream client subscribes to log: "
			   "the journal is then also rechecked every 40 ms.\n"
			   "# TYPE sysfeed_log_followed gauge\n"
			   "sysfeed_log_followed 1\n");
	metrics_free(&m);
}

static void test_no_journal_dir(void **unused)
{
	struct collector_env env = {.proc_fd = -1, .sys_fd = -1};
	char reason[256] = "";
	struct config cfg;
	void *state = NULL;

	config_defaults(&cfg);
	COLSET(&cfg, journal)->dir = strdup("/nonexistent/sysfeed-journal");
	assert_true(journal_collector.init(&env, cfg.col[collector_topic(journal_collector.name)],
					   &state, reason, sizeof(reason)) < 0);
	assert_null(state);
	assert_non_null(strstr(reason, "journal-dir /nonexistent/sysfeed-journal"));
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_priority_names), cmocka_unit_test(test_cursor_order),
	    cmocka_unit_test(test_entry_json),     cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_rate),           cmocka_unit_test(test_batch),
	    cmocka_unit_test(test_no_journal_dir), cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_collector_live),
	};

	return cmocka_run_group_tests(tests, setup_journald, teardown_journald);
}
