/* Flood control of the `log` topic: a sliding one-second window of what
 * was published (log-rate), and the batch an entry beyond it waits in,
 * where the most severe entries are kept and the others counted. */
#ifndef SYSFEED_JOURNAL_FLOOD_H
#define SYSFEED_JOURNAL_FLOOD_H

#include <stdbool.h>
#include <stdint.h>

/* A sliding one-second window over what was published (CLOCK_MONOTONIC
 * ms): at most `cap` entries in any 1000 ms. */
struct journal_rate {
	uint64_t *ts;
	unsigned cap, head, n;
};

int journal_rate_init(struct journal_rate *r, unsigned cap);
void journal_rate_free(struct journal_rate *r);
/* How many more entries may go out at now_ms. */
unsigned journal_rate_room(struct journal_rate *r, uint64_t now_ms);
/* Records k entries published at now_ms (k <= room). */
void journal_rate_take(struct journal_rate *r, uint64_t now_ms, unsigned k);

/* A flood batch: at most `cap` entries; when full, a more severe entry
 * replaces the newest of the least severe ones, and every entry left out is
 * counted in `dropped`. */
struct journal_batch_item {
	char *json; /* the entry, encoded */
	int level;
	char *unit;
};

struct journal_batch {
	struct journal_batch_item *items;
	unsigned n, cap;
	uint64_t dropped;
	int dropped_level; /* most severe level among the dropped, or 8 */
	/* called with each entry the batch had taken and then drops (json is
	 * still the batch's, freed after the call); NULL: none */
	void (*on_drop)(void *ctx, char *json, int level);
	void *ctx;
};

int journal_batch_init(struct journal_batch *b, unsigned cap);
void journal_batch_free(struct journal_batch *b);
/* Whether an entry of this level would be kept (so it is worth encoding). */
bool journal_batch_wants(const struct journal_batch *b, int level);
/* Adds an entry, taking json and unit (both malloc'd); if it is not kept it
 * is freed and counted. Returns 0 or -ENOMEM (nothing taken). */
int journal_batch_add(struct journal_batch *b, char *json, int level, const char *unit);
/* Counts an entry left out without encoding it. */
void journal_batch_drop(struct journal_batch *b, int level);
/* Drops (and counts) the least severe entries until at most keep remain. */
void journal_batch_trim(struct journal_batch *b, unsigned keep);
/* Empties the batch (items freed, counters zeroed). */
void journal_batch_clear(struct journal_batch *b);

#endif
