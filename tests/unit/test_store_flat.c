/* Unit tests of daemon/store_flat.c: a tick's payloads made into one row
 * of named columns and top lists, written out as text and compared whole:
 * leaves, bools, array elements named by a string field (cut to 63 bytes)
 * or by their index, elements without a name left out, two elements of
 * one name in one column, names at the length bound, top lists cut to
 * STORE_TOP_N with their names cut to STORE_NAME_MAX. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "collector.h"
#include "store_impl.h"
#include "unit.h"

#define T0 1795996800000LL

/* The row of r as text: "name type value" a column, in the row's order
 * (type N, B or K; "-" for null), then "list by: id name cpu mem" an
 * entry. */
static char *dump(const struct store_rec *r)
{
	static char out[16384];
	const struct store_chunk *c = &r->row;
	size_t at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < c->n_cols; i++) {
		const struct store_col *col = &c->cols[i];
		double v = col->v[c->n - 1];

		at += (size_t)snprintf(out + at, sizeof(out) - at, "%s %c ", col->name,
				       "NBK"[col->type]);
		if (isnan(v))
			at += (size_t)snprintf(out + at, sizeof(out) - at, "-\n");
		else
			at += (size_t)snprintf(out + at, sizeof(out) - at, "%g\n", v);
	}
	for (size_t l = 0; l < c->n_lists; l++) {
		size_t n;
		const struct store_top *e = store_chunk_tops(c, c->n - 1, l, &n);

		for (size_t k = 0; k < n; k++)
			at += (size_t)snprintf(out + at, sizeof(out) - at, "%s %s: %lld %s %g %g\n",
					       c->lists[l].name, c->lists[l].by_mem ? "mem" : "cpu",
					       (long long)e[k].id, c->strs[e[k].name], e[k].cpu,
					       e[k].mem);
	}
	assert_true(at < sizeof(out));
	return out;
}

/* The row one payload (JSON text) makes, as dump() writes it. */
static const char *row_of(const char *topic, const char *json, const char *const *paths,
			  const struct collector_top *tops)
{
	struct store_rec *r = store_rec_new();
	cJSON *p = cJSON_Parse(json);
	const char *out;

	assert_non_null(r);
	assert_non_null(p);
	assert_int_equal(store_rec_payload(r, T0, topic, p, paths, tops), 0);
	out = dump(r);
	cJSON_Delete(p);
	store_rec_free(r);
	return out;
}

/* n copies of ch. */
static const char *repeat(char ch, size_t n)
{
	static char s[4][256];
	static unsigned k;
	char *out = s[k++ % 4];

	assert_true(n < sizeof(s[0]));
	memset(out, ch, n);
	out[n] = '\0';
	return out;
}

TEST(test_leaves_and_elements)
{
	static const char *const paths[] = {"a",          "b.c",     "s",     "flag", "missing",
					    "arr[].name", "arr[].v", "idx[]", NULL};
	char json[1024], want[2048];
	const char *x70 = repeat('x', 70), *x63 = repeat('x', 63);

	snprintf(json, sizeof(json),
		 "{\"t\":1,\"a\":1,\"b\":{\"c\":2.5},\"s\":\"text\",\"flag\":true,"
		 "\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"v\":2},{\"name\":\"eth0\",\"v\":3},"
		 "{\"name\":\"%s\",\"v\":4},{\"name\":\"lo\",\"v\":\"up\"}],"
		 "\"idx\":[5,\"x\",false]}",
		 x70);
	snprintf(want, sizeof(want),
		 "t.a N 1\n"
		 "t.b.c N 2.5\n"
		 "t.flag B 1\n"
		 "t.arr[eth0].name K 0\n"
		 "t.arr[eth0].v N 3\n"
		 "t.arr[%s].name K 0\n"
		 "t.arr[%s].v N 4\n"
		 "t.arr[lo].name K 0\n"
		 "t.idx[0] N 5\n"
		 "t.idx[2] B 0\n",
		 x63, x63);
	assert_string_equal(row_of("t", json, paths, NULL), want);
}

/* A name of STORE_BASE_MAX - 1 bytes is kept, one byte more is not; a
 * key is cut to 63 bytes before it goes into the name. */
