/* The hub: ring, cursors, replay, resync, filters, suspend and wake. The
 * connection operations are recorded instead of driving libmicrohttpd; the
 * integration tests run the same code behind the real server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "clock.h"
#include "hub.h"
#include "hub_impl.h"
#include "sse.h"
#include "unit.h"

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

static int aborts;

static void fake_abort(void *conn)
{
	aborts++;
}

static const struct hub_conn_ops ops = {fake_suspend, fake_resume, fake_abort};

/* A hub of ring_bytes whose hello is hello (JSON). */
static struct hub *hub_ready(size_t ring_bytes, const char *hello)
{
	struct hub *hub = hub_new(ring_bytes, INST, names, &ops);

	assert_non_null(hub);
	hub_set_hello(hub, hello, 2000);
	return hub;
}

/* A stream client of mask (plain unless gzip), resuming after last_id. */
static struct hub_client *cnew_opt(struct hub *hub, uint64_t mask, const char *last_id,
				   const struct hub_filter *f, bool gzip)
{
	struct hub_client_opts o = {
	    .mask = mask, .last_id = last_id, .filter = f, .gzip = gzip, .max_clients = 1000};
	struct hub_client *c = NULL;
	bool z = false;

	assert_int_equal(hub_client_new(hub, &o, NULL, &c, &z), 0);
	assert_int_equal(z, gzip && !f);
	return c;
}

static struct hub_client *cnew(struct hub *hub, uint64_t mask, const char *last_id)
{
	return cnew_opt(hub, mask, last_id, NULL, false);
}

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

/* Compaction at age 0 (every frame but the batch just published), with a
 * client connected throughout, as compaction needs one that may resume
 * (or one gone whose resume point is still in the ring). Returns that
 * client, which reads nothing. */
static struct hub_client *compact_now(struct hub *hub)
{
	hub_set_compact_age(hub, 0);
	return cnew(hub, 7, NULL);
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

TEST(test_new_client_gets_hello_snapshot_live)
{
	struct hub *hub = hub_ready(1 << 20, "{\"host\":\"h\"}");
	struct hub_client *c;
	char *s;

	pub(hub, 0, 1);
	pub(hub, 1, 2);
	c = cnew(hub, 7, NULL);
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

TEST(test_replay_exact)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_client *c;
	char *s, expect[4096] = "";

	for (int i = 1; i <= 10; i++)
		pub(hub, (unsigned)(i % 3), i);
	c = cnew(hub, 7, "00000000deadbeef-6");
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
	c = cnew(hub, 7, "00000000deadbeef-10");
	s = drain(c, 4096);
	assert_int_equal(count(s, "id: "), 0);
	hub_client_free(c);
	hub_free(hub);
}

TEST(test_bad_ids_get_snapshot)
{
	const char *ids[] = {"feedfacefeedface-3", "garbage", "00000000deadbeef-999",
			     "00000000deadbeef-01", ""};
	struct hub *hub = hub_ready(1 << 20, "{}");

	for (int i = 1; i <= 5; i++)
		pub(hub, 0, i);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct hub_client *c = cnew(hub, 7, ids[i]);
		char *s = drain(c, 4096);

		assert_int_equal(count(s, "event: snapshot"), 1);
		assert_non_null(strstr(s, "}}\nid: 00000000deadbeef-5\n\n"));
		assert_int_equal(count(s, "event: cpu"), 0);
		hub_client_free(c);
	}
	hub_free(hub);
}

TEST(test_ring_bounds_and_expired_id)
{
	struct hub *hub = hub_ready(65536, "{}");
	struct hub_stats st;
	struct hub_client *c;
	char json[600], *s;

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
	c = cnew(hub, 7, id);
	s = drain(c, 1 << 16);
	assert_int_equal(count(s, "event: snapshot"), 0);
	assert_int_equal(count(s, "event: cpu"), (int)(1000 - st.first_seq + 1));
	hub_client_free(c);
	/* one older is expired: snapshot */
	sse_format_id(id, sizeof(id), INST, st.first_seq - 2);
	c = cnew(hub, 7, id);
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

TEST(test_behind_tail_resyncs)
{
	struct hub *hub = hub_ready(65536, "{}");
	struct hub_client *c;
	struct hub_stats st;
	char *s;

	pub(hub, 0, 1);
	c = cnew(hub, 7, NULL);
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

TEST(test_filter_and_small_reads)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_client *c;
	char *s;

	c = cnew(hub, 1u << 1, NULL); /* mem only */
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
	c = cnew(hub, 1u << 2, NULL);
	s = drain(c, 4096);
	assert_non_null(strstr(s, "\"topics\":{\"load\":"));
	assert_null(strstr(s, "\"cpu\":"));
	hub_client_free(c);
	hub_free(hub);
}

TEST(test_suspend_wake_close)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_client *c;
	char buf[4096];

	c = cnew(hub, 1u << 1, NULL);
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

TEST(test_keepalive)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_client *c;
	char buf[64];

	c = cnew(hub, 7, NULL);
	drain(c, 4096);
	hub_set_limits(hub, 0, 0); /* due at once */
	assert_int_equal(hub_client_read(c, buf, sizeof(buf)), 13);
	assert_memory_equal(buf, ": keepalive\n\n", 13);
	hub_client_free(c);
	hub_free(hub);
}

/* Housekeeping comes about once a second: a keepalive is sent at the one
 * nearest to the period, not a whole second after it (keepalive 1 s gave
 * 2 s gaps, which a proxy's 2 s idle timeout cut). */
TEST(test_keepalive_on_time)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_client *c;
	char buf[64];

	hub_set_limits(hub, 1, 0);
	c = cnew(hub, 7, NULL);
	drain(c, 4096);
	c->last_write_ms = clock_mono_ms() - 300; /* the next check comes first */
	assert_int_equal(hub_client_read(c, buf, sizeof(buf)), 0);
	c->last_write_ms = clock_mono_ms() - 700; /* the next one would be late */
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

