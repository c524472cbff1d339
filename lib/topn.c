/* Top-n selection: see topn.h. */
#include "topn.h"

#include <errno.h>
#include <stdlib.h>

int topn_start(struct topn *t, size_t n, topn_better_fn better)
{
	t->len = 0;
	t->n = 0;
	t->better = better;
	if (n > t->cap) {
		void **v = reallocarray(t->v, n, sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = n;
	}
	t->n = n;
	return 0;
}

static void topn_swap(void **v, size_t a, size_t b)
{
	void *x = v[a];

	v[a] = v[b];
	v[b] = x;
}

/* Sifts v[i] down a heap of len items whose root is its worst member. */
static void topn_down(void **v, size_t len, size_t i, topn_better_fn better)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;

		if (l < len && better(v[w], v[l]))
			w = l;
		if (r < len && better(v[w], v[r]))
			w = r;
		if (w == i)
			return;
		topn_swap(v, i, w);
		i = w;
	}
}

void topn_offer(struct topn *t, void *item)
{
	if (t->len < t->n) {
		size_t i = t->len++;

		t->v[i] = item;
		while (i > 0 && t->better(t->v[(i - 1) / 2], t->v[i])) {
			topn_swap(t->v, i, (i - 1) / 2);
			i = (i - 1) / 2;
		}
	} else if (t->len > 0 && t->better(item, t->v[0])) {
		t->v[0] = item;
		topn_down(t->v, t->len, 0, t->better);
	}
}

/* Heapsort: the worst goes to the end each round, leaving best first. */
size_t topn_sort(struct topn *t)
{
	for (size_t k = t->len; k > 1; k--) {
		topn_swap(t->v, 0, k - 1);
		topn_down(t->v, k - 1, 0, t->better);
	}
	return t->len;
}

void topn_free(struct topn *t)
{
	if (!t)
		return;
	free(t->v);
	*t = (struct topn){0};
}
