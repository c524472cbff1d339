/* The one growth helper for arrays: capacity doubling from a first size,
 * as every growable table of the tree needs it, and its release; and the
 * search of a table kept sorted by a string key. */
#ifndef SYSFEED_ARRAY_H
#define SYSFEED_ARRAY_H

#include <stdbool.h>
#include <stddef.h>

/* Makes *pv (a pointer to the array's pointer, of elements of `size`
 * bytes, *cap of them allocated) hold at least `want` elements: the
 * capacity doubles from `first` until it does. Returns 0, or -ENOMEM with
 * the array and *cap unchanged. */
int array_reserve(void *pv, size_t *cap, size_t want, size_t size, size_t first);

/* Room for one more element after n: ARRAY_GROW(s->v, s->cap, s->n, 32). */
#define ARRAY_GROW(v, cap, n, first) array_reserve(&(v), &(cap), (n) + 1, sizeof(*(v)), (first))

/* Frees the array at *pv (one array_reserve grew) and leaves it empty:
 * the pointer NULL, *n and *cap 0. */
void array_free(void *pv, size_t *n, size_t *cap);

/* Frees and empties a table: ARRAY_FREE(s->v, s->cap, s->n). */
#define ARRAY_FREE(v, cap, n) array_free(&(v), &(n), &(cap))

/* The index of key in the n elements of `size` bytes at base, sorted by
 * the string at key_off in each (strcmp order), with *found true; or
 * where it would go, with *found false. */
size_t array_find_str(const void *base, size_t n, size_t size, size_t key_off, const char *key,
		      bool *found);

#endif
