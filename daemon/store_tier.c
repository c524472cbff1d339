/* The history store's consolidation: rows into buckets with their
 * min/avg/max and the top lists averaged over each bucket; the one piece
 * of math behind the minute and hour tiers and behind every /api/history
 * step (tests/integration/test_history.py checks it against Python). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* Where each base column of src and its min, max lie. */
struct colmap {
	int avg, min, max; /* src column indexes, -1: none */
	int dst;           /* dst index of the base; +1, +2: min, max (numbers) */
	double w, sum, lo, hi, last;
	bool any;
};

/* A top entry summed over a bucket. */
struct acc {
	int64_t id;
	uint32_t name; /* src string */
	double cpu, mem;
	bool cpu_any, mem_any, used;
};

struct tophash {
	struct acc *v;
	size_t cap, n;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int64_t bucket_of(int64_t t, int64_t step)
{
	int64_t b = t / step * step;

	return b > t ? b - step : b;
}

static uint64_t mix(int64_t id, uint32_t name)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL ^ (uint64_t)name * 0xc2b2ae3d27d4eb4fULL;

	return h ^ (h >> 29);
}

/* The accumulator of (id, name), made when new; NULL when out of memory. */
static struct acc *acc_get(struct tophash *h, int64_t id, uint32_t name)
{
	size_t i;

	if ((h->n + 1) * 2 > h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct acc *v = calloc(cap, sizeof(*v));

		if (!v)
			return NULL;
		for (size_t j = 0; j < h->cap; j++) {
			if (!h->v[j].used)
				continue;
			for (i = mix(h->v[j].id, h->v[j].name) & (cap - 1); v[i].used;
			     i = (i + 1) & (cap - 1))
				;
			v[i] = h->v[j];
		}
		free(h->v);
		h->v = v;
		h->cap = cap;
	}
	for (i = mix(id, name) & (h->cap - 1); h->v[i].used; i = (i + 1) & (h->cap - 1))
		if (h->v[i].id == id && h->v[i].name == name)
			return &h->v[i];
	h->v[i] = (struct acc){.id = id, .name = name, .used = true};
	h->n++;
	return &h->v[i];
}

/* Whether a ranks before b in a list ranked by mem or CPU (ties: name,
 * then id, so that the choice never depends on the order of rows). */
static bool acc_better(const struct acc *a, const struct acc *b, bool by_mem,
		       const struct store_chunk *src)
{
	double x = by_mem ? a->mem : a->cpu, y = by_mem ? b->mem : b->cpu;
	int c;

	if (x != y)
		return x > y;
	if ((c = strcmp(src->strs[a->name], src->strs[b->name])) != 0)
		return c < 0;
	return a->id < b->id;
}

/* The bucket's best entries of list l into dst's last row; the table is
 * emptied. */
static int tops_flush(struct tophash *h, const struct store_chunk *src, size_t l,
		      struct store_chunk *dst, double n_rows)
{
	struct acc best[STORE_TOP_N];
	size_t nb = 0;
	int r = 0;

	for (size_t i = 0; i < h->cap; i++) {
		struct acc a = h->v[i];
		size_t k;

		if (!a.used)
			continue;
		a.cpu = a.cpu_any ? a.cpu / n_rows : NAN;
		a.mem = a.mem_any ? a.mem / n_rows : NAN;
		if (isnan(src->lists[l].by_mem ? a.mem : a.cpu))
			a.cpu = a.mem = -1; /* ranks last */
		for (k = nb; k > 0 && acc_better(&a, &best[k - 1], src->lists[l].by_mem, src); k--)
			if (k < STORE_TOP_N)
				best[k] = best[k - 1];
		if (k < STORE_TOP_N) {
			best[k] = a;
			if (nb < STORE_TOP_N)
				nb++;
		}
	}
	for (size_t k = 0; k < nb && r == 0; k++)
		r = store_chunk_add_top(dst, dst->n - 1, l, best[k].id, src->strs[best[k].name],
					best[k].cpu < 0 ? NAN : best[k].cpu,
					best[k].mem < 0 ? NAN : best[k].mem);
	if (h->v)
		memset(h->v, 0, h->cap * sizeof(*h->v));
	h->n = 0;
	return r;
}

/* dst's columns for src's: each base, then its min and max for numbers,
 * then "#n". */
static int make_cols(const struct store_chunk *src, struct store_chunk *dst, struct colmap *m,
		     size_t *ret_n, int *ret_count)
{
	char name[STORE_NAME_MAX + 8];
	size_t n = 0;

	*ret_count = store_chunk_find(src, "#n");
	for (size_t i = 0; i < src->n_cols; i++) {
		const struct store_col *c = &src->cols[i];

		if (ends_with(c->name, ":min") || ends_with(c->name, ":max") ||
		    strcmp(c->name, "#n") == 0)
			continue;
		m[n] = (struct colmap){.avg = (int)i, .dst = (int)dst->n_cols};
		if (!store_chunk_col(dst, c->name, c->type, NULL))
			return -ENOMEM;
		if (c->type == STORE_NUM) {
			snprintf(name, sizeof(name), "%s:min", c->name);
			m[n].min = store_chunk_find(src, name);
			if (strlen(name) >= STORE_NAME_MAX ||
			    !store_chunk_col(dst, name, STORE_NUM, NULL))
				return -ENOMEM;
			snprintf(name, sizeof(name), "%s:max", c->name);
			m[n].max = store_chunk_find(src, name);
			if (!store_chunk_col(dst, name, STORE_NUM, NULL))
				return -ENOMEM;
		}
		n++;
	}
	*ret_n = n;
	return store_chunk_col(dst, "#n", STORE_NUM, NULL) ? 0 : -ENOMEM;
}

