/* The hub: ring, cursors, replay, resync, filters, suspend and wake. The
 * connection operations are recorded instead of driving libmicrohttpd; the
 * integration tests run the same code behind the real server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "sse.h"

#define INST 0x00000000deadbeefULL

static const char *const names[] = {"cpu", "mem", "load", NULL};
static int suspends, resumes;

static void fake_suspend(void *conn)
{
	suspends++;
}

static void fake_resume(void *conn)
{
	resumes++;
}

static const struct hub_conn_ops ops = {fake_suspend, fake_resume};

/* Publishes one frame of `topic` whose JSON carries n. */
static void pub(struct hub *hub, unsigned topic, int n)
{
	char json[64];

	snprintf(json, sizeof(json), "{\"t\":1,\"n\":%d}", n);
	assert_int_equal(
	    hub_publish(
		hub,
		&(struct hub_msg){
		    .topic = topic, .json = json, .len = strlen(json), .state = true, .level = -1},
		1, 1),
	    0);
}

/* Reads everything due into a static buffer, in reads of at most `chunk`. */
static char *drain(struct hub_client *c, size_t chunk)
{
	static char buf[1 << 20];
	size_t len = 0;
	long n;

	while ((n = hub_client_read(c, buf + len, chunk)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static void test_new_client_gets_hello_snapshot_live(void **state)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_client *c;
	char *s;

	hub_set_hello(hub, "{\"host\":\"h\"}", 2000);
	pub(hub, 0, 1);
	pub(hub, 1, 2);
	c = hub_client_new(hub, 7, NULL, NULL);
	s = drain(c, 4096);
	assert_non_null(strstr(s, "retry: 2000\nevent: hello\ndata: {\"host\":\"h\"}\n\n"));
	assert_non_null(strstr(s, "}}\nid: 00000000deadbeef-2\n\n"));
	assert_non_null(
	    strstr(s, "\"topics\":{\"cpu\":{\"t\":1,\"n\":1},\"mem\":{\"t\":1,\"n\":2}}"));
	assert_int_equal(count(s, "event: cpu"), 0); /* already in the snapshot */
	pub(hub, 2, 3);
	s = drain(c, 4096);
	assert_string_equal(s, "event: load\ndata: {\"t\":1,\"n\":3}\nid: 00000000deadbeef-3\n\n");
	hub_client_free(c);
	hub_free(hub);
}

static void test_replay_exact(void **state)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_client *c;
	char *s, expect[4096] = "";

	hub_set_hello(hub, "{}", 2000);
	for (int i = 1; i <= 10; i++)
		pub(hub, (unsigned)(i % 3), i);
	c = hub_client_new(hub, 7, "00000000deadbeef-6", NULL);
	s = drain(c, 4096);
	assert_null(strstr(s, "snapshot"));
	for (int i = 7; i <= 10; i++)
		snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect),
			 "event: %s\ndata: {\"t\":1,\"n\":%d}\nid: 00000000deadbeef-%d\n\n",
			 names[i % 3], i, i);
	assert_non_null(strstr(s, expect));
	assert_int_equal(count(s, "id: "), 4);
	hub_client_free(c);

	/* resuming at the head replays nothing and sends no snapshot */
	c = hub_client_new(hub, 7, "00000000deadbeef-10", NULL);
	s = drain(c, 4096);
	assert_int_equal(count(s, "id: "), 0);
	hub_client_free(c);
	hub_free(hub);
}

static void test_bad_ids_get_snapshot(void **state)
{
	const char *ids[] = {"feedfacefeedface-3", "garbage", "00000000deadbeef-999",
			     "00000000deadbeef-01", ""};
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);

	hub_set_hello(hub, "{}", 2000);
	for (int i = 1; i <= 5; i++)
		pub(hub, 0, i);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct hub_client *c = hub_client_new(hub, 7, ids[i], NULL);
		char *s = drain(c, 4096);

		assert_int_equal(count(s, "event: snapshot"), 1);
		assert_non_null(strstr(s, "}}\nid: 00000000deadbeef-5\n\n"));
		assert_int_equal(count(s, "event: cpu"), 0);
		hub_client_free(c);
	}
	hub_free(hub);
}

