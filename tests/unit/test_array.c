/* Unit tests of lib/array.c: growth from the first size by doubling, the
 * contents kept, a want below the capacity a no-op, and overflow refused
 * with the array unchanged; freeing leaves an empty table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "array.h"
#include "unit.h"

struct item {
	uint64_t a, b;
};

TEST(test_grow)
{
	struct item *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(ARRAY_GROW(v, cap, n, 16), 0);
		assert_true(cap > n);
		v[n++] = (struct item){i, ~i};
	}
	assert_int_equal(cap, 1024); /* 16, 32, ..., 1024 */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].a, i);
		assert_int_equal(v[i].b, ~i);
	}
	/* room already: nothing moves */
	{
		struct item *before = v;

		assert_int_equal(array_reserve(&v, &cap, 10, sizeof(*v), 16), 0);
		assert_ptr_equal(v, before);
		assert_int_equal(cap, 1024);
	}
	/* a want far above: doubled until it fits */
	assert_int_equal(array_reserve(&v, &cap, 5000, sizeof(*v), 16), 0);
	assert_int_equal(cap, 8192);
	assert_int_equal(v[999].a, 999);
	free(v);
}

/* array_free frees what the growth made and leaves an empty table that
 * grows again; a table never grown is freed too. */
TEST(test_release)
{
	struct item *v = NULL;
	size_t n = 0, cap = 0;

	ARRAY_FREE(v, cap, n);
	assert_null(v);
	for (size_t i = 0; i < 40; i++) {
		assert_int_equal(ARRAY_GROW(v, cap, n, 16), 0);
		v[n++] = (struct item){i, i};
	}
	assert_int_equal(cap, 64);
	ARRAY_FREE(v, cap, n);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(cap, 0);
	assert_int_equal(ARRAY_GROW(v, cap, n, 8), 0);
	assert_int_equal(cap, 8);
	ARRAY_FREE(v, cap, n);
}

TEST(test_first)
{
	char *v = NULL;
	size_t cap = 0;

	assert_int_equal(array_reserve(&v, &cap, 1, 1, 0), 0); /* first 0 counts as 1 */
	assert_int_equal(cap, 1);
	assert_int_equal(array_reserve(&v, &cap, 3, 1, 0), 0);
	assert_int_equal(cap, 4);
	free(v);
}

TEST(test_overflow)
{
	struct item *v = NULL;
	size_t cap = 0;

	assert_int_equal(ARRAY_GROW(v, cap, 0, 4), 0);
	v[0].a = 7;
	/* more bytes than size_t holds: refused, the array as it was */
	assert_int_equal(array_reserve(&v, &cap, SIZE_MAX / 8, sizeof(*v), 4), -ENOMEM);
	assert_int_equal(array_reserve(&v, &cap, SIZE_MAX, sizeof(*v), 4), -ENOMEM);
	assert_int_equal(cap, 4);
	assert_int_equal(v[0].a, 7);
	free(v);
}

/* The index of a key in a table sorted by a string member, or where it
 * would go. */
TEST(test_find_str)
{
	struct row {
		int x;
		const char *key;
	} rows[] = {{1, "b"}, {2, "d"}, {3, "f"}};
	static const struct {
		const char *key;
		size_t at;
		bool found;
	} cases[] = {{"a", 0, false}, {"b", 0, true}, {"c", 1, false},
		     {"d", 1, true},  {"f", 2, true}, {"g", 3, false}};
	bool found;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(array_find_str(rows, 3, sizeof(rows[0]), offsetof(struct row, key),
						cases[i].key, &found),
				 cases[i].at);
		assert_true(found == cases[i].found);
	}
	assert_int_equal(
	    array_find_str(rows, 0, sizeof(rows[0]), offsetof(struct row, key), "b", &found), 0);
	assert_false(found);
}