/* Writes the bucket's columns into dst's last row and clears them. */
static void cols_flush(struct colmap *m, size_t n, struct store_chunk *dst, double rows)
{
	for (size_t i = 0; i < n; i++) {
		struct store_col *c = &dst->cols[m[i].dst];

		if (!m[i].any)
			continue;
		if (c->type == STORE_NUM) {
			c->v[dst->n - 1] = m[i].sum / m[i].w;
			dst->cols[m[i].dst + 1].v[dst->n - 1] = m[i].lo;
			dst->cols[m[i].dst + 2].v[dst->n - 1] = m[i].hi;
		} else {
			c->v[dst->n - 1] = m[i].last;
		}
		m[i].any = false;
	}
	dst->cols[dst->n_cols - 1].v[dst->n - 1] = rows;
}

/* Adds src's row r (weight w) to the bucket. */
static void cols_add(struct colmap *m, size_t n, const struct store_chunk *src, size_t r, double w)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_col *c = &src->cols[m[i].avg];
		double v = c->v[r], lo, hi;

		if (isnan(v))
			continue;
		lo = m[i].min >= 0 && !isnan(src->cols[m[i].min].v[r]) ? src->cols[m[i].min].v[r]
								       : v;
		hi = m[i].max >= 0 && !isnan(src->cols[m[i].max].v[r]) ? src->cols[m[i].max].v[r]
								       : v;
		if (!m[i].any) {
			m[i].w = m[i].sum = 0;
			m[i].lo = lo;
			m[i].hi = hi;
		}
		m[i].any = true;
		m[i].w += w;
		m[i].sum += v * w;
		m[i].last = v;
		if (lo < m[i].lo)
			m[i].lo = lo;
		if (hi > m[i].hi)
			m[i].hi = hi;
	}
}

/* Adds src's row r's top entries (weight w) to the bucket's tables. */
static int tops_add(struct tophash *h, const struct store_chunk *src, size_t r, double w)
{
	for (size_t l = 0; l < src->n_lists; l++) {
		size_t n;
		const struct store_top *e = store_chunk_tops(src, r, l, &n);

		for (size_t k = 0; k < n; k++) {
			struct acc *a = acc_get(&h[l], e[k].id, e[k].name);

			if (!a)
				return -ENOMEM;
			if (!isnan(e[k].cpu)) {
				a->cpu += e[k].cpu * w;
				a->cpu_any = true;
			}
			if (!isnan(e[k].mem)) {
				a->mem += e[k].mem * w;
				a->mem_any = true;
			}
		}
	}
	return 0;
}

int store_consolidate(const struct store_chunk *src, int64_t step, struct store_chunk *dst)
{
	struct colmap *m = calloc(src->n_cols ? src->n_cols : 1, sizeof(*m));
	struct tophash h[STORE_MAX_LISTS] = {0};
	int64_t cur = 0;
	double rows = 0;
	size_t n = 0;
	int count, r = -ENOMEM;

	if (!m || step <= 0 || make_cols(src, dst, m, &n, &count) < 0)
		goto out;
	for (size_t l = 0; l < src->n_lists; l++)
		if (store_chunk_list(dst, src->lists[l].name, src->lists[l].by_mem) != (int)l)
			goto out;
	for (size_t i = 0; i <= src->n; i++) {
		int64_t b = i < src->n ? bucket_of(src->t[i], step) : 0;
		double w;

		if (i > 0 && (i == src->n || b != cur)) {
			if (store_chunk_add_row(dst, cur) < 0)
				goto out;
			cols_flush(m, n, dst, rows);
			for (size_t l = 0; l < src->n_lists; l++)
				if (tops_flush(&h[l], src, l, dst, rows) < 0)
					goto out;
			rows = 0;
		}
		if (i == src->n)
			break;
		cur = b;
		w = count >= 0 && src->cols[count].v[i] > 0 ? src->cols[count].v[i] : 1;
		rows += w;
		cols_add(m, n, src, i, w);
		if (tops_add(h, src, i, w) < 0)
			goto out;
	}
	r = 0;
out:
	for (size_t l = 0; l < STORE_MAX_LISTS; l++)
		free(h[l].v);
	free(m);
	return r;
}

static int by_time(const void *a, const void *b, void *arg)
{
	const int64_t *t = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (t[x] != t[y])
		return t[x] < t[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Replaces *pv (n items of `size` bytes) by the items
 * in the order idx gives. */
static int permute(void *pv, size_t n, size_t size, const size_t *idx)
{
	char **p = pv, *out = malloc(n ? n * size : 1);

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * size, *p + idx[i] * size, size);
	free(*p);
	*p = out;
	return 0;
}

int store_chunk_sort(struct store_chunk *c)
{
	size_t *idx;
	bool sorted = true;
	int r = 0;

	for (size_t i = 1; i < c->n && sorted; i++)
		sorted = c->t[i - 1] <= c->t[i];
	if (sorted)
		return 0;
	if (!(idx = malloc(c->n * sizeof(*idx))))
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		idx[i] = i;
	qsort_r(idx, c->n, sizeof(*idx), by_time, c->t);
	/* every per-row array in the new order; the capacity becomes n */
	r |= permute(&c->t, c->n, sizeof(*c->t), idx);
	for (size_t i = 0; i < c->n_cols; i++)
		r |= permute(&c->cols[i].v, c->n, sizeof(double), idx);
	if (c->n_lists) {
		r |= permute(&c->tops, c->n, c->n_lists * STORE_TOP_N * sizeof(*c->tops), idx);
		r |= permute(&c->n_tops, c->n, c->n_lists, idx);
	}
	c->cap = c->n;
	free(idx);
	return r ? -ENOMEM : 0;
}
