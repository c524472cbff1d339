/* Tests of the history store (daemon/store*.c) on real SQLite files in
 * temporary directories, its clock injected through the rows' times:
 * rows read back after a restart, minutes and hours consolidated, the
 * clock stepping back (paused, then resumed), a garbage file (left alone,
 * history off until it is gone), a damaged file (moved aside), the bound
 * in bytes, events, and /api/history's answers to bad queries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "collector.h"
#include "store.h"
#include "store_impl.h"
#include "unit.h"

#define T0 1795996800000LL /* a day boundary (UTC) */

static char dir[64];
static char path[128];

static int setup(void **unused)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/history.db", dir);
	return 0;
}

static int teardown(void **unused)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct store *open_store(unsigned flush_s, uint64_t max_bytes)
{
	struct store *s = store_open(&(struct store_options){.dir = dir,
							     .max_bytes = max_bytes,
							     .flush_s = flush_s,
							     .interval_ms = 1000,
							     .rel = 1000});

	assert_non_null(s);
	return s;
}

/* A tick of the cpu topic (its real history paths) and of proc's tops,
 * its record following the last one's columns as the daemon's do. */
static struct store_rec *tick_rec(struct store *s, int64_t t, double user)
{
	const struct collector *cpu = collector_registry[collector_topic("cpu")];
	const struct collector *proc = collector_registry[collector_topic("proc")];
	struct store_rec *r = store_rec_for(s);
	char json[512];
	cJSON *p;

	assert_non_null(r);
	snprintf(json, sizeof(json),
		 "{\"t\":%lld,\"total\":{\"user\":%g,\"system\":1},"
		 "\"cores\":[{\"busy\":%g},{\"busy\":2}]}",
		 (long long)t, user, user * 2);
	assert_non_null(p = cJSON_Parse(json));
	assert_int_equal(store_rec_payload(r, t, "cpu", p, cpu->history, cpu->tops), 0);
	cJSON_Delete(p);
	snprintf(json, sizeof(json),
		 "{\"t\":%lld,\"processes\":5,\"top_cpu\":[{\"pid\":42,\"comm\":\"stress\","
		 "\"cpu_pct\":%g,\"rss_bytes\":4096}],\"top_mem\":[]}",
		 (long long)t, user);
	assert_non_null(p = cJSON_Parse(json));
	assert_int_equal(store_rec_payload(r, t, "proc", p, proc->history, proc->tops), 0);
	cJSON_Delete(p);
	return r;
}

/* The same, handed to the writer as fast as it takes them. */
static void tick(struct store *s, int64_t t, double user)
{
	store_push_wait(s, tick_rec(s, t, user));
}

/* A tick of eight network interfaces of noise: rows that do not shrink. */
static void tick_noise(struct store *s, int64_t t)
{
	const struct collector *net = collector_registry[collector_topic("net")];
	struct store_rec *r = store_rec_for(s);
	cJSON *p = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(p, "interfaces");

	assert_non_null(r);
	cJSON_AddNumberToObject(p, "t", (double)t);
	for (int k = 0; k < 8; k++) {
		cJSON *el = cJSON_CreateObject();
		char name[16];

		snprintf(name, sizeof(name), "eth%d", k);
		cJSON_AddStringToObject(el, "name", name);
		cJSON_AddNumberToObject(el, "rx_bytes_per_s", rand() % 1000000);
		cJSON_AddNumberToObject(el, "tx_bytes_per_s", rand() % 1000000);
		cJSON_AddItemToArray(arr, el);
	}
	assert_int_equal(store_rec_payload(r, t, "net", p, net->history, NULL), 0);
	cJSON_Delete(p);
	store_push_wait(s, r);
}

/* Waits (10 s at most) until the status says on, or off with `want` in
 * its reason. */
static void wait_status(struct store *s, bool on, const char *want)
{
	uint64_t end = clock_mono_ms() + 10000;
	char reason[STORE_REASON_LEN];
	bool now;

	for (;;) {
		store_status(s, &now, reason, sizeof(reason));
		if (now == on && (on || strstr(reason, want)))
			return;
		if (clock_mono_ms() > end)
			fail_msg("status: %s, not %s", reason, on ? "on" : want);
		usleep(10000);
	}
}