TEST(test_name_bound)
{
	char p91[128], p92[128], key[128], json[1024], want[1024], topic[32];
	/* "t." + path: 91 and 92 bytes */
	const char *const paths[] = {p91, p92, NULL};
	/* topic of 21 bytes: "T.e[" + 63 + "]" + ".k": 90, ".vv": 91, ".vvv": 92 */
	const char *const paths2[] = {"e[].k", "e[].vv", "e[].vvv", NULL};

	snprintf(p91, sizeof(p91), "%s", repeat('a', STORE_BASE_MAX - 3));
	snprintf(p92, sizeof(p92), "%s", repeat('b', STORE_BASE_MAX - 2));
	snprintf(json, sizeof(json), "{\"%s\":1,\"%s\":2}", p91, p92);
	snprintf(want, sizeof(want), "t.%s N 1\n", p91);
	assert_string_equal(row_of("t", json, paths, NULL), want);

	snprintf(topic, sizeof(topic), "%s", repeat('T', 21));
	snprintf(key, sizeof(key), "%s", repeat('d', 63));
	/* the second key, 64 bytes, is cut to the first: same columns */
	snprintf(json, sizeof(json),
		 "{\"e\":[{\"k\":\"%s\",\"vv\":5,\"vvv\":7},"
		 "{\"k\":\"%sz\",\"vv\":6,\"vvv\":8}]}",
		 key, key);
	snprintf(want, sizeof(want),
		 "%s.e[%s].k K 0\n"
		 "%s.e[%s].vv N 6\n",
		 topic, key, topic, key);
	assert_string_equal(row_of(topic, json, paths2, NULL), want);
}

TEST(test_top_lists)
{
	static const struct collector_top tops[] = {
	    {"top_cpu", false, "pid", "comm", "cpu", "mem"},
	    {"top_mem", true, NULL, "comm", "cpu", "mem"},
	    {0},
	};
	static const char *const paths[] = {"n", NULL};
	const char *want = "p.n N 2\n"
			   "p.top_cpu cpu: 1 a 9 100\n"
			   "p.top_cpu cpu: 2 b 8 200\n"
			   "p.top_cpu cpu: -1  7 300\n"
			   "p.top_cpu cpu: 4 d nan nan\n"
			   "p.top_cpu cpu: 5 e 5 500\n"
			   "p.top_mem mem: -1 a 1 2\n";

	assert_string_equal(
	    row_of("p",
		   "{\"n\":2,\"top_cpu\":[{\"pid\":1,\"comm\":\"a\",\"cpu\":9,\"mem\":100},"
		   "{\"pid\":2,\"comm\":\"b\",\"cpu\":8,\"mem\":200},{\"cpu\":7,\"mem\":300},"
		   "{\"pid\":4,\"comm\":\"d\"},{\"pid\":5,\"comm\":\"e\",\"cpu\":5,\"mem\":500},"
		   "{\"pid\":6,\"comm\":\"f\",\"cpu\":4,\"mem\":600}],"
		   "\"top_mem\":[{\"pid\":1,\"comm\":\"a\",\"cpu\":1,\"mem\":2}]}",
		   paths, tops),
	    want);
}

/* A list's name is cut to STORE_NAME_MAX - 1 bytes. */
TEST(test_list_name_cut)
{
	char list[128], want[256];
	const struct collector_top tops[] = {{list, false, NULL, "n", "c", "m"}, {0}};
	char json[256];

	snprintf(list, sizeof(list), "%s", repeat('l', 100));
	snprintf(json, sizeof(json), "{\"%s\":[{\"n\":\"x\",\"c\":1,\"m\":2}]}", list);
	snprintf(want, sizeof(want), "p.%.*s cpu: -1 x 1 2\n", STORE_NAME_MAX - 3, list);
	assert_string_equal(row_of("p", json, NULL, tops), want);
}

/* A tick's record: topic t's payload (JSON text) on paths, then topic u's
 * {"a":N} (a second topic after the first, in one row); r as dump() writes
 * it, copied. */