static void test_ring_bounds_and_expired_id(void **state)
{
	struct hub *hub = hub_new(65536, INST, names, &ops);
	struct hub_stats st;
	struct hub_client *c;
	char json[600], *s;

	hub_set_hello(hub, "{}", 2000);
	memset(json, 'x', sizeof(json));
	for (int i = 0; i < 1000; i++) {
		memcpy(json, "{\"a\":\"", 6);
		memcpy(json + sizeof(json) - 3, "\"}", 2);
		json[sizeof(json) - 1] = '\0';
		assert_int_equal(
		    hub_publish(hub,
				&(struct hub_msg){
				    .json = json, .len = strlen(json), .state = true, .level = -1},
				1, 1),
		    0);
		hub_get_stats(hub, &st);
		assert_true(st.ring_used <= 65536);
	}
	assert_int_equal(st.last_seq, 1000);
	assert_true(st.first_seq > 900);
	assert_true(st.first_seq < 1000);
	/* the frame just before the tail is still a valid resume point */
	char id[64];
	sse_format_id(id, sizeof(id), INST, st.first_seq - 1);
	c = hub_client_new(hub, 7, id, NULL);
	s = drain(c, 1 << 16);
	assert_int_equal(count(s, "event: snapshot"), 0);
	assert_int_equal(count(s, "event: cpu"), (int)(1000 - st.first_seq + 1));
	hub_client_free(c);
	/* one older is expired: snapshot */
	sse_format_id(id, sizeof(id), INST, st.first_seq - 2);
	c = hub_client_new(hub, 7, id, NULL);
	s = drain(c, 1 << 16);
	assert_int_equal(count(s, "event: snapshot"), 1);
	assert_int_equal(count(s, "event: cpu"), 0);
	hub_client_free(c);
	/* a frame of more than half the ring is refused */
	char *big = malloc(40000);
	memset(big, 'y', 40000);
	assert_int_equal(
	    hub_publish(hub, &(struct hub_msg){.json = big, .len = 40000, .level = -1}, 1, 1),
	    -E2BIG);
	free(big);
	hub_free(hub);
}

static void test_behind_tail_resyncs(void **state)
{
	struct hub *hub = hub_new(65536, INST, names, &ops);
	struct hub_client *c;
	struct hub_stats st;
	char *s;

	hub_set_hello(hub, "{}", 2000);
	pub(hub, 0, 1);
	c = hub_client_new(hub, 7, NULL, NULL);
	drain(c, 4096);
	for (int i = 0; i < 5000; i++)
		pub(hub, 1, i);
	s = drain(c, 1 << 16);
	/* not buffered for: one fresh snapshot, then only what came after it */
	assert_int_equal(count(s, "event: snapshot"), 1);
	assert_non_null(strstr(s, "\"n\":4999"));
	assert_int_equal(count(s, "event: mem"), 0);
	hub_get_stats(hub, &st);
	assert_int_equal(st.resyncs, 1);
	pub(hub, 1, 5000);
	s = drain(c, 4096);
	assert_int_equal(count(s, "event: mem"), 1);
	hub_client_free(c);
	hub_free(hub);
}

