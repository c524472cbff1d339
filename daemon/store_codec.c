/* The history store's chunk blobs: see store_codec.h. A blob is "SFC2",
 * the head's length and the length of its zlib form (u32, little
 * endian), the head compressed by zlib, then the column values as one
 * range-coded stream (store_rc.c):
 *
 *   head: rows, times (zigzag deltas of deltas), columns (name, type,
 *   presence, then how the values are kept: integers of a decimal quantum
 *   over their common divisor, or their difference from the previous
 *   number column's (same quantum, divisor and rows), as deltas, deltas
 *   of deltas or distances from their median, with the bit length they
 *   have most, or one value for all; raw doubles XORed with the previous
 *   one when no quantum fits), top lists (store_tops.c), their names.
 *   values: each column's integers in turn, each column with a model of
 *   its own.
 *
 * Files written before hold "SFC1" blobs: the same, with the values in
 * the head as zigzag varints and "SFC1", the body's length, the body
 * compressed by zlib. They are read, never written. */
#include "store_codec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "array.h"
#include "store_bytes.h"
#include "store_rc.h"
#include "store_tops.h"

#define MAGIC       "SFC2"
#define MAGIC1      "SFC1"
#define LEVEL       6 /* zlib's: 9 costs twice the CPU for 1 % less */
#define MAX_BODY    (64u << 20)
#define MAX_ROWS    (1u << 22)
#define K_MIN       (-9)
#define K_MAX       18
#define MODE_NONE   0
#define MODE_DELTA  1
#define MODE_DOD    2
#define MODE_RAW    3
#define MODE_CENTER 4
#define MODE_CONST  5    /* SFC2: one value in every row */
#define MODE_MINUS  0x10 /* SFC2, with a mode: the integers less the previous column's */
#define N_CODED     3    /* delta, dod, center: the modes whose values are coded */
#define CLOSE       5    /* estimates within 1/CLOSE of the best are tried */

/* --- numbers --- */