static char *put_tick(struct store_rec *r, const char *json, const char *const *paths)
{
	static const char *const u_paths[] = {"a", NULL};
	cJSON *p = cJSON_Parse(json), *u = cJSON_Parse("{\"a\":7}");
	char *out;

	assert_non_null(r);
	assert_non_null(p);
	assert_non_null(u);
	assert_int_equal(store_rec_payload(r, T0, "t", p, paths, NULL), 0);
	assert_int_equal(store_rec_payload(r, T0, "u", u, u_paths, NULL), 0);
	assert_non_null(out = strdup(dump(r)));
	cJSON_Delete(p);
	cJSON_Delete(u);
	store_rec_free(r);
	return out;
}

/* Payloads whose shape changes from tick to tick, through one store's
 * records (each following the last one's columns) and through records of
 * their own (every column searched): the same rows. */
TEST(test_shape_changes)
{
	static const char *const paths[] = {"a", "b.c", "arr[].name", "arr[].v", "idx[]", NULL};
	static const char *const ticks[] = {
	    "{\"a\":1,\"b\":{\"c\":2},\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"name\":\"eth1\","
	    "\"v\":2}],"
	    "\"idx\":[1,2]}",
	    /* the same shape, other values */
	    "{\"a\":2,\"b\":{\"c\":3},\"arr\":[{\"name\":\"eth0\",\"v\":3},{\"name\":\"eth1\","
	    "\"v\":4}],"
	    "\"idx\":[3,4]}",
	    /* a field gone, another moved in its object */
	    "{\"b\":{\"x\":0,\"c\":3},\"arr\":[{\"v\":3,\"name\":\"eth0\"},{\"name\":\"eth1\","
	    "\"v\":4}],"
	    "\"idx\":[3,4]}",
	    /* back, and an array grown at its end */
	    "{\"a\":2,\"b\":{\"c\":3},\"arr\":[{\"name\":\"eth0\",\"v\":3},{\"name\":\"eth1\","
	    "\"v\":4},"
	    "{\"name\":\"eth2\",\"v\":5}],\"idx\":[3,4,5]}",
	    /* elements of names as long in another order */
	    "{\"a\":2,\"b\":{\"c\":3},\"arr\":[{\"name\":\"eth1\",\"v\":4},{\"name\":\"eth0\","
	    "\"v\":3},"
	    "{\"name\":\"eth2\",\"v\":5}],\"idx\":[3,4,5]}",
	    /* shrunk, one element renamed */
	    "{\"a\":2,\"b\":{\"c\":3},\"arr\":[{\"name\":\"eth9\",\"v\":4}],\"idx\":[3]}",
	    /* a number turned bool, a value turned string */
	    "{\"a\":true,\"b\":{\"c\":3},\"arr\":[{\"name\":\"eth9\",\"v\":\"x\"}],\"idx\":[3]}",
	    /* two elements of one name, then one */
	    "{\"a\":1,\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"name\":\"eth0\",\"v\":2}]}",
	    "{\"a\":1,\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"name\":\"eth0\",\"v\":2}]}",
	    "{\"a\":1,\"arr\":[{\"name\":\"eth0\",\"v\":1}]}",
	    /* the same after two of one name: the second now another column */
	    "{\"a\":1,\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"name\":\"eth0\",\"v\":2}]}",
	    "{\"a\":1,\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"name\":\"eth1\",\"v\":2}]}",
	    /* a name twice, moved: the shape written anew must end there */
	    "{\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"name\":\"eth1\",\"v\":2},"
	    "{\"name\":\"eth0\",\"v\":3}]}",
	    "{\"arr\":[{\"name\":\"eth1\",\"v\":1},{\"name\":\"eth0\",\"v\":2},"
	    "{\"name\":\"eth0\",\"v\":3}]}",
	    "{\"arr\":[{\"name\":\"eth1\",\"v\":1},{\"name\":\"eth0\",\"v\":2},"
	    "{\"name\":\"eth0\",\"v\":3}]}",
	    /* no array, then the first tick again */
	    "{\"a\":1}",
	    "{\"a\":1,\"b\":{\"c\":2},\"arr\":[{\"name\":\"eth0\",\"v\":1},{\"name\":\"eth1\","
	    "\"v\":2}],"
	    "\"idx\":[1,2]}",
	};
	struct store *s = store_open(&(struct store_options){0});

	assert_non_null(s);
	for (size_t k = 0; k < sizeof(ticks) / sizeof(ticks[0]); k++) {
		char *want = put_tick(store_rec_new(), ticks[k], paths);
		char *got = put_tick(store_rec_for(s), ticks[k], paths);

		if (strcmp(got, want) != 0)
			fail_msg("tick %zu:\n%s\nnot\n%s", k, got, want);
		free(got);
		free(want);
	}
	store_close(s);
}

