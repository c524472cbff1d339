/* Unit tests of lib/topn.c: the best n of shuffled items against a full
 * sort, every n from 0 to past the count, and a selection reused with
 * another order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "topn.h"
#include "unit.h"

#define N_ITEMS 200

struct item {
	int value; /* many ties */
	int key;   /* unique: breaks them */
};

static bool item_higher(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	if (a->value != b->value)
		return a->value > b->value;
	return a->key < b->key;
}

static bool item_lower(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	if (a->value != b->value)
		return a->value < b->value;
	return a->key < b->key;
}

static int item_cmp_higher(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	return item_higher(a, b) ? -1 : item_higher(b, a) ? 1 : 0;
}

static int item_cmp_lower(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	return item_lower(a, b) ? -1 : item_lower(b, a) ? 1 : 0;
}

/* The selection of the best n under better equals the first n of the
 * sorted items, in order. */
static void check(struct topn *t, struct item *items, size_t count, size_t n, topn_better_fn better,
		  int (*cmp)(const void *, const void *))
{
	struct item *sorted = malloc(count * sizeof(*sorted));
	size_t want = n < count ? n : count;

	assert_non_null(sorted);
	for (size_t i = 0; i < count; i++)
		sorted[i] = items[i];
	qsort(sorted, count, sizeof(*sorted), cmp);
	assert_int_equal(topn_start(t, n, better), 0);
	for (size_t i = 0; i < count; i++)
		topn_offer(t, &items[i]);
	assert_int_equal(topn_sort(t), want);
	assert_int_equal(t->len, want);
	for (size_t i = 0; i < want; i++) {
		const struct item *got = t->v[i];

		assert_int_equal(got->key, sorted[i].key);
	}
	free(sorted);
}

TEST(test_against_sort)
{
	struct item items[N_ITEMS];
	struct topn t = {0};

	srand(42);
	for (size_t i = 0; i < N_ITEMS; i++)
		items[i] = (struct item){.value = rand() % 17, .key = (int)i};
	/* shuffled keys, so that the unique key is not the offer order */
	for (size_t i = N_ITEMS - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		int k = items[i].key;

		items[i].key = items[j].key;
		items[j].key = k;
	}
	for (size_t n = 0; n <= N_ITEMS + 3; n++)
		check(&t, items, N_ITEMS, n, item_higher, item_cmp_higher);
	/* reused: a smaller n and the other order */
	check(&t, items, N_ITEMS, 15, item_lower, item_cmp_lower);
	check(&t, items, 5, 15, item_higher, item_cmp_higher);
	check(&t, items, 0, 15, item_higher, item_cmp_higher);
	topn_free(&t);
	topn_free(&t);
	topn_free(NULL);
}

/* Offers in ascending, descending and equal order: every heap path. */
TEST(test_orders)
{
	struct item up[50], down[50], same[50];
	struct topn t = {0};

	for (int i = 0; i < 50; i++) {
		up[i] = (struct item){.value = i, .key = i};
		down[i] = (struct item){.value = 50 - i, .key = i};
		same[i] = (struct item){.value = 7, .key = 49 - i};
	}
	for (size_t n = 0; n <= 51; n += 3) {
		check(&t, up, 50, n, item_higher, item_cmp_higher);
		check(&t, down, 50, n, item_higher, item_cmp_higher);
		check(&t, same, 50, n, item_higher, item_cmp_higher);
	}
	topn_free(&t);
}