TEST(test_client_filter)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_filter f = {.max_level = 4,
			       .units = {"ssh.service", "cron.service"},
			       .n_units = 2,
			       .match = "DISK"};
	struct hub_client *c, *all;
	char *s;

	c = cnew_opt(hub, 7, NULL, &f, false);
	all = cnew(hub, 7, NULL);
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
	c = cnew_opt(hub, 7, "00000000deadbeef-0", &ex, false);
	s = drain(c, 4096);
	assert_int_equal(count(s, "event: load"), 5);
	assert_null(strstr(s, "nginx"));
	hub_client_free(c);
	hub_client_free(all);
	hub_free(hub);
}

TEST(test_history)
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

TEST(test_topic_mask)
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

/* Inflates a gzip stream fed in pieces, as a browser does. */
struct unzip {
	z_stream z;
	char out[1 << 20];
	size_t len;
};

static void unzip_init(struct unzip *u)
{
	memset(u, 0, sizeof(*u));
	assert_int_equal(inflateInit2(&u->z, 16 + 15), Z_OK);
}

/* Feeds n bytes; everything they complete must come out at once (each
 * part of the stream ends on a flush). */
static void unzip_feed(struct unzip *u, const char *in, size_t n)
{
	u->z.next_in = (Bytef *)in;
	u->z.avail_in = (uInt)n;
	while (u->z.avail_in) {
		int r;

		u->z.next_out = (Bytef *)u->out + u->len;
		u->z.avail_out = (uInt)(sizeof(u->out) - 1 - u->len);
		r = inflate(&u->z, Z_SYNC_FLUSH);
		assert_true(r == Z_OK || r == Z_BUF_ERROR || r == Z_STREAM_END);
		u->len = sizeof(u->out) - 1 - u->z.avail_out;
		if (r == Z_BUF_ERROR)
			break;
	}
	u->out[u->len] = '\0';
}

/* Drains a gzip client into u, in reads of `chunk` bytes. */
static void zdrain(struct hub_client *c, struct unzip *u, size_t chunk)
{
	static char buf[1 << 20];
	long n;

	while ((n = hub_client_read(c, buf, chunk)) > 0)
		unzip_feed(u, buf, (size_t)n);
}

/* gzip clients decode to exactly what a plain client of the same mask
 * reads: hello, snapshot, live frames, whatever the read sizes. */
TEST(test_gzip_same_stream)
{
	struct hub *hub = hub_ready(1 << 20, "{\"host\":\"h\"}");
	struct hub_client *plain, *z1, *z2, *z3;
	static struct unzip u1, u2, u3;
	char *s;

	for (int i = 1; i <= 6; i++)
		pub(hub, (unsigned)(i % 3), i);
	plain = cnew(hub, 7, NULL);
	z1 = cnew_opt(hub, 7, NULL, NULL, true);
	z2 = cnew_opt(hub, 7, NULL, NULL, true);
	unzip_init(&u1);
	unzip_init(&u2);
	unzip_init(&u3);
	s = drain(plain, 4096);
	zdrain(z1, &u1, 4096);
	zdrain(z2, &u2, 3); /* tiny reads split every block header */
	assert_string_equal(u1.out, s);
	assert_string_equal(u2.out, s);
	/* live frames: the clients join the shared compressor */
	for (int round = 0; round < 3; round++) {
		char expect[1 << 14] = "";

		for (int i = 0; i < 5; i++)
			pub(hub, (unsigned)(i % 3), 100 * round + i);
		strcpy(expect, drain(plain, 4096));
		zdrain(z1, &u1, 4096);
		zdrain(z2, &u2, 7);
		assert_non_null(strstr(u1.out, expect));
		assert_non_null(strstr(u2.out, expect));
	}
	assert_int_equal(strlen(u1.out), strlen(u2.out));
	/* a client resuming mid-stream gets the frames it missed, then joins */
	z3 = cnew_opt(hub, 7, "00000000deadbeef-8", NULL, true);
	zdrain(z3, &u3, 4096);
	for (int i = 0; i < 4; i++)
		pub(hub, 1, 1000 + i);
	zdrain(z3, &u3, 4096);
	zdrain(z1, &u1, 4096);
	assert_null(strstr(u3.out, "snapshot"));
	assert_non_null(strstr(u3.out, "id: 00000000deadbeef-9\n\n"));
	assert_non_null(strstr(u3.out, "\"n\":1003}\nid: 00000000deadbeef-"));
	assert_non_null(strstr(u1.out, "\"n\":1003}\nid: 00000000deadbeef-"));
	/* one shared compressor, not one per client */
	struct hub_stats st;
	hub_get_stats(hub, &st);
	assert_int_equal(st.gzip_clients, 3);
	assert_int_equal(st.gzip_groups, 1);
	assert_true(st.gzip_out_bytes > 0 && st.gzip_out_bytes < st.gzip_in_bytes);
	inflateEnd(&u1.z);
	inflateEnd(&u2.z);
	inflateEnd(&u3.z);
	hub_client_free(plain);
	hub_client_free(z1);
	hub_client_free(z2);
	hub_client_free(z3);
	hub_housekeep(hub); /* frees the group nobody uses */
	hub_get_stats(hub, &st);
	assert_int_equal(st.gzip_groups, 0);
	hub_free(hub);
}

/* A gzip client that waits with nothing new gets a join point from the
 * housekeeping, and a filtered client is plain. */
TEST(test_gzip_join_when_quiet)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_filter f = {.max_level = 3};
	struct hub_client *z, *filtered;
	static struct unzip u;
	char buf[64];

	pub(hub, 2, 1);
	z = cnew_opt(hub, 1u << 2, NULL, NULL, true);
	filtered = cnew_opt(hub, 1u << 2, NULL, &f, true);
	unzip_init(&u);
	zdrain(z, &u, 4096);
	assert_int_equal(hub_client_read(z, buf, sizeof(buf)), 0);
	hub_housekeep(hub); /* an empty chunk that starts with a full flush */
	zdrain(z, &u, 4096);
	pub(hub, 2, 2);
	zdrain(z, &u, 4096);
	assert_non_null(strstr(u.out, "\"n\":2}\nid: 00000000deadbeef-2\n\n"));
	inflateEnd(&u.z);
	hub_client_free(z);
	hub_client_free(filtered);
	hub_free(hub);
}