/* A record built while a newer one for the same store rewrites the shape
 * searches its columns: here the newer one's second put (a name made
 * twice, in its first column) would otherwise put the older one's key in
 * its first column. */
TEST(test_shape_one_owner)
{
	static const char *const m_paths[] = {"m", NULL};
	static const char *const k_paths[] = {"arr[].k", NULL};
	cJSON *m = cJSON_Parse("{\"m\":5}");
	cJSON *one = cJSON_Parse("{\"arr\":[{\"k\":\"n\"}]}");
	cJSON *two = cJSON_Parse("{\"arr\":[{\"k\":\"n\"},{\"k\":\"n\"}]}");
	struct store *s = store_open(&(struct store_options){0});
	struct store_rec *r, *older, *newer;

	assert_non_null(s);
	/* the shape: t.m, then t.arr[n].k */
	r = store_rec_for(s);
	assert_int_equal(store_rec_payload(r, T0, "t", m, m_paths, NULL), 0);
	assert_int_equal(store_rec_payload(r, T0, "t", one, k_paths, NULL), 0);
	store_rec_free(r);
	older = store_rec_for(s);
	assert_int_equal(store_rec_payload(older, T0, "t", m, m_paths, NULL), 0);
	newer = store_rec_for(s);
	assert_int_equal(store_rec_payload(newer, T0, "t", two, k_paths, NULL), 0);
	assert_int_equal(store_rec_payload(older, T0, "t", one, k_paths, NULL), 0);
	assert_string_equal(dump(older), "t.m N 5\nt.arr[n].k K 0\n");
	assert_string_equal(dump(newer), "t.arr[n].k K 0\n");
	store_rec_free(older);
	store_rec_free(newer);
	cJSON_Delete(m);
	cJSON_Delete(one);
	cJSON_Delete(two);
	store_close(s);
}

/* A name that begins the shape's at its place ("t.a" where "t.a.b" was
 * made a second time) is another column. */
TEST(test_shape_prefix)
{
	static const char *const twice[] = {"a.b", "a.b", NULL};
	static const char *const ab[] = {"a.b", NULL};
	static const char *const a[] = {"a", NULL};
	cJSON *p = cJSON_Parse("{\"a\":{\"b\":1}}"), *q = cJSON_Parse("{\"a\":2}");
	struct store *s = store_open(&(struct store_options){0});
	struct store_rec *r = store_rec_for(s);

	assert_non_null(s);
	assert_int_equal(store_rec_payload(r, T0, "t", p, twice, NULL), 0);
	store_rec_free(r);
	r = store_rec_for(s);
	assert_int_equal(store_rec_payload(r, T0, "t", p, ab, NULL), 0);
	assert_int_equal(store_rec_payload(r, T0, "t", q, a, NULL), 0);
	assert_string_equal(dump(r), "t.a.b N 1\nt.a N 2\n");
	store_rec_free(r);
	cJSON_Delete(p);
	cJSON_Delete(q);
	store_close(s);
}

/* A top entry's fields as cJSON_GetObjectItemCaseSensitive finds them:
 * the first of a name twice, one field for two roles, an entry that is
 * not an object. */
TEST(test_top_fields)
{
	static const struct collector_top tops[] = {{"l", false, "id", "n", "v", "v"}, {0}};

	assert_string_equal(
	    row_of("p",
		   "{\"l\":[{\"n\":\"a\",\"id\":1,\"n\":\"b\",\"v\":2,\"id\":3,\"v\":4},"
		   "[1,2],7,{\"v\":5}]}",
		   NULL, tops),
	    "p.l cpu: 1 a 2 2\n"
	    "p.l cpu: -1  nan nan\n"
	    "p.l cpu: -1  nan nan\n"
	    "p.l cpu: -1  5 5\n");
}
