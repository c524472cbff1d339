/* Unit tests of daemon/store_tier.c: buckets on multiples of the step,
 * averages weighted by the rows behind each row, min and max of mins and
 * maxes, nulls left out, bools and keys, tops averaged over a bucket (an
 * absent entry counts 0) and ranked, and rows sorted by time with
 * everything that belongs to them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_impl.h"
#include "unit.h"

static void set(struct store_chunk *c, const char *name, enum store_col_type type, double v)
{
	struct store_col *col = store_chunk_col(c, name, type, NULL);

	assert_non_null(col);
	col->v[c->n - 1] = v;
}

static double get(const struct store_chunk *c, const char *name, size_t row)
{
	int i = store_chunk_find(c, name);

	assert_true(i >= 0);
	return c->cols[i].v[row];
}

TEST(test_raw_buckets)
{
	struct store_chunk c, d;
	/* t: 59 s, 60 s, 61 s, 119 s, 120 s; value x */
	const int64_t t[] = {59000, 60000, 61000, 119000, 120000};
	const double x[] = {1, 2, NAN, 6, 10};

	store_chunk_init(&c);
	store_chunk_init(&d);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(store_chunk_add_row(&c, t[i]), 0);
		set(&c, "a.x", STORE_NUM, x[i]);
		set(&c, "a.on", STORE_BOOL, i % 2);
		if (i == 2)
			set(&c, "a.d[sda].name", STORE_KEY, 0);
	}
	assert_int_equal(store_consolidate(&c, 60000, &d), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.t[0], 0);
	assert_int_equal(d.t[1], 60000);
	assert_int_equal(d.t[2], 120000);
	assert_true(get(&d, "a.x", 0) == 1);
	/* 60 s..119 s: 2 and 6 (the null is left out) */
	assert_true(get(&d, "a.x", 1) == 4);
	assert_true(get(&d, "a.x:min", 1) == 2);
	assert_true(get(&d, "a.x:max", 1) == 6);
	assert_true(get(&d, "#n", 1) == 3);
	assert_true(get(&d, "a.on", 1) == 1); /* the last: row 3 */
	assert_false(isnan(get(&d, "a.d[sda].name", 1)));
	assert_true(isnan(get(&d, "a.d[sda].name", 2)));
	/* no min/max of a bool or a key */
	assert_int_equal(store_chunk_find(&d, "a.on:min"), -1);
	assert_int_equal(store_chunk_find(&d, "a.d[sda].name:max"), -1);
	store_chunk_done(&c);
	store_chunk_done(&d);
}

/* Minute rows into an hour: averages weighted by "#n", min of mins. */
TEST(test_weighted)
{
	struct store_chunk c, d;

	store_chunk_init(&c);
	store_chunk_init(&d);
	assert_int_equal(store_chunk_add_row(&c, 0), 0);
	set(&c, "a.x", STORE_NUM, 10);
	set(&c, "a.x:min", STORE_NUM, 5);
	set(&c, "a.x:max", STORE_NUM, 20);
	set(&c, "#n", STORE_NUM, 60);
	assert_int_equal(store_chunk_add_row(&c, 60000), 0);
	set(&c, "a.x", STORE_NUM, 40);
	set(&c, "a.x:min", STORE_NUM, 1);
	set(&c, "a.x:max", STORE_NUM, 50);
	set(&c, "#n", STORE_NUM, 20);
	assert_int_equal(store_consolidate(&c, 3600000, &d), 0);
	assert_int_equal(d.n, 1);
	assert_true(fabs(get(&d, "a.x", 0) - (10.0 * 60 + 40 * 20) / 80) < 1e-12);
	assert_true(get(&d, "a.x:min", 0) == 1);
	assert_true(get(&d, "a.x:max", 0) == 50);
	assert_true(get(&d, "#n", 0) == 80);
	store_chunk_done(&c);
	store_chunk_done(&d);
}