/* A client of a quiet topic keeps its place however fast other topics
 * fill the ring: no snapshot, no resync. */
TEST(test_quiet_topic_not_resynced)
{
	struct hub *hub = hub_ready(65536, "{}");
	struct hub_client *c;
	struct hub_stats st;
	char *s;

	pub(hub, 2, 1);
	c = cnew(hub, 1u << 2, NULL);
	drain(c, 4096);
	for (int i = 0; i < 5000; i++)
		pub(hub, 1, i); /* wraps the ring many times */
	s = drain(c, 4096);
	assert_int_equal(count(s, "event: snapshot"), 0);
	pub(hub, 2, 2);
	s = drain(c, 4096);
	assert_int_equal(count(s, "event: load"), 1);
	assert_int_equal(count(s, "event: snapshot"), 0);
	hub_get_stats(hub, &st);
	assert_int_equal(st.resyncs, 0);
	hub_client_free(c);
	hub_free(hub);
}

TEST(test_max_clients_and_hangup)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_client_opts o = {.mask = 7, .max_clients = 2};
	struct hub_client *a, *b, *c = NULL;
	char buf[4096];
	bool z;

	assert_int_equal(hub_client_new(hub, &o, NULL, &a, &z), 0);
	assert_int_equal(hub_client_new(hub, &o, NULL, &b, &z), 0);
	assert_int_equal(hub_client_new(hub, &o, NULL, &c, &z), -EBUSY);
	assert_null(c);
	assert_int_equal(hub_topic_clients(hub, 0), 2);
	drain(a, 4096);
	assert_int_equal(hub_client_read(a, buf, sizeof(buf)), 0); /* parked */
	resumes = 0;
	hub_client_hangup(a);
	assert_int_equal(resumes, 1); /* woken to end */
	assert_int_equal(hub_client_read(a, buf, sizeof(buf)), -1);
	hub_client_free(a);
	assert_int_equal(hub_client_new(hub, &o, NULL, &c, &z), 0);
	hub_client_free(b);
	hub_client_free(c);
	assert_int_equal(hub_topic_clients(hub, 0), 0);
	hub_free(hub);
}

/* Chart rows are kept in blocks; whole blocks are dropped, so between
 * `rows` and `rows` + a block are kept, oldest first. */
TEST(test_history_blocks)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	size_t len;
	char *s, *p;
	int first, n = 0;

	assert_int_equal(hub_set_history(hub, 0, "[\"t\",\"v\"]", 100), 0);
	for (int i = 1; i <= 1000; i++) {
		char row[32];

		snprintf(row, sizeof(row), "[%d,%d]", i, i);
		assert_int_equal(hub_publish(hub,
					     &(struct hub_msg){.topic = 0,
							       .json = "{}",
							       .len = 2,
							       .level = -1,
							       .row = row,
							       .row_len = strlen(row)},
					     1, i),
				 0);
	}
	s = hub_snapshot_json(hub, 1, &len);
	p = strstr(s, "\"rows\":[[");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "\"rows\":[[%d,", &first), 1);
	for (p = strstr(p, "[["); (p = strchr(p + 1, '[')); n++)
		;
	assert_true(n >= 100 && n < 100 + HUB_ROW_BLOCK);
	assert_int_equal(first, 1000 - n + 1);
	assert_non_null(strstr(s, "[999,999],[1000,1000]]}}}"));
	free(s);
	hub_free(hub);
}

/* /api/snapshot gzip'd: one complete gzip member of the announced size. */
TEST(test_reader_gzip)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	static char zbuf[1 << 16], plain[1 << 16];
	size_t size = 0, plen;
	struct hub_reader *r;
	static struct unzip u;
	char *json;
	long n, got = 0;

	for (int i = 1; i <= 6; i++)
		pub(hub, (unsigned)(i % 3), i);
	json = hub_snapshot_json(hub, 7, &plen);
	r = hub_reader_new(hub, 7, true, &size);
	assert_non_null(r);
	while ((n = hub_reader_read(r, zbuf + got, 5)) > 0)
		got += n;
	assert_int_equal((size_t)got, size);
	unzip_init(&u);
	unzip_feed(&u, zbuf, (size_t)got);
	assert_int_equal(inflate(&u.z, Z_FINISH), Z_STREAM_END); /* CRC and length check out */
	assert_string_equal(u.out, json);
	inflateEnd(&u.z);
	hub_reader_free(r);
	r = hub_reader_new(hub, 7, false, &size);
	assert_int_equal(hub_reader_read(r, plain, sizeof(plain)), (long)plen);
	assert_int_equal(size, plen);
	hub_reader_free(r);
	free(json);
	hub_free(hub);
}

/* The last complete frame's seq in text (prev when none); checks that
 * seqs run on from `prev` without a gap (a snapshot starts a new run). */
static uint64_t check_run(const char *text, uint64_t prev)
{
	const char *p = text;
	uint64_t last = prev;

	for (;;) {
		const char *end = strstr(p, "\n\n"), *id;
		unsigned long long seq;

		if (!end)
			break; /* a frame cut short: its id does not count */
		id = strstr(p, "\nid: 00000000deadbeef-");
		if (id && id < end) {
			assert_int_equal(sscanf(id + 22, "%llu", &seq), 1);
			if (strncmp(p, "event: snapshot", 15) != 0 && last && seq != last + 1)
				fail_msg("seq %llu after %llu", seq, (unsigned long long)last);
			last = seq;
		}
		p = end + 2;
	}
	return last;
}

/* gzip clients of one mask cut at random points and resuming with the
 * last id they decoded, while batches, events and housekeeping go on:
 * every seq once, in order, for each of them. */
struct cutter {
	struct hub_client *c;
	struct unzip u;
	uint64_t last;
	unsigned resumes;
};

