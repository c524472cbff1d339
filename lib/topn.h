/* The best n of many items, best first, without sorting them all: a
 * bounded heap (O(N log n)) that the top lists of `proc` and `svc` share. */
#ifndef SYSFEED_TOPN_H
#define SYSFEED_TOPN_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a ranks before b: a strict total order (ties broken by a unique
 * key), so that the selection does not depend on the order of offers. */
typedef bool (*topn_better_fn)(const void *a, const void *b);

/* One selection at a time. Zero-initialise, reuse across selections,
 * release with topn_free(). */
struct topn {
	void **v;   /* what is kept: a heap while offering, best first after topn_sort() */
	size_t len; /* how many are kept */
	size_t n;   /* how many are wanted */
	size_t cap;
	topn_better_fn better;
};

/* Starts a selection of the best n under better, forgetting the last one.
 * Returns 0 or -ENOMEM (then nothing is kept: offers are ignored). */
int topn_start(struct topn *t, size_t n, topn_better_fn better);
/* Keeps item if it is among the best n offered so far. */
void topn_offer(struct topn *t, void *item);
/* Orders what is kept, best first, in t->v. Returns how many. */
size_t topn_sort(struct topn *t);
void topn_free(struct topn *t);

#endif