static void test_filter_and_small_reads(void **state)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_client *c;
	char *s;

	hub_set_hello(hub, "{}", 2000);
	c = hub_client_new(hub, 1u << 1, NULL, NULL); /* mem only */
	drain(c, 4096);
	for (int i = 0; i < 30; i++)
		pub(hub, (unsigned)(i % 3), i);
	s = drain(c, 7); /* frames split over many reads must arrive whole, in order */
	assert_int_equal(count(s, "event: mem"), 10);
	assert_int_equal(count(s, "event: cpu"), 0);
	assert_int_equal(count(s, "event: load"), 0);
	assert_non_null(strstr(s,
			       "event: mem\ndata: {\"t\":1,\"n\":1}\nid: 00000000deadbeef-2\n\n"
			       "event: mem\ndata: {\"t\":1,\"n\":4}\nid: 00000000deadbeef-5\n\n"));
	hub_client_free(c);

	/* the snapshot of a filtered client holds only its topics */
	c = hub_client_new(hub, 1u << 2, NULL, NULL);
	s = drain(c, 4096);
	assert_non_null(strstr(s, "\"topics\":{\"load\":"));
	assert_null(strstr(s, "\"cpu\":"));
	hub_client_free(c);
	hub_free(hub);
}

static void test_suspend_wake_close(void **state)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_client *c;
	char buf[4096];

	hub_set_hello(hub, "{}", 2000);
	c = hub_client_new(hub, 1u << 1, NULL, NULL);
	drain(c, 4096);
	suspends = resumes = 0;
	assert_int_equal(hub_client_read(c, buf, sizeof(buf)), 0);
	assert_int_equal(suspends, 1);
	pub(hub, 0, 1); /* not its topic: stays parked */
	assert_int_equal(resumes, 0);
	pub(hub, 1, 2);
	assert_int_equal(resumes, 1);
	pub(hub, 1, 3); /* already woken: not resumed twice */
	assert_int_equal(resumes, 1);
	assert_true(hub_client_read(c, buf, sizeof(buf)) > 0);
	assert_int_equal(hub_client_read(c, buf, sizeof(buf)), 0);
	hub_close(hub);
	assert_int_equal(resumes, 2);
	assert_int_equal(hub_client_read(c, buf, sizeof(buf)), -1);
	hub_client_free(c);
	hub_free(hub);
}

static void test_keepalive(void **state)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_client *c;
	char buf[64];

	hub_set_hello(hub, "{}", 2000);
	c = hub_client_new(hub, 7, NULL, NULL);
	drain(c, 4096);
	hub_set_keepalive(hub, 0); /* due at once */
	assert_int_equal(hub_client_read(c, buf, sizeof(buf)), 13);
	assert_memory_equal(buf, ": keepalive\n\n", 13);
	hub_client_free(c);
	hub_free(hub);
}

static void pub_ev(struct hub *hub, int level, const char *key, const char *msg)
{
	char json[128];

	snprintf(json, sizeof(json), "{\"t\":1,\"msg\":\"%s\"}", msg);
	assert_int_equal(
	    hub_publish(
		hub,
		&(struct hub_msg){
		    .topic = 2, .json = json, .len = strlen(json), .level = level, .key = key},
		1, 1),
	    0);
}

static void test_client_filter(void **state)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_filter f = {.max_level = 4,
			       .units = {"ssh.service", "cron.service"},
			       .n_units = 2,
			       .match = "DISK"};
	struct hub_client *c, *all;
	char *s;

	hub_set_hello(hub, "{}", 2000);
	c = hub_client_new(hub, 7, NULL, NULL);
	all = hub_client_new(hub, 7, NULL, NULL);
	assert_int_equal(hub_client_set_filter(c, &f), 0);
	drain(c, 4096);
	drain(all, 4096);
	pub_ev(hub, 3, "ssh.service", "disk full");     /* passes */
	pub_ev(hub, 6, "ssh.service", "disk full");     /* level too low */
	pub_ev(hub, 2, "nginx.service", "disk full");   /* other unit */
	pub_ev(hub, 2, "cron.service", "no space");     /* no match */
	pub_ev(hub, 0, "cron.service", "Disk on fire"); /* passes, match ignores case */
	pub_ev(hub, -1, NULL, "unfiltered");            /* not filterable: passes */
	s = drain(c, 4096);
	assert_int_equal(count(s, "event: load"), 3);
	assert_non_null(strstr(s, "disk full"));
	assert_non_null(strstr(s, "Disk on fire"));
	assert_non_null(strstr(s, "unfiltered"));
	assert_null(strstr(s, "no space"));
	s = drain(all, 4096);
	assert_int_equal(count(s, "event: load"), 6);
	hub_client_free(c);

	struct hub_filter ex = {.max_level = 7, .exclude = {"nginx.service"}, .n_exclude = 1};
	c = hub_client_new(hub, 7, "00000000deadbeef-0", NULL);
	assert_int_equal(hub_client_set_filter(c, &ex), 0);
	s = drain(c, 4096);
	assert_int_equal(count(s, "event: load"), 5);
	assert_null(strstr(s, "nginx"));
	hub_client_free(c);
	hub_client_free(all);
	hub_free(hub);
}