static void cutter_resume(struct hub *hub, struct cutter *k)
{
	char id[64];

	if (k->c) {
		k->last = check_run(k->u.out, k->last);
		hub_client_free(k->c);
		inflateEnd(&k->u.z);
		k->resumes++;
	}
	unzip_init(&k->u);
	sse_format_id(id, sizeof(id), INST, k->last);
	k->c = cnew_opt(hub, 7, k->last ? id : NULL, NULL, true);
}

TEST(test_gzip_resume_stress)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	static struct cutter k[3];
	static char buf[1 << 16];

	srand(7);
	memset(k, 0, sizeof(k));
	hub_set_hello(hub, "{}", 2000);
	pub(hub, 0, 0);
	for (int i = 0; i < 3; i++)
		cutter_resume(hub, &k[i]);
	for (int round = 0; round < 20000; round++) {
		int what = rand() % 12;
		struct cutter *x = &k[rand() % 3];

		if (what < 3) {
			int n = 1 + rand() % 6;

			for (int i = 0; i < n; i++)
				pub(hub, (unsigned)(rand() % 3), round);
		} else if (what == 3) {
			hub_housekeep(hub);
		} else if (what < 10) {
			long n = hub_client_read(x->c, buf, (size_t)(1 + rand() % 3000));

			if (n > 0)
				unzip_feed(&x->u, buf, (size_t)n);
		} else if (what == 10) {
			cutter_resume(hub, x);
		} else {
			hub_set_limits(hub, 0, 0); /* keepalives due at once */
			hub_housekeep(hub);
			hub_set_limits(hub, 15, 30);
		}
		if (x->u.len > sizeof(x->u.out) / 2)
			cutter_resume(hub, x); /* keeps the text small */
	}
	for (int i = 0; i < 3; i++) {
		k[i].last = check_run(k[i].u.out, k[i].last);
		assert_true(k[i].resumes > 100);
		assert_true(k[i].last > 1000);
		inflateEnd(&k[i].u.z);
		hub_client_free(k[i].c);
	}
	hub_free(hub);
}

/* The same with threads, as in the daemon: the loop thread publishes and
 * keeps house while reader threads read, cut and resume. */
struct reader_arg {
	struct hub *hub;
	unsigned seed;
	volatile int *stop;
	uint64_t frames, resumes;
	char err[128];
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	struct cutter *k = calloc(1, sizeof(*k));
	char *buf = malloc(1 << 16);

	cutter_resume(a->hub, k);
	while (!*a->stop && !a->err[0]) {
		long n = hub_client_read(k->c, buf, (size_t)(1 + rand_r(&a->seed) % 4000));

		if (n > 0)
			unzip_feed(&k->u, buf, (size_t)n);
		if (rand_r(&a->seed) % 500 == 0 || k->u.len > sizeof(k->u.out) / 2) {
			cutter_resume(a->hub, k);
			__atomic_add_fetch(&a->resumes, 1, __ATOMIC_RELAXED);
		}
	}
	k->last = check_run(k->u.out, k->last);
	a->frames = k->last;
	inflateEnd(&k->u.z);
	hub_client_free(k->c);
	free(k);
	free(buf);
	return NULL;
}

static uint64_t fewest_resumes(struct reader_arg *a, size_t n)
{
	uint64_t min = UINT64_MAX;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = __atomic_load_n(&a[i].resumes, __ATOMIC_RELAXED);

		min = r < min ? r : min;
	}
	return min;
}

TEST(test_gzip_resume_threads)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct reader_arg args[3];
	pthread_t th[3];
	volatile int stop = 0;
	uint64_t deadline = clock_mono_ms() + 60000;

	pub(hub, 0, 0);
	for (int i = 0; i < 3; i++) {
		args[i] = (struct reader_arg){.hub = hub, .seed = 11u + (unsigned)i, .stop = &stop};
		pthread_create(&th[i], NULL, reader_thread, &args[i]);
	}
	/* at least 20,000 rounds, and on until every reader has resumed
	 * a few times (slow under sanitizers), within a minute */
	for (int round = 0;
	     round < 20000 || (fewest_resumes(args, 3) <= 10 && clock_mono_ms() < deadline);
	     round++) {
		int what = rand() % 10;

		if (what < 7) {
			struct hub_msg m[6];
			char json[6][64];
			int n = 1 + rand() % 6;

			for (int i = 0; i < n; i++) {
				snprintf(json[i], sizeof(json[i]), "{\"t\":1,\"n\":%d}", round);
				m[i] = (struct hub_msg){.topic = (unsigned)(rand() % 3),
							.json = json[i],
							.len = strlen(json[i]),
							.state = true,
							.level = -1};
			}
			assert_int_equal(hub_publish(hub, m, (size_t)n, 1), 0);
		} else {
			hub_housekeep(hub);
		}
	}
	stop = 1;
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_true(args[i].resumes > 10);
	}
	hub_free(hub);
}

/* A group's stream has no gap while it has no users: a client that later
 * joins at an old join point reads every batch after it. */
TEST(test_gzip_no_gap_without_users)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_client *a, *b;
	static struct unzip u;
	char id[64];

	pub(hub, 0, 0); /* seq 1 */
	a = cnew_opt(hub, 7, "00000000deadbeef-1", NULL, true);
	unzip_init(&u);
	zdrain(a, &u, 4096); /* caught up: asks for a join point */
	pub(hub, 1, 1);      /* seq 2: the chunk after 1 starts with a full flush */
	zdrain(a, &u, 4096);
	pub(hub, 2, 2);
	hub_client_free(a); /* nobody uses the group now */
	inflateEnd(&u.z);
	for (int i = 3; i < 10; i++)
		pub(hub, (unsigned)(i % 3), i);
	sse_format_id(id, sizeof(id), INST, 1);
	b = cnew_opt(hub, 7, id, NULL, true); /* joins at the chunk after 1 */
	unzip_init(&u);
	zdrain(b, &u, 4096);
	assert_int_equal(check_run(u.out, 1), 10);
	inflateEnd(&u.z);
	hub_client_free(b);
	hub_free(hub);
}

/* Old frames are kept compressed: the same bytes ring-bytes hold more of
 * them, and plain, gzip and filtered replays read them as before. */
