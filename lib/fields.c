#include "fields.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "metrics.h"
#include "procfs.h"

static const void *fields_at(const struct field *f, const void *base)
{
	return (const char *)base + f->off;
}

static bool fields_has(const struct field *f, const struct field_inst *x, unsigned more)
{
	unsigned need = f->has | more;

	return (x->has & need) == need;
}

/* The stored number, unscaled, whether or not the instance has it; false
 * for text and for an unknown value. */
static bool fields_raw(const struct field *f, const struct field_inst *x, double *ret)
{
	const void *at = fields_at(f, x->p);
	int64_t i;
	int tri;

	switch (f->kind) {
	case FIELD_U64:
		*ret = (double)*(const uint64_t *)at;
		return true;
	case FIELD_U32:
		*ret = (double)*(const uint32_t *)at;
		return true;
	case FIELD_I64:
		i = *(const int64_t *)at;
		if (i < 0 && (f->flags & FIELD_NEG_UNKNOWN))
			return false;
		*ret = (double)i;
		return true;
	case FIELD_DOUBLE:
		*ret = *(const double *)at;
		return true;
	case FIELD_BOOL:
		*ret = *(const bool *)at;
		return true;
	case FIELD_TRI:
		tri = *(const int *)at;
		*ret = tri != 0;
		return tri >= 0;
	case FIELD_DERIVED:
		return f->derive(x->p, NULL, 0, ret);
	default:
		return false;
	}
}

static double fields_scale(const struct field *f, double v)
{
	return v * (f->mul != 0 ? f->mul : 1.0) / (f->div != 0 ? f->div : 1.0);
}

bool fields_value(const struct field *f, const struct field_inst *x, double *ret)
{
	double v;

	if (!fields_has(f, x, 0) || !fields_raw(f, x, &v))
		return false;
	*ret = fields_scale(f, v);
	return true;
}

/* The rate of row f between prev and cur; false for none (see struct
 * field). */
static bool fields_rate(const struct field *f, const struct field_inst *cur,
			const struct field_inst *prev, uint64_t dt_ns, double *ret)
{
	if (f->kind == FIELD_DERIVED)
		return f->derive(cur->p, prev ? prev->p : NULL, dt_ns, ret);
	if (!prev || f->kind != FIELD_U64 || !fields_has(f, cur, 0) || !fields_has(f, prev, 0) ||
	    procfs_rate_scaled(*(const uint64_t *)fields_at(f, prev->p),
			       *(const uint64_t *)fields_at(f, cur->p),
			       f->rate_mul != 0 ? f->rate_mul : 1e9, dt_ns, ret) == 0)
		return false;
	if (f->rate_max > 0 && *ret > f->rate_max)
		*ret = f->rate_max;
	return true;
}

/* Row f's value in the payload: text, a boolean, a number or null. */
static int fields_json_value(cJSON *o, const struct field *f, const struct field_inst *x)
{
	const void *at = fields_at(f, x->p);
	bool have;
	double v;

	switch (f->kind) {
	case FIELD_CHARS:
		return json_str(o, f->json, at);
	case FIELD_STR:
		return json_str(o, f->json, *(const char *const *)at);
	case FIELD_BOOL:
		if (!fields_has(f, x, 0)) /* unknown: null, as for numbers */
			return json_num_or_null(o, f->json, false, 0);
		return cJSON_AddBoolToObject(o, f->json, *(const bool *)at) ? 0 : -ENOMEM;
	case FIELD_TRI:
		if (*(const int *)at >= 0)
			return cJSON_AddBoolToObject(o, f->json, *(const int *)at) ? 0 : -ENOMEM;
		return json_num_or_null(o, f->json, false, 0);
	default:
		have =
		    (fields_has(f, x, 0) || (f->flags & FIELD_ZERO_ABSENT)) && fields_raw(f, x, &v);
		return json_num_or_null(o, f->json, have, have ? fields_scale(f, v) : 0);
	}
}