static void test_history(void **state)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	size_t len;
	char *s;

	assert_int_equal(hub_set_history(hub, 0, "[\"t\",\"v\"]", 3), 0);
	assert_int_equal(hub_set_history(hub, 0, "[]", 3), -EEXIST);
	for (int i = 1; i <= 5; i++) {
		char json[32], row[32];

		snprintf(json, sizeof(json), "{\"t\":%d}", i);
		snprintf(row, sizeof(row), "[%d,%d]", i, i * 10);
		assert_int_equal(hub_publish(hub,
					     &(struct hub_msg){.topic = 0,
							       .json = json,
							       .len = strlen(json),
							       .state = true,
							       .level = -1,
							       .row = row,
							       .row_len = strlen(row)},
					     1, i),
				 0);
	}
	s = hub_snapshot_json(hub, 7, &len);
	/* only the last three rows, oldest first */
	assert_non_null(strstr(s, "\"history\":{\"cpu\":{\"fields\":[\"t\",\"v\"],"
				  "\"rows\":[[3,30],[4,40],[5,50]]}}}"));
	free(s);
	s = hub_snapshot_json(hub, 2, &len);
	assert_non_null(strstr(s, "\"history\":{}}"));
	free(s);
	hub_free(hub);
}

static void test_topic_mask(void **state)
{
	uint64_t mask = 0;
	char bad[80];

	assert_int_equal(hub_topic_mask(names, "cpu", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, 1);
	assert_int_equal(hub_topic_mask(names, "load,cpu", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, 5);
	assert_int_equal(hub_topic_mask(names, "cpu,cpu", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, 1);
	assert_int_equal(hub_topic_mask(names, "cpu,disk", &mask, bad, sizeof(bad)), -EINVAL);
	assert_string_equal(bad, "disk");
	assert_int_equal(hub_topic_mask(names, "cpux", &mask, bad, sizeof(bad)), -EINVAL);
	assert_string_equal(bad, "cpux");
	assert_int_equal(hub_topic_mask(names, "", &mask, bad, sizeof(bad)), -EINVAL);
	assert_string_equal(bad, "");
	assert_int_equal(hub_topic_mask(names, "cpu,", &mask, bad, sizeof(bad)), -EINVAL);
	assert_int_equal(hub_topic_mask(names, ",cpu", &mask, bad, sizeof(bad)), -EINVAL);
	assert_int_equal(hub_topic_mask(names, "CPU", &mask, bad, sizeof(bad)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_client_gets_hello_snapshot_live),
	    cmocka_unit_test(test_replay_exact),
	    cmocka_unit_test(test_bad_ids_get_snapshot),
	    cmocka_unit_test(test_ring_bounds_and_expired_id),
	    cmocka_unit_test(test_behind_tail_resyncs),
	    cmocka_unit_test(test_filter_and_small_reads),
	    cmocka_unit_test(test_suspend_wake_close),
	    cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_topic_mask),
	    cmocka_unit_test(test_history),
	    cmocka_unit_test(test_client_filter),
	};

	return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