TEST(test_compact_ring)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops),
		   *ref = hub_new(1 << 20, INST, names, &ops);
	struct hub_client *hold;
	struct hub_filter f = {.max_level = 7, .match = "needle"};
	struct hub_stats st, st_ref;
	struct hub_client *plain, *z, *filtered, *rp;
	static struct unzip u;
	static char expect[1 << 20];

	hold = compact_now(hub); /* every frame but the batch just published */
	hub_set_hello(hub, "{}", 2000);
	hub_set_hello(ref, "{}", 2000);
	for (int i = 1; i <= 200; i++) {
		char json[2048], pad[1001];

		for (int j = 0; j < 1000; j++)
			pad[j] = "{\"cpu\":1.25,\"mem\":36}"[(i + j) % 21];
		pad[1000] = '\0';
		snprintf(json, sizeof(json), "{\"t\":1,\"n\":%d,\"pad\":\"%s%s\"}", i, pad,
			 i % 50 ? "" : "needle");
		for (struct hub *h = hub; h; h = h == hub ? ref : NULL)
			assert_int_equal(hub_publish(h,
						     &(struct hub_msg){.topic = 2,
								       .json = json,
								       .len = strlen(json),
								       .level = 3,
								       .key = "k"},
						     1, 1),
					 0);
	}
	hub_get_stats(hub, &st);
	hub_get_stats(ref, &st_ref);
	assert_true(st.ring_used * 2 < st_ref.ring_used);
	plain = cnew(hub, 7, "00000000deadbeef-0");
	rp = cnew(ref, 7, "00000000deadbeef-0");
	strcpy(expect, drain(rp, 4096));
	assert_string_equal(drain(plain, 4096), expect);
	z = cnew_opt(hub, 7, "00000000deadbeef-0", NULL, true);
	unzip_init(&u);
	zdrain(z, &u, 1000);
	assert_non_null(strstr(u.out, expect));
	filtered = cnew_opt(hub, 7, "00000000deadbeef-0", &f, false);
	assert_int_equal(count(drain(filtered, 4096), "needle"), 4);
	inflateEnd(&u.z);
	hub_client_free(plain);
	hub_client_free(rp);
	hub_client_free(z);
	hub_client_free(filtered);
	hub_client_free(hold);
	hub_free(hub);
	hub_free(ref);
}

/* A batch of more frames than there are topics (a journal burst) reaches
 * gzip clients whole: the shared compressor once took 64 frames of a
 * batch and dropped the rest. */
TEST(test_gzip_big_batch)
{
	struct hub *hub = hub_ready(1 << 20, "{}");
	struct hub_client *z = cnew_opt(hub, 7, NULL, NULL, true);
	static struct unzip u;
	static char json[200][48];
	struct hub_msg msgs[200];

	pub(hub, 0, 0);
	unzip_init(&u);
	zdrain(z, &u, 4096);
	hub_housekeep(hub); /* the join point it waits for */
	zdrain(z, &u, 4096);
	for (int i = 0; i < 200; i++) {
		snprintf(json[i], sizeof(json[i]), "{\"t\":1,\"line\":%d}", i);
		msgs[i] = (struct hub_msg){
		    .topic = 2, .json = json[i], .len = strlen(json[i]), .level = 6};
	}
	assert_int_equal(hub_publish(hub, msgs, 200, 0), 0);
	zdrain(z, &u, 4096);
	assert_int_equal(count(u.out, "event: load\n"), 200);
	assert_non_null(strstr(u.out, "{\"t\":1,\"line\":199}\nid: 00000000deadbeef-201\n\n"));
	inflateEnd(&u.z);
	hub_client_free(z);
	hub_free(hub);
}

/* Plain clients that fell behind to compact frames share one inflated
 * copy of each (a storm of late clients once inflated every frame for
 * each, and held the copies): the same text, one copy, gone at the next
 * housekeeping. */
TEST(test_compact_text_shared)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops);
	struct hub_client *a, *b;
	struct hub_client *hold;
	struct hub_stats st, st_a;
	static char sa[1 << 16];

	hold = compact_now(hub);
	hub_set_hello(hub, "{}", 2000);
	for (int i = 1; i <= 40; i++) {
		char json[400];

		snprintf(json, sizeof(json), "{\"t\":1,\"n\":%d,\"pad\":\"%0300d\"}", i, i);
		assert_int_equal(
		    hub_publish(hub,
				&(struct hub_msg){
				    .topic = 1, .json = json, .len = strlen(json), .level = -1},
				1, 1),
		    0);
	}
	a = cnew(hub, 7, "00000000deadbeef-0");
	b = cnew(hub, 7, "00000000deadbeef-0");
	strcpy(sa, drain(a, 4096));
	hub_get_stats(hub, &st_a);
	assert_string_equal(drain(b, 4096), sa);
	assert_int_equal(count(sa, "event: mem\n"), 40);
	hub_get_stats(hub, &st);
	/* all but the last batch, a text for each frame and its part */
	assert_true(st.inflated >= 2 * 30 && st.inflated <= 2 * 40);
	assert_int_equal(st.inflated, st_a.inflated); /* b inflated nothing */
	hub_housekeep(hub);
	hub_get_stats(hub, &st);
	assert_int_equal(st.inflated, 0);
	hub_client_free(a);
	hub_client_free(b);
	hub_client_free(hold);
	hub_free(hub);
}

/* Publishes frame i of a stream whose frames repeat one block of random
 * text: each alone hardly compresses, a run of them does. */
static void pub_repeat(struct hub *h, int i)
{
	static char pad[1001];
	char json[1100];
	unsigned seed = 7;

	if (!pad[0]) {
		for (int j = 0; j < 1000; j++)
			pad[j] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
			    [rand_r(&seed) % 64];
	}
	snprintf(json, sizeof(json), "{\"t\":1,\"n\":%d,\"pad\":\"%s\"}", i, pad);
	assert_int_equal(hub_publish(h,
				     &(struct hub_msg){.topic = (unsigned)(i % 3),
						       .json = json,
						       .len = strlen(json),
						       .level = -1},
				     1, 1),
			 0);
}

