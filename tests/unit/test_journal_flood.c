/* Unit tests of collectors/journal_flood.c: the rate window and flood
 * batches, and the payload a batch makes (journal_entry.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "journal_entry.h"
#include "journal_flood.h"
#include "unit.h"

TEST(test_rate)
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

TEST(test_batch)
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

struct dropped_seen {
	char text[128];
	int levels[4];
	unsigned n;
};

static void note_drop(void *ctx, char *json, int level)
{
	struct dropped_seen *d = ctx;

	strncat(d->text, json, sizeof(d->text) - strlen(d->text) - 1);
	if (d->n < 4)
		d->levels[d->n] = level;
	d->n++;
}

/* Each entry the batch took and then lets go (replaced by a more severe
 * one, trimmed) reaches on_drop once, before it is freed; an entry never
 * taken (journal_batch_drop) is the caller's to hand over. */
TEST(test_batch_on_drop)
{
	struct dropped_seen d = {0};
	struct journal_batch b;

	assert_int_equal(journal_batch_init(&b, 2), 0);
	b.on_drop = note_drop;
	b.ctx = &d;
	add(&b, "{\"a\":1}", 6, "x");
	add(&b, "{\"a\":2}", 2, "x");
	add(&b, "{\"a\":3}", 3, "y"); /* replaces a:1 */
	journal_batch_drop(&b, 7);
	assert_int_equal(d.n, 1);
	journal_batch_trim(&b, 0); /* a:3, then a:2 */
	assert_int_equal(d.n, 3);
	assert_string_equal(d.text, "{\"a\":1}{\"a\":3}{\"a\":2}");
	assert_int_equal(d.levels[0], 6);
	assert_int_equal(d.levels[1], 3);
	assert_int_equal(d.levels[2], 2);
	assert_int_equal(b.dropped, 4);
	assert_int_equal(b.dropped_level, 2);
	journal_batch_free(&b);
}
