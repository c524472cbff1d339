/* The one growth helper for arrays: capacity doubling from a first size,
 * as every growable table of the tree needs it. */
#ifndef SYSFEED_ARRAY_H
#define SYSFEED_ARRAY_H

#include <stddef.h>

/* Makes *pv (a pointer to the array's pointer, of elements of `size`
 * bytes, *cap of them allocated) hold at least `want` elements: the
 * capacity doubles from `first` until it does. Returns 0, or -ENOMEM with
 * the array and *cap unchanged. */
int array_reserve(void *pv, size_t *cap, size_t want, size_t size, size_t first);

/* Room for one more element after n: ARRAY_GROW(s->v, s->cap, s->n, 32). */
#define ARRAY_GROW(v, cap, n, first) array_reserve(&(v), &(cap), (n) + 1, sizeof(*(v)), (first))

#endif