/* /api/history's answer as JSON, or NULL with the status. */
static cJSON *query(struct store *s, const char *topics, int64_t from, int64_t to, const char *step,
		    unsigned *ret_status)
{
	char f[32], t[32], *body = NULL;
	const char *type;
	size_t len;
	cJSON *j;

	snprintf(f, sizeof(f), "%lld", (long long)from);
	snprintf(t, sizeof(t), "%lld", (long long)to);
	*ret_status =
	    store_api(s, &(struct store_query){.topics = topics, .from = f, .to = t, .step = step},
		      to, &body, &len, &type);
	assert_non_null(body);
	assert_int_equal(strlen(body), len);
	j = *ret_status == 200 ? cJSON_Parse(body) : NULL;
	if (*ret_status == 200)
		assert_non_null(j);
	free(body);
	return j;
}

static const cJSON *rows_of(const cJSON *j, const char *topic)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "history"), topic),
				   "rows");
}

TEST_WITH(test_restart_keeps_rows, setup, teardown)
{
	struct store *s = open_store(60, 256 << 20);
	unsigned st;
	cJSON *j, *row;

	wait_status(s, true, NULL);
	for (int i = 0; i < 150; i++)
		tick(s, T0 + i * 1000, i % 10);
	store_close(s); /* writes what is pending */
	s = open_store(60, 256 << 20);
	wait_status(s, true, NULL);
	j = query(s, "cpu", T0, T0 + 149000, NULL, &st);
	assert_int_equal(st, 200);
	assert_int_equal(cJSON_GetArraySize(rows_of(j, "cpu")), 150);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "consolidated")));
	row = cJSON_GetArrayItem(rows_of(j, "cpu"), 17);
	assert_int_equal(cJSON_GetArrayItem(row, 0)->valuedouble, T0 + 17000);
	assert_true(cJSON_GetArrayItem(row, 1)->valuedouble == 7); /* total.user */
	/* cores[].busy: an array of both cores */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(row, 8)), 2);
	assert_true(cJSON_GetArrayItem(cJSON_GetArrayItem(row, 8), 0)->valuedouble == 14);
	/* the tops of the row */
	row = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tops"), "rows"), 17);
	assert_string_equal(
	    cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetArrayItem(row, 1), 0), 1)->valuestring,
	    "stress");
	cJSON_Delete(j);
	/* a minute step: the minute rows, with min and max */
	j = query(s, "cpu", T0, T0 + 179999, "60", &st);
	assert_int_equal(st, 200);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "consolidated")));
	assert_int_equal(cJSON_GetObjectItem(j, "tier")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(rows_of(j, "cpu")), 3);
	row = cJSON_GetArrayItem(rows_of(j, "cpu"), 0);
	assert_true(fabs(cJSON_GetArrayItem(row, 1)->valuedouble - 4.5) < 1e-9);
	cJSON_Delete(j);
	store_close(s);
}

/* The loop thread's records wake the writer when one starts a flush
 * period (the writer then commits the last) or WAKE_BATCH (30) wait, not
 * at every tick; none is lost. */
TEST_WITH(test_writer_woken_by_period, setup, teardown)
{
	struct store *s = open_store(60, 256 << 20);
	unsigned st;
	cJSON *j;

	wait_status(s, true, NULL);
	for (int i = 0; i < 29; i++)
		store_push(s, tick_rec(s, T0 + i * 1000, i % 10));
	assert_int_equal(s->wakes, 1); /* the first: a new period */
	store_push(s, tick_rec(s, T0 + 29000, 1));
	assert_int_equal(s->wakes, 2); /* 30 waiting, or fewer if it took some */
	for (int i = 30; i < 59; i++)
		store_push(s, tick_rec(s, T0 + i * 1000, i % 10));
	assert_true(s->wakes <= 3);
	store_push(s, tick_rec(s, T0 + 60000, 1)); /* the next minute */
	assert_true(s->wakes >= 3 && s->wakes <= 4);
	store_close(s);
	s = open_store(60, 256 << 20);
	wait_status(s, true, NULL);
	j = query(s, "cpu", T0, T0 + 61000, NULL, &st);
	assert_int_equal(st, 200);
	assert_int_equal(cJSON_GetArraySize(rows_of(j, "cpu")), 60);
	cJSON_Delete(j);
	store_close(s);
}