/* Old frames are deflated as runs of one stream: a frame that repeats the
 * ones before costs a few bytes (a piece per frame kept these as they
 * were), and any frame of a run reads back exactly, whether the reader
 * starts inside a run, goes on after a housekeeping (which drops the
 * inflater), reads gzip, or the run's first frames already left the
 * ring. */
TEST(test_compact_runs)
{
	struct hub *hub = hub_new(1 << 20, INST, names, &ops),
		   *plain = hub_new(1 << 20, INST, names, &ops),
		   *small = hub_new(16 << 10, INST, names, &ops),
		   *ref = hub_new(4 << 20, INST, names, &ops);
	struct hub_stats st, st_plain, st_small;
	struct hub_client *a, *b, *z;
	struct hub_client *hold, *hold_small;
	static struct unzip u;
	static char expect[1 << 20];
	const char *from[] = {"00000000deadbeef-37", "00000000deadbeef-2", "00000000deadbeef-150",
			      "00000000deadbeef-299"};
	char id[SSE_ID_MAX];

	hold = compact_now(hub);
	hold_small = compact_now(small);
	for (struct hub *h = hub; h; h = h == hub     ? plain
					 : h == plain ? small
					 : h == small ? ref
						      : NULL)
		hub_set_hello(h, "{}", 2000);
	for (int i = 1; i <= 300; i++) {
		pub_repeat(hub, i);
		pub_repeat(plain, i);
		pub_repeat(small, i);
		pub_repeat(ref, i);
	}
	hub_get_stats(hub, &st);
	hub_get_stats(plain, &st_plain);
	assert_int_equal(st.first_seq, 1);
	assert_int_equal(st.last_seq, 300);
	assert_true(st.ring_used * 4 < st_plain.ring_used);
	/* inside runs, from their start, at the end; twice, with a
	 * housekeeping between */
	for (int k = 0; k < 8; k++) {
		a = cnew(ref, 7, from[k % 4]);
		strcpy(expect, drain(a, 4096));
		hub_client_free(a);
		b = cnew(hub, 7, from[k % 4]);
		assert_string_equal(drain(b, 4096), expect);
		hub_client_free(b);
		z = cnew_opt(hub, 7, from[k % 4], NULL, true);
		unzip_init(&u);
		zdrain(z, &u, 1000);
		assert_string_equal(u.out, expect);
		inflateEnd(&u.z);
		hub_client_free(z);
		if (k == 3)
			hub_housekeep(hub);
	}
	/* a small ring: the run of its oldest frames began before them */
	hub_get_stats(small, &st_small);
	assert_true(st_small.first_seq > 150);
	for (uint64_t s = st_small.first_seq - 1; s < st_small.last_seq; s += 5) {
		sse_format_id(id, sizeof(id), INST, s);
		a = cnew(ref, 7, id);
		strcpy(expect, drain(a, 4096));
		b = cnew(small, 7, id);
		assert_string_equal(drain(b, 4096), expect);
		assert_int_equal(count(expect, "\n\n"), (int)(st_small.last_seq - s + 1));
		hub_client_free(a);
		hub_client_free(b);
		if (s % 3 == 0)
			hub_housekeep(small);
	}
	hub_client_free(hold);
	hub_free(hub);
	hub_free(plain);
	hub_client_free(hold_small);
	hub_free(small);
	hub_free(ref);
}

/* Publishes batch i of test_compact_batches to h: 1 to 9 frames of mixed
 * topics, keys and levels (a tick's), one of 150 (a journal burst, more
 * than one compaction takes), and frames of 6 KB in some (a run fills
 * inside a batch). Returns the frames published. */
static int pub_batch(struct hub *h, int i)
{
	static char json[150][7000];
	static char key[150][8];
	struct hub_msg msgs[150];
	int n = i == 40 ? 150 : 1 + i % 9;

	for (int j = 0; j < n; j++) {
		int pad = i % 7 == 3 && j % 2 ? 6000 : 20 + (i * 31 + j * 17) % 200;

		snprintf(json[j], sizeof(json[j]), "{\"t\":1,\"b\":%d,\"f\":%d,\"s\":\"%0*d%s\"}",
			 i, j, pad, i * 1000 + j, (i + j) % 11 ? "" : "needle");
		snprintf(key[j], sizeof(key[j]), "u%d", j % 4);
		msgs[j] = (struct hub_msg){.topic = (unsigned)(j % 3),
					   .json = json[j],
					   .len = strlen(json[j]),
					   .level = j % 8,
					   .key = key[j]};
	}
	assert_int_equal(hub_publish(h, msgs, (size_t)n, 1), 0);
	return n;
}

/* The frames that grow old together are compressed as one part (one
 * deflate block, not one a frame), and every frame inside a part is found
 * and resumed from exactly: plain, gzip and filtered readers from each
 * id, after housekeepings (which drop the inflater), and in a ring whose
 * oldest part lost its first frames. */
