/* The history store's rows in RAM: see store_chunk.h. */
#include "store_chunk.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

void store_chunk_init(struct store_chunk *c)
{
	memset(c, 0, sizeof(*c));
}

void store_chunk_done(struct store_chunk *c)
{
	free(c->t);
	for (size_t i = 0; i < c->n_cols; i++)
		free(c->cols[i].v);
	free(c->cols);
	free(c->tops);
	free(c->n_tops);
	for (size_t i = 0; i < c->n_strs; i++)
		free(c->strs[i]);
	free(c->strs);
	store_chunk_init(c);
}

/* Room for `want` rows in every per-row array, `first` at least when
 * there is none. */
static int reserve_rows(struct store_chunk *c, size_t want, size_t first)
{
	size_t cap = c->cap;

	if (want <= c->cap)
		return 0;
	if (array_reserve(&c->t, &cap, want, sizeof(*c->t), first) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_cols; i++) {
		double *v = reallocarray(c->cols[i].v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->cols[i].v = v;
	}
	if (c->n_lists) {
		struct store_top *t =
		    reallocarray(c->tops, cap * c->n_lists * STORE_TOP_N, sizeof(*t));
		uint8_t *nt;

		if (!t)
			return -ENOMEM;
		c->tops = t;
		if (!(nt = reallocarray(c->n_tops, cap * c->n_lists, 1)))
			return -ENOMEM;
		c->n_tops = nt;
	}
	c->cap = cap;
	return 0;
}

int store_chunk_reserve(struct store_chunk *c, size_t rows, size_t cols)
{
	if (cols > STORE_MAX_COLS)
		cols = STORE_MAX_COLS;
	if (array_reserve(&c->cols, &c->cap_cols, cols, sizeof(*c->cols), cols) < 0)
		return -ENOMEM;
	return reserve_rows(c, rows, rows);
}

int store_chunk_add_row(struct store_chunk *c, int64_t t)
{
	if (reserve_rows(c, c->n + 1, 64) < 0)
		return -ENOMEM;
	c->t[c->n] = t;
	for (size_t i = 0; i < c->n_cols; i++)
		c->cols[i].v[c->n] = NAN;
	for (size_t l = 0; l < c->n_lists; l++)
		c->n_tops[c->n * c->n_lists + l] = 0;
	c->n++;
	return 0;
}

/* FNV-1a: a search compares hashes and calls strcmp only when they are
 * equal. */
uint32_t store_chunk_hash(const char *name, size_t *ret_len)
{
	uint32_t h = 2166136261u;
	const char *p = name;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	*ret_len = (size_t)(p - name);
	return h;
}

static int find(const struct store_chunk *c, const char *name, uint32_t h)
{
	for (size_t i = 0; i < c->n_cols; i++)
		if (c->cols[i].hash == h && strcmp(c->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

int store_chunk_find(const struct store_chunk *c, const char *name)
{
	size_t len;

	return find(c, name, store_chunk_hash(name, &len));
}

struct store_col *store_chunk_add_col_hashed(struct store_chunk *c, const char *name, size_t len,
					     uint32_t h, enum store_col_type type)
{
	struct store_col *col;

	if (len >= STORE_NAME_MAX || c->n_cols >= STORE_MAX_COLS ||
	    (c->n_cols == c->cap_cols && ARRAY_GROW(c->cols, c->cap_cols, c->n_cols, 16) < 0))
		return NULL;
	col = &c->cols[c->n_cols];
	memset(col, 0, sizeof(*col));
	if (c->cap && !(col->v = malloc(c->cap * sizeof(*col->v))))
		return NULL;
	for (size_t r = 0; r < c->n; r++)
		col->v[r] = NAN;
	memcpy(col->name, name, len + 1);
	col->hash = h;
	col->type = type;
	c->n_cols++;
	return col;
}

struct store_col *store_chunk_add_col(struct store_chunk *c, const char *name,
				      enum store_col_type type)
{
	size_t len;
	uint32_t h = store_chunk_hash(name, &len);

	return store_chunk_add_col_hashed(c, name, len, h, type);
}

struct store_col *store_chunk_col(struct store_chunk *c, const char *name, enum store_col_type type,
				  size_t *hint)
{
	struct store_col *col;
	size_t h = hint ? *hint : 0, len;
	uint32_t hash;
	int i;

	if (h < c->n_cols && strcmp(c->cols[h].name, name) == 0)
		i = (int)h;
	else if ((i = find(c, name, hash = store_chunk_hash(name, &len))) < 0) {
		if (!(col = store_chunk_add_col_hashed(c, name, len, hash, type)))
			return NULL;
		i = (int)(col - c->cols);
	}
	if (hint)
		*hint = (size_t)i + 1;
	return &c->cols[i];
}

/* The per-row top arrays laid out again for one more list. */
static int add_list_storage(struct store_chunk *c)
{
	size_t nl = c->n_lists, cap = c->cap ? c->cap : 1;
	struct store_top *t = calloc(cap * (nl + 1) * STORE_TOP_N, sizeof(*t));
	uint8_t *nt = calloc(cap * (nl + 1), 1);

	if (!t || !nt) {
		free(t);
		free(nt);
		return -ENOMEM;
	}
	for (size_t r = 0; r < c->n; r++)
		for (size_t l = 0; l < nl; l++) {
			nt[r * (nl + 1) + l] = c->n_tops[r * nl + l];
			memcpy(&t[(r * (nl + 1) + l) * STORE_TOP_N],
			       &c->tops[(r * nl + l) * STORE_TOP_N], STORE_TOP_N * sizeof(*t));
		}
	free(c->tops);
	free(c->n_tops);
	c->tops = t;
	c->n_tops = nt;
	return 0;
}

int store_chunk_list(struct store_chunk *c, const char *name, bool by_mem)
{
	for (size_t l = 0; l < c->n_lists; l++)
		if (strcmp(c->lists[l].name, name) == 0)
			return (int)l;
	if (c->n_lists == STORE_MAX_LISTS || strlen(name) >= STORE_NAME_MAX ||
	    add_list_storage(c) < 0)
		return -1;
	snprintf(c->lists[c->n_lists].name, STORE_NAME_MAX, "%s", name);
	c->lists[c->n_lists].by_mem = by_mem;
	return (int)c->n_lists++;
}

int store_chunk_intern(struct store_chunk *c, const char *s, uint32_t *ret)
{
	for (size_t i = c->n_strs; i-- > 0;)
		if (strcmp(c->strs[i], s) == 0) {
			*ret = (uint32_t)i;
			return 0;
		}
	if (c->n_strs >= STORE_MAX_STRS || ARRAY_GROW(c->strs, c->cap_strs, c->n_strs, 32) < 0 ||
	    !(c->strs[c->n_strs] = strdup(s)))
		return -ENOMEM;
	*ret = (uint32_t)c->n_strs++;
	return 0;
}

int store_chunk_add_top(struct store_chunk *c, size_t row, size_t list, int64_t id,
			const char *name, double cpu, double mem)
{
	uint32_t s;

	if (c->n_tops[row * c->n_lists + list] >= STORE_TOP_N)
		return 0;
	if (store_chunk_intern(c, name ? name : "", &s) < 0)
		return -ENOMEM;
	store_chunk_add_top_at(c, row, list, id, s, cpu, mem);
	return 0;
}

void store_chunk_add_top_at(struct store_chunk *c, size_t row, size_t list, int64_t id,
			    uint32_t name, double cpu, double mem)
{
	uint8_t *n = &c->n_tops[row * c->n_lists + list];

	if (*n >= STORE_TOP_N)
		return;
	c->tops[(row * c->n_lists + list) * STORE_TOP_N + *n] =
	    (struct store_top){.id = id, .name = name, .cpu = cpu, .mem = mem};
	(*n)++;
}

const struct store_top *store_chunk_tops(const struct store_chunk *c, size_t row, size_t list,
					 size_t *ret_n)
{
	*ret_n = c->n_tops[row * c->n_lists + list];
	return &c->tops[(row * c->n_lists + list) * STORE_TOP_N];
}

int store_chunk_append(struct store_chunk *dst, const struct store_chunk *src)
{
	return store_chunk_append_rows(dst, src, 0, src->n);
}

int store_chunk_append_rows(struct store_chunk *dst, const struct store_chunk *src, size_t from,
			    size_t to)
{
	int lmap[STORE_MAX_LISTS], r = -ENOMEM;
	/* src's columns and strings in dst, found or made at their first
	 * use (so in the order a row by row walk meets them): -1 before */
	int *cmap = malloc((src->n_cols ? src->n_cols : 1) * sizeof(*cmap));
	int64_t *smap = malloc((src->n_strs ? src->n_strs : 1) * sizeof(*smap));

	if (!cmap || !smap)
		goto out;
	for (size_t i = 0; i < src->n_cols; i++)
		cmap[i] = -1;
	for (size_t i = 0; i < src->n_strs; i++)
		smap[i] = -1;
	for (size_t l = 0; l < src->n_lists; l++)
		if ((lmap[l] = store_chunk_list(dst, src->lists[l].name, src->lists[l].by_mem)) < 0)
			goto out;
	for (size_t row = from; row < to; row++) {
		size_t d = dst->n, hint = 0;

		if (store_chunk_add_row(dst, src->t[row]) < 0)
			goto out;
		for (size_t i = 0; i < src->n_cols; i++) {
			const struct store_col *sc = &src->cols[i];

			if (isnan(sc->v[row]))
				continue;
			if (cmap[i] < 0) {
				struct store_col *dc =
				    store_chunk_col(dst, sc->name, sc->type, &hint);

				if (!dc)
					goto out;
				cmap[i] = (int)(dc - dst->cols);
			}
			dst->cols[cmap[i]].v[d] = sc->v[row];
			hint = (size_t)cmap[i] + 1;
		}
		for (size_t l = 0; l < src->n_lists; l++) {
			size_t n;
			const struct store_top *e = store_chunk_tops(src, row, l, &n);

			for (size_t k = 0; k < n; k++) {
				size_t at = d * dst->n_lists + (size_t)lmap[l];
				uint32_t s;

				if (dst->n_tops[at] >= STORE_TOP_N)
					break;
				if (smap[e[k].name] < 0) {
					if (store_chunk_intern(dst, src->strs[e[k].name], &s) < 0)
						goto out;
					smap[e[k].name] = s;
				}
				store_chunk_add_top_at(dst, d, (size_t)lmap[l], e[k].id,
						       (uint32_t)smap[e[k].name], e[k].cpu,
						       e[k].mem);
			}
		}
	}
	r = 0;
out:
	free(cmap);
	free(smap);
	return r;
}
