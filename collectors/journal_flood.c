/* The `log` topic's flood control: the rate window and the batch. */
#include "journal_flood.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int journal_rate_init(struct journal_rate *r, unsigned cap)
{
	memset(r, 0, sizeof(*r));
	if (cap == 0)
		cap = 1;
	r->ts = calloc(cap, sizeof(*r->ts));
	if (!r->ts)
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

void journal_rate_free(struct journal_rate *r)
{
	free(r->ts);
	r->ts = NULL;
	r->cap = r->n = r->head = 0;
}

unsigned journal_rate_room(struct journal_rate *r, uint64_t now_ms)
{
	/* the oldest is at (head - n); drop what left the window */
	while (r->n) {
		unsigned oldest = (r->head + r->cap - r->n) % r->cap;

		if (r->ts[oldest] + 1000 > now_ms)
			break;
		r->n--;
	}
	return r->cap - r->n;
}

void journal_rate_take(struct journal_rate *r, uint64_t now_ms, unsigned k)
{
	while (k-- && r->n < r->cap) {
		r->ts[r->head] = now_ms;
		r->head = (r->head + 1) % r->cap;
		r->n++;
	}
}

int journal_batch_init(struct journal_batch *b, unsigned cap)
{
	memset(b, 0, sizeof(*b));
	if (cap == 0)
		cap = 1;
	b->items = calloc(cap, sizeof(*b->items));
	if (!b->items)
		return -ENOMEM;
	b->cap = cap;
	b->dropped_level = 8;
	return 0;
}

void journal_batch_clear(struct journal_batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		free(b->items[i].json);
		free(b->items[i].unit);
	}
	b->n = 0;
	b->dropped = 0;
	b->dropped_level = 8;
}

void journal_batch_free(struct journal_batch *b)
{
	if (b->items)
		journal_batch_clear(b);
	free(b->items);
	b->items = NULL;
	b->cap = 0;
}

/* Index of the newest among the least severe items (n > 0). */
static unsigned journal_batch_worst(const struct journal_batch *b)
{
	unsigned w = 0;

	for (unsigned i = 1; i < b->n; i++)
		if (b->items[i].level >= b->items[w].level)
			w = i;
	return w;
}

void journal_batch_drop(struct journal_batch *b, int level)
{
	b->dropped++;
	if (level < b->dropped_level)
		b->dropped_level = level;
}

/* Removes item i, keeping the order of the others. */
static void journal_batch_remove(struct journal_batch *b, unsigned i)
{
	journal_batch_drop(b, b->items[i].level);
	if (b->on_drop)
		b->on_drop(b->ctx, b->items[i].json, b->items[i].level);
	free(b->items[i].json);
	free(b->items[i].unit);
	memmove(&b->items[i], &b->items[i + 1], (b->n - i - 1) * sizeof(*b->items));
	b->n--;
}

bool journal_batch_wants(const struct journal_batch *b, int level)
{
	return b->n < b->cap || level < b->items[journal_batch_worst(b)].level;
}

int journal_batch_add(struct journal_batch *b, char *json, int level, const char *unit)
{
	char *u = strdup(unit ? unit : "");

	if (!u)
		return -ENOMEM;
	if (!journal_batch_wants(b, level)) {
		journal_batch_drop(b, level);
		free(json);
		free(u);
		return 0;
	}
	if (b->n == b->cap)
		journal_batch_remove(b, journal_batch_worst(b));
	b->items[b->n++] = (struct journal_batch_item){json, level, u};
	return 0;
}

void journal_batch_trim(struct journal_batch *b, unsigned keep)
{
	while (b->n > keep)
		journal_batch_remove(b, journal_batch_worst(b));
}