TEST(test_compact_batches)
{
	struct hub *hub = hub_ready(1 << 20, "{}"), *ref = hub_ready(4 << 20, "{}");
	struct hub_filter f = {.max_level = 5, .units = {"u1", "u2"}, .n_units = 2};
	struct hub_filter fm = {.max_level = 7, .match = "needle"};
	struct hub_stats st, st_ref;
	struct hub_client *a, *b;
	struct hub_client *hold, *hold_small;
	static struct unzip u;
	static char expect[1 << 20];
	uint64_t first[81];
	char id[SSE_ID_MAX];
	size_t shared = 0, cut = 0;

	hold = compact_now(hub);
	first[0] = 1;
	for (int i = 0; i < 80; i++) {
		int n = pub_batch(hub, i);

		assert_int_equal(pub_batch(ref, i), n);
		first[i + 1] = first[i] + (uint64_t)n;
	}
	hub_get_stats(hub, &st);
	hub_get_stats(ref, &st_ref);
	assert_int_equal(st.first_seq, 1);
	assert_int_equal(st.last_seq, first[80] - 1);
	assert_true(st.ring_used * 3 < st_ref.ring_used);
	/* a batch of small frames (none of 6 KB) compacted in one call is one
	 * part: those after the burst of 150, whose rest went with them */
	for (int i = 44; i < 79; i++) {
		if (i % 7 == 3)
			continue;
		for (uint64_t s = first[i]; s + 1 < first[i + 1]; s++) {
			struct blob *x = hub->frames[s & (hub->cap - 1)],
				    *y = hub->frames[(s + 1) & (hub->cap - 1)];

			assert_true(x->compact && x->part && x->part == y->part);
			assert_false(x->part_tail);
			shared++;
		}
	}
	assert_true(shared > 100);
	for (uint64_t s = 0; s < st.last_seq; s++) {
		sse_format_id(id, sizeof(id), INST, s);
		a = cnew(ref, 7, id);
		strcpy(expect, drain(a, 4096));
		hub_client_free(a);
		assert_int_equal(count(expect, "\n\n"), (int)(st.last_seq - s + 1));
		b = cnew(hub, 7, id);
		assert_string_equal(drain(b, 4096), expect);
		hub_client_free(b);
		if (s % 5 == 0) {
			b = cnew_opt(hub, 7, id, NULL, true);
			unzip_init(&u);
			zdrain(b, &u, 1000);
			assert_string_equal(u.out, expect);
			inflateEnd(&u.z);
			hub_client_free(b);
		}
		if (s % 9 == 0) {
			for (int k = 0; k < 2; k++) {
				a = cnew_opt(ref, 7, id, k ? &fm : &f, false);
				strcpy(expect, drain(a, 4096));
				hub_client_free(a);
				b = cnew_opt(hub, 7, id, k ? &fm : &f, false);
				assert_string_equal(drain(b, 4096), expect);
				hub_client_free(b);
			}
		}
		if (s % 31 == 0)
			hub_housekeep(hub);
	}
	/* small rings, whose oldest part began before their first frame in
	 * some (the part's first frames left) */
	for (size_t kb = 16; kb <= 32; kb += 2) {
		struct hub *small = hub_ready(kb << 10, "{}");
		struct hub_stats st_small;
		struct blob *oldest;

		hold_small = compact_now(small);
		for (int i = 0; i < 80; i++)
			pub_batch(small, i);
		hub_get_stats(small, &st_small);
		assert_true(st_small.first_seq > first[40]);
		oldest = small->frames[st_small.first_seq & (small->cap - 1)];
		assert_true(oldest->compact);
		cut += oldest->part_off > 0;
		for (uint64_t s = st_small.first_seq - 1; s < st_small.last_seq; s += 3) {
			sse_format_id(id, sizeof(id), INST, s);
			a = cnew(ref, 7, id);
			strcpy(expect, drain(a, 4096));
			hub_client_free(a);
			b = cnew(small, 7, id);
			assert_string_equal(drain(b, 4096), expect);
			hub_client_free(b);
			if (s % 4 == 0)
				hub_housekeep(small);
		}
		hub_client_free(hold_small);
		hub_free(small);
	}
	assert_true(cut > 0);
	hub_client_free(hold);
	hub_free(hub);
	hub_free(ref);
}

/* Appends to out[len..] what a socket taking a random share of each batch
 * gets of c through hub_client_gather and hub_client_sent (batches of
 * about `max` bytes); returns the new length. */
static size_t gdrain(struct hub_client *c, char *out, size_t len, size_t max, bool chunked,
		     unsigned *seed)
{
	static struct hub_batch b;
	long n;

	while ((n = hub_client_gather(c, &b, max, chunked)) > 0) {
		size_t put = rand_r(seed) % 2 ? (size_t)n : (size_t)rand_r(seed) % ((size_t)n + 1);
		size_t left = put;

		assert_int_equal(b.bytes, (size_t)n);
		for (size_t i = 0; i < b.n && left; i++) {
			size_t k = left < b.iov[i].iov_len ? left : b.iov[i].iov_len;

			memcpy(out + len, b.iov[i].iov_base, k);
			len += k;
			left -= k;
		}
		hub_client_sent(c, &b, put);
		assert_int_equal(b.n, 0);
	}
	out[len] = '\0';
	return len;
}

/* Undoes HTTP/1.1 chunking in place: every chunk whole and never empty
 * (an empty one would end the body). Returns the payload's length. */
static size_t dechunk(char *s, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		char *end;
		unsigned long size = strtoul(s + in, &end, 16);

		assert_true(size > 0);
		assert_memory_equal(end, "\r\n", 2);
		in = (size_t)(end + 2 - s);
		assert_true(in + size + 2 <= len);
		memmove(s + out, s + in, size);
		out += size;
		in += size;
		assert_memory_equal(s + in, "\r\n", 2);
		in += 2;
	}
	s[out] = '\0';
	return out;
}

/* Appends to out[len..] what c's reader gives, in reads of 4096 bytes;
 * returns the new length. */
static size_t rdrain(struct hub_client *c, char *out, size_t len)
{
	long n;

	while ((n = hub_client_read(c, out + len, 4096)) > 0)
		len += (size_t)n;
	return len;
}

/* The text of a whole stream of bytes: itself, or inflated when gzip. */
static const char *text(struct unzip *u, const char *s, size_t len, bool gzip)
{
	if (!gzip)
		return s;
	unzip_init(u);
	unzip_feed(u, s, len);
	inflateEnd(&u->z);
	return u->out;
}

/* A stream gathered for writev (a socket that takes any part of each
 * batch, the rest kept for the next) is what the reader gives: hello,
 * snapshot, replay, compact frames, batches of more pieces than one
 * writev takes and a frame larger than a batch, plain and gzip, chunked
 * or not. */