TEST(test_tops)
{
	struct store_chunk c, d;
	const struct store_top *e;
	size_t n;

	store_chunk_init(&c);
	store_chunk_init(&d);
	assert_int_equal(store_chunk_list(&c, "proc.top_cpu", false), 0);
	assert_int_equal(store_chunk_list(&c, "proc.top_mem", true), 1);
	/* 4 rows: "burst" at 100 % in one row, "steady" at 30 % in all */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(store_chunk_add_row(&c, i * 1000), 0);
		set(&c, "a.x", STORE_NUM, i);
		if (i == 2)
			assert_int_equal(store_chunk_add_top(&c, c.n - 1, 0, 7, "burst", 100, 1e6),
					 0);
		assert_int_equal(store_chunk_add_top(&c, c.n - 1, 0, 8, "steady", 30, 2e6), 0);
		assert_int_equal(store_chunk_add_top(&c, c.n - 1, 1, 9, "big", 0, 8e9), 0);
		assert_int_equal(store_chunk_add_top(&c, c.n - 1, 1, 8, "steady", 30, 2e6), 0);
	}
	assert_int_equal(store_consolidate(&c, 60000, &d), 0);
	assert_int_equal(d.n, 1);
	e = store_chunk_tops(&d, 0, 0, &n);
	assert_int_equal(n, 2);
	assert_string_equal(d.strs[e[0].name], "steady"); /* 30 on average */
	assert_true(e[0].cpu == 30);
	assert_string_equal(d.strs[e[1].name], "burst"); /* 100 / 4 */
	assert_true(e[1].cpu == 25);
	assert_int_equal(e[1].id, 7);
	e = store_chunk_tops(&d, 0, 1, &n);
	assert_int_equal(n, 2);
	assert_string_equal(d.strs[e[0].name], "big"); /* ranked by memory */
	assert_true(e[0].mem == 8e9);
	store_chunk_done(&c);
	store_chunk_done(&d);
}

TEST(test_top_n)
{
	struct store_chunk c, d;
	const struct store_top *e;
	char name[8];
	size_t n;

	store_chunk_init(&c);
	store_chunk_init(&d);
	assert_int_equal(store_chunk_list(&c, "p.top", false), 0);
	/* 3 rows of 5 different entries each: 15 seen, the best 5 kept */
	for (int r = 0; r < 3; r++) {
		assert_int_equal(store_chunk_add_row(&c, r), 0);
		for (int k = 0; k < 5; k++) {
			snprintf(name, sizeof(name), "p%d", r * 5 + k);
			assert_int_equal(
			    store_chunk_add_top(&c, c.n - 1, 0, r * 5 + k, name, r * 5 + k, 0), 0);
		}
	}
	assert_int_equal(store_consolidate(&c, 1000, &d), 0);
	assert_int_equal(d.n, 1);
	e = store_chunk_tops(&d, 0, 0, &n);
	assert_int_equal(n, STORE_TOP_N);
	for (size_t k = 0; k < n; k++)
		assert_int_equal(e[k].id, 14 - (int)k);
	store_chunk_done(&c);
	store_chunk_done(&d);
}

TEST(test_sort)
{
	struct store_chunk c;
	const int64_t t[] = {30, 10, 20, 10};
	size_t n;

	store_chunk_init(&c);
	assert_int_equal(store_chunk_list(&c, "p.top", false), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(store_chunk_add_row(&c, t[i]), 0);
		set(&c, "a.x", STORE_NUM, i);
		assert_int_equal(store_chunk_add_top(&c, c.n - 1, 0, i, "p", i, 0), 0);
	}
	assert_int_equal(store_chunk_sort(&c), 0);
	assert_int_equal(c.t[0], 10);
	assert_true(get(&c, "a.x", 0) == 1); /* equal times keep their order */
	assert_true(get(&c, "a.x", 1) == 3);
	assert_true(get(&c, "a.x", 2) == 2);
	assert_true(get(&c, "a.x", 3) == 0);
	assert_int_equal(store_chunk_tops(&c, 3, 0, &n)[0].id, 0);
	/* rows still append after a sort */
	assert_int_equal(store_chunk_add_row(&c, 40), 0);
	assert_int_equal(c.n, 5);
	store_chunk_done(&c);
}
