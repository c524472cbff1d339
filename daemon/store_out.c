/* The text of /api/history answers: see store_out.h. */
#include "store_out.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "collector.h"
#include "fmt.h"
#include "utf8.h"

#define MAX_FIELDS 32
#define MAX_KEYS   256
#define VARIANTS   3 /* the value (or average), its min, its max */

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (array_reserve(&o->p, &o->cap, o->len + n + 1, 1, 65536) < 0) {
		o->oom = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

void out_raw(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

void out_str(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;

	if (!s) {
		out_raw(o, "null");
		return;
	}
	len = strlen(s);
	put(o, "\"", 1);
	for (size_t i = 0; i < len;) {
		size_t bad, n = utf8_seq(p + i, len - i, &bad);
		char esc[8];

		if (!n) {
			put(o, "\xef\xbf\xbd", 3); /* U+FFFD */
			i += bad;
		} else if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			put(o, esc, 2);
			i++;
		} else if (p[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			put(o, esc, 6);
			i++;
		} else {
			put(o, s + i, n);
			i += n;
		}
	}
	put(o, "\"", 1);
}

void out_num(struct out *o, double v)
{
	char buf[FMT_NUM_MAX];
	bool exact;

	if (!isfinite(v)) {
		out_raw(o, "null");
		return;
	}
	put(o, buf, fmt_g15(buf, v, &exact));
}

void out_i64(struct out *o, int64_t v)
{
	char buf[FMT_NUM_MAX];

	put(o, buf, fmt_i64(buf, v));
}

/* One history path: a scalar, or a field of an array group's elements. */
struct field {
	const char *path;
	bool numeric;
	int group;         /* -1: a scalar */
	const char *rest;  /* arrays: "read_bytes_per_s" ("" for an array of numbers) */
	int col[VARIANTS]; /* scalars */
	int *cols;         /* arrays: [key * VARIANTS + variant], -1: none */
};

/* An array group ("disks[]"): its elements' keys, in the order they
 * first appear among the columns. */
struct group {
	const char *head;
	size_t head_len;
	char keys[MAX_KEYS][STORE_NAME_MAX];
	size_t n;
};

static const char *const suffix[VARIANTS] = {"", ":min", ":max"};

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static int by_number(const void *a, const void *b)
{
	long x = atol(a), y = atol(b);

	return (x > y) - (x < y);
}

/* Whether name is "PREFIX" KEY "]" ["." rest] [variant] for one of the
 * group's fields; the key into key. */
static bool element_key(const char *name, const char *prefix, const struct field *f, size_t nf,
			int group, char *key)
{
	size_t n = strlen(name), plen = strlen(prefix);

	if (strncmp(name, prefix, plen) != 0)
		return false;
	for (size_t i = 0; i < nf; i++) {
		if (f[i].group != group)
			continue;
		for (int v = 0; v < VARIANTS; v++) {
			char tail[STORE_NAME_MAX + 8];
			size_t tn = (size_t)snprintf(tail, sizeof(tail), "]%s%s%s",
						     *f[i].rest ? "." : "", f[i].rest, suffix[v]);

			if (n > plen + tn && n - plen - tn < STORE_NAME_MAX &&
			    strcmp(name + n - tn, tail) == 0) {
				memcpy(key, name + plen, n - plen - tn);
				key[n - plen - tn] = '\0';
				return true;
			}
		}
	}
	return false;
}

/* The groups' keys and every field's columns. */
static int map_fields(const struct store_chunk *c, const char *topic, struct field *f, size_t nf,
		      struct group *g, size_t ng)
{
	char name[2 * STORE_NAME_MAX], key[STORE_NAME_MAX];

	for (size_t k = 0; k < ng; k++) {
		char prefix[STORE_NAME_MAX + 64];
		bool numbers = true;

		snprintf(prefix, sizeof(prefix), "%s.%.*s[", topic, (int)g[k].head_len, g[k].head);
		for (size_t i = 0; i < c->n_cols; i++) {
			size_t j;

			if (!element_key(c->cols[i].name, prefix, f, nf, (int)k, key))
				continue;
			for (j = 0; j < g[k].n && strcmp(g[k].keys[j], key) != 0; j++)
				;
			if (j == g[k].n && j < MAX_KEYS)
				snprintf(g[k].keys[g[k].n++], STORE_NAME_MAX, "%s", key);
		}
		for (size_t j = 0; j < g[k].n; j++)
			numbers &= all_digits(g[k].keys[j]);
		if (numbers)
			qsort(g[k].keys, g[k].n, sizeof(g[k].keys[0]), by_number);
	}
	for (size_t i = 0; i < nf; i++) {
		struct field *x = &f[i];

		x->numeric = true;
		if (x->group < 0) {
			for (int v = 0; v < VARIANTS; v++) {
				snprintf(name, sizeof(name), "%s.%s%s", topic, x->path, suffix[v]);
				x->col[v] = store_chunk_find(c, name);
			}
			x->numeric = x->col[0] < 0 || c->cols[x->col[0]].type == STORE_NUM;
			continue;
		}
		if (!(x->cols = malloc((g[x->group].n + 1) * VARIANTS * sizeof(int))))
			return -1;
		for (size_t j = 0; j < g[x->group].n; j++)
			for (int v = 0; v < VARIANTS; v++) {
				int col;

				snprintf(name, sizeof(name), "%s.%.*s[%s]%s%s%s", topic,
					 (int)g[x->group].head_len, g[x->group].head,
					 g[x->group].keys[j], *x->rest ? "." : "", x->rest,
					 suffix[v]);
				col = x->cols[j * VARIANTS + v] = store_chunk_find(c, name);
				if (col >= 0 && c->cols[col].type != STORE_NUM)
					x->numeric = false;
			}
	}
	return 0;
}

/* A cell: a number, a bool, an element's key (present) or null. */
static void cell(struct out *o, const struct store_chunk *c, int col, size_t row, const char *key)
{
	double v = col >= 0 ? c->cols[col].v[row] : NAN;

	if (isnan(v))
		out_raw(o, "null");
	else if (c->cols[col].type == STORE_KEY)
		out_str(o, key);
	else if (c->cols[col].type == STORE_BOOL)
		out_raw(o, v >= 0.5 ? "true" : "false");
	else
		out_num(o, v);
}

/* Field x's variant v at a row (gap: null). */
static void field_value(struct out *o, const struct store_chunk *c, const struct field *x,
			const struct group *g, int v, size_t row, bool gap)
{
	if (gap) {
		out_raw(o, "null");
		return;
	}
	if (x->group < 0) {
		cell(o, c, x->col[v], row, NULL);
		return;
	}
	out_raw(o, "[");
	for (size_t j = 0; j < g[x->group].n; j++) {
		if (j)
			out_raw(o, ",");
		cell(o, c, x->cols[j * VARIANTS + v], row, g[x->group].keys[j]);
	}
	out_raw(o, "]");
}

static bool row_has(const struct store_chunk *c, const struct field *f, size_t nf,
		    const struct group *g, size_t row)
{
	for (size_t i = 0; i < nf; i++) {
		if (f[i].group < 0 && f[i].col[0] >= 0 && !isnan(c->cols[f[i].col[0]].v[row]))
			return true;
		for (size_t j = 0; f[i].group >= 0 && j < g[f[i].group].n; j++) {
			int col = f[i].cols[j * VARIANTS];

			if (col >= 0 && !isnan(c->cols[col].v[row]))
				return true;
		}
	}
	return false;
}

static void put_row(struct out *o, const struct store_chunk *c, const struct field *f, size_t nf,
		    const struct group *g, bool consolidated, size_t row, int64_t t, bool gap)
{
	out_raw(o, "[");
	out_i64(o, t);
	for (int v = 0; v < (consolidated ? VARIANTS : 1); v++)
		for (size_t i = 0; i < nf; i++) {
			if (v && !f[i].numeric)
				continue;
			out_raw(o, ",");
			field_value(o, c, &f[i], g, v, row, gap);
		}
	out_raw(o, "]");
}

static int by_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The median time between c's rows (0 when it cannot tell). */
static int64_t median_spacing(const struct store_chunk *c)
{
	int64_t *d = malloc((c->n - 1) * sizeof(*d)), m;

	if (!d)
		return 0;
	for (size_t i = 1; i < c->n; i++)
		d[i - 1] = c->t[i] - c->t[i - 1];
	qsort(d, c->n - 1, sizeof(*d), by_i64);
	m = d[(c->n - 1) / 2];
	free(d);
	return m;
}

void out_topic(struct out *o, const struct store_chunk *c, const char *topic,
	       const char *const *paths, bool consolidated, int64_t gap_ms)
{
	struct field f[MAX_FIELDS];
	struct group *g = calloc(MAX_FIELDS, sizeof(*g));
	size_t nf = 0, ng = 0;
	int64_t prev = 0;
	bool first = true;

	if (!g) {
		o->oom = true;
		return;
	}
	for (size_t i = 0; paths && paths[i] && nf < MAX_FIELDS; i++) {
		const char *br = strstr(paths[i], "[]");
		size_t k;

		f[nf] = (struct field){.path = paths[i], .group = -1};
		if (br) {
			for (k = 0; k < ng && !(g[k].head_len == (size_t)(br - paths[i]) &&
						strncmp(g[k].head, paths[i], g[k].head_len) == 0);
			     k++)
				;
			if (k == ng) {
				g[ng].head = paths[i];
				g[ng++].head_len = (size_t)(br - paths[i]);
			}
			f[nf].group = (int)k;
			f[nf].rest = br[2] == '.' ? br + 3 : br + 2;
		}
		nf++;
	}
	if (map_fields(c, topic, f, nf, g, ng) < 0) {
		o->oom = true;
		goto out;
	}
	out_raw(o, "{\"fields\":[\"t\"");
	for (int v = 0; v < (consolidated ? VARIANTS : 1); v++)
		for (size_t i = 0; i < nf; i++) {
			char name[STORE_NAME_MAX + 8];

			if (v && !f[i].numeric)
				continue;
			snprintf(name, sizeof(name), "%s%s", f[i].path, suffix[v]);
			out_raw(o, ",");
			out_str(o, name);
		}
	out_raw(o, "],\"rows\":[");
	/* rows further apart than twice the step, or than twice their usual
	 * spacing (the data's interval may not be today's), have a gap */
	if (gap_ms > 0 && c->n > 2) {
		int64_t usual = median_spacing(c);

		if (usual > gap_ms)
			gap_ms = usual;
	}
	for (size_t r = 0; r < c->n; r++) {
		if (!row_has(c, f, nf, g, r))
			continue;
		if (!first && gap_ms > 0 && c->t[r] - prev > 2 * gap_ms) {
			out_raw(o, ",");
			put_row(o, c, f, nf, g, consolidated, r, prev + gap_ms, true);
		}
		if (!first)
			out_raw(o, ",");
		put_row(o, c, f, nf, g, consolidated, r, c->t[r], false);
		first = false;
		prev = c->t[r];
	}
	out_raw(o, "]}");
out:
	for (size_t i = 0; i < nf; i++)
		free(f[i].cols);
	free(g);
}

/* A CSV cell of text, quoted when it holds a comma, a quote or a line
 * break. */
static void csv_text(struct out *o, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		out_raw(o, s);
		return;
	}
	put(o, "\"", 1);
	for (; *s; s++)
		put(o, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
	put(o, "\"", 1);
}

void out_csv(struct out *o, const struct store_chunk *c, const int *topics, size_t n_topics)
{
	int *cols = malloc((c->n_cols + 1) * sizeof(*cols));
	size_t n = 0;

	if (!cols) {
		o->oom = true;
		return;
	}
	out_raw(o, "t,time");
	for (size_t k = 0; k < n_topics; k++) {
		const char *topic = collector_registry[topics[k]]->name;
		size_t tl = strlen(topic);

		for (size_t i = 0; i < c->n_cols; i++)
			if (c->cols[i].type != STORE_KEY &&
			    strncmp(c->cols[i].name, topic, tl) == 0 &&
			    c->cols[i].name[tl] == '.') {
				cols[n++] = (int)i;
				out_raw(o, ",");
				csv_text(o, c->cols[i].name);
			}
	}
	out_raw(o, "\r\n");
	for (size_t r = 0; r < c->n; r++) {
		char when[40];
		time_t sec = (time_t)(c->t[r] / 1000);
		struct tm tm;
		bool any = false;

		for (size_t i = 0; i < n && !any; i++)
			any = !isnan(c->cols[cols[i]].v[r]);
		if (!any)
			continue;
		gmtime_r(&sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		out_i64(o, c->t[r]);
		out_raw(o, ",");
		out_raw(o, when);
		snprintf(when, sizeof(when), ".%03dZ", (int)(c->t[r] % 1000));
		out_raw(o, when);
		for (size_t i = 0; i < n; i++) {
			out_raw(o, ",");
			if (!isnan(c->cols[cols[i]].v[r]))
				out_num(o, c->cols[cols[i]].v[r]);
		}
		out_raw(o, "\r\n");
	}
	free(cols);
}