int fields_json(cJSON *o, const struct field_table *t, const struct field_inst *cur,
		const struct field_inst *prev, uint64_t dt_ns)
{
	for (size_t p = 0; p < FIELD_PASSES_MAX && t->passes[p]; p++) {
		unsigned pass = t->passes[p];

		for (size_t i = 0; i < t->n; i++) {
			const struct field *f = &t->v[i];
			bool have;
			double v;
			int r;

			if ((pass & FIELDS_RATES) && f->rate) {
				have = fields_rate(f, cur, prev, dt_ns, &v);
				r = json_num_or_null(o, f->rate, have, have ? v : 0);
			} else if ((pass & (1u << f->type)) && f->json) {
				r = fields_json_value(o, f, cur);
			} else {
				continue;
			}
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int fields_json_append(cJSON *arr, const struct field_table *t, const struct field_inst *cur,
		       const struct field_inst *prev, uint64_t dt_ns)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return fields_json(o, t, cur, prev, dt_ns);
}

void fields_each_family(const struct field_table *t, void (*fn)(const struct field *f, void *ctx),
			void *ctx)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->v[i];

		if (f->prom_before)
			continue;
		for (size_t j = 0; f->source && j < t->n; j++) {
			const struct field *e = &t->v[j];

			if (e->prom && e->prom_before && strcmp(e->prom_before, f->source) == 0)
				fn(e, ctx);
		}
		if (f->prom)
			fn(f, ctx);
	}
}

struct fields_prom_ctx {
	struct metrics *m;
	const struct field_inst *v;
	size_t n;
};

/* One family: its header with the first sample, none without samples. */
static void fields_family(const struct field *f, void *ctx)
{
	const struct fields_prom_ctx *c = ctx;
	bool any = false;

	for (size_t k = 0; k < c->n; k++) {
		double x;

		if (!fields_has(f, &c->v[k], f->prom_has) || !fields_value(f, &c->v[k], &x))
			continue;
		if (!any)
			metrics_family(c->m, f->prom,
				       f->type == FIELD_COUNTER ? "counter" : "gauge", f->help);
		any = true;
		metrics_sample(c->m, f->prom, c->v[k].labels, x);
	}
}

void fields_prom(struct metrics *m, const struct field_table *t, const struct field_inst *v,
		 size_t n)
{
	struct fields_prom_ctx c = {m, v, n};

	fields_each_family(t, fields_family, &c);
}

/* Whether s is pattern with each {a,b,...} group one of its words, then
 * tail. */
static bool fields_path_is(const char *pat, const char *s, const char *tail)
{
	const char *open = strchr(pat, '{'), *close, *alt;
	size_t pre, n;

	if (!open || !(close = strchr(open, '}'))) {
		n = strlen(pat);
		return strncmp(s, pat, n) == 0 && strcmp(s + n, tail) == 0;
	}
	pre = (size_t)(open - pat);
	if (strncmp(s, pat, pre) != 0)
		return false;
	for (alt = open + 1; alt < close; alt += n + 1) {
		n = strcspn(alt, ",}");
		if (strncmp(s + pre, alt, n) == 0 && fields_path_is(close + 1, s + pre + n, tail))
			return true;
	}
	return false;
}

bool fields_known(const struct field_table *const *tables, const char *path)
{
	char tail[128];

	if (strcmp(path, "t") == 0)
		return true;
	for (size_t k = 0; tables && tables[k]; k++) {
		const struct field_table *t = tables[k];

		for (size_t i = 0; t->path && i < t->n; i++) {
			const char *keys[] = {t->v[i].json, t->v[i].rate};

			for (size_t j = 0; j < 2; j++) {
				if (!keys[j])
					continue;
				snprintf(tail, sizeof(tail), "%s%s", t->path[0] ? "." : "",
					 keys[j]);
				if (fields_path_is(t->path, path, tail))
					return true;
			}
		}
	}
	return false;
}

bool fields_covers(const struct field_table *const *tables, const char *path)
{
	const char *dot = strrchr(path, '.');
	char parent[128];

	snprintf(parent, sizeof(parent), "%.*s", dot ? (int)(dot - path) : 0, path);
	for (size_t k = 0; tables && tables[k]; k++)
		if (tables[k]->path && fields_path_is(tables[k]->path, parent, ""))
			return true;
	/* below a value the tables know, nothing lies */
	for (const char *d = strchr(path, '.'); d; d = strchr(d + 1, '.')) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(d - path), path);
		if (fields_known(tables, parent))
			return true;
	}
	return false;
}