TEST(test_gather_same_stream)
{
	static char rbuf[2][1 << 20], gbuf[2][1 << 20], big[40000];
	static struct unzip ur, ug;
	unsigned seed = 7;

	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "{\"t\":1,\"x\":\"", 12);
	memcpy(big + sizeof(big) - 3, "\"}", 2);
	for (int mode = 0; mode < 8; mode++) {
		bool gzip = mode & 1, chunked = mode & 2;
		size_t max = mode & 4 ? 100 : 1 << 16;
		struct hub *hub = hub_new(1 << 20, INST, names, &ops);
		struct hub_client *rd[2], *gt[2];
		struct hub_client *hold;
		size_t rlen[2] = {0}, glen[2] = {0};

		hub_set_hello(hub, "{\"host\":\"h\"}", 2000);
		hold = compact_now(hub); /* old frames are kept compressed */
		for (int i = 1; i <= 6; i++)
			pub(hub, (unsigned)(i % 3), i);
		for (int k = 0; k < 2; k++) { /* fresh, and replaying 3..6 */
			rd[k] = cnew_opt(hub, 7, k ? "00000000deadbeef-2" : NULL, NULL, gzip);
			gt[k] = cnew_opt(hub, 7, k ? "00000000deadbeef-2" : NULL, NULL, gzip);
		}
		for (int round = 0; round < 6; round++) {
			static char json[100][64];
			struct hub_msg msgs[100];

			for (int i = 0; i < 100; i++) {
				snprintf(json[i], sizeof(json[i]), "{\"t\":1,\"n\":%d}",
					 round * 100 + i);
				msgs[i] = (struct hub_msg){.topic = (unsigned)(i % 3),
							   .json = json[i],
							   .len = strlen(json[i]),
							   .level = -1};
			}
			if (round == 3) {
				msgs[1].json = big;
				msgs[1].len = strlen(big);
			}
			assert_int_equal(hub_publish(hub, msgs, round % 2 ? 100 : 3, 1), 0);
			for (int k = 0; k < 2; k++) {
				rlen[k] = rdrain(rd[k], rbuf[k], rlen[k]);
				glen[k] = gdrain(gt[k], gbuf[k], glen[k], max, chunked, &seed);
			}
		}
		for (int k = 0; k < 2; k++) {
			char *r = rbuf[k], *g = gbuf[k];

			if (chunked)
				glen[k] = dechunk(g, glen[k]);
			assert_true(rlen[k] > 0);
			if (!gzip) {
				assert_int_equal(glen[k], rlen[k]);
				assert_memory_equal(g, r, rlen[k]);
			} else {
				assert_string_equal(text(&ug, g, glen[k], true),
						    text(&ur, r, rlen[k], true));
			}
			assert_non_null(strstr(text(&ug, g, glen[k], gzip), "\"n\":599}"));
			assert_int_equal(count(text(&ug, g, glen[k], gzip), "event: hello"), 1);
			hub_client_free(rd[k]);
			hub_client_free(gt[k]);
		}
		hub_client_free(hold);
		hub_free(hub);
	}
}

/* Whether every frame of hub from seq a to b is compact (want) or plain. */
static void assert_frames_compact(const struct hub *hub, uint64_t a, uint64_t b, bool want)
{
	for (uint64_t s = a; s <= b; s++)
		assert_int_equal(hub->frames[s & (hub->cap - 1)]->compact, want);
}

/* Old frames are compressed only while someone may resume into them: a
 * client connected, or the last to leave while its resume point is still
 * in the ring. A daemon nobody reads deflates nothing. */
TEST(test_compact_needs_resume)
{
	struct hub *hub = hub_ready(1 << 20, "{}"), *small = hub_ready(16 << 10, "{}");
	struct hub_client *c;
	struct hub_stats st;
	char id[SSE_ID_MAX], *s;
	uint64_t need;

	hub_set_compact_age(hub, 0);
	for (int i = 1; i <= 50; i++)
		pub(hub, (unsigned)(i % 3), i);
	assert_frames_compact(hub, 1, 50, false);

	/* a client: what is published from its next tick on is compressed */
	c = cnew(hub, 7, NULL);
	drain(c, 4096);
	for (int i = 51; i <= 70; i++) {
		pub(hub, (unsigned)(i % 3), i);
		drain(c, 4096);
	}
	assert_frames_compact(hub, 1, 50, false);
	assert_frames_compact(hub, 51, 69, true);

	/* it leaves; what it would resume into is compressed still, and
	 * replays exactly */
	hub_client_free(c);
	for (int i = 71; i <= 90; i++)
		pub(hub, (unsigned)(i % 3), i);
	assert_frames_compact(hub, 51, 89, true);
	c = cnew(hub, 7, "00000000deadbeef-70");
	s = drain(c, 4096);
	assert_null(strstr(s, "event: snapshot"));
	assert_int_equal(count(s, "\nid: "), 20);
	assert_non_null(strstr(s, "data: {\"t\":1,\"n\":71}\nid: 00000000deadbeef-71\n\n"));
	assert_non_null(strstr(s, "data: {\"t\":1,\"n\":90}\nid: 00000000deadbeef-90\n\n"));
	hub_client_free(c);

	/* in a small ring: once the frame it would resume from is gone, no
	 * resume can use what comes next, and it stays plain */
	hub_set_compact_age(small, 0);
	c = cnew(small, 7, NULL);
	pub(small, 0, 0);
	drain(c, 4096);
	hub_client_free(c);
	hub_get_stats(small, &st);
	need = st.last_seq + 1;
	for (int i = 1; st.first_seq <= need + 1; i++) {
		pub(small, (unsigned)(i % 3), i);
		hub_get_stats(small, &st);
	}
	pub(small, 0, 0); /* the tick that sees the need gone */
	hub_get_stats(small, &st);
	assert_frames_compact(small, st.first_seq, st.first_seq, true);
	for (int i = 0; i < 40; i++)
		pub(small, (unsigned)(i % 3), i);
	hub_get_stats(small, &st);
	assert_frames_compact(small, st.last_seq - 39, st.last_seq, false);
	/* a client that resumes from a frame still here is served, plain */
	sse_format_id(id, sizeof(id), INST, st.last_seq - 10);
	c = cnew(small, 7, id);
	s = drain(c, 4096);
	assert_null(strstr(s, "event: snapshot"));
	assert_int_equal(count(s, "\nid: "), 10);
	hub_client_free(c);
	hub_free(small);
	hub_free(hub);
}