static double pow10i(int k)
{
	static const double p[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
				   1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

	return k >= 0 ? p[k] : 1.0 / p[-k];
}

static double of_int(int64_t i, int k);

/* v as an integer count of 10^k, when that count gives v back exactly. */
static bool as_int(double v, int k, int64_t *ret)
{
	double x = k >= 0 ? v / pow10i(k) : v * pow10i(-k);

	if (!(fabs(x) < 9007199254740992.0))
		return false;
	*ret = (int64_t)nearbyint(x);
	return of_int(*ret, k) == v;
}

static double of_int(int64_t i, int k)
{
	return k >= 0 ? (double)i * pow10i(k) : (double)i / pow10i(-k);
}

static int64_t gcd64(int64_t a, int64_t b)
{
	if (a < 0)
		a = -a;
	if (b < 0)
		b = -b;
	while (b) {
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* The quantum's exponent for a column's present values (see
 * store_chunk_encode); false when only raw doubles will do. */
static bool pick_k(const double *v, size_t n, unsigned rel, int *ret_k)
{
	double maxabs = 0, minabs = INFINITY;
	int k_rel = K_MIN, k;

	for (size_t i = 0; i < n; i++) {
		double a = fabs(v[i]);

		if (!isfinite(v[i]))
			return false;
		if (a > maxabs)
			maxabs = a;
		if (a > 0 && a < minabs)
			minabs = a;
	}
	if (maxabs == 0) {
		*ret_k = 0;
		return true;
	}
	if (rel) {
		k_rel = (int)floor(log10(maxabs / rel));
		k_rel = k_rel < K_MIN ? K_MIN : k_rel > K_MAX ? K_MAX : k_rel;
	}
	/* the coarsest exact quantum, down to k_rel */
	k = (int)floor(log10(minabs));
	k = k > K_MAX ? K_MAX : k;
	for (; k >= k_rel; k--) {
		size_t i;
		int64_t x;

		for (i = 0; i < n && as_int(v[i], k, &x); i++)
			;
		if (i == n) {
			*ret_k = k;
			return true;
		}
	}
	if (!rel)
		return false;
	/* lossy: the values must still fit in integers of 10^k_rel */
	for (size_t i = 0; i < n; i++)
		if (!(fabs(v[i] / pow10i(k_rel)) < 9007199254740992.0))
			return false;
	*ret_k = k_rel;
	return true;
}

/* The k-th smallest of x[0, n) (x reordered): quickselect, the median
 * of the ends and the middle as pivot. */
static int64_t kth(int64_t *x, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		int64_t a = x[lo], b = x[lo + (hi - lo) / 2], c = x[hi], t;
		int64_t pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
		size_t i = lo, j = hi;

		/* Hoare: x[lo, i) <= pivot, x(j, hi] >= pivot */
		for (;;) {
			while (x[i] < pivot)
				i++;
			while (x[j] > pivot)
				j--;
			if (i >= j)
				break;
			t = x[i];
			x[i++] = x[j];
			x[j--] = t;
		}
		if (k <= j)
			hi = j;
		else
			lo = j + 1;
	}
	return x[lo];
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, size_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The previous number column's integers, its quantum and divisor: a
 * column whose integers move with them (a loopback's bytes received and
 * sent, threads and processes) is sent as its difference from them. */
struct last {
	int64_t *ints;
	size_t n;
	int64_t k, g;
	bool ok;
	const struct store_col *col; /* encoding: the column */
};

/* What the encoder of a chunk works in: room for a column's values, its
 * integers, a copy, their difference from the previous column's, the
 * residuals of each coded mode of both, the previous column, a model. */
struct scratch {
	double *vals;
	int64_t *ints, *copy, *minus; /* n each */
	int64_t *res;                 /* 2 * N_CODED * n */
	struct last last;
	struct rc_model *model;
};

static const unsigned coded_modes[N_CODED] = {MODE_DELTA, MODE_DOD, MODE_CENTER};

/* The integers a coded mode sends for x (see get_numbers). */
static void residuals(const int64_t *x, size_t n, unsigned mode, int64_t med, int64_t *out)
{
	int64_t prev = 0, pd = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t d = wsub(x[i], prev);

		out[i] = mode == MODE_CENTER ? wsub(x[i], med) : mode == MODE_DOD ? wsub(d, pd) : d;
		pd = d;
		prev = x[i];
	}
}

/* Bits that r costs by the frequencies of its bit lengths, plus a sign
 * and the bits under the leading one each: about what store_rc spends
 * on a steady column, for a fraction of its work. *ret_base: the most
 * frequent bit length. */
static double estimate(const int64_t *r, size_t n, unsigned *ret_base)
{
	size_t count[65] = {0};
	unsigned base = 0;
	double bits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned len = rc_len(r[i]);

		count[len]++;
		bits += len;
	}
	for (unsigned len = 0; len < 65; len++) {
		if (count[len])
			bits -= (double)count[len] * log2((double)count[len] / (double)n);
		if (count[len] > count[base])
			base = len;
	}
	*ret_base = base;
	return bits;
}

/* What store_rc spends on r, counted, with a model of r's own. */
static uint64_t trial(const int64_t *r, size_t n, unsigned base, struct rc_model *m)
{
	struct rc_enc e;

	rc_model_init(m, base);
	rc_enc_init(&e, NULL);
	for (size_t i = 0; i < n; i++)
		rc_put(&e, m, r[i]);
	return e.cost;
}

/* How a column's integers go: one value for all, or a coded mode and
 * its residuals; of the integers themselves or of their difference from
 * the previous column's. */
struct way {
	bool minus, constant;
	unsigned mode, base;
	int64_t med;
	const int64_t *res;
};

/* The ways of one series x (the integers, or their difference): one
 * value, or each coded mode's residuals into res; the number added to
 * w. */
static size_t ways_of(int64_t *x, size_t n, bool minus, int64_t *copy, int64_t *res, struct way *w,
		      double *est)
{
	size_t same;
	int64_t med;

	for (same = 1; same < n && x[same] == x[0]; same++)
		;
	if (same == n) {
		*w = (struct way){.minus = minus, .constant = true, .med = x[0]};
		*est = 0;
		return 1;
	}
	memcpy(copy, x, n * sizeof(*x));
	med = kth(copy, n, n / 2);
	for (size_t m = 0; m < N_CODED; m++) {
		residuals(x, n, coded_modes[m], med, res + m * n);
		w[m] = (struct way){
		    .minus = minus, .mode = coded_modes[m], .med = med, .res = res + m * n};
		est[m] = estimate(w[m].res, n, &w[m].base);
	}
	return N_CODED;
}

/* The way that costs the least: by estimate, and by counting store_rc's
 * bits when others' estimates come within 1/CLOSE of the best (noise
 * that changes over the chunk favours one more than the frequencies
 * show). */
static const struct way *pick(const struct way *w, const double *est, size_t nw, size_t n,
			      struct rc_model *model)
{
	double low = INFINITY;
	size_t best = 0, close = 0;
	uint64_t least = UINT64_MAX;

	for (size_t i = 0; i < nw; i++)
		if (est[i] < low) {
			low = est[i];
			best = i;
		}
	if (w[best].constant)
		return &w[best];
	for (size_t i = 0; i < nw; i++)
		close += est[i] * CLOSE <= low * (CLOSE + 1);
	for (size_t i = 0; close > 1 && i < nw; i++) {
		uint64_t bits;

		if (est[i] * CLOSE > low * (CLOSE + 1))
			continue;
		if ((bits = trial(w[i].res, n, w[i].base, model)) < least) {
			least = bits;
			best = i;
		}
	}
	return &w[best];
}

/* Whether two columns have values in the same rows. */
static bool same_rows(const struct store_col *a, const struct store_col *b, size_t rows)
{
	for (size_t r = 0; r < rows; r++)
		if (isnan(a->v[r]) != isnan(b->v[r]))
			return false;
	return true;
}

/* One number column's present values (s->vals, n of them, of col):
 * integers of 10^k over their common divisor, or their difference from
 * the previous column's when both have the same quantum, divisor and
 * rows; as one value for all, or as deltas, deltas of deltas, or
 * distances from their median (noise about a level) into rc, whichever
 * costs the least; raw doubles into the head when no quantum fits. */
static void put_numbers(struct wbuf *b, struct rc_enc *rc, const struct store_col *col, size_t rows,
			size_t n, unsigned rel, struct scratch *s)
{
	const double *vals = s->vals;
	int64_t *ints = s->ints, g = 0;
	struct last *last = &s->last;
	struct way w[2 * N_CODED];
	double est[2 * N_CODED];
	const struct way *way;
	size_t nw;
	int k;

	if (!n || !pick_k(vals, n, rel, &k)) {
		uint64_t pb = 0;

		last->ok = false;
		put_u8(b, n ? MODE_RAW : MODE_NONE);
		for (size_t i = 0; i < n; i++) {
			uint64_t x;

			memcpy(&x, &vals[i], sizeof(x));
			put_uv(b, x ^ pb);
			pb = x;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double x = k >= 0 ? vals[i] / pow10i(k) : vals[i] * pow10i(-k);

		ints[i] = (int64_t)nearbyint(x);
		g = gcd64(g, ints[i]);
	}
	if (!g)
		g = 1;
	for (size_t i = 0; i < n; i++)
		ints[i] /= g;
	nw = ways_of(ints, n, false, s->copy, s->res, w, est);
	if (!w[0].constant && last->ok && last->n == n && last->k == k && last->g == g &&
	    same_rows(col, last->col, rows)) {
		for (size_t i = 0; i < n; i++)
			s->minus[i] = wsub(ints[i], last->ints[i]);
		nw += ways_of(s->minus, n, true, s->copy, s->res + N_CODED * n, w + nw, est + nw);
	}
	way = pick(w, est, nw, n, s->model);
	put_u8(b, (way->constant ? MODE_CONST : way->mode) | (way->minus ? MODE_MINUS : 0));
	if (!way->minus) {
		put_sv(b, k);
		put_uv(b, (uint64_t)g);
	}
	if (way->constant || way->mode == MODE_CENTER)
		put_sv(b, way->med);
	if (!way->constant) {
		put_u8(b, way->base);
		rc_model_init(s->model, way->base);
		for (size_t i = 0; i < n; i++)
			rc_put(rc, s->model, way->res[i]);
	}
	/* this column's integers for the next */
	memcpy(last->ints, ints, n * sizeof(*ints));
	*last = (struct last){.ints = last->ints, .n = n, .k = k, .g = g, .ok = true, .col = col};
}

/* Reads back n present values into vals, their integers into ints: from
 * rc with model m (SFC2), or from the head itself (rc NULL: SFC1); last:
 * the previous column's integers, then this one's when it has any (the
 * caller swaps ints and last->ints). */
static void get_numbers(struct rbuf *b, struct rc_dec *rc, struct rc_model *m, double *vals,
			int64_t *ints, size_t n, struct last *last)
{
	unsigned mode = get_u8(b), minus = rc ? mode & MODE_MINUS : 0;
	int64_t k, g, med = 0, prev = 0, pd = 0;
	bool had = last->ok;

	last->ok = false;
	mode &= minus ? ~(unsigned)MODE_MINUS : ~0u;
	if (mode == MODE_NONE) {
		if (n)
			b->bad = true;
		return;
	}
	if (mode == MODE_RAW) {
		uint64_t pb = 0;

		for (size_t i = 0; i < n && !b->bad; i++) {
			uint64_t bits = get_uv(b) ^ pb;

			memcpy(&vals[i], &bits, sizeof(bits));
			pb = bits;
		}
		return;
	}
	if (minus && (!had || last->n != n)) {
		b->bad = true;
		return;
	}
	k = minus ? last->k : get_sv(b);
	g = minus ? last->g : (int64_t)get_uv(b);
	if ((mode != MODE_DELTA && mode != MODE_DOD && mode != MODE_CENTER &&
	     (mode != MODE_CONST || !rc)) ||
	    k < K_MIN || k > K_MAX || g <= 0) {
		b->bad = true;
		return;
	}
	if (mode == MODE_CENTER || mode == MODE_CONST)
		med = get_sv(b);
	if (rc && mode != MODE_CONST) {
		unsigned base = get_u8(b);

		if (base > 64) {
			b->bad = true;
			return;
		}
		rc_model_init(m, base);
	}
	for (size_t i = 0; i < n && !b->bad && !(rc && rc->bad); i++) {
		int64_t d = mode == MODE_CONST ? 0 : rc ? rc_get(rc, m) : get_sv(b), x;

		if (mode == MODE_CENTER || mode == MODE_CONST) {
			x = wadd(med, d);
		} else {
			if (mode == MODE_DOD)
				d = wadd(d, pd);
			pd = d;
			x = prev = wadd(prev, d);
		}
		ints[i] = minus ? wadd(x, last->ints[i]) : x;
		vals[i] = of_int(wmul(ints[i], g), (int)k);
	}
	*last = (struct last){.ints = last->ints, .n = n, .k = k, .g = g, .ok = true};
}

/* --- the blob --- */

static void encode_body(const struct store_chunk *c, unsigned rel, struct wbuf *b,
			struct rc_enc *rc, struct scratch *s)
{
	int64_t prev = 0, pd = 0;

	put_uv(b, c->n);
	for (size_t r = 0; r < c->n; r++) {
		int64_t d = wsub(c->t[r], prev);

		put_sv(b, wsub(d, pd));
		pd = d;
		prev = c->t[r];
	}
	put_uv(b, c->n_cols);
	for (size_t i = 0; i < c->n_cols; i++) {
		const struct store_col *col = &c->cols[i];
		size_t n = 0;
		bool all = true;

		put_str(b, col->name);
		put_u8(b, col->type);
		for (size_t r = 0; r < c->n; r++)
			all &= !isnan(col->v[r]);
		put_u8(b, all ? 0 : 1);
		for (size_t r = 0; !all && r < c->n; r += 8) {
			unsigned byte = 0;

			for (size_t j = 0; j < 8 && r + j < c->n; j++)
				byte |= (unsigned)!isnan(col->v[r + j]) << j;
			put_u8(b, byte);
		}
		for (size_t r = 0; r < c->n; r++)
			if (!isnan(col->v[r]))
				s->vals[n++] = col->v[r];
		if (col->type != STORE_KEY)
			put_numbers(b, rc, col, c->n, n, col->type == STORE_BOOL ? 0 : rel, s);
	}
	put_uv(b, c->n_lists);
	for (size_t l = 0; l < c->n_lists; l++) {
		put_str(b, c->lists[l].name);
		put_u8(b, c->lists[l].by_mem);
	}
	put_uv(b, c->n_lists ? c->n_strs : 0);
	for (size_t i = 0; c->n_lists && i < c->n_strs; i++)
		put_str(b, c->strs[i]);
	for (size_t l = 0; l < c->n_lists; l++)
		store_tops_put(b, c, l);
}

int store_chunk_encode(const struct store_chunk *c, unsigned rel, uint8_t **ret, size_t *ret_len)
{
	struct wbuf b = {0}, values = {0};
	size_t rows = c->n ? c->n : 1;
	struct scratch s = {
	    .vals = malloc(rows * sizeof(*s.vals)),
	    .ints = malloc(rows * sizeof(*s.ints)),
	    .copy = malloc(rows * sizeof(*s.copy)),
	    .minus = malloc(rows * sizeof(*s.minus)),
	    .res = malloc(2 * N_CODED * rows * sizeof(*s.res)),
	    .last = {.ints = malloc(rows * sizeof(*s.last.ints))},
	    .model = malloc(sizeof(*s.model)),
	};
	struct rc_enc rc;
	uint8_t *out = NULL;
	uLongf zlen;
	int r = -ENOMEM;

	if (!s.vals || !s.ints || !s.copy || !s.minus || !s.res || !s.last.ints || !s.model)
		goto out;
	rc_enc_init(&rc, &values);
	encode_body(c, rel, &b, &rc, &s);
	rc_enc_end(&rc);
	if (b.oom || values.oom || b.len > MAX_BODY)
		goto out;
	zlen = compressBound((uLong)b.len);
	if (!(out = malloc(12 + zlen + values.len)))
		goto out;
	memcpy(out, MAGIC, 4);
	put_le32(out + 4, b.len);
	if (compress2(out + 12, &zlen, b.p, (uLong)b.len, LEVEL) != Z_OK)
		goto out;
	put_le32(out + 8, zlen);
	memcpy(out + 12 + zlen, values.p, values.len);
	*ret = out;
	*ret_len = 12 + zlen + values.len;
	out = NULL;
	r = 0;
out:
	free(out);
	free(b.p);
	free(values.p);
	free(s.vals);
	free(s.ints);
	free(s.copy);
	free(s.minus);
	free(s.res);
	free(s.last.ints);
	free(s.model);
	return r;
}

/* The columns part of a body; rc and m as for get_numbers; vals and
 * ints (twice): room for c->n of each. */
static int decode_cols(struct store_chunk *c, struct rbuf *b, struct rc_dec *rc, struct rc_model *m,
		       double *vals, int64_t *ints)
{
	size_t n_cols = get_uv(b);
	struct last last = {.ints = ints + c->n};
	int64_t *cur = ints;

	if (n_cols > STORE_MAX_COLS)
		return -EBADMSG;
	for (size_t i = 0; i < n_cols && !b->bad; i++) {
		char name[STORE_NAME_MAX];
		unsigned type, bitmap;
		struct store_col *col;
		size_t n = 0, at;

		get_str(b, name, sizeof(name));
		type = get_u8(b);
		bitmap = get_u8(b);
		if (b->bad || type > STORE_KEY || bitmap > 1 || store_chunk_find(c, name) >= 0)
			return -EBADMSG;
		if (!(col = store_chunk_add_col(c, name, (enum store_col_type)type)))
			return -ENOMEM;
		at = b->pos;
		if (bitmap) {
			size_t bytes = (c->n + 7) / 8;

			if (bytes > b->len - b->pos)
				return -EBADMSG;
			b->pos += bytes;
		}
		for (size_t r = 0; r < c->n; r++) {
			bool on = !bitmap || (b->p[at + r / 8] >> (r % 8) & 1);

			col->v[r] = on ? 0 : NAN;
			n += on;
		}
		if (b->bad)
			return -EBADMSG;
		if (type == STORE_KEY)
			continue;
		get_numbers(b, rc, m, vals, cur, n, &last);
		if (rc && rc->bad)
			return -EBADMSG;
		if (last.ok) { /* this column's integers are the last now */
			int64_t *t = last.ints;

			last.ints = cur;
			cur = t;
		}
		for (size_t r = 0, j = 0; r < c->n && !b->bad; r++)
			if (!isnan(col->v[r]))
				col->v[r] = vals[j++];
	}
	return b->bad ? -EBADMSG : 0;
}
/* The top lists part of a body. */
static int decode_tops(struct store_chunk *c, struct rbuf *b)
{
	size_t n_lists = get_uv(b), n_strs;
	char name[STORE_NAME_MAX];

	if (n_lists > STORE_MAX_LISTS)
		return -EBADMSG;
	for (size_t l = 0; l < n_lists && !b->bad; l++) {
		unsigned by_mem;

		get_str(b, name, sizeof(name));
		by_mem = get_u8(b);
		if (b->bad || by_mem > 1 || store_chunk_list(c, name, by_mem) != (int)l)
			return b->bad || by_mem > 1 ? -EBADMSG : -ENOMEM;
	}
	n_strs = get_uv(b);
	if (n_strs > STORE_MAX_STRS)
		return -EBADMSG;
	for (size_t i = 0; i < n_strs && !b->bad; i++) {
		char s[1024];
		uint32_t idx;

		get_str(b, s, sizeof(s));
		if (!b->bad && (store_chunk_intern(c, s, &idx) < 0 || idx != i))
			return -EBADMSG; /* or out of memory: a repeated name */
	}
	for (size_t l = 0; l < c->n_lists && !b->bad; l++) {
		int r = store_tops_get(c, b, l);

		if (r < 0)
			return r;
	}
	return b->bad ? -EBADMSG : 0;
}

int store_chunk_decode(struct store_chunk *c, const uint8_t *blob, size_t len)
{
	struct rbuf b = {0};
	struct rc_dec rc;
	struct rc_model *m = NULL;
	uint8_t *body = NULL;
	double *vals = NULL;
	int64_t *ints = NULL;
	uLongf blen;
	size_t zlen, at;
	int64_t prev = 0, pd = 0;
	size_t n;
	bool v1;
	int r = -EBADMSG;

	if (len < 8)
		return -EBADMSG;
	v1 = memcmp(blob, MAGIC1, 4) == 0;
	if (!v1 && (memcmp(blob, MAGIC, 4) != 0 || len < 12))
		return -EBADMSG;
	blen = get_le32(blob + 4);
	at = v1 ? 8 : 12;
	zlen = v1 ? len - 8 : get_le32(blob + 8);
	if (blen > MAX_BODY || zlen > len - at)
		return -EBADMSG;
	if (!v1) {
		rc_dec_init(&rc, blob + at + zlen, len - at - zlen);
		if (!(m = malloc(sizeof(*m))))
			return -ENOMEM;
	}
	r = -ENOMEM;
	if (!(body = malloc(blen ? blen : 1)))
		goto out;
	r = -EBADMSG;
	if (uncompress(body, &blen, blob + at, (uLong)zlen) != Z_OK)
		goto out;
	b = (struct rbuf){.p = body, .len = blen};
	n = get_uv(&b);
	if (b.bad || n > MAX_ROWS || n > blen)
		goto out;
	r = -ENOMEM;
	if (!(vals = malloc((n ? n : 1) * sizeof(*vals))) ||
	    !(ints = malloc((n ? 2 * n : 1) * sizeof(*ints))))
		goto out;
	for (size_t i = 0; i < n; i++) {
		int64_t d = wadd(get_sv(&b), pd);

		pd = d;
		prev = wadd(prev, d);
		if (store_chunk_add_row(c, prev) < 0)
			goto out;
	}
	r = -EBADMSG;
	if (b.bad || (r = decode_cols(c, &b, v1 ? NULL : &rc, m, vals, ints)) < 0 ||
	    (r = decode_tops(c, &b)) < 0)
		goto out;
	r = b.pos == b.len && (v1 || rc_dec_done(&rc)) ? 0 : -EBADMSG;
out:
	free(body);
	free(vals);
	free(ints);
	free(m);
	if (r < 0)
		store_chunk_done(c);
	return r;
}