/* The bit of struct fields_cursor's sigs for a token of len > 0 bytes:
 * tokens that differ in length or end bytes seldom share one. */
static unsigned fields_sig(const char *s, size_t len)
{
	return ((unsigned char)s[0] * 7u + (unsigned char)s[len - 1] * 3u + (unsigned)len * 31u) &
	       255u;
}

void fields_cursor_init(struct fields_cursor *c, const struct field_table *t)
{
	*c = (struct fields_cursor){.t = t};
	for (size_t i = 0; i < t->n; i++) {
		const char *src = t->v[i].source;
		unsigned b;

		if (!src || !src[0])
			continue;
		b = fields_sig(src, strlen(src));
		c->sigs[b >> 6] |= UINT64_C(1) << (b & 63);
	}
}

/* The rows of c's table from c->next on, for a token that may be one;
 * kept out of fields_find_next() so that ruling a token out costs no
 * saved registers. */
__attribute__((noinline)) static const struct field *fields_search(struct fields_cursor *c,
								   const char *s, size_t len)
{
	const struct field_table *t = c->t;

	for (size_t k = 0; k < t->n; k++) {
		size_t i = c->next + k < t->n ? c->next + k : c->next + k - t->n;
		const char *src = t->v[i].source;

		if (!src || src[0] != s[0] || !procfs_token_is(s, len, src))
			continue;
		c->next = i + 1 < t->n ? i + 1 : 0;
		return &t->v[i];
	}
	return NULL;
}

const struct field *fields_find(const struct field_table *t, const char *s, size_t len)
{
	struct fields_cursor c = {.t = t};

	return len ? fields_search(&c, s, len) : NULL;
}

const struct field *fields_find_next(struct fields_cursor *c, const char *s, size_t len)
{
	unsigned b;

	if (!len)
		return NULL;
	b = fields_sig(s, len);
	if (!(c->sigs[b >> 6] & (UINT64_C(1) << (b & 63))))
		return NULL;
	return fields_search(c, s, len);
}

int fields_store(const struct field *f, void *base, uint64_t v)
{
	void *at = (char *)base + f->off;
	int r;

	if (f->flags & FIELD_KB) {
		r = procfs_kb_to_bytes(v, &v);
		if (r < 0)
			return r;
	}
	switch (f->kind) {
	case FIELD_U64:
		*(uint64_t *)at = v;
		return 0;
	case FIELD_U32:
		if (v > UINT32_MAX)
			return -ERANGE;
		*(uint32_t *)at = (uint32_t)v;
		return 0;
	case FIELD_I64:
		if (v > INT64_MAX)
			return -ERANGE;
		*(int64_t *)at = (int64_t)v;
		return 0;
	default:
		return -EINVAL;
	}
}

int fields_parse(const struct field *f, void *base, const char *s, size_t len)
{
	uint64_t v;
	int r;

	if (f->flags & FIELD_CENTI)
		r = procfs_parse_fixed(s, len, 2, &v);
	else
		r = procfs_parse_u64(s, len, &v);
	if (r < 0)
		return r;
	return fields_store(f, base, v);
}

int fields_insts_init(struct field_insts *x, size_t max)
{
	x->n = 0;
	x->v = calloc(max ? max : 1, sizeof(*x->v));
	x->labels = calloc(max ? max : 1, sizeof(*x->labels));
	if (!x->v || !x->labels) {
		fields_insts_free(x);
		return -ENOMEM;
	}
	return 0;
}

void fields_insts_add(struct field_insts *x, const void *p, unsigned has, const char *k1,
		      const char *v1, const char *k2, const char *v2)
{
	const char **l = x->labels[x->n];

	l[0] = k1;
	l[1] = v1;
	l[2] = k2;
	l[3] = k2 ? v2 : NULL;
	l[4] = NULL;
	x->v[x->n++] = (struct field_inst){p, has, l};
}

void fields_insts_free(struct field_insts *x)
{
	free(x->v);
	free(x->labels);
	x->v = NULL;
	x->labels = NULL;
	x->n = 0;
}