TEST_WITH(test_hours, setup, teardown)
{
	struct store *s = open_store(600, 256 << 20);
	unsigned st;
	cJSON *j, *row;

	wait_status(s, true, NULL);
	/* three hours at 10 s: the first two hours close */
	for (int i = 0; i < 3 * 360; i++)
		tick(s, T0 + i * 10000LL, i < 360 ? 10 : 20);
	store_close(s);
	s = open_store(600, 256 << 20);
	j = query(s, "cpu", T0, T0 + 3 * 3600000LL - 1, "3600", &st);
	assert_int_equal(st, 200);
	assert_int_equal(cJSON_GetObjectItem(j, "tier")->valueint, 2);
	assert_int_equal(cJSON_GetArraySize(rows_of(j, "cpu")), 2);
	row = cJSON_GetArrayItem(rows_of(j, "cpu"), 0);
	assert_true(cJSON_GetArrayItem(row, 1)->valuedouble == 10);
	row = cJSON_GetArrayItem(rows_of(j, "cpu"), 1);
	assert_true(cJSON_GetArrayItem(row, 1)->valuedouble == 20);
	cJSON_Delete(j);
	store_close(s);
}

TEST_WITH(test_clock_back, setup, teardown)
{
	struct store *s = open_store(1, 256 << 20);
	unsigned st;
	cJSON *j;

	wait_status(s, true, NULL);
	for (int i = 0; i < 20; i++)
		tick(s, T0 + i * 1000, 1);
	/* the clock steps back 10 s: paused, those rows not kept */
	for (int i = 0; i < 5; i++)
		tick(s, T0 + 9000 + i * 1000, 99);
	wait_status(s, false, "clock");
	/* and passes the newest row again: resumed */
	for (int i = 20; i < 25; i++)
		tick(s, T0 + i * 1000, 2);
	wait_status(s, true, NULL);
	store_close(s);
	s = open_store(1, 256 << 20);
	j = query(s, "cpu", T0, T0 + 30000, NULL, &st);
	assert_int_equal(st, 200);
	assert_int_equal(cJSON_GetArraySize(rows_of(j, "cpu")), 25);
	for (int i = 0; i < 25; i++)
		assert_true(
		    cJSON_GetArrayItem(cJSON_GetArrayItem(rows_of(j, "cpu"), i), 1)->valuedouble !=
		    99);
	cJSON_Delete(j);
	/* after a restart the file's newest row is the mark */
	tick(s, T0 + 1000, 99);
	wait_status(s, false, "clock");
	store_close(s);
}

static void write_file(const char *p, const char *data, size_t len)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

TEST_WITH(test_garbage_file, setup, teardown)
{
	char junk[4096];
	struct store *s;
	struct stat st;
	unsigned status;

	memset(junk, 'x', sizeof(junk));
	write_file(path, junk, sizeof(junk));
	s = open_store(1, 256 << 20);
	wait_status(s, false, "not a SQLite database");
	tick(s, T0, 1);
	tick(s, T0 + 1000, 1);
	tick(s, T0 + 2000, 1);
	/* never touched; the API says why */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, sizeof(junk));
	query(s, "cpu", T0, T0 + 1000, NULL, &status);
	assert_int_equal(status, 503);
	/* moved away: history starts at the next flush */
	assert_int_equal(unlink(path), 0);
	for (int i = 3; i < 10; i++) {
		tick(s, T0 + i * 1000, 1);
		usleep(20000);
	}
	wait_status(s, true, NULL);
	store_close(s);
}

TEST_WITH(test_damaged_file, setup, teardown)
{
	struct store *s = open_store(60, 256 << 20);
	char aside[160];
	struct stat st;
	unsigned status;
	cJSON *j;

	for (int i = 0; i < 4000; i++)
		tick(s, T0 + i * 1000, i % 7);
	store_close(s);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	s = open_store(60, 256 << 20);
	snprintf(aside, sizeof(aside), "%s.corrupt", path);
	for (uint64_t end = clock_mono_ms() + 10000; stat(aside, &st) < 0;) {
		assert_true(clock_mono_ms() < end);
		usleep(10000);
	}
	wait_status(s, true, NULL);
	tick(s, T0 + 5000000, 3);
	store_close(s);
	s = open_store(60, 256 << 20);
	j = query(s, "cpu", T0 + 4000000, T0 + 5000000, NULL, &status);
	assert_int_equal(status, 200);
	assert_int_equal(cJSON_GetArraySize(rows_of(j, "cpu")), 1);
	cJSON_Delete(j);
	store_close(s);
}

TEST_WITH(test_bound, setup, teardown)
{
	struct store *s = open_store(600, 1 << 20);
	struct stat st;
	unsigned status;
	cJSON *j;

	/* 10 days at 10 s of noise: far more than 1 MiB unbound */
	srand(1);
	for (int i = 0; i < 10 * 8640; i++)
		tick_noise(s, T0 + i * 10000LL);
	store_close(s);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= (1 << 20) + (64 << 10));
	s = open_store(600, 1 << 20);
	/* the oldest went first, the newest are there */
	j = query(s, "net", T0 + 10 * 86400000LL - 3600000, T0 + 10 * 86400000LL, NULL, &status);
	assert_int_equal(status, 200);
	assert_int_equal(cJSON_GetObjectItem(j, "tier")->valueint, 0);
	assert_int_equal(cJSON_GetArraySize(rows_of(j, "net")), 360);
	cJSON_Delete(j);
	j = query(s, "net", T0, T0 + 3600000, "10", &status);
	assert_int_equal(status, 200);
	/* tier 0 (and here tier 1) went first: the hours answer */
	assert_true(cJSON_GetObjectItem(j, "tier")->valueint > 0);
	cJSON_Delete(j);
	store_close(s);
}

TEST_WITH(test_bad_queries, setup, teardown)
{
	struct store *s = open_store(60, 256 << 20);
	static const struct {
		struct store_query q;
		const char *says;
	} bad[] = {
	    {{.topics = "cpu", .from = "10", .to = "5"}, "from must be before to"},
	    {{.topics = "cpu", .from = "x"}, "from: expected"},
	    {{.topics = "cpu", .to = "-3"}, "to: expected"},
	    {{.topics = "nope"}, "unknown topic 'nope'"},
	    {{.topics = "log"}, "has no chart history"},
	    {{.topics = "cpu", .step = "0"}, "step:"},
	    {{.topics = "cpu", .format = "xml"}, "format:"},
	    {{.topics = "cpu", .from = "0"}, "20 years"},
	    /* what the client sent comes back without its line breaks */
	    {{.topics = "no\r\nX: y"}, "unknown topic 'no??X: y'"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body = NULL;
		const char *type;
		size_t len;

		assert_int_equal(store_api(s, &bad[i].q, T0, &body, &len, &type), 400);
		assert_non_null(strstr(body, bad[i].says));
		assert_non_null(strstr(type, "text/plain"));
		assert_ptr_equal(strchr(body, '\n'), body + len - 1); /* one line */
		free(body);
	}
	store_close(s);
}

TEST_WITH(test_events, setup, teardown)
{
	struct store *s = open_store(60, 256 << 20);
	struct store_rec *r = store_rec_new();
	unsigned st;
	cJSON *p, *j, *rows;

	p = cJSON_Parse(
	    "{\"t\":1795996801000,\"entries\":["
	    "{\"ts\":1795996801000,\"priority\":3,\"unit\":\"a.service\",\"message\":\"x\"},"
	    "{\"ts\":1795996802000,\"priority\":6,\"unit\":\"a.service\",\"message\":\"y\"}]}");
	/* as the journal collector hands them over: encoded */
	cJSON_AddItemToArray(cJSON_GetObjectItem(p, "entries"),
			     cJSON_CreateRaw("{\"ts\":1795996803000,\"priority\":2,"
					     "\"unit\":\"a.service\",\"message\":\"z\"}"));
	cJSON_AddItemToArray(cJSON_GetObjectItem(p, "entries"),
			     cJSON_CreateRaw("{\"ts\":1795996803500,\"priority\":4,"
					     "\"unit\":\"a.service\",\"message\":\"w\"}"));
	assert_int_equal(store_rec_event(r, "log", p), 0);
	cJSON_Delete(p);
	p = cJSON_Parse("{\"t\":1795996804000,\"changes\":[{\"unit\":\"b.service\","
			"\"active_state\":\"failed\",\"job_result\":\"failed\"}]}");
	assert_int_equal(store_rec_event(r, "units", p), 0);
	cJSON_Delete(p);
	store_push(s, r);
	tick(s, T0 + 5000, 1);
	store_close(s);
	s = open_store(60, 256 << 20);
	j = query(s, "cpu", T0, T0 + 60000, NULL, &st);
	rows = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "events"), "rows");
	assert_int_equal(cJSON_GetArraySize(rows), 2);
	/* two entries at err or worse of a.service, counted */
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 1)->valuestring,
			    "log_err");
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 3)->valueint, 2);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 1), 2)->valuestring,
			    "b.service");
	cJSON_Delete(j);
	store_close(s);
}
